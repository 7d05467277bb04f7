"""Trace files read back: OTLP JSON Lines to span records, a terminal tree, Jaeger UI JSON and a replay to a collector."""

from exporters.tracefiles.jaeger import to_jaeger, write_jaeger
from exporters.tracefiles.push import PushResult, push
from exporters.tracefiles.reader import SpanEvent, SpanLink, SpanRecord, TraceFileError, UnreadableLine, decode_line, iter_records, read_spans

__all__ = [
    "PushResult",
    "SpanEvent",
    "SpanLink",
    "SpanRecord",
    "TraceFileError",
    "UnreadableLine",
    "decode_line",
    "iter_records",
    "push",
    "read_spans",
    "to_jaeger",
    "write_jaeger",
]
