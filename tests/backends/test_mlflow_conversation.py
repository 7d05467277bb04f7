"""The example conversation (tests/conventions) exported live over OTLP/HTTP to a real MLflow tracking server, read
back through MLflow's client (`MlflowClient.search_traces`): span types, token usage, the model and the retriever's documents
as MLflow's OTLP translator stored them (issue 14, SPEC 8)."""

from __future__ import annotations

from typing import Any

import pytest

from exporters import exporter_from_uri
from tests.backends.recording import record_conversation
from tests.conventions import conversation_agent as conversation
from tests.servers.mlflow_server import MlflowServer

pytestmark = [pytest.mark.servers, pytest.mark.slow]  # the session's MLflow server takes ~10 s to start

USAGE = {
    "input_tokens": conversation.PROMPT_TOKENS,
    "output_tokens": conversation.COMPLETION_TOKENS,
    "total_tokens": conversation.PROMPT_TOKENS + conversation.COMPLETION_TOKENS,
    "cache_read_input_tokens": conversation.CACHED_TOKENS,
}
"""The token usage MLflow reports (its TokenUsageKey fields) for the chat model's usage chunk."""


@pytest.fixture(scope="module")
def stored(mlflow_server: MlflowServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The conversation's trace as MLflow's client returns it from a fresh experiment; checked to be the recorded trace."""
    experiment = mlflow_server.create_experiment()
    exporter = exporter_from_uri(mlflow_server.otlp_endpoint, headers=mlflow_server.otlp_headers(experiment))
    recorded = record_conversation(tmp_path_factory.mktemp("mlflow-conversation") / "conversation.jsonl", exporter)
    traces = mlflow_server.traces(experiment)
    assert [trace["trace_id"] for trace in traces] == [f"tr-{recorded[0].trace_id}"]
    (trace,) = traces
    assert sorted(span["span_id"] for span in trace["spans"]) == sorted(r.span_id for r in recorded)
    return trace


def _span(trace: dict[str, Any], name: str) -> dict[str, Any]:
    (span,) = [span for span in trace["spans"] if span["name"] == name]
    return span


def test_mlflow_shows_the_span_types(stored: dict[str, Any]) -> None:
    types = {span["name"]: span["span_type"] for span in stored["spans"]}
    assert types.pop(conversation.CHAT_SPAN) in ("CHAT_MODEL", "LLM")
    assert types == {conversation.AGENT_SPAN: "AGENT", conversation.TOOL_SPAN: "TOOL", conversation.RETRIEVER_SPAN: "RETRIEVER"}


def test_mlflow_shows_the_chat_models_token_usage(stored: dict[str, Any]) -> None:
    usage = _span(stored, conversation.CHAT_SPAN)["token_usage"]
    assert usage is not None, "MLflow found no token usage on the chat model's span"
    assert {key: usage.get(key) for key in USAGE} == USAGE


def test_mlflow_shows_the_model_that_answered(stored: dict[str, Any]) -> None:
    assert _span(stored, conversation.CHAT_SPAN)["model"] == conversation.MODEL


def test_mlflow_shows_the_traces_token_usage(stored: dict[str, Any]) -> None:
    usage = stored["token_usage"]
    assert usage is not None, "MLflow summed no token usage for the trace"
    assert {key: usage.get(key) for key in USAGE} == USAGE


def test_mlflow_shows_the_retrievers_documents(stored: dict[str, Any]) -> None:
    outputs = _span(stored, conversation.RETRIEVER_SPAN)["outputs"]
    assert [(d["id"], d["page_content"], d["metadata"]["doc_uri"]) for d in outputs] == [
        (doc["id"], doc["page_content"], doc["doc_uri"]) for doc in conversation.DOCUMENTS]
