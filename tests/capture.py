"""The one way tests capture spans: tracing configured into a real SDK in-memory exporter, read back here.

The `spans` fixture (tests/conftest.py) hands a `CapturedSpans` to the test, configured with the default
settings; `spans.configure(capture_content=False, ...)` starts again with other settings.
"""

from __future__ import annotations

import json
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tracing


class CapturedSpans:
    """The spans a test produced, finished and exported through the real SDK pipeline of `tracing`."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()

    def configure(self, **settings: Any) -> CapturedSpans:
        """(Re)configure tracing into a fresh in-memory exporter with these settings; spans captured so far are left behind."""
        memory = InMemorySpanExporter()
        tracing.configure(service_name="tests", exporters=[memory], **settings)
        self.exporter = memory
        return self

    def all(self) -> list[ReadableSpan]:
        """Every finished span so far, in the order they ended."""
        tracing.force_flush()
        return list(self.exporter.get_finished_spans())

    def one(self, name: str) -> ReadableSpan:
        """The single finished span called `name`."""
        finished = self.all()
        found = [span for span in finished if span.name == name]
        assert len(found) == 1, f"expected one span {name!r}, got {[span.name for span in finished]}"
        return found[0]

    def clear(self) -> None:
        """Forget the spans finished so far."""
        tracing.force_flush()
        self.exporter.clear()


def attrs(span: ReadableSpan) -> dict[str, Any]:
    """A span's attributes as a plain dict."""
    return dict(span.attributes or {})


def inputs(span: ReadableSpan) -> Any:
    """The decoded input.value of a span."""
    return json.loads(attrs(span)["input.value"])


def output(span: ReadableSpan) -> Any:
    """The decoded output.value of a span (text stays text when output.mime_type is text/plain)."""
    attributes = attrs(span)
    value = attributes["output.value"]
    return value if attributes.get("output.mime_type") == "text/plain" else json.loads(value)
