"""Agent classes traced automatically: ``ResponsesAgent`` subclasses and ``@trace_agent`` classes."""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any, Literal, TypeVar

import wrapt
from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace

from tracing import _runtime, keys
from tracing._decorator import SpanSpec, is_traced, traced
from tracing._errors import report
from tracing._mlflow import instrument_mlflow_agent, is_mlflow_agent
from tracing._propagation import extract
from tracing._responses import (
    ResponsesAgentRequest,
    ResponsesAgentResponse,
    ResponsesAgentStreamEvent,
    create_annotation_added,
    create_function_call_item,
    create_function_call_output_item,
    create_reasoning_item,
    create_text_delta,
    create_text_output_item,
    output_to_responses_items_stream,
    prep_msgs_for_cc_llm,
    responses_agent_output_reducer,
)
from tracing._stream import get_field

C = TypeVar("C", bound=type)
StreamErrors = Literal["raise", "event"]
_AGENT_METHODS = ("predict", "predict_stream")
_STREAM_ERRORS = ("raise", "event")
_ERROR_CODE = "server_error"


class _AgentMethod(wrapt.FunctionWrapper):
    """An agent entry point: request validated, remote trace continued, call traced as an AGENT span."""


_running_agent: ContextVar[str | None] = ContextVar("agent_tracing_running_agent", default=None)
"""The runtime class of the agent whose entry point is being called (its AGENT span's `gen_ai.agent.name`)."""


def _agent_attributes(defining: str, inputs: dict[str, Any]) -> Mapping[str, Any]:
    """The agent's runtime class (else the class defining the method), and the conversation and user of the
    request (the first argument)."""
    context = get_field(next(iter(inputs.values()), None), "context")
    return _runtime.state.recorder.agent_attributes(_running_agent.get() or defining,
                                                    get_field(context, "conversation_id"), get_field(context, "user_id"))


def _agent_name(instance: Any) -> str | None:
    """The name of the class an entry point was called on (an instance's class, or the class of a classmethod)."""
    if instance is None:
        return None
    return (instance if isinstance(instance, type) else type(instance)).__name__


def _describe(exc: BaseException) -> str:
    """``Type: message`` of an exception, or its type alone when it cannot be printed."""
    try:
        return f"{type(exc).__name__}: {exc}"
    except Exception:
        return type(exc).__name__


def _error_event(exc: Exception) -> ResponsesAgentStreamEvent:
    """The in-band error event ending a stream whose agent raised (MLflow and OpenAI readers both find it)."""
    message = _describe(exc)
    error = {"code": _ERROR_CODE, "message": message}
    return ResponsesAgentStreamEvent.model_validate({"type": "error", "error": error, **error})


def _errors_as_events(stream: Iterator[Any]) -> Iterator[Any]:
    """Yield a stream; an exception ends it with an error event instead of propagating."""
    try:
        return (yield from stream)
    except Exception as exc:
        yield _error_event(exc)


