"""RETRIEVER and RERANKER spans recorded through @tracing.trace and tracing.start_span."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import BaseModel

import tracing
from tests.retriever.helpers import documents_of

ROWS = [
    {"chunk_id": "c1", "body": "Paris is the capital of France.", "url": "https://kb/france", "title": "France", "score": 0.9},
    {"chunk_id": "c2", "body": "Berlin is the capital of Germany.", "url": "https://kb/germany", "title": "Germany", "score": 0.4},
]


class LangChainDocument(BaseModel):
    """The shape of langchain_core.documents.Document."""

    page_content: str
    metadata: dict[str, Any] = {}
    id: str | None = None
    type: str = "Document"


class TextNode(BaseModel):
    """The shape of llama_index.core.schema.TextNode."""

    id_: str
    text: str
    metadata: dict[str, Any] = {}

    @property
    def node_id(self) -> str:
        return self.id_


class NodeWithScore(BaseModel):
    """The shape of llama_index.core.schema.NodeWithScore."""

    node: TextNode
    score: float | None = None

    @property
    def node_id(self) -> str:
        return self.node.node_id


@dataclass
class Hit:
    chunk_id: str
    body: str
    url: str
    score: float
    extra: dict[str, Any] = field(default_factory=dict)


class PlainHit:
    def __init__(self, chunk_id: str, body: str, url: str) -> None:
        self.chunk_id, self.body, self.url = chunk_id, body, url


class SlotHit:
    __slots__ = ("chunk_id", "body", "url")

    def __init__(self, chunk_id: str, body: str, url: str) -> None:
        self.chunk_id, self.body, self.url = chunk_id, body, url


def register_kb() -> None:
    tracing.set_retriever_schema(name="kb", primary_key="chunk_id", text_column="body", doc_uri="url", other_columns=["title"])


def test_span_named_like_a_schema_gets_mapped_documents(spans) -> None:
    register_kb()

    @tracing.trace(name="kb", span_type="RETRIEVER")
    def search(query: str) -> list[dict[str, Any]]:
        return ROWS

    assert search("capital of France") is ROWS
    span = spans.one("kb")
    attributes = span.attributes
    assert attributes["openinference.span.kind"] == "RETRIEVER"
    assert json.loads(attributes["input.value"]) == {"query": "capital of France"}
    assert attributes["gen_ai.operation.name"] == "retrieval"
    assert attributes["gen_ai.data_source.id"] == "kb"
    assert attributes["agent_tracing.retriever.schema"] == "kb"
    assert "agent_tracing.retriever.unmapped" not in attributes
    assert documents_of(span) == [
        {"id": "c1", "content": "Paris is the capital of France.", "score": 0.9, "metadata": {"doc_uri": "https://kb/france", "title": "France"}},
        {"id": "c2", "content": "Berlin is the capital of Germany.", "score": 0.4, "metadata": {"doc_uri": "https://kb/germany", "title": "Germany"}},
    ]
    assert attributes["output.mime_type"] == "application/json"
    assert json.loads(attributes["output.value"]) == [
        {"page_content": "Paris is the capital of France.", "metadata": {"doc_uri": "https://kb/france", "chunk_id": "c1", "title": "France"}, "id": "c1"},
        {"page_content": "Berlin is the capital of Germany.", "metadata": {"doc_uri": "https://kb/germany", "chunk_id": "c2", "title": "Germany"}, "id": "c2"},
    ]
    assert json.loads(attributes["gen_ai.retrieval.documents"]) == [{"id": "c1", "score": 0.9}, {"id": "c2", "score": 0.4}]


def test_retriever_schema_argument_picks_the_schema_whatever_the_span_name(spans) -> None:
    register_kb()

    @tracing.trace(span_type=tracing.SpanType.RETRIEVER, retriever_schema="kb")
    def lookup(query: str) -> list[dict[str, Any]]:
        return ROWS[:1]

    lookup("q")
    span = spans.one("lookup")
    assert span.attributes["agent_tracing.retriever.schema"] == "kb"
    assert documents_of(span)[0]["metadata"] == {"doc_uri": "https://kb/france", "title": "France"}


def test_start_span_with_schema_maps_set_outputs(spans) -> None:
    register_kb()
    with tracing.start_span("manual", span_type="RETRIEVER", inputs={"query": "q"}, retriever_schema="kb") as span:
        span.set_outputs(ROWS)
    assert [document["id"] for document in documents_of(spans.one("manual"))] == ["c1", "c2"]


def test_missing_columns_are_listed_as_unmapped(spans) -> None:
    register_kb()

    @tracing.trace(name="kb", span_type="RETRIEVER")
    def search() -> list[dict[str, Any]]:
        return [{"chunk_id": "c9", "body": "no url, no title"}]

    search()
    span = spans.one("kb")
    assert list(span.attributes["agent_tracing.retriever.unmapped"]) == ["url", "title"]
    assert documents_of(span) == [{"id": "c9", "content": "no url, no title"}]


@pytest.mark.parametrize(
    "rows",
    [
        [Hit("c1", "Paris is the capital of France.", "https://kb/france", 0.9)],
        [PlainHit("c1", "Paris is the capital of France.", "https://kb/france")],
        [SlotHit("c1", "Paris is the capital of France.", "https://kb/france")],
        [LangChainDocument(page_content="Paris is the capital of France.", metadata={"chunk_id": "c1", "url": "https://kb/france"})],
        [{"chunk_id": "c1", "body": "Paris is the capital of France.", "url": "https://kb/france"}],
    ],
    ids=["dataclass", "object", "slots", "langchain", "dict"],
)
def test_rows_of_every_kind_map_through_the_schema(spans, rows: list[Any]) -> None:
    tracing.set_retriever_schema(name="kb", primary_key="chunk_id", text_column="body", doc_uri="url")

    @tracing.trace(name="kb", span_type="RETRIEVER")
    def search() -> list[Any]:
        return rows

    assert search() is rows
    document = documents_of(spans.one("kb"))[0]
    if isinstance(rows[0], LangChainDocument):
        assert spans.one("kb").attributes["agent_tracing.retriever.unmapped"] == ("body",)
    else:
        assert document["content"] == "Paris is the capital of France."
    assert document["id"] == "c1"
    assert document["metadata"]["doc_uri"] == "https://kb/france"


def test_langchain_documents_with_scores_are_recognised_without_schema(spans) -> None:
    @tracing.trace(span_type="RETRIEVER")
    def similarity_search_with_score(query: str) -> list[tuple[LangChainDocument, float]]:
        return [
            (LangChainDocument(id="d1", page_content="Paris.", metadata={"source": "https://kb/france", "lang": "en"}), 0.8),
            (LangChainDocument(page_content="Berlin.", metadata={"source": "https://kb/germany"}), 0.2),
        ]

    similarity_search_with_score("capitals")
    span = spans.one("similarity_search_with_score")
    assert span.attributes["agent_tracing.retriever.schema"] == "auto"
    assert span.attributes["gen_ai.data_source.id"] == "similarity_search_with_score"
    assert documents_of(span) == [
        {"id": "d1", "content": "Paris.", "score": 0.8, "metadata": {"doc_uri": "https://kb/france", "lang": "en"}},
        {"content": "Berlin.", "score": 0.2, "metadata": {"doc_uri": "https://kb/germany"}},
    ]


def test_llamaindex_nodes_with_scores_map_with_and_without_schema(spans) -> None:
    nodes = [NodeWithScore(node=TextNode(id_="n1", text="Paris.", metadata={"file_path": "/kb/france.md"}), score=0.7)]

    @tracing.trace(span_type="RETRIEVER")
    def retrieve(query: str) -> list[NodeWithScore]:
        return nodes

    retrieve("q")
    assert documents_of(spans.one("retrieve")) == [{"id": "n1", "content": "Paris.", "score": 0.7, "metadata": {"file_path": "/kb/france.md"}}]

    tracing.set_retriever_schema(name="nodes", primary_key="node_id", text_column="text", doc_uri="file_path")

    @tracing.trace(name="nodes", span_type="RETRIEVER")
    def retrieve_mapped(query: str) -> list[NodeWithScore]:
        return nodes

    retrieve_mapped("q")
    assert documents_of(spans.one("nodes")) == [{"id": "n1", "content": "Paris.", "score": 0.7, "metadata": {"doc_uri": "/kb/france.md"}}]


def test_plain_dicts_and_strings_are_recognised_without_schema(spans) -> None:
    @tracing.trace(span_type="RETRIEVER")
    def dicts() -> list[Any]:
        return [{"id": 7, "text": "seven", "url": "https://kb/7", "similarity": 0.5, "lang": "en"}, "just a passage"]

    dicts()
    assert documents_of(spans.one("dicts")) == [
        {"id": "7", "content": "seven", "score": 0.5, "metadata": {"doc_uri": "https://kb/7", "lang": "en"}},
        {"content": "just a passage"},
    ]


def test_databricks_vector_search_response_maps_by_column_names(spans) -> None:
    tracing.set_retriever_schema(name="vs", primary_key="chunk_id", text_column="chunk_text", doc_uri="path")
    response = {
        "manifest": {"column_count": 4, "columns": [{"name": "chunk_id"}, {"name": "chunk_text"}, {"name": "path"}, {"name": "score"}]},
        "result": {"row_count": 1, "data_array": [["c1", "Paris.", "dbfs:/kb/france.md", 0.61]]},
    }

    @tracing.trace(name="vs", span_type="RETRIEVER")
    def similarity_search() -> dict[str, Any]:
        return response

    assert similarity_search() is response
    assert documents_of(spans.one("vs")) == [{"id": "c1", "content": "Paris.", "score": 0.61, "metadata": {"doc_uri": "dbfs:/kb/france.md"}}]


def test_tracing_document_rows_are_recorded_as_is(spans) -> None:
    @tracing.trace(span_type="RETRIEVER")
    def search() -> list[tracing.Document]:
        return [tracing.Document(id="a", content="alpha", doc_uri="https://kb/a", score=1.5, metadata={"k": "v"})]

    search()
    assert documents_of(spans.one("search")) == [{"id": "a", "content": "alpha", "score": 1.5, "metadata": {"doc_uri": "https://kb/a", "k": "v"}}]


def test_output_that_holds_no_documents_is_recorded_as_plain_json(spans) -> None:
    @tracing.trace(span_type="RETRIEVER")
    def odd() -> int:
        return 42

    assert odd() == 42
    span = spans.one("odd")
    assert span.attributes["output.value"] == "42"
    assert documents_of(span) == []


def test_capture_content_false_keeps_ids_uris_scores_and_drops_text(spans) -> None:
    spans.configure(capture_content=False)
    register_kb()

    @tracing.trace(name="kb", span_type="RETRIEVER")
    def search(query: str) -> list[dict[str, Any]]:
        return ROWS

    search("secret question")
    span = spans.one("kb")
    assert documents_of(span) == [
        {"id": "c1", "score": 0.9, "metadata": {"doc_uri": "https://kb/france"}},
        {"id": "c2", "score": 0.4, "metadata": {"doc_uri": "https://kb/germany"}},
    ]
    text = json.dumps(dict(span.attributes))
    assert "capital" not in text and "secret question" not in text and "France\"" not in text
    assert json.loads(span.attributes["output.value"])[0] == {"page_content": "", "metadata": {"doc_uri": "https://kb/france", "chunk_id": "c1"}, "id": "c1"}


def test_secret_metadata_columns_are_redacted(spans) -> None:
    tracing.set_retriever_schema(name="kb", primary_key="id", text_column="text", other_columns=["api_key"])

    @tracing.trace(name="kb", span_type="RETRIEVER")
    def search() -> list[dict[str, Any]]:
        return [{"id": "1", "text": "t", "api_key": "sk-123"}]

    search()
    span = spans.one("kb")
    assert documents_of(span)[0]["metadata"] == {"api_key": "[REDACTED]"}
    assert "sk-123" not in json.dumps(dict(span.attributes))


def test_long_documents_keep_output_value_valid_json_within_the_limit(spans) -> None:
    spans.configure(max_attribute_length=1000)

    @tracing.trace(span_type="RETRIEVER")
    def search() -> list[dict[str, Any]]:
        return [{"id": f"d{i}", "content": "word " * 400} for i in range(10)]

    search()
    span = spans.one("search")
    output = span.attributes["output.value"]
    assert len(output) <= 1000
    documents = json.loads(output)
    assert [document["id"] for document in documents] == [f"d{i}" for i in range(10)]
    assert all("truncated" in document["page_content"] for document in documents)
    assert "[truncated" in documents_of(span)[0]["content"]


def test_many_documents_never_evict_inputs_or_outputs(spans) -> None:
    @tracing.trace(span_type="RETRIEVER")
    def search(query: str) -> list[dict[str, Any]]:
        return [{"id": f"d{i}", "content": f"text {i}", "score": i / 1000} for i in range(1000)]

    search("kept")
    span = spans.one("search")
    assert span.dropped_attributes == 0
    assert json.loads(span.attributes["input.value"]) == {"query": "kept"}
    output = json.loads(span.attributes["output.value"])
    assert 100 < len(output) < 1000
    assert [document["id"] for document in output] == [f"d{i}" for i in range(len(output))]
    assert span.attributes["agent_tracing.retriever.document_count"] == 1000
    documents = documents_of(span)
    assert len(documents) >= 20
    assert [document["id"] for document in documents] == [f"d{i}" for i in range(len(documents))]


FOREIGN_PROVIDER = """
import json
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
import tracing

