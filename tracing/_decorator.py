"""`@trace`: spans around functions, methods, coroutines, generators and async generators."""

from __future__ import annotations

import contextvars
import functools
import inspect
import sys
import time
import types
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace

from tracing import _runtime
from tracing._binding import binding_target, end_span
from tracing._context import EMPTY, scope, suppressed
from tracing._errors import report
from tracing._recorder import span_name, span_type_name
from tracing._serialize import RawJSON
from tracing._stream import TEXT_DELTA, StreamAggregator, TextBuffer, aggregate_stream, is_chat_chunk, is_responses_event
from tracing._tools import tool_spec
from tracing.keys import SpanType

_Relay: type[_speedups.Relay] | None
"""A traced generator's per-chunk loop compiled (tracing/_speedups.c); None: _traced_generator's loop in Python."""
try:
    import tracing._speedups as _speedups
except ImportError:  # pragma: no cover - built wherever the package was installed with a C compiler
    _Relay = None
else:
    _Relay = _speedups.Relay

F = TypeVar("F", bound=Callable[..., Any])
_state = _runtime.state
_attach = otel_context.attach
_detach = otel_context.detach
_in_context = otel_trace.set_span_in_context
_DOCUMENT_TYPES = (SpanType.RETRIEVER.value, SpanType.RERANKER.value)


@dataclass(frozen=True)
class SpanSpec:
    """How a traced callable's spans look."""

    name: str | None = None
    span_type: str = SpanType.CHAIN.value
    attributes: Mapping[str, Any] | None = None
    output_reducer: Callable[[list[Any]], Any] | None = None
    capture_inputs: bool = True
    capture_outputs: bool = True
    retriever_schema: str | None = None
    input_hook: Callable[[dict[str, Any]], Mapping[str, Any]] | None = None
    """Attributes read from a call's bound arguments when its span starts, prepared by the recorder (an agent's
    conversation and user, a tool call's id and arguments; see `Recorder.prepared`)."""


