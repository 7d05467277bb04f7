"""Tail sampling (issue 16): traces with an ERROR span or a slow local root are kept whole, the rest at the ratio by
trace id; undecided traces wait in a bounded buffer; what is dropped is counted. Real SDK pipelines, real trace
files, a real OTLP receiver."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
import threading
import time
import tracemalloc
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import TraceIdRatioBased

import tracing
from exporters._sampling import TailSampler
from exporters.tracefiles import read_spans
from tests.servers.oteltap import OtelTap
from tracing import _runtime
from tracing._settings import Sampling, resolve

SLOW_MS = 2000
SLOW_BY_NS = 3_000_000_000
"""Slow requests start their root this long before now (an explicit start time): slower than SLOW_MS, deterministically."""


@pytest.fixture(autouse=True)
def _shutdown() -> Iterator[None]:
    yield
    tracing.shutdown()


def kept_by_ratio(trace_id: int, ratio: float) -> bool:
    """The SDK's TraceIdRatioBased rule, which every process of a trace applies alike."""
    return (trace_id & TraceIdRatioBased.TRACE_ID_LIMIT) < TraceIdRatioBased.get_bound_for_rate(ratio)


def sampler() -> TailSampler:
    pipeline = _runtime.state.pipeline
    assert pipeline is not None and pipeline.sampler is not None
    return pipeline.sampler


def counts_since(before: dict[str, int]) -> dict[str, int]:
    return {name: value - before[name] for name, value in tracing.sampling_counts().items()}


# ---------------------------------------------------------------- the workload: a small traced request


@tracing.trace
def lookup(i: int, fail: bool) -> int:
    if fail:
        raise LookupError(f"request {i} failed")
    return i


@tracing.trace
def answer(i: int) -> Iterator[str]:
    yield f"first {i}"
    yield f"second {i}"


@dataclass
class Request:
    index: int
    kind: str  # "fail", "slow" or "normal"
    stream: bool
    trace_id: int = 0

    @property
    def span_count(self) -> int:
        return 4 if self.stream else 3


def handle(request: Request) -> Request:
    """A root span and two lookups (one failing for "fail"); a stream's first chunk inside the root, its end after it."""
    start = time.time_ns() - SLOW_BY_NS if request.kind == "slow" else None
    stream = None
    with trace.get_tracer("tests.sampling").start_as_current_span("request", start_time=start) as root:
        request.trace_id = root.get_span_context().trace_id
        try:
            lookup(request.index, request.kind == "fail")
        except LookupError:
            pass
        lookup(request.index + 1, False)
        if request.stream:
            stream = answer(request.index)
            next(stream)
    if stream is not None:
        list(stream)  # the stream ends long after its parent did
    return request


def workload(total: int, failing: int, slow: int) -> list[Request]:
    kinds = ["fail"] * failing + ["slow"] * slow + ["normal"] * (total - failing - slow)
    order = sorted(range(total), key=lambda i: (i * 7919) % total)  # spread the kinds over the run
    return [Request(index=i, kind=kinds[order[i]], stream=i % 3 == 0) for i in range(total)]


def by_trace(spans: Iterable[tuple[int, int, int | None]]) -> dict[int, list[tuple[int, int | None]]]:
    traces: dict[int, list[tuple[int, int | None]]] = defaultdict(list)
    for trace_id, span_id, parent_id in spans:
        traces[trace_id].append((span_id, parent_id))
    return traces


def assert_no_partial_trace(traces: dict[int, list[tuple[int, int | None]]]) -> None:
    """Every span's parent is in the same trace, or the span is the root."""
    for trace_id, members in traces.items():
        ids = {span_id for span_id, _ in members}
        orphans = [span_id for span_id, parent in members if parent is not None and parent not in ids]
        assert not orphans, f"trace {trace_id:032x} is partial: spans {orphans} lack their parent"


def assert_sampled(requests: list[Request], traces: dict[int, list[tuple[int, int | None]]], ratio: float) -> list[Request]:
    """Failing and slow requests are there whole; the rest exactly as the trace-id ratio says, whole. The normal kept."""
    assert_no_partial_trace(traces)
    kept_normal = []
    for request in requests:
        found = len(traces.get(request.trace_id, ()))
        if request.kind != "normal" or kept_by_ratio(request.trace_id, ratio):
            assert found == request.span_count, f"{request} has {found} of {request.span_count} spans"
            if request.kind == "normal":
                kept_normal.append(request)
        else:
            assert found == 0, f"{request} should have been dropped, {found} spans are there"
    assert set(traces) == {request.trace_id for request in requests if request.trace_id in traces}
    return kept_normal


