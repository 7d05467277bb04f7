"""`start_span` and the span handle users hold: inputs, outputs and attributes on an OpenTelemetry span."""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import Token
from types import TracebackType
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from tracing import _runtime
from tracing._context import EMPTY, scope, suppressed
from tracing._errors import report
from tracing._recorder import span_name, span_type_name
from tracing._tools import tool_attributes
from tracing.keys import SpanType


class Span:
    """A live span: set its inputs, outputs and attributes; failures inside are counted, never raised.

    Every value goes through the active configuration's recorder: secret keys are redacted, values
    OpenTelemetry cannot hold become JSON, texts are cut to `max_attribute_length`.
    """

    __slots__ = ("otel", "_span_type", "_name", "_schema", "_inputs")

    def __init__(self, otel: trace.Span, span_type: str = "", name: str = "", schema: str | None = None) -> None:
        self.otel = otel
        self._span_type = span_type
        self._name = name
        self._schema = schema
        self._inputs: Any = None

    def set_inputs(self, inputs: Any) -> None:
        """Record the span's input (JSON, or text for a string); nothing without content capture."""
        if not self.otel.is_recording():
            return
        self._inputs = inputs
        try:
            _runtime.state.recorder.set_inputs(self.otel, inputs)
        except Exception as exc:  # noqa: BLE001
            report("recording inputs", exc)

    def set_outputs(self, outputs: Any) -> None:
        """Record the span's output (documents for RETRIEVER and RERANKER spans)."""
        if not self.otel.is_recording():
            return
        try:
            recorder = _runtime.state.recorder
            if self._span_type == _TOOL:  # a tool call opened by hand: its id and arguments from its recorded inputs
                recorder.set(self.otel, recorder.tool_call(self._inputs))
            recorder.set_outputs(self.otel, self._span_type, self._name, self._inputs, outputs, self._schema)
        except Exception as exc:  # noqa: BLE001
            report("recording outputs", exc)

    def set_attribute(self, key: str, value: Any) -> None:
        """Set one attribute; values OpenTelemetry cannot hold are stored as JSON, secrets redacted."""
        self.set_attributes({key: value})

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        """Set several attributes at once (as `set_attribute`)."""
        try:
            _runtime.state.recorder.set_user(self.otel, attributes)
        except Exception as exc:  # noqa: BLE001
            report("setting attributes", exc)

    def add_event(self, name: str, attributes: Mapping[str, Any] | None = None) -> None:
        """Add a span event; its attributes are recorded as `set_attribute` records them."""
        try:
            _runtime.state.recorder.add_event(self.otel, name, attributes)
        except Exception as exc:  # noqa: BLE001
            report("adding an event", exc)

    def record_exception(self, exc: BaseException | str) -> None:
        """Mark the span failed (status ERROR and an exception event) with an exception, or a message (as MLflow's)."""
        try:
            error = exc if isinstance(exc, BaseException) else Exception(str(exc))
            _runtime.state.recorder.set_error(self.otel, error, escaped=False)
        except Exception as inner:  # noqa: BLE001
            report("recording an exception", inner)

    def set_status(self, status: Any, description: str | None = None) -> None:
        """Set the span's status: "OK", "ERROR" or "UNSET" (any case), a `StatusCode` or a `Status`.

        Args:
            status: the status; an OpenTelemetry `Status` brings its own description.
            description: why, for ERROR (value patterns redacted).
        """
        try:
            code, described = status_code(status)
            setter = getattr(_runtime.state.recorder, "set_status", None)
            if setter is None:
                raise NotImplementedError("the recorder has no set_status yet")
            setter(self.otel, code, description if description is not None else described)
        except Exception as inner:  # noqa: BLE001
            report("setting a status", inner)

    def set_tool(self, *, name: str | None = None, description: str | None = None, parameters: Any = None,
                 call_id: str | None = None) -> None:
        """Describe the tool this span runs: `tool.name`, `tool.description`, `tool.parameters` (a JSON schema),
        and the GenAI `gen_ai.tool.*` keys with `gen_ai.tool.call.id` (each as `conventions` chooses)."""
        try:
            recorder = _runtime.state.recorder
            recorder.set(self.otel, recorder.tool_keys(recorder.user_attributes(
                tool_attributes(name, description, parameters, call_id))))
        except Exception as exc:  # noqa: BLE001
            report("setting attributes", exc)

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


_NOOP = Span(trace.INVALID_SPAN)
_CODES = {code.name: code for code in StatusCode}
_TOOL = SpanType.TOOL.value


def status_code(status: Any) -> tuple[StatusCode, str | None]:
    """A status given as text ("ok", "ERROR"), an enum of such names (MLflow's SpanStatusCode), a StatusCode or
    a Status, as an OpenTelemetry code and the description it carries."""
    if isinstance(status, Status):
        return status.status_code, status.description
    if isinstance(status, StatusCode):
        return status, None
    name = getattr(status, "value", status)
    code = _CODES.get(str(name).strip().upper())
    if code is None:
        raise ValueError(f"unknown span status {status!r}: use OK, ERROR or UNSET")
    return code, None


def get_current_span() -> Span:
    """The span active here (a non-recording one when there is none)."""
    return Span(trace.get_current_span())


class start_span:  # noqa: N801 - used like a function: `with start_span(...) as span`
    """Open a span for a block: `with start_span(name, span_type, inputs, attributes) as span:`.

    Args:
        name: the span's name (a RETRIEVER span's name finds its retriever schema).
        span_type: a `SpanType` or its name.
        inputs: recorded as `input.value` when given (text for a string, JSON otherwise).
        attributes: more attributes, recorded as `Span.set_attribute` records them.
        retriever_schema: the schema name for a RETRIEVER or RERANKER span named otherwise.

    The block's exception, if any, marks the span ERROR and propagates unchanged.
    """

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
        self._type = span_type_name(span_type)
        self._inputs = inputs
        self._attributes = attributes
        self._schema = retriever_schema
        self._span: Span = _NOOP
        self._token: Token[otel_context.Context] | None = None

    def __enter__(self) -> Span:
        if suppressed.get():
            return _NOOP
        try:
            tracer = _runtime.state.tracer or _runtime.ensure_tracer()
            recorder = _runtime.state.recorder
            name = span_name(self._name)
            static = recorder.static_attributes(self._type, name, self._attributes)
            if self._type == _TOOL:
                static = {**recorder.tool_keys(recorder.user_attributes(tool_attributes(name, None, None))), **static}
            extra = scope.get()
            if extra is not EMPTY:
                static = {**extra.attributes(recorder), **static}
            otel = tracer.start_span(name, attributes=static)
            self._span = Span(otel, self._type, name, self._schema)
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
                _runtime.state.recorder.set_error(span.otel, exc)
            span.otel.end()
        except Exception as inner:  # noqa: BLE001
            report("ending a span", inner)
