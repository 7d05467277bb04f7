"""The serializer's fast paths (issue 15): a dict of bound arguments holding pydantic models (an agent's request) is
written by `Serializer._with_models` without the general writer; whatever the values, keys, redaction and length
limit, `dumps` must give exactly the text the general writer gives."""

from __future__ import annotations

import dataclasses
import datetime
import json
import sys
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict

import tracing
from tests.capture import CapturedSpans
from tracing import _serialize
from tracing._responses import (
    ChatContext,
    Message,
    OutputItem,
    ResponseError,
    ResponsesAgentRequest,
    ResponsesAgentResponse,
    ResponsesAgentStreamEvent,
)
from tracing._serialize import Serializer, _plain_room, _python_plain_room
from tracing._settings import Redaction

_KEYS = st.one_of(st.sampled_from(["request", "q", "top_k", "password", "api_key", "userToken", "role", "content",
                                   "input", "auth", "name", "x-y", "é\"\\\n"]), st.text(max_size=8))
_TEXT = st.one_of(st.text(max_size=30), st.text(max_size=30).map(lambda text: text * 40),
                  st.sampled_from(["sk-abc123", "Bearer xyz", "\ud800", "\x00\x1f\"\\", "é" * 300]))
_SCALARS = st.one_of(_TEXT, st.integers(), st.integers(min_value=2**13_000, max_value=2**13_001), st.floats(),
                     st.booleans(), st.none())


@dataclasses.dataclass
class _Point:
    x: int
    label: str


class _Note(BaseModel):
    model_config = ConfigDict(extra="allow")

    text: str
    tags: set[str] = set()
    when: datetime.datetime | None = None
    blob: bytes | None = None
    inner: dict[str, Any] | None = None


_ODD = st.one_of(st.frozensets(st.integers(), max_size=3), st.binary(max_size=6), st.datetimes(),
                 st.builds(_Point, st.integers(), _TEXT))
_PLAIN = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(_KEYS, inner, max_size=4)), max_leaves=12)
_NESTED = st.recursive(st.one_of(_SCALARS, _ODD), lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                                           st.dictionaries(_KEYS, inner, max_size=4)),
                       max_leaves=10)
_MESSAGES = st.lists(st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "system"]), "content": _TEXT}),
                     min_size=1, max_size=3)
_REQUESTS = st.builds(
    lambda messages, custom, context, temperature: ResponsesAgentRequest.model_validate(
        {"input": messages, "custom_inputs": custom, "context": context, "temperature": temperature}),
    _MESSAGES, st.one_of(st.none(), st.dictionaries(_KEYS, _PLAIN, max_size=3)),
    st.one_of(st.none(), st.fixed_dictionaries({"conversation_id": st.one_of(st.none(), _TEXT),
                                                "user_id": st.one_of(st.none(), _TEXT)})),
    st.one_of(st.none(), st.floats(0, 2)))
_NOTES = st.builds(_Note, text=_TEXT, tags=st.sets(_TEXT, max_size=3), when=st.one_of(st.none(), st.datetimes()),
                   blob=st.one_of(st.none(), st.binary(max_size=6)), inner=st.one_of(st.none(), st.dictionaries(_KEYS, _PLAIN, max_size=3)))
_VALUES = st.one_of(_REQUESTS, _REQUESTS, _NOTES, _SCALARS, _NESTED)
_REDACTIONS = st.sampled_from([
    Redaction(), Redaction(enabled=False), Redaction(keys=("q", "role")), Redaction(values=(r"sk-\w+", r"Bearer \w+")),
])


def _general(serializer: Serializer, value: Any) -> str:
    """What the general writer writes (it never takes the model fast path)."""
    return serializer._dumps(value, serializer.max_length)[0]


@settings(max_examples=400, deadline=None)
@given(arguments=st.dictionaries(_KEYS, _VALUES, min_size=1, max_size=4), limit=st.sampled_from([256, 300, 2000, 65536]),
       redaction=_REDACTIONS)
def test_bound_arguments_holding_models_are_written_as_the_general_writer_writes_them(
        arguments: dict[str, Any], limit: int, redaction: Redaction) -> None:
    serializer = Serializer(limit, redaction)
    assert serializer.dumps(arguments) == _general(serializer, arguments)


