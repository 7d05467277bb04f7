"""Generators and async generators: SPEC 3.3, span attached only while the body runs."""

from __future__ import annotations

import asyncio
import gc
import threading

import pytest
from opentelemetry import trace as otel_trace
from opentelemetry.trace import StatusCode

import tracing
from tests.capture import attrs, output

pytestmark = pytest.mark.usefixtures("relay_loop")  # the compiled and the Python loop


def _current_span_id() -> int:
    return otel_trace.get_current_span().get_span_context().span_id


@tracing.trace
def words(n):
    for i in range(n):
        yield f"w{i} "
    return "finished"


def test_exhaustion_aggregates_text_and_keeps_return_value(spans):
    gen = words(3)
    assert list(gen) == ["w0 ", "w1 ", "w2 "]
    span = spans.one("words")
    assert output(span) == "w0 w1 w2 "
    assert attrs(span)["agent_tracing.stream.chunks"] == 3
    assert attrs(span)["agent_tracing.stream.cancelled"] is False
    assert attrs(span)["agent_tracing.stream.first_chunk_ms"] >= 0
    assert span.status.status_code is StatusCode.OK


def test_stop_iteration_value_and_yield_from(spans):
    def delegate():
        result = yield from words(2)
        yield result

    assert list(delegate()) == ["w0 ", "w1 ", "finished"]
    gen = words(0)
    with pytest.raises(StopIteration) as stop:
        next(gen)
    assert stop.value.value == "finished"


def test_send_and_throw_pass_through(spans):
    @tracing.trace
    def accumulator():
        total = 0
        while True:
            try:
                value = yield total
            except ValueError:
                value = -100
            if value is None:
                return total
            total += value

    gen = accumulator()
    assert next(gen) == 0
    assert gen.send(5) == 5
    assert gen.send(2) == 7
    assert gen.throw(ValueError("reset")) == -93
    with pytest.raises(StopIteration) as stop:
        gen.send(None)
    assert stop.value.value == -93
    span = spans.one("accumulator")
    assert output(span) == [0, 5, 7, -93]


def test_throw_not_caught_ends_span_with_error(spans):
    gen = words(5)
    next(gen)
    error = KeyError("k")
    with pytest.raises(KeyError) as caught:
        gen.throw(error)
    assert caught.value is error
    span = spans.one("words")
    assert span.status.status_code is StatusCode.ERROR
    assert output(span) == "w0 "


def test_error_inside_keeps_partial_output(spans):
    @tracing.trace
    def breaks():
        yield "a"
        yield "b"
        raise RuntimeError("mid-stream")

    received = []
    with pytest.raises(RuntimeError, match="mid-stream"):
        for chunk in breaks():
            received.append(chunk)
    assert received == ["a", "b"]
    span = spans.one("breaks")
    assert span.status.status_code is StatusCode.ERROR
    assert output(span) == "ab"
    assert any(event.name == "exception" for event in span.events)


@pytest.mark.parametrize("how", ["break", "close", "gc"])
def test_early_end_is_cancelled_with_partial_output(spans, how):
    cleaned = []

    @tracing.trace
    def endless():
        try:
            i = 0
            while True:
                yield f"{i},"
                i += 1
        finally:
            cleaned.append(True)

    gen = endless()
    if how == "break":
        for chunk in gen:
            if chunk == "2,":
                break
        del gen
    elif how == "close":
        next(gen), next(gen), next(gen)
        gen.close()
    else:
        next(gen), next(gen), next(gen)
        del gen
        gc.collect()
    assert cleaned == [True]
    span = spans.one("endless")
    assert attrs(span)["agent_tracing.stream.cancelled"] is True
    assert span.status.status_code is StatusCode.OK
    assert output(span) == "0,1,2,"


def test_span_is_current_only_while_the_body_runs(spans):
    seen = []

    @tracing.trace
    def body():
        seen.append(_current_span_id())
        yield 1
        seen.append(_current_span_id())
        yield 2

    with tracing.start_span("caller") as caller:
        gen = body()
        outside = []
        for _ in gen:
            outside.append(_current_span_id())
    span = spans.one("body")
    assert seen == [span.context.span_id] * 2
    assert outside == [int(caller.span_id, 16)] * 2
    assert span.parent.span_id == int(caller.span_id, 16)


def test_parent_is_the_context_at_call_time(spans):
    with tracing.start_span("creator") as creator:
        gen = words(2)
    with tracing.start_span("consumer"):
        list(gen)
    assert spans.one("words").parent.span_id == int(creator.span_id, 16)


def test_never_started_generator_makes_no_span(spans):
    gen = words(2)
    del gen
    gc.collect()
    assert spans.all() == []


def test_consumed_in_another_thread_stays_in_its_trace(spans):
    with tracing.start_span("request") as request:
        gen = words(3)
    result = []
    worker = threading.Thread(target=lambda: result.extend(gen))
    worker.start()
    worker.join()
    assert result == ["w0 ", "w1 ", "w2 "]
    span = spans.one("words")
    assert format(span.context.trace_id, "032x") == request.trace_id


def test_nested_traced_generators(spans):
    @tracing.trace
    def outer():
        for chunk in words(2):
            yield chunk.upper()

    assert list(outer()) == ["W0 ", "W1 "]
    assert spans.one("words").parent.span_id == spans.one("outer").context.span_id


