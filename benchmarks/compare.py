"""agent-tracing against a hand-written OpenTelemetry span (the floor), OpenInference and MLflow, on the same workloads.

Each tracer runs in its own worker process (the peers in their cached virtual environments, installed by
benchmarks/peers.py on first use) and exports OTLP/HTTP through a BatchSpanProcessor to one local sink
process (benchmarks/sink.py). The workers take turns batch by batch, round after round (interleaved);
the table shows medians as ratios against the floor. "request thread" times only the traced calls;
"exported" also waits for the flush to the sink. Then `import tracing` against its dependencies.

    python benchmarks/compare.py [--rounds 21] [--scale 1.0] [--tracers ...] [--import-runs 7]
"""

from __future__ import annotations

import argparse
import compileall
import datetime
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import peers  # noqa: E402
from benchmarks._harness import machine  # noqa: E402
from benchmarks.compare_worker import (  # noqa: E402
    CHUNKS,
    DOCUMENT_SIZE,
    DOCUMENTS,
    EVENTS,
    SAMPLED_RATIO,
    THREADS,
)

HERE = Path(__file__).resolve().parent
TRACERS = ["untraced", "floor", "agent-tracing", "openinference", "mlflow"]
LABELS = {"untraced": "untraced", "floor": "floor (hand-written span)", "agent-tracing": "agent-tracing",
          "openinference": "OpenInference", "mlflow": "MLflow"}
# workload: (label, operations per batch, units per operation, unit name)
WORKLOADS: dict[str, tuple[str, int, int, str]] = {
    "call": ("small agent call", 400, 1, "call"),
    "sampled_call": (f"small agent call, ours tail-sampled at {SAMPLED_RATIO}", 400, 1, "call"),
    "stream": (f"{CHUNKS:,}-chunk stream", 4, CHUNKS, "chunk"),
    "retrieval": (f"retrieval, {DOCUMENTS} docs of {DOCUMENT_SIZE // 1024} KB", 100, 1, "retrieval"),
    "agent_stream": (f"ResponsesAgent predict_stream, {EVENTS} events", 8, EVENTS + 1, "event"),
    "threads": (f"{THREADS} threads of concurrent calls", 5, THREADS * 10, "call"),
}
BUDGETS = {"call": 1.5, "sampled_call": 1.5, "stream": 1.3, "retrieval": 2.0}


def _python_for(tracer: str) -> str:
    return str(peers.install(tracer)) if tracer in peers.PEERS else sys.executable


class Worker:
    """A compare_worker.py process for one tracer."""

    def __init__(self, tracer: str, endpoint: str) -> None:
        self.tracer = tracer
        self.process = subprocess.Popen(
            [_python_for(tracer), str(HERE / "compare_worker.py"), tracer, endpoint],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
        )
        self._read()

    def _read(self) -> dict[str, Any]:
        line = self.process.stdout.readline() if self.process.stdout else ""
        if not line:
            raise RuntimeError(f"worker {self.tracer} exited with {self.process.wait()}")
        return json.loads(line)

    def _send(self, message: dict[str, Any]) -> dict[str, Any]:
        stdin: IO[str] = self.process.stdin  # type: ignore[assignment]
        stdin.write(json.dumps(message) + "\n")
        stdin.flush()
        return self._read()

    def run(self, workload: str, number: int) -> tuple[float, float]:
        """Seconds for `number` operations, and until their spans were flushed."""
        answer = self._send({"workload": workload, "number": number})
        return answer["ops_s"], answer["flushed_s"]

    def quit(self) -> int:
        """Flush, stop, and return the spans the worker made."""
        spans = int(self._send({"quit": True})["spans"])
        self.process.wait(timeout=60)
        return spans


def start_sink() -> tuple[subprocess.Popen[str], str]:
    """The sink process and its OTLP/HTTP traces endpoint."""
    process = subprocess.Popen([sys.executable, str(HERE / "sink.py")], stdout=subprocess.PIPE, text=True)
    port = int(process.stdout.readline())  # type: ignore[union-attr]
    return process, f"http://127.0.0.1:{port}/v1/traces"


def sink_counts(endpoint: str) -> dict[str, int]:
    """Spans the sink received, per service.name."""
    from urllib.request import urlopen

    with urlopen(endpoint.replace("/v1/traces", "/counts"), timeout=10) as response:
        return json.loads(response.read())


def measure(workers: list[Worker], rounds: int, scale: float) -> dict[str, dict[str, tuple[float, float]]]:
    """Median seconds per unit (request thread, exported) of every tracer on every workload; round 0 warms up."""
    samples: dict[str, dict[str, list[tuple[float, float]]]] = {w: {x.tracer: [] for x in workers} for w in WORKLOADS}
    for round_index in range(rounds + 1):
        for workload, (_, number, units, _) in WORKLOADS.items():
            count = max(1, round(number * scale))
            shift = round_index % len(workers)
            for worker in workers[shift:] + workers[:shift]:
                ops_s, flushed_s = worker.run(workload, count)
                if round_index:
                    samples[workload][worker.tracer].append((ops_s / count / units, flushed_s / count / units))
    return {
        workload: {tracer: (statistics.median(s[0] for s in values), statistics.median(s[1] for s in values))
                   for tracer, values in by_tracer.items()}
        for workload, by_tracer in samples.items()
    }


