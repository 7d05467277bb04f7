"""The active tracing pipeline: configure(), the embedded default, flush and shutdown."""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import itertools
import os
import signal
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeGuard

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
from tracing._errors import logger, report
from tracing._recorder import MARKER_ROOM, Recorder
from tracing._settings import DEFAULT_TRACE_FILE, Sampling, Settings, resolve
from tracing._version import __version__

if TYPE_CHECKING:
    from exporters import CountingBatchSpanProcessor, GuardedExporter

INSTRUMENTATION_NAME = "agent-tracing"
MAX_SPAN_ATTRIBUTES = 1024


EXIT_TIMEOUT_S = 5.0
"""At interpreter (or multiprocessing child) exit, how long the flush of finished spans may take."""
SHUTDOWN_TIMEOUT_S = 10.0
"""How long `shutdown()` and a replaced pipeline may take to drain (the batch processor's own bound, which a test
checks: its module loads with the first exporter, not with `import tracing`)."""


class _State:
    """What every traced call reads: the tracer and settings of the active configuration."""

    __slots__ = ("tracer", "settings", "recorder", "provider", "owned", "generation", "memory", "guards", "pipeline",
                 "explicit", "forked")

    def __init__(self) -> None:
        self.tracer: trace.Tracer | None = None
        self.settings = Settings()
        self.recorder = Recorder(self.settings)
        self.provider: TracerProvider | None = None
        self.owned = False
        self.generation = 0
        self.memory: InMemorySpanExporter | None = None
        self.guards: list[GuardedExporter] = []
        self.pipeline: _Pipeline | None = None
        self.explicit = False
        self.forked = False


state = _State()
_lock = threading.RLock()
_announced = False
_late_dropped = 0


class SpanAfterShutdown(RuntimeError):
    """A span ended after tracing.shutdown(); it was dropped and counted."""


class _Pipeline(SpanProcessor):
    """The span processors of one configuration behind a gate. Once retired (a new configuration, shutdown, fork),
    spans that still start or end here go to the active pipeline, or are counted as dropped; `retire` waits for the
    spans already inside to pass before it drains, so reconfiguring under load loses no span uncounted."""

    def __init__(self, processors: Sequence[SpanProcessor], sampling: Sampling | None = None,
                 previous: _Pipeline | None = None) -> None:
        self.processors = list(processors)
        self.multi = SynchronousMultiSpanProcessor()
        for processor in self.processors:
            self.multi.add_span_processor(processor)
        self.sampler = None if sampling is None else _tail_sampler(self.multi, sampling)
        self.entry: SpanProcessor = self.multi if self.sampler is None else self.sampler
        if self.sampler is not None and previous is not None and previous.sampler is not None:
            self.sampler.take_over(previous.sampler)
        self.retired = False
        self.forked_at: int | None = None
        self._entered = itertools.count()
        self._left = itertools.count()

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        next(self._entered)
        try:
            if self.retired:
                active = _successor(self)
                if active is not None:
                    active.on_start(span, parent_context)
            else:
                self.entry.on_start(span, parent_context=parent_context)
        finally:
            next(self._left)

    def _on_ending(self, span: Any) -> None:
        next(self._entered)
        try:
            if not self.retired:
                self.multi._on_ending(span)
        finally:
            next(self._left)

    def on_end(self, span: Any) -> None:
        next(self._entered)
        try:
            if self.retired:
                self.late(span)
            else:
                self.entry.on_end(span)
        finally:
            next(self._left)

    def late(self, span: Any) -> None:
        """A span ending after this pipeline was retired: to the active pipeline, or counted as dropped."""
        if self.forked_at is not None and (span.start_time or 0) < self.forked_at:
            return  # started before fork: the parent's copy of this span is exported by the parent
        if self.sampler is not None and self.sampler.decision(span) is False:
            return  # its trace was dropped by tail sampling (counted there)
        active = _successor(self)
        if active is not None:
            active.on_end(span)
            return
        global _late_dropped
        _late_dropped += 1
        report("span ended after shutdown", SpanAfterShutdown("a span ended after tracing.shutdown(); it is dropped and counted"))

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.entry.force_flush(timeout_millis)

    def shutdown(self) -> None:
        self.retire(time.monotonic() + SHUTDOWN_TIMEOUT_S)

    def retire(self, deadline: float, keep: Sequence[SpanProcessor] = ()) -> None:
        """Send new spans elsewhere, wait for those inside to pass, then drain and stop the processors by `deadline`."""
        if self.retired and self.forked_at is None and not self.processors:
            return
        self.retired = True
        self._quiet(deadline)
        if self.sampler is not None:
            self.sampler.settle()
        processors, self.processors = self.processors, []
        kept = {id(processor) for processor in keep}
        ours = [p for p in processors if _is_counting(p) and id(p) not in kept]
        for counting in ours:
            counting.on_late = self.late
            counting.begin_shutdown(deadline)
        for processor in processors:
            if id(processor) in kept:
                continue
            try:
                if _is_counting(processor):
                    processor.finish_shutdown(deadline)
                else:
                    processor.shutdown()
            except Exception as exc:  # noqa: BLE001 - SPEC 3.2
                report("span processor shutdown", exc)

    def abandon(self) -> None:
        """In a forked child: spans started before the fork are the parent's; nothing inherited is flushed or closed."""
        self.forked_at = time.time_ns()
        self.retired = True
        if self.sampler is not None:
            self.sampler.abandon()
        for processor in self.processors:
            if _is_counting(processor):
                processor.abandon()
        self.processors = []

    def _quiet(self, deadline: float) -> bool:
        """Wait until no call is inside the gate. Each poll takes one number from both counters (read `left` first),
        so equal numbers mean every span that entered has left."""
        while True:
            left = next(self._left)
            entered = next(self._entered)
            if left == entered:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.0002)


