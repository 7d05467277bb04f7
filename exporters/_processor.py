"""batch_processor: a batching span processor with a bounded queue whose drops are counted, logged and spilled to a
fallback, whose flush and shutdown keep their deadline whatever the exporter does, and which survives fork."""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable

from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from exporters._delivery import ResilientExporter
from exporters._file import FileSpanExporter
from exporters.failures import report

logger = logging.getLogger("agent_tracing.exporters")

_SPILL_QUEUE_SIZE = 8192
_SPILL_BATCH_SIZE = 512
SHUTDOWN_TIMEOUT_S = 10.0
"""How long `shutdown()` without a timeout waits for the exporter before counting what is left as dropped."""

_processors: weakref.WeakSet[CountingBatchSpanProcessor] = weakref.WeakSet()
_SDK_DEFAULTS = ("_default_max_queue_size", "_default_schedule_delay_millis", "_default_max_export_batch_size")
"""Private static methods of the SDK's BatchSpanProcessor that read the OTEL_BSP_* defaults (pinned SDK range)."""
if not all(callable(getattr(BatchSpanProcessor, name, None)) for name in _SDK_DEFAULTS):  # pragma: no cover
    from importlib.metadata import version as _version

    raise ImportError(
        "agent-tracing needs opentelemetry-sdk>=1.34,<1.46: its BatchSpanProcessor no longer has "
        f"{', '.join(name for name in _SDK_DEFAULTS if not callable(getattr(BatchSpanProcessor, name, None)))} "
        f"(installed: opentelemetry-sdk {_version('opentelemetry-sdk')})"
    )


class SpanQueueFull(RuntimeError):
    """The export queue was full; the span was dropped (or written to the fallback file)."""


class SpanAfterShutdown(RuntimeError):
    """A span ended on a processor already shut down; it was dropped and counted."""


