"""Lifetimes (SPEC 3.8): at exit finished spans are flushed within a bound and open streams end as cancelled with
their partial output; an async generator left behind by a closed event loop ends the same way; flush_on_signals
(off by default) flushes on SIGTERM. Real processes, real files, a real socket."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

import tracing
from exporters.tracefiles import read_spans
from tests.capture import attrs
from tests.exporters.collector import HangingCollector

ROOT = Path(__file__).resolve().parents[2]

OPEN_AT_EXIT = r'''
import asyncio, sys
import tracing

tracing.configure(service_name="exit", exporters=[sys.argv[1]])

@tracing.trace
def finished(x: int) -> int:
    return x

@tracing.trace
def words():
    for word in ["partial ", "output ", "never ", "read"]:
        yield word

@tracing.trace
async def async_words():
    for word in ["async ", "partial ", "never"]:
        yield word

finished(1)
stream = words()
next(stream), next(stream)  # still open when the interpreter exits

async def main():
    agen = async_words()
    await agen.__anext__()
    return agen

loop = asyncio.new_event_loop()
kept = loop.run_until_complete(main())  # the loop is never closed; the async generator stays open
print("exiting", flush=True)
'''

SIGTERM = r'''
import sys, threading
import tracing

tracing.configure(service_name="signals", exporters=[sys.argv[1]], flush_on_signals=sys.argv[2] == "on")

@tracing.trace
def handled(i: int) -> int:
    return i

for i in range(25):
    handled(i)
print("ready", flush=True)
threading.Event().wait()  # a server waiting for requests until the orchestrator stops it
'''


def _script(folder: Path, text: str) -> Path:
    path = folder / "main_script.py"
    path.write_text(text, encoding="utf-8")
    return path


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), **extra}


def _by_name(path: Path) -> dict[str, Any]:
    return {span.name: span for span in read_spans(path, strict=True)}


@pytest.mark.slow
def test_spans_and_open_streams_are_flushed_at_exit_as_cancelled_with_their_partial_output(tmp_path: Path) -> None:
    trace_file = tmp_path / "traces.jsonl"
    run = subprocess.run([sys.executable, str(_script(tmp_path, OPEN_AT_EXIT)), f"file://{trace_file}"], cwd=tmp_path,
                         env=_env(OTEL_BSP_SCHEDULE_DELAY="600000"), capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    spans = _by_name(trace_file)
    assert set(spans) == {"finished", "words", "async_words"}
    words, async_words = spans["words"].attributes, spans["async_words"].attributes
    assert words["agent_tracing.stream.cancelled"] is True and words["output.value"] == "partial output "
    assert async_words["agent_tracing.stream.cancelled"] is True and async_words["output.value"] == "async "
    assert "Failed to detach context" not in run.stderr


@pytest.mark.slow
@pytest.mark.parametrize("scheme", ["otlp+http", "otlp"])
def test_exit_with_a_collector_that_never_answers_ends_within_its_bound(tmp_path: Path, scheme: str) -> None:
    hanging = HangingCollector()
    try:
        started = time.monotonic()
        run = subprocess.run([sys.executable, str(_script(tmp_path, OPEN_AT_EXIT)), f"{scheme}://127.0.0.1:{hanging.port}"],
                             cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=120)
        took = time.monotonic() - started
    finally:
        hanging.close()
    assert run.returncode == 0, run.stderr
    bound = 2 * 5.0 + 10  # twice the exit flush bound (tracing._runtime.EXIT_TIMEOUT_S) plus interpreter start
    assert took < bound, f"exit took {took:.1f} s against a hanging collector"


@pytest.mark.slow
@pytest.mark.parametrize("flush_on_signals", ["on", "off"])
def test_sigterm_flushes_only_when_flush_on_signals_is_on(tmp_path: Path, flush_on_signals: str) -> None:
    trace_file = tmp_path / "traces.jsonl"
    process = subprocess.Popen([sys.executable, str(_script(tmp_path, SIGTERM)), f"file://{trace_file}", flush_on_signals],
                               cwd=tmp_path, env=_env(OTEL_BSP_SCHEDULE_DELAY="600000"), stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        os.kill(process.pid, signal.SIGTERM)
        code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    assert code == -signal.SIGTERM  # the process still ends as SIGTERM ends it
    spans = list(read_spans(trace_file)) if trace_file.exists() else []
    if flush_on_signals == "on":
        assert sorted(json.loads(s.attributes["input.value"])["i"] for s in spans) == list(range(25))
    else:
        assert spans == []  # nothing was flushed: the batch delay is ten minutes and no handler was installed


def test_no_signal_handler_is_installed_unless_asked(spans: Any) -> None:
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    spans.configure(flush_on_signals=True)
    assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    spans.configure()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


@tracing.trace
async def _async_words() -> AsyncIterator[str]:
    for word in ["left ", "behind ", "never"]:
        yield word


@tracing.trace
def _words() -> Iterator[str]:
    yield from ["dropped ", "here ", "never"]


def test_an_async_generator_left_behind_by_a_closed_loop_ends_cancelled_with_its_partial_output(spans: Any) -> None:
    async def main() -> Any:
        agen = _async_words()
        await agen.__anext__()
        await agen.__anext__()
        return agen

    loop = asyncio.new_event_loop()
    agen = loop.run_until_complete(main())
    loop.close()  # without shutdown_asyncgens: the loop's finalizer for this generator will never run
    del agen
    gc.collect()
    recorded = attrs(spans.one("_async_words"))
    assert recorded["agent_tracing.stream.cancelled"] is True
    assert recorded["output.value"] == "left behind "


def test_a_generator_dropped_unfinished_ends_cancelled_with_its_partial_output(spans: Any) -> None:
    stream = _words()
    next(stream)
    del stream
    gc.collect()
    recorded = attrs(spans.one("_words"))
    assert recorded["agent_tracing.stream.cancelled"] is True and recorded["output.value"] == "dropped "
