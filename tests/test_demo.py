"""`agent-tracing demo`, the README's first command, end to end in a fresh directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def test_demo_writes_traces_shows_the_tree_and_evaluates(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_TRACING_", "OTEL_"))}
    result = subprocess.run([sys.executable, "-m", "exporters.cli", "demo"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "[RETRIEVER]" in result.stdout and "5 docs" in result.stdout
    assert "MRR" in result.stdout and "ground-truth rows without a retrieval: 0 of 10" in result.stdout
    assert "writing traces to" in result.stderr
    lines = (tmp_path / "traces" / "traces.jsonl").read_text().splitlines()
    assert lines and all(json.loads(line)["resourceSpans"] for line in lines)


def test_demo_run_again_evaluates_only_its_own_retrievals(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_TRACING_", "OTEL_"))}
    runs = [subprocess.run([sys.executable, "-m", "exporters.cli", "demo"], cwd=tmp_path, env={**env, "COLUMNS": "100"},
                           capture_output=True, text=True, timeout=120) for _ in range(2)]
    for run in runs:
        assert run.returncode == 0, run.stderr
        assert "10 rows scored" in run.stdout, run.stdout  # the file holds both runs' spans; the table counts one run
        assert "MRR" in run.stdout and "retriever " in run.stdout and "…" not in run.stdout  # no heading or name cut short
