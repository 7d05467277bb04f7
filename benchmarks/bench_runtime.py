"""The figures of issue 11 (the runtime survives real servers), measured:

- cost of a traced call receiving a 50 MB string, and a 1000x1536 float array, against the same call untraced;
- peak memory of a stream of 60 numpy arrays of 8 MB that its consumer drops, traced and untraced;
- how long force_flush(timeout_s=2) and shutdown(timeout_s=2) take against a collector that accepts the connection
  and never answers (OTLP/HTTP and OTLP/gRPC, real sockets on 127.0.0.1);
- spans made, exported, counted as dropped and lost uncounted across reconfigure() in a loop under 32 threads, and
  across one reconfigure() during 200,000 calls;
- a Mock argument (calls recorded on it, time) and the recursion depth a traced recursive function keeps.

    python benchmarks/bench_runtime.py [--json OUT.json] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from opentelemetry.sdk.trace import ReadableSpan  # noqa: E402
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult  # noqa: E402

import tracing  # noqa: E402
from benchmarks._harness import NullExporter, machine  # noqa: E402
from exporters import CountingBatchSpanProcessor  # noqa: E402
from tracing import _runtime  # noqa: E402

MB = 1 << 20


def _median_seconds(call: Callable[[], Any], runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def big_values(runs: int) -> dict[str, Any]:
    """A traced call receiving a 50 MB string and a 1000x1536 float array, against the same call untraced."""
    tracing.configure(service_name="bench-runtime", exporters=[NullExporter()])

    def receive(value: Any, note: str = "") -> int:
        return 1

    traced = tracing.trace(receive)
    text = '": ' * (50 * MB // 3)
    array = np.random.default_rng(0).random((1000, 1536))
    figures: dict[str, Any] = {}
    for name, value in (("50 MB string", text), ("1000x1536 float64 array", array)):
        untraced_s = _median_seconds(lambda: receive(value), runs)  # noqa: B023
        traced_s = _median_seconds(lambda: traced(value), runs)  # noqa: B023
        tracemalloc.start()
        traced(value)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        figures[name] = {"untraced_ms": untraced_s * 1e3, "traced_ms": traced_s * 1e3, "traced_peak_mb": peak / MB}
    mock_calls, mock_s = _mock()
    figures["Mock argument"] = {"traced_ms": mock_s * 1e3, "calls_recorded_on_the_mock": mock_calls}
    tracing.shutdown()
    return figures


def _mock() -> tuple[int, float]:
    from unittest.mock import Mock

    traced = tracing.trace(lambda value: value)
    mock = Mock()
    started = time.perf_counter()
    traced(mock)
    return len(mock.mock_calls), time.perf_counter() - started


def stream_memory() -> dict[str, float]:
    """Peak memory of a 60 x 8 MB numpy stream dropped chunk by chunk by its consumer."""
    tracing.configure(service_name="bench-runtime", exporters=[NullExporter()])

    def arrays(n: int) -> Any:
        for i in range(n):
            yield np.full(1 << 20, float(i))

    traced = tracing.trace(arrays)
    figures = {}
    for name, make in (("untraced", arrays), ("traced", traced)):
        tracemalloc.start()
        for chunk in make(60):
            del chunk
        figures[f"{name}_peak_mb"] = tracemalloc.get_traced_memory()[1] / MB
        tracemalloc.stop()
    tracing.shutdown()
    return figures


class _Hanging:
    """Accepts connections on 127.0.0.1 and never answers."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.accepted.append(self.server.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        self.server.close()
        for connection in self.accepted:
            connection.close()


def hanging_collector() -> dict[str, dict[str, float]]:
    """force_flush(timeout_s=2) and shutdown(timeout_s=2) against a collector that never answers."""
    figures = {}
    for protocol, scheme in (("OTLP/HTTP", "otlp+http"), ("OTLP/gRPC", "otlp")):
        hanging = _Hanging()
        tracing.configure(service_name="bench-runtime", exporters=[f"{scheme}://127.0.0.1:{hanging.port}"])
        step = tracing.trace(lambda i: i)
        for i in range(10):
            step(i)
        started = time.monotonic()
        flushed = tracing.force_flush(timeout_s=2)
        flush_s = time.monotonic() - started
        started = time.monotonic()
        tracing.shutdown(timeout_s=2)
        shutdown_s = time.monotonic() - started
        hanging.close()
        figures[protocol] = {"force_flush_s": flush_s, "flushed": flushed, "shutdown_s": shutdown_s}
    return figures


class _Recording(SpanExporter):
    def __init__(self, sink: list[ReadableSpan], lock: threading.Lock) -> None:
        self.sink, self.lock = sink, lock

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self.lock:
            self.sink.extend(spans)
        return SpanExportResult.SUCCESS


def reconfigure(calls_per_thread: int, *, loop: bool, threads: int = 32, queue_size: int | None = None) -> dict[str, Any]:
    """Traced calls on `threads` threads while another thread reconfigures (in a loop, or once half-way); with
    `queue_size`, each pipeline's export queue holds that many spans (OTEL_BSP_MAX_QUEUE_SIZE)."""
    if queue_size is not None:
        os.environ["OTEL_BSP_MAX_QUEUE_SIZE"] = str(queue_size)
    try:
        return _reconfigure(calls_per_thread, loop=loop, threads=threads)
    finally:
        os.environ.pop("OTEL_BSP_MAX_QUEUE_SIZE", None)


