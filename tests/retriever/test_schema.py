"""set_retriever_schema / get_retriever_schema: validation, idempotence, replacement, threads."""

from __future__ import annotations

import threading
import warnings

import pytest

import tracing
from tracing import RetrieverSchema


def test_registers_and_returns_the_schema() -> None:
    tracing.set_retriever_schema(name="kb", primary_key="chunk_id", text_column="body", doc_uri="url", other_columns=["title", "year"])
    schema = tracing.get_retriever_schema("kb")
    assert schema == RetrieverSchema(name="kb", primary_key="chunk_id", text_column="body", doc_uri="url", other_columns=("title", "year"))
    assert tracing.get_retriever_schema("other") is None


def test_default_name_is_retriever() -> None:
    tracing.set_retriever_schema(primary_key="id", text_column="text")
    schema = tracing.get_retriever_schema("retriever")
    assert schema is not None and schema.doc_uri is None and schema.other_columns == ()


def test_same_fields_again_is_a_silent_no_op() -> None:
    tracing.set_retriever_schema(name="kb", primary_key="id", text_column="text")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tracing.set_retriever_schema(name="kb", primary_key="id", text_column="text")
    assert tracing.get_retriever_schema("kb").primary_key == "id"


def test_other_fields_replace_and_warn_once_per_name() -> None:
    tracing.set_retriever_schema(name="kb", primary_key="id", text_column="text")
    with pytest.warns(UserWarning, match="retriever schema 'kb' replaced"):
        tracing.set_retriever_schema(name="kb", primary_key="id", text_column="body")
    assert tracing.get_retriever_schema("kb").text_column == "body"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tracing.set_retriever_schema(name="kb", primary_key="id", text_column="content")
    assert tracing.get_retriever_schema("kb").text_column == "content"


@pytest.mark.parametrize(
    ("arguments", "error", "names"),
    [
        ({"primary_key": 1, "text_column": "text"}, TypeError, "primary_key"),
        ({"primary_key": "id", "text_column": None}, TypeError, "text_column"),
        ({"primary_key": "", "text_column": "text"}, ValueError, "primary_key"),
        ({"primary_key": "id", "text_column": "  "}, ValueError, "text_column"),
        ({"primary_key": "id", "text_column": "text", "doc_uri": ""}, ValueError, "doc_uri"),
        ({"primary_key": "id", "text_column": "text", "doc_uri": 3}, TypeError, "doc_uri"),
        ({"primary_key": "id", "text_column": "text", "other_columns": "title"}, TypeError, "other_columns"),
        ({"primary_key": "id", "text_column": "text", "other_columns": {"title"}}, TypeError, "other_columns"),
        ({"primary_key": "id", "text_column": "text", "other_columns": ["title", 2]}, TypeError, r"other_columns\[1\]"),
        ({"primary_key": "id", "text_column": "text", "other_columns": [""]}, ValueError, r"other_columns\[0\]"),
        ({"primary_key": "id", "text_column": "id"}, ValueError, "text_column"),
        ({"primary_key": "id", "text_column": "text", "doc_uri": "text"}, ValueError, "doc_uri"),
        ({"primary_key": "id", "text_column": "text", "other_columns": ["a", "a"]}, ValueError, r"other_columns\[1\]"),
        ({"primary_key": "id", "text_column": "text", "other_columns": ["id"]}, ValueError, r"other_columns\[0\]"),
        ({"name": "", "primary_key": "id", "text_column": "text"}, ValueError, "name"),
        ({"name": None, "primary_key": "id", "text_column": "text"}, TypeError, "name"),
    ],
)
def test_bad_arguments_raise_naming_the_argument(arguments: dict, error: type[Exception], names: str) -> None:
    with pytest.raises(error, match=names):
        tracing.set_retriever_schema(**arguments)
    assert tracing.get_retriever_schema(arguments.get("name") or "retriever") is None


def test_arguments_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        tracing.set_retriever_schema("id", "text")  # type: ignore[misc]


def test_registration_from_many_threads_keeps_one_consistent_schema_per_name() -> None:
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def register(worker: int) -> None:
        try:
            barrier.wait()
            for round_ in range(200):
                tracing.set_retriever_schema(name=f"r{round_ % 5}", primary_key="id", text_column=f"text{worker % 2}")
                schema = tracing.get_retriever_schema(f"r{round_ % 5}")
                assert schema is not None and schema.text_column in ("text0", "text1")
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            errors.append(exc)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        threads = [threading.Thread(target=register, args=(worker,)) for worker in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    assert {tracing.get_retriever_schema(f"r{i}").primary_key for i in range(5)} == {"id"}


def test_schema_model_is_immutable() -> None:
    schema = tracing.set_retriever_schema(name="kb", primary_key="id", text_column="text")
    with pytest.raises(Exception, match="frozen"):
        schema.text_column = "other"  # type: ignore[misc]
