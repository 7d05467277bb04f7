"""Instructions a request of the serving workload executes in the server's request thread, per tracer, under callgrind.

The serving benchmark (benchmarks/serve.py) times real servers on a shared machine, where throughput moves by 5-10%
between runs. This counts instead: each tracer's agent from benchmarks/serve_app.py (its own TRACERS, exporting
through the batch processor to an exporter that keeps nothing, so the export thread does no work) serves requests
in one process, CONCURRENCY streams advanced in turn as the server's event loop advances them, every event written
as the server writes it (json.dumps). Valgrind's callgrind counts the process for N and 3N requests (fixed hash
seed); the difference over 2N is one request. The counts repeat to a fraction of a percent.

    python benchmarks/serve_instructions.py [--requests 100] [--concurrency 16] [--tracers untraced,floor,agent-tracing]

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


def _worker(name: str, requests: int, concurrency: int) -> None:
    sys.path.insert(0, str(HERE))
    import serve_app

    tracer = serve_app.TRACERS[name](serve_app.NULL_ENDPOINT)
    serve(tracer, 2 * concurrency, concurrency)  # warm-up: every code path run once before counting
    serve(tracer, requests, concurrency)


def _count(name: str, requests: int, concurrency: int) -> int:
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, __file__,
               "--worker", name, "--requests", str(requests), "--concurrency", str(concurrency)]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=1800,
                               env={**os.environ, "PYTHONHASHSEED": "0"})
    found = re.search(r"Collected : (\d+)", completed.stderr)
    if completed.returncode != 0 or found is None:
        raise RuntimeError(f"callgrind failed on {name!r}: {completed.stderr[-2000:]}")
    return int(found.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100, help="N: requests of the shorter run (default 100)")
    parser.add_argument("--concurrency", type=int, default=16, help="streams advanced in turn (default 16)")
    parser.add_argument("--tracers", default=",".join(TRACERS), help="comma-separated subset")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args.worker, args.requests, args.concurrency)
        return 0
    tracers = args.tracers.split(",")
    if not set(tracers) <= set(TRACERS):
        parser.error(f"--tracers: choose among {', '.join(TRACERS)}")
    if shutil.which("valgrind") is None:
        raise SystemExit("serve_instructions.py needs valgrind (Debian: apt-get install valgrind)")
    print(f"{args.concurrency} streams in turn; instructions per request ({args.requests} and {3 * args.requests} "
          "requests counted, the difference over their difference)")
    counts = {}
    for name in tracers:
        counts[name] = (_count(name, 3 * args.requests, args.concurrency)
                        - _count(name, args.requests, args.concurrency)) / (2 * args.requests)
    base = counts.get("floor")
    for name in tracers:
        ratio = f"  {counts[name] / base:5.2f}x the hand-written spans" if base and name != "floor" else ""
        print(f"  {name:<14} {counts[name] / 1e6:7.3f} M{ratio}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
