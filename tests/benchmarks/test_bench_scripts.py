"""Smoke tests of the single-purpose benchmark scripts: each runs at a tiny size and prints its figures."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def _run(script: str, *args: str, timeout: float = 120) -> str:
    completed = subprocess.run([sys.executable, str(REPO_ROOT / "benchmarks" / script), *args],
                               capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout


def test_bench_otlp_checks_the_bytes_and_prints_the_ratio() -> None:
    out = _run("bench_otlp.py", "--rounds", "1", "--number", "1", "--batch", "12")
    assert "one batch of 12 spans" in out
    assert "faster" in out


def test_bench_stream_memory_prints_what_open_streams_hold() -> None:
    out = _run("bench_stream_memory.py", "--streams", "20", "--chunks", "30")
    assert "20 open streams, 30 chunks each" in out
    assert out.count("agent-tracing holds") == 2


def test_bench_stream_layers_prints_every_layer_for_both_kinds_of_chunk() -> None:
    out = _run("bench_stream_layers.py", "--chunks", "20", "--number", "2", "--rounds", "1")
    assert "text chunks: ns per chunk" in out and "Responses text-delta events: ns per chunk" in out
    assert out.count("layer driven by send in a context") == 2 and out.count("@trace ") == 2


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="counting instructions needs valgrind")
def test_bench_stream_layers_counts_instructions_per_chunk_under_callgrind() -> None:
    out = _run("bench_stream_layers.py", "--instructions", "--kinds", "events", "--only", "capture_outputs=False",
               "--chunks", "200", "--number", "2")
    rows = dict(re.findall(r"^  (floor's layer \(for loop, chunks kept\)|@trace, capture_outputs=False)\s+(\d+)\s",
                           out, re.MULTILINE))
    assert "Responses text-delta events: instructions per chunk" in out and "text chunks" not in out
    floor, traced = int(rows["floor's layer (for loop, chunks kept)"]), int(rows["@trace, capture_outputs=False"])
    assert 0 < floor < traced  # a traced stream executes more than the floor's loop, never a negative count


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="counting instructions needs valgrind")
def test_serve_instructions_counts_a_request_of_the_serving_workload_per_tracer() -> None:
    out = _run("serve_instructions.py", "--requests", "4", "--tracers", "untraced,agent-tracing", timeout=900)
    rows = {name: (float(thread), float(export)) for name, thread, export in
            re.findall(r"^  (untraced|agent-tracing)\s+([\d.]+) M\s+([\d.]+) M", out, re.MULTILINE)}
    assert 0 < rows["untraced"][0] < rows["agent-tracing"][0]  # tracing adds, never a negative count
    assert rows["untraced"][1] == 0 < rows["agent-tracing"][1]  # its spans are encoded; the untraced have none


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="simulating caches needs valgrind")
def test_serve_instructions_simulates_the_request_threads_caches() -> None:
    out = _run("serve_instructions.py", "--caches", "--requests", "4", "--tracers", "floor,agent-tracing", timeout=900)
    rows = {name: [float(value) for value in values.split(" k")[:4]] + [float(cycles)] for name, values, cycles in
            re.findall(r"^  (floor|agent-tracing)\s+((?:[\d.-]+ k\s+){4})([\d.-]+) M", out, re.MULTILINE)}
    assert set(rows) == {"floor", "agent-tracing"}, out
    for instructions, i1, d1, _l2, cycles in rows.values():
        assert instructions > 0 and i1 > 0 and d1 > 0  # a request executes and misses; L2 misses may be few
        assert cycles * 1e3 >= instructions  # the estimate counts every instruction
    assert "x the hand-written spans'" in out
