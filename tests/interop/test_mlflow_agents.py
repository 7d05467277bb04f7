"""MLflow-authored agents traced by us, run against the real `mlflow` package (SPEC 8, issue 13).

An agent written from MLflow's ResponsesAgent guide (a subclass of `mlflow.pyfunc.ResponsesAgent` whose `predict`
collects its own `predict_stream`, a retriever inside the stream) is decorated with `tracing.trace_agent` and run
in each documented set-up. The scripts run in the cached interop environment (tests/servers/interop.py) and
report our spans and MLflow's traces as JSON.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from tests.servers import interop

pytestmark = [pytest.mark.servers, pytest.mark.slow]

AGENT_SCRIPT = r'''
import json, os, sys, warnings
import mlflow
from mlflow.pyfunc import ResponsesAgent
from mlflow.types.responses import ResponsesAgentRequest, ResponsesAgentResponse, ResponsesAgentStreamEvent
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tracing

memory = InMemorySpanExporter()
tracing.configure(service_name="mlflow-agent", exporters=[memory])
if os.environ.get("SETUP") == "disabled":
    mlflow.tracing.disable()

KB = [{"chunk": "c1", "body": "Spans are units of work.", "link": "https://kb/spans", "title": "Spans"}]
mlflow.models.set_retriever_schema(name="kb", primary_key="chunk", text_column="body", doc_uri="link",
                                   other_columns=["title"])


@tracing.trace(span_type="RETRIEVER")
def kb(query: str) -> list[dict]:
    return KB


@tracing.trace_agent
class GuideAgent(ResponsesAgent):
    """The guide's shape: predict collects the done items of its own predict_stream."""

    def predict(self, request: ResponsesAgentRequest) -> ResponsesAgentResponse:
        items = [event.item for event in self.predict_stream(request) if event.type == "response.output_item.done"]
        return ResponsesAgentResponse(output=items, custom_outputs={"sources": ["https://kb/spans"]})

    def predict_stream(self, request: ResponsesAgentRequest):
        documents = kb(request.input[-1].content)
        words = ["Spans ", "are ", "units ", "of ", "work."]
        for word in words:
            yield ResponsesAgentStreamEvent(**self.create_text_delta(word, "msg_1"))
        yield ResponsesAgentStreamEvent(type="response.output_item.done",
                                        item=self.create_text_output_item("".join(words), "msg_1"))


agent = GuideAgent()
request = {"input": [{"role": "user", "content": "what is a span?"}],
           "context": {"conversation_id": "conv-1", "user_id": "u-1"},
           "custom_inputs": {"client": "web"}}
REMOTE = "0af7651916cd43dd8448eb211c80319c"
continued = {**request, "custom_inputs": {"client": "web", "traceparent": f"00-{REMOTE}-b7ad6b7169203331-01"}}
mlflow_traces = []
answer = agent.predict(request)
mlflow_traces.append(mlflow.get_last_active_trace_id())
events = list(agent.predict_stream(request))
mlflow_traces.append(mlflow.get_last_active_trace_id())
tracing.force_flush()
first = len(memory.get_finished_spans())
list(agent.predict_stream(continued))
tracing.force_flush()
remote = [format(span.context.trace_id, "032x") == REMOTE for span in memory.get_finished_spans()[first:]]

ours = []
for span in memory.get_finished_spans()[:first]:
    ours.append({"name": span.name, "trace_id": format(span.context.trace_id, "032x"),
                 "span_id": format(span.context.span_id, "016x"),
                 "parent_id": format(span.parent.span_id, "016x") if span.parent else None,
                 "attributes": {k: (list(v) if isinstance(v, tuple) else v) for k, v in span.attributes.items()}})
theirs = []
for trace_id in mlflow_traces:
    trace = mlflow.get_trace(trace_id) if trace_id else None
    theirs.append([] if trace is None else [
        {"name": s.name, "trace_id": trace_id.removeprefix("tr-"), "span_id": s.span_id, "parent_id": s.parent_id}
        for s in trace.data.spans])
print("INTEROP-RESULT " + json.dumps({"ours": ours, "mlflow": theirs, "errors": tracing.error_counts(),
                                      "answer": answer.model_dump()["output"][0]["content"][0]["text"], "events": len(events), "continued_remote": remote}))