class _Binder:
    """Arguments to a name -> value mapping with defaults applied, faster than Signature.bind."""

    __slots__ = ("_names", "_defaults", "_signature", "_rest", "_simple")

    def __init__(self, func: Callable[..., Any]) -> None:
        try:
            signature = inspect.signature(binding_target(func))
        except (TypeError, ValueError):
            signature = None
        self._signature = signature
        params = list(signature.parameters.values()) if signature else []
        self._rest = signature.replace(parameters=params[1:]) if signature and params else signature
        positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        self._simple = signature is not None and all(p.kind in positional for p in params)
        self._names = tuple(p.name for p in params)
        self._defaults = tuple((p.name, p.default) for p in params if p.default is not inspect.Parameter.empty)

    def bind(self, bound: bool, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """The inputs of one call, self/cls left out."""
        names = self._names[1:] if bound else self._names
        if self._simple and len(args) <= len(names):
            inputs = dict(zip(names, args))
            if kwargs:
                inputs.update(kwargs)
            for name, default in self._defaults:
                if name not in inputs and (not bound or name != self._names[0]):
                    inputs[name] = default
            return inputs
        signature = self._rest if bound else self._signature
        if signature is None:
            return {"args": list(args), "kwargs": kwargs} if kwargs else {"args": list(args)}
        try:
            arguments = signature.bind_partial(*args, **kwargs)
        except TypeError:
            return {"args": list(args), "kwargs": kwargs} if kwargs else {"args": list(args)}
        arguments.apply_defaults()
        inputs = {}
        for name, value in arguments.arguments.items():
            if signature.parameters[name].kind is inspect.Parameter.VAR_KEYWORD:
                inputs.update(value)
            else:
                inputs[name] = value
        return inputs


class _Plan:
    """A traced callable's spec with what can be computed once."""

    __slots__ = ("spec", "name", "span_type", "binder", "documents", "bind_inputs", "recording", "_generation",
                 "_static")

    def __init__(self, spec: SpanSpec, func: Callable[..., Any], name: str) -> None:
        self.spec = spec
        self.name = name
        self.span_type = span_type_name(spec.span_type)
        self.binder = _Binder(func)
        self.documents = self.span_type in _DOCUMENT_TYPES
        self.bind_inputs = spec.capture_inputs or spec.input_hook is not None or self.documents
        self.recording = True
        """Whether the last span of this callable was recorded: then the next one starts with its input attributes
        (one call into the SDK instead of two); a span that turns out not recorded just drops them."""
        self._generation = -1
        self._static: dict[str, Any] = {}

    def static(self) -> dict[str, Any]:
        """The attributes every span of this callable starts with, recorded once per configuration."""
        if self._generation != _state.generation:
            self._static = _state.recorder.static_attributes(self.span_type, self.name, self.spec.attributes)
            self._generation = _state.generation
        return self._static

    def open(self, tracer: otel_trace.Tracer, bound: bool, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any]:
        """Start this call's span (not yet current) with its inputs recorded; the inputs (None when not recorded)."""
        attributes = self.static()
        recorder = _state.recorder
        extra = scope.get()
        if extra is not EMPTY:
            attributes = {**attributes, **extra.attributes(recorder)}
        if not self.bind_inputs:
            return tracer.start_span(self.name, attributes=attributes), None
        if self.recording:
            inputs, recorded = self._inputs(recorder, bound, args, kwargs)
            span = tracer.start_span(self.name, attributes={**attributes, **recorded} if recorded else attributes)
            if span.is_recording():
                return span, inputs
            self.recording = False
            return span, None
        span = tracer.start_span(self.name, attributes=attributes)
        if not span.is_recording():
            return span, None
        self.recording = True
        inputs, recorded = self._inputs(recorder, bound, args, kwargs)
        recorder.set(span, recorded)
        return span, inputs

    def _inputs(self, recorder: Any, bound: bool, args: tuple[Any, ...], kwargs: dict[str, Any]
                ) -> tuple[Any, dict[str, Any]]:
        """The bound arguments of a call and the attributes recorded from them (its input, its input hook's)."""
        inputs = None
        attributes: dict[str, Any] = {}
        spec = self.spec
        try:
            inputs = self.binder.bind(bound, args, kwargs)
            if spec.capture_inputs and inputs:
                attributes = recorder.input_attributes(inputs)
        except Exception as exc:  # noqa: BLE001 - the span still records the call
            report("recording inputs", exc)
        if spec.input_hook is not None:
            try:
                attributes.update(recorder.prepared(spec.input_hook(inputs or {})))
            except Exception as exc:  # noqa: BLE001
                report("input hook", exc)
        return inputs, attributes

    def close(self, span: Any, inputs: Any, output: Any) -> None:
        """Record the output and end the span."""
        try:
            if self.spec.capture_outputs and span.is_recording():
                _state.recorder.set_outputs(span, self.span_type, self.name, inputs, output, self.spec.retriever_schema)
        finally:
            end_span(span)

    def fail(self, span: Any, exc: BaseException) -> None:
        """Record the exception and end the span."""
        try:
            if _is_cancellation(exc):
                _state.recorder.set_cancelled(span)
            else:
                _state.recorder.set_error(span, exc)
        except Exception as inner:  # noqa: BLE001
            report("ending a span", inner)
        finally:
            end_span(span)

    def reduce(self, chunks: list[Any]) -> Any:
        """The output of a stream: the user's reducer, else the aggregation chosen by the chunks."""
        reducer = self.spec.output_reducer
        if reducer is not None:
            try:
                return reducer(chunks)
            except Exception as exc:  # noqa: BLE001
                report("output_reducer", exc)
        return aggregate_stream(chunks)


FOLD_EVERY = 64
"""Chunks held before they are folded: small chunks (a token, a text-delta event) are objects of 50 to 300 bytes for a
few characters, so a stream holds at most this many beside its aggregate (issue 15: 1,000 open streams)."""
FOLD_EVENTS_EVERY = 16
"""The same for Responses events and ChatCompletion chunks."""
FOLD_TEXT_EVERY = 32
"""The same for the text deltas of a Responses stream the compiled loop sets aside as text (a str each, 55 to 60
bytes for a token; the loop joins them into the item's text itself, as `_join_text` does, while nothing else waits)."""


class _Stream:
    """What a traced stream records while it runs: chunks folded into the aggregate every FOLD_EVERY."""

    __slots__ = ("plan", "span", "inputs", "chunks", "folded", "aggregator", "started", "first_ms", "events_left",
                 "fold_every", "text_item", "text", "text_parts", "__weakref__")

    def __init__(self, plan: _Plan, span: Any, inputs: Any) -> None:
        self.plan = plan
        self.span = span
        self.inputs = inputs
        self.chunks: list[Any] = []
        self.folded = 0
        self.aggregator: StreamAggregator | None = None
        self.started = time.perf_counter()
        self.first_ms: float | None = None
        self.events_left = _state.settings.stream_chunk_events if span is not None and span.is_recording() else 0
        self.fold_every = FOLD_EVERY
        # Set after a fold whose last event was a text delta of an open item: the compiled loop then appends the
        # deltas of that item that follow (exact dicts of exactly type, item_id and a str delta) to text_parts
        # instead of chunks, while chunks is empty; they are joined into that item's text before anything else.
        self.text_item: str | None = None
        self.text: TextBuffer | None = None
        self.text_parts: list[str] | None = None
        if span is not None:
            _open_streams[id(self)] = weakref.ref(self)

    def __del__(self) -> None:
        # A stream dropped without being closed (an async generator left behind by a closed event loop, whose
        # finalizer never runs): its span ends as cancelled with what it had streamed.
        if self.span is not None:
            self.finish(cancelled=True)

    def step(self) -> int:
        """Note the first chunk, chunk events and fold the chunks; how many chunks until the next step."""
        chunks = self.chunks
        try:
            if self.first_ms is None:
                self.first_ms = (time.perf_counter() - self.started) * 1000.0
                first = chunks[-1]
                if type(first) is not str:
                    # objects are summarised as they come, never held until the fold; events (dicts or models of a
                    # few hundred bytes for a few characters of text) are held in fewer numbers than text
                    self.fold_every = FOLD_EVENTS_EVERY if _foldable(first) else 1
            if self.events_left > 0:
                self.events_left -= 1
                _state.recorder.add_chunk_event(self.span, self.folded + len(chunks) - 1, chunks[-1])
                return 1 if self.events_left > 0 else self.fold_every
            if self.text_parts:  # set aside before any chunk waiting now
                self._join_text()
            if len(chunks) >= self.fold_every:
                self._fold()
            if self.text_item is not None and not chunks:
                # text deltas set aside, a str each, wait longer than events (the compiled loop steps at once
                # when a chunk it does not set aside comes, so events never wait longer than FOLD_EVENTS_EVERY)
                return FOLD_TEXT_EVERY
        except Exception as exc:  # noqa: BLE001
            report("recording a chunk", exc)
        return self.fold_every

    def _join_text(self) -> None:
        """Join the text deltas the compiled loop set aside into their item's text."""
        parts = self.text_parts
        self.text.write("".join(parts))  # type: ignore[union-attr,arg-type]  # set with text_parts
        self.folded += len(parts)  # type: ignore[arg-type]
        parts.clear()  # type: ignore[union-attr]

    def _fold(self) -> None:
        chunks = self.chunks
        aggregator = self.aggregator
        if aggregator is None:  # the first fold decides: aggregate, drop (nothing recorded), or keep for the reducer
            span = self.span
            if span is not None and span.is_recording() and self.plan.spec.capture_outputs:
                if self.plan.spec.output_reducer is not None:
                    return
                summarise = None if self.plan.documents else _summary
                aggregator = self.aggregator = StreamAggregator(summarise,
                                                                _state.settings.max_attribute_length * 3 // 4)
            else:
                self.folded += len(chunks)
                chunks.clear()
                return
        aggregator.add_many(chunks)
        self.folded += len(chunks)
        if chunks and _Relay is not None:
            target = aggregator.open_text(chunks[-1])
            self.text_item, self.text = target if target is not None else (None, None)
            if target is not None and self.text_parts is None:
                self.text_parts = []
        chunks.clear()

    def output(self) -> Any:
        """The aggregate of everything streamed so far."""
        if self.aggregator is None:
            return self.plan.reduce(self.chunks)
        if self.text_parts:
            self._join_text()
        self.aggregator.add_many(self.chunks)
        self.chunks.clear()
        return self.aggregator.result()

    def finish(self, error: BaseException | None = None, cancelled: bool = False) -> None:
        """End the span with the aggregate of what was streamed so far."""
        span = self.span
        if span is None:
            return
        self.span = None
        _open_streams.pop(id(self), None)
        try:
            if span.is_recording():
                plan = self.plan
                cancelled = cancelled or _is_cancellation(error)
                failed = error is not None and not cancelled
                count = self.folded + len(self.chunks) + len(self.text_parts or ())
                recorder = _state.recorder
                recorder.set_stream_end(span, count, self.first_ms, cancelled, failed)
                if plan.spec.capture_outputs and count:
                    recorder.set_outputs(span, plan.span_type, plan.name, self.inputs, self.output(),
                                         plan.spec.retriever_schema)
                if failed and error is not None:
                    recorder.set_error(span, error)
        except Exception as exc:  # noqa: BLE001
            report("ending a stream span", exc)
        finally:
            end_span(span)


def _foldable(chunk: Any) -> bool:
    """Whether a stream of such chunks folds into a small aggregate (text, Responses events, ChatCompletion chunks)."""
    return type(chunk) is str or is_responses_event(chunk) or is_chat_chunk(chunk)


def _summary(chunk: Any, room: int) -> RawJSON:
    """A listed chunk as JSON cut to its share of the room (a sixteenth of the attribute), so the object itself need
    not be kept and several chunks show."""
    serializer = _state.recorder.serializer
    return serializer.summary(chunk, min(room, max(256, serializer.max_length // 16)))


_open_streams: dict[int, weakref.ref[_Stream]] = {}
"""Streams whose span is open, so that exit can end them."""


def _end_open_streams() -> None:
    """At exit: every stream still open ends as cancelled, with its partial output."""
    for ref in list(_open_streams.values()):
        stream = ref()
        if stream is not None:
            stream.finish(cancelled=True)


_runtime.on_exit(_end_open_streams)


def _open_stream(plan: _Plan, ctx: contextvars.Context, bound: bool, args: tuple[Any, ...],
                 kwargs: dict[str, Any]) -> _Stream:
    """Start a stream's span inside its own context, where it stays current for every step."""
    try:
        tracer = _state.tracer or _runtime.ensure_tracer()
        span, inputs = ctx.run(plan.open, tracer, bound, args, kwargs)
        ctx.run(_attach, _in_context(span))
        return _Stream(plan, span, inputs)
    except Exception as exc:  # noqa: BLE001
        report("starting a span", exc)
        return _Stream(plan, None, None)


def _traced_generator(plan: _Plan, gen: Any, ctx: contextvars.Context, bound: bool,
                      args: tuple[Any, ...], kwargs: dict[str, Any], stream: _Stream | None = None) -> Any:
    if stream is None:
        stream = _open_stream(plan, ctx, bound, args, kwargs)
    if _Relay is not None:
        return (yield from _Relay(ctx, gen, stream, TEXT_DELTA))
    # the same loop in Python, where the compiled module was not built
    append = stream.chunks.append
    run = ctx.run
    send = gen.send
    left = 1
    op, arg = send, None
    while True:
        try:
            chunk = run(op, arg)
        except StopIteration as stop:
            stream.finish()
            return stop.value
        except BaseException as exc:
            stream.finish(exc)
            raise
        append(chunk)
        left -= 1
        if not left:
            left = stream.step()
        try:
            arg = yield chunk
            op, chunk = send, None  # the consumer decides how long a chunk lives
        except GeneratorExit:
            try:
                run(gen.close)
            except BaseException as exc:
                stream.finish(exc)
                raise
            stream.finish(cancelled=True)
            raise
        except BaseException as exc:
            op, arg = gen.throw, exc


class _InContext:
    """Awaits an awaitable with every step run inside a given context."""

    __slots__ = ("_ctx", "_awaitable")

    def __init__(self, ctx: contextvars.Context, awaitable: Any) -> None:
        self._ctx = ctx
        self._awaitable = awaitable

    def __await__(self) -> Any:
        run, awaitable = self._ctx.run, self._awaitable
        op, arg = awaitable.send, None
        while True:
            try:
                signal = run(op, arg)
            except StopIteration as stop:
                return stop.value
            try:
                arg = yield signal
                op = awaitable.send
            except GeneratorExit:
                run(awaitable.close)
                raise
            except BaseException as exc:
                op, arg = awaitable.throw, exc


async def _traced_async_generator(plan: _Plan, agen: Any, ctx: contextvars.Context, bound: bool,
                                  args: tuple[Any, ...], kwargs: dict[str, Any], stream: _Stream | None = None) -> Any:
    if stream is None:
        stream = _open_stream(plan, ctx, bound, args, kwargs)
    append = stream.chunks.append
    asend = agen.asend
    left = 1
    op, arg = asend, None
    while True:
        try:
            chunk = await _InContext(ctx, op(arg))
        except StopAsyncIteration:
            stream.finish()
            return
        except BaseException as exc:
            stream.finish(exc)
            raise
        append(chunk)
        left -= 1
        if not left:
            left = stream.step()
        try:
            arg = yield chunk
            op, chunk = asend, None
        except GeneratorExit:
            try:
                await _InContext(ctx, agen.aclose())
            except BaseException as exc:
                stream.finish(exc)
                raise
            stream.finish(cancelled=True)
            raise
        except BaseException as exc:
            op, arg = agen.athrow, exc


async def _traced_coroutine(plan: _Plan, coro: Any, bound: bool, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    try:
        span, inputs = plan.open(_state.tracer or _runtime.ensure_tracer(), bound, args, kwargs)
        token = _attach(_in_context(span))
    except Exception as exc:  # noqa: BLE001
        report("starting a span", exc)
        return await coro
    try:
        result = await coro
    except BaseException as exc:
        _detach(token)
        plan.fail(span, exc)
        raise
    _detach(token)
    try:
        plan.close(span, inputs, result)
    except Exception as exc:  # noqa: BLE001
        report("ending a span", exc)
    return result


def _is_cancellation(exc: BaseException | None) -> bool:
    """Whether an exception is asyncio's CancelledError (none can exist before asyncio is imported: it loads on demand)."""
    asyncio = sys.modules.get("asyncio")
    return asyncio is not None and isinstance(exc, asyncio.CancelledError)


_Traced: type | None = None
"""wrapt.FunctionWrapper for methods, coroutines, generators and other callables; made (and wrapt imported, with
asyncio and importlib.metadata) when the first such callable is traced: plain functions need neither."""


def _traced_type() -> type:
    global _Traced
    if _Traced is None:
        import wrapt

        class Traced(wrapt.FunctionWrapper):
            """A callable traced by agent-tracing."""

        _Traced = Traced
    return _Traced


def _unwrap_descriptor(func: Any) -> Callable[..., Any]:
    return func.__func__ if isinstance(func, (classmethod, staticmethod)) else func


def traced(func: F, spec: SpanSpec) -> F:
    """Wrap a function, method, coroutine or generator function so each call is a span."""
    target = _unwrap_descriptor(func)
    if isinstance(target, type):
        raise TypeError(f"@trace cannot wrap the class {target.__qualname__}; use tracing.trace_agent for classes")
    if not callable(target):
        raise TypeError(f"@trace needs a callable, got {type(target).__name__}")
    plan = _Plan(spec, target, span_name(spec.name or getattr(target, "__name__", None) or type(target).__name__))

    if inspect.isasyncgenfunction(target) or inspect.isgeneratorfunction(target):
        traced_stream = _traced_async_generator if inspect.isasyncgenfunction(target) else _traced_generator

        def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            stream = wrapped(*args, **kwargs)
            if suppressed.get():
                return stream
            return traced_stream(plan, stream, contextvars.copy_context(), instance is not None, args, kwargs)

    elif inspect.iscoroutinefunction(target):

        def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            coro = wrapped(*args, **kwargs)
            if suppressed.get():
                return coro
            return _traced_coroutine(plan, coro, instance is not None, args, kwargs)

    elif _is_plain_function(func):
        return _traced_function(plan, func)  # type: ignore[return-value]
    else:

        def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            if suppressed.get():
                return wrapped(*args, **kwargs)
            try:
                span, inputs = plan.open(_state.tracer or _runtime.ensure_tracer(), instance is not None, args, kwargs)
                token = _attach(_in_context(span))
            except Exception as exc:  # noqa: BLE001
                report("starting a span", exc)
                return wrapped(*args, **kwargs)
            try:
                result = wrapped(*args, **kwargs)
            except BaseException as exc:
                _detach(token)
                plan.fail(span, exc)
                raise
            _detach(token)
            if _STREAMS.get(type(result)) is not False and _produced(result, args, kwargs):
                return _returned_stream(plan, span, inputs, result)
            try:
                plan.close(span, inputs, result)
            except Exception as exc:  # noqa: BLE001
                report("ending a span", exc)
            return result

    return _traced_type()(func, wrapper)


_STREAMS: dict[type, bool] = {types.GeneratorType: True, types.AsyncGeneratorType: True}
"""Result types that are streams: generators, async generators, and built-in iterators (map, filter, zip, iter(...),
itertools), which have no API beyond iteration, so the traced generator that replaces them changes nothing the
caller can use. Other types are looked up once (see `_produced`)."""
_ITERATOR_MODULES = ("builtins", "itertools")


def _produced(result: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """Whether a result is a stream the call produced (not one of its arguments handed back); learns result types."""
    kind = type(result)
    known = _STREAMS.get(kind)
    if known is None:
        known = kind.__module__ in _ITERATOR_MODULES and hasattr(kind, "__next__")
        if len(_STREAMS) < 4096:
            _STREAMS[kind] = known
        if not known:
            return False
    return known and all(result is not arg for arg in args) and all(result is not arg for arg in kwargs.values())


def _iterate(iterator: Any) -> Any:
    """A built-in iterator as a generator (send, throw and close then behave as on any generator)."""
    return (yield from iterator)


def _returned_stream(plan: _Plan, span: Any, inputs: Any, result: Any) -> Any:
    """A stream returned by a callable that is not a generator function (a method wrapped by another decorator, a
    `functools.wraps` wrapper, MLflow's `@mlflow.trace`): the stream treatment of SPEC 3.3 in the span opened for the
    call, whose parent is the context the call was made in."""
    try:
        ctx = contextvars.copy_context()
        ctx.run(_attach, _in_context(span))
        stream = _Stream(plan, span, inputs)
    except Exception as exc:  # noqa: BLE001
        report("starting a span", exc)
        end_span(span)
        return result
    if type(result) is types.AsyncGeneratorType:
        return _traced_async_generator(plan, result, ctx, False, (), {}, stream)
    generator = result if type(result) is types.GeneratorType else _iterate(result)
    return _traced_generator(plan, generator, ctx, False, (), {}, stream)


def _is_plain_function(func: Any) -> bool:
    """A module-level or nested function (not one defined in a class body): traced by a plain function."""
    if not isinstance(func, types.FunctionType):
        return False
    parts = func.__qualname__.split(".")
    return len(parts) == 1 or parts[-2] == "<locals>"


def _traced_function(plan: _Plan, func: Callable[..., Any]) -> Callable[..., Any]:
    """A plain function traced by a plain function: one frame per call (wrapt's C call would add a second), so a
    traced recursive function keeps half its depth; and it pickles by name like the function it replaces."""
    open_span, close, fail = plan.open, plan.close, plan.fail

    def traced_call(*args: Any, **kwargs: Any) -> Any:
        if suppressed.get():
            return func(*args, **kwargs)
        try:
            span, inputs = open_span(_state.tracer or _runtime.ensure_tracer(), False, args, kwargs)
            token = _attach(_in_context(span))
        except RecursionError:
            return func(*args, **kwargs)  # at the recursion limit the innermost calls run untraced
        except Exception as exc:  # noqa: BLE001
            report("starting a span", exc)
            return func(*args, **kwargs)
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            _detach(token)
            fail(span, exc)
            raise
        _detach(token)
        if _STREAMS.get(type(result)) is not False and _produced(result, args, kwargs):
            return _returned_stream(plan, span, inputs, result)
        try:
            close(span, inputs, result)
        except RecursionError:
            pass  # at the recursion limit: the span ended (close ends it whatever happens), its output not recorded
        except Exception as exc:  # noqa: BLE001
            report("ending a span", exc)
        return result

    functools.update_wrapper(traced_call, func)
    traced_call.__agent_tracing_traced__ = True  # type: ignore[attr-defined]
    return traced_call


def is_traced(obj: Any) -> bool:
    """Whether a callable (or the function under a class/static method) is already traced."""
    target = _unwrap_descriptor(obj)
    if _Traced is not None and (isinstance(obj, _Traced) or isinstance(target, _Traced)):
        return True
    return isinstance(target, types.FunctionType) and target.__dict__.get("__agent_tracing_traced__") is True


@overload
def trace(func: F) -> F: ...


@overload
def trace(
    *,
    name: str | None = None,
    span_type: SpanType | str = SpanType.CHAIN,
    attributes: Mapping[str, Any] | None = None,
    output_reducer: Callable[[list[Any]], Any] | None = None,
    capture_inputs: bool = True,
    capture_outputs: bool = True,
    retriever_schema: str | None = None,
    description: str | None = None,
    parameters: Mapping[str, Any] | str | None = None,
) -> Callable[[F], F]: ...


def trace(
    func: Any = None,
    *,
    name: str | None = None,
    span_type: SpanType | str = SpanType.CHAIN,
    attributes: Mapping[str, Any] | None = None,
    output_reducer: Callable[[list[Any]], Any] | None = None,
    capture_inputs: bool = True,
    capture_outputs: bool = True,
    retriever_schema: str | None = None,
    description: str | None = None,
    parameters: Mapping[str, Any] | str | None = None,
) -> Any:
    """Trace every call of a function, method, coroutine or (async) generator as a span.

    Use bare (`@trace`) or with arguments (`@trace(span_type="TOOL")`). The span is named after the function,
    records the bound arguments as `input.value` and the result as `output.value`; a generator's chunks are
    aggregated into one output. The decorated callable behaves exactly as before (SPEC 3.1).

    Args:
        func: the callable, when used bare.
        name: the span name (default: the function's `__name__`; a RETRIEVER span's name finds its schema).
        span_type: a `SpanType` or its name (CHAIN by default).
        attributes: static attributes for every span, recorded as `Span.set_attribute` records them.
        output_reducer: `fn(chunks) -> output` replacing the built-in aggregation of a stream.
        capture_inputs: record `input.value` (False keeps arguments out of the span).
        capture_outputs: record `output.value` (and documents).
        retriever_schema: the schema name of a RETRIEVER or RERANKER span named otherwise.
        description: a TOOL's description (default: the docstring), as `tool.description`.
        parameters: a TOOL's parameters as a JSON schema (default: built from the signature), as `tool.parameters`.

    A callable that is not a generator function but returns a generator, async generator or built-in iterator it
    produced (a method wrapped by another decorator, a `functools.wraps` wrapper) is traced as a stream too.
    """
    spec = SpanSpec(
        name=name,
        span_type=span_type_name(span_type),
        attributes=dict(attributes) if attributes else None,
        output_reducer=output_reducer,
        capture_inputs=capture_inputs,
        capture_outputs=capture_outputs,
        retriever_schema=retriever_schema,
    )
    if func is not None:
        return traced(func, tool_spec(spec, func, description, parameters))
    return lambda target: traced(target, tool_spec(spec, target, description, parameters))
