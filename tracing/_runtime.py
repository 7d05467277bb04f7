"""The active tracing pipeline: configure(), the embedded default, flush and shutdown."""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanLimits, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from tracing import _serialize
from tracing._errors import logger, report
from tracing._settings import DEFAULT_TRACE_FILE, Settings, resolve

INSTRUMENTATION_NAME = "agent-tracing"
MAX_SPAN_ATTRIBUTES = 1024


class _State:
    """What every traced call reads: the tracer and settings of the active configuration."""

    __slots__ = ("tracer", "settings", "serializer", "provider", "owned", "generation", "memory", "guards",
                 "attribute_limit")

    def __init__(self) -> None:
        self.tracer: trace.Tracer | None = None
        self.settings = Settings()
        self.serializer = _serialize.current()
        self.provider: TracerProvider | None = None
        self.owned = False
        self.generation = 0
        self.memory: InMemorySpanExporter | None = None
        self.guards: list[_GuardedExporter] = []
        self.attribute_limit: int | None = None


state = _State()
_lock = threading.RLock()
_announced = False


class _GuardedExporter(SpanExporter):
    """An exporter whose failures are counted and logged once instead of escaping."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner
        self.keep_inner = False
        self._cause = f"exporter {type(inner).__name__}"

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        try:
            return self.inner.export(spans)
        except Exception as exc:  # noqa: BLE001 - an exporter must not take the pipeline down
            report(self._cause, exc)
            return SpanExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        try:
            return self.inner.force_flush(timeout_millis)
        except Exception as exc:  # noqa: BLE001
            report(self._cause, exc)
            return False

    def shutdown(self) -> None:
        if self.keep_inner:
            return
        try:
            self.inner.shutdown()
        except Exception as exc:  # noqa: BLE001
            report(self._cause, exc)


class _Fanout(SpanProcessor):
    """Our processors inside an application's provider, swapped as a whole on reconfiguration."""

    def __init__(self) -> None:
        self.delegates: tuple[SpanProcessor, ...] = ()

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        for delegate in self.delegates:
            delegate.on_start(span, parent_context=parent_context)

    def on_end(self, span: Any) -> None:
        for delegate in self.delegates:
            delegate.on_end(span)

    def swap(self, delegates: Sequence[SpanProcessor]) -> None:
        old, self.delegates = self.delegates, tuple(delegates)
        for delegate in old:
            delegate.shutdown()

    def shutdown(self) -> None:
        self.swap(())

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return all(delegate.force_flush(timeout_millis) for delegate in self.delegates)


_fanouts: weakref.WeakKeyDictionary[TracerProvider, _Fanout] = weakref.WeakKeyDictionary()


def _processor_for(item: Any, guards: list[_GuardedExporter]) -> SpanProcessor:
    if isinstance(item, SpanProcessor):
        return item
    if isinstance(item, SpanExporter):
        guard = _GuardedExporter(item)
        guards.append(guard)
        if isinstance(item, (InMemorySpanExporter, ConsoleSpanExporter)):
            return SimpleSpanProcessor(guard)
        return _batch(guard)
    if not isinstance(item, str):
        raise TypeError(f"exporters: expected a URI string, a SpanExporter or a SpanProcessor, got {type(item).__name__}")
    uri = item.strip()
    if uri == "memory":
        state.memory = InMemorySpanExporter()
        return SimpleSpanProcessor(state.memory)
    if uri == "console":
        return SimpleSpanProcessor(_GuardedExporter(ConsoleSpanExporter()))
    import exporters

    return _batch(_GuardedExporter(exporters.exporter_from_uri(uri)))


def _batch(exporter: SpanExporter) -> SpanProcessor:
    import exporters

    return exporters.batch_processor(exporter)


def _announce_default() -> None:
    global _announced
    if not _announced:
        _announced = True
        logger.warning(
            "agent-tracing: writing traces to %s (call tracing.configure() or set AGENT_TRACING_EXPORTERS to send them elsewhere)",
            os.path.abspath(DEFAULT_TRACE_FILE),
        )


