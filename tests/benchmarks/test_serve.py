"""Smoke tests of the serving benchmark: `serve.py --quick` for untraced and agent-tracing, and with `--breakdown`, in its
cached serving environment.

It asserts no speed, only that the harness runs: every request answered in full and every span received by the sink.
The environment (.cache/venvs/serve-agent-tracing) is the one `make serve-bench` uses, installed once on first use.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def _serve(tmp_path: Path, *args: str) -> tuple[str, dict[str, Any]]:
    """`serve.py --quick ARGS`: what it printed, and the figures it wrote."""
    out = tmp_path / "serve.json"
    completed = subprocess.run([sys.executable, str(REPO_ROOT / "benchmarks" / "serve.py"), "--quick", *args,
                                "--json", str(out)], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout, json.loads(out.read_text())["figures"]


@pytest.mark.slow
@pytest.mark.servers
def test_serve_quick_answers_every_request_and_exports_every_span(tmp_path: Path) -> None:
    stdout, figures = _serve(tmp_path, "--tracers", "untraced,agent-tracing")
    assert "| agent-tracing |" in stdout
    assert "load generator CPU per request" in stdout
    for tracer in ("untraced", "agent-tracing"):
        assert figures[tracer]["failed"] == 0, figures[tracer]["failures"]
        assert figures[tracer]["answered"] == figures[tracer]["sent"] == figures[tracer]["answered_by_server"] > 0
    assert figures["untraced"]["spans_made"] == 0
    assert figures["agent-tracing"]["spans_made"] == 3 * figures["agent-tracing"]["answered"]
    assert figures["agent-tracing"]["spans_received"] == figures["agent-tracing"]["spans_made"]
    assert figures["agent-tracing"]["kb_exported_per_request"] > 0
    assert "requests/s against the hand-written spans'" not in stdout  # no hand-written spans in this run
    from benchmarks import serve

    placement = serve.placement()
    if placement is not None:  # the servers ran on the CPU set aside for them
        assert figures["untraced"]["cpus"] == figures["agent-tracing"]["cpus"] == sorted(placement[0])


@pytest.mark.slow
@pytest.mark.servers
def test_serve_breakdown_times_every_streamed_event(tmp_path: Path) -> None:
    stdout, every = _serve(tmp_path, "--tracers", "agent-tracing", "--breakdown")
    assert "| tracer | the agent's stream (next) | SSE text | send | in all |" in stdout
    figures = every["agent-tracing"]
    assert figures["failed"] == 0, figures["failures"]
    assert figures["answered"] == figures["sent"] > 0
    assert set(figures["per_request_ms"]) == {"step", "encode", "send"}
    assert all(value > 0 for value in figures["per_request_ms"].values()), figures["per_request_ms"]


def test_paired_ratios_are_taken_round_by_round() -> None:
    from benchmarks import serve

    floor = {1: 100.0, 2: 100.0, 3: 100.0, 4: 100.0, 5: 100.0}
    paired = serve._paired({1: 90.0, 2: 200.0, 3: 50.0, 4: 100.0, 6: 400.0}, floor)  # round 6: no hand-written turn
    assert paired is not None
    assert (paired["median"], paired["q1"], paired["q3"], paired["rounds"]) == (0.95, 0.5, 1.0, 4)
    assert 0.5 <= paired["low"] < 0.95 < paired["high"] <= 2.0  # the median of resampled rounds moves
    assert serve._paired(dict.fromkeys(floor, 200.0), floor) == {"median": 2.0, "low": 2.0, "high": 2.0, "q1": 2.0,
                                                                 "q3": 2.0, "rounds": 5}
    assert serve._paired({}, floor) is None  # a server that answered in no round
    same = {"median": 1.0, "low": 1.0, "high": 1.0, "q1": 1.0, "q3": 1.0, "rounds": 4}
    line = serve.paired_line({"floor": {"vs_floor": same}, "agent-tracing": {"vs_floor": paired},
                              "untraced": {"vs_floor": None}})
    assert line.endswith(f"agent-tracing 0.95 ({paired['low']:.2f}-{paired['high']:.2f}; 0.50-1.00)")
