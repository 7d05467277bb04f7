"""The fast paths added for the overhead budget write exactly what the general serializer writes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracing import _llm, _retriever, _serialize
from tracing._recorder import Recorder
from tracing._settings import Redaction, Settings

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
_PARTS = st.lists(st.fixed_dictionaries({"type": st.sampled_from(["text", "reasoning"]), "content": _TEXTS}), max_size=3)
_MESSAGES = st.lists(
    st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", 'x "odd" \u00e9']), "parts": _PARTS},
                          optional={"finish_reason": st.sampled_from(["stop", "tool_call", "length"])}),
    max_size=4)
RECORDER_REDACTIONS = [
    *REDACTIONS,
    Redaction(keys=("content",)),
    Redaction(values=(r"t.*e",)),
]


@pytest.mark.parametrize("redaction", RECORDER_REDACTIONS)
@settings(max_examples=60, deadline=None)
@given(messages=_MESSAGES, limit=st.sampled_from([20, 80, 65_536]))
def test_text_messages_are_written_as_the_serializer_writes_them(redaction: Redaction, messages: list[Any],
                                                                  limit: int) -> None:
    recorder = Recorder(Settings(redact=redaction, max_attribute_length=limit))
    assert recorder._messages_json(messages) == recorder.json(messages)


@pytest.mark.parametrize("message", [
    {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": {"token": "t", "n": 1}}]},
    {"role": "assistant", "parts": [{"type": "tool_call", "id": "c1", "name": "f", "arguments": {"password": "p"}}]},
    {"role": "user", "parts": [{"type": "text", "content": "x" * 70_000}]},
])
def test_other_messages_fall_back_to_the_serializer(message: dict[str, Any]) -> None:
    recorder = Recorder(Settings())
    assert _llm.messages_json([message], recorder.serializer.max_length) is None
    assert "[REDACTED]" in recorder._messages_json([message]) or "truncated" in recorder._messages_json([message])


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
