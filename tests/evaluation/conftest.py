"""Fixtures of the evaluation tests: tracing configured to a real trace file; the instrumentors' cached environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import tracing
from tests.servers.instrumentors import instrumentors_python

__all__ = ["instrumentors_python", "trace_file"]


@pytest.fixture
def trace_file(tmp_path: Path) -> Iterator[Path]:
    """tracing configured to write OTLP JSON Lines to a fresh file; flush it before reading, shut down afterwards."""
    path = tmp_path / "traces.jsonl"
    tracing.configure(service_name="evaluation-tests", exporters=[f"file://{path}"])
    yield path
    tracing.shutdown()
