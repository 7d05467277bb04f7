"""Living beside MLflow, when the user imported it: its ResponsesAgent's own tracing and its retriever schemas.

Nothing here imports MLflow: every lookup goes through `sys.modules`, so an application that never imported MLflow
pays nothing and never loads it.

MLflow's `ResponsesAgent.__init_subclass__` wraps a subclass's `predict` and `predict_stream` in `mlflow.trace`
(an AGENT span in MLflow's own trace) and a pydantic validation wrapper. `trace_agent` puts our AGENT span
*inside* those layers, around the user's own function:

    MLflow's validation -> MLflow's span -> our AGENT span -> the user's predict / predict_stream

so MLflow's span stays the root of the request (MLflow can start a span only under a span it knows: under a
foreign root it silently starts a no-op span that cuts every later span off its trace), the user's
`predict_stream` is still a generator function (streamed, aggregated, nested: our generator fast path), and
everything traced inside nests under our span.
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace

from tracing._errors import report

_MLFLOW_AGENT_METHODS = ("predict", "predict_stream")


def mlflow_responses_agent() -> type | None:
    """MLflow's `ResponsesAgent` base class when the application imported it, else None (MLflow is never imported here)."""
    module = sys.modules.get("mlflow.pyfunc.model")
    base = getattr(module, "ResponsesAgent", None) if module is not None else None
    return base if isinstance(base, type) else None


def is_mlflow_agent(cls: type) -> bool:
    """Whether `cls` subclasses MLflow's `ResponsesAgent`."""
    base = mlflow_responses_agent()
    return base is not None and isinstance(cls, type) and issubclass(cls, base) and cls is not base


def mlflow_wrapped_original(raw: Any) -> Callable[..., Any] | None:
    """The user's function under MLflow's automatic wrappers (validation, `mlflow.trace`), or None if not so wrapped."""
    if raw is None or not getattr(raw, "__mlflow_traced__", False):
        return None
    func = raw
    for _ in range(8):
        if not _own_flag(func):
            return func
        inner = getattr(func, "__wrapped__", None)
        if inner is None:
            return None
        func = inner
    return None


def _own_flag(func: Any) -> bool:
    """Whether this very object (not an object it proxies) carries MLflow's traced flag."""
    try:
        return bool(vars(func).get("__mlflow_traced__", False))
    except TypeError:
        return False


def mlflow_owns_current_span(name: str) -> bool:
    """Whether MLflow, routed into the OpenTelemetry context (`MLFLOW_USE_DEFAULT_TRACER_PROVIDER=false`), just opened
    the current span for the method `name`: then MLflow's span is the method's span and we step aside.

    In that mode MLflow takes its parents from the OpenTelemetry context and can start a span only under a span its
    own processor saw, so a span of ours between two of its spans would cut the request into several traces.
    """
    span = otel_trace.get_current_span()
    if not span.is_recording() or getattr(span, "name", None) != name:
        return False
    scope = getattr(span, "instrumentation_scope", None)
    if not str(getattr(scope, "name", "")).startswith("mlflow"):
        return False
    variables = sys.modules.get("mlflow.environment_variables")
    flag = getattr(variables, "MLFLOW_USE_DEFAULT_TRACER_PROVIDER", None)
    try:
        return flag is not None and not flag.get()
    except Exception:  # noqa: BLE001 - a malformed variable: MLflow itself will complain
        return False


def mlflow_parent(args: tuple[Any, ...], kwargs: dict[str, Any]) -> otel_context.Context | None:
    """A context whose current span is MLflow's active span, when ours should nest under it; else None.

    With MLflow's tracing in its own context (its default), MLflow's span of this call is invisible to OpenTelemetry,
    so our AGENT span would start a second, unrelated trace of the same request. It nests under MLflow's span
    instead (one trace id in both backends), unless an OpenTelemetry span is current (a parent of our own, or
    MLflow's propagated one) or the request continues a remote trace (`traceparent` in `custom_inputs`).
    """
    current = otel_trace.get_current_span().get_span_context()
    if current is not None and current.is_valid:
        return None
    mlflow = sys.modules.get("mlflow")
    active = getattr(mlflow, "get_current_active_span", None)
    if active is None:
        return None
    span = active()
    otel_span = getattr(span, "_span", None)
    context = otel_span.get_span_context() if otel_span is not None else None
    if context is None or not context.is_valid:
        return None
    request = args[0] if args else next(iter(kwargs.values()), None)
    custom = getattr(request, "custom_inputs", None) if not isinstance(request, dict) else request.get("custom_inputs")
    if isinstance(custom, dict) and "traceparent" in custom:
        return None
    parent = otel_trace.SpanContext(context.trace_id, context.span_id, is_remote=False, trace_flags=context.trace_flags)
    return otel_trace.set_span_in_context(otel_trace.NonRecordingSpan(parent))


