"""MLflow compatibility that needs no MLflow: its no-op span, its helpers' shapes, its retriever schema registry."""

from __future__ import annotations

import json
import sys
import types
import warnings
from collections.abc import Iterator

import pytest
from opentelemetry import trace as otel_trace

import tracing
from tests.capture import CapturedSpans, output
from tracing._retriever import _clear_registry

REMOTE_TRACE = "0af7651916cd43dd8448eb211c80319c"


class EchoAgent(tracing.ResponsesAgent):
    def predict_stream(self, request: tracing.ResponsesAgentRequest) -> Iterator[tracing.ResponsesAgentStreamEvent]:
        yield tracing.ResponsesAgentStreamEvent(**self.create_text_delta("hi", "m1"))


def test_a_current_span_without_span_context_does_not_stop_continuing_a_remote_trace(spans: CapturedSpans) -> None:
    """MLflow's no-op span (what it leaves current when it cannot trace) is a NonRecordingSpan whose context is None."""
    request = {"input": [{"role": "user", "content": "hi"}],
               "custom_inputs": {"traceparent": f"00-{REMOTE_TRACE}-b7ad6b7169203331-01"}}
    with otel_trace.use_span(otel_trace.NonRecordingSpan(None)):  # type: ignore[arg-type]
        assert list(EchoAgent().predict_stream(request))
    span = spans.one("EchoAgent.predict_stream")
    assert format(span.context.trace_id, "032x") == REMOTE_TRACE
    assert tracing.error_counts() == {}


@pytest.fixture
def mlflow_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, object]]]:
    """The module-level list where `mlflow.models.set_retriever_schema` keeps its registrations, as MLflow holds it.

    The real registry is exercised in tests/interop/test_mlflow_agents.py; this one is only the module slot
    (`mlflow.models.dependencies_schemas.retrievers`) so the lookup rules can be checked without the heavy package.
    """
    module = types.ModuleType("mlflow.models.dependencies_schemas")
    registry: list[dict[str, object]] = []
    module.retrievers = registry  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "mlflow.models.dependencies_schemas", module)
    _clear_registry()
    yield registry
    _clear_registry()


def test_mlflow_registered_schema_is_used_and_ours_win_a_clash_with_a_warning(spans: CapturedSpans, mlflow_registry: list[dict[str, object]]) -> None:
    mlflow_registry.append({"name": "kb", "primary_key": "pk", "text_column": "body", "doc_uri": "link", "other_columns": []})

    @tracing.trace(span_type="RETRIEVER")
    def kb(query: str) -> list[dict[str, str]]:
        return [{"pk": "d1", "body": "text", "link": "https://kb/1", "other": "x"}]

    kb("q")
    assert output(spans.one("kb")) == [{"page_content": "text", "metadata": {"chunk_id": "d1", "doc_uri": "https://kb/1"}, "id": "d1"}]
    assert tracing.get_retriever_schema("kb").primary_key == "pk"  # type: ignore[union-attr]
    spans.clear()

    tracing.set_retriever_schema(name="kb", primary_key="other", text_column="body")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kb("q")
        kb("q")
    assert [str(w.message) for w in caught if "mlflow.models.set_retriever_schema" in str(w.message)][:1], "one warning on the clash"
    assert len([w for w in caught if "mlflow.models.set_retriever_schema" in str(w.message)]) == 1
    assert json.loads(spans.all()[0].attributes["output.value"])[0]["id"] == "x"  # type: ignore[index]


def test_mlflow_is_never_imported_by_tracing() -> None:
    assert "mlflow" not in sys.modules or "mlflow.pyfunc" in sys.modules
    import tracing._mlflow as interop

    if "mlflow" not in sys.modules:
        assert interop.mlflow_responses_agent() is None
        assert interop.mlflow_retriever_schemas() == []
        assert "mlflow" not in sys.modules


class TextNode:
    """llama_index.core.schema.TextNode's shape: id, text, metadata."""

    def __init__(self, id_: str, text: str, metadata: dict[str, object]) -> None:
        self.id_, self.text, self.metadata = id_, text, metadata


class NodeWithScore:
    """llama_index.core.schema.NodeWithScore's shape: a node and its score beside it."""

    def __init__(self, node: TextNode, score: float | None) -> None:
        self.node, self.score = node, score


def test_a_llamaindex_node_keeps_its_score_in_the_mlflow_document_metadata(spans: CapturedSpans) -> None:
    """MLflow's Document.from_llama_index_node puts the score into the metadata; so do we, in MLflow's form only."""

    @tracing.trace(span_type="RETRIEVER")
    def nodes(query: str) -> list[NodeWithScore]:
        return [NodeWithScore(TextNode("n1", "Paris.", {"file_path": "/kb/france.md"}), 0.7),
                NodeWithScore(TextNode("n2", "Rome.", {}), None)]

    nodes("q")
    span = spans.one("nodes")
    assert output(span) == [
        {"page_content": "Paris.", "metadata": {"chunk_id": "n1", "file_path": "/kb/france.md", "score": 0.7}, "id": "n1"},
        {"page_content": "Rome.", "metadata": {"chunk_id": "n2"}, "id": "n2"},
    ]
    assert span.attributes["retrieval.documents.0.document.score"] == 0.7  # type: ignore[index]
    assert json.loads(span.attributes["retrieval.documents.0.document.metadata"]) == {"file_path": "/kb/france.md"}  # type: ignore[index,arg-type]