def test_an_agent_request_takes_the_fast_path_and_keeps_the_general_text() -> None:
    serializer = Serializer()
    request = ResponsesAgentRequest.model_validate(
        {"input": [{"role": "user", "content": "how do I return a bike?"}], "context": {"conversation_id": "c", "user_id": None}})
    arguments = {"request": request, "stream": True}
    fast = serializer._with_models(arguments, serializer.max_length)
    assert fast == ('{"request": {"input": [{"role": "user", "content": "how do I return a bike?", "type": "message"}], '
                    '"context": {"conversation_id": "c"}}, "stream": true}')
    assert serializer.dumps(arguments) == fast == _general(serializer, arguments)


def test_a_secret_key_a_long_dump_or_an_odd_value_leaves_it_to_the_general_writer() -> None:
    serializer = Serializer(256)
    request = ResponsesAgentRequest.model_validate({"input": [{"role": "user", "content": "hi"}],
                                                   "custom_inputs": {"api_key": "k"}})
    long = ResponsesAgentRequest.model_validate({"input": [{"role": "user", "content": "x" * 300}]})
    for arguments in ({"request": request}, {"password": request}, {"request": long}, {"request": request, "s": {1}}):
        assert serializer._with_models(arguments, serializer.max_length) is None
        assert serializer.dumps(arguments) == _general(serializer, arguments)
    assert '"api_key": "[REDACTED]"' in serializer.dumps({"request": request})


class _Label(str):
    pass


_ANY = st.recursive(st.one_of(_SCALARS, st.just(_Label("l")), st.just(float("nan")), st.frozensets(st.integers(), max_size=2)),
                    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_KEYS, inner, max_size=3)),
                    max_leaves=8)
_MODEL_CLASSES = [ChatContext, Message, OutputItem, ResponseError, ResponsesAgentRequest, ResponsesAgentResponse,
                  ResponsesAgentStreamEvent]


def _constructed(model: type[BaseModel], depth: int) -> st.SearchStrategy[BaseModel]:
    """Models built without validation: any value in any field or extra (what assignment can leave in them)."""
    nested = st.deferred(lambda: st.sampled_from(_MODEL_CLASSES).flatmap(lambda inner: _constructed(inner, depth + 1)))
    value = _ANY if depth >= 2 else st.one_of(_ANY, nested, st.lists(st.one_of(nested, _ANY), max_size=2))
    return st.builds(lambda fields: model.model_construct(**fields),
                     st.dictionaries(st.sampled_from([*model.model_fields, "extra", "more"]), value, max_size=5))


_VALIDATED = st.builds(
    lambda body: ResponsesAgentRequest.model_validate(body),
    st.fixed_dictionaries({"input": _MESSAGES}, optional={
        "temperature": st.one_of(st.none(), st.integers(0, 2), st.floats(0, 2)), "max_output_tokens": st.integers(1, 9),
        "stream": st.booleans(), "custom_inputs": st.dictionaries(_KEYS, _PLAIN, max_size=3),
        "context": st.fixed_dictionaries({"conversation_id": st.one_of(st.none(), _TEXT)}),
        "metadata": st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2), "extra": _PLAIN}))


@settings(max_examples=400, deadline=None)
@given(model=st.one_of(_VALIDATED, st.sampled_from(_MODEL_CLASSES).flatmap(lambda model: _constructed(model, 0))))
def test_the_agent_models_plain_dump_is_their_json_dump(model: BaseModel) -> None:
    plain = model._plain_json()  # type: ignore[attr-defined]
    if plain is not None:
        assert plain == model.model_dump(mode="json", warnings=False)
        assert json.dumps(plain) == json.dumps(model.model_dump(mode="json", warnings=False))


def test_a_validated_request_is_dumped_plainly_and_a_subclass_is_not() -> None:
    body = {"input": [{"role": "user", "content": "hi"}], "context": {"conversation_id": "c"}, "temperature": 1}

    class Mine(ResponsesAgentRequest):
        pass

    assert ResponsesAgentRequest.model_validate(body)._plain_json() == {
        "input": [{"role": "user", "content": "hi", "type": "message"}], "context": {"conversation_id": "c"},
        "temperature": 1.0}
    assert Mine.model_validate(body)._plain_json() is None


