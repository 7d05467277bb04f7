"""Streams detected at call time (SPEC 3.3): a traced callable that returns a stream it produced is traced as one."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

import tracing
from tests.capture import CapturedSpans, attrs, output
from tracing import keys

pytestmark = pytest.mark.usefixtures("relay_loop")  # the compiled and the Python loop


def passthrough(func: Callable[..., Any]) -> Callable[..., Any]:
    """Another library's decorator: a plain function that returns whatever the wrapped one returns."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    return wrapper


@tracing.trace(span_type="RETRIEVER")
def lookup(query: str) -> list[dict[str, str]]:
    return [{"id": "d1", "content": f"about {query}"}]


class Agent:
    @tracing.trace
    @passthrough
    def answer(self, question: str) -> Iterator[str]:
        lookup(question)
        for word in ("one", "two", "three"):
            yield word + " "


def test_a_wrapped_generator_method_is_one_span_with_its_aggregate_and_children(spans: CapturedSpans) -> None:
    with tracing.start_span("request"):
        stream = Agent().answer("bikes")
        assert list(stream) == ["one ", "two ", "three "]
    span = spans.one("answer")
    assert output(span) == "one two three "
    assert attrs(span)[keys.STREAM_CHUNKS] == 3 and span.status.is_ok
    assert json.loads(attrs(span)[keys.INPUT_VALUE]) == {"question": "bikes"}
    assert spans.one("lookup").parent.span_id == span.context.span_id
    assert span.parent.span_id == spans.one("request").context.span_id


def test_send_throw_close_and_the_return_value_pass_through(spans: CapturedSpans) -> None:
    def echo() -> Any:
        received = yield "ready"
        while received is not None:
            received = yield received.upper()
        return "done"

    traced = tracing.trace(name="echo")(passthrough(echo))
    stream = traced()
    assert next(stream) == "ready" and stream.send("a") == "A"
    try:
        stream.send(None)
    except StopIteration as stop:
        assert stop.value == "done"
    early = traced()
    next(early)
    early.close()
    first, second = [s for s in spans.all() if s.name == "echo"]
    assert output(first) == "readyA" and not attrs(first)[keys.STREAM_CANCELLED]
    assert attrs(second)[keys.STREAM_CANCELLED] is True


def test_a_builtin_iterator_the_call_made_is_a_stream_but_an_argument_handed_back_is_not(spans: CapturedSpans) -> None:
    @tracing.trace
    def doubled(values: list[int]) -> Iterator[int]:
        return map(lambda value: value * 2, values)

    @tracing.trace
    def same(values: Iterator[int]) -> Iterator[int]:
        return values

    assert list(doubled([1, 2])) == [2, 4]
    assert output(spans.one("doubled")) == [2, 4]
    source = iter([1, 2])
    assert same(source) is source
    assert keys.STREAM_CHUNKS not in attrs(spans.one("same"))


def test_an_async_generator_returned_by_a_plain_function_is_a_stream(spans: CapturedSpans) -> None:
    async def numbers() -> AsyncIterator[int]:
        for number in range(3):
            yield number

    traced = tracing.trace(name="numbers")(passthrough(numbers))

    async def drain() -> list[int]:
        return [number async for number in traced()]

    assert asyncio.run(drain()) == [0, 1, 2]
    assert output(spans.one("numbers")) == [0, 1, 2]


def test_other_iterables_are_left_alone(spans: CapturedSpans) -> None:
    @tracing.trace
    def rows() -> list[int]:
        return [1, 2]

    @tracing.trace
    def opened(path: str) -> Any:
        return open(path, encoding="utf-8")

    assert rows() == [1, 2]
    with opened(__file__) as handle:
        assert handle.readline().startswith('"""')
    assert output(spans.one("rows")) == [1, 2]
    assert keys.STREAM_CHUNKS not in attrs(spans.one("opened"))
