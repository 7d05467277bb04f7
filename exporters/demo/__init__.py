"""`agent-tracing demo`: the packaged RAG agent traced to the embedded default, then its trace tree and retrieval evaluation.

The agent (`exporters.demo.rag_agent`) and its data ship in the package, so the demo runs from an installed wheel.
"""

from __future__ import annotations

from pathlib import Path

from tracing._settings import DEFAULT_TRACE_FILE


def run() -> int:
    """Answer the RAG agent's ground-truth questions, show the last trace and the evaluation table; the exit code."""
    from rich.console import Console

    from exporters.demo import rag_agent
    from exporters.evaluation import evaluate, iter_retrievals, load_ground_truth
    from exporters.evaluation.report_text import print_table
    from exporters.tracefiles import read_spans
    from exporters.tracefiles.view import render

    rag_agent.main([])
    path = Path(DEFAULT_TRACE_FILE)
    if not path.exists():
        print(f"agent-tracing demo: spans went to the configured exporters, not to {path}")
        return 0
    last = None
    for row in iter_retrievals(path):
        last = row["trace_id"]
    if last is not None:
        render(read_spans(path), Console(), trace_id=last)
    print_table(evaluate(iter_retrievals(path, include_content=False), load_ground_truth(rag_agent.GROUND_TRUTH), (1, 3, 5)))
    return 0