def _under_mlflow(call: Callable[[], Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Make the call (which starts our span, or creates our stream) under MLflow's active span when it should nest."""
    try:
        parent = mlflow_parent(args, kwargs)
    except Exception as exc:  # noqa: BLE001 - an MLflow we cannot read: our span starts its own trace
        report("finding MLflow's span", exc)
        parent = None
    if parent is None:
        return call()
    token = otel_context.attach(parent)
    try:
        return call()
    finally:
        otel_context.detach(token)


def trampoline(method: Any, original: Callable[..., Any]) -> Callable[..., Any]:
    """A plain function of (self, *args) calling our bound agent method, of the same kind as `original`.

    MLflow's wrappers call what they wrap as a function with `self` first and choose how to trace it by its kind
    (generator function or not), so they get a function of the same kind that binds our method to `self`. When
    MLflow's span of this call is the current OpenTelemetry span (`mlflow_owns_current_span`), the user's function
    is called directly.
    """
    name = getattr(original, "__name__", "")

    def target(self: Any) -> Any:
        if mlflow_owns_current_span(name):
            return original.__get__(self, type(self))
        bound = method.__get__(self, type(self))
        return lambda *args, **kwargs: _under_mlflow(lambda: bound(*args, **kwargs), args, kwargs)

    if inspect.isasyncgenfunction(original):

        async def call_async_stream(self: Any, *args: Any, **kwargs: Any) -> Any:
            stream = target(self)(*args, **kwargs)
            try:
                async for item in stream:
                    yield item
            finally:
                close = getattr(stream, "aclose", None)
                if close is not None:
                    await close()

        call: Callable[..., Any] = call_async_stream
    elif inspect.isgeneratorfunction(original):

        def call_stream(self: Any, *args: Any, **kwargs: Any) -> Any:
            return (yield from target(self)(*args, **kwargs))

        call = call_stream
    elif inspect.iscoroutinefunction(original):

        async def call_coroutine(self: Any, *args: Any, **kwargs: Any) -> Any:
            return await target(self)(*args, **kwargs)

        call = call_coroutine
    else:

        def call_function(self: Any, *args: Any, **kwargs: Any) -> Any:
            return target(self)(*args, **kwargs)

        call = call_function
    functools.update_wrapper(call, original)
    vars(call).pop("__wrapped__", None)
    call.__agent_tracing_trampoline__ = True  # type: ignore[attr-defined]
    return call


def instrument_mlflow_agent(cls: type, instrument: Callable[[type, str], None]) -> tuple[str, ...]:
    """Put our AGENT spans under MLflow's own wrappers of `predict` and `predict_stream`; the names handled.

    `instrument(cls, name)` replaces `cls.name` (a plain function again) with our traced agent method. MLflow's
    `__init_subclass__` is then run again on the class, so MLflow wraps our methods exactly as it wraps the user's,
    whatever its version.
    """
    base = mlflow_responses_agent()
    if base is None:
        return ()
    handled, rewrapped = [], []
    for name in _MLFLOW_AGENT_METHODS:
        original = mlflow_wrapped_original(cls.__dict__.get(name))
        if original is None:
            continue
        handled.append(name)
        if getattr(original, "__agent_tracing_trampoline__", False):
            continue  # traced already (trace_agent applied twice)
        setattr(cls, name, original)
        instrument(cls, name)
        setattr(cls, name, trampoline(cls.__dict__[name], original))
        rewrapped.append(name)
    if rewrapped:
        hook = base.__dict__.get("__init_subclass__")
        func = getattr(hook, "__func__", hook)
        if callable(func):
            func(cls)
    return tuple(handled)


def mlflow_retriever_schemas() -> list[dict[str, Any]]:
    """The retriever schemas registered with `mlflow.models.set_retriever_schema`, when the user imported MLflow."""
    module = sys.modules.get("mlflow.models.dependencies_schemas")
    schemas = getattr(module, "retrievers", None) if module is not None else None
    return [schema for schema in schemas if isinstance(schema, dict)] if isinstance(schemas, list) else []


def mlflow_retriever_schema(name: str) -> dict[str, Any] | None:
    """MLflow's registration for the retriever `name` (its fields: primary_key, text_column, doc_uri, other_columns)."""
    for schema in mlflow_retriever_schemas():
        if schema.get("name") == name:
            return schema
    return None
