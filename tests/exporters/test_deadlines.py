"""force_flush(timeout_s) and shutdown() keep their deadline whatever the collector does (SPEC 3.8), over HTTP and
gRPC, against real sockets on 127.0.0.1: a collector that accepts and never answers, one that answers 500, 429 or
503, a port that refuses; and HTTP 413 splits the batch instead of retrying it as is."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

import tracing
from exporters import CountingBatchSpanProcessor
from tests.exporters.collector import HangingCollector
from tests.servers import refused_port
from tests.waiting import wait_until
from tracing import _runtime

FLUSH_TIMEOUT_S = 2.0
BOUND_S = 2 * FLUSH_TIMEOUT_S  # "returns within 2x its timeout": a generous margin, not a speed measurement


class StatusCollector:
    """An OTLP/HTTP receiver (http.server in a thread) that answers `status` to every request, or 413 to any request
    larger than `max_bytes` and 200 otherwise; it keeps the span names it accepted and a digest of every body."""

    def __init__(self, status: int = 200, max_bytes: int | None = None) -> None:
        self.status = status
        self.max_bytes = max_bytes
        self.accepted: list[str] = []
        self.bodies: list[str] = []
        self._lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = collector.status
                if collector.max_bytes is not None:
                    status = 413 if len(body) > collector.max_bytes else 200
                with collector._lock:
                    collector.bodies.append(hashlib.sha256(body).hexdigest())
                    if status == 200:
                        request = ExportTraceServiceRequest.FromString(body)
                        collector.accepted.extend(
                            span.name for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans
                        )
                self.send_response(status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def hanging() -> Iterator[HangingCollector]:
    server = HangingCollector()
    yield server
    server.close()


def _uri(protocol: str, port: int) -> str:
    return f"otlp+http://127.0.0.1:{port}" if protocol == "http" else f"otlp://127.0.0.1:{port}"


def _traced_calls(count: int = 5) -> None:
    @tracing.trace
    def step(i: int) -> int:
        return i

    for i in range(count):
        step(i)


def _processor() -> CountingBatchSpanProcessor:
    pipeline = _runtime.state.pipeline
    assert pipeline is not None
    found = [p for p in pipeline.processors if isinstance(p, CountingBatchSpanProcessor)]
    assert len(found) == 1
    return found[0]


def _timed(call: object) -> tuple[object, float]:
    started = time.monotonic()
    result = call()  # type: ignore[operator]
    return result, time.monotonic() - started


def _settle(processor: CountingBatchSpanProcessor, timeout_s: float = 60) -> None:
    """After the collector is gone, wait until the worker has given up on what it held (so nothing is counted later)."""
    wait_until(lambda: not processor.pending_spans, timeout_s=timeout_s,
               message=lambda: f"the export worker still holds {processor.pending_spans} spans")


@pytest.mark.slow
@pytest.mark.provokes_failures("span delivery")
@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_force_flush_and_shutdown_keep_their_deadline_against_a_collector_that_never_answers(
    hanging: HangingCollector, protocol: str
) -> None:
    tracing.configure(service_name="deadline", exporters=[_uri(protocol, hanging.port)])
    processor = _processor()
    _traced_calls()

    flushed, took = _timed(lambda: tracing.force_flush(timeout_s=FLUSH_TIMEOUT_S))
    assert flushed is False
    assert took < BOUND_S, f"force_flush(timeout_s={FLUSH_TIMEOUT_S}) took {took:.1f} s"

    _traced_calls()
    _, took = _timed(lambda: tracing.shutdown(timeout_s=FLUSH_TIMEOUT_S))
    assert took < BOUND_S, f"shutdown(timeout_s={FLUSH_TIMEOUT_S}) took {took:.1f} s"
    hanging.close()
    _settle(processor)
    assert processor.dropped_spans == 10  # nothing delivered, everything counted


@pytest.mark.slow
@pytest.mark.provokes_failures("span delivery")
@pytest.mark.parametrize("status", [500, 429, 503, "refused"])
def test_force_flush_and_shutdown_keep_their_deadline_when_the_collector_fails_or_refuses(
    status: int | str, caplog: pytest.LogCaptureFixture
) -> None:
    collector = StatusCollector(status if isinstance(status, int) else 200)
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(collector.close)
        port = collector.port if isinstance(status, int) else cleanup.enter_context(refused_port())
        tracing.configure(service_name="deadline", exporters=[_uri("http", port)])
        processor = _processor()
        with caplog.at_level(logging.WARNING):
            _traced_calls()
            flushed, took = _timed(lambda: tracing.force_flush(timeout_s=FLUSH_TIMEOUT_S))
            assert flushed is False and took < BOUND_S, f"force_flush took {took:.1f} s"
            _, took = _timed(lambda: tracing.shutdown(timeout_s=FLUSH_TIMEOUT_S))
            assert took < BOUND_S, f"shutdown took {took:.1f} s"
            _settle(processor)
        assert processor.dropped_spans == 5
        assert collector.accepted == []
        if isinstance(status, int):
            assert len(collector.bodies) >= 2, "the batch was retried until the deadline"
        # Each cause is logged once however often it happened.
        ours = [r.getMessage() for r in caplog.records if r.name.startswith("agent_tracing")]
        assert len(ours) == len(set(ours)), ours
        sdk = [r.getMessage() for r in caplog.records if r.name.startswith("opentelemetry.exporter")]
        assert len(sdk) == len(set(sdk)), sdk


@pytest.mark.provokes_failures("span too large for the collector")
def test_413_splits_the_batch_and_drops_only_the_span_too_large_counted() -> None:
    collector = StatusCollector(max_bytes=20_000)
    try:
        tracing.configure(service_name="split", exporters=[_uri("http", collector.port)])
        processor = _processor()

        @tracing.trace
        def small(i: int, text: str) -> None:
            return None

        @tracing.trace
        def huge(text: str) -> None:
            return None

        for i in range(20):
            small(i, "x" * 1000)
        huge("y" * 50_000)
        for i in range(20, 40):
            small(i, "x" * 1000)
        assert tracing.force_flush(timeout_s=30)
        assert sorted(collector.accepted) == sorted(["small"] * 40)
        assert processor.dropped_spans == 1
        assert tracing.error_counts()["span too large for the collector"] == 1
        assert len(collector.bodies) == len(set(collector.bodies)), "a refused request was sent again as it was"
    finally:
        tracing.shutdown(timeout_s=FLUSH_TIMEOUT_S)
        collector.close()


def test_a_working_collector_still_gets_everything_and_shutdown_returns_at_once() -> None:
    collector = StatusCollector(200)
    try:
        tracing.configure(service_name="ok", exporters=[_uri("http", collector.port)])
        _traced_calls(50)
        assert tracing.force_flush(timeout_s=30)
        assert sorted(collector.accepted) == ["step"] * 50
        _traced_calls(7)
        _, took = _timed(lambda: tracing.shutdown(timeout_s=30))
        assert len(collector.accepted) == 57
        assert took < 15
    finally:
        collector.close()
