"""Exporters for agent-tracing: trace files, OTLP collectors, readers, Jaeger JSON and the CLI."""

from exporters._file import FileSpanExporter
from exporters._reader import SpanEvent, SpanLink, SpanRecord, TraceFileError, iter_lines, read_spans

__all__ = [
    "FileSpanExporter",
    "SpanEvent",
    "SpanLink",
    "SpanRecord",
    "TraceFileError",
    "iter_lines",
    "read_spans",
]