def _tail_sampler(downstream: SpanProcessor, sampling: Sampling) -> Any:
    from exporters._sampling import TailSampler

    return TailSampler(downstream, **dataclasses.asdict(sampling))


def _is_counting(processor: SpanProcessor) -> TypeGuard[CountingBatchSpanProcessor]:
    """Whether this is our counting batch processor (if it is one, its module is loaded: none is imported here,
    which may run in a forked child)."""
    module = sys.modules.get("exporters._processor")
    return module is not None and isinstance(processor, module.CountingBatchSpanProcessor)


def _successor(pipeline: _Pipeline) -> _Pipeline | None:
    """The pipeline a retired one hands its late spans to (set up again first in a forked child)."""
    active = state.pipeline
    if active is None and state.forked:
        ensure_tracer()
        active = state.pipeline
    return active if active is not pipeline and active is not None else None


def _rebuilt_after_fork() -> _Pipeline | None:
    """In a forked child whose first span comes from other instrumentation: our pipeline, set up again."""
    if not state.forked:
        return None
    ensure_tracer()
    return state.pipeline


class _Fanout(SpanProcessor):
    """Our pipeline inside an application's provider, swapped whole on reconfiguration."""

    def __init__(self) -> None:
        self.pipeline: _Pipeline | None = None

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        pipeline = self.pipeline or _rebuilt_after_fork()
        if pipeline is not None:
            pipeline.on_start(span, parent_context=parent_context)

    def _on_ending(self, span: Any) -> None:
        pipeline = self.pipeline
        if pipeline is not None:
            pipeline._on_ending(span)

    def on_end(self, span: Any) -> None:
        pipeline = self.pipeline or _rebuilt_after_fork()
        if pipeline is not None:
            pipeline.on_end(span)

    def shutdown(self) -> None:
        pipeline, self.pipeline = self.pipeline, None
        if pipeline is not None:
            pipeline.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        pipeline = self.pipeline
        return True if pipeline is None else pipeline.force_flush(timeout_millis)


_fanouts: weakref.WeakKeyDictionary[TracerProvider, _Fanout] = weakref.WeakKeyDictionary()


def _processor_for(item: Any, guards: list[GuardedExporter], settings: Settings) -> SpanProcessor:
    if isinstance(item, SpanProcessor):
        return item
    if isinstance(item, SpanExporter):
        guard = exporters.GuardedExporter(item)
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
        return SimpleSpanProcessor(exporters.GuardedExporter(ConsoleSpanExporter()))
    return _batch(exporters.GuardedExporter(exporters.exporter_from_uri(uri, protocol=settings.otlp_protocol)))


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
        shutdown_on_exit=False,
        resource=Resource.create(attributes),
        sampler=sampler,
        span_limits=SpanLimits(max_span_attributes=_attribute_limit(settings), max_attribute_length=settings.max_attribute_length + MARKER_ROOM),
    )


