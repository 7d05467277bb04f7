"""W3C trace context across a carrier: inject, continue_trace, and their failure paths."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import propagate, trace
from opentelemetry.propagators.textmap import TextMapPropagator
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tracing._errors import error_counts
from tracing._propagation import continue_trace, inject


@pytest.fixture
def tracer_and_spans() -> Iterator[tuple[trace.Tracer, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider.get_tracer("test"), exporter
    provider.shutdown()


def test_inject_writes_the_current_span_as_traceparent(tracer_and_spans: Any) -> None:
    tracer, _ = tracer_and_spans
    with tracer.start_as_current_span("caller") as span:
        carrier = inject({})
    context = span.get_span_context()
    assert carrier["traceparent"] == f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"


def test_inject_outside_a_span_leaves_the_carrier_without_traceparent() -> None:
    assert "traceparent" not in inject()


@pytest.mark.parametrize("key", ["traceparent", "Traceparent", "TRACEPARENT"])
def test_continue_trace_parents_new_spans_on_the_remote_span(tracer_and_spans: Any, key: str) -> None:
    tracer, exporter = tracer_and_spans
    with tracer.start_as_current_span("caller") as caller:
        carrier = inject({})
    with continue_trace({key: carrier["traceparent"]}):
        with tracer.start_as_current_span("callee"):
            pass
    callee = exporter.get_finished_spans()[-1]
    assert callee.context.trace_id == caller.get_span_context().trace_id
    assert callee.parent is not None and callee.parent.span_id == caller.get_span_context().span_id
    assert callee.parent.is_remote
    assert not trace.get_current_span().get_span_context().is_valid


@pytest.mark.parametrize(
    "carrier",
    [
        {},
        None,
        {"traceparent": "not-a-traceparent"},
        pytest.param(42, marks=pytest.mark.provokes_failures("trace context extraction")),  # not a mapping: counted
        {"traceparent": ["x", "y"]},
    ],
)
def test_continue_trace_without_a_valid_context_keeps_the_current_parent(tracer_and_spans: Any, carrier: Any) -> None:
    tracer, exporter = tracer_and_spans
    with tracer.start_as_current_span("local") as local:
        with continue_trace(carrier) as remote:
            with tracer.start_as_current_span("child"):
                pass
    assert remote is None
    child = exporter.get_finished_spans()[0]
    assert child.parent is not None and child.parent.span_id == local.get_span_context().span_id


class _BrokenPropagator(TextMapPropagator):
    """A propagator that fails on every call, as a misconfigured one would."""

    def extract(self, carrier: Any, context: Any = None, getter: Any = None) -> Any:
        raise RuntimeError("extract broke")

    def inject(self, carrier: Any, context: Any = None, setter: Any = None) -> None:
        raise RuntimeError("inject broke")

    @property
    def fields(self) -> set[str]:
        return {"traceparent"}


@pytest.fixture
def broken_propagator() -> Iterator[None]:
    previous = propagate.get_global_textmap()
    propagate.set_global_textmap(_BrokenPropagator())
    yield
    propagate.set_global_textmap(previous)


@pytest.mark.provokes_failures("trace context injection", "trace context extraction")
def test_a_failing_propagator_never_reaches_the_caller(tracer_and_spans: Any, broken_propagator: None) -> None:
    tracer, exporter = tracer_and_spans
    before = error_counts()
    with tracer.start_as_current_span("caller"):
        assert inject({"keep": "me"}) == {"keep": "me"}
        with continue_trace({"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}) as remote:
            assert remote is None
    after = error_counts()
    assert after["trace context injection"] == before.get("trace context injection", 0) + 1
    assert after["trace context extraction"] == before.get("trace context extraction", 0) + 1
    assert [span.name for span in exporter.get_finished_spans()] == ["caller"]