# ---------------------------------------------------------------- the figures


@pytest.mark.slow
def test_2000_requests_to_a_trace_file_keep_every_failing_and_slow_trace_whole_and_about_a_tenth_of_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "traces.jsonl"
    tracing.configure(service_name="sampled", exporters=[str(path)],
                      sampling={"ratio": 0.1, "keep_errors": True, "keep_slower_than_ms": SLOW_MS})
    before = tracing.sampling_counts()
    requests = workload(2000, failing=37, slow=25)
    with ThreadPoolExecutor(max_workers=8) as pool:
        done = list(pool.map(handle, requests))
    assert tracing.force_flush()
    assert sampler().buffered_spans == 0

    traces = by_trace((int(r.trace_id, 16), int(r.span_id, 16), int(r.parent_span_id, 16) if r.parent_span_id else None)
                      for r in read_spans(path))
    kept_normal = assert_sampled(done, traces, 0.1)
    assert 0.06 * 1938 <= len(kept_normal) <= 0.14 * 1938, len(kept_normal)
    assert sum(r.stream for r in kept_normal) > 0, "no kept trace had a stream ending after its root"
    counts = counts_since(before)
    assert counts["traces_kept"] == 37 + 25 + len(kept_normal)
    assert counts["traces_dropped"] == 1938 - len(kept_normal)
    assert counts["spans_kept"] == sum(len(members) for members in traces.values())
    assert counts["spans_kept"] + counts["spans_dropped"] == sum(r.span_count for r in done)
    assert counts["traces_overflowed"] == 0


@pytest.mark.provokes_failures("tail sampling buffer")
def test_1000_concurrent_open_traces_stay_within_the_buffer_bound_and_what_does_not_fit_is_counted(tmp_path: Path) -> None:
    max_bytes, max_spans, children, text = 2_000_000, 5_000, 10, "x" * 2000
    tracing.configure(exporters=[str(tmp_path / "traces.jsonl")],
                      sampling={"ratio": 0.0, "max_spans": max_spans, "max_bytes": max_bytes})
    tracer = trace.get_tracer("tests.sampling")
    before = tracing.sampling_counts()
    roots = [tracer.start_span("request") for _ in range(1000)]
    gc.collect()
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        for root in roots:
            with trace.use_span(root, end_on_exit=False):
                for _ in range(children):
                    with tracing.start_span("step", attributes={"text": text}):
                        pass
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
    held = sampler()
    assert held.buffered_bytes <= max_bytes and held.buffered_spans <= max_spans
    counts = counts_since(before)
    ended = 1000 * children
    assert counts["traces_overflowed"] > 0 and counts["spans_dropped_by_overflow"] > 0
    assert held.buffered_spans + counts["spans_dropped"] == ended, "every ended span is buffered or counted"
    unbounded = ended * (len(text) + 3000)
    assert grown < max_bytes + 1_000_000 < unbounded / 10, f"the buffer grew memory by {grown} bytes"
    for root in roots:
        root.end()
    assert held.buffered_spans == 0 and held.buffered_bytes == 0


# ---------------------------------------------------------------- threads, asyncio, streams