def _install(settings: Settings, *, explicit: bool) -> TracerProvider:
    """Build the pipeline of these settings and put it in place; then drain and stop the previous one."""
    guards: list[GuardedExporter] = []
    processors = [_processor_for(item, guards, settings) for item in settings.exporters or ()]
    reused = {id(guard.inner) for guard in guards}
    for old in state.guards:
        old.keep_open = id(old.inner) in reused
    previous = state.pipeline
    global_provider = trace.get_tracer_provider()
    if isinstance(global_provider, TracerProvider):
        provider = global_provider
        pipeline = _Pipeline(processors, settings.sampling, previous)
        fanout = _fanouts.get(provider)
        if fanout is None:
            fanout = _fanouts[provider] = _Fanout()
            provider.add_span_processor(fanout)
        fanout.pipeline = pipeline
    else:
        provider = _new_provider(settings)
        if not processors:
            processors = [_batch(exporters.GuardedExporter(exporters.FileSpanExporter(DEFAULT_TRACE_FILE)))]
            _announce_default()
        pipeline = _Pipeline(processors, settings.sampling, previous)
        provider.add_span_processor(pipeline)
        if explicit and isinstance(global_provider, trace.ProxyTracerProvider):
            trace.set_tracer_provider(_GlobalProvider())
    owned = provider is not global_provider
    state.recorder = Recorder(settings, _attribute_limit(settings) if owned else None)
    state.settings = settings
    state.provider = provider
    state.owned = owned
    state.guards = guards
    state.pipeline = pipeline
    state.explicit = explicit
    state.forked = False
    state.generation += 1
    state.tracer = provider.get_tracer(INSTRUMENTATION_NAME, __version__)
    _signals.follow(settings.flush_on_signals)
    if previous is not None:
        previous.retire(time.monotonic() + SHUTDOWN_TIMEOUT_S, keep=processors)
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
    flush_on_signals: bool | None = None,
    sampling: Mapping[str, Any] | bool | None = None,
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
        flush_on_signals: True installs a SIGTERM handler that flushes (then does what the previous handler did);
            off by default, a library installs no signal handler unasked.
        sampling: tail sampling, `{"ratio", "keep_errors", "keep_slower_than_ms", "max_spans", "max_bytes"}`: traces
            with an ERROR span or a local root at least that slow are kept whole, the rest at `ratio` by trace id
            (False switches off sampling set in the config or environment).
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
            "flush_on_signals": flush_on_signals,
            "sampling": sampling,
        },
        config,
    )
    with _lock:
        return _install(settings, explicit=True)


def ensure_tracer() -> trace.Tracer:
    """The active tracer, setting up the embedded default on first use (and the parent's pipeline again after fork)."""
    with _lock:
        if state.tracer is None:
            if state.forked:
                _install(state.settings, explicit=state.explicit)
                return state.tracer  # type: ignore[return-value]
            try:
                _install(resolve({}), explicit=False)
            except Exception as exc:  # noqa: BLE001 - a bad environment must not break the traced call
                report("configuration from the environment", exc)
                _install(Settings(), explicit=False)
        return state.tracer  # type: ignore[return-value]


def force_flush(timeout_s: float = 30) -> bool:
    """Export every finished span now; False if the timeout passed first (it returns by then whatever the collector does)."""
    provider = state.provider
    if provider is None:
        return True
    pipeline = state.pipeline
    if state.owned and pipeline is not None:
        return pipeline.force_flush(int(timeout_s * 1000))
    return provider.force_flush(int(timeout_s * 1000))


def shutdown(timeout_s: float = SHUTDOWN_TIMEOUT_S) -> None:
    """Flush and stop the pipeline within `timeout_s` (spans left undelivered then are counted); the next traced call
    sets up the default again. Spans still running end into nothing: they are counted as dropped."""
    with _lock:
        pipeline = _forget_pipeline(forked=False)
        if pipeline is not None:
            pipeline.retire(time.monotonic() + timeout_s)


def _forget_pipeline(*, forked: bool) -> Any:
    """Take the active pipeline out of use (the next traced call sets one up again) and return it; a forked child
    keeps knowing whether the provider was ours, to rebuild the same kind of pipeline."""
    pipeline = state.pipeline
    provider = state.provider
    if provider is not None and not state.owned and provider in _fanouts:
        _fanouts[provider].pipeline = None
    state.tracer = None
    state.provider = None
    state.pipeline = None
    state.owned = state.owned and forked
    state.forked = forked
    state.generation += 1
    return pipeline


