"""Failures inside the document mapping never reach the traced code (SPEC 3.2)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

import tracing
from tests.retriever.helpers import documents_of


class BrokenBody:
    """A row whose text column raises when read."""

    def __init__(self, chunk_id: str) -> None:
        self.chunk_id = chunk_id

    @property
    def body(self) -> str:
        raise RuntimeError("body store offline")


class HostileMapping(Mapping[str, Any]):
    """A mapping whose every read raises."""

    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("hostile mapping")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("hostile mapping")

    def __len__(self) -> int:
        return 1

    def __repr__(self) -> str:
        return "HostileMapping()"


@pytest.mark.provokes_failures("retriever document mapping")
def test_a_row_that_raises_becomes_an_empty_document_and_the_others_stay(spans) -> None:
    tracing.set_retriever_schema(name="kb", primary_key="chunk_id", text_column="body")
    rows = [{"chunk_id": "c1", "body": "fine"}, BrokenBody("c2"), {"chunk_id": "c3", "body": "also fine"}]

    @tracing.trace(name="kb", span_type="RETRIEVER")
    def search() -> list[Any]:
        return rows

    assert search() is rows
    documents = documents_of(spans.one("kb"))
    assert documents[0] == {"id": "c1", "content": "fine"}
    assert documents[1] == {"content": ""}
    assert documents[2] == {"id": "c3", "content": "also fine"}
    assert tracing.error_counts()["retriever document mapping"] == 1


@pytest.mark.provokes_failures("mapping retriever documents", "serialization")
def test_an_output_that_cannot_be_read_falls_back_to_generic_output(spans) -> None:
    hostile = HostileMapping()

    @tracing.trace(span_type="RETRIEVER")
    def search() -> Mapping[str, Any]:
        return hostile

    assert search() is hostile
    span = spans.one("search")
    assert span.attributes["openinference.span.kind"] == "RETRIEVER"
    assert documents_of(span) == []
    assert tracing.error_counts()["mapping retriever documents"] == 1
    assert span.attributes["output.value"]


@pytest.mark.provokes_failures("retriever schema lookup")
def test_an_unknown_schema_name_is_reported_and_shapes_are_recognised(spans) -> None:
    @tracing.trace(span_type="RETRIEVER", retriever_schema="never-registered")
    def search() -> list[dict[str, Any]]:
        return [{"id": "1", "text": "hello"}]

    assert search() == [{"id": "1", "text": "hello"}]
    span = spans.one("search")
    assert span.attributes["agent_tracing.retriever.schema"] == "auto"
    assert documents_of(span) == [{"id": "1", "content": "hello"}]
    assert tracing.error_counts()["retriever schema lookup"] == 1


def test_an_iterator_output_is_not_consumed_by_tracing_and_its_rows_become_documents(spans) -> None:
    @tracing.trace(span_type="RETRIEVER")
    def search() -> Any:
        return iter([{"id": "1", "text": "hello"}, {"id": "2", "text": "world"}])

    rows = search()
    assert next(rows) == {"id": "1", "text": "hello"}
    assert list(rows) == [{"id": "2", "text": "world"}]
    assert documents_of(spans.one("search")) == [{"id": "1", "content": "hello"}, {"id": "2", "content": "world"}]


def test_an_exception_in_the_retriever_is_recorded_and_re_raised_unchanged(spans) -> None:
    tracing.set_retriever_schema(name="kb", primary_key="chunk_id", text_column="body")
    error = LookupError("index offline")

    @tracing.trace(name="kb", span_type="RETRIEVER")
    def search() -> list[Any]:
        raise error

    with pytest.raises(LookupError) as caught:
        search()
    assert caught.value is error
    span = spans.one("kb")
    assert span.status.status_code.name == "ERROR"
    assert json.dumps(dict(span.attributes)).count("retrieval.documents") == 0


@pytest.mark.provokes_failures("mapping retriever documents")
def test_plain_rows_the_one_pass_mapping_cannot_write_fall_back_and_the_call_goes_on(spans) -> None:
    # an int column past int -> str's digit limit: the one-pass mapping (compiled or not) raises as int.__repr__ does
    tracing.set_retriever_schema(name="kb", primary_key="chunk_id", text_column="text", other_columns=["page"])
    rows = [{"chunk_id": "c1", "text": "fine", "page": 10**5000, "score": 0.5}]

    @tracing.trace(name="kb", span_type="RETRIEVER")
    def search() -> list[Any]:
        return rows

    assert search() is rows
    span = spans.one("kb")
    assert tracing.error_counts()["mapping retriever documents"] == 1
    assert '"chunk_id": "c1"' in str(span.attributes["output.value"])