def test_threads_each_with_their_own_traces_are_kept_or_dropped_whole() -> None:
    memory = InMemorySpanExporter()
    tracing.configure(exporters=[memory], sampling={"ratio": 0.5})
    requests = workload(200, failing=10, slow=0)
    barrier = threading.Barrier(8)

    def run(share: list[Request]) -> None:
        barrier.wait()
        for request in share:
            handle(request)

    threads = [threading.Thread(target=run, args=(requests[k::8],)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert tracing.force_flush()
    spans = memory.get_finished_spans()
    traces = by_trace((s.context.trace_id, s.context.span_id, s.parent.span_id if s.parent else None) for s in spans)
    assert assert_sampled(requests, traces, 0.5)


def test_asyncio_tasks_are_sampled_per_trace() -> None:
    memory = InMemorySpanExporter()
    tracing.configure(exporters=[memory], sampling={"ratio": 0.5})

    @tracing.trace
    async def fetch(i: int, fail: bool) -> int:
        await asyncio.sleep(0)
        if fail:
            raise LookupError(i)
        return i

    @tracing.trace
    async def chunks(i: int) -> AsyncIterator[int]:
        for k in range(3):
            await asyncio.sleep(0)
            yield k

    async def one(request: Request) -> Request:
        with trace.get_tracer("tests.sampling").start_as_current_span("request") as root:
            request.trace_id = root.get_span_context().trace_id
            try:
                await fetch(request.index, request.kind == "fail")
            except LookupError:
                pass
            await fetch(request.index + 1, False)
            stream = chunks(request.index) if request.stream else None
            if stream is not None:
                await anext(stream)
        if stream is not None:
            async for _ in stream:
                pass
        return request

    async def main(requests: list[Request]) -> list[Request]:
        return list(await asyncio.gather(*(one(request) for request in requests)))

    requests = asyncio.run(main(workload(300, failing=12, slow=0)))
    assert tracing.force_flush()
    spans = memory.get_finished_spans()
    traces = by_trace((s.context.trace_id, s.context.span_id, s.parent.span_id if s.parent else None) for s in spans)
    assert assert_sampled(requests, traces, 0.5)
    assert {name for name in Counter(s.name for s in spans)} == {"request", "fetch", "chunks"}


@pytest.mark.parametrize("ratio", [0.0, 1.0])
def test_a_stream_opened_after_its_trace_was_decided_follows_the_decision(ratio: float) -> None:
    memory = InMemorySpanExporter()
    tracing.configure(exporters=[memory], sampling={"ratio": ratio})
    with tracing.start_span("request"):
        stream = answer(1)  # a generator returned by the handler: its span opens at the first chunk, after the root ended
    assert sampler().buffered_spans == 0, "the root's end completed the trace's local part"
    assert list(stream) == ["first 1", "second 1"]
    assert tracing.force_flush()
    names = sorted(span.name for span in memory.get_finished_spans())
    assert names == (["answer", "request"] if ratio else [])
    assert sampler().buffered_spans == 0


def test_a_trace_waits_until_every_span_started_here_has_ended_then_force_flush_exports_it() -> None:
    memory = InMemorySpanExporter()
    tracing.configure(exporters=[memory], sampling={"ratio": 1.0})
    with tracing.start_span("request"):
        stream = answer(2)
        next(stream)
    assert tracing.force_flush()
    assert memory.get_finished_spans() == (), "the trace is incomplete while its stream is open"
    assert sampler().buffered_spans == 1
    list(stream)
    assert tracing.force_flush()
    assert sorted(span.name for span in memory.get_finished_spans()) == ["answer", "request"]


def test_an_error_keeps_the_trace_whole_even_at_ratio_zero_and_keep_errors_false_does_not() -> None:
    for keep_errors, expected in ((True, 3), (False, 0)):
        memory = InMemorySpanExporter()
        tracing.configure(exporters=[memory], sampling={"ratio": 0.0, "keep_errors": keep_errors})
        handle(Request(index=1, kind="fail", stream=False))
        handle(Request(index=2, kind="normal", stream=False))
        assert tracing.force_flush()
        assert len(memory.get_finished_spans()) == expected


def test_a_slow_remote_child_root_counts_as_a_local_root() -> None:
    memory = InMemorySpanExporter()
    tracing.configure(exporters=[memory], sampling={"ratio": 0.0, "keep_slower_than_ms": SLOW_MS})
    carrier = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}  # from a caller elsewhere
    with tracing.continue_trace(carrier):
        with trace.get_tracer("tests.sampling").start_as_current_span("served", start_time=time.time_ns() - SLOW_BY_NS):
            lookup(1, False)
    assert tracing.force_flush()
    assert sorted(span.name for span in memory.get_finished_spans()) == ["lookup", "served"]


@pytest.mark.provokes_failures("tail sampling buffer")
def test_a_trace_that_outgrows_the_buffer_is_decided_at_once_kept_spans_then_pass_straight_through(
    caplog: pytest.LogCaptureFixture,
) -> None:
    memory = InMemorySpanExporter()
    tracing.configure(exporters=[memory], sampling={"ratio": 1.0, "max_spans": 3})
    before = tracing.sampling_counts()
    with tracing.start_span("request"):
        for i in range(6):
            lookup(i, False)
            if i == 3:
                assert [s.name for s in memory.get_finished_spans()] == ["lookup"] * 4, "decided at the span beyond the bound"
                assert sampler().buffered_spans == 0
    assert tracing.force_flush()
    assert len(memory.get_finished_spans()) == 7
    assert counts_since(before)["traces_overflowed"] == 1
    assert tracing.error_counts() == {"tail sampling buffer": 1}
    logged = [r for r in caplog.records if "tail-sampling buffer was full" in r.getMessage()]
    assert len(logged) == 1


@pytest.mark.provokes_failures("tail sampling buffer")
@pytest.mark.parametrize("stuck", [True, False])
def test_when_the_buffer_is_full_a_trace_stuck_open_for_minutes_is_decided_first(stuck: bool) -> None:
    memory = InMemorySpanExporter()
    tracing.configure(exporters=[memory], sampling={"ratio": 1.0, "max_spans": 3})
    tracer = trace.get_tracer("tests.sampling")
    ended = time.time_ns() - (400 if stuck else 1) * 1_000_000_000
    never_ends = tracer.start_span("never ends", start_time=ended - 1_000_000)
    with trace.use_span(never_ends, end_on_exit=False):
        for _ in range(3):
            tracer.start_span("step", start_time=ended - 1_000_000).end(end_time=ended)
    with tracer.start_as_current_span("request"):
        lookup(1, False)
        exported = [span.name for span in memory.get_finished_spans()]
        if stuck:
            assert exported == ["step"] * 3, "the stuck trace was decided and made room"
            assert sampler().buffered_spans == 1
        else:
            assert exported == ["lookup"], "the trace that did not fit was decided at once"
            assert sampler().buffered_spans == 3
    never_ends.end()


def test_head_and_tail_sampling_compose_a_head_dropped_trace_is_never_seen() -> None:
    memory = InMemorySpanExporter()
    tracing.configure(exporters=[memory], sample_ratio=0.5, sampling={"ratio": 1.0})
    requests = [handle(Request(index=i, kind="fail", stream=False)) for i in range(100)]
    assert tracing.force_flush()
    traces = {span.context.trace_id for span in memory.get_finished_spans()}
    assert traces == {r.trace_id for r in requests if kept_by_ratio(r.trace_id, 0.5)}
    assert 0 < len(traces) < 100


def test_without_sampling_there_is_no_tail_sampler() -> None:
    tracing.configure(exporters=["memory"])
    pipeline = _runtime.state.pipeline
    assert pipeline is not None and pipeline.sampler is None and pipeline.entry is pipeline.multi


# ---------------------------------------------------------------- lifetimes: configure(), shutdown, fork


def open_request(fail: bool) -> tuple[Any, int]:
    """A request whose root is still open, with its two lookups ended (buffered)."""
    root = trace.get_tracer("tests.sampling").start_span("request")
    with trace.use_span(root, end_on_exit=False):
        try:
            lookup(0, fail)
        except LookupError:
            pass
        lookup(1, False)
    return root, root.get_span_context().trace_id


def test_configure_hands_undecided_traces_to_the_new_sampler_which_decides_them_whole() -> None:
    first, second = InMemorySpanExporter(), InMemorySpanExporter()
    tracing.configure(exporters=[first], sampling={"ratio": 0.0})
    before = tracing.sampling_counts()
    failing, failing_id = open_request(fail=True)
    plain, plain_id = open_request(fail=False)
    assert sampler().buffered_spans == 4
    tracing.configure(exporters=[second], sampling={"ratio": 0.0})
    assert sampler().buffered_spans == 4, "the new sampler holds the traces the old one held"
    with trace.use_span(failing, end_on_exit=True):
        lookup(2, False)
    plain.end()
    assert tracing.force_flush()
    assert first.get_finished_spans() == ()
    assert [s.context.trace_id for s in second.get_finished_spans()] == [failing_id] * 4
    counts = counts_since(before)
    assert (counts["traces_kept"], counts["traces_dropped"], counts["spans_dropped"]) == (1, 1, 3)
    assert plain_id != failing_id


def test_configure_without_sampling_decides_what_the_old_sampler_held_and_late_spans_follow() -> None:
    first, second = InMemorySpanExporter(), InMemorySpanExporter()
    tracing.configure(exporters=[first], sampling={"ratio": 0.0})
    before = tracing.sampling_counts()
    failing, failing_id = open_request(fail=True)
    plain, _ = open_request(fail=False)
    tracing.configure(exporters=[second])
    assert [s.context.trace_id for s in first.get_finished_spans()] == [failing_id] * 2, "decided by the error known"
    failing.end()
    plain.end()
    assert tracing.force_flush()
    assert [s.context.trace_id for s in second.get_finished_spans()] == [failing_id], "the kept trace's late root"
    counts = counts_since(before)
    assert (counts["spans_kept"], counts["spans_dropped"]) == (3, 3)


def test_configure_while_threads_run_loses_no_span_and_leaves_no_partial_trace() -> None:
    exporters = [InMemorySpanExporter() for _ in range(4)]
    tracing.configure(exporters=[exporters[0]], sampling={"ratio": 0.3})
    before = tracing.sampling_counts()
    requests = workload(400, failing=20, slow=0)
    started = threading.Event()

    def run(share: list[Request]) -> None:
        for request in share:
            handle(request)
            started.set()

    threads = [threading.Thread(target=run, args=(requests[k::4],)) for k in range(4)]
    for thread in threads:
        thread.start()
    started.wait(30)
    for memory in exporters[1:]:
        tracing.configure(exporters=[memory], sampling={"ratio": 0.3})
    for thread in threads:
        thread.join()
    assert tracing.force_flush()
    spans = [span for memory in exporters for span in memory.get_finished_spans()]
    assert len(spans) == len({span.context.span_id for span in spans}), "a span exported twice"
    traces = by_trace((s.context.trace_id, s.context.span_id, s.parent.span_id if s.parent else None) for s in spans)
    assert_sampled(requests, traces, 0.3)
    counts = counts_since(before)
    assert counts["spans_kept"] == len(spans)
    assert counts["spans_kept"] + counts["spans_dropped"] == sum(r.span_count for r in requests)


@pytest.mark.provokes_failures("span ended after shutdown")
def test_shutdown_decides_every_buffered_trace_by_what_is_known(tmp_path: Path) -> None:
    path = tmp_path / "traces.jsonl"
    tracing.configure(exporters=[str(path)], sampling={"ratio": 0.0})
    failing, failing_id = open_request(fail=True)
    plain, _ = open_request(fail=False)
    tracing.shutdown()
    assert [int(r.trace_id, 16) for r in read_spans(path)] == [failing_id] * 2
    late, before = _runtime.late_dropped(), tracing.sampling_counts()
    failing.end()  # after shutdown, its trace kept: nowhere to go, counted as a span ended after shutdown
    assert _runtime.late_dropped() == late + 1
    plain.end()  # its trace dropped: counted by sampling
    assert _runtime.late_dropped() == late + 1
    assert counts_since(before)["spans_dropped"] == 1


def test_a_forked_child_starts_with_an_empty_buffer_and_the_parent_exports_its_own_trace_once(tmp_path: Path) -> None:
    path = tmp_path / "traces.jsonl"
    tracing.configure(exporters=[str(path)], sampling={"ratio": 1.0})
    root, trace_id = open_request(fail=False)
    pid = os.fork()
    if pid == 0:  # the child: its own request, exported by its own pipeline; the parent's buffer is not its own
        code = 1
        try:
            handle(Request(index=9, kind="normal", stream=True))
            held = sampler().buffered_spans
            tracing.shutdown()
            code = 0 if held == 0 else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    root.end()
    assert tracing.force_flush()
    per_trace = Counter(int(r.trace_id, 16) for r in read_spans(path))
    assert per_trace[trace_id] == 3
    assert sorted(per_trace.values()) == [3, 4]


# ---------------------------------------------------------------- OTLP


def test_sampled_traces_reach_a_real_otlp_receiver_whole(oteltap: OtelTap) -> None:
    tracing.configure(exporters=[f"otlp+http://127.0.0.1:{oteltap.port}"],
                      sampling={"ratio": 0.2, "keep_slower_than_ms": SLOW_MS})
    requests = [handle(request) for request in workload(150, failing=6, slow=4)]
    assert tracing.force_flush()
    expected = [r for r in requests if r.kind != "normal" or kept_by_ratio(r.trace_id, 0.2)]
    received = oteltap.wait_for(sum(r.span_count for r in expected))
    traces = by_trace((int(s["traceId"], 16), int(s["spanId"], 16), int(s["parentSpanId"], 16) if s.get("parentSpanId") else None)
                      for s in received)
    assert_sampled(requests, traces, 0.2)


# ---------------------------------------------------------------- settings


def test_sampling_from_arguments_yaml_and_environment_merged_field_by_field(tmp_path: Path) -> None:
    config = tmp_path / "prod.yaml"
    config.write_text("sampling:\n  ratio: 0.05\n  keep_slower_than_ms: 2000\n")
    environ = {"AGENT_TRACING_SAMPLING_RATIO": "0.5", "AGENT_TRACING_SAMPLING_MAX_SPANS": "500",
               "AGENT_TRACING_SAMPLING_KEEP_ERRORS": "false"}
    settings = resolve({"sampling": {"max_bytes": 4096}}, str(config), environ)
    assert settings.sampling == Sampling(ratio=0.05, keep_errors=False, keep_slower_than_ms=2000, max_spans=500, max_bytes=4096)
    assert resolve({}, None, {}).sampling is None
    assert resolve({}, None, {"AGENT_TRACING_SAMPLING_RATIO": "0.25"}).sampling == Sampling(ratio=0.25)
    assert resolve({"sampling": False}, None, environ).sampling is None
    assert resolve({"sampling": True}, None, {}).sampling == Sampling()


def test_bad_sampling_values_raise_naming_the_source_and_field(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"environment .*sampling\.ratio: .*less than or equal to 1"):
        resolve({}, None, {"AGENT_TRACING_SAMPLING_RATIO": "1.5"})
    with pytest.raises(ValueError, match=r"environment .*sampling\.max_spans"):
        resolve({}, None, {"AGENT_TRACING_SAMPLING_MAX_SPANS": "many"})
    bad = tmp_path / "bad.yaml"
    bad.write_text("sampling:\n  keep_slower_than: 2000\n")
    with pytest.raises(ValueError, match=r"bad.yaml: sampling\.keep_slower_than: Extra inputs"):
        resolve({}, str(bad), {})
    with pytest.raises(ValueError, match=r"configure\(\): sampling\.max_bytes"):
        tracing.configure(exporters=["memory"], sampling={"max_bytes": 0})


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["ratio", "keep_errors", "keep_slower_than_ms", "max_spans", "max_bytes", "other"]),
                       st.one_of(st.none(), st.booleans(), st.integers(-10, 10**9), st.floats(allow_nan=True), st.text(max_size=8))))