@contextlib.contextmanager
def set_aside() -> Iterator[None]:
    """Run the block with no active pipeline (the next traced call or `configure()` sets one up); afterwards shut
    that one down and make the pipeline active before the block active again, with its settings and exporters.
    Spans the set-aside pipeline started keep ending there. (The pytest plugin isolates each test with this.)"""
    with _lock:
        saved = {slot: getattr(state, slot) for slot in _State.__slots__ if slot != "generation"}
        _forget_pipeline(forked=False)
    try:
        yield
    finally:
        with _lock:
            shutdown()
            for slot, value in saved.items():
                setattr(state, slot, value)
            state.generation += 1
            provider, pipeline = saved["provider"], saved["pipeline"]
            if provider is not None and not saved["owned"] and provider in _fanouts:
                _fanouts[provider].pipeline = pipeline
            _signals.follow(state.settings.flush_on_signals)


def late_dropped() -> int:
    """Spans that ended after tracing.shutdown() and were dropped (each also counted in error_counts())."""
    return _late_dropped


# ---------------------------------------------------------------- processes: fork, exit, signals

_at_exit_callbacks: list[Callable[[], None]] = []


def on_exit(callback: Callable[[], None]) -> None:
    """Run `callback` at exit before the final flush (streams still open end there as cancelled)."""
    _at_exit_callbacks.append(callback)


def _at_exit(timeout_s: float = EXIT_TIMEOUT_S) -> None:
    """End what is still open, then flush and stop within `timeout_s`."""
    if state.pipeline is None:
        return
    for callback in list(_at_exit_callbacks):
        try:
            callback()
        except Exception as exc:  # noqa: BLE001 - SPEC 3.2
            report("ending spans at exit", exc)
    shutdown(timeout_s)


def _before_fork() -> None:
    _hook_multiprocessing()


def _after_fork_in_child() -> None:
    """The child starts with fresh locks and, on its first span, its own pipeline built from the same settings."""
    global _lock
    _lock = threading.RLock()
    if state.pipeline is None:
        return
    state.pipeline.abandon()
    _forget_pipeline(forked=True)


class _MultiprocessingHook:
    """Registered with multiprocessing.util.register_after_fork (which needs an object to hold weakly)."""

    registered = False


_mp_hook = _MultiprocessingHook()


def _hook_multiprocessing() -> None:
    """In multiprocessing children (fork, forkserver, spawn), flush at the child's exit: they end with os._exit,
    which skips atexit, but run multiprocessing's finalizers first."""
    if _MultiprocessingHook.registered or "multiprocessing.util" not in sys.modules:
        return
    _MultiprocessingHook.registered = True
    import multiprocessing.util

    multiprocessing.util.register_after_fork(_mp_hook, _register_child_finalizer)


def _register_child_finalizer(_: object) -> None:
    import multiprocessing.util

    multiprocessing.util.Finalize(None, _at_exit, exitpriority=-100)


class _Signals:
    """flush_on_signals: a SIGTERM handler that flushes, then does what the previous handler did."""

    def __init__(self) -> None:
        self.installed = False
        self.previous: Any = None

    def follow(self, wanted: bool) -> None:
        """Install or remove the handler to match the configuration (only the main thread can)."""
        if wanted == self.installed or threading.current_thread() is not threading.main_thread():
            return
        try:
            if wanted:
                self.previous = signal.signal(signal.SIGTERM, self._handle)
            else:
                signal.signal(signal.SIGTERM, self.previous if self.previous is not None else signal.SIG_DFL)
            self.installed = wanted
        except (ValueError, OSError) as exc:
            report("flush_on_signals", exc)

    def _handle(self, signum: int, frame: Any) -> None:
        previous = self.previous
        terminating = not callable(previous) and previous != signal.SIG_IGN
        # Flush on another thread, bounded: the signal may have interrupted this thread inside the pipeline's locks.
        worker = threading.Thread(target=_at_exit if terminating else force_flush, args=(EXIT_TIMEOUT_S,), daemon=True)
        worker.start()
        worker.join(EXIT_TIMEOUT_S + 1)
        if callable(previous):
            previous(signum, frame)
        elif terminating:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)


_signals = _Signals()

atexit.register(_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)
_hook_multiprocessing()
