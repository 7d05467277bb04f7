"""`agent-tracing demo`: the packaged RAG agent traced to the embedded default, then its trace tree and retrieval evaluation.

The agent (`exporters.demo.rag_agent`) and its data ship in the package, so the demo runs from an installed wheel.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tracing._settings import DEFAULT_TRACE_FILE


def run() -> int:
    """Answer the RAG agent's ground-truth questions, show the last trace and the evaluation table of this run's
    retrievals (the trace file keeps earlier runs' spans); the exit code."""
    from rich.console import Console

    from exporters.demo import rag_agent
    from exporters.evaluation import evaluate, iter_retrievals, load_ground_truth
    from exporters.evaluation.report_text import print_table
    from exporters.tracefiles import read_spans
    from exporters.tracefiles.view import render

    since = _timestamp(datetime.now(timezone.utc))
    rag_agent.main([])
    path = Path(DEFAULT_TRACE_FILE)
    if not path.exists():
        print(f"agent-tracing demo: spans went to the configured exporters, not to {path}")
        return 0
    last = None
    for row in _since(iter_retrievals(path), since):
        last = row["trace_id"]
    if last is not None:
        render(read_spans(path), Console(), trace_id=last)
    print_table(evaluate(_since(iter_retrievals(path, include_content=False), since), load_ground_truth(rag_agent.GROUND_TRUTH), (1, 3, 5)))
    return 0


def _timestamp(moment: datetime) -> str:
    """A UTC time as the retrievals data set writes `start_time` (ISO 8601, microseconds, Z)."""
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _since(rows: Iterable[dict[str, Any]], since: str) -> Iterator[dict[str, Any]]:
    """The rows of retriever spans that started at or after `since` (same format: the strings order as the times)."""
    return (row for row in rows if row["start_time"] >= since)
