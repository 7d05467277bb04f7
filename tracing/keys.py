"""Every attribute key agent-tracing writes or reads, with the convention it belongs to (SPEC 4).

Writers (the recorder, the retriever mapping) and readers (`exporters.tracefiles`, `exporters.evaluation`) import
their keys from here; no module spells a key again. `KEYS` lists them all: `KEYS[name].convention` is one of
`openinference` (read by Arize Phoenix and MLflow's OTLP translator), `genai` (the OpenTelemetry GenAI conventions,
read by Jaeger's GenAI view and other OTel tools), `mlflow` (fields of the JSON MLflow reads), `opentelemetry`
(the general OpenTelemetry conventions) or `agent_tracing` (ours). To add a convention's key: define it here with
`_key`, write it from `tracing._recorder` (or `tracing._retriever` for documents), read it from here.

Names are spelled here rather than imported from the semantic-convention packages (openinference-semantic-conventions,
opentelemetry-semantic-conventions), which would cost `import tracing` about 10 ms; `tests/core/test_keys.py` checks
each one against the package's constant.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

OPENINFERENCE = "openinference"
GENAI = "genai"
MLFLOW = "mlflow"
OPENTELEMETRY = "opentelemetry"
AGENT_TRACING = "agent_tracing"
CONVENTIONS = (OPENINFERENCE, GENAI, MLFLOW, OPENTELEMETRY, AGENT_TRACING)

GENAI_SEMCONV_SOURCE = (
    "open-telemetry/semantic-conventions-genai model/gen-ai/registry.yaml (commit 002c8a6e, development stability) "
    "and its gen-ai-input-messages.json / gen-ai-output-messages.json; gen_ai.retrieval.top_k from the newer "
    "registry. Names are taken from opentelemetry-semantic-conventions 0.66b2 where it still has them."
)
"""The GenAI conventions we follow: the one place naming their version (SPEC 4). The core package's gen_ai constants
are deprecated there (moved to the GenAI repository); the names are unchanged, and a test holds ours to them."""


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
SPAN_KIND = _key("openinference.span.kind", OPENINFERENCE, "the span's OpenInference kind")
INPUT_VALUE = _key("input.value", OPENINFERENCE, "the inputs: JSON of the bound arguments, or text")
INPUT_MIME_TYPE = _key("input.mime_type", OPENINFERENCE, "application/json or text/plain")
OUTPUT_VALUE = _key("output.value", OPENINFERENCE, "the output: JSON, or text for a string")
OUTPUT_MIME_TYPE = _key("output.mime_type", OPENINFERENCE, "application/json or text/plain")
SESSION_ID = _key("session.id", OPENINFERENCE, "the conversation or session")
USER_ID = _key("user.id", OPENINFERENCE, "the user")
METADATA = _key("metadata", OPENINFERENCE, "JSON object of request metadata")
TAGS = _key("tag.tags", OPENINFERENCE, "list of tags")

# ---------------------------------------------------------------- OpenInference (documents)
RETRIEVAL_DOCUMENTS = _key("retrieval.documents", OPENINFERENCE,
                           "prefix of a retriever's documents: retrieval.documents.{i}.document.*")
RERANKER_INPUT_DOCUMENTS = _key("reranker.input_documents", OPENINFERENCE,
                                "prefix of a reranker's candidates: reranker.input_documents.{i}.document.*")
RERANKER_OUTPUT_DOCUMENTS = _key("reranker.output_documents", OPENINFERENCE,
                                 "prefix of a reranker's result: reranker.output_documents.{i}.document.*")
RERANKER_QUERY = _key("reranker.query", OPENINFERENCE, "the reranker's query")
RERANKER_TOP_K = _key("reranker.top_k", OPENINFERENCE, "how many documents the reranker keeps")
DOCUMENT_ID = _key("document.id", OPENINFERENCE, "suffix: a document's id")
DOCUMENT_CONTENT = _key("document.content", OPENINFERENCE, "suffix: a document's text")
DOCUMENT_SCORE = _key("document.score", OPENINFERENCE, "suffix: a document's score")
DOCUMENT_METADATA = _key("document.metadata", OPENINFERENCE,
                         "suffix: JSON of a document's doc_uri and other columns")

# ---------------------------------------------------------------- GenAI
GEN_AI_OPERATION_NAME = _key("gen_ai.operation.name", GENAI, "invoke_agent, retrieval, ...")
GEN_AI_AGENT_NAME = _key("gen_ai.agent.name", GENAI, "the agent's class")
GEN_AI_CONVERSATION_ID = _key("gen_ai.conversation.id", GENAI, "the request's context.conversation_id")
GEN_AI_DATA_SOURCE_ID = _key("gen_ai.data_source.id", GENAI, "the retriever's name")
GEN_AI_RETRIEVAL_DOCUMENTS = _key("gen_ai.retrieval.documents", GENAI, 'JSON [{"id", "score"}] in rank order')
GEN_AI_INPUT_MESSAGES = _key("gen_ai.input.messages", GENAI,
                             "JSON [{role, parts: [{type: text|tool_call|tool_call_response|reasoning, ...}]}]")
GEN_AI_OUTPUT_MESSAGES = _key("gen_ai.output.messages", GENAI,
                              "JSON [{role, parts, finish_reason}]: one per choice (agents: one per turn)")
GEN_AI_SYSTEM_INSTRUCTIONS = _key("gen_ai.system_instructions", GENAI,
                                  "JSON [{type: text, content}]: system and developer messages, instructions")
GEN_AI_REQUEST_STREAM = _key("gen_ai.request.stream", GENAI, "true on a streamed AGENT or LLM span")
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK = _key("gen_ai.response.time_to_first_chunk", GENAI,
                                           "seconds from the call to its first streamed chunk")
GEN_AI_RETRIEVAL_QUERY_TEXT = _key("gen_ai.retrieval.query.text", GENAI, "a RETRIEVER span's query argument")
GEN_AI_RETRIEVAL_TOP_K = _key("gen_ai.retrieval.top_k", GENAI,
                              "the maximum number of documents the retriever was asked to return (k/top_k)")
OPERATION_INVOKE_AGENT = "invoke_agent"
OPERATION_RETRIEVAL = "retrieval"
OPERATION_CHAT = "chat"

# ---------------------------------------------------------------- GenAI (model calls)
GEN_AI_PROVIDER_NAME = _key("gen_ai.provider.name", GENAI, "openai for OpenAI-shaped completions, or the provider argument")
GEN_AI_REQUEST_MODEL = _key("gen_ai.request.model", GENAI, "the model argument")
GEN_AI_RESPONSE_MODEL = _key("gen_ai.response.model", GENAI, "the completion's model")
GEN_AI_RESPONSE_ID = _key("gen_ai.response.id", GENAI, "the completion's id")
GEN_AI_RESPONSE_FINISH_REASONS = _key("gen_ai.response.finish_reasons", GENAI, "list: each choice's finish reason")
GEN_AI_USAGE_INPUT_TOKENS = _key("gen_ai.usage.input_tokens", GENAI, "prompt tokens")
GEN_AI_USAGE_OUTPUT_TOKENS = _key("gen_ai.usage.output_tokens", GENAI, "completion tokens")
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = _key("gen_ai.usage.cache_read.input_tokens", GENAI,
                                            "prompt tokens served from the provider's cache")
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS = _key("gen_ai.usage.reasoning.output_tokens", GENAI,
                                            "completion tokens spent on reasoning")
GEN_AI_REQUEST_TEMPERATURE = _key("gen_ai.request.temperature", GENAI, "the temperature argument")
GEN_AI_REQUEST_MAX_TOKENS = _key("gen_ai.request.max_tokens", GENAI,
                                 "the max_tokens (max_completion_tokens, max_output_tokens) argument")
GEN_AI_REQUEST_TOP_P = _key("gen_ai.request.top_p", GENAI, "the top_p argument")
GEN_AI_REQUEST_TOP_K = _key("gen_ai.request.top_k", GENAI, "the top_k argument of a model call")
GEN_AI_REQUEST_FREQUENCY_PENALTY = _key("gen_ai.request.frequency_penalty", GENAI, "the frequency_penalty argument")
GEN_AI_REQUEST_PRESENCE_PENALTY = _key("gen_ai.request.presence_penalty", GENAI, "the presence_penalty argument")
GEN_AI_REQUEST_SEED = _key("gen_ai.request.seed", GENAI, "the seed argument")
GEN_AI_REQUEST_STOP_SEQUENCES = _key("gen_ai.request.stop_sequences", GENAI, "list: the stop argument")
GEN_AI_REQUEST_CHOICE_COUNT = _key("gen_ai.request.choice.count", GENAI, "the n argument")

# ---------------------------------------------------------------- MLflow (fields of the retriever output JSON)
MLFLOW_PAGE_CONTENT = _key("page_content", MLFLOW, "a retriever document's text in output.value")
MLFLOW_DOC_METADATA = _key("metadata", MLFLOW, "a retriever document's metadata object in output.value")
MLFLOW_DOC_URI = _key("doc_uri", MLFLOW, "a document's URI, in its metadata")
MLFLOW_CHUNK_ID = _key("chunk_id", MLFLOW, "a document's id, in its metadata")

# ---------------------------------------------------------------- OpenTelemetry
SERVICE_NAME = _key("service.name", OPENTELEMETRY, "resource: the service")
EXCEPTION_EVENT = "exception"
EXCEPTION_TYPE = _key("exception.type", OPENTELEMETRY, "exception event: the exception's class")
EXCEPTION_MESSAGE = _key("exception.message", OPENTELEMETRY, "exception event: its message")
EXCEPTION_STACKTRACE = _key("exception.stacktrace", OPENTELEMETRY, "exception event: the traceback")
EXCEPTION_ESCAPED = _key("exception.escaped", OPENTELEMETRY, "exception event: it left the span")

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
LLM_PROMPT_TEMPLATE = _key("llm.prompt_template.template", OPENINFERENCE, "the prompt template in use")
LLM_PROMPT_TEMPLATE_VERSION = _key("llm.prompt_template.version", OPENINFERENCE, "the prompt template's version")
LLM_PROMPT_TEMPLATE_VARIABLES = _key("llm.prompt_template.variables", OPENINFERENCE,
                                     "JSON object of the prompt template's variables")
TOOL_NAME = _key("tool.name", OPENINFERENCE, "a TOOL span's tool name")
TOOL_DESCRIPTION = _key("tool.description", OPENINFERENCE, "a TOOL span's description (the docstring)")
TOOL_PARAMETERS = _key("tool.parameters", OPENINFERENCE, "JSON schema of a TOOL span's parameters")

# ---------------------------------------------------------------- OpenInference (model calls and agents)
LLM_MODEL_NAME = _key("llm.model_name", OPENINFERENCE, "the completion's model (else the model argument)")
LLM_PROVIDER = _key("llm.provider", OPENINFERENCE, "openai for OpenAI-shaped completions")
LLM_SYSTEM = _key("llm.system", OPENINFERENCE, "the AI product: openai for OpenAI-shaped completions")
LLM_INVOCATION_PARAMETERS = _key("llm.invocation_parameters", OPENINFERENCE,
                                 "JSON object of the model and parameter arguments")
LLM_INPUT_MESSAGES = _key("llm.input_messages", OPENINFERENCE,
                          "prefix of the input messages: llm.input_messages.{i}.message.*")
LLM_OUTPUT_MESSAGES = _key("llm.output_messages", OPENINFERENCE,
                           "prefix of the output messages: llm.output_messages.{i}.message.*")
LLM_TOKEN_COUNT_PROMPT = _key("llm.token_count.prompt", OPENINFERENCE, "prompt tokens")
LLM_TOKEN_COUNT_COMPLETION = _key("llm.token_count.completion", OPENINFERENCE, "completion tokens")
LLM_TOKEN_COUNT_TOTAL = _key("llm.token_count.total", OPENINFERENCE, "total tokens")
LLM_TOKEN_COUNT_CACHE_READ = _key("llm.token_count.prompt_details.cache_read", OPENINFERENCE,
                                  "prompt tokens served from the cache")
LLM_TOKEN_COUNT_REASONING = _key("llm.token_count.completion_details.reasoning", OPENINFERENCE,
                                 "completion tokens spent on reasoning")
MESSAGE_ROLE = _key("message.role", OPENINFERENCE, "suffix: a message's role")
MESSAGE_CONTENT = _key("message.content", OPENINFERENCE, "suffix: a message's text")
MESSAGE_TOOL_CALLS = _key("message.tool_calls", OPENINFERENCE,
                          "suffix: prefix of a message's tool calls: message.tool_calls.{j}.tool_call.*")
MESSAGE_TOOL_CALL_ID = _key("message.tool_call_id", OPENINFERENCE,
                            "suffix: the tool call a tool message answers")
TOOL_CALL_ID = _key("tool_call.id", OPENINFERENCE, "suffix: a tool call's id")
TOOL_CALL_FUNCTION_NAME = _key("tool_call.function.name", OPENINFERENCE, "suffix: a tool call's function")
TOOL_CALL_FUNCTION_ARGUMENTS = _key("tool_call.function.arguments", OPENINFERENCE,
                                    "suffix: a tool call's arguments (JSON text)")
PROVIDER_OPENAI = "openai"
OPENINFERENCE_SYSTEMS = frozenset({"anthropic", "cohere", "mistralai", "openai", "typesafe", "vertexai"})
"""OpenInference's `llm.system` values."""

# ---------------------------------------------------------------- GenAI (tools)
GEN_AI_TOOL_NAME = _key("gen_ai.tool.name", GENAI, "a TOOL span's tool name")
GEN_AI_TOOL_DESCRIPTION = _key("gen_ai.tool.description", GENAI, "a TOOL span's description")
GEN_AI_TOOL_CALL_ID = _key("gen_ai.tool.call.id", GENAI, "the model's id of this tool call")
GEN_AI_TOOL_CALL_ARGUMENTS = _key("gen_ai.tool.call.arguments", GENAI, "JSON object of the tool's arguments")
GEN_AI_TOOL_CALL_RESULT = _key("gen_ai.tool.call.result", GENAI, "the tool's result (JSON, or text)")
OPERATION_EXECUTE_TOOL = "execute_tool"

# ---------------------------------------------------------------- values
JSON = "application/json"
TEXT = "text/plain"
OPENINFERENCE_KINDS = frozenset({"AGENT", "CHAIN", "DECISION", "EMBEDDING", "EVALUATOR", "GUARDRAIL", "LLM", "PROMPT",
                                 "RERANKER", "RETRIEVER", "TOOL", "UNKNOWN"})
"""OpenInference's span kinds."""


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
