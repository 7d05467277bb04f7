"""Streams that only call-time detection can see: MLflow's own wrappers return generators from plain functions.

`tracing.trace` on an MLflow ResponsesAgent's `predict_stream` (MLflow's validation wrapper around its
`mlflow.trace` wrapper) or on a method under any `functools.wraps` decorator gets a function that *returns* a
generator. SPEC 3.3 wants one span that follows the stream, aggregated, with what runs inside nested.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.servers import interop

pytestmark = [pytest.mark.servers, pytest.mark.slow]

STREAM_SCRIPT = r'''
import functools, json
import mlflow
from mlflow.pyfunc import ResponsesAgent
from mlflow.types.responses import ResponsesAgentStreamEvent
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
import tracing

memory = InMemorySpanExporter()
tracing.configure(service_name="streams", exporters=[memory])


@tracing.trace(span_type="RETRIEVER")
def kb(query):
    return [{"id": "d1", "content": "Spans are units of work."}]


def logged(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)
    return wrapper


class PlainAgent(ResponsesAgent):
    def predict(self, request):
        raise NotImplementedError

    def predict_stream(self, request):
        kb("q")
        for word in ["Spans ", "work."]:
            yield ResponsesAgentStreamEvent(**self.create_text_delta(word, "m1"))
        yield ResponsesAgentStreamEvent(type="response.output_item.done", item=self.create_text_output_item("Spans work.", "m1"))


class WrappedAgent:
    @logged
    def stream(self, question):
        kb(question)
        yield "Spans "
        yield "work."


request = {"input": [{"role": "user", "content": "what is a span?"}]}
agent = PlainAgent()
list(tracing.trace(name="predict_stream", span_type="AGENT")(agent.predict_stream)(request))
list(tracing.trace(WrappedAgent.stream)(WrappedAgent(), "what is a span?"))
tracing.force_flush()
spans = {}
for span in memory.get_finished_spans():
    spans.setdefault(span.name, []).append({
        "span_id": span.context.span_id, "parent_id": span.parent.span_id if span.parent else None,
        "output": span.attributes.get("output.value"), "chunks": span.attributes.get("agent_tracing.stream.chunks")})
print("INTEROP-RESULT " + json.dumps({"spans": spans, "errors": tracing.error_counts()}))
'''


@pytest.fixture(scope="module")
def streams(interop_python: Path) -> dict[str, Any]:
    """Our spans of both streams, by name."""
    return interop.run_script(STREAM_SCRIPT)


def test_tracing_an_mlflow_agents_predict_stream_follows_the_stream(streams: dict[str, Any]) -> None:
    span = streams["spans"]["predict_stream"][0]
    assert span["chunks"] == 3
    assert "Spans work." in span["output"]
    retriever = streams["spans"]["kb"][0]
    assert retriever["parent_id"] == span["span_id"]


def test_tracing_a_functools_wrapped_generator_method_follows_the_stream(streams: dict[str, Any]) -> None:
    span = streams["spans"]["stream"][0]
    assert span["chunks"] == 2
    assert span["output"] == "Spans work."
    retriever = streams["spans"]["kb"][1]
    assert retriever["parent_id"] == span["span_id"]


def test_both_streams_ran_without_failures_inside_tracing(streams: dict[str, Any]) -> None:
    assert streams["errors"] == {}
    assert set(streams["spans"]) == {"predict_stream", "stream", "kb"}
