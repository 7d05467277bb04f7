"""Every attribute key agent-tracing writes or reads, with the convention it belongs to (SPEC 4).

Writers (the recorder, the retriever mapping) and readers (`exporters.tracefiles`, `exporters.evaluation`) import
their keys from here; no module spells a key again. `KEYS` lists them all: `KEYS[name].convention` is one of
`openinference` (read by Arize Phoenix and MLflow's OTLP translator), `genai` (the OpenTelemetry GenAI conventions,
read by Jaeger's GenAI view and other OTel tools), `mlflow` (fields of the JSON MLflow reads), `opentelemetry`
(the general OpenTelemetry conventions) or `agent_tracing` (ours). To add a convention's key: define it here with
`_key`, write it from `tracing._recorder` (or `tracing._retriever` for documents), read it from here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from openinference.semconv.trace import (
    DocumentAttributes,
    OpenInferenceMimeTypeValues,
    OpenInferenceSpanKindValues,
    RerankerAttributes,
    SpanAttributes,
)
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as _gen_ai
from opentelemetry.semconv.attributes import exception_attributes as _exception
from opentelemetry.semconv.attributes import service_attributes as _service

OPENINFERENCE = "openinference"
GENAI = "genai"
MLFLOW = "mlflow"
OPENTELEMETRY = "opentelemetry"
AGENT_TRACING = "agent_tracing"
CONVENTIONS = (OPENINFERENCE, GENAI, MLFLOW, OPENTELEMETRY, AGENT_TRACING)

GENAI_SEMCONV_SOURCE = "opentelemetry-semantic-conventions (gen_ai attributes of the incubating registry)"
"""Where the GenAI names come from: the constants of the OpenTelemetry semantic-conventions package."""


@dataclass(frozen=True)
class Key:
    """One attribute key: its name, the convention it belongs to and what it holds."""

    name: str
    convention: str
    description: str


KEYS: dict[str, Key] = {}
"""Every key of this module by name."""


def _key(name: str, convention: str, description: str) -> str:
    KEYS[name] = Key(name, convention, description)
    return name


# ---------------------------------------------------------------- OpenInference (every span)
SPAN_KIND = _key(SpanAttributes.OPENINFERENCE_SPAN_KIND, OPENINFERENCE, "the span's OpenInference kind")
INPUT_VALUE = _key(SpanAttributes.INPUT_VALUE, OPENINFERENCE, "the inputs: JSON of the bound arguments, or text")
INPUT_MIME_TYPE = _key(SpanAttributes.INPUT_MIME_TYPE, OPENINFERENCE, "application/json or text/plain")
OUTPUT_VALUE = _key(SpanAttributes.OUTPUT_VALUE, OPENINFERENCE, "the output: JSON, or text for a string")
OUTPUT_MIME_TYPE = _key(SpanAttributes.OUTPUT_MIME_TYPE, OPENINFERENCE, "application/json or text/plain")
SESSION_ID = _key(SpanAttributes.SESSION_ID, OPENINFERENCE, "the conversation or session")
USER_ID = _key(SpanAttributes.USER_ID, OPENINFERENCE, "the user")
METADATA = _key(SpanAttributes.METADATA, OPENINFERENCE, "JSON object of request metadata")
TAGS = _key(SpanAttributes.TAG_TAGS, OPENINFERENCE, "list of tags")

# ---------------------------------------------------------------- OpenInference (documents)
RETRIEVAL_DOCUMENTS = _key(SpanAttributes.RETRIEVAL_DOCUMENTS, OPENINFERENCE,
                           "prefix of a retriever's documents: retrieval.documents.{i}.document.*")
RERANKER_INPUT_DOCUMENTS = _key(RerankerAttributes.RERANKER_INPUT_DOCUMENTS, OPENINFERENCE,
                                "prefix of a reranker's candidates: reranker.input_documents.{i}.document.*")
RERANKER_OUTPUT_DOCUMENTS = _key(RerankerAttributes.RERANKER_OUTPUT_DOCUMENTS, OPENINFERENCE,
                                 "prefix of a reranker's result: reranker.output_documents.{i}.document.*")
RERANKER_QUERY = _key(RerankerAttributes.RERANKER_QUERY, OPENINFERENCE, "the reranker's query")
RERANKER_TOP_K = _key(RerankerAttributes.RERANKER_TOP_K, OPENINFERENCE, "how many documents the reranker keeps")
DOCUMENT_ID = _key(DocumentAttributes.DOCUMENT_ID, OPENINFERENCE, "suffix: a document's id")
DOCUMENT_CONTENT = _key(DocumentAttributes.DOCUMENT_CONTENT, OPENINFERENCE, "suffix: a document's text")
DOCUMENT_SCORE = _key(DocumentAttributes.DOCUMENT_SCORE, OPENINFERENCE, "suffix: a document's score")
DOCUMENT_METADATA = _key(DocumentAttributes.DOCUMENT_METADATA, OPENINFERENCE,
                         "suffix: JSON of a document's doc_uri and other columns")

# ---------------------------------------------------------------- GenAI
GEN_AI_OPERATION_NAME = _key(_gen_ai.GEN_AI_OPERATION_NAME, GENAI, "invoke_agent, retrieval, ...")
GEN_AI_AGENT_NAME = _key(_gen_ai.GEN_AI_AGENT_NAME, GENAI, "the agent's class")
GEN_AI_CONVERSATION_ID = _key(_gen_ai.GEN_AI_CONVERSATION_ID, GENAI, "the request's context.conversation_id")
GEN_AI_DATA_SOURCE_ID = _key(_gen_ai.GEN_AI_DATA_SOURCE_ID, GENAI, "the retriever's name")
GEN_AI_RETRIEVAL_DOCUMENTS = _key(_gen_ai.GEN_AI_RETRIEVAL_DOCUMENTS, GENAI, 'JSON [{"id", "score"}] in rank order')
OPERATION_INVOKE_AGENT = _gen_ai.GenAiOperationNameValues.INVOKE_AGENT.value
OPERATION_RETRIEVAL = _gen_ai.GenAiOperationNameValues.RETRIEVAL.value

# ---------------------------------------------------------------- MLflow (fields of the retriever output JSON)
MLFLOW_PAGE_CONTENT = _key("page_content", MLFLOW, "a retriever document's text in output.value")
MLFLOW_DOC_METADATA = _key("metadata", MLFLOW, "a retriever document's metadata object in output.value")
MLFLOW_DOC_URI = _key("doc_uri", MLFLOW, "a document's URI, in its metadata")
MLFLOW_CHUNK_ID = _key("chunk_id", MLFLOW, "a document's id, in its metadata")

# ---------------------------------------------------------------- OpenTelemetry
SERVICE_NAME = _key(_service.SERVICE_NAME, OPENTELEMETRY, "resource: the service")
EXCEPTION_EVENT = "exception"
EXCEPTION_TYPE = _key(_exception.EXCEPTION_TYPE, OPENTELEMETRY, "exception event: the exception's class")
EXCEPTION_MESSAGE = _key(_exception.EXCEPTION_MESSAGE, OPENTELEMETRY, "exception event: its message")
EXCEPTION_STACKTRACE = _key(_exception.EXCEPTION_STACKTRACE, OPENTELEMETRY, "exception event: the traceback")
EXCEPTION_ESCAPED = _key(_exception.EXCEPTION_ESCAPED, OPENTELEMETRY, "exception event: it left the span")

# ---------------------------------------------------------------- agent-tracing
SPAN_TYPE = _key("agent_tracing.span_type", AGENT_TRACING, "the span type when OpenInference has no such kind")
STREAM_CHUNKS = _key("agent_tracing.stream.chunks", AGENT_TRACING, "how many chunks a stream yielded")
STREAM_FIRST_CHUNK_MS = _key("agent_tracing.stream.first_chunk_ms", AGENT_TRACING, "time to the first chunk")
STREAM_CANCELLED = _key("agent_tracing.stream.cancelled", AGENT_TRACING, "the consumer stopped the stream early")
STREAM_CHUNK_EVENT = _key("agent_tracing.stream.chunk", AGENT_TRACING, "event name: one streamed chunk")
RETRIEVER_SCHEMA = _key("agent_tracing.retriever.schema", AGENT_TRACING, "the retriever schema used, or auto")
RETRIEVER_UNMAPPED = _key("agent_tracing.retriever.unmapped", AGENT_TRACING, "schema columns missing from rows")
RETRIEVER_DOCUMENT_COUNT = _key("agent_tracing.retriever.document_count", AGENT_TRACING, "documents returned")

# ---------------------------------------------------------------- OpenInference (prompt templates, tools)
LLM_PROMPT_TEMPLATE = _key(SpanAttributes.LLM_PROMPT_TEMPLATE, OPENINFERENCE, "the prompt template in use")
LLM_PROMPT_TEMPLATE_VERSION = _key(SpanAttributes.LLM_PROMPT_TEMPLATE_VERSION, OPENINFERENCE, "the prompt template's version")
LLM_PROMPT_TEMPLATE_VARIABLES = _key(SpanAttributes.LLM_PROMPT_TEMPLATE_VARIABLES, OPENINFERENCE,
                                     "JSON object of the prompt template's variables")
TOOL_NAME = _key(SpanAttributes.TOOL_NAME, OPENINFERENCE, "a TOOL span's tool name")
TOOL_DESCRIPTION = _key(SpanAttributes.TOOL_DESCRIPTION, OPENINFERENCE, "a TOOL span's description (the docstring)")
TOOL_PARAMETERS = _key(SpanAttributes.TOOL_PARAMETERS, OPENINFERENCE, "JSON schema of a TOOL span's parameters")

# ---------------------------------------------------------------- GenAI (tools)
GEN_AI_TOOL_NAME = _key(_gen_ai.GEN_AI_TOOL_NAME, GENAI, "a TOOL span's tool name")
GEN_AI_TOOL_DESCRIPTION = _key(_gen_ai.GEN_AI_TOOL_DESCRIPTION, GENAI, "a TOOL span's description")
GEN_AI_TOOL_CALL_ID = _key(_gen_ai.GEN_AI_TOOL_CALL_ID, GENAI, "the model's id of this tool call")
OPERATION_EXECUTE_TOOL = _gen_ai.GenAiOperationNameValues.EXECUTE_TOOL.value

# ---------------------------------------------------------------- values
JSON = OpenInferenceMimeTypeValues.JSON.value
TEXT = OpenInferenceMimeTypeValues.TEXT.value
OPENINFERENCE_KINDS = frozenset(kind.value for kind in OpenInferenceSpanKindValues)


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