def _attribute_limit() -> int:
    env_limit = os.environ.get("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "")
    return max(MAX_SPAN_ATTRIBUTES, int(env_limit)) if env_limit.isdigit() else MAX_SPAN_ATTRIBUTES


def _new_provider(settings: Settings) -> TracerProvider:
    attributes: dict[str, Any] = dict(settings.resource_attributes)
    if settings.service_name:
        attributes[SERVICE_NAME] = settings.service_name
    sampler = None if settings.sample_ratio is None else ParentBased(TraceIdRatioBased(settings.sample_ratio))
    return TracerProvider(
        resource=Resource.create(attributes),
        sampler=sampler,
        span_limits=SpanLimits(max_span_attributes=_attribute_limit(), max_attribute_length=settings.max_attribute_length + 64),
    )


def _install(settings: Settings, *, explicit: bool) -> TracerProvider:
    serializer = _serialize.Serializer(settings.max_attribute_length, settings.redact)
    guards: list[_GuardedExporter] = []
    processors = [_processor_for(item, guards) for item in settings.exporters or ()]
    reused = {id(guard.inner) for guard in guards}
    for old in state.guards:
        old.keep_inner = id(old.inner) in reused
    previous = state.provider if state.owned else None
    global_provider = trace.get_tracer_provider()
    if isinstance(global_provider, TracerProvider):
        provider = global_provider
        fanout = _fanouts.get(provider)
        if fanout is None:
            fanout = _fanouts[provider] = _Fanout()
            provider.add_span_processor(fanout)
        fanout.swap(processors)
    else:
        provider = _new_provider(settings)
        if not processors:
            import exporters

            processors = [_batch(_GuardedExporter(exporters.FileSpanExporter(DEFAULT_TRACE_FILE)))]
            _announce_default()
        for processor in processors:
            provider.add_span_processor(processor)
        if explicit and isinstance(global_provider, trace.ProxyTracerProvider):
            trace.set_tracer_provider(_GlobalProvider())
    if previous is not None and previous is not provider:
        previous.shutdown()
    _serialize.use(serializer)
    state.settings = settings
    state.serializer = serializer
    state.provider = provider
    state.owned = provider is not global_provider
    state.attribute_limit = _attribute_limit() if state.owned else None
    state.guards = guards
    state.generation += 1
    state.tracer = provider.get_tracer(INSTRUMENTATION_NAME, _version())
    return provider


class _GlobalProvider(trace.TracerProvider):
    """The global provider we install: it follows every reconfiguration, so other instrumentation does too."""

    def get_tracer(self, instrumenting_module_name: str, *args: Any, **kwargs: Any) -> trace.Tracer:
        return _FollowingTracer((instrumenting_module_name, *args), kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(_active_provider(), name)


def _active_provider() -> TracerProvider:
    if state.provider is None:
        ensure_tracer()
    return state.provider  # type: ignore[return-value]


class _FollowingTracer(trace.Tracer):
    """A tracer that starts its spans on whichever provider is active."""

    def __init__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self._args, self._kwargs = args, kwargs
        self._provider: TracerProvider | None = None
        self._tracer: trace.Tracer | None = None

    def _current(self) -> trace.Tracer:
        provider = _active_provider()
        if provider is not self._provider or self._tracer is None:
            self._provider, self._tracer = provider, provider.get_tracer(*self._args, **self._kwargs)
        return self._tracer

    def start_span(self, *args: Any, **kwargs: Any) -> trace.Span:
        return self._current().start_span(*args, **kwargs)

    def start_as_current_span(self, *args: Any, **kwargs: Any) -> Any:
        return self._current().start_as_current_span(*args, **kwargs)


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("agent-tracing")
    except Exception:  # noqa: BLE001 - running from a source tree without metadata
        return "0.0.0"


def configure(
    service_name: str | None = None,
    exporters: Sequence[Any] | str | None = None,
    *,
    config: Mapping[str, Any] | str | os.PathLike[str] | None = None,
    sample_ratio: float | None = None,
    capture_content: bool | None = None,
    redact: Any = None,
    conventions: Any = None,
    max_attribute_length: int | None = None,
    resource_attributes: Mapping[str, Any] | None = None,
) -> TracerProvider:
    """Set up (or replace) the tracing pipeline: arguments > config > environment > defaults."""
    settings = resolve(
        {
            "service_name": service_name,
            "exporters": exporters,
            "sample_ratio": sample_ratio,
            "capture_content": capture_content,
            "redact": redact,
            "conventions": conventions,
            "max_attribute_length": max_attribute_length,
            "resource_attributes": resource_attributes,
        },
        config,
    )
    with _lock:
        return _install(settings, explicit=True)


def ensure_tracer() -> trace.Tracer:
    """The active tracer, setting up the embedded default on first use."""
    with _lock:
        if state.tracer is None:
            try:
                _install(resolve({}), explicit=False)
            except Exception as exc:  # noqa: BLE001 - a bad environment must not break the traced call
                report("configuration from the environment", exc)
                _install(Settings(), explicit=False)
        return state.tracer  # type: ignore[return-value]


def force_flush(timeout_s: float = 30) -> bool:
    """Export every finished span now; False if the timeout passed first."""
    provider = state.provider
    return True if provider is None else provider.force_flush(int(timeout_s * 1000))


def shutdown() -> None:
    """Flush and stop the pipeline; the next traced call sets up the default again."""
    with _lock:
        provider = state.provider
        if provider is not None and state.owned:
            provider.shutdown()
        elif provider is not None and provider in _fanouts:
            _fanouts[provider].shutdown()
        state.tracer = None
        state.provider = None
        state.owned = False
        state.generation += 1
