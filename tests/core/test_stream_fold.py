"""The batch fold of Responses events (issue 15): a batch of plain text deltas of one item is joined at once, and any
other batch takes the general path; either way the aggregate is the one folding the events one at a time gives."""

from __future__ import annotations

from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from tracing._stream import TEXT_DELTA, StreamAggregator, _ResponsesAggregate


class Event(dict):  # type: ignore[type-arg]
    """A dict subclass: never taken by the batch fold, folded through its own get."""


class _Text(str):
    """A str subclass: folded as the str it holds, whatever it overrides."""

    def __add__(self, other: object) -> str:
        raise AssertionError("the fold never calls a delta's own methods")


_IDS = st.sampled_from(["msg_1", "msg_2", 1, None])
_TYPES = st.sampled_from([TEXT_DELTA, TEXT_DELTA, "response.function_call_arguments.delta",
                          "response.output_item.added", "response.output_item.done", "response.completed", "error",
                          "response.created", "not.a.response"])
_DELTAS = st.one_of(st.text(max_size=5), st.text(max_size=5), st.integers(), st.none(), st.binary(max_size=3))
_EXTRA_KEYS = st.sampled_from(["custom_outputs", "sequence_number", "output_index"])
_EXTRA_VALUES = st.one_of(st.integers(), st.dictionaries(st.sampled_from(["k", "j"]), st.integers()))
_EXTRA = st.dictionaries(_EXTRA_KEYS, _EXTRA_VALUES, max_size=2)


@st.composite
def _event(draw: Any) -> Any:
    kind = draw(_TYPES)
    event: dict[str, Any] = {"type": kind, "item_id": draw(_IDS), "delta": draw(_DELTAS)}
    if kind in ("response.output_item.added", "response.output_item.done"):
        event = {"type": kind, "item": {"id": draw(_IDS), "type": draw(st.sampled_from(["message", "function_call"]))}}
    elif kind == "response.completed":
        event = {"type": kind, "response": {"id": "resp_1", "model": "m", "usage": {"total_tokens": draw(st.integers())}}}
    elif kind == "error":
        event = {"type": kind, "code": "E", "message": draw(st.text(max_size=4))}
    if draw(st.booleans()):
        for key in draw(st.lists(st.sampled_from(sorted(event)), max_size=1)):
            del event[key]
        event.update(draw(_EXTRA))
    return Event(event) if draw(st.integers(0, 9)) == 0 else event


@st.composite
def _plain_run(draw: Any) -> list[Any]:
    """A batch of plain text deltas of one item, one of them perhaps spoilt."""
    item_id = draw(_IDS)
    batch: list[Any] = [{"type": TEXT_DELTA, "item_id": item_id, "delta": delta}
                        for delta in draw(st.lists(st.text(max_size=6), min_size=1, max_size=20))]
    if draw(st.booleans()):
        at = draw(st.integers(0, len(batch) - 1))
        batch[at] = draw(st.one_of(_event(), _near_plain(batch[at])))
    return batch


@st.composite
def _near_plain(draw: Any, event: dict[str, Any]) -> Any:
    """A plain text delta changed in one way: a key more or less, another item, a delta not a str, a dict subclass."""
    event = dict(event)
    change = draw(st.sampled_from(["extra", "missing", "item", "delta", "subclass", "type"]))
    if change == "extra":
        event.update(draw(st.dictionaries(_EXTRA_KEYS, _EXTRA_VALUES, min_size=1, max_size=2)))
    elif change == "missing":
        del event[draw(st.sampled_from(sorted(event)))]
    elif change == "item":
        event["item_id"] = draw(_IDS.filter(lambda item_id: item_id != event["item_id"]))
    elif change == "delta":
        event["delta"] = draw(st.one_of(st.integers(), st.none(), st.binary(max_size=3),
                                        st.text(max_size=3).map(_Text)))
    elif change == "type":
        event["type"] = draw(_TYPES)
    return Event(event) if change == "subclass" else event


_BATCH = st.one_of(_plain_run(), st.lists(_event(), max_size=20))


def _one_by_one(first: Any, batches: list[list[Any]]) -> Any:
    aggregator = StreamAggregator()
    for chunk in [first, *(event for batch in batches for event in batch)]:
        aggregator.add(chunk)
    return aggregator.result()


def _in_batches(first: Any, batches: list[list[Any]]) -> Any:
    aggregator = StreamAggregator()
    aggregator.add(first)
    for batch in batches:
        aggregator.add_many(list(batch))
    return aggregator.result()


@settings(max_examples=500, deadline=None)
@given(st.sampled_from([{"type": "response.created"}, {"type": TEXT_DELTA, "item_id": "msg_1", "delta": "a"},
                        {"type": "response.output_item.added", "item": {"id": "msg_2", "type": "function_call"}}]),
       st.lists(_BATCH, max_size=4))
def test_events_folded_in_batches_give_the_aggregate_of_folding_them_one_by_one(first: Any,
                                                                                 batches: list[list[Any]]) -> None:
    assert repr(_in_batches(first, batches)) == repr(_one_by_one(first, batches))


@settings(max_examples=300, deadline=None)
@given(_BATCH.filter(bool))
@example([{"type": TEXT_DELTA, "item_id": "msg_1", "delta": "a"}] * 3)
@example([{"type": TEXT_DELTA, "item_id": "msg_1", "delta": "a"}, {"type": TEXT_DELTA, "item_id": "msg_1", "delta": "b",
                                                                   "custom_outputs": {"k": 1}}])
@example([{"type": TEXT_DELTA, "item_id": "msg_1", "delta": "a"}, {"type": TEXT_DELTA, "item_id": 1, "delta": "b"}])
@example([{"type": TEXT_DELTA, "item_id": "msg_1", "delta": "a"}, {"type": TEXT_DELTA, "item_id": "msg_1", "delta": 5}])
@example([{"type": TEXT_DELTA, "item_id": "msg_1", "delta": _Text("a")}])
@example([Event({"type": TEXT_DELTA, "item_id": "msg_1", "delta": "a"})])
@example([{"type": TEXT_DELTA, "item_id": "msg_1", "delta": "a"}, {"type": TEXT_DELTA, "item_id": "msg_1"}])
def test_the_batch_fold_takes_exactly_plain_text_deltas_of_one_item(batch: list[Any]) -> None:
    plain = all(type(event) is dict and set(event) == {"type", "item_id", "delta"}
                and event["type"] == TEXT_DELTA and event["item_id"] == batch[0].get("item_id")
                and isinstance(event["delta"], str) for event in batch)
    fold = _ResponsesAggregate()
    assert fold._add_text_run(batch) is plain
    if not plain:
        assert fold.result() == {"output": []}


def test_a_str_subclass_delta_is_folded_as_its_text_one_by_one_and_in_a_batch() -> None:
    events = [{"type": TEXT_DELTA, "item_id": "msg_1", "delta": _Text(text)} for text in ("a", "b", "c")]
    expected = {"output": [{"id": "msg_1", "content": [{"text": "abc", "type": "output_text", "annotations": []}],
                            "role": "assistant", "type": "message"}]}
    assert _one_by_one(events[0], [events[1:]]) == expected
    assert _in_batches(events[0], [events[1:]]) == expected
    assert type(_in_batches(events[0], [events[1:]])["output"][0]["content"][0]["text"]) is str
