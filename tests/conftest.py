"""Shared fixtures: real OpenTelemetry pipelines and the real servers of SPEC section 8."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

import tracing
from tests.capture import CapturedSpans
from tracing._errors import reset_error_counts

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
def spans() -> Iterator[CapturedSpans]:
    """tracing configured into a real SDK in-memory exporter (`spans.configure(**settings)` to change settings); shut down afterwards."""
    captured = CapturedSpans().configure()
    reset_error_counts()
    yield captured
    tracing.shutdown()