def _reference_room(value: Any, room: int, secret: Callable[[str], bool] | None = None,
                verdicts: Mapping[str, bool] | None = None) -> int:
    """`_plain_room` as it was before the counting of scalars in their container (issue 15)."""
    stack = [value]
    pop, push = stack.pop, stack.append
    found = False
    known = verdicts.get if verdicts is not None else None
    while stack:
        item = pop()
        kind = type(item)
        if kind is str:
            room -= len(item) + 2
        elif kind is dict:
            room -= 2
            for key, child in item.items():
                if type(key) is not str:
                    return -1
                if secret is not None and not found:
                    verdict = known(key) if known is not None else None
                    found = secret(key) if verdict is None else verdict
                if type(child) is str:
                    room -= len(key) + len(child) + 8
                else:
                    room -= len(key) + 6
                    push(child)
        elif kind is list or kind is tuple:
            room -= 2 + 2 * len(item)
            stack.extend(item)
        elif kind is int:
            if item.bit_length() > _serialize._MAX_INT_BITS:
                return -1
            room -= 4 + item.bit_length() // 3
        elif kind is float:
            if item != item or item in _serialize._INFINITIES:
                return -1
            room -= 24
        elif kind is bool or item is None:
            room -= 5
        else:
            return -1
        if room < 0:
            return -1
    return _serialize._SECRET if found else room


@settings(max_examples=500, deadline=None)
@given(value=st.one_of(_PLAIN, _NESTED, _VALUES), room=st.one_of(st.integers(-1, 400), st.just(10**9)),
       redaction=_REDACTIONS, learnt=st.booleans())
def test_the_plain_room_is_what_it_was(value: Any, room: int, redaction: Redaction, learnt: bool) -> None:
    serializer = Serializer(65536, redaction)
    if learnt:
        serializer.dumps(value)  # the verdicts of its keys known
    verdicts = serializer._verdicts if learnt else None
    for check in (None, serializer.is_secret_key):
        expected = _reference_room(value, room, check, verdicts)
        assert _python_plain_room(value, room, check, verdicts) == expected
        assert _plain_room(value, room, check, verdicts) == expected  # compiled where there is a compiler


class _Text(str):
    pass


class _Number(int):
    pass


@pytest.mark.parametrize("value", [
    2**63, -(2**63), 2**64 + 1, -(2**200), 2**12999, 2**13000, -(2**13000), [2**13000], {"n": 2**13000}, 0, -1,
    float("nan"), float("inf"), -float("inf"), [1.5, float("nan")], {"x": float("-inf")}, 1e308,
    _Text("a"), [_Text("a")], {"k": _Text("a")}, {_Text("k"): 1}, _Number(3), [_Number(3)], {"k": _Number(3)},
    True, [False, None], {"b": True, "n": None}, (1, "a", (2.5,)), {1: "a"}, {"a": {1, 2}}, b"bytes", [[[[]]]],
])
def test_the_compiled_plain_room_answers_as_the_python_one_at_the_edges(value: Any) -> None:
    compiled = pytest.importorskip("tracing._speedups").plain_room
    for room in (-1, 0, 5, 40, 5000, 10**9):
        assert compiled(value, room, None, None) == _python_plain_room(value, room), (value, room)


def test_a_room_beyond_a_long_long_answers_as_the_python_walk_answers() -> None:
    compiled = pytest.importorskip("tracing._speedups").plain_room
    for room in (2**63, 10**30, -(2**63) - 1, -(10**30)):
        for value in ({"a": 1}, "x", [1.5], object(), {"a": float("nan")}):
            expected = _python_plain_room(value, room)
            answer = compiled(value, room, None, None)
            assert answer == expected or (answer >= 0 and expected >= 0), (value, room)  # room left: clamped
    assert Serializer(10**20).dumps({"a": [1, "two"]}) == '{"a": [1, "two"]}'  # a huge length limit


def test_the_compiled_plain_room_walks_deep_values_and_raises_what_the_secret_check_raises() -> None:
    compiled = pytest.importorskip("tracing._speedups").plain_room
    deep = _nested(100_000)
    assert compiled(deep, 10**9, None, None) == _python_plain_room(deep, 10**9) == 10**9 - 4 * 100_000 - 2
    wide = {f"key{i}": [i, str(i), None] for i in range(5000)}
    assert compiled(wide, 10**9, None, None) == _python_plain_room(wide, 10**9)

    def check(key: str) -> bool:
        raise ValueError(f"checking {key}")

    with pytest.raises(ValueError, match="checking a"):
        compiled({"a": 1}, 100, check, None)
    with pytest.raises(TypeError, match="verdicts"):
        compiled({"a": 1}, 100, check, ["not", "a", "dict"])
    assert compiled({"a": 1, "token": "x"}, 100, lambda key: key == "token", {}) == -2
    assert compiled({"a": 1, "token": "x"}, 100, lambda key: key == "token", {"token": False}) != -2  # known first


