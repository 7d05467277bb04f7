"""The recorder: every attribute, event, status and exception message that reaches a span goes through here.

It owns, for one configuration: coercion of values OpenTelemetry cannot hold (to JSON), redaction (secret keys,
value patterns, the callback), `capture_content`, truncation, and text hygiene (lone surrogates replaced, JSON
kept as UTF-8). The decorator, the `Span` handle, `start_span`, the context helpers, agents, streams and the
retriever mapping call it; none of them sets an attribute on an OpenTelemetry span itself.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.trace import Span, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from tracing import keys
from tracing._errors import report
from tracing._serialize import REDACTED, Serializer, clean
from tracing._settings import Settings
from tracing.keys import SpanType

_OK = Status(StatusCode.OK)
_ATTRIBUTES_AFTER_OUTPUT = 16
_KIND_OF = {SpanType.CHAT_MODEL.value: SpanType.LLM.value}
_DOCUMENT_TYPES = (SpanType.RETRIEVER.value, SpanType.RERANKER.value)
_SCALAR = (str, bool, int, float)
_STACK_FRAMES = 64
"""The innermost frames of a stack trace recorded (an exception rising through N traced calls would otherwise cost
N formatted traces of up to N frames each)."""


def span_type_name(span_type: SpanType | str | None) -> str:
    """The upper-case name of a span type given as enum or string."""
    if span_type is None:
        return SpanType.CHAIN.value
    name = span_type.value if isinstance(span_type, SpanType) else str(span_type)
    return name.strip().upper() or SpanType.CHAIN.value


def span_name(name: str) -> str:
    """A span or event name as it can be exported (lone surrogates replaced)."""
    return clean(name) if isinstance(name, str) else clean(str(name))


class Recorder:
    """What every value goes through on its way to a span, for one configuration."""

    __slots__ = ("serializer", "capture_content", "conventions", "attribute_limit", "_redacting", "_callback", "_ours")

    def __init__(self, settings: Settings, attribute_limit: int | None = None) -> None:
        self.serializer = Serializer(settings.max_attribute_length, settings.redact)
        self.capture_content = settings.capture_content
        self.conventions = settings.conventions
        self.attribute_limit = attribute_limit
        redaction = settings.redact
        self._redacting = redaction.enabled
        self._callback = redaction.callback if redaction.enabled else None
        self._ours = frozenset(keys.KEYS)

    # ------------------------------------------------------------ values

    def json(self, value: Any) -> str:
        """JSON of any value: redacted, cut, valid UTF-8; never raises."""
        return self.serializer.dumps(value)

    def text(self, value: str) -> str:
        """A text: value patterns redacted, cut, valid UTF-8."""
        return self.serializer.text(value)

    def value(self, key: str, value: Any) -> AttributeValue:
        """An attribute value set by the user: secret keys hidden, scalars and flat lists kept, the rest as JSON."""
        if self._redacting and key not in self._ours and self.serializer.is_secret_key(key):
            return REDACTED
        if self._callback is not None:
            try:
                value = self._callback(key, value)
            except Exception as exc:  # noqa: BLE001 - a user callback may raise
                report("redaction", exc)
                return REDACTED
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, _SCALAR):
            return value
        if isinstance(value, (list, tuple)) and all(type(item) is type(value[0]) for item in value):
            if not value:
                return []
            if isinstance(value[0], str):
                return [self.text(item) for item in value]
            if isinstance(value[0], _SCALAR):
                return list(value)
        return self.json(value)

    def user_attributes(self, attributes: Mapping[str, Any] | None) -> dict[str, AttributeValue]:
        """Attributes given by the user (`set_attribute`, `attributes=`, events), each through `value`."""
        if not attributes:
            return {}
        return {span_name(str(key)): self.value(str(key), value) for key, value in attributes.items()}

    # ------------------------------------------------------------ what a span gets

    def static_attributes(self, span_type: str, name: str, attributes: Mapping[str, Any] | None) -> dict[str, Any]:
        """The attributes a span of this type and name gets before it runs (the user's redacted)."""
        kind = _KIND_OF.get(span_type, span_type if span_type in keys.OPENINFERENCE_KINDS else SpanType.CHAIN.value)
        static: dict[str, Any] = {}
        conventions = self.conventions
        if "openinference" in conventions:
            static[keys.SPAN_KIND] = kind
        if kind != span_type or "openinference" not in conventions:
            static[keys.SPAN_TYPE] = span_type
        if "genai" in conventions and span_type == SpanType.AGENT.value:
            static[keys.GEN_AI_OPERATION_NAME] = keys.OPERATION_INVOKE_AGENT
            static[keys.GEN_AI_AGENT_NAME] = span_name(name)
        if attributes:
            static.update(self.user_attributes(attributes))
        return static

    def scope_attributes(self, session_id: str | None, user_id: str | None, tags: Sequence[str] | None,
                         metadata: Mapping[str, Any]) -> dict[str, AttributeValue]:
        """The attributes of `using_session`/`using_user`/`using_attributes` for every span inside."""
        attributes: dict[str, AttributeValue] = {}
        if session_id is not None:
            attributes[keys.SESSION_ID] = self.text(session_id)
        if user_id is not None:
            attributes[keys.USER_ID] = self.text(user_id)
        if tags is not None:
            attributes[keys.TAGS] = [self.text(tag) for tag in tags]
        if metadata:
            attributes[keys.METADATA] = self.json(metadata)
        return attributes

    def input_attributes(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """`input.value` (JSON of the bound arguments) and its mime type; nothing without content capture."""
        if not self.capture_content:
            return {}
        return {keys.INPUT_VALUE: self.json(inputs), keys.INPUT_MIME_TYPE: keys.JSON}

    def set(self, span: Span, attributes: Mapping[str, AttributeValue]) -> None:
        """Set attributes the recorder prepared (its own keys, values already coerced and redacted)."""
        if attributes:
            span.set_attributes(attributes)

    def set_user(self, span: Span, attributes: Mapping[str, Any] | None) -> None:
        """Set attributes given by the user."""
        if attributes:
            span.set_attributes(self.user_attributes(attributes))

    def set_inputs(self, span: Span, value: Any) -> None:
        """Record any value as the span's input (text for a string, JSON otherwise)."""
        if self.capture_content:
            span.set_attributes(self._value(keys.INPUT_VALUE, keys.INPUT_MIME_TYPE, value))

    def set_outputs(self, span: Span, span_type: str, name: str, inputs: Any, value: Any, schema: str | None) -> None:
        """Record a span's output by its type: documents for retrievers and rerankers, else text or JSON."""
        if span_type in _DOCUMENT_TYPES:
            try:
                self._set_documents(span, span_type, name, inputs, value, schema)
                return
            except Exception as exc:  # noqa: BLE001 - documents fall back to plain JSON
                report("mapping retriever documents", exc)
        if value is not None and self.capture_content:
            span.set_attributes(self._value(keys.OUTPUT_VALUE, keys.OUTPUT_MIME_TYPE, value))

    def _value(self, value_key: str, mime_key: str, value: Any) -> dict[str, AttributeValue]:
        """A value and its mime type: text for a string, JSON otherwise."""
        if isinstance(value, str):
            return {value_key: self.text(value), mime_key: keys.TEXT}
        return {value_key: self.json(value), mime_key: keys.JSON}

    def _set_documents(self, span: Span, span_type: str, name: str, inputs: Any, value: Any, schema: str | None) -> None:
        """A retriever's or reranker's result as documents (SPEC 4), within the span's attribute room."""
        from tracing import _retriever

        room = None
        if self.attribute_limit is not None:
            recorded = getattr(span, "attributes", None) or {}
            room = max(self.attribute_limit - len(recorded) - _ATTRIBUTES_AFTER_OUTPUT, 0)
        if span_type == SpanType.RETRIEVER.value:
            attributes = _retriever.retriever_attributes(value, span_name=name, schema=schema, recorder=self,
                                                         max_attributes=room)
        else:
            attributes = _retriever.reranker_attributes(dict(inputs or {}), value, span_name=name, schema=schema,
                                                        recorder=self, max_attributes=room)
        span.set_attributes(attributes)

    def add_event(self, span: Span, name: str, attributes: Mapping[str, Any] | None = None) -> None:
        """Add an event with attributes given by the user."""
        span.add_event(span_name(name), self.user_attributes(attributes))

    def add_chunk_event(self, span: Span, index: int, chunk: Any) -> None:
        """One streamed chunk as an `agent_tracing.stream.chunk` event."""
        span.add_event(keys.STREAM_CHUNK_EVENT, {"index": index, "value": self.json(chunk)})

    def set_stream_end(self, span: Span, chunks: int, first_chunk_ms: float | None, cancelled: bool,
                       failed: bool) -> None:
        """The `agent_tracing.stream.*` attributes of a finished stream, and status OK unless it failed."""
        attributes: dict[str, Any] = {keys.STREAM_CHUNKS: chunks, keys.STREAM_CANCELLED: cancelled}
        if first_chunk_ms is not None:
            attributes[keys.STREAM_FIRST_CHUNK_MS] = round(first_chunk_ms, 3)
        span.set_attributes(attributes)
        if not failed:
            span.set_status(_OK)

    def set_status(self, span: Span, code: StatusCode, description: str | None = None) -> None:
        """Set a span's status; an ERROR's description with value patterns redacted."""
        span.set_status(Status(code, self.text(description) if description and code is StatusCode.ERROR else None))

    def set_cancelled(self, span: Span) -> None:
        """Mark a span whose task was cancelled."""
        span.set_attribute(keys.STREAM_CANCELLED, True)

    def set_error(self, span: Span, exc: BaseException, *, escaped: bool = True) -> None:
        """Status ERROR and an exception event, with value patterns redacted from message and traceback."""
        message = self.text(_describe(exc))
        span.set_status(Status(StatusCode.ERROR, message))
        attributes: dict[str, AttributeValue] = {
            keys.EXCEPTION_TYPE: span_name(type(exc).__qualname__),
            keys.EXCEPTION_ESCAPED: escaped,
        }
        try:
            attributes[keys.EXCEPTION_MESSAGE] = self.text(str(exc))
        except Exception:  # noqa: BLE001 - an exception that cannot be printed still fails its span
            pass
        try:
            attributes[keys.EXCEPTION_STACKTRACE] = self.text(_stack_trace(exc))
        except Exception:  # noqa: BLE001 - the status above already says it failed
            pass
        span.add_event(keys.EXCEPTION_EVENT, attributes)


def _stack_trace(exc: BaseException) -> str:
    """The exception's stack trace, its innermost _STACK_FRAMES frames (chained exceptions: their outermost)."""
    tb = exc.__traceback__
    entries = 0
    walker = tb
    while walker is not None:
        entries += 1
        walker = walker.tb_next
    for _ in range(entries - _STACK_FRAMES):
        tb = tb.tb_next  # type: ignore[union-attr]
    global _last_trace
    key = (id(exc), id(tb), tb.tb_lasti if tb is not None else -1, entries >= _STACK_FRAMES)
    last = _last_trace
    if last[0] == key:
        return last[1]  # the same exception rising through another traced call: the same innermost frames
    text = "".join(traceback.format_exception(type(exc), exc, tb, limit=_STACK_FRAMES))
    _last_trace = (key, text)
    return text


_last_trace: tuple[Any, str] = (None, "")


def _describe(exc: BaseException) -> str:
    """`Type: message` of an exception, or its type alone when it cannot be printed."""
    try:
        return f"{type(exc).__name__}: {exc}"
    except Exception:  # noqa: BLE001
        return type(exc).__name__