def _reconfigure(calls_per_thread: int, *, loop: bool, threads: int) -> dict[str, Any]:
    sink: list[ReadableSpan] = []
    lock = threading.Lock()
    processors: list[CountingBatchSpanProcessor] = []
    late_before = _runtime.late_dropped()

    def configure() -> None:
        tracing.configure(service_name="bench-runtime", exporters=[_Recording(sink, lock)])
        pipeline = _runtime.state.pipeline
        assert pipeline is not None
        processors.extend(p for p in pipeline.processors if isinstance(p, CountingBatchSpanProcessor))

    @tracing.trace
    def call(i: int) -> int:
        return i

    configure()
    made = threads * calls_per_thread
    done = threading.Event()
    reconfigured = [0]

    def reconfigurer() -> None:
        if loop:
            while not done.is_set():
                configure()
                reconfigured[0] += 1
        else:
            while len(sink) < made // 2 and not done.wait(0.01):
                pass
            configure()
            reconfigured[0] += 1

    def worker() -> None:
        for i in range(calls_per_thread):
            call(i)

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    other = threading.Thread(target=reconfigurer)
    started = time.monotonic()
    other.start()
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    done.set()
    other.join()
    tracing.force_flush(timeout_s=60)
    tracing.shutdown(timeout_s=60)
    took = time.monotonic() - started
    dropped = sum(p.dropped_spans for p in processors) + _runtime.late_dropped() - late_before
    return {"spans_made": made, "exported": len(sink), "counted_dropped": dropped,
            "lost_uncounted": made - len(sink) - dropped, "reconfigurations": reconfigured[0], "seconds": took}


def recursion_depth() -> dict[str, int]:
    """The deepest recursion a plain and a traced recursive function reach (default recursion limit)."""
    tracing.configure(service_name="bench-runtime", exporters=[NullExporter()])

    def plain(n: int) -> int:
        return 0 if n == 0 else 1 + plain(n - 1)

    @tracing.trace
    def traced(n: int) -> int:
        return 0 if n == 0 else 1 + traced(n - 1)

    def deepest(function: Callable[[int], int]) -> int:
        low, high = 1, 2 * sys.getrecursionlimit()
        while low < high:
            middle = (low + high + 1) // 2
            try:
                function(middle)
                low = middle
            except RecursionError:
                high = middle - 1
        return low

    figures = {"untraced": deepest(plain), "traced": deepest(traced)}
    tracing.shutdown()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", help="also write the figures to this JSON file")
    parser.add_argument("--quick", action="store_true", help="fewer runs and 20,000 instead of 200,000 calls")
    args = parser.parse_args(argv)
    figures: dict[str, Any] = {"machine": machine()}
    print(f"machine: {machine()}")

    figures["big values"] = big_values(3 if args.quick else 7)
    for name, row in figures["big values"].items():
        if "untraced_ms" in row:
            print(f"traced call receiving a {name}: {row['traced_ms']:.2f} ms (untraced {row['untraced_ms']:.4f} ms), "
                  f"peak {row['traced_peak_mb']:.2f} MB")
    mock = figures["big values"]["Mock argument"]
    print(f"traced call receiving a Mock: {mock['traced_ms']:.2f} ms, {mock['calls_recorded_on_the_mock']} calls recorded on the mock")

    figures["stream"] = stream_memory()
    print(f"60 x 8 MB numpy stream dropped by its consumer: peak {figures['stream']['traced_peak_mb']:.1f} MB traced, "
          f"{figures['stream']['untraced_peak_mb']:.1f} MB untraced")

    figures["hanging collector"] = hanging_collector()
    for protocol, row in figures["hanging collector"].items():
        print(f"{protocol} collector that never answers: force_flush(timeout_s=2) returned {row['flushed']} after "
              f"{row['force_flush_s']:.2f} s; shutdown(timeout_s=2) took {row['shutdown_s']:.2f} s")

    calls = (20_000 if args.quick else 200_000) // 32 + 1
    figures["reconfigure in a loop"] = reconfigure(300 if args.quick else 1000, loop=True)
    figures["one reconfigure"] = reconfigure(calls, loop=False)
    figures["one reconfigure, queue of 262,144"] = reconfigure(calls, loop=False, queue_size=262_144)
    for name in ("reconfigure in a loop", "one reconfigure", "one reconfigure, queue of 262,144"):
        row = figures[name]
        print(f"{name} under 32 threads: {row['spans_made']} spans made, {row['exported']} exported, "
              f"{row['counted_dropped']} counted as dropped, {row['lost_uncounted']} lost uncounted "
              f"({row['reconfigurations']} reconfigurations, {row['seconds']:.1f} s)")

    figures["recursion"] = recursion_depth()
    depth = figures["recursion"]
    print(f"recursion depth: untraced {depth['untraced']}, traced {depth['traced']} ({depth['traced'] / depth['untraced']:.3f})")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
