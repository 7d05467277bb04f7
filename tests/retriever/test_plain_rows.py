"""The one-pass mapping of plain dict rows (`_retriever._plain_dict_documents`, issue 15) gives exactly the documents
the general mapping gives (`_prepare(_to_documents(...))`), and declines every output it cannot vouch for."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from hypothesis import event, given, settings
from hypothesis import strategies as st

from tracing import _retriever
from tracing._retriever import RetrieverSchema
from tracing._serialize import Serializer
from tracing._settings import Redaction

_COLUMNS = ["chunk_id", "id", "text", "doc_uri", "title", "page", "api_key", "node", "score", "tags"]
_TEXTS = st.text(max_size=60) | st.text(min_size=41, max_size=90) | st.sampled_from(["", "x" * 300, 'quote " and \\ and \n', "caf\u00e9 \U0001f600", "\ud800"])
_VALUES = st.one_of(_TEXTS, _TEXTS, st.integers(-(2**70), 2**70), st.booleans(), st.none(),
                    st.floats(allow_nan=True, allow_infinity=True), st.lists(st.integers(), max_size=2))
_SCORES = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(-1, 1), st.integers(0, 3), st.none(),
                    st.booleans(), st.text(max_size=3))


@st.composite
def _rows(draw: Any) -> list[Any]:
    """Rows that mostly hold every column with plain values, sometimes not (missing columns, odd types)."""
    plain = draw(st.integers(0, 3)) > 0
    rows: list[Any] = []
    for _ in range(draw(st.integers(0 if not plain else 1, 5))):
        row = {"chunk_id": draw(_TEXTS), "id": draw(_TEXTS), "text": draw(_TEXTS), "doc_uri": draw(_TEXTS), "title": draw(_TEXTS),
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


@settings(max_examples=400, deadline=None)
@given(rows=_rows(), schema=_SCHEMAS, capture_content=st.booleans(), serializer=_SERIALIZERS)
def test_plain_rows_map_as_the_general_path_maps_them(rows: list[Any], schema: RetrieverSchema,
                                                      capture_content: bool, serializer: Serializer) -> None:
    fast = _retriever._plain_dict_documents(rows, schema, capture_content, serializer)
    mapped = _retriever._to_documents(rows, schema, serializer)
    assert mapped is not None
    general = _retriever._prepare(mapped[0], capture_content, serializer)
    event("one pass" if fast is not None else "general path")
    if fast is not None:
        assert fast == general
        assert mapped[1] == []  # every column was there


def test_the_common_output_takes_the_one_pass_path() -> None:
    # a vector store's rows as the benchmarks and the examples have them: the path must not silently go unused
    schema = RetrieverSchema(name="kb", primary_key="chunk_id", text_column="text", doc_uri="doc_uri",
                             other_columns=("title",))
    rows = [{"chunk_id": f"c{i}", "text": "some text", "doc_uri": f"https://kb/{i}", "title": "T", "score": 0.5}
            for i in range(3)]
    fast = _retriever._plain_dict_documents(rows, schema, True, Serializer())
    assert fast is not None and [document.id for document in fast] == ["c0", "c1", "c2"]


def test_outputs_it_cannot_vouch_for_go_the_general_way() -> None:
    schema = RetrieverSchema(name="kb", primary_key="chunk_id", text_column="text", doc_uri="doc_uri",
                             other_columns=("api_key",))
    row = {"chunk_id": "c", "text": "t", "doc_uri": "u", "api_key": "sk-1", "score": 0.5}
    assert _retriever._plain_dict_documents([row], schema, True, Serializer()) is None  # a secret-looking column
    plain = RetrieverSchema(name="kb", primary_key="chunk_id", text_column="text")
    assert _retriever._plain_dict_documents((row,), plain, True, Serializer()) is None  # not a list
    assert _retriever._plain_dict_documents([{**row, "score": 1}], plain, True, Serializer()) is None  # an int score
    assert _retriever._plain_dict_documents([{"chunk_id": "c", "text": "t"}], plain, True, Serializer()) is None