def test_any_sampling_value_is_accepted_as_valid_or_refused_with_a_value_error(value: dict[str, Any]) -> None:
    try:
        settings = resolve({"sampling": value}, None, {})
    except ValueError as exc:
        assert str(exc).startswith("configure(): sampling")
        return
    assert settings.sampling is not None and 0.0 <= settings.sampling.ratio <= 1.0
    assert settings.sampling.max_spans >= 1 and settings.sampling.max_bytes >= 1



APPLICATION_PROVIDER = r'''
import json, tracing
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

theirs, first, second = InMemorySpanExporter(), InMemorySpanExporter(), InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(theirs))
trace.set_tracer_provider(provider)
tracing.configure(exporters=[first], sampling={"ratio": 0.0})

@tracing.trace
def lookup(fail):
    if fail:
        raise LookupError("failed")

roots = {}
for fail in (True, False):
    root = trace.get_tracer("app").start_span("request")
    with trace.use_span(root, end_on_exit=False):
        lookup(False)
    roots[fail] = root
tracing.configure(exporters=[second], sampling={"ratio": 0.0})
for fail, root in roots.items():
    with trace.use_span(root, end_on_exit=True):
        try:
            lookup(fail)
        except LookupError:
            pass
tracing.force_flush()
print(json.dumps([len(theirs.get_finished_spans()), len(first.get_finished_spans()),
                  sorted({s.context.trace_id == roots[True].get_span_context().trace_id for s in second.get_finished_spans()}),
                  len(second.get_finished_spans())]))
'''


