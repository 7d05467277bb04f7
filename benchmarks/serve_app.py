"""One tracer's server for benchmarks/serve.py: a Starlette app under uvicorn serving a ResponsesAgent over SSE.

Started by serve.py as `python serve_app.py TRACER ENDPOINT [--timed]` inside the tracer's serving environment
(benchmarks/peers.py, `serve-KIND`). It binds a free port on 127.0.0.1 and prints it on the first line.

    POST /invocations   a Responses request; answered as Server-Sent Events. Per request the agent makes one
                        retrieval of DOCUMENTS documents of DOCUMENT_SIZE characters, one tool call, and
                        streams DELTAS text deltas and the done item.
    POST /flush         flushes the tracer's batch processor to the sink, then answers /stats.
    GET  /stats         {"cpu_s": this process's CPU seconds (every thread), "answered": streams completed,
                        "spans": spans made (answered x the tracer's spans per request), "cpus": the CPUs it may
                        run on (serve.py pins it)}

With `--timed` (serve.py --breakdown) the stats also hold "timing": {"events", "step_s", "encode_s", "send_s"}, the
wall time the event loop spent, summed over every event streamed, in the tracer's step (`next` on the agent's
stream: the tracer's work and the agent's), in writing the event as SSE text, and from yielding it to being asked
for the next one (Starlette's and uvicorn's send of the event, the write to the socket included).

Every tracer exports OTLP/HTTP through a BatchSpanProcessor to ENDPOINT. The agent's generator runs on the
event loop (it does no I/O), as an async view of it would; the tracers decorate it as their users would.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from compare_worker import mlflow_to_otlp, openinference_provider, rows  # the same rows as compare.py (benchmarks/ is this script's folder)

DOCUMENTS = 10
DOCUMENT_SIZE = 1024
DELTAS = 200
QUERY = "how do I return a bike?"
ORDER = "A-1001"
WORDS = [f"w{i} " for i in range(DELTAS)]


ROWS = rows(DOCUMENTS, DOCUMENT_SIZE)


def search(query: str) -> list[dict[str, Any]]:
    """The retriever's work."""
    return ROWS


def lookup_order(order_id: str) -> dict[str, Any]:
    """The tool's work."""
    return {"order_id": order_id, "status": "shipped", "eta_days": 2}


def respond(retrieve: Callable[[str], list[dict[str, Any]]], tool: Callable[[str], dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The agent's work: retrieve, call the tool, stream DELTAS deltas and the done item."""
    documents = retrieve(QUERY)
    order = tool(ORDER)
    for i in range(DELTAS):
        yield {"type": "response.output_text.delta", "item_id": "msg_1", "delta": WORDS[i]}
    yield {"type": "response.output_item.done",
           "item": {"type": "message", "id": "msg_1", "role": "assistant",
                    "content": [{"type": "output_text", "text": f"{len(documents)} documents; order {order['status']}"}]}}


class Tracer:
    """How one tracer serves a request: `stream(body)` gives the agent's events; `flush()` exports what is finished."""

    spans_per_request = 0

    def stream(self, body: dict[str, Any]) -> Iterator[Any]:
        return respond(search, lookup_order)

    def flush(self) -> None:
        pass


NULL_ENDPOINT = "null"
"""An endpoint that is no endpoint: spans go through the batch processor to an exporter that keeps nothing
(benchmarks/serve_instructions.py counts the request thread's instructions with it)."""


def _exporter(endpoint: str) -> Any:
    """The OTLP/HTTP exporter to the endpoint, or the null exporter."""
    if endpoint == NULL_ENDPOINT:
        from _harness import NullExporter

        return NullExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=endpoint)


def _otel_provider(service: str, endpoint: str) -> Any:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(_exporter(endpoint)))
    return provider