def _nested(depth: int) -> list[Any]:
    outer: list[Any] = []
    current = outer
    for _ in range(depth):
        inner: list[Any] = []
        current.append(inner)
        current = inner
    return outer


def test_an_agent_request_nested_deeper_than_the_stack_is_recorded_by_the_general_writer(spans: CapturedSpans) -> None:
    # the fast paths recurse (the models' own dump, the C encoder): nesting past the interpreter's recursion limit
    # must fall back to the writer, which records what it can of the request without a failure counted (too deep for
    # pydantic's own dump, it is named unrepresentable), as before the fast paths
    deep = _nested(sys.getrecursionlimit() * 3)
    request = ResponsesAgentRequest.model_validate({"input": [{"role": "user", "content": "hi"}],
                                                    "custom_inputs": {"deep": deep}})
    assert request._plain_json() is None
    assert Serializer()._with_models({"request": request}, 10**6) is None

    class Agent(tracing.ResponsesAgent):
        def predict(self, request: ResponsesAgentRequest) -> dict[str, Any]:  # type: ignore[override]
            return {"output": [], "custom_outputs": {"deep": deep}}

    Agent().predict(request)
    span = spans.one("Agent.predict")
    assert str(span.attributes["input.value"]).startswith('{"request": ')
    assert "output.value" in span.attributes
    assert tracing.error_counts() == {}


_LATIN1 = st.text(alphabet=st.characters(max_codepoint=255), max_size=40)
_JSON_TEXT = st.one_of(_TEXT, _LATIN1, _LATIN1.map(lambda text: text * 30), st.sampled_from(["", "\x7f\x80", "ÿ" * 600]))
_JSON_SCALARS = st.one_of(_JSON_TEXT, st.integers(), st.integers(min_value=2**70), st.floats(), st.booleans(),
                          st.none())


@settings(max_examples=800, deadline=None)
@given(st.recursive(_JSON_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=6), st.lists(inner, max_size=3).map(tuple),
    st.dictionaries(st.one_of(_KEYS, _LATIN1), inner, max_size=5)), max_leaves=40))
def test_the_compiled_plain_json_writes_what_json_writes(value: Any) -> None:
    # texts of each width (Latin-1 ones written in one buffer, a wider one anywhere handing the whole to json), ASCII
    # and beyond, texts to escape, every number json writes (NaN and infinities as allow_nan writes them), tuples,
    # empty containers, and values longer than the first buffer
    plain_json = pytest.importorskip("tracing._speedups").plain_json
    text, expected = plain_json(value), json.dumps(value, ensure_ascii=False)
    assert text == expected
    assert text.isascii() == expected.isascii()  # a well-formed str (an ASCII one holds only ASCII)
    assert text.encode(errors="surrogatepass") == expected.encode(errors="surrogatepass")
    assert Serializer()._encode_plain is plain_json


def test_the_compiled_plain_json_refuses_what_is_not_plain_json_and_values_nested_past_the_limit() -> None:
    plain_json = pytest.importorskip("tracing._speedups").plain_json
    for value in ({1: "a"}, [b"bytes"], {"a": {"b": {1, 2}}}, _Text("a"), [_Number(3)], {"k": 1.5j}, object(),
                  {_Text("k"): 1}):
        with pytest.raises(TypeError, match="plain_json: a (key|value) of type"):
            plain_json(value)
    with pytest.raises(RecursionError):
        plain_json(_nested(sys.getrecursionlimit() * 3))
    big = {f"key{i}": ["é" * 50, i, i / 7, None, True] for i in range(2000)}  # grows well past the first buffer
    assert plain_json(big) == json.dumps(big, ensure_ascii=False)


def test_a_plain_value_nested_past_the_recursion_limit_is_recorded_by_the_writer_and_the_call_goes_on(
        spans: CapturedSpans) -> None:
    # `plain_room` walks it to the end (a stack, no recursion), `plain_json` then raises RecursionError: the
    # serializer's writer records it instead, cut, with no failure counted, and the traced call returns its value
    deep = _nested(sys.getrecursionlimit() * 3)

    @tracing.trace
    def depth(value: list[Any]) -> int:
        return 1 if value else 0

    assert depth(deep) == 1
    recorded = str(spans.one("depth").attributes["input.value"])
    assert recorded.startswith('{"value": [[[[') and recorded.endswith("]]]]}")
    assert Serializer().dumps(deep).startswith("[[[[")