def test_child_spans_inside_the_body_are_children(spans):
    @tracing.trace
    def tool():
        return "t"

    @tracing.trace
    def agent():
        yield tool()
        yield tool()

    list(agent())
    agent_span = spans.one("agent")
    tools = [s for s in spans.all() if s.name == "tool"]
    assert len(tools) == 2 and all(t.parent.span_id == agent_span.context.span_id for t in tools)


def test_output_reducer_and_non_text_chunks(spans):
    @tracing.trace(output_reducer=lambda chunks: {"count": len(chunks), "sum": sum(chunks)})
    def numbers():
        yield from range(5)

    @tracing.trace
    def dicts():
        yield {"a": 1}
        yield {"b": 2}

    assert list(numbers()) == [0, 1, 2, 3, 4]
    assert list(dicts()) == [{"a": 1}, {"b": 2}]
    assert output(spans.one("numbers")) == {"count": 5, "sum": 10}
    assert output(spans.one("dicts")) == [{"a": 1}, {"b": 2}]


def test_long_stream_is_folded_and_counted(spans):
    @tracing.trace
    def many():
        for _ in range(5000):
            yield "x"

    assert sum(1 for _ in many()) == 5000
    span = spans.one("many")
    assert attrs(span)["agent_tracing.stream.chunks"] == 5000
    assert output(span) == "x" * 5000


def test_chunk_events_are_capped(spans):
    spans.configure(config={"stream_chunk_events": 2})
    list(words(4))
    span = spans.one("words")
    assert [(e.name, e.attributes["index"]) for e in span.events] == [
        ("agent_tracing.stream.chunk", 0),
        ("agent_tracing.stream.chunk", 1),
    ]


# async generators


@tracing.trace
async def ticks(n):
    for i in range(n):
        await asyncio.sleep(0)
        yield i


def test_async_generator_exhaustion(spans):
    async def main():
        return [i async for i in ticks(3)]

    assert asyncio.run(main()) == [0, 1, 2]
    span = spans.one("ticks")
    assert output(span) == [0, 1, 2]
    assert attrs(span)["agent_tracing.stream.cancelled"] is False


def test_async_asend_athrow(spans):
    @tracing.trace
    async def echo():
        received = None
        while True:
            try:
                received = yield received
            except ValueError:
                received = "caught"

    async def main():
        agen = echo()
        first = await agen.asend(None)
        second = await agen.asend("hi")
        third = await agen.athrow(ValueError("x"))
        await agen.aclose()
        return first, second, third

    assert asyncio.run(main()) == (None, "hi", "caught")
    span = spans.one("echo")
    assert attrs(span)["agent_tracing.stream.cancelled"] is True


def test_async_break_and_aclose_from_another_task(spans):
    cleaned = []

    @tracing.trace
    async def endless():
        try:
            i = 0
            while True:
                await asyncio.sleep(0)
                yield i
                i += 1
        finally:
            await asyncio.sleep(0)
            cleaned.append(_current_span_id())

    async def main():
        agen = endless()
        assert await agen.__anext__() == 0
        assert await agen.__anext__() == 1
        await asyncio.create_task(agen.aclose())

    asyncio.run(main())
    span = spans.one("endless")
    assert cleaned == [span.context.span_id]
    assert attrs(span)["agent_tracing.stream.cancelled"] is True
    assert output(span) == [0, 1]


def test_async_break_then_gc(spans):
    async def main():
        async for i in ticks(100):
            if i == 2:
                break
        await asyncio.sleep(0)

    asyncio.run(main())
    span = spans.one("ticks")
    assert attrs(span)["agent_tracing.stream.cancelled"] is True
    assert output(span) == [0, 1, 2]


def test_async_error_keeps_partial_output(spans):
    @tracing.trace
    async def breaks():
        yield "a"
        raise ValueError("bad")

    async def main():
        got = []
        with pytest.raises(ValueError):
            async for chunk in breaks():
                got.append(chunk)
        return got

    assert asyncio.run(main()) == ["a"]
    span = spans.one("breaks")
    assert span.status.status_code is StatusCode.ERROR
    assert output(span) == "a"


def test_async_span_current_only_inside_body(spans):
    seen, outside = [], []

    @tracing.trace
    async def body():
        seen.append(_current_span_id())
        yield 1
        seen.append(_current_span_id())
        yield 2

    async def main():
        async for _ in body():
            outside.append(_current_span_id())

    asyncio.run(main())
    span = spans.one("body")
    assert seen == [span.context.span_id] * 2
    assert outside == [0, 0]


def test_task_cancellation_marks_stream_cancelled(spans):
    started = asyncio.Event

    @tracing.trace
    async def slow():
        yield "first"
        await asyncio.Event().wait()
        yield "never"

    async def main():
        ready = started()

        async def consume():
            async for _ in slow():
                ready.set()

        task = asyncio.create_task(consume())
        await ready.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    span = spans.one("slow")
    assert attrs(span)["agent_tracing.stream.cancelled"] is True
    assert span.status.status_code is not StatusCode.ERROR
    assert output(span) == "first"
