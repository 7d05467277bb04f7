"""TailSampler: a span processor in front of the export processors that keeps whole traces worth keeping (an ERROR
span, a slow local root) and the rest at a ratio decided by trace id; the spans of an undecided trace wait in a
bounded buffer until every span of that trace started in this process has ended."""

from __future__ import annotations

import collections
import os
import threading
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.sampling import TraceIdRatioBased
from opentelemetry.trace import StatusCode

from exporters.failures import report

DECISIONS_REMEMBERED = 16_384
"""How many recent decisions are kept, so that a span starting after its trace was decided follows the decision."""
STALE_AFTER_NS = 300 * 1_000_000_000
"""When the buffer is full, a trace whose oldest buffered span ended this long ago (a span of it never ends) is
decided first, so that traces stuck open cannot hold the buffer for good."""
_STALE_LOOKS = 8

SPAN_BYTES = 3072
ATTRIBUTE_BYTES = 128
EVENT_BYTES = 512
"""What a finished SDK span, one more attribute and one event hold in memory beyond their text (measured with
tracemalloc on CPython 3.11, opentelemetry-sdk 1.45), for the buffer's cheap byte estimate."""

COUNTS = ("traces_kept", "traces_dropped", "spans_kept", "spans_dropped", "traces_overflowed", "spans_dropped_by_overflow")

_lock = threading.Lock()
"""The one lock of tail sampling: every sampler's buffer and the process-wide counts."""
_counts: dict[str, int] = dict.fromkeys(COUNTS, 0)


def _fresh_lock_in_child() -> None:
    """A forked child gets a lock of its own (the parent's may have been held by another thread at the fork)."""
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_fresh_lock_in_child)


class SamplingBufferFull(RuntimeError):
    """The tail-sampling buffer was full: a trace was decided before all its spans had ended."""


def sampling_counts() -> dict[str, int]:
    """What tail sampling decided in this process: traces and spans kept and dropped, and the traces decided early
    because the buffer was full (with the spans that decision dropped)."""
    with _lock:
        return dict(_counts)


class _Trace:
    """The undecided local part of one trace: the ids of its open spans and its ended spans."""

    __slots__ = ("open", "spans", "bytes", "keep")

    def __init__(self) -> None:
        self.open: set[int] = set()
        self.spans: list[ReadableSpan] = []
        self.bytes = 0
        self.keep = False
        """An ERROR span (when errors are kept) or a slow local root was seen: the trace is kept whatever the ratio."""


