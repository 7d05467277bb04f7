"""Stream aggregation: every kind of stream with the exact aggregate it becomes."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

import tracing
from tracing._responses import (
    ResponsesAgentStreamEvent,
    create_function_call_item,
    create_function_call_output_item,
    create_reasoning_item,
    create_text_delta,
    create_text_output_item,
)
from tracing._stream import StreamAggregator, aggregate_stream
from tracing.testing import CapturedSpans


def test_strings_are_joined() -> None:
    assert aggregate_stream(["Hel", "lo", ", ", "world"]) == "Hello, world"


def test_empty_stream_is_an_empty_list() -> None:
    assert aggregate_stream([]) == []


def test_other_chunks_are_listed() -> None:
    assert aggregate_stream([1, {"a": 2}, None]) == [1, {"a": 2}, None]


def test_strings_followed_by_other_chunks_are_listed_with_the_text_so_far() -> None:
    assert aggregate_stream(["a", "b", 3, "c"]) == ["ab", 3, "c"]


def test_responses_deltas_are_joined_per_item_and_replaced_by_their_done_item() -> None:
    events = [
        create_text_delta("Hel", "msg_1"),
        create_text_delta("Bon", "msg_2"),
        create_text_delta("lo", "msg_1"),
        {"type": "response.output_item.done", "item": create_text_output_item("Hello!", "msg_1")},
        create_text_delta("jour", "msg_2"),
    ]
    assert aggregate_stream(events) == {
        "output": [
            create_text_output_item("Hello!", "msg_1"),
            create_text_output_item("Bonjour", "msg_2"),
        ]
    }


def test_responses_done_items_in_order_with_function_calls_reasoning_and_custom_outputs() -> None:
    events = [
        ResponsesAgentStreamEvent(type="response.output_item.done", item=create_reasoning_item("r1", "look it up")),
        ResponsesAgentStreamEvent(
            type="response.output_item.done",
            item=create_function_call_item("fc1", "call_1", "get_weather", '{"city": "Paris"}'),
        ),
        ResponsesAgentStreamEvent(
            type="response.output_item.done",
            item=create_function_call_output_item("call_1", "sunny"),
            custom_outputs={"sources": ["a"]},
        ),
        ResponsesAgentStreamEvent(**create_text_delta("Sunny", "m1")),
        ResponsesAgentStreamEvent(
            type="response.output_item.done",
            item=create_text_output_item("Sunny in Paris", "m1"),
            custom_outputs={"sources": ["a", "b"], "client": "web"},
        ),
    ]
    assert aggregate_stream(events) == {
        "output": [
            create_reasoning_item("r1", "look it up"),
            create_function_call_item("fc1", "call_1", "get_weather", '{"city": "Paris"}'),
            create_function_call_output_item("call_1", "sunny"),
            create_text_output_item("Sunny in Paris", "m1"),
        ],
        "custom_outputs": {"sources": ["a", "b"], "client": "web"},
    }


def test_responses_done_items_sharing_an_id_are_all_kept() -> None:
    events = [
        create_text_delta("Let me check", "chatcmpl-1"),
        {"type": "response.output_item.done", "item": create_text_output_item("Let me check", "chatcmpl-1")},
        {"type": "response.output_item.done", "item": create_function_call_item("chatcmpl-1", "c1", "f", "{}")},
    ]
    assert aggregate_stream(events)["output"] == [
        create_text_output_item("Let me check", "chatcmpl-1"),
        create_function_call_item("chatcmpl-1", "c1", "f", "{}"),
    ]


def test_responses_function_call_argument_deltas_fill_the_added_item() -> None:
    skeleton = {"type": "function_call", "id": "fc1", "call_id": "c1", "name": "search", "arguments": ""}
    events = [
        {"type": "response.created", "response": {"id": "resp_1"}},
        {"type": "response.output_item.added", "output_index": 0, "item": skeleton},
        {"type": "response.function_call_arguments.delta", "item_id": "fc1", "delta": '{"q": '},
        {"type": "response.function_call_arguments.delta", "item_id": "fc1", "delta": '"otel"}'},
    ]
    assert aggregate_stream(events) == {"output": [{**skeleton, "arguments": '{"q": "otel"}'}]}


def test_responses_error_events_are_recorded_with_the_partial_output() -> None:
    events = [
        create_text_delta("Part", "m1"),
        {"type": "error", "code": "server_error", "message": "boom", "error": {"code": "server_error", "message": "boom"}},
        {"type": "error", "code": "rate_limit_exceeded", "message": "later"},
    ]
    assert aggregate_stream(events) == {
        "output": [create_text_output_item("Part", "m1")],
        "error": {"code": "server_error", "message": "boom"},
    }


def test_responses_stream_keeps_foreign_chunks_apart() -> None:
    events = [create_text_delta("Hi", "m1"), "stray"]
    assert aggregate_stream(events) == {"output": [create_text_output_item("Hi", "m1")], "other": ["stray"]}


def _chunk(delta: dict[str, Any], finish_reason: str | None = None, index: int = 0) -> dict[str, Any]:
    return {
        "id": "chatcmpl-9",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "fake-llm",
        "choices": [{"index": index, "delta": delta, "finish_reason": finish_reason}],
    }


def test_chat_completion_content_is_joined_and_finish_reason_kept() -> None:
    chunks = [
        _chunk({"role": "assistant", "content": ""}),
        _chunk({"content": "Hello"}),
        _chunk({"content": " there"}),
        _chunk({}, finish_reason="stop"),
        {"id": "chatcmpl-9", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}},
    ]
    assert aggregate_stream(chunks) == {
        "object": "chat.completion",
        "id": "chatcmpl-9",
        "created": 1700000000,
        "model": "fake-llm",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "Hello there"}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }


def test_chat_completion_every_tool_call_is_assembled_by_index() -> None:
    chunks = [
        _chunk({"role": "assistant", "tool_calls": [
            {"index": 0, "id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": ""}},
        ]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]}),
        _chunk({"tool_calls": [
            {"index": 1, "id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": '{"tz"'}},
        ]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}),
        _chunk({"tool_calls": [{"index": 1, "function": {"arguments": ': "CET"}'}}]}),
        _chunk({}, finish_reason="tool_calls"),
    ]
    assert aggregate_stream(chunks)["choices"] == [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
                    {"id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": '{"tz": "CET"}'}},
                ],
            },
            "finish_reason": "tool_calls",
        }
    ]


def test_chat_completion_objects_are_read_by_attribute() -> None:
    def chunk(content: str | None, finish_reason: str | None = None) -> SimpleNamespace:
        delta = SimpleNamespace(role=None, content=content, tool_calls=None)
        return SimpleNamespace(id="c1", model="m", created=1, choices=[SimpleNamespace(index=0, delta=delta, finish_reason=finish_reason)])

    assert aggregate_stream([chunk("a"), chunk("b"), chunk(None, "length")]) == {
        "object": "chat.completion",
        "id": "c1",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ab"}, "finish_reason": "length"}],
    }


def test_chat_completion_choices_are_kept_apart() -> None:
    chunks = [_chunk({"content": "x"}, index=1), _chunk({"content": "y"}, index=0), _chunk({"content": "z"}, index=1)]
    assert [(c["index"], c["message"]["content"]) for c in aggregate_stream(chunks)["choices"]] == [(0, "y"), (1, "xz")]


def test_incremental_result_is_the_aggregate_so_far() -> None:
    aggregator = StreamAggregator()
    aggregator.add(create_text_delta("par", "m1"))
    aggregator.add(create_text_delta("tial", "m1"))
    assert aggregator.result() == {"output": [create_text_output_item("partial", "m1")]}


class _UndumpableItem:
    """An output item object whose dump fails, as a broken third-party model would."""

    type = "message"
    id = "m1"

    def model_dump(self, **_: Any) -> Any:
        raise ValueError("cannot dump")


@pytest.mark.provokes_failures("stream aggregation")
def test_a_chunk_that_fails_to_fold_is_kept_apart_and_counted() -> None:
    from tracing._errors import error_counts

    before = error_counts().get("stream aggregation", 0)
    broken = {"type": "response.output_item.done", "item": _UndumpableItem()}
    result = aggregate_stream([create_text_delta("ok", "m2"), broken])
    assert result == {"output": [create_text_output_item("ok", "m2")], "other": [broken]}
    assert error_counts()["stream aggregation"] == before + 1


def test_batches_of_any_size_give_the_same_aggregate_as_one_by_one() -> None:
    events: list[Any] = [
        create_text_delta("a", "m1"),
        ResponsesAgentStreamEvent(**create_text_delta("b", "m1")),
        create_text_delta("x", "m2"),
        create_text_delta("c", "m1"),
        {"type": "response.output_item.done", "item": create_text_output_item("abc!", "m1")},
        create_text_delta("d", "m1"),
        {**create_text_delta("y", "m2"), "custom_outputs": {"k": 1}},
        "stray",
        create_text_delta("z", "m2"),
    ]
    one_by_one = StreamAggregator()
    for event in events:
        one_by_one.add(event)
    expected = {
        "output": [
            create_text_output_item("abc!", "m1"),
            create_text_output_item("xyz", "m2"),
            create_text_output_item("d", "m1"),
        ],
        "custom_outputs": {"k": 1},
        "other": ["stray"],
    }
    assert one_by_one.result() == expected
    for size in range(1, len(events) + 1):
        batched = StreamAggregator()
        for start in range(0, len(events), size):
            batched.add_many(events[start:start + size])
        assert batched.result() == expected, size


def test_a_traced_stream_records_the_aggregate_of_what_it_yielded(captured_spans: CapturedSpans) -> None:
    events = [
        create_text_delta("Bon", "m1"),
        {"type": "response.output_item.done", "item": create_function_call_item("fc1", "call_1", "get_weather", '{"city": "Paris"}')},
        create_text_delta("jour", "m1"),
    ]

    @tracing.trace(span_type="AGENT")
    def answer() -> Iterator[Any]:
        yield from events

    assert list(answer()) == events
    span = captured_spans.one(name="answer", type="AGENT")
    assert span.outputs == aggregate_stream(events) == {
        "output": [create_text_output_item("Bonjour", "m1"), create_function_call_item("fc1", "call_1", "get_weather", '{"city": "Paris"}')],
    }
    assert span.stream is not None and (span.stream.chunks, span.stream.cancelled) == (3, False)