'''

SETUPS = {
    "mlflow-tracing-on": {},
    "mlflow-tracing-disabled": {"SETUP": "disabled"},
    "mlflow-routed-to-otel": {"MLFLOW_USE_DEFAULT_TRACER_PROVIDER": "false"},
    "mlflow-propagates-to-otel": {"MLFLOW_TRACE_PROPAGATE_TO_OTEL_CONTEXT": "true"},
    "mlflow-routed-and-propagating": {"MLFLOW_USE_DEFAULT_TRACER_PROVIDER": "false", "MLFLOW_TRACE_PROPAGATE_TO_OTEL_CONTEXT": "true"},
}


def run_agent(setup: str, tmp_path: Path) -> dict[str, Any]:
    """Run the guide's agent in one set-up; MLflow keeps its traces in a SQLite store under tmp_path."""
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db", "MLFLOW_ENABLE_ASYNC_TRACE_LOGGING": "false",
           **SETUPS[setup]}
    return interop.run_script(AGENT_SCRIPT, env=env)


def by_trace(spans: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    traces: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for span in spans:
        traces[span["trace_id"]].append(span)
    return traces


@pytest.fixture(scope="module")
def results(interop_python: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Every set-up run once (a few seconds each: MLflow's import dominates)."""
    return {setup: run_agent(setup, tmp_path_factory.mktemp(setup)) for setup in SETUPS}


@pytest.mark.parametrize("setup", list(SETUPS))
def test_one_trace_per_request_with_the_stream_aggregated_and_the_retriever_nested(results: dict[str, Any], setup: str) -> None:
    result = results[setup]
    assert result["errors"] == {}, "no failure inside tracing (the 'is_valid' bug)"
    assert result["answer"] == "Spans are units of work."
    ours = result["ours"]
    retrievers = [span for span in ours if span["name"] == "kb"]
    assert len(retrievers) == 2
    routed = "MLFLOW_USE_DEFAULT_TRACER_PROVIDER" in SETUPS[setup]
    mlflow_spans = [span for trace in result["mlflow"] for span in trace]
    # MLflow's spans and ours make one tree per request (each backend holds its part)
    traces = by_trace(ours + mlflow_spans)
    assert len(traces) == 2, f"one trace per request, got {[[span['name'] for span in trace] for trace in traces.values()]}"
    for retriever in retrievers:
        trace = {span["span_id"]: span for span in traces[retriever["trace_id"]]}
        parent = trace.get(retriever["parent_id"])
        assert parent is not None and parent["name"].endswith("predict_stream"), "the retriever nests under predict_stream"
    for trace in traces.values():
        roots = [span for span in trace if span["parent_id"] is None]
        assert len(roots) == 1, "every span of the request hangs from one root"
    if routed:
        return
    # Our spans: the AGENT span of each call, the stream aggregated, nothing split off
    names = sorted(sorted(span["name"] for span in trace) for trace in by_trace(ours).values())
    assert names == [["GuideAgent.predict", "GuideAgent.predict_stream", "kb"], ["GuideAgent.predict_stream", "kb"]]
    for span in ours:
        if span["name"] == "GuideAgent.predict_stream":
            aggregate = json.loads(span["attributes"]["output.value"])
            assert aggregate["output"][0]["content"][0]["text"] == "Spans are units of work."
            assert span["attributes"]["agent_tracing.stream.chunks"] == 6
            assert span["attributes"]["openinference.span.kind"] == "AGENT"
    predict = next(span for span in ours if span["name"] == "GuideAgent.predict")
    assert predict["attributes"]["session.id"] == "conv-1"
    assert predict["attributes"]["user.id"] == "u-1"


@pytest.mark.parametrize("setup", list(SETUPS))
def test_a_traceparent_in_custom_inputs_is_continued_only_without_a_local_parent(results: dict[str, Any], setup: str) -> None:
    """Continued when no span is current (MLflow's no-op span has no span context: the 'is_valid' bug); MLflow's own
    span, when it is in the OpenTelemetry context, is the local parent and wins."""
    continued = results[setup]["continued_remote"]
    assert continued, "the request was traced"
    mlflow_in_context = "MLFLOW_USE_DEFAULT_TRACER_PROVIDER" in SETUPS[setup] or "MLFLOW_TRACE_PROPAGATE_TO_OTEL_CONTEXT" in SETUPS[setup]
    assert all(not flag for flag in continued) if mlflow_in_context else all(continued)
    assert results[setup]["errors"] == {}


@pytest.mark.parametrize("setup", ["mlflow-tracing-on", "mlflow-propagates-to-otel", "mlflow-routed-to-otel", "mlflow-routed-and-propagating"])
def test_when_mlflow_traces_the_request_ours_share_its_trace(results: dict[str, Any], setup: str) -> None:
    result = results[setup]
    for mlflow_trace in result["mlflow"]:
        assert mlflow_trace, "MLflow recorded the request"
        trace_id = mlflow_trace[0]["trace_id"]
        ours = [span for span in result["ours"] if span["trace_id"] == trace_id]
        assert [span for span in ours if span["name"] == "kb"], "our retriever is in MLflow's trace"
        mlflow_ids = {span["span_id"] for span in mlflow_trace}
        our_ids = {span["span_id"] for span in ours}
        for span in ours:
            assert span["parent_id"] in mlflow_ids | our_ids


def test_with_mlflow_tracing_on_our_agent_span_nests_under_mlflows(results: dict[str, Any]) -> None:
    """MLflow keeps its own trace; ours takes its trace id, our AGENT span a child of MLflow's span of the same call."""
    result = results["mlflow-tracing-on"]
    assert [sorted(span["name"] for span in trace) for trace in result["mlflow"]] == [["predict", "predict_stream"], ["predict_stream"]]
    assert set(by_trace(result["ours"])) == {trace[0]["trace_id"] for trace in result["mlflow"]}
    mlflow_predict = next(span for span in result["mlflow"][0] if span["name"] == "predict")
    ours = next(span for span in result["ours"] if span["name"] == "GuideAgent.predict")
    assert ours["parent_id"] == mlflow_predict["span_id"]


def test_with_mlflow_tracing_disabled_only_ours_record(results: dict[str, Any]) -> None:
    assert results["mlflow-tracing-disabled"]["mlflow"] == [[], []]


@pytest.mark.parametrize("setup", list(SETUPS))
def test_a_schema_registered_with_mlflow_maps_the_documents(results: dict[str, Any], setup: str) -> None:
    retriever = next(span for span in results[setup]["ours"] if span["name"] == "kb")
    attributes = retriever["attributes"]
    assert attributes["agent_tracing.retriever.schema"] == "kb"
    assert attributes["retrieval.documents.0.document.id"] == "c1"
    assert attributes["retrieval.documents.0.document.content"] == "Spans are units of work."
    assert json.loads(attributes["retrieval.documents.0.document.metadata"]) == {"doc_uri": "https://kb/spans", "title": "Spans"}
    assert json.loads(attributes["output.value"]) == [
        {"page_content": "Spans are units of work.", "metadata": {"chunk_id": "c1", "doc_uri": "https://kb/spans", "title": "Spans"}, "id": "c1"}
    ]


EDGE_SCRIPT = r'''
import asyncio, json
import mlflow
from mlflow.pyfunc import ResponsesAgent
from mlflow.types.responses import ResponsesAgentResponse, ResponsesAgentStreamEvent
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
import tracing

