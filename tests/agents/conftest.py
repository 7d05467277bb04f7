"""Fixtures of the agent tests: a real SDK pipeline exporting to memory."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tracing


class Spans:
    """The spans a test produced, finished and exported through the SDK."""

    def __init__(self, exporter: InMemorySpanExporter) -> None:
        self.exporter = exporter

    def all(self) -> list[ReadableSpan]:
        """Every finished span, in the order they ended."""
        return list(self.exporter.get_finished_spans())

    def named(self, name: str) -> ReadableSpan:
        """The one finished span with this name."""
        matching = [span for span in self.all() if span.name == name]
        assert len(matching) == 1, [span.name for span in self.all()]
        return matching[0]


def output_of(span: ReadableSpan) -> Any:
    """The span's output.value, decoded from JSON."""
    return json.loads(span.attributes["output.value"])


def input_of(span: ReadableSpan) -> Any:
    """The span's input.value, decoded from JSON."""
    return json.loads(span.attributes["input.value"])


@pytest.fixture
def spans() -> Iterator[Spans]:
    exporter = InMemorySpanExporter()
    tracing.configure(service_name="agent-tests", exporters=[exporter])
    yield Spans(exporter)
    tracing.shutdown()
