"""Delivery of span batches: GuardedExporter keeps an exporter's failures from escaping, ResilientExporter
retries a batch while the collector is away, then spills it to a fallback file."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from exporters._file import FileSpanExporter
from exporters.failures import report

logger = logging.getLogger("agent_tracing.exporters")


class ResilientExporter(SpanExporter):
    """Wrap a network exporter: retry each batch with backoff for up to `give_up_after_s`, then write it to `fallback` (or count it lost)."""

    def __init__(
        self,
        inner: SpanExporter,
        *,
        fallback: str | Path | None = None,
        give_up_after_s: float = 120.0,
        max_backoff_s: float = 2.0,
    ) -> None:
        self.inner = inner
        self.fallback_path = Path(fallback) if fallback is not None else None
        self._fallback = FileSpanExporter(self.fallback_path) if self.fallback_path is not None else None
        self.give_up_after_s = give_up_after_s
        self.max_backoff_s = max_backoff_s
        self.lost_spans = 0
        self.fallback_spans = 0
        self._stopping = threading.Event()
        self._unreachable = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Deliver the batch, retrying while the receiver is down; never raises."""
        if self._stopping.is_set() and self._unreachable:
            return self._give_up(spans)
        deadline = time.monotonic() + self.give_up_after_s
        backoff = 0.1
        while True:
            if self._attempt(spans):
                self._unreachable = False
                return SpanExportResult.SUCCESS
            if self._stopping.is_set() or time.monotonic() + backoff > deadline:
                self._unreachable = True
                return self._give_up(spans)
            self._stopping.wait(backoff)
            backoff = min(backoff * 2, self.max_backoff_s)

    def begin_shutdown(self) -> None:
        """Stop waiting for the receiver: from now on a batch gets one attempt, then goes to the fallback."""
        self._stopping.set()

    def shutdown(self) -> None:
        """Shut the inner exporter and the fallback file down."""
        self._stopping.set()
        try:
            self.inner.shutdown()
        except Exception as exc:  # noqa: BLE001 - SPEC 3.2
            report("exporter shutdown", exc)
        if self._fallback is not None:
            self._fallback.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Flush the inner exporter."""
        try:
            return self.inner.force_flush(timeout_millis)
        except Exception as exc:  # noqa: BLE001 - SPEC 3.2
            report("exporter flush", exc)
            return False

    def _attempt(self, spans: Sequence[ReadableSpan]) -> bool:
        try:
            return self.inner.export(spans) is SpanExportResult.SUCCESS
        except Exception as exc:  # noqa: BLE001 - SPEC 3.2
            report(f"exporter {type(self.inner).__name__}", exc)
            return False

    def _give_up(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._fallback is not None and self._fallback.export(spans) is SpanExportResult.SUCCESS:
            self.fallback_spans += len(spans)
            logger.warning("agent-tracing: %d spans could not be delivered; written to %s for `agent-tracing push`", len(spans), self.fallback_path)
        else:
            self.lost_spans += len(spans)
            report("span delivery", ConnectionError(f"{len(spans)} spans could not be delivered and have no fallback file"))
        return SpanExportResult.FAILURE


class GuardedExporter(SpanExporter):
    """An exporter whose exceptions are counted and logged once instead of escaping into the SDK's worker."""

    def __init__(self, inner: SpanExporter, *, keep_open: bool = False) -> None:
        self.inner = inner
        self.keep_open = keep_open
        self._cause = f"exporter {type(inner).__name__}"

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Export through the inner exporter; FAILURE instead of an exception."""
        try:
            return self.inner.export(spans)
        except Exception as exc:  # noqa: BLE001 - an exporter must not take the pipeline down
            report(self._cause, exc)
            return SpanExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Flush the inner exporter; False instead of an exception."""
        try:
            return self.inner.force_flush(timeout_millis)
        except Exception as exc:  # noqa: BLE001
            report(self._cause, exc)
            return False

    def shutdown(self) -> None:
        """Shut the inner exporter down, unless it is kept open for the next configuration."""
        if self.keep_open:
            return
        try:
            self.inner.shutdown()
        except Exception as exc:  # noqa: BLE001
            report(self._cause, exc)