memory = InMemorySpanExporter()
tracing.configure(service_name="edges", exporters=[memory])
mlflow.tracing.disable()


class AsyncAgent(ResponsesAgent):
    def predict(self, request):
        return ResponsesAgentResponse(output=[self.create_text_output_item("ok", "m1")])

    async def predict_stream(self, request):
        for word in ["a ", "b"]:
            yield ResponsesAgentStreamEvent(**self.create_text_delta(word, "m1"))


tracing.trace_agent(tracing.trace_agent(AsyncAgent))  # twice: still one span per call
agent = AsyncAgent()
request = {"input": [{"role": "user", "content": "hi"}], "context": {"conversation_id": "c-9"}}
agent.predict(request)


async def consume():
    return [event async for event in agent.predict_stream(request)]


events = asyncio.run(consume())
try:
    agent.predict({"input": "not a list"})
    invalid = None
except Exception as exc:
    invalid = type(exc).__name__
tracing.force_flush()
spans = [{"name": s.name, "input": json.loads(s.attributes["input.value"]) if "input.value" in s.attributes else None,
          "session": s.attributes.get("session.id"), "chunks": s.attributes.get("agent_tracing.stream.chunks"),
          "output": s.attributes.get("output.value")} for s in memory.get_finished_spans()]
print("INTEROP-RESULT " + json.dumps({"spans": spans, "events": len(events), "invalid": invalid,
                                      "errors": tracing.error_counts()}))
'''


def test_async_streams_twice_decorated_classes_and_mlflows_request_validation(interop_python: Path) -> None:
    result = interop.run_script(EDGE_SCRIPT)
    assert result["errors"] == {}
    assert result["invalid"] == "MlflowException", "MLflow's own validation still answers a bad dict"
    assert result["events"] == 2
    assert [span["name"] for span in result["spans"]] == ["AsyncAgent.predict", "AsyncAgent.predict_stream"]
    predict, stream = result["spans"]
    assert predict["input"]["request"]["input"][0]["content"] == "hi", "inputs by name, self left out"
    assert predict["session"] == stream["session"] == "c-9"
    assert stream["chunks"] == 2
    assert json.loads(stream["output"])["output"][0]["content"][0]["text"] == "a b"
