"""Fixtures of the retriever tests: a clean schema registry and a real SDK pipeline into memory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tracing
from tracing import _retriever
from tracing._errors import reset_error_counts


@pytest.fixture(autouse=True)
def clean_registry() -> Iterator[None]:
    """Each test starts and ends with no retriever schema registered and no counted failures."""
    _retriever._clear_registry()
    reset_error_counts()
    yield
    _retriever._clear_registry()


class Recorded:
    """Spans finished by the tracing pipeline, read back from the SDK's in-memory exporter."""

    def __init__(self, exporter: InMemorySpanExporter) -> None:
        self.exporter = exporter

    def spans(self) -> list[ReadableSpan]:
        """Every finished span so far."""
        tracing.force_flush()
        return list(self.exporter.get_finished_spans())

    def one(self, name: str) -> ReadableSpan:
        """The single finished span called `name`."""
        found = [span for span in self.spans() if span.name == name]
        assert len(found) == 1, [span.name for span in self.spans()]
        return found[0]


@pytest.fixture
def configure_memory() -> Iterator[Callable[..., Recorded]]:
    """Configure tracing into memory with extra settings (capture_content, max_attribute_length, ...); shut down afterwards."""

    def configure(**settings: Any) -> Recorded:
        exporter = InMemorySpanExporter()
        tracing.configure(service_name="retriever-tests", exporters=[exporter], **settings)
        return Recorded(exporter)

    yield configure
    tracing.shutdown()


@pytest.fixture
def recorded(configure_memory: Callable[..., Recorded]) -> Recorded:
    """tracing configured with an in-memory exporter (content captured, default limits)."""
    return configure_memory()

