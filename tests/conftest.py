"""Shared fixtures: real OpenTelemetry pipelines and the real servers of SPEC section 8."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tracing
from tracing import _errors

pytest_plugins: list[str] = [
    "tests.servers.oteltap",
    "tests.servers.phoenix",
]


@pytest.fixture(autouse=True)
def _no_failed_detach(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every test fails if OpenTelemetry ever logged "Failed to detach context" (SPEC 3.3)."""
    caplog.set_level(logging.WARNING)
    yield
    detached = [r for r in caplog.records if "Failed to detach context" in r.getMessage()]
    assert not detached, f"OpenTelemetry logged 'Failed to detach context' {len(detached)} times"


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    """tracing configured to a real in-memory SDK exporter; shut down afterwards."""
    memory = InMemorySpanExporter()
    tracing.configure(service_name="tests", exporters=[memory])
    _errors.reset_error_counts()
    yield memory
    tracing.shutdown()
