"""RERANKER spans: input and output documents, query and top_k."""

from __future__ import annotations

import json
from typing import Any

import tracing
from tests.retriever.helpers import documents_of

CANDIDATES = [
    {"chunk_id": "c1", "body": "Paris is the capital of France.", "url": "https://kb/france"},
    {"chunk_id": "c2", "body": "Berlin is the capital of Germany.", "url": "https://kb/germany"},
    {"chunk_id": "c3", "body": "Madrid is the capital of Spain.", "url": "https://kb/spain"},
]


def test_reranker_records_input_and_output_documents(spans) -> None:
    tracing.set_retriever_schema(name="rerank", primary_key="chunk_id", text_column="body", doc_uri="url")

    @tracing.trace(span_type="RERANKER")
    def rerank(query: str, documents: list[dict[str, Any]], top_n: int = 2) -> list[dict[str, Any]]:
        scored = [{**document, "score": 1.0 if "France" in document["body"] else 0.1} for document in documents]
        return sorted(scored, key=lambda document: -document["score"])[:top_n]

    result = rerank("capital of France", CANDIDATES)
    assert [document["chunk_id"] for document in result] == ["c1", "c2"]
    span = spans.one("rerank")
    attributes = span.attributes
    assert attributes["openinference.span.kind"] == "RERANKER"
    assert attributes["reranker.query"] == "capital of France"
    assert attributes["reranker.top_k"] == 2
    assert attributes["agent_tracing.retriever.schema"] == "rerank"
    assert [document["id"] for document in documents_of(span, "reranker.input_documents")] == ["c1", "c2", "c3"]
    assert documents_of(span, "reranker.output_documents") == [
        {"id": "c1", "content": "Paris is the capital of France.", "score": 1.0, "metadata": {"doc_uri": "https://kb/france"}},
        {"id": "c2", "content": "Berlin is the capital of Germany.", "score": 0.1, "metadata": {"doc_uri": "https://kb/germany"}},
    ]
    assert [document["id"] for document in json.loads(attributes["output.value"])] == ["c1", "c2"]
    assert json.loads(attributes["input.value"])["query"] == "capital of France"


def test_reranker_without_schema_recognises_shapes_and_a_lone_string_query(spans) -> None:
    @tracing.trace(span_type="RERANKER")
    def order(text_to_match: str, candidates: list[str]) -> list[dict[str, Any]]:
        return [{"text": candidates[1], "relevance_score": 0.9}]

    order("alpha", ["one", "two"])
    span = spans.one("order")
    assert span.attributes["reranker.query"] == "alpha"
    assert documents_of(span, "reranker.input_documents") == [{"content": "one"}, {"content": "two"}]
    assert documents_of(span, "reranker.output_documents") == [{"content": "two", "score": 0.9}]


def test_reranker_with_capture_content_false_drops_query_and_text(spans) -> None:
    spans.configure(capture_content=False)
    tracing.set_retriever_schema(name="rerank", primary_key="chunk_id", text_column="body", doc_uri="url")

    @tracing.trace(span_type="RERANKER")
    def rerank(query: str, documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return documents[:1]

    rerank("private question", CANDIDATES)
    span = spans.one("rerank")
    assert "reranker.query" not in span.attributes
    assert documents_of(span, "reranker.output_documents") == [{"id": "c1", "metadata": {"doc_uri": "https://kb/france"}}]
    assert "private question" not in json.dumps(dict(span.attributes))
    assert "capital" not in json.dumps(dict(span.attributes))
