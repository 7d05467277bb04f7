"""Real OpenTelemetry SDK pipelines for exporter tests."""

from __future__ import annotations

from collections.abc import Callable

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanProcessor


def provider_with(
    exporter: SpanExporter,
    service: str = "exporters-test",
    processor: Callable[[SpanExporter], SpanProcessor] = SimpleSpanProcessor,
    resource: dict[str, str] | None = None,
) -> TracerProvider:
    """A TracerProvider with service.name (and more resource attributes) sending every span through processor(exporter)."""
    provider = TracerProvider(resource=Resource.create({"service.name": service, **(resource or {})}))
    provider.add_span_processor(processor(exporter))
    return provider


def write_tree(provider: TracerProvider, traces: int = 1) -> list[tuple[int, int, int | None]]:
    """Write `traces` small traces (root > child > grandchild); return (trace_id, span_id, parent_id) per span."""
    tracer = provider.get_tracer("tests.exporters")
    made: list[tuple[int, int, int | None]] = []
    for index in range(traces):
        with tracer.start_as_current_span("root", attributes={"index": index, "openinference.span.kind": "AGENT"}) as root:
            with tracer.start_as_current_span("child", attributes={"flag": True, "score": 0.5}) as child:
                with tracer.start_as_current_span("grandchild", attributes={"tags": ["a", "b"]}) as grandchild:
                    grandchild.add_event("note", {"n": 1})
        for span, parent in ((root, None), (child, root), (grandchild, child)):
            made.append((span.get_span_context().trace_id, span.get_span_context().span_id, parent.get_span_context().span_id if parent else None))
    return made
