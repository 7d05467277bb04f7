"""Aggregation of the chunks a traced generator yielded into one span output."""

from __future__ import annotations

from typing import Any


def aggregate_stream(chunks: list[Any]) -> Any:
    """Aggregate streamed chunks: strings joined, anything else listed."""
    if chunks and all(isinstance(chunk, str) for chunk in chunks):
        return "".join(chunks)
    return list(chunks)
