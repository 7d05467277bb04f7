"""The OpenTelemetry SDK components of agent-tracing: the trace-file exporter, OTLP exporters built from URIs,
resilient delivery and a batch processor that counts what it drops.

Beneath: `exporters.tracefiles` (read, view, convert to Jaeger and push trace files), `exporters.evaluation`
(retrieval data sets, ground truth, metrics, the HTML report) and `exporters.cli` (the `agent-tracing` command).

Each name loads its module on first use (`import tracing` stays quick; SPEC's import budget).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from exporters._delivery import GuardedExporter, ResilientExporter
    from exporters._file import FileSpanExporter
    from exporters._processor import CountingBatchSpanProcessor, SpanQueueFull, batch_processor
    from exporters._uris import exporter_from_uri

_MODULE_OF = {
    "CountingBatchSpanProcessor": "exporters._processor",
    "FileSpanExporter": "exporters._file",
    "GuardedExporter": "exporters._delivery",
    "ResilientExporter": "exporters._delivery",
    "SpanQueueFull": "exporters._processor",
    "batch_processor": "exporters._processor",
    "exporter_from_uri": "exporters._uris",
}

__all__ = [
    "CountingBatchSpanProcessor",
    "FileSpanExporter",
    "GuardedExporter",
    "ResilientExporter",
    "SpanQueueFull",
    "batch_processor",
    "exporter_from_uri",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'exporters' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
