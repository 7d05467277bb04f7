"""`agent-tracing demo`: the RAG example traced to the embedded default, then its trace tree and retrieval evaluation."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

from tracing._settings import DEFAULT_TRACE_FILE

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "rag_agent.py"


def main(args: argparse.Namespace | None = None) -> int:
    """Answer the RAG example's ground-truth questions, show the last trace and the evaluation table."""
    if not EXAMPLE.exists():
        print(f"agent-tracing demo: {EXAMPLE} is missing; the demo runs from a source checkout", file=sys.stderr)
        return 2
    spec = importlib.util.spec_from_file_location("rag_agent", EXAMPLE)
    assert spec is not None and spec.loader is not None
    rag = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rag)
    rag.main([])
    path = Path(DEFAULT_TRACE_FILE)
    if not path.exists():
        print(f"agent-tracing demo: spans went to the configured exporters, not to {path}")
        return 0
    from exporters import iter_retrievals
    from exporters.cli import main as cli

    last = None
    for row in iter_retrievals(path):
        last = row["trace_id"]
    code = cli(["view", str(path), "--trace", last]) if last else 0
    return code or cli(["evaluate", str(path), "--ground-truth", str(rag.GROUND_TRUTH), "--k", "1,3,5"])
