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

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk import trace as _sdk_trace
from opentelemetry.trace import Span, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from tracing import _llm, keys
from tracing._errors import report
from tracing._serialize import REDACTED, Serializer, clean
from tracing._settings import Settings
from tracing.keys import SpanType

_OK = Status(StatusCode.OK)
_ATTRIBUTES_AFTER_OUTPUT = 16
_KIND_OF = {SpanType.CHAT_MODEL.value: SpanType.LLM.value}
_DOCUMENT_TYPES = (SpanType.RETRIEVER.value, SpanType.RERANKER.value)
_MODEL_TYPES = (SpanType.LLM.value, SpanType.CHAT_MODEL.value)
_STREAMED_TYPES = (SpanType.AGENT.value, *_MODEL_TYPES)
_TOOL_KEYS = {
    "openinference": (keys.TOOL_NAME, keys.TOOL_DESCRIPTION, keys.TOOL_PARAMETERS),
    "genai": (keys.GEN_AI_OPERATION_NAME, keys.GEN_AI_TOOL_NAME, keys.GEN_AI_TOOL_DESCRIPTION, keys.GEN_AI_TOOL_CALL_ID),
}
"""The tool keys `tracing._tools` describes a tool with, by convention: those of a convention not chosen are dropped."""
_TOOL_CALL_IDS = ("tool_call_id", "call_id")
_QUERIES = ("query", "question", "query_text")
_TOP_KS = ("k", "top_k")
_SCALAR = (str, bool, int, float)
_STACK_FRAMES = 64
"""The innermost frames of a stack trace recorded (an exception rising through N traced calls would otherwise cost
N formatted traces of up to N frames each)."""


_SDK_SPANS = frozenset({_sdk_trace.Span, getattr(_sdk_trace, "_Span", _sdk_trace.Span)})
_PLAIN_VALUES = frozenset({str, bool, int, float})


MARKER_ROOM = 64
"""More than a truncation marker adds to a text cut at the serializer's limit."""


