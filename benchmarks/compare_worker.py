"""One tracer's side of benchmarks/compare.py: the six workloads, timed on request, in one process.

Started by compare.py as `python compare_worker.py TRACER ENDPOINT` inside the tracer's virtual environment.
Reads JSON lines on stdin ({"workload", "number"} or {"quit": true}) and answers one JSON line each:
the seconds the operations took on the calling thread, and the seconds until the span pipeline was
flushed to the sink as well. Every tracer exports OTLP/HTTP through a BatchSpanProcessor.

"sampled_call" is the small agent call again; agent-tracing runs it with tail sampling on
(`configure(sampling={"ratio": SAMPLED_RATIO})`, under the service name "agent-tracing-sampled", so that the spans it
keeps are counted apart), the other tracers as they run "call".
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

CHUNKS = 1000
EVENTS = 500
THREADS = 8
DOCUMENTS = 20
DOCUMENT_SIZE = 1024
QUESTION = "what is tracing?"
QUERY = "how do I return a bike?"
WORDS = [f"w{i} " for i in range(1000)]
REQUEST = {"input": [{"role": "user", "content": "stream"}], "context": {"conversation_id": "bench", "user_id": "u"}}
SAMPLED_RATIO = 0.1
KB_WORDS = "bike frame wheel battery charge return refund warranty shipping brake chain gear saddle tyre pedal".split()


def rows(documents: int = DOCUMENTS, size: int = DOCUMENT_SIZE) -> list[dict[str, Any]]:
    """The retrieval result: `documents` rows of `size` characters of text."""
    generator = random.Random(7)
    result = []
    for index in range(documents):
        text = ""
        while len(text) < size:
            text += generator.choice(KB_WORDS) + " "
        result.append({"chunk_id": f"doc-{index:04d}", "text": text[:size],
                       "doc_uri": f"https://kb.example/articles/{index}", "title": f"Article {index}",
                       "score": round(1 - index / documents, 4)})
    return result


ROWS = rows()


def answer(question: str, top_k: int = 3) -> dict[str, Any]:
    """The small agent's work."""
    return {"answer": question[::-1], "top_k": top_k}


def chunks(n: int) -> Iterator[str]:
    """A stream of n chunks doing no work."""
    for _ in range(n):
        yield "tok "


def search(query: str) -> list[dict[str, Any]]:
    """The retriever's work."""
    return ROWS


def events(n: int) -> Iterator[dict[str, Any]]:
    """An agent's Responses stream: n text deltas, then the done item."""
    for i in range(n):
        yield {"type": "response.output_text.delta", "item_id": "msg_1", "delta": WORDS[i % 1000]}
    yield {"type": "response.output_item.done",
           "item": {"type": "message", "id": "msg_1", "role": "assistant",
                    "content": [{"type": "output_text", "text": "done"}]}}


class Tracer:
    """The workloads as one tracer instruments them; subclasses fill the traced callables in."""

    call: Callable[[str], Any] = staticmethod(answer)
    stream: Callable[[int], Iterator[str]] = staticmethod(chunks)
    retrieve: Callable[[str], Any] = staticmethod(search)

    def agent_stream(self) -> Iterator[Any]:
        """The ResponsesAgent predict_stream of EVENTS deltas."""
        return events(EVENTS)

    def flush(self) -> None:
        """Export every finished span now."""

    def prepare(self, workload: str) -> None:
        """Set up for a batch of this workload (untimed)."""

    def counts(self, workload: str) -> bool:
        """Whether this workload's spans are counted as made (all of them reach the sink)."""
        return True


def _untraced(endpoint: str) -> Tracer:
    return Tracer()


