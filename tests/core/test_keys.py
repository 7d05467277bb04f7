"""The key table spells OpenInference, GenAI and OpenTelemetry names itself (no semconv import at `import tracing`):
each must equal the semantic-convention package's constant."""

from __future__ import annotations

import pytest
from openinference.semconv.trace import (
    DocumentAttributes,
    MessageAttributes,
    OpenInferenceLLMProviderValues,
    OpenInferenceLLMSystemValues,
    OpenInferenceMimeTypeValues,
    OpenInferenceSpanKindValues,
    RerankerAttributes,
    SpanAttributes,
    ToolCallAttributes,
)
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as _gen_ai
from opentelemetry.semconv.attributes import exception_attributes as _exception
from opentelemetry.semconv.attributes import service_attributes as _service

from tracing import keys

SPELLED_AS_THE_PACKAGES = [
    (keys.SPAN_KIND, SpanAttributes.OPENINFERENCE_SPAN_KIND),
    (keys.INPUT_VALUE, SpanAttributes.INPUT_VALUE),
    (keys.INPUT_MIME_TYPE, SpanAttributes.INPUT_MIME_TYPE),
    (keys.OUTPUT_VALUE, SpanAttributes.OUTPUT_VALUE),
    (keys.OUTPUT_MIME_TYPE, SpanAttributes.OUTPUT_MIME_TYPE),
    (keys.SESSION_ID, SpanAttributes.SESSION_ID),
    (keys.USER_ID, SpanAttributes.USER_ID),
    (keys.METADATA, SpanAttributes.METADATA),
    (keys.TAGS, SpanAttributes.TAG_TAGS),
    (keys.RETRIEVAL_DOCUMENTS, SpanAttributes.RETRIEVAL_DOCUMENTS),
    (keys.RERANKER_INPUT_DOCUMENTS, RerankerAttributes.RERANKER_INPUT_DOCUMENTS),
    (keys.RERANKER_OUTPUT_DOCUMENTS, RerankerAttributes.RERANKER_OUTPUT_DOCUMENTS),
    (keys.RERANKER_QUERY, RerankerAttributes.RERANKER_QUERY),
    (keys.RERANKER_TOP_K, RerankerAttributes.RERANKER_TOP_K),
    (keys.DOCUMENT_ID, DocumentAttributes.DOCUMENT_ID),
    (keys.DOCUMENT_CONTENT, DocumentAttributes.DOCUMENT_CONTENT),
    (keys.DOCUMENT_SCORE, DocumentAttributes.DOCUMENT_SCORE),
    (keys.DOCUMENT_METADATA, DocumentAttributes.DOCUMENT_METADATA),
    (keys.GEN_AI_OPERATION_NAME, _gen_ai.GEN_AI_OPERATION_NAME),
    (keys.GEN_AI_AGENT_NAME, _gen_ai.GEN_AI_AGENT_NAME),
    (keys.GEN_AI_CONVERSATION_ID, _gen_ai.GEN_AI_CONVERSATION_ID),
    (keys.GEN_AI_DATA_SOURCE_ID, _gen_ai.GEN_AI_DATA_SOURCE_ID),
    (keys.GEN_AI_RETRIEVAL_DOCUMENTS, _gen_ai.GEN_AI_RETRIEVAL_DOCUMENTS),
    (keys.GEN_AI_INPUT_MESSAGES, _gen_ai.GEN_AI_INPUT_MESSAGES),
    (keys.GEN_AI_OUTPUT_MESSAGES, _gen_ai.GEN_AI_OUTPUT_MESSAGES),
    (keys.GEN_AI_SYSTEM_INSTRUCTIONS, _gen_ai.GEN_AI_SYSTEM_INSTRUCTIONS),
    (keys.GEN_AI_REQUEST_STREAM, _gen_ai.GEN_AI_REQUEST_STREAM),
    (keys.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, _gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK),
    (keys.GEN_AI_RETRIEVAL_QUERY_TEXT, _gen_ai.GEN_AI_RETRIEVAL_QUERY_TEXT),
    (keys.OPERATION_INVOKE_AGENT, _gen_ai.GenAiOperationNameValues.INVOKE_AGENT.value),
    (keys.OPERATION_RETRIEVAL, _gen_ai.GenAiOperationNameValues.RETRIEVAL.value),
    (keys.OPERATION_CHAT, _gen_ai.GenAiOperationNameValues.CHAT.value),
    (keys.GEN_AI_PROVIDER_NAME, _gen_ai.GEN_AI_PROVIDER_NAME),
    (keys.GEN_AI_REQUEST_MODEL, _gen_ai.GEN_AI_REQUEST_MODEL),
    (keys.GEN_AI_RESPONSE_MODEL, _gen_ai.GEN_AI_RESPONSE_MODEL),
    (keys.GEN_AI_RESPONSE_ID, _gen_ai.GEN_AI_RESPONSE_ID),
    (keys.GEN_AI_RESPONSE_FINISH_REASONS, _gen_ai.GEN_AI_RESPONSE_FINISH_REASONS),
    (keys.GEN_AI_USAGE_INPUT_TOKENS, _gen_ai.GEN_AI_USAGE_INPUT_TOKENS),
    (keys.GEN_AI_USAGE_OUTPUT_TOKENS, _gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS),
    (keys.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, _gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS),
    (keys.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, _gen_ai.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS),
    (keys.GEN_AI_REQUEST_TEMPERATURE, _gen_ai.GEN_AI_REQUEST_TEMPERATURE),
    (keys.GEN_AI_REQUEST_MAX_TOKENS, _gen_ai.GEN_AI_REQUEST_MAX_TOKENS),
    (keys.GEN_AI_REQUEST_TOP_P, _gen_ai.GEN_AI_REQUEST_TOP_P),
    (keys.GEN_AI_REQUEST_TOP_K, _gen_ai.GEN_AI_REQUEST_TOP_K),
    (keys.GEN_AI_REQUEST_FREQUENCY_PENALTY, _gen_ai.GEN_AI_REQUEST_FREQUENCY_PENALTY),
    (keys.GEN_AI_REQUEST_PRESENCE_PENALTY, _gen_ai.GEN_AI_REQUEST_PRESENCE_PENALTY),
    (keys.GEN_AI_REQUEST_SEED, _gen_ai.GEN_AI_REQUEST_SEED),
    (keys.GEN_AI_REQUEST_STOP_SEQUENCES, _gen_ai.GEN_AI_REQUEST_STOP_SEQUENCES),
    (keys.GEN_AI_REQUEST_CHOICE_COUNT, _gen_ai.GEN_AI_REQUEST_CHOICE_COUNT),
    (keys.SERVICE_NAME, _service.SERVICE_NAME),
    (keys.EXCEPTION_TYPE, _exception.EXCEPTION_TYPE),
    (keys.EXCEPTION_MESSAGE, _exception.EXCEPTION_MESSAGE),
    (keys.EXCEPTION_STACKTRACE, _exception.EXCEPTION_STACKTRACE),
    (keys.EXCEPTION_ESCAPED, _exception.EXCEPTION_ESCAPED),
    (keys.LLM_PROMPT_TEMPLATE, SpanAttributes.LLM_PROMPT_TEMPLATE),
    (keys.LLM_PROMPT_TEMPLATE_VERSION, SpanAttributes.LLM_PROMPT_TEMPLATE_VERSION),
    (keys.LLM_PROMPT_TEMPLATE_VARIABLES, SpanAttributes.LLM_PROMPT_TEMPLATE_VARIABLES),
    (keys.TOOL_NAME, SpanAttributes.TOOL_NAME),
    (keys.TOOL_DESCRIPTION, SpanAttributes.TOOL_DESCRIPTION),
    (keys.TOOL_PARAMETERS, SpanAttributes.TOOL_PARAMETERS),
    (keys.LLM_MODEL_NAME, SpanAttributes.LLM_MODEL_NAME),
    (keys.LLM_PROVIDER, SpanAttributes.LLM_PROVIDER),
    (keys.LLM_SYSTEM, SpanAttributes.LLM_SYSTEM),
    (keys.LLM_INVOCATION_PARAMETERS, SpanAttributes.LLM_INVOCATION_PARAMETERS),
    (keys.LLM_INPUT_MESSAGES, SpanAttributes.LLM_INPUT_MESSAGES),
    (keys.LLM_OUTPUT_MESSAGES, SpanAttributes.LLM_OUTPUT_MESSAGES),
    (keys.LLM_TOKEN_COUNT_PROMPT, SpanAttributes.LLM_TOKEN_COUNT_PROMPT),
    (keys.LLM_TOKEN_COUNT_COMPLETION, SpanAttributes.LLM_TOKEN_COUNT_COMPLETION),
    (keys.LLM_TOKEN_COUNT_TOTAL, SpanAttributes.LLM_TOKEN_COUNT_TOTAL),
    (keys.LLM_TOKEN_COUNT_CACHE_READ, SpanAttributes.LLM_TOKEN_COUNT_PROMPT_DETAILS_CACHE_READ),
    (keys.LLM_TOKEN_COUNT_REASONING, SpanAttributes.LLM_TOKEN_COUNT_COMPLETION_DETAILS_REASONING),
    (keys.MESSAGE_ROLE, MessageAttributes.MESSAGE_ROLE),
    (keys.MESSAGE_CONTENT, MessageAttributes.MESSAGE_CONTENT),
    (keys.MESSAGE_TOOL_CALLS, MessageAttributes.MESSAGE_TOOL_CALLS),
    (keys.MESSAGE_TOOL_CALL_ID, MessageAttributes.MESSAGE_TOOL_CALL_ID),
    (keys.TOOL_CALL_ID, ToolCallAttributes.TOOL_CALL_ID),
    (keys.TOOL_CALL_FUNCTION_NAME, ToolCallAttributes.TOOL_CALL_FUNCTION_NAME),
    (keys.TOOL_CALL_FUNCTION_ARGUMENTS, ToolCallAttributes.TOOL_CALL_FUNCTION_ARGUMENTS_JSON),
    (keys.PROVIDER_OPENAI, OpenInferenceLLMProviderValues.OPENAI.value),
    (keys.OPENINFERENCE_SYSTEMS, frozenset(system.value for system in OpenInferenceLLMSystemValues)),
    (keys.GEN_AI_TOOL_NAME, _gen_ai.GEN_AI_TOOL_NAME),
    (keys.GEN_AI_TOOL_DESCRIPTION, _gen_ai.GEN_AI_TOOL_DESCRIPTION),
    (keys.GEN_AI_TOOL_CALL_ID, _gen_ai.GEN_AI_TOOL_CALL_ID),
    (keys.GEN_AI_TOOL_CALL_ARGUMENTS, _gen_ai.GEN_AI_TOOL_CALL_ARGUMENTS),
    (keys.GEN_AI_TOOL_CALL_RESULT, _gen_ai.GEN_AI_TOOL_CALL_RESULT),
    (keys.OPERATION_EXECUTE_TOOL, _gen_ai.GenAiOperationNameValues.EXECUTE_TOOL.value),
    (keys.JSON, OpenInferenceMimeTypeValues.JSON.value),
    (keys.TEXT, OpenInferenceMimeTypeValues.TEXT.value),
    (keys.OPENINFERENCE_KINDS, frozenset(kind.value for kind in OpenInferenceSpanKindValues)),
]


@pytest.mark.parametrize(("ours", "theirs"), SPELLED_AS_THE_PACKAGES)
def test_each_key_is_the_semantic_convention_package_s_name(ours: object, theirs: object) -> None:
    assert ours == theirs


def test_every_semantic_convention_key_is_checked() -> None:
    checked = {ours for ours, _ in SPELLED_AS_THE_PACKAGES if isinstance(ours, str)}
    ours_only = {key.name for key in keys.KEYS.values() if key.convention in (keys.MLFLOW, keys.AGENT_TRACING)}
    assert set(keys.KEYS) - ours_only - checked == {keys.GEN_AI_RETRIEVAL_TOP_K}, "newer than the semconv package"
