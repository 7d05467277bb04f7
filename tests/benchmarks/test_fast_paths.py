"""The fast paths added for the overhead budget write exactly what the general serializer writes."""

from __future__ import annotations

from typing import Any

import pytest

from tracing import _retriever, _serialize
from tracing._settings import Redaction

CASES: list[dict[Any, Any]] = [
    {"doc_uri": "https://kb.example/1", "title": 'Ä "quoted" \n line'},
    {"a": 1, "b": True, "c": None, "d": False},
    {"password": "p", "x": "y"},
    {"api_key": 3},
    {"x": 1.5},
    {"x": [1, {"token": "t"}]},
    {1: "a"},
    {"t": "x" * 70_000},
    {"note": "key sk-123456"},
]
REDACTIONS = [
    Redaction(),
    Redaction(enabled=False),
    Redaction(values=(r"sk-\d+",)),
    Redaction(keys=("title",)),
    Redaction(callback=lambda key, value: "C" if key == "title" else value),
]


@pytest.mark.parametrize("redaction", REDACTIONS)
def test_retriever_metadata_json_is_the_serializers(redaction: Redaction) -> None:
    serializer = _serialize.Serializer(65_536, redaction)
    assert [_retriever._metadata_json(case, serializer) for case in [*CASES, {}]] == [serializer.dumps(case) for case in CASES] + [None]