def test_in_an_application_s_provider_sampling_applies_to_our_exporters_and_follows_configure() -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_TRACING_", "OTEL_"))}
    environment["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    result = subprocess.run([sys.executable, "-c", APPLICATION_PROVIDER], env=environment, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    theirs, first, second_is_failing, second = json.loads(result.stdout)
    assert (theirs, first, second_is_failing, second) == (6, 0, [True], 3), "the failing trace whole, in the new exporter only"


@pytest.mark.provokes_failures("tail sampling hand-on")
def test_a_downstream_processor_that_raises_loses_only_its_span_and_is_counted() -> None:
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

    class Flaky(SpanProcessor):
        def __init__(self) -> None:
            self.names: list[str] = []

        def on_end(self, span: Any) -> None:
            if span.name == "child-1":
                raise RuntimeError("downstream failed")
            self.names.append(span.name)

    downstream = Flaky()
    provider = TracerProvider()
    provider.add_span_processor(TailSampler(downstream, ratio=1.0, max_spans=100, max_bytes=1 << 20))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("root"):
        for index in range(3):
            with tracer.start_as_current_span(f"child-{index}"):
                pass
    assert downstream.names == ["child-0", "child-2", "root"]  # the trace was kept whole but for the span that failed
    assert tracing.error_counts() == {"tail sampling hand-on": 1}
