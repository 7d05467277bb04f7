"""Every attribute a span gets, and from what: the wire format of SPEC section 4 in one place."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from openinference.semconv.trace import OpenInferenceSpanKindValues, SpanAttributes
from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import (
    GEN_AI_AGENT_NAME,
    GEN_AI_OPERATION_NAME,
    GenAiOperationNameValues,
)
from opentelemetry.trace import Span, Status, StatusCode

from tracing._serialize import Serializer

SPAN_KIND = SpanAttributes.OPENINFERENCE_SPAN_KIND
INPUT_VALUE = SpanAttributes.INPUT_VALUE
INPUT_MIME_TYPE = SpanAttributes.INPUT_MIME_TYPE
OUTPUT_VALUE = SpanAttributes.OUTPUT_VALUE
OUTPUT_MIME_TYPE = SpanAttributes.OUTPUT_MIME_TYPE
JSON = "application/json"
TEXT = "text/plain"

SPAN_TYPE = "agent_tracing.span_type"
STREAM_CHUNKS = "agent_tracing.stream.chunks"
STREAM_FIRST_CHUNK_MS = "agent_tracing.stream.first_chunk_ms"
STREAM_CANCELLED = "agent_tracing.stream.cancelled"
STREAM_CHUNK_EVENT = "agent_tracing.stream.chunk"


_OK = Status(StatusCode.OK)
_ATTRIBUTES_AFTER_OUTPUT = 16


class SpanType(str, enum.Enum):
    """What a span stands for; plain strings are accepted wherever a SpanType is."""

    AGENT = "AGENT"
    CHAIN = "CHAIN"
    CHAT_MODEL = "CHAT_MODEL"
    LLM = "LLM"
    TOOL = "TOOL"
    RETRIEVER = "RETRIEVER"
    RERANKER = "RERANKER"
    EMBEDDING = "EMBEDDING"
    PARSER = "PARSER"
    MEMORY = "MEMORY"
    GUARDRAIL = "GUARDRAIL"
    EVALUATOR = "EVALUATOR"
    UNKNOWN = "UNKNOWN"

    def __str__(self) -> str:
        return self.value


_OPENINFERENCE_KINDS = {kind.value for kind in OpenInferenceSpanKindValues}
_KIND_OF = {"CHAT_MODEL": OpenInferenceSpanKindValues.LLM.value}


def span_type_name(span_type: SpanType | str | None) -> str:
    """The upper-case name of a span type given as enum or string."""
    if span_type is None:
        return SpanType.CHAIN.value
    name = span_type.value if isinstance(span_type, SpanType) else str(span_type)
    return name.strip().upper() or SpanType.CHAIN.value


def static_attributes(
    span_type: str, name: str, attributes: Mapping[str, Any] | None, conventions: frozenset[str]
) -> dict[str, Any]:
    """The attributes a span of this type and name gets before it runs."""
    kind = _KIND_OF.get(span_type, span_type if span_type in _OPENINFERENCE_KINDS else OpenInferenceSpanKindValues.CHAIN.value)
    static: dict[str, Any] = {}
    if "openinference" in conventions:
        static[SPAN_KIND] = kind
    if kind != span_type or "openinference" not in conventions:
        static[SPAN_TYPE] = span_type
    if "genai" in conventions and span_type == SpanType.AGENT.value:
        static[GEN_AI_OPERATION_NAME] = GenAiOperationNameValues.INVOKE_AGENT.value
        static[GEN_AI_AGENT_NAME] = name
    if attributes:
        static.update(attributes)
    return static


def input_attributes(inputs: Mapping[str, Any], serializer: Serializer) -> dict[str, Any]:
    """`input.value` (JSON of the bound arguments) and its mime type."""
    return {INPUT_VALUE: serializer.dumps(inputs), INPUT_MIME_TYPE: JSON}


def set_inputs(span: Span, value: Any, serializer: Serializer) -> None:
    """Record any value as the span's input."""
    if isinstance(value, str):
        span.set_attributes({INPUT_VALUE: serializer.text(value), INPUT_MIME_TYPE: TEXT})
    else:
        span.set_attributes({INPUT_VALUE: serializer.dumps(value), INPUT_MIME_TYPE: JSON})


def set_outputs(span: Span, value: Any, serializer: Serializer) -> None:
    """Record a value as the span's output: strings as text, anything else as JSON."""
    if value is None:
        return
    if isinstance(value, str):
        span.set_attributes({OUTPUT_VALUE: serializer.text(value), OUTPUT_MIME_TYPE: TEXT})
    else:
        span.set_attributes({OUTPUT_VALUE: serializer.dumps(value), OUTPUT_MIME_TYPE: JSON})


def set_document_outputs(
    span: Span,
    span_type: str,
    span_name: str,
    inputs: Mapping[str, Any] | None,
    value: Any,
    schema: str | None,
    capture_content: bool,
    serializer: Serializer,
    attribute_limit: int | None,
) -> None:
    """Record a retriever's or reranker's result as documents (SPEC 4), within the span's attribute room."""
    from tracing import _retriever

    room = None
    if attribute_limit is not None:
        recorded = getattr(span, "attributes", None) or {}
        room = max(attribute_limit - len(recorded) - _ATTRIBUTES_AFTER_OUTPUT, 0)
    options = {"span_name": span_name, "schema": schema, "capture_content": capture_content,
               "max_length": serializer.max_length, "max_attributes": room}
    if span_type == SpanType.RETRIEVER.value:
        span.set_attributes(_retriever.retriever_attributes(value, **options))
    else:
        span.set_attributes(_retriever.reranker_attributes(dict(inputs or {}), value, **options))


def set_stream_end(span: Span, chunks: int, first_chunk_ms: float | None, cancelled: bool, failed: bool) -> None:
    """The `agent_tracing.stream.*` attributes of a finished stream, and status OK unless it failed."""
    attributes: dict[str, Any] = {STREAM_CHUNKS: chunks, STREAM_CANCELLED: cancelled}
    if first_chunk_ms is not None:
        attributes[STREAM_FIRST_CHUNK_MS] = round(first_chunk_ms, 3)
    span.set_attributes(attributes)
    if not failed:
        span.set_status(_OK)


def set_error(span: Span, exc: BaseException) -> None:
    """Status ERROR and an exception event."""
    try:
        message = f"{type(exc).__name__}: {exc}"
    except Exception:  # noqa: BLE001 - an exception that cannot be printed still fails its span
        message = type(exc).__name__
    span.set_status(Status(StatusCode.ERROR, message))
    try:
        span.record_exception(exc)
    except Exception:  # noqa: BLE001 - the status above already says it failed
        span.add_event("exception", {"exception.type": type(exc).__qualname__})
