"""`start_span` and the span handle users hold: inputs, outputs and attributes on an OpenTelemetry span."""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace

from tracing import _attributes, _runtime
from tracing._attributes import SpanType
from tracing._context import scope, suppressed
from tracing._errors import report


class Span:
    """A live span: set its inputs, outputs and attributes; failures inside are counted, never raised."""

    __slots__ = ("otel", "_span_type", "_name", "_schema", "_inputs")

    def __init__(self, otel: trace.Span, span_type: str = "", name: str = "", schema: str | None = None) -> None:
        self.otel = otel
        self._span_type = span_type
        self._name = name
        self._schema = schema
        self._inputs: Any = None

    def set_inputs(self, inputs: Any) -> None:
        """Record the span's input (JSON, or text for a string)."""
        if not self.otel.is_recording() or not _runtime.state.settings.capture_content:
            return
        self._inputs = inputs
        try:
            _attributes.set_inputs(self.otel, inputs, _runtime.state.serializer)
        except Exception as exc:  # noqa: BLE001
            report("recording inputs", exc)

    def set_outputs(self, outputs: Any) -> None:
        """Record the span's output (documents for RETRIEVER and RERANKER spans)."""
        if not self.otel.is_recording():
            return
        try:
            record_outputs(self.otel, self._span_type, self._name, self._inputs, outputs, self._schema)
        except Exception as exc:  # noqa: BLE001
            report("recording outputs", exc)

    def set_attribute(self, key: str, value: Any) -> None:
        """Set one attribute; values OpenTelemetry cannot hold are stored as JSON."""
        self.set_attributes({key: value})

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        """Set several attributes at once."""
        try:
            self.otel.set_attributes({key: _attribute_value(value) for key, value in attributes.items()})
        except Exception as exc:  # noqa: BLE001
            report("setting attributes", exc)

    def add_event(self, name: str, attributes: Mapping[str, Any] | None = None) -> None:
        """Add a span event."""
        try:
            self.otel.add_event(name, {k: _attribute_value(v) for k, v in (attributes or {}).items()})
        except Exception as exc:  # noqa: BLE001
            report("adding an event", exc)

    def record_exception(self, exc: BaseException) -> None:
        """Mark the span failed with this exception."""
        try:
            _attributes.set_error(self.otel, exc)
        except Exception as inner:  # noqa: BLE001
            report("recording an exception", inner)

    @property
    def trace_id(self) -> str:
        """The trace id as 32 lowercase hex digits."""
        return format(self.otel.get_span_context().trace_id, "032x")

    @property
    def span_id(self) -> str:
        """The span id as 16 lowercase hex digits."""
        return format(self.otel.get_span_context().span_id, "016x")

    def is_recording(self) -> bool:
        """Whether this span is sampled and still open."""
        return self.otel.is_recording()


def _attribute_value(value: Any) -> Any:
    if isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(item, (str, bool, int, float)) for item in value):
        if len({type(item) for item in value}) <= 1:
            return list(value)
    return _runtime.state.serializer.dumps(value)


def record_outputs(otel: trace.Span, span_type: str, name: str, inputs: Any, outputs: Any, schema: str | None) -> None:
    """Set a span's output attributes by its type; documents fall back to plain JSON if mapping fails."""
    settings = _runtime.state.settings
    serializer = _runtime.state.serializer
    if span_type in (SpanType.RETRIEVER.value, SpanType.RERANKER.value):
        try:
            _attributes.set_document_outputs(
                otel, span_type, name, inputs, outputs, schema, settings.capture_content, serializer,
                _runtime.state.attribute_limit,
            )
            return
        except Exception as exc:  # noqa: BLE001
            report("mapping retriever documents", exc)
    if settings.capture_content:
        _attributes.set_outputs(otel, outputs, serializer)


_NOOP = Span(trace.INVALID_SPAN)


def get_current_span() -> Span:
    """The span active here (a non-recording one when there is none)."""
    return Span(trace.get_current_span())


class start_span:  # noqa: N801 - used like a function: `with start_span(...) as span`
    """Open a span for a block: `with start_span(name, span_type, inputs, attributes) as span:`."""

    __slots__ = ("_name", "_type", "_inputs", "_attributes", "_schema", "_span", "_token")

    def __init__(
        self,
        name: str,
        span_type: SpanType | str = SpanType.CHAIN,
        inputs: Any = None,
        attributes: Mapping[str, Any] | None = None,
        *,
        retriever_schema: str | None = None,
    ) -> None:
        self._name = name
        self._type = _attributes.span_type_name(span_type)
        self._inputs = inputs
        self._attributes = attributes
        self._schema = retriever_schema
        self._span: Span = _NOOP
        self._token: object | None = None

    def __enter__(self) -> Span:
        if suppressed.get():
            return _NOOP
        try:
            tracer = _runtime.state.tracer or _runtime.ensure_tracer()
            settings = _runtime.state.settings
            static = _attributes.static_attributes(self._type, self._name, None, settings.conventions)
            extra = scope.get().attributes
            if extra:
                static.update(extra)
            if self._attributes:
                static.update({key: _attribute_value(value) for key, value in self._attributes.items()})
            otel = tracer.start_span(self._name, attributes=static)
            self._span = Span(otel, self._type, self._name, self._schema)
            self._token = otel_context.attach(trace.set_span_in_context(otel))
        except Exception as exc:  # noqa: BLE001
            report("starting a span", exc)
            return _NOOP
        if self._inputs is not None:
            self._span.set_inputs(self._inputs)
        return self._span

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        span = self._span
        if span is _NOOP:
            return
        try:
            if self._token is not None:
                otel_context.detach(self._token)
            if exc is not None:
                _attributes.set_error(span.otel, exc)
            span.otel.end()
        except Exception as inner:  # noqa: BLE001
            report("ending a span", inner)
