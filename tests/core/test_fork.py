"""Processes (SPEC 3.8): after fork the child's pipeline works and exports its spans once; multiprocessing children
(fork, forkserver, spawn) that end without flushing still export. Real processes, a real OTLP receiver (oteltap)
and real trace files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from exporters.tracefiles import read_spans
from tests.servers.oteltap import OtelTap, attributes_of

ROOT = Path(__file__).resolve().parents[2]

MASTER = r'''
import json, os, sys, threading
import tracing

tracing.configure(service_name="master", exporters=[sys.argv[1]])

@tracing.trace
def work(who: str, i: int) -> int:
    return i

made = {"master": 0}
stop = threading.Event()

def keep_exporting() -> None:
    # The master never stops tracing, so its batch worker is exporting whenever it forks (paced to what one
    # exporter delivers, so its queue does not overflow: this test is about fork, not about a full queue).
    while not stop.wait(0.0005):
        work("master", made["master"])
        made["master"] += 1

producer = threading.Thread(target=keep_exporting)
producer.start()
children = []
for k in range(int(sys.argv[2])):
    while made["master"] < 200 * (k + 1):
        pass
    pid = os.fork()
    if pid == 0:  # a worker: trace, then leave as gunicorn's workers do (sys.exit: atexit flushes)
        for i in range(200):
            work(f"worker{k}", i)
        sys.exit(0)
    children.append(pid)
codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]
stop.set()
producer.join()
print(json.dumps({"codes": codes, "master": made["master"]}))
'''

MULTIPROCESSING = r'''
import json, multiprocessing, sys
import tracing

@tracing.trace
def task(i: int) -> int:
    return i * 2

def child(n: int) -> None:
    for i in range(n):
        task(i)

if __name__ == "__main__":
    context = multiprocessing.get_context(sys.argv[1])
    with tracing.start_span("parent"):
        process = context.Process(target=child, args=(30,))
        process.start()
        process.join()
        pool = context.Pool(2)
        assert pool.map(task, range(40)) == [i * 2 for i in range(40)]
        pool.close()
        pool.join()
    print(json.dumps({"exitcode": process.exitcode}))
'''


APPLICATION_PROVIDER = r'''
import os, sys
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
import tracing

trace.set_tracer_provider(TracerProvider())  # the application's own provider: our exporters join it
tracing.configure(service_name="app", exporters=[sys.argv[1]])

@tracing.trace
def ours(who: str) -> str:
    return who

ours("parent")
pid = os.fork()
if pid == 0:
    with trace.get_tracer("other-instrumentation").start_as_current_span("theirs"):  # the child's first span
        pass
    ours("child")
    sys.exit(0)
os.waitpid(pid, 0)
print("{}")
'''


def _run(script: str, *args: str, folder: Path, env: dict[str, str] | None = None, timeout: float = 120) -> dict[str, Any]:
    """Run a script file (spawn and forkserver children import the main module by its path)."""
    path = folder / "main_script.py"
    path.write_text(script, encoding="utf-8")
    run = subprocess.run([sys.executable, str(path), *args], capture_output=True, text=True, timeout=timeout, cwd=folder,
                         env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
    assert run.returncode == 0, run.stderr[-3000:]
    return dict(json.loads(run.stdout.strip().splitlines()[-1]))


def _who(span: dict[str, Any]) -> str:
    return str(json.loads(attributes_of(span)["input.value"])["who"])


FAST_BATCHES = {"OTEL_BSP_SCHEDULE_DELAY": "5", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "64"}


@pytest.mark.slow
def test_a_prefork_master_exporting_while_it_forks_workers_gets_every_span_once_over_otlp(oteltap: OtelTap, tmp_path: Path) -> None:
    result = _run(MASTER, f"otlp+http://127.0.0.1:{oteltap.port}", "4", folder=tmp_path, env=FAST_BATCHES)
    assert result["codes"] == [0, 0, 0, 0]
    expected = 4 * 200 + result["master"]
    received = oteltap.wait_for(expected, timeout_s=60)
    ids = Counter(span["spanId"] for span in received)
    assert [span_id for span_id, seen in ids.items() if seen > 1] == [], "a span was exported twice"
    by_who = Counter(_who(span) for span in received)
    assert by_who == {"master": result["master"], **{f"worker{k}": 200 for k in range(4)}}


@pytest.mark.slow
def test_a_prefork_master_and_its_workers_append_to_one_trace_file_once(tmp_path: Path) -> None:
    path = tmp_path / "traces.jsonl"
    result = _run(MASTER, f"file://{path}", "3", folder=tmp_path, env=FAST_BATCHES)
    assert result["codes"] == [0, 0, 0]
    spans = list(read_spans(path, strict=True))
    ids = Counter(span.span_id for span in spans)
    assert max(ids.values()) == 1, "a span was written twice"
    by_who = Counter(json.loads(str(span.attributes["input.value"]))["who"] for span in spans)
    assert by_who == {"master": result["master"], **{f"worker{k}": 200 for k in range(3)}}


@pytest.mark.slow
@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
def test_multiprocessing_children_that_never_flush_still_export(oteltap: OtelTap, method: str, tmp_path: Path) -> None:
    # Children of every start method read the configuration from the environment; fork children inherit it.
    env = {"AGENT_TRACING_EXPORTERS": f"otlp+http://127.0.0.1:{oteltap.port}", "AGENT_TRACING_SERVICE_NAME": "mp"}
    result = _run(MULTIPROCESSING, method, folder=tmp_path, env=env)
    assert result["exitcode"] == 0
    received = oteltap.wait_for(1 + 30 + 40, timeout_s=60)
    assert Counter(span["name"] for span in received) == {"parent": 1, "task": 70}
    assert len({span["spanId"] for span in received}) == len(received), "a span was exported twice"
    if method == "fork":  # a forked child starts in the context it was forked in
        parent = next(span for span in received if span["name"] == "parent")
        assert sum(span["traceId"] == parent["traceId"] for span in received) == 71


@pytest.mark.slow
def test_a_forked_child_of_an_application_provider_exports_other_instrumentation_s_spans_too(tmp_path: Path) -> None:
    path = tmp_path / "traces.jsonl"
    _run(APPLICATION_PROVIDER, f"file://{path}", folder=tmp_path)
    spans = list(read_spans(path, strict=True))
    names = Counter((span.name, json.loads(str(span.attributes.get("input.value", "{}"))).get("who")) for span in spans)
    assert names == {("ours", "parent"): 1, ("theirs", None): 1, ("ours", "child"): 1}
