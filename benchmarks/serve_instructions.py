"""Instructions a request of the serving workload executes in the server, per tracer, under callgrind: in the request
thread, and in the export thread encoding its spans as OTLP protobuf.

The serving benchmark (benchmarks/serve.py) times real servers on a shared machine, where throughput moves by 5-10%
between runs. This counts instead: each tracer's agent from benchmarks/serve_app.py (its own TRACERS, exporting
through the batch processor to an exporter that keeps nothing, so the export thread does no work) serves requests
in one process, CONCURRENCY streams advanced in turn as the server's event loop advances them, every event written
as the server writes it (json.dumps). Valgrind's callgrind counts the process for N and 3N requests (fixed hash
seed); the difference over 2N is one request. The counts repeat to a fraction of a percent.

The export thread's share: the spans of ENCODED requests, kept by the exporter, are encoded once and three times more
(the difference over 3 x ENCODED is one request) by the encoder the tracer's OTLP/HTTP exporter uses in serve.py: the
SDK's (`encode_spans(...).SerializePartialToString()`) for the hand-written spans, `exporters._otlp.encode_spans`
for agent-tracing. Sending the bytes (one HTTP request a batch) is left out.

    python benchmarks/serve_instructions.py [--requests 100] [--concurrency 16] [--tracers untraced,floor,agent-tracing]
                                            [--caches]

With --caches, the request thread runs under cachegrind's cache simulation instead (L1 as this CPU's, the last level
set to a core's 512 KB L2), and each tracer's instructions, L1 and L2 misses per request are printed with a rough
estimate of the cycles they cost: where the time of a request goes beyond what it executes.

Needs valgrind. The peers are left out (they run in their own environments: see serve.py).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TRACERS = ["untraced", "floor", "agent-tracing"]
ENCODED = 32
"""Requests whose spans are encoded to count the export thread's share."""


def serve(tracer: Any, requests: int, concurrency: int) -> None:
    """Serve `requests` requests, `concurrency` streams advanced one event each in turn."""
    from serve_load import BODY

    live = [tracer.stream(json.loads(BODY)) for _ in range(min(concurrency, requests))]  # each body parsed
    started = len(live)
    while live:
        for index, stream in enumerate(live):
            event = next(stream, None)
            if event is None:
                live[index] = tracer.stream(json.loads(BODY)) if started < requests else None
                started += 1
            else:
                json.dumps(event if isinstance(event, dict) else event.model_dump(exclude_none=True))
        live = [stream for stream in live if stream is not None]


def _encoder(name: str) -> Any:
    """What the tracer's OTLP/HTTP exporter in serve.py encodes a batch with."""
    if name == "agent-tracing":
        from exporters._otlp import encode_spans

        return encode_spans
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as sdk_encode

    return lambda spans: sdk_encode(spans).SerializePartialToString()


