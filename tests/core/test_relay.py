"""A traced generator's steps (SPEC 3.1, 3.3; issue 15): the compiled loop (tracing/_speedups.c `Relay`) and the
Python loop behave as the generator does without the decorator, for any sequence of next, send, throw and close,
and end the span the same way; the compiled loop holds no chunk, frees itself and cannot be crashed from outside."""

from __future__ import annotations

import contextvars
import gc
import inspect
import weakref
from collections.abc import Generator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from opentelemetry.trace import StatusCode

import tracing
from tests.capture import CapturedSpans, attrs
from tests.core.test_stream_fold import _event, _plain_run
from tracing import _decorator
from tracing._stream import TEXT_DELTA


class Boom(Exception):
    """An error the body catches or lets through, depending on its script."""


class Other(Exception):
    """An error the body never catches."""


# What the body does at each resumption: yield a value; on a thrown Boom, catch it and go on, return, or re-raise;
# on GeneratorExit, exit, raise, or yield (which close turns into RuntimeError).
_STEP = st.fixed_dictionaries({
    "value": st.one_of(st.text(max_size=3), st.integers(), st.none()),
    "on_boom": st.sampled_from(["catch", "return", "raise"]),
    "on_exit": st.sampled_from(["exit", "raise", "yield"]),
    "stop_on": st.one_of(st.none(), st.integers(0, 3)),
    "fail": st.booleans(),
})
_OP = st.one_of(
    st.just(("next",)),
    st.tuples(st.just("send"), st.integers(0, 3)),
    st.tuples(st.just("throw"), st.sampled_from([Boom, Other])),
    st.just(("close",)),
)


def body(script: list[dict[str, Any]]) -> Generator[Any, Any, Any]:
    """The traced code: follows its script, one step a resumption."""
    for step in script:
        try:
            received = yield step["value"]
        except Boom as exc:
            if step["on_boom"] == "return":
                return ("returned after", str(exc))
            if step["on_boom"] == "raise":
                raise
            continue
        except GeneratorExit:
            if step["on_exit"] == "raise":
                raise Other("raised on close") from None
            if step["on_exit"] == "yield":
                yield "ignored the close"
            raise
        if step["fail"]:
            raise Other("failed")
        if received is not None and received == step["stop_on"]:
            return ("stopped at", received)
    return "done"


traced_body = tracing.trace(name="scripted")(body)


def _outcome(gen: Generator[Any, Any, Any], op: tuple[Any, ...]) -> tuple[Any, ...]:
    """What one operation gave: a value, StopIteration's value, or an error's type and text."""
    try:
        if op[0] == "next":
            return ("value", next(gen))
        if op[0] == "send":
            return ("value", gen.send(op[1]))
        if op[0] == "throw":
            return ("value", gen.throw(op[1]("thrown")))
        return ("value", gen.close())
    except StopIteration as stop:
        return ("stop", stop.value)
    except BaseException as exc:  # noqa: BLE001 - every outcome is compared
        return ("error", type(exc).__name__, str(exc))


def _span_summary(spans: CapturedSpans) -> list[tuple[Any, ...]]:
    """How each scripted span ended: status, cancelled, chunk count, output and exception events."""
    return [(span.status.status_code, attrs(span).get("agent_tracing.stream.cancelled"),
             attrs(span).get("agent_tracing.stream.chunks"), attrs(span).get("output.value"),
             [event.attributes.get("exception.type") for event in span.events if event.name == "exception"])
            for span in spans.all() if span.name == "scripted"]


