"""Exporters for agent-tracing: trace files, OTLP collectors, readers, Jaeger JSON and the CLI."""

from exporters._delivery import ResilientExporter
from exporters._evaluate import Evaluation, GroundTruth, GroundTruthError, evaluate, load_ground_truth, retrieval_metrics
from exporters._file import FileSpanExporter
from exporters._processor import CountingBatchSpanProcessor, SpanQueueFull, batch_processor
from exporters._reader import SpanEvent, SpanLink, SpanRecord, TraceFileError, iter_lines, read_spans
from exporters._retrievals import iter_retrievals, request_text, write_retrievals
from exporters._uris import exporter_from_uri

__all__ = [
    "CountingBatchSpanProcessor",
    "Evaluation",
    "FileSpanExporter",
    "GroundTruth",
    "GroundTruthError",
    "ResilientExporter",
    "SpanEvent",
    "SpanLink",
    "SpanQueueFull",
    "SpanRecord",
    "TraceFileError",
    "batch_processor",
    "evaluate",
    "exporter_from_uri",
    "iter_lines",
    "iter_retrievals",
    "load_ground_truth",
    "read_spans",
    "request_text",
    "retrieval_metrics",
    "write_retrievals",
]