def _floor(endpoint: str) -> Tracer:
    """Hand-written OpenTelemetry spans recording what agent-tracing records: the floor."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.trace import Status, StatusCode

    provider = TracerProvider(resource=Resource.create({"service.name": "floor"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    tracer = provider.get_tracer("hand-written")
    ok = Status(StatusCode.OK)

    class Floor(Tracer):
        def call(self, question: str, top_k: int = 3) -> dict[str, Any]:  # type: ignore[override]
            attributes = {"openinference.span.kind": "AGENT", "gen_ai.operation.name": "invoke_agent",
                          "gen_ai.agent.name": "answer",
                          "input.value": json.dumps({"question": question, "top_k": top_k}, ensure_ascii=False),
                          "input.mime_type": "application/json"}
            with tracer.start_as_current_span("answer", attributes=attributes) as span:
                result = answer(question, top_k)
                span.set_attribute("output.value", json.dumps(result, ensure_ascii=False))
                span.set_attribute("output.mime_type", "application/json")
                return result

        def stream(self, n: int) -> Iterator[str]:  # type: ignore[override]
            attributes = {"openinference.span.kind": "CHAIN", "input.value": json.dumps({"n": n}),
                          "input.mime_type": "application/json"}
            with tracer.start_as_current_span("chunks", attributes=attributes) as span:
                collected = []
                for chunk in chunks(n):
                    collected.append(chunk)
                    yield chunk
                span.set_attribute("output.value", "".join(collected))
                span.set_attribute("output.mime_type", "text/plain")
                span.set_attribute("agent_tracing.stream.chunks", len(collected))
                span.set_status(ok)

        def retrieve(self, query: str) -> list[dict[str, Any]]:  # type: ignore[override]
            attributes = {"openinference.span.kind": "RETRIEVER",
                          "input.value": json.dumps({"query": query}, ensure_ascii=False),
                          "input.mime_type": "application/json"}
            with tracer.start_as_current_span("kb", attributes=attributes) as span:
                result = search(query)
                span.set_attribute("output.value", json.dumps(result, ensure_ascii=False))
                span.set_attribute("output.mime_type", "application/json")
                return result

        def agent_stream(self) -> Iterator[Any]:
            attributes = {"openinference.span.kind": "AGENT", "gen_ai.operation.name": "invoke_agent",
                          "gen_ai.agent.name": "HandAgent", "gen_ai.conversation.id": "bench", "session.id": "bench",
                          "user.id": "u", "input.value": json.dumps({"request": REQUEST}),
                          "input.mime_type": "application/json"}
            with tracer.start_as_current_span("HandAgent.predict_stream", attributes=attributes) as span:
                collected = []
                for event in events(EVENTS):
                    collected.append(event)
                    yield event
                items = [e["item"] for e in collected if e["type"] == "response.output_item.done"]
                span.set_attribute("output.value", json.dumps({"output": items}))
                span.set_attribute("output.mime_type", "application/json")
                span.set_attribute("agent_tracing.stream.chunks", len(collected))
                span.set_status(ok)

        def flush(self) -> None:
            provider.force_flush()

    return Floor()


def _ours(endpoint: str) -> Tracer:
    """agent-tracing with its defaults: @tracing.trace, a retriever schema, a ResponsesAgent subclass."""
    import tracing

    tracing.configure(service_name="agent-tracing", exporters=[endpoint])
    sampled = False
    tracing.set_retriever_schema(name="kb", primary_key="chunk_id", text_column="text", doc_uri="doc_uri",
                                 other_columns=["title"])
    request = tracing.ResponsesAgentRequest.model_validate(REQUEST)

    class Agent(tracing.ResponsesAgent):
        def predict_stream(self, request: tracing.ResponsesAgentRequest) -> Iterator[dict[str, Any]]:  # type: ignore[override]
            yield from events(EVENTS)

    agent = Agent()

    class Ours(Tracer):
        call = staticmethod(tracing.trace(span_type="AGENT")(answer))
        stream = staticmethod(tracing.trace(chunks))
        retrieve = staticmethod(tracing.trace(name="kb", span_type="RETRIEVER")(search))

        def agent_stream(self) -> Iterator[Any]:
            return agent.predict_stream(request)

        def flush(self) -> None:
            tracing.force_flush()

        def prepare(self, workload: str) -> None:
            nonlocal sampled
            if (workload == "sampled_call") != sampled:
                sampled = not sampled
                if sampled:
                    tracing.configure(service_name="agent-tracing-sampled", exporters=[endpoint],
                                      sampling={"ratio": SAMPLED_RATIO})
                else:
                    tracing.configure(service_name="agent-tracing", exporters=[endpoint])

        def counts(self, workload: str) -> bool:
            return workload != "sampled_call"

    return Ours()


def openinference_provider(endpoint: str) -> Any:
    """OpenInference's TracerProvider exporting OTLP/HTTP to `endpoint` through a BatchSpanProcessor."""
    from openinference.instrumentation import TracerProvider
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": "openinference"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return provider