class CountingBatchSpanProcessor(SpanProcessor):
    """A batch span processor that never drops silently: `dropped_spans` counts every span that was not handed on.

    One worker thread exports; `force_flush(timeout)` and `shutdown(timeout)` wait for it only until their deadline
    (a collector that hangs cannot hold the caller), and at shutdown's deadline the spans still queued go to the
    fallback file or are counted as dropped. After `os.fork` the child starts with fresh locks, an empty queue (the
    parent exports what it had queued) and its own worker.
    """

    def __init__(
        self,
        exporter: SpanExporter,
        *,
        max_queue_size: int | None = None,
        schedule_delay_millis: float | None = None,
        max_export_batch_size: int | None = None,
        export_timeout_millis: float | None = None,
    ) -> None:
        self.exporter = exporter
        self.max_queue_size = max_queue_size if max_queue_size is not None else BatchSpanProcessor._default_max_queue_size()
        delay = schedule_delay_millis if schedule_delay_millis is not None else BatchSpanProcessor._default_schedule_delay_millis()
        self._delay_s = delay / 1000.0
        self._batch_size = max_export_batch_size if max_export_batch_size is not None else BatchSpanProcessor._default_max_export_batch_size()
        if self.max_queue_size <= 0 or self._batch_size <= 0 or self._batch_size > self.max_queue_size or delay <= 0:
            raise ValueError("batch_processor: sizes and delay must be positive and max_export_batch_size <= max_queue_size")
        self.on_late: Callable[[ReadableSpan], None] | None = None
        """What to do with a span that ends after shutdown (default: count it as dropped)."""
        self._queue: collections.deque[ReadableSpan] = collections.deque()
        self._queue_dropped = 0
        self._queue_spilled = 0
        self._late_dropped = 0
        self._abandoned_spans = 0
        self._stopped = False
        self._finished = False
        self._abandoned = False
        self._fresh_state()
        self._resilient = _resilient_inside(exporter)
        fallback = self._resilient.fallback_path if self._resilient is not None else None
        self._spill = (
            CountingBatchSpanProcessor(
                FileSpanExporter(fallback),
                max_queue_size=max(self.max_queue_size, _SPILL_QUEUE_SIZE),
                max_export_batch_size=_SPILL_BATCH_SIZE,
            ) if fallback is not None else None
        )
        _processors.add(self)
        self._start_worker()

    def _fresh_state(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._wake = threading.Event()
        self._overflow_lock = threading.Lock()
        self._flush_asked = 0
        self._flush_done = 0
        self._in_flight = 0
        self._worker: threading.Thread | None = None

    # ------------------------------------------------------------ counters

    @property
    def dropped_spans(self) -> int:
        """Spans lost: refused by the full queue, undeliverable, ended after shutdown, or still queued at its deadline."""
        lost = self._resilient.lost_spans if self._resilient is not None else 0
        spill_lost = self._spill.dropped_spans if self._spill is not None else 0
        return self._queue_dropped + lost + spill_lost + self._late_dropped + self._abandoned_spans

    @property
    def fallback_spans(self) -> int:
        """Spans written to the fallback file instead of the collector."""
        spilled = self._resilient.fallback_spans if self._resilient is not None else 0
        spill_lost = self._spill.dropped_spans if self._spill is not None else 0
        return self._queue_spilled - spill_lost + spilled

    @property
    def pending_spans(self) -> int:
        """Spans queued or being delivered right now."""
        return len(self._queue) + self._in_flight

    # ------------------------------------------------------------ the SpanProcessor interface

    def on_start(self, span: Span, parent_context: object = None) -> None:
        """Nothing to do when a span starts."""

    def on_end(self, span: ReadableSpan) -> None:
        """Queue the span, or count and spill it when the queue is full."""
        if not (span.context and span.context.trace_flags.sampled):
            return
        if self._stopped:
            self._late(span)
            return
        queue = self._queue
        if len(queue) < self.max_queue_size:
            queue.append(span)
            if self._worker is None:
                self._start_worker()
            if len(queue) >= self._batch_size and not self._wake.is_set():
                self._wake.set()
            return
        with self._overflow_lock:
            if self._spill is not None:
                self._queue_spilled += 1
            else:
                self._queue_dropped += 1
        if self._spill is not None:
            self._spill.on_end(span)
        report("span queue", SpanQueueFull(f"export queue full (max_queue_size={self.max_queue_size}); spans are dropped and counted"))

    def force_flush(self, timeout_millis: int | None = 30000) -> bool:
        """Export everything queued (and spilled to the fallback); False if the timeout passed first."""
        deadline = time.monotonic() + (timeout_millis if timeout_millis is not None else 30000) / 1000.0
        flushed = self._flush_until(deadline)
        if self._spill is not None:
            flushed = self._spill.force_flush(_millis_left(deadline)) and flushed
        return flushed

    def shutdown(self, timeout_millis: float | None = None) -> None:
        """Drain the queue within the timeout (retries stop at the deadline), then count what is left and stop."""
        timeout_s = SHUTDOWN_TIMEOUT_S if timeout_millis is None else timeout_millis / 1000.0
        deadline = time.monotonic() + timeout_s
        self.begin_shutdown(deadline)
        self.finish_shutdown(deadline)

    # ------------------------------------------------------------ shutdown in two steps (many processors, one deadline)

    def begin_shutdown(self, deadline: float) -> None:
        """Refuse new spans from now on, tell delivery to stop retrying at `deadline`, and wake the worker to drain."""
        if self._stopped:
            return
        if self._resilient is not None:
            self._resilient.stop_at(deadline)
        self._stopped = True
        with self._cond:
            self._flush_asked += 1
        self._wake.set()

    def finish_shutdown(self, deadline: float) -> None:
        """Wait for the drain until `deadline`; then count what is still queued, shut the exporter down, log losses."""
        if self._abandoned or self._finished:
            return
        self._finished = True
        drained = self._wait_drained(deadline)
        if not drained:
            left: list[ReadableSpan] = []
            with self._cond:
                while self._queue:
                    left.append(self._queue.popleft())
                in_flight = self._in_flight
            self._give_up(left)
            if in_flight:
                logger.warning("%d spans were still being delivered when shutdown's deadline passed", in_flight)
        self._wake.set()
        try:
            self.exporter.shutdown()
        except Exception as exc:  # noqa: BLE001 - SPEC 3.2
            report("exporter shutdown", exc)
        if self._spill is not None:
            self._spill.shutdown(max(_millis_left(deadline), 0))
        if self.dropped_spans:
            logger.warning("%d spans were dropped: the export queue was full or the receiver could not be reached", self.dropped_spans)

    def abandon(self) -> None:
        """Stop without exporting or closing anything (a forked child leaving its parent's pipeline to the parent)."""
        self._abandoned = True
        self._stopped = True
        self._queue.clear()
        self._wake.set()

    # ------------------------------------------------------------ inside

    def _late(self, span: ReadableSpan) -> None:
        handler = self.on_late
        if handler is not None:
            handler(span)
            return
        if self._abandoned:
            return
        with self._overflow_lock:
            self._late_dropped += 1
        report("span ended after shutdown", SpanAfterShutdown("a span ended after its pipeline was shut down; it is dropped and counted"))

    def _give_up(self, spans: list[ReadableSpan]) -> None:
        """Spans that will not be exported: to the fallback file if there is one, else counted as dropped."""
        if not spans:
            return
        if self._spill is not None and self._spill.exporter.export(spans).name == "SUCCESS":
            self._queue_spilled += len(spans)
            return
        self._abandoned_spans += len(spans)
        for _ in spans:
            report("span delivery", TimeoutError("spans still queued when shutdown's deadline passed were dropped and counted"))

    def _start_worker(self) -> None:
        with self._cond:
            if self._worker is not None:
                return
            worker = threading.Thread(target=self._work, name="agent-tracing-export", daemon=True)
            self._worker = worker
        worker.start()

    def _work(self) -> None:
        while True:
            woken = self._wake.wait(self._delay_s)
            self._wake.clear()
            asked = self._flush_asked
            # Woken by a full batch: export full batches only (as the SDK's processor does), so that a busy
            # service sends few large requests; on the timer, a flush or shutdown: everything queued.
            self._export_queued(drain=not woken or asked > self._flush_done or self._stopped)
            with self._cond:
                self._flush_done = max(self._flush_done, asked)
                self._cond.notify_all()
                if (self._stopped and not self._queue) or self._abandoned:
                    return

    def _export_queued(self, drain: bool = True) -> None:
        queue = self._queue
        while queue and not self._abandoned and (drain or len(queue) >= self._batch_size):
            with self._cond:
                batch = [queue.popleft() for _ in range(min(self._batch_size, len(queue)))]
                self._in_flight = len(batch)
            try:
                self.exporter.export(batch)
            except Exception as exc:  # noqa: BLE001 - an exporter must not kill the worker
                report(f"exporter {type(self.exporter).__name__}", exc)
            finally:
                with self._cond:
                    self._in_flight = 0

    def _flush_until(self, deadline: float) -> bool:
        if self._abandoned:
            return True
        with self._cond:
            if not self._queue and not self._in_flight:
                return True
            self._flush_asked += 1
            asked = self._flush_asked
        if self._worker is None:
            self._start_worker()
        self._wake.set()
        with self._cond:
            return self._cond.wait_for(lambda: self._flush_done >= asked, max(deadline - time.monotonic(), 0))

    def _wait_drained(self, deadline: float) -> bool:
        if self._worker is None and self._queue:
            self._start_worker()
        self._wake.set()
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._in_flight, max(deadline - time.monotonic(), 0))

    def _after_fork_in_child(self) -> None:
        self._fresh_state()
        self._queue.clear()


def _millis_left(deadline: float) -> int:
    return max(int((deadline - time.monotonic()) * 1000), 0)


def _after_fork_in_child() -> None:
    for processor in list(_processors):
        processor._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _resilient_inside(exporter: SpanExporter) -> ResilientExporter | None:
    """The ResilientExporter this exporter is or wraps (wrappers expose `.inner`), if any."""
    seen: set[int] = set()
    current: object = exporter
    while current is not None and id(current) not in seen:
        if isinstance(current, ResilientExporter):
            return current
        seen.add(id(current))
        current = getattr(current, "inner", None)
    return None


def batch_processor(
    exporter: SpanExporter,
    *,
    max_queue_size: int | None = None,
    schedule_delay_millis: float | None = None,
    max_export_batch_size: int | None = None,
    export_timeout_millis: float | None = None,
) -> CountingBatchSpanProcessor:
    """A batch processor for `exporter` with a bounded, counted queue (sizes default to the OTEL_BSP_* variables)."""
    return CountingBatchSpanProcessor(
        exporter,
        max_queue_size=max_queue_size,
        schedule_delay_millis=schedule_delay_millis,
        max_export_batch_size=max_export_batch_size,
        export_timeout_millis=export_timeout_millis,
    )