def _format_time(seconds: float) -> str:
    return f"{seconds * 1e6:.2f} us" if seconds >= 1e-6 else f"{seconds * 1e9:.0f} ns"


def ratio_table(results: dict[str, dict[str, tuple[float, float]]], tracers: list[str], column: int) -> str:
    """Workloads down, tracers across: the floor's time per unit, every other tracer's ratio to it."""
    shown = [t for t in tracers if t != "untraced"]
    header = f"{'workload (per unit)':<56}" + "".join(f"{LABELS[t]:>27}" if t == "floor" else f"{LABELS[t]:>15}" for t in shown)
    lines = [header]
    for workload, (label, _, _, unit) in WORKLOADS.items():
        floor = results[workload]["floor"][column]
        cells = []
        for tracer in shown:
            value = results[workload][tracer][column]
            cells.append(f"{_format_time(floor):>27}" if tracer == "floor" else f"{value / floor:>14.2f}x")
        lines.append(f"{label + ' (per ' + unit + ')':<56}" + "".join(cells))
    return "\n".join(lines)


def import_times(runs: int) -> list[tuple[str, float]]:
    """Median wall seconds of fresh interpreters importing each thing, runs interleaved.

    Our packages' bytecode is written first, as `pip install` writes an installed package's (the peers' and the SDK's
    were, in their environments): a checkout imported with PYTHONDONTWRITEBYTECODE set never caches it, and every
    fresh interpreter would compile each module from source (about 50 ms of `import tracing` on this machine)."""
    for package in ("tracing", "exporters"):
        compileall.compile_dir(str(HERE.parent / package), quiet=1)
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "import opentelemetry.sdk.trace, pydantic": [sys.executable, "-c", "import opentelemetry.sdk.trace, pydantic"],
        "the same + one pydantic BaseModel": [sys.executable, "-c", "import opentelemetry.sdk.trace, pydantic\n"
                                              "class M(pydantic.BaseModel):\n    x: int = 0"],
        "import tracing": [sys.executable, "-c", "import tracing"],
    }
    for peer, module in (("openinference", "openinference.instrumentation"), ("mlflow", "mlflow")):
        if peers.is_installed(peer):
            commands[f"import {module} ({peer} venv)"] = [str(peers.python(peer)), "-c", f"import {module}"]
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for index in range(runs + 1):
        for name, command in commands.items():
            start = time.perf_counter()
            subprocess.run(command, check=True, cwd=HERE.parent)
            if index:
                samples[name].append(time.perf_counter() - start)
    return [(name, statistics.median(values)) for name, values in samples.items()]


def main(argv: list[str] | None = None) -> int:
    """Run every tracer on every workload against one sink and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=21, help="interleaved rounds after one warm-up round (median)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the operations per batch")
    parser.add_argument("--tracers", default=",".join(TRACERS), help="comma-separated subset; floor is required")
    parser.add_argument("--import-runs", type=int, default=7, help="fresh interpreters per import measurement (0: skip)")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    tracers = [t for t in TRACERS if t in args.tracers.split(",")]
    if "floor" not in tracers:
        parser.error("--tracers must include floor")

    sink, endpoint = start_sink()
    workers: list[Worker] = []
    try:
        workers = [Worker(tracer, endpoint) for tracer in tracers]
        started = time.perf_counter()
        results = measure(workers, args.rounds, args.scale)
        made = {worker.tracer: worker.quit() for worker in workers}
        workers = []
        elapsed = time.perf_counter() - started
        received = sink_counts(endpoint)
    finally:
        for worker in workers:
            worker.process.kill()
        sink.terminate()
        sink.wait(timeout=10)

    print(f"machine: {machine()}, {datetime.date.today().isoformat()}; {args.rounds} interleaved rounds, "
          f"medians; {elapsed:.0f} s")
    print()
    print("request thread: time per unit of the floor, ratio of every tracer to it")
    print(ratio_table(results, tracers, 0))
    print()
    print("exported: the same, including the flush of the BatchSpanProcessor to the sink")
    print(ratio_table(results, tracers, 1))
    print()
    budgets = ", ".join(f"{w} {results[w]['agent-tracing'][0] / results[w]['floor'][0]:.2f}x (<= {b}x)"
                        for w, b in BUDGETS.items() if "agent-tracing" in tracers)
    if budgets:
        print(f"agent-tracing budgets, request thread: {budgets}")
    sampled = (f"; agent-tracing kept {received.get('agent-tracing-sampled', 0)} spans of its tail-sampled calls"
               if "agent-tracing" in tracers else "")
    print("spans received by the sink / made: " + ", ".join(
        f"{LABELS[t]} {received.get(t, 0)}/{made[t]}" for t in tracers if t != "untraced") + sampled)
    imports: list[tuple[str, float]] = []
    if args.import_runs > 0:
        imports = import_times(args.import_runs)
        print()
        print(f"import time, wall, median of {args.import_runs} fresh interpreters (our packages byte-compiled first, as an install is)")
        bare = imports[0][1]
        for name, seconds in imports:
            extra = "" if name == "python -c pass" else f"   (+{(seconds - bare) * 1e3:.0f} ms over python -c pass)"
            print(f"  {name:<56}{seconds * 1e3:>8.0f} ms{extra}")
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "spans_made": made, "spans_received": received,
                                               "imports_s": dict(imports)}, indent=2))
    missing = [t for t in tracers if t != "untraced" and received.get(t, 0) < made[t]]
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