async def _async_errors_as_events(stream: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """Yield an async stream; an exception ends it with an error event instead of propagating."""
    try:
        async for event in stream:
            yield event
    except Exception as exc:
        yield _error_event(exc)
    finally:
        close = getattr(stream, "aclose", None)
        if close is not None:
            await close()


def _request_parameter(func: Callable[..., Any]) -> tuple[str | None, Any]:
    """The name and annotation of the request parameter (the first one after self)."""
    try:
        parameters = list(inspect.signature(func).parameters.values())[1:]
    except (TypeError, ValueError):
        return None, None
    if not parameters:
        return None, None
    annotation = parameters[0].annotation
    if isinstance(annotation, str):
        annotation = getattr(func, "__globals__", {}).get(annotation.rsplit(".", 1)[-1], annotation)
    return parameters[0].name, annotation


def _in_context(remote: otel_context.Context, call: Callable[[], Any]) -> Any:
    """Call with a remote trace context attached."""
    token = otel_context.attach(remote)
    try:
        return call()
    finally:
        otel_context.detach(token)


async def _awaited_in(remote: otel_context.Context | None, agent: str | None, awaitable: Any) -> Any:
    """Await with a remote trace context (when given) attached and the agent's runtime class noted."""
    token = otel_context.attach(remote) if remote is not None else None
    running = _running_agent.set(agent)
    try:
        return await awaitable
    finally:
        _running_agent.reset(running)
        if token is not None:
            otel_context.detach(token)


def _remote_parent(request: Any) -> otel_context.Context | None:
    """The trace context in the request's custom_inputs, when no local span is active."""
    custom_inputs = get_field(request, "custom_inputs")
    if not custom_inputs:
        return None
    # MLflow's no-op span (what it starts when it cannot trace) has no span context at all.
    local = otel_trace.get_current_span().get_span_context()
    if local is not None and local.is_valid:
        return None
    if not isinstance(custom_inputs, dict) or "traceparent" not in custom_inputs:
        return None
    return extract(custom_inputs)


def _entry_layer(
    func: Callable[..., Any], validate: bool, stream_errors: str | None
) -> Callable[[Any, Any, tuple[Any, ...], dict[str, Any]], Any]:
    """The outer wrapper of an agent method: dict request validated, remote trace continued, stream errors."""
    name, _ = _request_parameter(func)
    is_coroutine = inspect.iscoroutinefunction(func)
    convert: Callable[[Any], Any] | None = None
    if inspect.isasyncgenfunction(func):
        convert = _async_errors_as_events
    elif inspect.isgeneratorfunction(func):
        convert = _errors_as_events

    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        request = None
        if args:
            request = args[0]
            if validate and isinstance(request, dict):
                request = ResponsesAgentRequest.model_validate(request)
                args = (request, *args[1:])
        elif name is not None and name in kwargs:
            request = kwargs[name]
            if validate and isinstance(request, dict):
                request = kwargs[name] = ResponsesAgentRequest.model_validate(request)
        try:
            remote = _remote_parent(request)
        except Exception as exc:
            report("continuing a trace from custom_inputs", exc)
            remote = None
        agent = _agent_name(instance)
        if is_coroutine:
            return _awaited_in(remote, agent, wrapped(*args, **kwargs))
        running = _running_agent.set(agent)
        try:
            if remote is None:
                result = wrapped(*args, **kwargs)
            else:
                result = _in_context(remote, lambda: wrapped(*args, **kwargs))
        finally:
            _running_agent.reset(running)
        if convert is not None:
            mode = stream_errors if stream_errors is not None else getattr(instance, "stream_errors", "raise")
            if mode == "event":
                return convert(result)
        return result

    return wrapper


def _instrument(cls: type, name: str, validate: bool, stream_errors: str | None) -> None:
    """Replace ``cls.name`` with its traced agent version, unless it is already one."""
    raw = inspect.getattr_static(cls, name, None)
    descriptor = type(raw) if isinstance(raw, (staticmethod, classmethod)) else None
    func = raw.__func__ if descriptor is not None else raw
    if func is None or isinstance(func, _AgentMethod) or not callable(func):
        return
    target = func
    if not is_traced(func):
        spec = SpanSpec(
            name=f"{cls.__name__}.{name}",
            span_type=keys.SpanType.AGENT.value,
            input_hook=functools.partial(_agent_attributes, cls.__name__),
        )
        target = traced(target, spec)
    if not validate:
        validate = _request_parameter(func)[1] is ResponsesAgentRequest
    method = _AgentMethod(target, _entry_layer(func, validate, stream_errors))
    setattr(cls, name, descriptor(method) if descriptor is not None else method)


def _instrument_under_mlflow(cls: type, stream_errors: str | None) -> tuple[str, ...]:
    """Our AGENT spans inside MLflow's own layers of an MLflow ResponsesAgent subclass (see tracing._mlflow)."""
    saved = {name: cls.__dict__[name] for name in _AGENT_METHODS if name in cls.__dict__}
    try:
        return instrument_mlflow_agent(cls, lambda target, name: _instrument(target, name, False, stream_errors))
    except Exception as exc:  # noqa: BLE001 - an MLflow we do not know: trace it from outside instead
        report("tracing an MLflow ResponsesAgent", exc)
        for name, raw in saved.items():
            setattr(cls, name, raw)
        return ()


def trace_agent(
    cls: C | None = None,
    *,
    methods: Iterable[str] = (),
    stream_errors: StreamErrors | None = None,
) -> Any:
    """Class decorator: trace ``predict``, ``predict_stream`` and ``methods`` of any class as AGENT spans.

    Use bare (`@trace_agent`) or with arguments. A dict request is validated into `ResponsesAgentRequest` when the
    class is a `ResponsesAgent` or its method annotates the request so; a `traceparent` in `custom_inputs` is continued.

    Args:
        cls: the class, when used bare.
        methods: more method names to trace as entry points.
        stream_errors: "raise" (default) re-raises a streaming method's exception; "event" ends the stream with an
            error event instead, for serving layers that report errors in-band.
    """
    if stream_errors is not None and stream_errors not in _STREAM_ERRORS:
        raise ValueError(f"stream_errors must be one of {_STREAM_ERRORS}, got {stream_errors!r}")
    names = tuple(dict.fromkeys((*_AGENT_METHODS, *methods)))

    def decorate(target: C) -> C:
        if not isinstance(target, type):
            raise TypeError(f"trace_agent decorates classes, got {type(target).__name__}")
        done: tuple[str, ...] = ()
        if is_mlflow_agent(target):
            done = _instrument_under_mlflow(target, stream_errors)
        for name in names:
            if name not in done:
                _instrument(target, name, validate=issubclass(target, ResponsesAgent), stream_errors=stream_errors)
        return target

    return decorate(cls) if cls is not None else decorate


class ResponsesAgent:
    """Base class of agents on the Responses schema: subclasses' ``predict`` and ``predict_stream`` are traced."""

    stream_errors: StreamErrors = "raise"

    create_text_delta = staticmethod(create_text_delta)
    create_text_output_item = staticmethod(create_text_output_item)
    create_function_call_item = staticmethod(create_function_call_item)
    create_function_call_output_item = staticmethod(create_function_call_output_item)
    create_reasoning_item = staticmethod(create_reasoning_item)
    create_annotation_added = staticmethod(create_annotation_added)
    prep_msgs_for_cc_llm = staticmethod(prep_msgs_for_cc_llm)
    output_to_responses_items_stream = staticmethod(output_to_responses_items_stream)
    responses_agent_output_reducer = staticmethod(responses_agent_output_reducer)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Trace the subclass's own ``predict`` and ``predict_stream``."""
        super().__init_subclass__(**kwargs)
        for name in _AGENT_METHODS:
            if name in cls.__dict__:
                _instrument(cls, name, validate=True, stream_errors=None)

    def predict(self, request: ResponsesAgentRequest) -> ResponsesAgentResponse:
        """Answer a request with output items; subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__} does not implement predict")

    def predict_stream(self, request: ResponsesAgentRequest) -> Iterator[ResponsesAgentStreamEvent]:
        """Answer a request as a stream of events; subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__} does not implement predict_stream")
