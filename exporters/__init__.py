"""Exporters for agent-tracing: trace files, OTLP collectors, readers, Jaeger JSON and the CLI."""

from exporters._delivery import ResilientExporter
from exporters._file import FileSpanExporter
from exporters._processor import CountingBatchSpanProcessor, SpanQueueFull, batch_processor
from exporters._reader import SpanEvent, SpanLink, SpanRecord, TraceFileError, iter_lines, read_spans
from exporters._uris import exporter_from_uri

__all__ = [
    "CountingBatchSpanProcessor",
    "FileSpanExporter",
    "ResilientExporter",
    "SpanEvent",
    "SpanLink",
    "SpanQueueFull",
    "SpanRecord",
    "TraceFileError",
    "batch_processor",
    "exporter_from_uri",
    "iter_lines",
    "read_spans",
]
