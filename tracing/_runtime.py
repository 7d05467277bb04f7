"""The active tracing pipeline: configure(), the embedded default, flush and shutdown."""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanLimits, SpanProcessor, SynchronousMultiSpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

import exporters
from exporters import GuardedExporter
from tracing._errors import logger, report
from tracing._recorder import Recorder
from tracing._settings import DEFAULT_TRACE_FILE, Settings, resolve
from tracing._version import __version__

INSTRUMENTATION_NAME = "agent-tracing"
MAX_SPAN_ATTRIBUTES = 1024


class _State:
    """What every traced call reads: the tracer and settings of the active configuration."""

    __slots__ = ("tracer", "settings", "recorder", "provider", "owned", "generation", "memory", "guards")

    def __init__(self) -> None:
        self.tracer: trace.Tracer | None = None
        self.settings = Settings()
        self.recorder = Recorder(self.settings)
        self.provider: TracerProvider | None = None
        self.owned = False
        self.generation = 0
        self.memory: InMemorySpanExporter | None = None
        self.guards: list[GuardedExporter] = []


state = _State()
_lock = threading.RLock()
_announced = False


class _Fanout(SpanProcessor):
    """Our processors inside an application's provider: one SDK multi-span processor, swapped whole on reconfiguration."""

    def __init__(self) -> None:
        self.active = SynchronousMultiSpanProcessor()

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        self.active.on_start(span, parent_context=parent_context)

    def _on_ending(self, span: Any) -> None:
        self.active._on_ending(span)

    def on_end(self, span: Any) -> None:
        self.active.on_end(span)

    def swap(self, processors: Sequence[SpanProcessor]) -> SynchronousMultiSpanProcessor:
        """Put these processors in place; the previous ones are returned, still running, for the caller to shut down."""
        replacement = SynchronousMultiSpanProcessor()
        for processor in processors:
            replacement.add_span_processor(processor)
        previous, self.active = self.active, replacement
        return previous

    def shutdown(self) -> None:
        self.swap(()).shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.active.force_flush(timeout_millis)


_fanouts: weakref.WeakKeyDictionary[TracerProvider, _Fanout] = weakref.WeakKeyDictionary()


def _processor_for(item: Any, guards: list[GuardedExporter], settings: Settings) -> SpanProcessor:
    if isinstance(item, SpanProcessor):
        return item
    if isinstance(item, SpanExporter):
        guard = GuardedExporter(item)
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
        return SimpleSpanProcessor(GuardedExporter(ConsoleSpanExporter()))
    return _batch(GuardedExporter(exporters.exporter_from_uri(uri, protocol=settings.otlp_protocol)))


def _batch(exporter: SpanExporter) -> SpanProcessor:
    return exporters.batch_processor(exporter)


def _announce_default() -> None:
    global _announced
    if not _announced:
        _announced = True
        logger.warning(
            "writing traces to %s (call tracing.configure() or set AGENT_TRACING_EXPORTERS to send them elsewhere)",
            os.path.abspath(DEFAULT_TRACE_FILE),
        )


def _attribute_limit(settings: Settings) -> int:
    return max(MAX_SPAN_ATTRIBUTES, settings.span_attribute_count_limit or 0)


def _new_provider(settings: Settings) -> TracerProvider:
    attributes: dict[str, Any] = dict(settings.resource_attributes)
    if settings.service_name:
        attributes[SERVICE_NAME] = settings.service_name
    sampler = None if settings.sample_ratio is None else ParentBased(TraceIdRatioBased(settings.sample_ratio))
    return TracerProvider(
        resource=Resource.create(attributes),
        sampler=sampler,
        span_limits=SpanLimits(max_span_attributes=_attribute_limit(settings), max_attribute_length=settings.max_attribute_length + 64),
    )


def _install(settings: Settings, *, explicit: bool) -> TracerProvider:
    """Build the pipeline of these settings and put it in place; then drain and stop the previous one."""
    guards: list[GuardedExporter] = []
    processors = [_processor_for(item, guards, settings) for item in settings.exporters or ()]
    reused = {id(guard.inner) for guard in guards}
    for old in state.guards:
        old.keep_open = id(old.inner) in reused
    previous_provider = state.provider if state.owned else None
    previous_processors: SpanProcessor | None = None
    global_provider = trace.get_tracer_provider()
    if isinstance(global_provider, TracerProvider):
        provider = global_provider
        fanout = _fanouts.get(provider)
        if fanout is None:
            fanout = _fanouts[provider] = _Fanout()
            provider.add_span_processor(fanout)
        previous_processors = fanout.swap(processors)
    else:
        provider = _new_provider(settings)
        if not processors:
            processors = [_batch(GuardedExporter(exporters.FileSpanExporter(DEFAULT_TRACE_FILE)))]
            _announce_default()
        for processor in processors:
            provider.add_span_processor(processor)
        if explicit and isinstance(global_provider, trace.ProxyTracerProvider):
            trace.set_tracer_provider(_GlobalProvider())
    owned = provider is not global_provider
    state.recorder = Recorder(settings, _attribute_limit(settings) if owned else None)
    state.settings = settings
    state.provider = provider
    state.owned = owned
    state.guards = guards
    state.generation += 1
    state.tracer = provider.get_tracer(INSTRUMENTATION_NAME, __version__)
    if previous_processors is not None:
        previous_processors.shutdown()
    if previous_provider is not None and previous_provider is not provider:
        previous_provider.shutdown()
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
    """Set up (or replace) the tracing pipeline and return its TracerProvider.

    Each setting comes from the argument, else `config`, else the environment (`AGENT_TRACING_*` and the standard
    `OTEL_*` variables), else the default. A bad value raises ValueError naming its source and field. The new
    pipeline is in place before the previous one is flushed and shut down.

    Args:
        service_name: the resource's `service.name`.
        exporters: URIs (`file://PATH`, `*.jsonl`, `otlp://HOST:4317`, `otlp+http://HOST:4318`, `http(s)://.../v1/traces`,
            `console`, `memory`), SDK `SpanExporter` or `SpanProcessor` objects, or a comma-separated string of URIs.
        config: a dict of these settings, or the path of a YAML file holding them.
        sample_ratio: keep this fraction of traces (head sampling, parent based).
        capture_content: False keeps inputs, outputs and document text out of spans.
        redact: True/False, a list of extra secret-key patterns, or {"keys", "values", "callback"}.
        conventions: "openinference", "genai" or both (a list or comma-separated string).
        max_attribute_length: the longest text an attribute may hold (cut with a visible marker).
        resource_attributes: more resource attributes.
    """
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
