"""`agent-tracing demo`: the packaged RAG agent traced to the embedded default, then its trace tree and retrieval evaluation.

The agent (`exporters.demo.rag_agent`) and its data ship in the package, so the demo runs from an installed wheel.
"""

from __future__ import annotations

from pathlib import Path

from tracing._settings import DEFAULT_TRACE_FILE


def run() -> int:
    """Answer the RAG agent's ground-truth questions, show the last trace and the evaluation table; the exit code."""
    from exporters.cli import main as cli
    from exporters.demo import rag_agent
    from exporters.evaluation import iter_retrievals

    rag_agent.main([])
    path = Path(DEFAULT_TRACE_FILE)
    if not path.exists():
        print(f"agent-tracing demo: spans went to the configured exporters, not to {path}")
        return 0
    last = None
    for row in iter_retrievals(path):
        last = row["trace_id"]
    code = cli(["view", str(path), "--trace", last]) if last else 0
    return code or cli(["evaluate", str(path), "--ground-truth", str(rag_agent.GROUND_TRUTH), "--k", "1,3,5"])