def mlflow_to_otlp(endpoint: str) -> None:
    """Route MLflow's spans to `endpoint` over OTLP/HTTP (through its endpoint variables; before importing mlflow)."""
    os.environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = endpoint
    os.environ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"] = "http/protobuf"
    os.environ["OTEL_SERVICE_NAME"] = "mlflow"


def _openinference(endpoint: str) -> Tracer:
    """OpenInference's OITracer decorators; @tracer.llm is the one that follows a generator."""
    provider = openinference_provider(endpoint)
    tracer = provider.get_tracer("bench")

    def predict_stream() -> Iterator[Any]:
        yield from events(EVENTS)

    traced_events = tracer.llm(name="Agent.predict_stream")(predict_stream)

    class OpenInference(Tracer):
        call = staticmethod(tracer.agent(answer))
        stream = staticmethod(tracer.llm(chunks))
        retrieve = staticmethod(tracer.retriever(name="kb")(search))

        def agent_stream(self) -> Iterator[Any]:
            return traced_events()

        def flush(self) -> None:
            provider.force_flush()

    return OpenInference()


def _mlflow(endpoint: str) -> Tracer:
    """MLflow's @mlflow.trace and ResponsesAgent, exporting OTLP/HTTP through the endpoint variables."""
    mlflow_to_otlp(endpoint)
    import mlflow
    from mlflow.entities import SpanType
    from mlflow.pyfunc import ResponsesAgent
    from mlflow.tracing.provider import provider
    from mlflow.types.responses import ResponsesAgentRequest

    request = ResponsesAgentRequest(**REQUEST)

    class Agent(ResponsesAgent):
        def predict(self, request: ResponsesAgentRequest) -> Any:
            raise NotImplementedError

        def predict_stream(self, request: ResponsesAgentRequest) -> Iterator[Any]:
            yield from events(EVENTS)

    agent = Agent()

    class MLflow(Tracer):
        call = staticmethod(mlflow.trace(span_type=SpanType.AGENT)(answer))
        stream = staticmethod(mlflow.trace(chunks))
        retrieve = staticmethod(mlflow.trace(name="kb", span_type=SpanType.RETRIEVER)(search))

        def agent_stream(self) -> Iterator[Any]:
            return agent.predict_stream(request)

        def flush(self) -> None:
            provider.get().force_flush()

    return MLflow()


TRACERS: dict[str, Callable[[str], Tracer]] = {
    "untraced": _untraced, "floor": _floor, "agent-tracing": _ours, "openinference": _openinference, "mlflow": _mlflow,
}


def _drain(stream: Iterator[Any]) -> int:
    count = 0
    for _ in stream:
        count += 1
    return count


def operations(tracer: Tracer, pool: ThreadPoolExecutor) -> dict[str, tuple[Callable[[], Any], int]]:
    """Each workload's single operation and the spans it makes."""

    def calls(count: int) -> None:
        for _ in range(count):
            tracer.call(QUESTION)

    def threads() -> None:
        for future in [pool.submit(calls, 10) for _ in range(THREADS)]:
            future.result()

    return {
        "call": (lambda: tracer.call(QUESTION), 1),
        "sampled_call": (lambda: tracer.call(QUESTION), 1),
        "stream": (lambda: _drain(tracer.stream(CHUNKS)), 1),
        "retrieval": (lambda: tracer.retrieve(QUERY), 1),
        "agent_stream": (lambda: _drain(tracer.agent_stream()), 1),
        "threads": (threads, THREADS * 10),
    }


def main(argv: list[str]) -> int:
    """Serve timing requests on stdin until told to quit."""
    name, endpoint = argv
    tracer = TRACERS[name](endpoint)
    pool = ThreadPoolExecutor(THREADS)
    ops = operations(tracer, pool)
    spans = 0
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        if request.get("quit"):
            tracer.flush()
            print(json.dumps({"spans": spans if name != "untraced" else 0}), flush=True)
            break
        workload = request["workload"]
        operation, per_op = ops[workload]
        number = request["number"]
        tracer.prepare(workload)
        start = time.perf_counter()
        for _ in range(number):
            operation()
        done = time.perf_counter()
        tracer.flush()
        flushed = time.perf_counter()
        if tracer.counts(workload):
            spans += number * per_op
        print(json.dumps({"ops_s": done - start, "flushed_s": flushed - start}), flush=True)
    pool.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
