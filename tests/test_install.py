"""The package as a user installs it: `pip install .` (not editable), then `agent-tracing demo` in an empty directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_demo_runs_from_a_non_editable_install(tmp_path: Path) -> None:
    target = tmp_path / "site"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-cache-dir",
         "--disable-pip-version-check", "--target", str(target), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )
    assert build.returncode == 0, build.stderr
    assert (target / "exporters" / "demo" / "data" / "ground_truth.jsonl").is_file()
    assert (target / "tracing" / "py.typed").is_file() and (target / "exporters" / "py.typed").is_file()
    assert (target / "tracing" / "_speedups.pyi").is_file()
    if shutil.which("cc") or shutil.which("gcc"):  # the compiled fold is built where it can be
        assert list((target / "tracing").glob("_speedups*.so")), sorted(p.name for p in (target / "tracing").iterdir())
    work = tmp_path / "empty"
    work.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AGENT_TRACING_", "OTEL_"))}
    env["PYTHONPATH"] = str(target)
    where = subprocess.run([sys.executable, "-c", "import exporters.demo, tracing; print(exporters.demo.__file__, tracing.__version__)"],
                           cwd=work, env=env, capture_output=True, text=True, timeout=60)
    assert where.stdout.startswith(str(target)), where.stdout + where.stderr
    demo = subprocess.run([sys.executable, "-m", "exporters.cli", "demo"], cwd=work, env=env,
                          capture_output=True, text=True, timeout=300)
    assert demo.returncode == 0, demo.stderr
    assert "[RETRIEVER]" in demo.stdout and "ground-truth rows without a retrieval: 0 of 10" in demo.stdout
    assert (work / "traces" / "traces.jsonl").stat().st_size > 0
    version = subprocess.run([sys.executable, "-m", "exporters.cli", "--version"], cwd=work, env=env,
                             capture_output=True, text=True, timeout=60)
    assert version.stdout.strip() == f"agent-tracing {where.stdout.split()[1]}"
