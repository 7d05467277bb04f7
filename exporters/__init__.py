"""The OpenTelemetry SDK components of agent-tracing: the trace-file exporter, OTLP exporters built from URIs,
resilient delivery and a batch processor that counts what it drops.

Beneath: `exporters.tracefiles` (read, view, convert to Jaeger and push trace files), `exporters.evaluation`
(retrieval data sets, ground truth, metrics, the HTML report) and `exporters.cli` (the `agent-tracing` command).
"""

from exporters._delivery import GuardedExporter, ResilientExporter
from exporters._file import FileSpanExporter
from exporters._processor import CountingBatchSpanProcessor, SpanQueueFull, batch_processor
from exporters._uris import exporter_from_uri

__all__ = [
    "CountingBatchSpanProcessor",
    "FileSpanExporter",
    "GuardedExporter",
    "ResilientExporter",
    "SpanQueueFull",
    "batch_processor",
    "exporter_from_uri",
]
