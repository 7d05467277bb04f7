"""Fixtures of the retriever tests: a clean schema registry (spans are captured with the shared `spans` fixture)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tracing import _retriever


@pytest.fixture(autouse=True)
def clean_registry() -> Iterator[None]:
    """Each test starts and ends with no retriever schema registered."""
    _retriever._clear_registry()
    yield
    _retriever._clear_registry()
