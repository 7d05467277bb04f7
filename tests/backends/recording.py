"""The example conversation of tests/conventions recorded once into a trace file and, live, into other exporters."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tracing
from exporters import FileSpanExporter
from exporters.tracefiles import SpanRecord, read_spans
from tests.conventions.conversation_agent import run_conversation


def record_conversation(trace_file: Path, *exporters: Any, resource_attributes: Mapping[str, Any] | None = None) -> list[SpanRecord]:
    """Run the conversation once with tracing exporting to `trace_file` and to `exporters` (URIs or SDK exporters);
    every span delivered and the pipeline shut down on return; the spans the file holds."""
    counted = tracing.error_counts()  # a module fixture runs before the per-test reset: compare, do not expect none
    tracing.configure(service_name="conversation", exporters=[FileSpanExporter(trace_file), *exporters],
                      resource_attributes=resource_attributes)
    try:
        run_conversation()
        assert tracing.force_flush(), "tracing could not deliver the conversation's spans"
        assert tracing.error_counts() == counted, f"tracing counted failures while recording: {tracing.error_counts()}"
    finally:
        tracing.shutdown()
    return list(read_spans(trace_file))
