"""Smoke test of the peer comparison harness: the sink counts spans and compare.py runs at tiny sizes in our own venv."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.request import urlopen

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from benchmarks.sink import make_server

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def sink() -> Iterator[str]:
    """A sink served from a thread; yields its base URL."""
    server, _ = make_server(0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_sink_counts_spans_per_service(sink: str) -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "smoke"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{sink}/v1/traces")))
    tracer = provider.get_tracer("smoke")
    for index in range(25):
        with tracer.start_as_current_span(f"span-{index}"):
            pass
    assert provider.force_flush()
    provider.shutdown()
    with urlopen(f"{sink}/counts", timeout=10) as response:
        assert json.loads(response.read()) == {"smoke": 25}


@pytest.mark.slow
def test_compare_runs_tiny_in_our_venv(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    completed = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "compare.py"), "--tracers", "untraced,floor,agent-tracing",
         "--rounds", "1", "--scale", "0.01", "--import-runs", "1", "--json", str(out)],
        capture_output=True, text=True, timeout=240, cwd=tmp_path,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "small agent call (per call)" in completed.stdout
    assert "import tracing" in completed.stdout
    figures = json.loads(out.read_text())
    assert figures["spans_made"]["agent-tracing"] > 0
    assert figures["spans_received"]["agent-tracing"] == figures["spans_made"]["agent-tracing"]
    assert figures["spans_received"]["floor"] == figures["spans_made"]["floor"]


def test_import_times_byte_compile_our_packages_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # an editable checkout imported with PYTHONDONTWRITEBYTECODE set never caches its bytecode; an install does
    from benchmarks import compare

    for package in ("tracing", "exporters"):
        shutil.copytree(REPO_ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "benchmarks").mkdir()
    monkeypatch.setattr(compare, "HERE", tmp_path / "benchmarks")
    monkeypatch.setattr(compare.peers, "is_installed", lambda peer: False)
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    times = compare.import_times(1)
    assert [name for name, _ in times] == ["python -c pass", "import opentelemetry.sdk.trace, pydantic",
                                           "the same + one pydantic BaseModel", "import tracing"]
    assert all(seconds > 0 for _, seconds in times)
    assert list((tmp_path / "tracing" / "__pycache__").glob("_recorder.*.pyc"))
    assert list((tmp_path / "exporters" / "__pycache__").glob("_otlp.*.pyc"))
