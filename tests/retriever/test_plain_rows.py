"""The one-pass mapping of plain dict rows (`_retriever._plain_dict_documents`, issue 15) gives exactly the documents
the general mapping gives (`_prepare(_to_documents(...))`), compiled (tracing/_speedups.c `plain_documents`, which
also writes the MLflow and ranking JSON) or not, and declines every output it cannot vouch for."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from tracing import _retriever
from tracing._retriever import RetrieverSchema
from tracing._serialize import Serializer
from tracing._settings import Redaction

_COLUMNS = ["chunk_id", "id", "text", "doc_uri", "title", "page", "api_key", "node", "score", "tags"]
_ASCII = st.text(st.characters(max_codepoint=127), max_size=60)
_TEXTS = _ASCII | _ASCII | st.text(max_size=60) | st.text(min_size=41, max_size=90) | st.sampled_from(
    ["", "x" * 300, 'quote " and \\ and \n', "caf\u00e9 \U0001f600", "\ud800"])
_VALUES = st.one_of(_TEXTS, _TEXTS, st.integers(-(2**70), 2**70), st.booleans(), st.none(),
                    st.floats(allow_nan=True, allow_infinity=True), st.lists(st.integers(), max_size=2))
_SCORES = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(-1, 1), st.integers(0, 3), st.none(),
                    st.booleans(), st.text(max_size=3))


@st.composite
def _rows(draw: Any) -> list[Any]:
    """Rows that mostly hold every column with plain values, sometimes not (missing columns, odd types)."""
    plain = draw(st.integers(0, 3)) > 0
    texts = _ASCII if draw(st.booleans()) else _TEXTS  # ASCII only: what the compiled pass writes
    rows: list[Any] = []
    for _ in range(draw(st.integers(0 if not plain else 1, 5))):
        row = {"chunk_id": draw(texts), "id": draw(texts), "text": draw(texts), "doc_uri": draw(texts), "title": draw(texts),
               "page": draw(st.integers(0, 9)), "score": draw(st.floats(0, 1))}
        if not plain:
            for column in draw(st.lists(st.sampled_from(_COLUMNS), max_size=3)):
                if draw(st.booleans()):
                    row.pop(column, None)
                else:
                    row[column] = draw(_SCORES if column == "score" else _VALUES)
        rows.append(OrderedDict(row) if not plain and draw(st.integers(0, 9)) == 0 else row)
    return rows


_SCHEMAS = st.builds(
    RetrieverSchema,
    primary_key=st.sampled_from(["chunk_id", "id"]),
    text_column=st.just("text"),
    doc_uri=st.sampled_from(["doc_uri", None]),
    other_columns=st.lists(st.one_of(*[st.sampled_from(["title", "page", "chunk_id", "doc_uri", "text"])] * 6,
                                     st.sampled_from(["api_key", "tags"])), max_size=4).map(tuple),
)
_SERIALIZERS = st.sampled_from([
    Serializer(), Serializer(max_length=40), Serializer(redaction=Redaction(enabled=False)),
    Serializer(redaction=Redaction(values=(r"caf\S+",))), Serializer(redaction=Redaction(keys=("title",))),
    Serializer(redaction=Redaction(callback=lambda key, value: value)),
])


def _one_pass(rows: Any, schema: RetrieverSchema, capture_content: bool, serializer: Serializer,
              compiled: bool) -> Any:
    saved = _retriever._compiled_documents
    if not compiled:
        _retriever._compiled_documents = None
    try:
        return _retriever._plain_dict_documents(rows, schema, capture_content, serializer)
    finally:
        _retriever._compiled_documents = saved


@settings(max_examples=600, deadline=None)
@given(rows=_rows(), schema=_SCHEMAS, capture_content=st.booleans(), serializer=_SERIALIZERS)
def test_plain_rows_map_as_the_general_path_maps_them(rows: list[Any], schema: RetrieverSchema,
                                                      capture_content: bool, serializer: Serializer) -> None:
    mapped = _retriever._to_documents(rows, schema, serializer)
    assert mapped is not None
    general = _retriever._prepare(mapped[0], capture_content, serializer)
    python = _one_pass(rows, schema, capture_content, serializer, compiled=False)
    compiled = _one_pass(rows, schema, capture_content, serializer, compiled=True)
    event("one pass" if python is not None else "general path")
    if python is None:
        assert compiled is None
        return
    assert python == (general, None, None)
    assert mapped[1] == []  # every column was there
    assert compiled is not None and compiled[0] == general
    limit = serializer.max_length
    event("compiled JSON" if compiled[1] is not None else "JSON in Python")
    assert compiled[1] in (None, _retriever._mlflow_json(general, limit))
    assert compiled[2] in (None, _retriever._ranking_json(general, limit))
    if compiled[1] is None:  # declined only what Python shortens, or a row it does not write
        assert compiled[2] is None or len(_retriever._mlflow_json(general, 1 << 30)) > limit


def test_the_common_output_takes_the_one_pass_path() -> None:
    # a vector store's rows as the benchmarks and the examples have them: the path must not silently go unused
    schema = RetrieverSchema(name="kb", primary_key="chunk_id", text_column="text", doc_uri="doc_uri",
                             other_columns=("title",))
    rows = [{"chunk_id": f"c{i}", "text": "some text", "doc_uri": f"https://kb/{i}", "title": "T", "score": 0.5}
            for i in range(3)]
    fast = _retriever._plain_dict_documents(rows, schema, True, Serializer())
    assert fast is not None and [document.id for document in fast[0]] == ["c0", "c1", "c2"]


def test_the_common_output_is_written_by_the_compiled_pass() -> None:
    pytest.importorskip("tracing._speedups")
    schema = RetrieverSchema(name="kb", primary_key="chunk_id", text_column="text", doc_uri="doc_uri",
                             other_columns=("title", "page", "draft", "owner"))
    rows = [{"chunk_id": f"c{i}", "text": 'a "quoted"\ntext', "doc_uri": f"https://kb/{i}", "title": "T", "page": i,
             "draft": i == 1, "owner": None, "score": 0.5 if i else None} for i in range(3)]
    documents, mlflow_json, ranking_json = _retriever._plain_dict_documents(rows, schema, True, Serializer())
    assert mlflow_json == _retriever._mlflow_json(documents, Serializer().max_length)
    assert ranking_json == _retriever._ranking_json(documents, Serializer().max_length)
    assert documents[1].metadata_json == '{"doc_uri": "https://kb/1", "title": "T", "page": 1, "draft": true, "owner": null}'
    assert type(documents[0]) is _retriever._Recorded and documents[0].score is None


def test_a_row_the_compiled_pass_declines_is_mapped_in_python() -> None:
    pytest.importorskip("tracing._speedups")
    schema = RetrieverSchema(name="kb", primary_key="chunk_id", text_column="text", other_columns=("page",))
    wide = [{"chunk_id": "c", "text": "caf\u00e9", "page": 1, "score": 0.5}]
    huge = [{"chunk_id": "c", "text": "t", "page": 10**5000, "score": 0.5}]
    documents, mlflow_json, ranking_json = _retriever._plain_dict_documents(wide, schema, True, Serializer())
    assert (mlflow_json, ranking_json) == (None, None) and documents[0].content == "caf\u00e9"
    with pytest.raises(ValueError):  # what int.__repr__ says of it, as without the compiled pass
        _retriever._plain_dict_documents(huge, schema, True, Serializer())


def test_outputs_it_cannot_vouch_for_go_the_general_way() -> None:
    schema = RetrieverSchema(name="kb", primary_key="chunk_id", text_column="text", doc_uri="doc_uri",
                             other_columns=("api_key",))
    row = {"chunk_id": "c", "text": "t", "doc_uri": "u", "api_key": "sk-1", "score": 0.5}
    assert _retriever._plain_dict_documents([row], schema, True, Serializer()) is None  # a secret-looking column
    plain = RetrieverSchema(name="kb", primary_key="chunk_id", text_column="text")
    assert _retriever._plain_dict_documents((row,), plain, True, Serializer()) is None  # not a list
    assert _retriever._plain_dict_documents([{**row, "score": 1}], plain, True, Serializer()) is None  # an int score
    assert _retriever._plain_dict_documents([{"chunk_id": "c", "text": "t"}], plain, True, Serializer()) is None


def test_a_key_whose_comparison_empties_the_rows_does_not_break_the_compiled_pass() -> None:
    schema = RetrieverSchema(name="kb", primary_key="chunk_id", text_column="text", other_columns=("title",))
    rows: list[Any] = []

    class Emptying:
        """A key that collides with "score" and empties the row and the rows when compared."""

        def __hash__(self) -> int:
            return hash("score")

        def __eq__(self, other: object) -> bool:
            for row in rows:
                row.clear()
            rows.clear()
            return False

    def fill() -> None:
        rows.extend({Emptying(): 1, "chunk_id": f"c{i}", "text": "t", "title": "T", "score": 0.5} for i in range(3))

    compiled = pytest.importorskip("tracing._speedups").plain_documents
    fill()
    assert compiled(rows, _retriever._Recorded, "chunk_id", "text", None, ("chunk_id", "text", "score", "title"),
                    ("title",), 100, True) is None
    assert rows == []
    fill()  # then Python maps what is left: nothing
    assert _retriever._plain_dict_documents(rows, schema, True, Serializer()) == ([], None, None)


def test_the_compiled_pass_writes_up_to_the_length_limit_exactly() -> None:
    pytest.importorskip("tracing._speedups")
    schema = RetrieverSchema(name="kb", primary_key="chunk_id", text_column="text", doc_uri="doc_uri",
                             other_columns=("title",))
    rows = [{"chunk_id": f"c{i}", "text": "some text", "doc_uri": f"u{i}", "title": "a title", "score": 0.25}
            for i in range(2)]
    documents, _, _ = _one_pass(rows, schema, True, Serializer(), compiled=False)
    mlflow, ranking = _retriever._mlflow_json(documents, 1 << 20), _retriever._ranking_json(documents, 1 << 20)
    metadata = len(documents[0].metadata_json or "")
    for limit in sorted({n + step for n in (len(mlflow), len(ranking), metadata) for step in (-1, 0, 1)}):
        serializer = Serializer(max_length=limit)
        compiled = _one_pass(rows, schema, True, serializer, compiled=True)
        assert compiled is not None
        assert compiled[0] == _one_pass(rows, schema, True, serializer, compiled=False)[0], limit
        written = (mlflow if len(mlflow) <= limit else None, ranking if len(ranking) <= limit else None)
        assert compiled[1:] == ((None, None) if limit < metadata else written), limit
        made = _retriever._compiled_documents(rows, _retriever._Recorded, "chunk_id", "text", "doc_uri",
                                              ("chunk_id", "text", "score", "title", "doc_uri"), ("title",), limit, True)
        assert (made is None) == (limit < metadata), limit  # declined only for a metadata to cut
