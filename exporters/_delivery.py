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


class DeliveryControl:
    """What a ResilientExporter and the HTTP transport under it share: the deadline of the current attempt, and what
    the attempt saw (whether a request was sent, its HTTP status, its Retry-After)."""

    __slots__ = ("deadline", "sent", "status", "retry_after")

    def __init__(self) -> None:
        self.deadline: float | None = None
        self.sent = False
        self.status: int | None = None
        self.retry_after: float | None = None

    def reset(self, deadline: float | None) -> None:
        """Before an attempt: its deadline (time.monotonic), nothing seen yet."""
        self.deadline = deadline
        self.sent = False
        self.status = None
        self.retry_after = None


class PayloadTooLarge(RuntimeError):
    """The collector refused a span as too large (HTTP 413, or larger than the exporter's request limit)."""


class SpansUndelivered(ConnectionError):
    """Spans could not be delivered and there is no fallback file."""


_TOO_LARGE = 413


class ResilientExporter(SpanExporter):
    """Wrap a network exporter: retry each batch with backoff for up to `give_up_after_s`, then write it to `fallback` (or count it lost).

    A batch the collector refuses as too large (HTTP 413) is split in halves and each half sent; a single span
    still too large is dropped and counted, never retried as is. After `stop_at(deadline)` (shutdown) a batch gets
    one attempt that ends by the deadline, and once the receiver is found unreachable the rest go straight to the
    fallback.
    """

    def __init__(
        self,
        inner: SpanExporter,
        *,
        fallback: str | Path | None = None,
        give_up_after_s: float = 120.0,
        max_backoff_s: float = 2.0,
        control: DeliveryControl | None = None,
    ) -> None:
        self.inner = inner
        self.fallback_path = Path(fallback) if fallback is not None else None
        self._fallback = FileSpanExporter(self.fallback_path) if self.fallback_path is not None else None
        self.give_up_after_s = give_up_after_s
        self.max_backoff_s = max_backoff_s
        self.control = control
        self.lost_spans = 0
        self.fallback_spans = 0
        self._stopping = threading.Event()
        self._stop_at: float | None = None
        self._unreachable = False
        self._logged: set[str] = set()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Deliver the batch, retrying while the receiver is down; never raises."""
        if self._stopping.is_set() and self._unreachable:
            return self._give_up(spans)
        return self._deliver(spans)

    def _deliver(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        give_up_at = time.monotonic() + self.give_up_after_s
        backoff = 0.1
        while True:
            end = give_up_at if self._stop_at is None else min(give_up_at, self._stop_at)
            if time.monotonic() >= end:
                self._unreachable = True
                return self._give_up(spans)
            delivered, status = self._attempt(spans, end)
            if delivered:
                self._unreachable = False
                return SpanExportResult.SUCCESS
            if status == _TOO_LARGE:
                return self._split(spans)
            wait = backoff
            if self.control is not None and self.control.retry_after is not None:
                wait = min(self.control.retry_after, self.max_backoff_s * 4)
            if self._stopping.is_set() or time.monotonic() + wait > end:
                self._unreachable = True
                return self._give_up(spans)
            self._stopping.wait(wait)
            backoff = min(backoff * 2, self.max_backoff_s)

    def _split(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """A batch refused as too large: each half on its own; a single span is dropped and counted."""
        if len(spans) <= 1:
            self.lost_spans += len(spans)
            report("span too large for the collector", PayloadTooLarge("the collector refused a span as too large (HTTP 413); it is dropped and counted"))
            return SpanExportResult.FAILURE
        middle = len(spans) // 2
        first = self._deliver(spans[:middle])
        second = self._deliver(spans[middle:])
        ok = first is SpanExportResult.SUCCESS and second is SpanExportResult.SUCCESS
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    def stop_at(self, deadline: float) -> None:
        """Shutdown has begun: one attempt per batch, none after `deadline` (time.monotonic)."""
        self._stop_at = deadline
        self._stopping.set()

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

    def _attempt(self, spans: Sequence[ReadableSpan], deadline: float) -> tuple[bool, int | None]:
        """One delivery attempt ending by `deadline`: (delivered, HTTP status when known)."""
        control = self.control
        if control is not None:
            control.reset(deadline)
        try:
            delivered = self.inner.export(spans) is SpanExportResult.SUCCESS
        except Exception as exc:  # noqa: BLE001 - SPEC 3.2
            report(f"exporter {type(self.inner).__name__}", exc)
            return False, None
        if delivered or control is None or getattr(self.inner, "_shutdown", False) is True:
            return delivered, None
        if not control.sent and time.monotonic() < deadline:
            return False, _TOO_LARGE  # refused before sending: larger than the exporter's request limit
        if control.status is not None:
            self._log_once(f"HTTP {control.status}", f"the collector answered HTTP {control.status}")
        elif control.sent:
            self._log_once("unreachable", "the collector could not be reached or did not answer in time")
        return False, control.status

    def _log_once(self, cause: str, message: str) -> None:
        if cause not in self._logged:
            self._logged.add(cause)
            logger.warning("%s; spans are retried, then written to the fallback or counted (logged once)", message)

    def _give_up(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._fallback is not None and self._fallback.export(spans) is SpanExportResult.SUCCESS:
            self.fallback_spans += len(spans)
            logger.warning("%d spans could not be delivered; written to %s for `agent-tracing push`", len(spans), self.fallback_path)
        else:
            self.lost_spans += len(spans)
            report("span delivery", SpansUndelivered(f"{len(spans)} spans could not be delivered and have no fallback file"))
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
