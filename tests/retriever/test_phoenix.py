"""A real Arize Phoenix receives RETRIEVER spans over OTLP and serves them back as documents."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

import tracing

pytestmark = [pytest.mark.servers, pytest.mark.slow]  # the session's Phoenix takes ~15 s to start

ROWS = [
    {"chunk_id": "kb-1", "body": "Phoenix stores OpenInference spans.", "url": "https://kb/phoenix", "title": "Phoenix", "score": 0.93},
    {"chunk_id": "kb-2", "body": "Jaeger shows the same spans as tags.", "url": "https://kb/jaeger", "title": "Jaeger", "score": 0.41},
]


@pytest.fixture
def to_phoenix(phoenix_server: Any) -> Iterator[Any]:
    """tracing configured to send to the session's Phoenix server; shut down afterwards."""
    yield phoenix_server
    tracing.shutdown()


def _documents(span: dict[str, Any]) -> list[dict[str, Any]]:
    """Phoenix's flattened `retrieval.documents.{i}.document.*` attributes, regrouped per document."""
    found: dict[int, dict[str, Any]] = {}
    for key, value in span["attributes"].items():
        if key.startswith("retrieval.documents."):
            index, _, field = key[len("retrieval.documents.") :].partition(".document.")
            found.setdefault(int(index), {})[field] = value
    return [found[index] for index in sorted(found)]


@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_phoenix_returns_the_retriever_documents(to_phoenix: Any, transport: str) -> None:
    endpoint = to_phoenix.http_endpoint if transport == "http" else "otlp+grpc://" + to_phoenix.grpc_endpoint.removeprefix("http://")
    tracing.configure(service_name="retriever-phoenix", exporters=[endpoint])
    tracing.set_retriever_schema(name="kb", primary_key="chunk_id", text_column="body", doc_uri="url", other_columns=["title"])
    trace_ids: list[str] = []

    @tracing.trace(name="kb", span_type="RETRIEVER")
    def search(query: str) -> list[dict[str, Any]]:
        trace_ids.append(tracing.get_current_span().trace_id)
        return ROWS

    assert search(f"what stores spans ({transport})?") is ROWS
    assert tracing.force_flush()
    spans = to_phoenix.wait_for_spans(lambda found: len(found) == 1, trace_id=trace_ids)
    span = spans[0]
    assert span["name"] == "kb"
    assert span["span_kind"] == "RETRIEVER"
    documents = _documents(span)
    assert [document["id"] for document in documents] == ["kb-1", "kb-2"]
    assert [document["content"] for document in documents] == [row["body"] for row in ROWS]
    assert [document["score"] for document in documents] == [0.93, 0.41]
    assert [document["metadata.doc_uri"] for document in documents] == ["https://kb/phoenix", "https://kb/jaeger"]
    assert documents[0]["metadata.title"] == "Phoenix"
    assert json.loads(span["attributes"]["input.value"]) == {"query": f"what stores spans ({transport})?"}
    assert [document["id"] for document in json.loads(span["attributes"]["output.value"])] == ["kb-1", "kb-2"]
