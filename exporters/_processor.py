"""batch_processor: the SDK's BatchSpanProcessor with a bounded queue whose drops are counted, logged and spilled to a fallback."""

from __future__ import annotations

import collections
import logging
import os
import threading

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from exporters._delivery import ResilientExporter
from exporters._file import FileSpanExporter
from exporters.failures import report

logger = logging.getLogger("agent_tracing.exporters")

_SDK_RANGE = "opentelemetry-sdk>=1.34,<1.46"
_SDK_FIELDS = ("_batch_processor", "_max_queue_size", "_queue", "_pid")
"""Private fields of the SDK's BatchSpanProcessor that the counted queue replaces or reads; the SDK range above has them."""


def _sdk_mismatch(detail: str) -> str:
    from importlib.metadata import version

    return (f"agent-tracing needs {_SDK_RANGE}: the batch processor reads SDK internals ({detail}); "
            f"installed opentelemetry-sdk {version('opentelemetry-sdk')}")


try:
    from opentelemetry.sdk._shared_internal import BatchProcessor as _SdkBatchProcessor
except ImportError as _exc:  # pragma: no cover - only with an SDK outside the pinned range
    raise ImportError(_sdk_mismatch("opentelemetry.sdk._shared_internal.BatchProcessor is missing")) from _exc
if not callable(getattr(_SdkBatchProcessor, "emit", None)):  # pragma: no cover
    raise ImportError(_sdk_mismatch("BatchProcessor.emit is missing"))

_SPILL_QUEUE_SIZE = 8192
_SPILL_BATCH_SIZE = 512


class SpanQueueFull(RuntimeError):
    """The export queue was full; the span was dropped (or written to the fallback file)."""


class CountingBatchSpanProcessor(BatchSpanProcessor):
    """A BatchSpanProcessor that never drops silently: `dropped_spans` counts every span that was not handed on."""

    def __init__(
        self,
        exporter: SpanExporter,
        *,
        max_queue_size: int | None = None,
        schedule_delay_millis: float | None = None,
        max_export_batch_size: int | None = None,
        export_timeout_millis: float | None = None,
    ) -> None:
        super().__init__(exporter, max_queue_size, schedule_delay_millis, max_export_batch_size, export_timeout_millis)
        inner = getattr(self, "_batch_processor", None)
        missing = [name for name in _SDK_FIELDS[1:] if not hasattr(inner, name)] if inner is not None else ["_batch_processor"]
        if missing:  # pragma: no cover - only with an SDK outside the pinned range
            raise RuntimeError(_sdk_mismatch(f"BatchSpanProcessor has no {', '.join(missing)}"))
        self.exporter = exporter
        self.max_queue_size: int = self._batch_processor._max_queue_size
        # The SDK's deque evicts the oldest span silently when full; this one is bounded by on_end instead.
        self._batch_processor._queue = collections.deque()
        self._queue = self._batch_processor._queue
        self._queue_dropped = 0
        self._queue_spilled = 0
        self._overflow_lock = threading.Lock()
        self._resilient = _resilient_inside(exporter)
        fallback = self._resilient.fallback_path if self._resilient is not None else None
        self._spill = (
            CountingBatchSpanProcessor(
                FileSpanExporter(fallback),
                max_queue_size=max(self.max_queue_size, _SPILL_QUEUE_SIZE),
                max_export_batch_size=_SPILL_BATCH_SIZE,
            ) if fallback is not None else None
        )

    @property
    def dropped_spans(self) -> int:
        """Spans lost: refused by the full queue or undeliverable, and not written to a fallback file."""
        lost = self._resilient.lost_spans if self._resilient is not None else 0
        spill_lost = self._spill.dropped_spans if self._spill is not None else 0
        return self._queue_dropped + lost + spill_lost

    @property
    def fallback_spans(self) -> int:
        """Spans written to the fallback file instead of the collector."""
        spilled = self._resilient.fallback_spans if self._resilient is not None else 0
        spill_lost = self._spill.dropped_spans if self._spill is not None else 0
        return self._queue_spilled - spill_lost + spilled

    def on_end(self, span: ReadableSpan) -> None:
        """Queue the span, or count and spill it when the queue is full."""
        if not (span.context and span.context.trace_flags.sampled):
            return
        if len(self._queue) < self.max_queue_size or self._batch_processor._pid != os.getpid():
            self._batch_processor.emit(span)
            return
        with self._overflow_lock:
            if self._spill is not None:
                self._queue_spilled += 1
            else:
                self._queue_dropped += 1
        if self._spill is not None:
            self._spill.on_end(span)
        report("span queue", SpanQueueFull(f"export queue full (max_queue_size={self.max_queue_size}); spans are dropped and counted"))

    def shutdown(self) -> None:
        """Drain the queue (one delivery attempt per batch), close the fallback, and log what was lost."""
        if self._resilient is not None:
            self._resilient.begin_shutdown()
        super().shutdown()
        if self._spill is not None:
            self._spill.shutdown()
        if self.dropped_spans:
            logger.warning("%d spans were dropped: the export queue was full or the receiver could not be reached", self.dropped_spans)

    def force_flush(self, timeout_millis: int | None = 30000) -> bool:
        """Export everything queued, including spans spilled to the fallback."""
        flushed = super().force_flush(timeout_millis)
        if self._spill is not None:
            flushed = self._spill.force_flush(timeout_millis) and flushed
        return flushed


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
    """A BatchSpanProcessor for `exporter` with a bounded, counted queue (sizes default to the OTEL_BSP_* variables)."""
    return CountingBatchSpanProcessor(
        exporter,
        max_queue_size=max_queue_size,
        schedule_delay_millis=schedule_delay_millis,
        max_export_batch_size=max_export_batch_size,
        export_timeout_millis=export_timeout_millis,
    )