def _worker(name: str, requests: int, concurrency: int, encodings: int) -> None:
    """Serve `requests` requests after a warm-up; with `encodings`, keep the spans of ENCODED requests instead and
    encode them that many times."""
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(HERE.parent))
    import serve_app
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    kept: list[Any] = []

    class Keep(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            kept.extend(spans)
            return SpanExportResult.SUCCESS

    if encodings:
        serve_app._exporter = lambda endpoint: Keep()  # what the tracer exports is kept, to be encoded here
    tracer = serve_app.TRACERS[name](serve_app.NULL_ENDPOINT)
    serve(tracer, 2 * concurrency, concurrency)  # warm-up: every code path run once before counting
    if not encodings:
        serve(tracer, requests, concurrency)
        return
    tracer.flush()
    kept.clear()
    serve(tracer, ENCODED, concurrency)
    tracer.flush()
    if len(kept) != ENCODED * tracer.spans_per_request:
        raise RuntimeError(f"{name}: {len(kept)} spans kept, {ENCODED * tracer.spans_per_request} expected")
    encode = _encoder(name)
    for _ in range(encodings):
        encode(kept)


def _worker_command(name: str, requests: int, concurrency: int, encodings: int) -> list[str]:
    return [sys.executable, __file__, "--worker", name, "--requests", str(requests), "--concurrency", str(concurrency),
            "--encodings", str(encodings)]


def _valgrind(tool: list[str], name: str, worker: list[str]) -> str:
    """What valgrind wrote to stderr running the worker under TOOL (a fixed hash seed)."""
    completed = subprocess.run(["valgrind", *tool, *worker], capture_output=True, text=True, timeout=3600,
                               env={**os.environ, "PYTHONHASHSEED": "0"})
    if completed.returncode != 0:
        raise RuntimeError(f"valgrind failed on {name!r}: {completed.stderr[-2000:]}")
    return completed.stderr


def _count(name: str, requests: int, concurrency: int, encodings: int = 0) -> int:
    stderr = _valgrind(["--tool=callgrind", "--callgrind-out-file=/dev/null"], name,
                       _worker_command(name, requests, concurrency, encodings))
    found = re.search(r"Collected : (\d+)", stderr)
    if found is None:
        raise RuntimeError(f"callgrind counted nothing on {name!r}: {stderr[-2000:]}")
    return int(found.group(1))


L2_BYTES = 512 * 1024
"""The last level cachegrind simulates with --caches: a core's own L2 (this machine's EPYC cores have 512 KB)."""
L1_MISS_CYCLES, L2_MISS_CYCLES = 12, 40
"""Rough costs of a miss served by the next level, for the estimate of --caches (not measured here)."""
CACHE_EVENTS = {"instructions": r"I\s+refs", "L1 instruction misses": r"I1\s+misses", "L1 data misses": r"D1\s+misses",
                "L2 misses": r"LL misses"}


def _misses(name: str, requests: int, concurrency: int) -> dict[str, int]:
    """Instructions and cache misses of the worker serving REQUESTS requests, under cachegrind's cache simulation."""
    stderr = _valgrind(["--tool=cachegrind", "--cache-sim=yes", f"--LL={L2_BYTES},8,64", "--cachegrind-out-file=/dev/null"],
                       name, _worker_command(name, requests, concurrency, 0))
    events = {}
    for event, pattern in CACHE_EVENTS.items():
        found = re.search(pattern + r":\s+([\d,]+)", stderr)
        if found is None:
            raise RuntimeError(f"cachegrind did not report {event} on {name!r}: {stderr[-2000:]}")
        events[event] = int(found.group(1).replace(",", ""))
    return events


def _estimated_cycles(per_request: dict[str, float]) -> float:
    """Instructions plus each miss at its rough cost (L1_MISS_CYCLES, L2_MISS_CYCLES)."""
    return (per_request["instructions"] + L1_MISS_CYCLES * (per_request["L1 instruction misses"] + per_request["L1 data misses"])
            + L2_MISS_CYCLES * per_request["L2 misses"])


def _caches(tracers: list[str], requests: int, concurrency: int) -> None:
    """Print the request thread's instructions, cache misses and estimated cycles per request, per tracer."""
    print(f"{concurrency} streams in turn; the request thread under cachegrind's cache simulation (L1 as this CPU's, "
          f"a {L2_BYTES // 1024} KB L2 as the last level), per request ({requests} and {3 * requests} requests, the "
          f"difference over their difference); estimated cycles: instructions + {L1_MISS_CYCLES} a L1 miss + "
          f"{L2_MISS_CYCLES} a L2 miss")
    print(f"  {'':<14}" + "".join(f" {event:>22}" for event in CACHE_EVENTS) + f" {'estimated cycles':>18}")
    rows = {}
    for name in tracers:
        short, long = _misses(name, requests, concurrency), _misses(name, 3 * requests, concurrency)
        rows[name] = {event: (long[event] - short[event]) / (2 * requests) for event in CACHE_EVENTS}
    for name, row in rows.items():
        ratio = (f"  {_estimated_cycles(row) / _estimated_cycles(rows['floor']):5.2f}x the hand-written spans'"
                 if "floor" in rows and name != "floor" else "")
        print(f"  {name:<14}" + "".join(f" {row[event] / 1e3:20.1f} k" for event in CACHE_EVENTS)
              + f" {_estimated_cycles(row) / 1e6:16.3f} M{ratio}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100, help="N: requests of the shorter run (default 100)")
    parser.add_argument("--concurrency", type=int, default=16, help="streams advanced in turn (default 16)")
    parser.add_argument("--tracers", default=",".join(TRACERS), help="comma-separated subset")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--encodings", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--caches", action="store_true",
                        help="instead: the request thread's instructions and L1 and L2 misses under cachegrind's simulation, and estimated cycles")
    args = parser.parse_args()
    if args.worker:
        _worker(args.worker, args.requests, args.concurrency, args.encodings)
        return 0
    tracers = args.tracers.split(",")
    if not set(tracers) <= set(TRACERS):
        parser.error(f"--tracers: choose among {', '.join(TRACERS)}")
    if shutil.which("valgrind") is None:
        raise SystemExit("serve_instructions.py needs valgrind (Debian: apt-get install valgrind)")
    if args.caches:
        _caches(tracers, args.requests, args.concurrency)
        return 0
    print(f"{args.concurrency} streams in turn; instructions per request ({args.requests} and {3 * args.requests} "
          f"requests counted, the difference over their difference; the spans of {ENCODED} requests encoded 1 and 4 "
          "times for the export thread's share)")
    threads, exports = {}, {}
    for name in tracers:
        threads[name] = (_count(name, 3 * args.requests, args.concurrency)
                         - _count(name, args.requests, args.concurrency)) / (2 * args.requests)
        exports[name] = 0.0 if name == "untraced" else (
            _count(name, 0, args.concurrency, 4) - _count(name, 0, args.concurrency, 1)) / (3 * ENCODED)
    print(f"  {'':<14} {'request thread':>16} {'export thread':>14} {'both':>9}")
    for name in tracers:
        both = threads[name] + exports[name]
        ratio = ""
        if "floor" in threads and name != "floor":
            ratio = (f"  {threads[name] / threads['floor']:5.2f}x and {both / (threads['floor'] + exports['floor']):5.2f}x"
                     " the hand-written spans'")
        print(f"  {name:<14} {threads[name] / 1e6:14.3f} M {exports[name] / 1e6:12.3f} M {both / 1e6:7.3f} M{ratio}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