exporter = InMemorySpanExporter()
provider = TracerProvider()  # the SDK default limit: 128 attributes
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)

@tracing.trace(span_type="RETRIEVER")
def search(query):
    return [{"id": f"d{i}", "content": f"text {i}", "score": 0.5} for i in range(500)]

with tracing.using_attributes(session_id="s1", user_id="u1", metadata={"team": "x"}):
    search("kept")
span = exporter.get_finished_spans()[0]
print(json.dumps({"dropped": span.dropped_attributes, "attributes": dict(span.attributes)}))
"""


def test_foreign_provider_with_the_sdk_default_limit_keeps_inputs_and_outputs(tmp_path) -> None:
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", FOREIGN_PROVIDER], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    recorded_span = json.loads(result.stdout.splitlines()[-1])
    attributes = recorded_span["attributes"]
    assert recorded_span["dropped"] == 0
    assert json.loads(attributes["input.value"]) == {"query": "kept"}
    assert attributes["session.id"] == "s1" and attributes["user.id"] == "u1"
    assert len(json.loads(attributes["output.value"])) == 500
    indexes = {key.split(".")[2] for key in attributes if key.startswith("retrieval.documents.")}
    assert 10 <= len(indexes) < 500


def test_our_provider_records_every_document_of_a_large_retrieval(spans) -> None:
    rows = [{"id": f"d{i}", "content": "x", "doc_uri": f"u{i}", "score": 1.0} for i in range(100)]
    tracing.trace(span_type="RETRIEVER", name="big")(lambda query: rows)("q")
    attributes = spans.all()[0].attributes
    assert sum(1 for key in attributes if key.endswith(".document.id")) == 100
    assert attributes["input.value"] == '{"query": "q"}'


@pytest.mark.parametrize("conventions", ["openinference", "genai"])
def test_each_convention_alone_gets_only_its_document_keys(spans, conventions: str) -> None:
    spans.configure(conventions=conventions)
    register_kb()

    @tracing.trace(name="kb", span_type="RETRIEVER")
    def search(query: str, top_k: int = 2) -> list[dict[str, Any]]:
        return ROWS

    @tracing.trace(span_type="RERANKER")
    def rerank(query: str, documents: list[dict[str, Any]], top_n: int = 1) -> list[dict[str, Any]]:
        return documents[:top_n]

    rerank("capital", search("capital"))
    retrieval, reranking = spans.one("kb").attributes, spans.one("rerank").attributes
    for attributes in (retrieval, reranking):  # MLflow's documents and our own keys whatever the conventions
        assert [document["id"] for document in json.loads(attributes["output.value"])][:1] == ["c1"]
        assert attributes["agent_tracing.retriever.document_count"] >= 1
    gen_ai = {key for key in retrieval if key.startswith("gen_ai.")}
    openinference = {key for key in [*retrieval, *reranking] if key.startswith(("retrieval.", "reranker."))}
    if conventions == "openinference":
        assert gen_ai == set()
        assert len(documents_of(spans.one("kb"))) == 2
        assert reranking["reranker.top_k"] == 1
    else:
        assert gen_ai == {"gen_ai.operation.name", "gen_ai.data_source.id", "gen_ai.retrieval.documents",
                          "gen_ai.retrieval.query.text", "gen_ai.retrieval.top_k"}
        assert openinference == set()