class TailSampler(SpanProcessor):
    """Holds each trace's ended spans until every span of the trace started here has ended, then hands them all to
    `downstream` or drops them all: kept are traces with an ERROR span (`keep_errors`), with a local root lasting at
    least `keep_slower_than_ms`, and the rest at `ratio` by trace id (the SDK's TraceIdRatioBased bound, so every
    process of a distributed trace agrees). A span of a trace decided already follows that decision. A trace whose
    next span would make the buffer exceed `max_spans` or `max_bytes` is decided at once by what is known.
    """

    def __init__(
        self,
        downstream: SpanProcessor,
        *,
        ratio: float = 1.0,
        keep_errors: bool = True,
        keep_slower_than_ms: float | None = None,
        max_spans: int,
        max_bytes: int,
    ) -> None:
        if max_spans <= 0 or max_bytes <= 0:
            raise ValueError("tail sampling: max_spans and max_bytes must be positive")
        self.downstream = downstream
        self.bound = TraceIdRatioBased(ratio).bound
        self.keep_errors = keep_errors
        self.slower_than_ns = None if keep_slower_than_ms is None else int(keep_slower_than_ms * 1_000_000)
        self.max_spans = max_spans
        self.max_bytes = max_bytes
        self.buffered_spans = 0
        self.buffered_bytes = 0
        self._pending: collections.OrderedDict[int, _Trace] = collections.OrderedDict()
        self._decided: collections.OrderedDict[int, bool] = collections.OrderedDict()
        self._successor: TailSampler | None = None

    # ------------------------------------------------------------ the SpanProcessor interface

    def on_start(self, span: Span, parent_context: Any = None) -> None:
        """Count the span as open in its trace (unless the trace is decided), then tell the downstream processors."""
        context = span.context
        successor = None
        if context is not None and context.trace_flags.sampled:
            trace_id = context.trace_id
            with _lock:
                successor = self._successor
                if successor is None and trace_id not in self._decided:
                    pending = self._pending.get(trace_id)
                    if pending is None:
                        pending = self._pending[trace_id] = _Trace()
                    pending.open.add(context.span_id)
        if successor is not None:
            successor.on_start(span, parent_context)
        else:
            self.downstream.on_start(span, parent_context=parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        """Buffer the span until its trace is decided, follow its trace's decision, or decide the trace now."""
        context = span.context
        if context is None or not context.trace_flags.sampled:
            self.downstream.on_end(span)  # recorded, not sampled: not exported, but other processors may want it
            return
        overflowed = False
        with _lock:
            successor = self._successor
            if successor is None:
                release, overflowed = self._ended(span, context.trace_id, context.span_id)
        if successor is not None:
            successor.on_end(span)
            return
        if overflowed:
            report("tail sampling buffer", SamplingBufferFull(
                f"the tail-sampling buffer was full (max_spans={self.max_spans}, max_bytes={self.max_bytes}); "
                "traces are decided before they end and counted in tracing.sampling_counts()"))
        self._hand_on(release)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Flush the downstream processors (traces still open stay buffered until they end)."""
        return self.downstream.force_flush(timeout_millis)

    def shutdown(self) -> None:
        """Decide every trace still buffered by what is known, then shut the downstream processors down."""
        self.settle()
        self.downstream.shutdown()

    def _hand_on(self, release: list[ReadableSpan]) -> None:
        """Give the kept spans to the downstream processors; one that raises loses only its span, and is counted."""
        for kept in release:
            try:
                self.downstream.on_end(kept)
            except Exception as exc:  # noqa: BLE001 - the rest of a kept trace still goes on
                report("tail sampling hand-on", exc)

    # ------------------------------------------------------------ lifetimes: reconfiguration, shutdown, fork

    def take_over(self, previous: TailSampler) -> None:
        """Become the sampler of `previous`'s undecided traces and recent decisions; it hands every later span here."""
        with _lock:
            for trace_id, pending in previous._pending.items():
                self._pending[trace_id] = pending
                self.buffered_spans += len(pending.spans)
                self.buffered_bytes += pending.bytes
            for trace_id, keep in previous._decided.items():
                self._remember(trace_id, keep)
            previous._pending = collections.OrderedDict()
            previous._decided = collections.OrderedDict()
            previous.buffered_spans = previous.buffered_bytes = 0
            previous._successor = self
            release = self._shed()
        self._hand_on(release)

    def settle(self) -> None:
        """Decide every buffered trace now (errors and slow roots seen so far, else the ratio) and hand on the kept."""
        with _lock:
            release: list[ReadableSpan] = []
            for trace_id, pending in list(self._pending.items()):
                release.extend(self._decide(trace_id, pending))
        self._hand_on(release)

    def decision(self, span: ReadableSpan) -> bool | None:
        """After `settle`: whether the trace of a span ending late was kept (a drop is counted), None if unknown here."""
        context = span.context
        if context is None:
            return None
        with _lock:
            if self._successor is not None:
                return None
            keep = self._decided.get(context.trace_id)
            if keep is not None:
                _counts["spans_kept" if keep else "spans_dropped"] += 1
            return keep

    def abandon(self) -> None:
        """In a forked child: forget the parent's buffered spans and decisions (the parent decides and exports them)."""
        self._pending = collections.OrderedDict()
        self._decided = collections.OrderedDict()
        self.buffered_spans = self.buffered_bytes = 0
        self._successor = None

    # ------------------------------------------------------------ inside (called with the lock held)

    def _ended(self, span: ReadableSpan, trace_id: int, span_id: int) -> tuple[list[ReadableSpan], bool]:
        """The spans to hand on now that `span` ended, and whether its trace overflowed the buffer."""
        keep = self._decided.get(trace_id)
        if keep is not None:
            _counts["spans_kept" if keep else "spans_dropped"] += 1
            return ([span] if keep else []), False
        pending = self._pending.get(trace_id)
        if pending is None:  # started before this sampler saw its trace (an earlier configuration): decided alone
            pending = self._pending[trace_id] = _Trace()
        pending.open.discard(span_id)
        if not pending.keep and (
            (self.keep_errors and span.status.status_code is StatusCode.ERROR) or self._slow_root(span)
        ):
            pending.keep = True
        pending.spans.append(span)
        self.buffered_spans += 1
        if not pending.open:  # the trace's local part is complete: decided now, its last span never waits
            return self._decide(trace_id, pending), False
        size = _estimate_bytes(span)
        pending.bytes += size
        self.buffered_bytes += size
        if self.buffered_spans > self.max_spans or self.buffered_bytes > self.max_bytes:
            release = self._shed_stale(trace_id, span.end_time or 0)
            if self.buffered_spans > self.max_spans or self.buffered_bytes > self.max_bytes:
                release.extend(self._decide_early(trace_id, pending))
            return release, True
        return [], False

    def _slow_root(self, span: ReadableSpan) -> bool:
        if self.slower_than_ns is None or (span.parent is not None and not span.parent.is_remote):
            return False
        return (span.end_time or 0) - (span.start_time or 0) >= self.slower_than_ns

    def _decide(self, trace_id: int, pending: _Trace) -> list[ReadableSpan]:
        """Take the trace out of the buffer, remember the decision, count it; the spans to hand on if kept."""
        del self._pending[trace_id]
        self.buffered_spans -= len(pending.spans)
        self.buffered_bytes -= pending.bytes
        keep = pending.keep or (trace_id & TraceIdRatioBased.TRACE_ID_LIMIT) < self.bound
        self._remember(trace_id, keep)
        if keep:
            _counts["traces_kept"] += 1
            _counts["spans_kept"] += len(pending.spans)
            return pending.spans
        _counts["traces_dropped"] += 1
        _counts["spans_dropped"] += len(pending.spans)
        return []

    def _remember(self, trace_id: int, keep: bool) -> None:
        decided = self._decided
        decided[trace_id] = keep
        if len(decided) > DECISIONS_REMEMBERED:
            decided.popitem(last=False)

    def _decide_early(self, trace_id: int, pending: _Trace) -> list[ReadableSpan]:
        """Decide a trace before it ended because the buffer is full, and count it."""
        _counts["traces_overflowed"] += 1
        kept = self._decide(trace_id, pending)
        if not kept:
            _counts["spans_dropped_by_overflow"] += len(pending.spans)
        return kept

    def _shed(self) -> list[ReadableSpan]:
        """Decide the oldest buffered traces until the buffer is within its bounds again."""
        release: list[ReadableSpan] = []
        while self._pending and (self.buffered_spans > self.max_spans or self.buffered_bytes > self.max_bytes):
            trace_id, pending = next(iter(self._pending.items()))
            release.extend(self._decide_early(trace_id, pending))
        return release

    def _shed_stale(self, current: int, now: int) -> list[ReadableSpan]:
        """Decide the oldest traces whose first buffered span ended STALE_AFTER_NS before `now`, while the buffer is
        over its bounds (looking at a few of the oldest; one with nothing buffered moves to the back)."""
        release: list[ReadableSpan] = []
        for _ in range(_STALE_LOOKS):
            if self.buffered_spans <= self.max_spans and self.buffered_bytes <= self.max_bytes:
                break
            trace_id, oldest = next(iter(self._pending.items()))
            if trace_id == current:
                break
            if not oldest.spans:
                self._pending.move_to_end(trace_id)
                continue
            if now - (oldest.spans[0].end_time or 0) < STALE_AFTER_NS:
                break
            release.extend(self._decide_early(trace_id, oldest))
        return release


def _estimate_bytes(span: ReadableSpan) -> int:
    """Roughly what a finished span holds in memory: a fixed part plus its attribute and event text."""
    size = SPAN_BYTES + _text_bytes(getattr(span, "_attributes", None) or span.attributes)
    if getattr(span, "_events", True):  # the SDK's own list, read without copying it; events are rare
        for event in span.events:
            size += EVENT_BYTES + _text_bytes(event.attributes)
    return size


def _text_bytes(attributes: Any) -> int:
    """Attribute overhead plus the length of text values (a BoundedAttributes is read through its plain dict, which
    iterates without a lock or a copy)."""
    if not attributes:
        return 0
    inner = getattr(attributes, "_dict", None)
    size = 0
    for value in (inner if isinstance(inner, dict) else attributes).values():
        size += ATTRIBUTE_BYTES + len(value) if isinstance(value, str) else ATTRIBUTE_BYTES
    return size
