"""agent-tracing: trace AI agents with OpenTelemetry.

What a traced call needs loads with the package; the ResponsesAgent and its pydantic models, the Responses helpers,
the retriever schemas, trace propagation (OpenTelemetry's propagators) and the sampling counters load on first
use (module `__getattr__`), so `import tracing` stays quick. So do settings validation (pydantic, YAML: with the
first setting given), the exporters (with the first pipeline) and the command line (`tests/core/test_import.py`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tracing._context import (
    suppress_tracing,
    using_attributes,
    using_metadata,
    using_prompt_template,
    using_session,
    using_tags,
    using_user,
)
from tracing._decorator import trace
from tracing._errors import error_counts
from tracing._runtime import configure, force_flush, shutdown
from tracing._span import Span, get_current_span, start_span
from tracing._version import __version__
from tracing.keys import SpanType

if TYPE_CHECKING:
    from exporters._sampling import sampling_counts
    from tracing._agent import ResponsesAgent, trace_agent
    from tracing._propagation import continue_trace, inject
    from tracing._responses import (
        ResponsesAgentRequest,
        ResponsesAgentResponse,
        ResponsesAgentStreamEvent,
        create_annotation_added,
        create_function_call_item,
        create_function_call_output_item,
        create_reasoning_item,
        create_text_delta,
        create_text_output_item,
        output_to_responses_items_stream,
        prep_msgs_for_cc_llm,
        responses_agent_output_reducer,
    )
    from tracing._retriever import Document, RetrieverSchema, get_retriever_schema, set_retriever_schema

_LAZY = {
    "sampling_counts": "exporters._sampling",
    "ResponsesAgent": "tracing._agent",
    "trace_agent": "tracing._agent",
    "continue_trace": "tracing._propagation",
    "inject": "tracing._propagation",
    **dict.fromkeys(
        ["ResponsesAgentRequest", "ResponsesAgentResponse", "ResponsesAgentStreamEvent", "create_annotation_added",
         "create_function_call_item", "create_function_call_output_item", "create_reasoning_item", "create_text_delta",
         "create_text_output_item", "output_to_responses_items_stream", "prep_msgs_for_cc_llm",
         "responses_agent_output_reducer"],
        "tracing._responses",
    ),
    **dict.fromkeys(["Document", "RetrieverSchema", "get_retriever_schema", "set_retriever_schema"], "tracing._retriever"),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tracing' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "__version__",
    "Document",
    "ResponsesAgent",
    "ResponsesAgentRequest",
    "ResponsesAgentResponse",
    "ResponsesAgentStreamEvent",
    "RetrieverSchema",
    "Span",
    "SpanType",
    "configure",
    "continue_trace",
    "create_annotation_added",
    "create_function_call_item",
    "create_function_call_output_item",
    "create_reasoning_item",
    "create_text_delta",
    "create_text_output_item",
    "error_counts",
    "force_flush",
    "get_current_span",
    "get_retriever_schema",
    "inject",
    "output_to_responses_items_stream",
    "prep_msgs_for_cc_llm",
    "responses_agent_output_reducer",
    "sampling_counts",
    "set_retriever_schema",
    "shutdown",
    "start_span",
    "suppress_tracing",
    "trace",
    "trace_agent",
    "using_attributes",
    "using_metadata",
    "using_prompt_template",
    "using_session",
    "using_tags",
    "using_user",
]
