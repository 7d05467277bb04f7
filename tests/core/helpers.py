"""Reading finished spans back in core tests."""

from __future__ import annotations

import json
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


def by_name(exporter: InMemorySpanExporter, name: str) -> ReadableSpan:
    """The one finished span with this name."""
    found = [span for span in exporter.get_finished_spans() if span.name == name]
    assert len(found) == 1, f"expected one span {name!r}, got {[s.name for s in exporter.get_finished_spans()]}"
    return found[0]


def attrs(span: ReadableSpan) -> dict[str, Any]:
    """A span's attributes as a plain dict."""
    return dict(span.attributes or {})


def inputs(span: ReadableSpan) -> Any:
    """The decoded input.value of a span."""
    return json.loads(span.attributes["input.value"])


def output(span: ReadableSpan) -> Any:
    """The decoded output.value of a span (text stays text)."""
    value = span.attributes["output.value"]
    return value if span.attributes["output.mime_type"] == "text/plain" else json.loads(value)
