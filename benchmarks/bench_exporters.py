"""Exporter benchmarks: request-thread latency with the collector up and down, file exporter throughput, push throughput.

Run: .venv/bin/python benchmarks/bench_exporters.py [--calls 3000] [--spans 20000] [--push-spans 100000]
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans  # noqa: E402
from opentelemetry.sdk.resources import Resource  # noqa: E402
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402

from exporters import FileSpanExporter, batch_processor, exporter_from_uri  # noqa: E402
from exporters.tracefiles import read_spans  # noqa: E402
from exporters.tracefiles.push import push  # noqa: E402
from tests.servers.oteltap import OtelTap, _free_port  # noqa: E402


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def request_latency(calls: int) -> None:
    """p50/p99 of a traced call on the request thread, OTLP/HTTP collector up, then down."""
    tap = OtelTap(_free_port())
    tap.start()
    processor = batch_processor(exporter_from_uri(f"otlp+http://127.0.0.1:{tap.port}?timeout=2"), schedule_delay_millis=200)
    provider = TracerProvider(resource=Resource.create({"service.name": "bench"}))
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("bench")

    def call(i: int) -> int:
        with tracer.start_as_current_span("call", attributes={"i": i, "input.value": "x" * 100}):
            return i * 2

    def measure() -> list[float]:
        samples = []
        for i in range(calls):
            start = time.perf_counter_ns()
            call(i)
            samples.append((time.perf_counter_ns() - start) / 1000)
        return samples

    measure()  # warm up
    up = measure()
    provider.force_flush()
    tap.stop()
    down = measure()
    up50, up99 = _percentiles(up)
    down50, down99 = _percentiles(down)
    print(f"traced call, collector up:   p50 {up50:6.1f} us  p99 {up99:7.1f} us  ({calls} calls)")
    print(f"traced call, collector down: p50 {down50:6.1f} us  p99 {down99:7.1f} us  (queue {processor.max_queue_size}, dropped {processor.dropped_spans})")
    processor.exporter.begin_shutdown()  # type: ignore[attr-defined]
    provider.shutdown()


def _spans(count: int) -> list[ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "bench"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("bench")
    for i in range(count // 2):
        with tracer.start_as_current_span("agent", attributes={"openinference.span.kind": "AGENT", "input.value": '{"q": "hello"}' * 5}):
            with tracer.start_as_current_span("llm", attributes={"openinference.span.kind": "LLM", "output.value": "answer " * 30, "i": i}):
                pass
    return list(memory.get_finished_spans())


def _rate(spans: Sequence[ReadableSpan], export: Callable[[Sequence[ReadableSpan]], object], batch: int = 512) -> float:
    start = time.perf_counter()
    for offset in range(0, len(spans), batch):
        export(spans[offset : offset + batch])
    return len(spans) / (time.perf_counter() - start)


def exporter_throughput(count: int) -> None:
    """Spans per second: FileSpanExporter vs the SDK's ConsoleSpanExporter vs OTLP protobuf encoding of the same spans."""
    spans = _spans(count)
    with tempfile.TemporaryDirectory() as folder:
        file_exporter = FileSpanExporter(Path(folder) / "bench.jsonl")
        file_rate = _rate(spans, file_exporter.export)
        file_exporter.shutdown()
        size = (Path(folder) / "bench.jsonl").stat().st_size
        start = time.perf_counter()
        read_back = sum(1 for _ in read_spans(Path(folder) / "bench.jsonl"))
        read_rate = read_back / (time.perf_counter() - start)
    console = ConsoleSpanExporter(out=io.StringIO())
    console_rate = _rate(spans, console.export)
    proto_rate = _rate(spans, lambda batch: encode_spans(batch).SerializeToString())
    print(f"FileSpanExporter:            {file_rate:10,.0f} spans/s  ({size / len(spans):.0f} bytes/span)")
    print(f"ConsoleSpanExporter:         {console_rate:10,.0f} spans/s  (to an in-memory stream)")
    print(f"OTLP protobuf encoding only: {proto_rate:10,.0f} spans/s")
    print(f"read_spans:                  {read_rate:10,.0f} spans/s")


def push_throughput(count: int) -> None:
    """Push a trace file of `count` spans to a real oteltap receiver (its output to a file, not parsed here); check all arrive."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.jsonl"
        file_exporter = FileSpanExporter(path)
        spans = _spans(20_000)
        written = 0
        while written < count:
            chunk = spans[: min(len(spans), count - written)]
            for offset in range(0, len(chunk), 512):
                file_exporter.export(chunk[offset : offset + 512])
            written += len(chunk)
        file_exporter.shutdown()
        port = _free_port()
        received = Path(folder) / "received.ndjson"
        with open(received, "wb") as sink:
            receiver = subprocess.Popen([sys.executable, "-m", "oteltap", "--port", str(port)], stdout=sink, stderr=subprocess.DEVNULL)
        try:
            _wait_port(port)
            start = time.perf_counter()
            result = push([path], f"http://127.0.0.1:{port}")
            elapsed = time.perf_counter() - start
            deadline = time.monotonic() + 120
            while _count_spans(received) < count and time.monotonic() < deadline:
                time.sleep(0.1)
            arrived = _count_spans(received)
        finally:
            os.kill(receiver.pid, signal.SIGTERM)
            receiver.wait(timeout=30)
    print(f"push {count:,} spans: {elapsed:.1f} s, {result.sent / elapsed:,.0f} spans/s, sent {result.sent}, failed {result.failed}, arrived {arrived}")


def _count_spans(path: Path) -> int:
    with open(path, "rb") as lines:
        return sum(1 for line in lines if line.startswith(b"{"))


def _wait_port(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"receiver did not listen on {port}")


def main() -> None:
    """Run the three benchmarks with the sizes given on the command line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--spans", type=int, default=20000)
    parser.add_argument("--push-spans", type=int, default=100_000)
    args = parser.parse_args()
    request_latency(args.calls)
    exporter_throughput(args.spans)
    push_throughput(args.push_spans)


if __name__ == "__main__":
    main()