def _floor(endpoint: str) -> Tracer:
    """Hand-written OpenTelemetry spans with the handful of attributes a user writes by hand."""
    from opentelemetry import trace
    from opentelemetry.trace import Status, StatusCode

    provider = _otel_provider("floor", endpoint)
    tracer = provider.get_tracer("hand-written")
    ok = Status(StatusCode.OK)

    def retrieve(query: str) -> list[dict[str, Any]]:
        with tracer.start_as_current_span("kb", attributes={"openinference.span.kind": "RETRIEVER", "input.value": query}) as span:
            result = search(query)
            span.set_attribute("output.value", json.dumps(result))
            span.set_attribute("output.mime_type", "application/json")
            span.set_attribute("retrieval.document_count", len(result))
            return result

    def tool(order_id: str) -> dict[str, Any]:
        with tracer.start_as_current_span("lookup_order", attributes={"openinference.span.kind": "TOOL", "tool.name": "lookup_order",
                                                                      "input.value": order_id}) as span:
            result = lookup_order(order_id)
            span.set_attribute("output.value", json.dumps(result))
            span.set_attribute("output.mime_type", "application/json")
            return result

    class Floor(Tracer):
        spans_per_request = 3

        def stream(self, body: dict[str, Any]) -> Iterator[Any]:
            span = tracer.start_span("Agent.predict_stream", attributes={
                "openinference.span.kind": "AGENT", "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "Agent",
                "input.value": json.dumps(body), "input.mime_type": "application/json"})
            try:
                with trace.use_span(span, end_on_exit=False):
                    events = respond(retrieve, tool)
                    first = next(events)
                yield first
                last = first
                for last in events:
                    yield last
                span.set_attribute("output.value", json.dumps(last["item"]))
                span.set_attribute("output.mime_type", "application/json")
                span.set_status(ok)
            finally:
                span.end()

        def flush(self) -> None:
            provider.force_flush()

    return Floor()


def _ours(endpoint: str) -> Tracer:
    """agent-tracing with its defaults: a ResponsesAgent subclass, @tracing.trace retriever (with a schema) and tool."""
    import tracing

    if endpoint == NULL_ENDPOINT:
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        tracing.configure(service_name="agent-tracing", exporters=[BatchSpanProcessor(_exporter(endpoint))])
    else:
        tracing.configure(service_name="agent-tracing", exporters=[endpoint])
    tracing.set_retriever_schema(name="kb", primary_key="chunk_id", text_column="text", doc_uri="doc_uri",
                                 other_columns=["title"])
    retrieve = tracing.trace(name="kb", span_type="RETRIEVER")(search)
    tool = tracing.trace(span_type="TOOL")(lookup_order)

    class Agent(tracing.ResponsesAgent):
        def predict_stream(self, request: tracing.ResponsesAgentRequest) -> Iterator[dict[str, Any]]:  # type: ignore[override]
            yield from respond(retrieve, tool)

    agent = Agent()

    class Ours(Tracer):
        spans_per_request = 3

        def stream(self, body: dict[str, Any]) -> Iterator[Any]:
            return agent.predict_stream(body)  # type: ignore[arg-type]  # the dict is validated by the agent

        def flush(self) -> None:
            tracing.force_flush()

    return Ours()


def _openinference(endpoint: str) -> Tracer:
    """OpenInference's OITracer decorators; @tracer.llm is the one that follows a generator (as compare_worker.py)."""
    provider = openinference_provider(endpoint)
    tracer = provider.get_tracer("bench")
    retrieve = tracer.retriever(name="kb")(search)
    tool = tracer.tool(name="lookup_order")(lookup_order)

    @tracer.llm(name="Agent.predict_stream")
    def predict_stream(request: dict[str, Any]) -> Iterator[Any]:
        yield from respond(retrieve, tool)

    class OpenInference(Tracer):
        spans_per_request = 3

        def stream(self, body: dict[str, Any]) -> Iterator[Any]:
            return predict_stream(body)

        def flush(self) -> None:
            provider.force_flush()

    return OpenInference()