def _run_traced(spans: CapturedSpans, script: list[dict[str, Any]], ops: list[tuple[Any, ...]]
                ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The outcomes of the operations on the traced body, and its span once the generator is gone."""
    spans.clear()
    traced = traced_body(script)
    assert inspect.isgenerator(traced)
    outcomes = [_outcome(traced, op) for op in ops]
    del traced
    return outcomes, _span_summary(spans)


def _steps(*reactions: tuple[str, str]) -> list[dict[str, Any]]:
    """A script of one step per (on_boom, on_exit) reaction, yielding "a", "b", ..."""
    return [{"value": chr(97 + index), "on_boom": on_boom, "on_exit": on_exit, "stop_on": 1, "fail": False}
            for index, (on_boom, on_exit) in enumerate(reactions)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=st.lists(_STEP, max_size=5), ops=st.lists(_OP, max_size=8))
# every way a step can end, whatever hypothesis draws: thrown and caught, returned or raised; closed cleanly, with
# an error, or ignored; sent its stop value; exhausted
@example(script=_steps(("catch", "exit"), ("return", "exit")), ops=[("next",), ("throw", Boom), ("throw", Boom)])
@example(script=_steps(("raise", "exit")), ops=[("next",), ("throw", Boom), ("next",)])
@example(script=_steps(("catch", "exit")), ops=[("next",), ("throw", Other), ("next",)])
@example(script=_steps(("catch", "raise"), ("catch", "exit")), ops=[("next",), ("close",), ("next",)])
@example(script=_steps(("catch", "yield")), ops=[("next",), ("close",)])
@example(script=_steps(("catch", "exit"), ("catch", "exit")), ops=[("next",), ("send", 1), ("next",)])
@example(script=_steps(("catch", "exit")), ops=[("next",), ("next",), ("next",)])
def test_any_sequence_of_operations_gives_what_the_undecorated_generator_gives(
        spans: CapturedSpans, monkeypatch: pytest.MonkeyPatch, script: list[dict[str, Any]],
        ops: list[tuple[Any, ...]]) -> None:
    plain = body(script)
    expected, done = [], []
    for op in [*ops, ("close",)]:  # closed at the end, so no error is left for the garbage collector to report
        expected.append(_outcome(plain, op))
        done.append(op)
        if expected[-1] == ("error", "RuntimeError", "generator ignored GeneratorExit"):
            # The body yielded on close: the undecorated generator is still suspended, the traced one has ended
            # (the error went through its frame). Which value it yielded, close does not say, so no layer can go on.
            expected.append(_outcome(plain, ("close",)))
            done.append(("close",))
            break
    ops = done
    results = {}
    for loop in ("compiled", "Python"):
        with monkeypatch.context() as patch:
            if loop == "Python":
                patch.setattr(_decorator, "_Relay", None)
            results[loop] = _run_traced(spans, script, ops)
    compiled, python = results["compiled"], results["Python"]
    assert compiled[0] == expected
    assert python[0] == expected
    assert compiled[1] == python[1]  # the span ended the same way
    # a span opened exactly when next started the generator (before, send(int) is a TypeError, throw and close
    # finish it unstarted), and it ended
    assert len(compiled[1]) == (1 if _starts(ops) else 0)


def _starts(ops: list[tuple[Any, ...]]) -> bool:
    """Whether the operations start a fresh generator."""
    for op in ops:
        if op[0] == "next":
            return True
        if op[0] != "send":
            return False
    return False


class Chunk:
    """A chunk that can be watched die."""


@pytest.mark.usefixtures("relay_loop")
def test_the_loop_keeps_no_chunk_and_frees_itself(spans: CapturedSpans) -> None:
    watched: list[weakref.ref[Chunk]] = []

    @tracing.trace(name="objects", capture_outputs=False)
    def objects(n: int) -> Generator[Chunk, None, str]:
        for _ in range(n):
            chunk = Chunk()
            watched.append(weakref.ref(chunk))
            yield chunk
        return "end"

    gen = objects(100)
    for chunk in gen:
        del chunk
    assert [ref for ref in watched if ref() is not None] == []  # each chunk died when the consumer dropped it
    del gen
    assert [obj for obj in gc.get_objects() if type(obj).__name__ == "Relay"] == []
    assert attrs(spans.one("objects"))["agent_tracing.stream.chunks"] == 100


@pytest.mark.usefixtures("relay_loop")
def test_a_generator_in_a_reference_cycle_is_collected_and_its_span_ends_cancelled(spans: CapturedSpans) -> None:
    @tracing.trace(name="cyclic")
    def cyclic(box: list[Any]) -> Generator[str, None, None]:
        yield "a "
        yield "b "

    box: list[Any] = []
    gen = cyclic(box)
    box.append(gen)  # the generator's frame holds box, which holds the generator
    assert next(gen) == "a "
    alive = weakref.ref(gen)
    del gen, box
    gc.collect()
    assert alive() is None
    span = spans.one("cyclic")
    assert attrs(span)["agent_tracing.stream.cancelled"] is True
    assert attrs(span)["agent_tracing.stream.chunks"] == 1


@pytest.mark.usefixtures("relay_loop")
def test_resuming_the_stream_from_inside_its_own_body_is_refused_as_for_any_generator(spans: CapturedSpans) -> None:
    targets: list[Any] = []
    refusals: list[str] = []

    @tracing.trace(name="reentrant")
    def reentrant() -> Generator[int, None, None]:
        yield 1
        for target in targets:  # the generator, and what it delegates to (the compiled loop)
            for poke in (next, lambda g: g.send(None), lambda g: g.throw(ValueError("x")), lambda g: g.close()):
                try:
                    poke(target)
                except ValueError as exc:
                    refusals.append(str(exc))
        yield 2

    gen = reentrant()
    assert next(gen) == 1
    targets.extend(target for target in (gen, gen.gi_yieldfrom) if target is not None)
    assert list(gen) == [2]
    assert refusals == ["generator already executing"] * 4 * len(targets)
    span = spans.one("reentrant")
    assert attrs(span)["agent_tracing.stream.chunks"] == 2
    assert attrs(span)["agent_tracing.stream.cancelled"] is False


@pytest.mark.usefixtures("relay_loop")
def test_an_error_raised_while_ending_the_span_replaces_the_bodys_error_chained_to_it(
        spans: CapturedSpans, monkeypatch: pytest.MonkeyPatch) -> None:
    finish = _decorator._Stream.finish

    def interrupted(self: Any, error: BaseException | None = None, cancelled: bool = False) -> None:
        finish(self, error, cancelled)
        raise KeyboardInterrupt("while ending")  # not an Exception: tracing lets it through, as Python would

    monkeypatch.setattr(_decorator._Stream, "finish", interrupted)

    @tracing.trace(name="failing")
    def failing() -> Generator[str, None, None]:
        yield "a"
        raise Other("body failed")

    gen = failing()
    next(gen)
    with pytest.raises(KeyboardInterrupt) as raised:
        next(gen)
    assert isinstance(raised.value.__context__, Other)
    assert spans.one("failing").status.status_code is StatusCode.ERROR


def test_the_compiled_loop_checks_its_arguments() -> None:
    relay = pytest.importorskip("tracing._speedups").Relay
    with pytest.raises(TypeError, match="Context"):
        relay(object(), iter([]), object(), TEXT_DELTA)
    with pytest.raises(TypeError, match="str"):
        relay(contextvars.copy_context(), iter([]), object(), b"not a str")
    with pytest.raises(AttributeError, match="chunks"):
        relay(contextvars.copy_context(), iter([]), object(), TEXT_DELTA)


@pytest.mark.usefixtures("relay_loop")
def test_the_bodys_error_reaches_the_span_and_the_caller_with_its_traceback(spans: CapturedSpans) -> None:
    @tracing.trace(name="broken")
    def broken() -> Generator[str, None, None]:
        yield "a"
        raise Other("broke here")  # the line both tracebacks show

    gen = broken()
    next(gen)
    with pytest.raises(Other) as raised:
        next(gen)
    assert raised.traceback[-1].statement.lines[0].strip() == 'raise Other("broke here")  # the line both tracebacks show'
    (event,) = [event for event in spans.one("broken").events if event.name == "exception"]
    assert 'raise Other("broke here")' in str(event.attributes["exception.stacktrace"])


class _Near(dict):  # type: ignore[type-arg]
    """A delta as a dict subclass: folded by the Python fold, never set aside."""


def _near(event: dict[str, Any]) -> dict[str, Any]:
    return _Near(event)


def _streamed(events: list[Any]) -> None:
    """Consume a traced stream of these events, checking every one reaches the consumer."""

    @tracing.trace(name="events")
    def stream() -> Generator[Any, None, None]:
        yield from events

    consumed = list(stream())
    assert len(consumed) == len(events) and all(a is b for a, b in zip(consumed, events))


def _deltas(item_id: str, count: int, word: str = "w") -> list[dict[str, Any]]:
    return [{"type": TEXT_DELTA, "item_id": item_id, "delta": f"{word}{i} "} for i in range(count)]


# The compiled loop sets deltas aside from the fold after the 17th event on (the first fold), when that fold's last
# event was a plain delta of an open item: runs of plain deltas whose lengths straddle that point.
_ALIGNED_RUN = st.builds(_deltas, st.sampled_from(["msg_1", "msg_2"]), st.sampled_from([1, 2, 15, 16, 17, 33]),
                         st.sampled_from(["w", "v"]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(runs=st.lists(st.one_of(_ALIGNED_RUN, _plain_run(), _event().map(lambda event: [event])), max_size=12),
       chunk_events=st.sampled_from([0, 0, 3]))
@example(runs=[_deltas("msg_1", 20)] * 3 + [[{"type": "response.output_item.done", "item": {"id": "msg_1",
                                                                                             "type": "message"}}]]
         + [_deltas("msg_1", 20, "v")] * 2, chunk_events=0)
@example(runs=[_deltas("msg_1", 17), _deltas("msg_2", 5), _deltas("msg_1", 5, "v")], chunk_events=0)  # another item
@example(runs=[_deltas("msg_1", 17), [{"type": "response.created", "item_id": "msg_1", "delta": "not text"}]],
         chunk_events=0)  # another type
@example(runs=[_deltas("msg_1", 20), [_near(_deltas("msg_1", 1, "X")[0])], _deltas("msg_1", 20, "v")],
         chunk_events=0)  # a delta the compiled loop cannot take comes after some it set aside: they go first
@example(runs=[_deltas("msg_1", 19), [_near(_deltas("msg_1", 1, "X")[0])]], chunk_events=0)  # the same at the end
def test_text_deltas_set_aside_by_the_compiled_loop_give_the_python_loops_output(
        spans: CapturedSpans, monkeypatch: pytest.MonkeyPatch, runs: list[list[Any]], chunk_events: int) -> None:
    events = [event for run in runs for event in run]
    spans.configure(config={"stream_chunk_events": chunk_events})
    recorded = {}
    for loop in ("compiled", "Python"):
        with monkeypatch.context() as patch:
            if loop == "Python":
                patch.setattr(_decorator, "_Relay", None)
            spans.clear()
            _streamed(events)
            span = spans.one("events")
            recorded[loop] = (attrs(span).get("output.value"), attrs(span)["agent_tracing.stream.chunks"],
                              [event.name for event in span.events], span.status.status_code)
    assert recorded["compiled"] == recorded["Python"]
    assert recorded["compiled"][1] == len(events)


def test_set_aside_text_waits_longer_but_events_not_set_aside_wait_no_longer_than_a_fold(spans: CapturedSpans) -> None:
    if _decorator._Relay is None:
        pytest.skip("no compiled loop: nothing is set aside")
    other = [{"type": "response.output_text.annotation.added", "item_id": "msg_1", "annotation": {"n": i}}
             for i in range(40)]
    events = _deltas("msg_1", 17) + _deltas("msg_1", 5, "v") + other + _deltas("msg_1", 40, "u")

    @tracing.trace(name="events")
    def stream() -> Generator[Any, None, None]:
        yield from events

    waiting: list[tuple[int, int]] = []
    for _ in stream():
        (ref,) = _decorator._open_streams.values()
        held = ref()
        assert held is not None
        waiting.append((len(held.chunks), len(held.text_parts or ())))
    assert max(chunks for chunks, _ in waiting) <= _decorator.FOLD_EVENTS_EVERY  # events: as many as a fold takes
    assert max(parts for _, parts in waiting) > _decorator.FOLD_EVENTS_EVERY  # text: set aside for longer
    assert max(parts for _, parts in waiting) <= _decorator.FOLD_TEXT_EVERY
    assert attrs(spans.one("events"))["agent_tracing.stream.chunks"] == len(events)


def test_set_aside_text_is_joined_without_stepping_into_python_and_keeps_few_pieces(
        spans: CapturedSpans, monkeypatch: pytest.MonkeyPatch) -> None:
    if _decorator._Relay is None:
        pytest.skip("no compiled loop: nothing is set aside")
    steps = 0
    step = _decorator._Stream.step

    def counted(self: Any) -> int:
        nonlocal steps
        steps += 1
        return step(self)

    monkeypatch.setattr(_decorator._Stream, "step", counted)
    events = _deltas("msg_1", 4000)

    @tracing.trace(name="events")
    def stream() -> Generator[Any, None, None]:
        yield from events

    pieces = 0
    for _ in stream():
        (ref,) = _decorator._open_streams.values()
        held = ref()
        assert held is not None
        pieces = max(pieces, len(held.text.parts) if held.text is not None else 0)
    assert steps <= 3  # the first chunk, the first fold; then the compiled loop joins the text itself
    assert pieces <= 16  # merged as TextBuffer.write merges them: 125 pieces of 32 deltas otherwise
    recorded = attrs(spans.one("events"))
    assert recorded["agent_tracing.stream.chunks"] == len(events)
    assert "".join(event["delta"] for event in events) in str(recorded["output.value"])
