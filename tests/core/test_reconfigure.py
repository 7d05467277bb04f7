"""configure() while requests run (SPEC 3.8): the new pipeline is in place before the old one drains, and every span
started meanwhile is exported by one of them or counted as dropped. No exception, no hang, no span in a wrong trace."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

import tracing
from exporters import CountingBatchSpanProcessor
from tracing import _runtime

THREADS = 32
SPANS_PER_REQUEST = 6  # request, lookup, answer (a stream) and the stream's 3 lookups


class Collected:
    """Every span any configuration's exporter received, and the batch processors of those configurations."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []
        self.processors: list[CountingBatchSpanProcessor] = []
        self.halfway = threading.Event()
        self.half: int | None = None
        self._lock = threading.Lock()
        self._late_before = _runtime.late_dropped()  # a process-wide count: earlier tests may have added to it

    def exporter(self) -> SpanExporter:
        collected = self

        class Recording(SpanExporter):
            def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
                with collected._lock:
                    collected.spans.extend(spans)
                    if collected.half is not None and len(collected.spans) >= collected.half:
                        collected.halfway.set()
                return SpanExportResult.SUCCESS

        return Recording()

    def configure(self, generation: int) -> None:
        tracing.configure(service_name=f"reconfigured-{generation}", exporters=[self.exporter()])
        pipeline = _runtime.state.pipeline
        assert pipeline is not None
        with self._lock:
            self.processors.extend(p for p in pipeline.processors if isinstance(p, CountingBatchSpanProcessor))

    def dropped(self) -> int:
        return sum(p.dropped_spans for p in self.processors) + _runtime.late_dropped() - self._late_before


@tracing.trace
def lookup(tag: str) -> str:
    return tag


@tracing.trace
def answer(tag: str) -> Iterator[str]:
    for k in range(3):
        yield lookup(f"{tag}/{k}")


@tracing.trace
def request(tag: str, consumers: queue.Queue[Any] | None) -> None:
    lookup(f"{tag}/direct")
    stream = answer(tag)
    if consumers is None:
        for _ in stream:
            pass
        return
    done = threading.Event()
    consumers.put((stream, done))  # consumed in another thread, still in this request's trace
    done.wait()


def _consume(consumers: queue.Queue[Any]) -> None:
    while True:
        item = consumers.get()
        if item is None:
            return
        stream, done = item
        for _ in stream:
            pass
        done.set()


def _tag_of(span: ReadableSpan) -> str:
    return str(json.loads((span.attributes or {})["input.value"])["tag"]).split("/")[0]


def _run(requests_per_thread: int, reconfigure: Any, collected: Collected) -> int:
    """THREADS threads making requests (half hand their streams to consumer threads) while `reconfigure` runs."""
    consumers: queue.Queue[Any] = queue.Queue()
    consumer_threads = [threading.Thread(target=_consume, args=(consumers,)) for _ in range(4)]
    errors: list[BaseException] = []
    finished = threading.Event()

    def worker(index: int) -> None:
        try:
            for i in range(requests_per_thread):
                request(f"t{index}-{i}", consumers if index % 2 else None)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    workers = [threading.Thread(target=worker, args=(index,)) for index in range(THREADS)]
    configurer = threading.Thread(target=reconfigure, args=(finished,))
    for thread in (*consumer_threads, *workers, configurer):
        thread.start()
    for thread in workers:
        thread.join(timeout=600)
        assert not thread.is_alive(), "a traced request hung while tracing was reconfigured"
    finished.set()
    configurer.join(timeout=120)
    for _ in consumer_threads:
        consumers.put(None)
    for thread in consumer_threads:
        thread.join(timeout=60)
    assert not configurer.is_alive(), "configure() hung"
    assert not errors, errors
    tracing.force_flush(timeout_s=60)
    tracing.shutdown(timeout_s=60)
    return THREADS * requests_per_thread * SPANS_PER_REQUEST


def _check(collected: Collected, made: int) -> None:
    exported = collected.spans
    ids = [(s.context.trace_id, s.context.span_id) for s in exported]  # type: ignore[union-attr]
    assert len(ids) == len(set(ids)), "a span was exported twice"
    assert len(exported) + collected.dropped() == made, (len(exported), collected.dropped(), made)
    roots = {_tag_of(s): s.context.trace_id for s in exported if s.name == "request"}  # type: ignore[union-attr]
    for span in exported:
        tag = _tag_of(span)
        if tag in roots:
            assert span.context.trace_id == roots[tag], f"{span.name} of {tag} is in another trace"  # type: ignore[union-attr]
        assert span.parent is not None or span.name == "request", f"{span.name} of {tag} lost its parent"


@pytest.fixture
def collected() -> Iterator[Collected]:
    collected = Collected()
    collected.configure(0)
    yield collected
    tracing.shutdown()


@pytest.mark.slow
def test_reconfiguring_in_a_loop_under_32_threads_loses_no_span_uncounted(collected: Collected) -> None:
    generations = [0]

    def reconfigure(finished: threading.Event) -> None:
        while not finished.is_set():
            generations[0] += 1
            collected.configure(generations[0])

    made = _run(60, reconfigure, collected)
    assert generations[0] >= 5, "the test did not reconfigure while requests ran"
    _check(collected, made)
    assert len(collected.spans) == made - collected.dropped()


@pytest.mark.slow
@pytest.mark.provokes_failures("span queue")  # 200,000 spans from 32 threads overflow the queue: dropped and counted
def test_one_reconfigure_during_200000_calls_loses_no_span_uncounted(collected: Collected) -> None:
    collected.half = 100_000

    def reconfigure(finished: threading.Event) -> None:
        while not collected.halfway.wait(timeout=0.5):
            if finished.is_set():
                return
        collected.configure(1)

    made = _run(200_000 // (THREADS * SPANS_PER_REQUEST) + 1, reconfigure, collected)
    assert made >= 200_000
    assert len(collected.processors) == 2, "the reconfigure did not happen while the calls ran"
    _check(collected, made)