def _mlflow(endpoint: str) -> Tracer:
    """MLflow's ResponsesAgent and @mlflow.trace, exporting OTLP/HTTP through the endpoint variables (as compare_worker.py)."""
    mlflow_to_otlp(endpoint)
    import mlflow
    from mlflow.entities import SpanType
    from mlflow.pyfunc import ResponsesAgent
    from mlflow.tracing.provider import provider
    from mlflow.types.responses import ResponsesAgentRequest

    retrieve = mlflow.trace(name="kb", span_type=SpanType.RETRIEVER)(search)
    tool = mlflow.trace(span_type=SpanType.TOOL)(lookup_order)

    class Agent(ResponsesAgent):
        def predict(self, request: ResponsesAgentRequest) -> Any:
            raise NotImplementedError

        def predict_stream(self, request: ResponsesAgentRequest) -> Iterator[Any]:
            yield from respond(retrieve, tool)

    agent = Agent()

    class MLflow(Tracer):
        spans_per_request = 3

        def stream(self, body: dict[str, Any]) -> Iterator[Any]:
            return agent.predict_stream(ResponsesAgentRequest(**body))

        def flush(self) -> None:
            current = provider.get()  # None until MLflow's first trace sets its provider up
            if current is not None:
                current.force_flush()

    return MLflow()


TRACERS: dict[str, Callable[[str], Tracer]] = {
    "untraced": lambda endpoint: Tracer(), "floor": _floor, "agent-tracing": _ours,
    "openinference": _openinference, "mlflow": _mlflow,
}


def _sse(event: Any) -> str:
    """An agent's event as one Server-Sent Event."""
    return f"data: {json.dumps(event if isinstance(event, dict) else event.model_dump(exclude_none=True))}\n\n"


def _timed(events: Iterator[Any], timing: dict[str, float]) -> Iterator[str]:
    """The events as SSE text, with the wall time of each part added to TIMING (see the module docstring)."""
    clock = time.perf_counter
    end = object()
    while True:
        started = clock()
        event = next(events, end)
        stepped = clock()
        timing["step_s"] += stepped - started
        if event is end:
            return
        text = _sse(event)
        yielded = clock()
        timing["encode_s"] += yielded - stepped
        timing["events"] += 1
        yield text
        timing["send_s"] += clock() - yielded


def make_app(tracer: Tracer, timed: bool = False) -> Any:
    """The Starlette app serving TRACER's agent; TIMED: with the per-event timing the module docstring describes."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse, StreamingResponse
    from starlette.routing import Route

    answered = 0
    timing = {"events": 0, "step_s": 0.0, "encode_s": 0.0, "send_s": 0.0}

    async def invocations(request: Request) -> StreamingResponse:
        events = tracer.stream(await request.json())

        async def sse() -> AsyncIterator[str]:
            nonlocal answered
            if timed:
                for text in _timed(iter(events), timing):
                    yield text
            else:
                for event in events:
                    yield _sse(event)
            answered += 1

        return StreamingResponse(sse(), media_type="text/event-stream")

    def stats() -> dict[str, Any]:
        figures = {"cpu_s": time.process_time(), "answered": answered, "spans": answered * tracer.spans_per_request,
                   "cpus": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None}
        return {**figures, "timing": dict(timing)} if timed else figures

    async def get_stats(request: Request) -> JSONResponse:
        return JSONResponse(stats())

    async def flush(request: Request) -> JSONResponse:
        await run_in_threadpool(tracer.flush)
        return JSONResponse(stats())

    return Starlette(routes=[Route("/invocations", invocations, methods=["POST"]), Route("/stats", get_stats),
                             Route("/flush", flush, methods=["POST"])])


def main(argv: list[str]) -> int:
    """Serve until terminated (SIGTERM or SIGINT: uvicorn shuts down gracefully), then flush."""
    import uvicorn

    timed = "--timed" in argv
    name, endpoint = [arg for arg in argv if arg != "--timed"]
    tracer = TRACERS[name](endpoint)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    print(sock.getsockname()[1], flush=True)
    config = uvicorn.Config(make_app(tracer, timed), log_level="warning", access_log=False, lifespan="off", backlog=256)
    uvicorn.Server(config).run(sockets=[sock])
    tracer.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