def _write(span: Span, attributes: Mapping[str, AttributeValue], longest: int) -> None:
    """Set attributes the recorder prepared (texts at most `longest` characters), as `span.set_attributes` would.

    On the SDK's own span, when none of the SDK's checks can change anything (every value a str, bool, int or
    float, texts within its length limit, room for them all under its count limit), they go straight into its
    attribute table under the same locks, in the same order (a key set again moves to the end): the SDK's
    per-value cleaning costs about 0.37 us an attribute, a quarter of a retriever span's recording. Anything else
    goes through `set_attributes`.
    """
    if type(span) in _SDK_SPANS:
        table = span._attributes  # type: ignore[attr-defined]
        if (type(table) is BoundedAttributes and (table.max_value_len is None or table.max_value_len >= longest)
                and set(map(type, attributes.values())) <= _PLAIN_VALUES):
            maxlen = table.maxlen
            with span._lock:  # type: ignore[attr-defined]
                if span._end_time is None:  # type: ignore[attr-defined]
                    with table._lock:
                        held = table._dict
                        if maxlen is None or len(held) + len(attributes) <= maxlen:
                            if not held.keys().isdisjoint(attributes):
                                for key in attributes:
                                    held.pop(key, None)
                            held.update(attributes)
                            return
    span.set_attributes(attributes)


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

    __slots__ = ("serializer", "capture_content", "conventions", "attribute_limit", "_redacting", "_callback", "_ours",
                 "_longest")

    def __init__(self, settings: Settings, attribute_limit: int | None = None) -> None:
        self.serializer = Serializer(settings.max_attribute_length, settings.redact)
        self._longest = settings.max_attribute_length + MARKER_ROOM
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

    def prepared(self, attributes: Mapping[str, Any]) -> Mapping[str, Any]:
        """Attributes this recorder prepared (coerced, redacted, cut) for a span: as they are, unless a redaction
        callback must see each of them."""
        return attributes if self._callback is None else self.user_attributes(attributes)

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
        if "genai" in conventions:
            if span_type == SpanType.AGENT.value:
                static[keys.GEN_AI_OPERATION_NAME] = keys.OPERATION_INVOKE_AGENT
                static[keys.GEN_AI_AGENT_NAME] = span_name(name)
            elif span_type in _MODEL_TYPES:
                static[keys.GEN_AI_OPERATION_NAME] = keys.OPERATION_CHAT
            elif span_type == SpanType.TOOL.value:
                static[keys.GEN_AI_OPERATION_NAME] = keys.OPERATION_EXECUTE_TOOL
        if attributes:
            static.update(self.tool_keys(self.user_attributes(attributes)))
        return static

    def tool_keys(self, attributes: dict[str, Any]) -> dict[str, Any]:
        """Attributes without the tool keys of conventions not chosen (`tracing._tools` describes tools in both)."""
        for convention, names in _TOOL_KEYS.items():
            if convention not in self.conventions:
                for key in names:
                    attributes.pop(key, None)
        return attributes

    def agent_attributes(self, agent: str | None, conversation_id: Any, user_id: Any) -> dict[str, Any]:
        """An AGENT span's agent name (its runtime class), conversation (GenAI and OpenInference) and user."""
        attributes: dict[str, Any] = {}
        genai = "genai" in self.conventions
        if agent and genai:
            attributes[keys.GEN_AI_AGENT_NAME] = span_name(agent)
        if conversation_id:
            conversation = self.text(str(conversation_id))
            attributes[keys.SESSION_ID] = conversation
            if genai:
                attributes[keys.GEN_AI_CONVERSATION_ID] = conversation
        if user_id:
            attributes[keys.USER_ID] = self.text(str(user_id))
        return attributes

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
            _write(span, attributes, self._longest)

    def set_user(self, span: Span, attributes: Mapping[str, Any] | None) -> None:
        """Set attributes given by the user."""
        if attributes:
            span.set_attributes(self.user_attributes(attributes))

    def set_inputs(self, span: Span, value: Any) -> None:
        """Record any value as the span's input (text for a string, JSON otherwise)."""
        if self.capture_content:
            _write(span, self._value(keys.INPUT_VALUE, keys.INPUT_MIME_TYPE, value), self._longest)

    def set_outputs(self, span: Span, span_type: str, name: str, inputs: Any, value: Any, schema: str | None) -> None:
        """Record a span's output by its type: documents for retrievers and rerankers, else text or JSON; and what
        the span type's conventions read from the inputs and output (model calls, agent turns, tool calls)."""
        if span_type == SpanType.RETRIEVER.value and "genai" in self.conventions:
            _write(span, self._retrieval_request(inputs), self._longest)
        if span_type in _DOCUMENT_TYPES:
            try:
                self._set_documents(span, span_type, name, inputs, value, schema)
                return
            except Exception as exc:  # noqa: BLE001 - documents fall back to plain JSON
                report("mapping retriever documents", exc)
        attributes = self._value(keys.OUTPUT_VALUE, keys.OUTPUT_MIME_TYPE, value) if (
            value is not None and self.capture_content) else {}
        try:  # the output and what the conventions read reach the span in one call (each costs a lock and a pass)
            if span_type in _MODEL_TYPES:
                attributes.update(self._model_call(inputs, value))
            elif span_type == SpanType.AGENT.value:
                if self.capture_content:
                    attributes.update(self._agent_turn(inputs, value))
            elif span_type == SpanType.TOOL.value and "genai" in self.conventions and keys.OUTPUT_VALUE in attributes:
                # its result (id and arguments: when it started), written as the output is
                attributes[keys.GEN_AI_TOOL_CALL_RESULT] = attributes[keys.OUTPUT_VALUE]
        finally:
            if attributes:
                _write(span, attributes, self._longest)

    def _retrieval_request(self, inputs: Any) -> dict[str, AttributeValue]:
        """A retriever's query (content) and how many documents it was asked for, from its arguments."""
        attributes: dict[str, AttributeValue] = {}
        if not isinstance(inputs, Mapping):
            return attributes
        if self.capture_content:
            query = next((inputs[name] for name in _QUERIES if isinstance(inputs.get(name), str)), None)
            if query is not None:
                attributes[keys.GEN_AI_RETRIEVAL_QUERY_TEXT] = self.text(query)
        top_k = next((inputs[name] for name in _TOP_KS if type(inputs.get(name)) is int), None)
        if top_k is not None:
            attributes[keys.GEN_AI_RETRIEVAL_TOP_K] = top_k
        return attributes

    def tool_call(self, inputs: Any, with_arguments: bool = True) -> dict[str, AttributeValue]:
        """A tool call's id (a tool-call id argument) and, with content, its arguments (GenAI), from its bound
        arguments; nothing for inputs that are not a mapping. (Its result is written with its output.)"""
        attributes: dict[str, AttributeValue] = {}
        if "genai" not in self.conventions or not isinstance(inputs, Mapping):
            return attributes
        named = next((name for name in _TOOL_CALL_IDS if isinstance(inputs.get(name), str)), None)
        if named is not None:
            attributes[keys.GEN_AI_TOOL_CALL_ID] = self.text(inputs[named])
        if self.capture_content and with_arguments:
            arguments = inputs if named is None else {k: v for k, v in inputs.items() if k != named}
            attributes[keys.GEN_AI_TOOL_CALL_ARGUMENTS] = self.json(arguments)
        return attributes

    def _model_call(self, inputs: Any, value: Any) -> dict[str, AttributeValue]:
        """An LLM or CHAT_MODEL span's model, parameters, usage and (with content) messages, by convention."""
        call = _llm.model_call(inputs, value)
        attributes: dict[str, AttributeValue] = {}
        content = self.capture_content
        if "genai" in self.conventions:
            attributes[keys.GEN_AI_OPERATION_NAME] = keys.OPERATION_CHAT
            for key, text in ((keys.GEN_AI_PROVIDER_NAME, call.provider), (keys.GEN_AI_REQUEST_MODEL, call.request_model),
                              (keys.GEN_AI_RESPONSE_MODEL, call.response_model),
                              (keys.GEN_AI_RESPONSE_ID, call.response_id)):
                if text is not None:
                    attributes[key] = self.text(text)
            if call.finish_reasons:
                attributes[keys.GEN_AI_RESPONSE_FINISH_REASONS] = [self.text(reason) for reason in call.finish_reasons]
            for key, count in ((keys.GEN_AI_USAGE_INPUT_TOKENS, call.input_tokens),
                               (keys.GEN_AI_USAGE_OUTPUT_TOKENS, call.output_tokens),
                               (keys.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, call.cache_read_tokens),
                               (keys.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, call.reasoning_tokens)):
                if count is not None:
                    attributes[key] = count
            for key, parameter in call.request.items():
                attributes[key] = [self.text(item) for item in parameter] if isinstance(parameter, list) else parameter
            if content:
                if call.system:
                    attributes[keys.GEN_AI_SYSTEM_INSTRUCTIONS] = self.json(call.system)
                if call.inputs:
                    attributes[keys.GEN_AI_INPUT_MESSAGES] = self.json(call.inputs)
                if call.outputs:
                    attributes[keys.GEN_AI_OUTPUT_MESSAGES] = self.json(call.outputs)
        if "openinference" in self.conventions:
            model = call.response_model or call.request_model
            if model is not None:
                attributes[keys.LLM_MODEL_NAME] = self.text(model)
            if call.provider is not None:
                attributes[keys.LLM_PROVIDER] = self.text(call.provider)
                if call.provider in keys.OPENINFERENCE_SYSTEMS:
                    attributes[keys.LLM_SYSTEM] = call.provider
            if call.parameters:
                attributes[keys.LLM_INVOCATION_PARAMETERS] = self.json(call.parameters)
            for key, count in ((keys.LLM_TOKEN_COUNT_PROMPT, call.input_tokens),
                               (keys.LLM_TOKEN_COUNT_COMPLETION, call.output_tokens),
                               (keys.LLM_TOKEN_COUNT_TOTAL, call.total_tokens),
                               (keys.LLM_TOKEN_COUNT_CACHE_READ, call.cache_read_tokens),
                               (keys.LLM_TOKEN_COUNT_REASONING, call.reasoning_tokens)):
                if count is not None:
                    attributes[key] = count
            if content:
                inputs_ = ([{"role": "system", "parts": call.system}] if call.system else []) + call.inputs
                _llm.openinference_messages(keys.LLM_INPUT_MESSAGES, inputs_, self.text, self.json, attributes)
                _llm.openinference_messages(keys.LLM_OUTPUT_MESSAGES, call.outputs, self.text, self.json, attributes)
        return attributes

    def _agent_turn(self, inputs: Any, value: Any) -> dict[str, AttributeValue]:
        """An AGENT span's input and output messages, GenAI and OpenInference (content only)."""
        messages, outputs = _llm.agent_messages(inputs, value)
        attributes: dict[str, AttributeValue] = {}
        if "genai" in self.conventions:
            if messages:
                attributes[keys.GEN_AI_INPUT_MESSAGES] = self.json(messages)
            if outputs:
                attributes[keys.GEN_AI_OUTPUT_MESSAGES] = self.json(outputs)
        if "openinference" in self.conventions:
            _llm.openinference_messages(keys.LLM_INPUT_MESSAGES, messages, self.text, self.json, attributes)
            _llm.openinference_messages(keys.LLM_OUTPUT_MESSAGES, outputs, self.text, self.json, attributes)
        return attributes

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
        _write(span, attributes, self._longest)

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
        if "genai" in self.conventions and _span_type_of(span) in _STREAMED_TYPES:
            attributes[keys.GEN_AI_REQUEST_STREAM] = True
            if first_chunk_ms is not None:
                attributes[keys.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = first_chunk_ms / 1000.0
        _write(span, attributes, self._longest)
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


def _span_type_of(span: Span) -> Any:
    """The span type a span started with (its own, else its OpenInference kind)."""
    if type(span) in _SDK_SPANS and type(span._attributes) is BoundedAttributes:  # type: ignore[attr-defined]
        recorded: Any = span._attributes._dict  # type: ignore[attr-defined]  # (its `get` raises and catches)
    else:
        recorded = getattr(span, "attributes", None)
    if not recorded:
        return None
    return recorded.get(keys.SPAN_TYPE) or recorded.get(keys.SPAN_KIND)


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
