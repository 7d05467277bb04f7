"""The compiled part of the stream fold (tracing/_speedups.c); optional, see tracing._stream._python_text_run."""

from typing import Any

def text_run(events: list[Any], delta_type: str, /) -> tuple[Any, str] | None:
    """(item_id, the deltas joined) for a list of plain text deltas of one item, else None."""
