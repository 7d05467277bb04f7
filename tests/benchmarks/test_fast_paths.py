"""The fast paths added for the overhead budget write exactly what the general serializer writes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tracing
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


_TEXTS = st.text(alphabet=st.characters(codec=None), max_size=40)


@pytest.mark.parametrize("redaction", REDACTIONS)
@settings(max_examples=150, deadline=None)
@given(value=st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _TEXTS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["a", "token", "Password", "n", "api-key", "x.secret", "title", "clientSecret"]), children,
        max_size=4),
    max_leaves=12))
def test_plain_values_keep_their_secret_keys_redacted(redaction: Redaction, value: Any) -> None:
    """The plain-JSON fast path (secret keys found while it walks the value) writes what the general writer writes."""
    serializer = _serialize.Serializer(65_536, redaction)
    fast = serializer.dumps(value)
    writer = _serialize._Writer(65_537, serializer)
    writer.value(value)
    slow = "".join(writer.parts)
    if serializer._value_patterns is not None and redaction.enabled:
        slow = serializer._value_patterns.sub(_serialize.REDACTED, slow)
    if redaction.callback is None:
        assert json.loads(fast) == json.loads(_serialize.clean(slow))
    if redaction.enabled and isinstance(value, dict) and any(serializer.is_secret_key(key) for key in value):
        assert "[REDACTED]" in fast


class _Walk(_serialize._Writer):
    """The writer walking every value (no plain JSON written at once)."""

    def plain(self, value: Any) -> bool:
        return False


@pytest.mark.parametrize("redaction", REDACTIONS[:3])
@pytest.mark.parametrize("limit", [40, 300, 65_536])
def test_plain_values_inside_other_values_are_written_as_the_walk_writes_them(redaction: Redaction, limit: int) -> None:
    """A value converted to plain JSON (a pydantic model's dump, a dataclass) inside another is encoded at once when
    it fits and has no secret key: the text is what the walk writes."""
    import dataclasses

    @dataclasses.dataclass
    class Row:
        name: str
        token: str
        nested: dict[str, Any]

    request = tracing.ResponsesAgentRequest.model_validate(
        {"input": [{"role": "user", "content": 'é "q"'}], "context": {"conversation_id": "c", "user_id": "u"}})
    for value in ({"request": request, "n": 1}, [Row("a", "t0k", {"k": [1, 2.5, None]}), request],
                  {"x": Row("b", "t", {"api_key": "s"})}):
        serializer = _serialize.Serializer(limit, redaction)
        walked = _Walk(limit + 1, serializer)
        fast = _serialize._Writer(limit + 1, serializer)
        for writer in (walked, fast):
            try:
                writer.value(value)
            except _serialize._Full:
                pass
        assert "".join(fast.parts)[:limit + 1] == "".join(walked.parts)[:limit + 1]
        assert "t0k" not in "".join(fast.parts) or not redaction.enabled


_DELTA = st.fixed_dictionaries({"type": st.just("response.output_text.delta"), "item_id": st.sampled_from(["a", "b"]),
                                "delta": st.text(max_size=3) | st.none()},
                               optional={"custom_outputs": st.just({"k": 1})})
_DONE = st.builds(lambda item_id: {"type": "response.output_item.done", "item": {
    "type": "message", "id": item_id, "role": "assistant", "content": [{"type": "output_text", "text": "done"}]}},
    st.sampled_from(["a", "b", "c"]))


@settings(max_examples=200, deadline=None)
@given(events=st.lists(_DELTA | _DONE, max_size=60), batch=st.sampled_from([1, 3, 16]))
def test_batches_of_text_deltas_fold_as_event_by_event(events: list[Any], batch: int) -> None:
    """A batch made only of plain text deltas of one item is folded at once: the aggregate is the same."""
    from tracing._stream import StreamAggregator

    one_by_one, batched = StreamAggregator(), StreamAggregator()
    for event in events:
        one_by_one.add(event)
    for start in range(0, len(events), batch):
        batched.add_many(events[start:start + batch])
    assert batched.result() == one_by_one.result()
