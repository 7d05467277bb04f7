"""The serving benchmark: what a user serving a traced ResponsesAgent over SSE feels, per tracer.

Each tracer's server (benchmarks/serve_app.py: Starlette under uvicorn, one process) runs in its own cached
virtual environment (benchmarks/peers.py, `serve-KIND`, installed on first use) on a free loopback port, and
exports OTLP/HTTP through a BatchSpanProcessor to one local sink process (benchmarks/sink.py). Per request the
agent makes one retrieval of 10 documents of 1 KB, one tool call, and streams 200 text deltas. A load generator
in its own process (benchmarks/serve_load.py: raw asyncio streams) sends REQUESTS requests over CONCURRENCY
keep-alive connections to one server after the other, round after round (interleaved, the order rotating; one
warm-up round first). After each turn the server flushes its spans; its CPU time (every thread, export included)
is read before and after. The servers run on one CPU and everything else (the load generator, the sink, this
process) on the others, as a prefork server runs a worker a core: left to the scheduler, the load generator shares
the server's core in some turns and not in others, and every server's CPU a request is higher and noisier
(--no-pin to see it).

Reported per tracer: requests/s relative to untraced (median of the per-round ratios), p50 and p99 latency (all
measured requests), server CPU per request (median over rounds), KB the sink received per request, and spans the
sink received against spans the server made; then each tracer's requests/s against the hand-written spans' in the
same round (the median over rounds with its 95% interval, the rounds resampled; and the middle half of the rounds:
on a shared machine a turn's speed moves by 10% from one turn to the next), and the load generator's own CPU per
request.

With --breakdown the servers also time each streamed event (serve_app.py --timed: a few clock reads an event, the
same for every tracer) and a second table gives, per request (medians over rounds), the event loop's wall time in
the agent's stream (every `next` on it: the tracer's work, spans started and ended included, and the agent's own,
which is all the untraced row has), in writing the events as SSE text, and in sending them (Starlette, uvicorn and
the socket writes). It locates what the throughput figures cannot: whether a tracer's cost is in its own steps or
in what runs around them.

    python benchmarks/serve.py [--requests 600] [--concurrency 16] [--rounds 11] [--tracers ...] [--quick]
                               [--breakdown] [--no-pin] [--json F]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any
from urllib.request import Request, urlopen

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import peers  # noqa: E402
from benchmarks._harness import machine  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
TRACERS = ["untraced", "floor", "agent-tracing", "openinference", "mlflow"]
LABELS = {"untraced": "untraced", "floor": "hand-written OpenTelemetry spans", "agent-tracing": "agent-tracing",
          "openinference": "OpenInference", "mlflow": "MLflow"}
# the serving environment each tracer's server runs in (peers.SERVING)
ENVIRONMENTS = {"untraced": "agent-tracing", "floor": "agent-tracing", "agent-tracing": "agent-tracing",
                "openinference": "openinference", "mlflow": "mlflow"}
QUICK = {"requests": 40, "concurrency": 4, "rounds": 1}
PARTS = ("step", "encode", "send")
"""What --breakdown times of each event (serve_app.py --timed)."""


def _pinned(cpus: set[int] | None) -> Any:
    """What Popen runs in the child before the program: keep it (every thread it starts) on CPUS; None: anywhere."""
    if cpus is None:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def placement() -> tuple[set[int], set[int]] | None:
    """The CPUs for the server under test and for everything else (load generator, sink, this process): the last
    CPU this process may use, and the others; None with fewer than two or where affinity cannot be set."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))
    return ({cpus[-1]}, set(cpus[:-1])) if len(cpus) >= 2 else None


def _http(url: str, method: str = "GET", timeout: float = 60) -> dict[str, Any]:
    with urlopen(Request(url, method=method, data=b"" if method == "POST" else None), timeout=timeout) as response:
        return json.loads(response.read())


class Server:
    """A serve_app.py process for one tracer, in its serving environment."""

    def __init__(self, tracer: str, endpoint: str, timed: bool = False, cpus: set[int] | None = None) -> None:
        self.tracer = tracer
        environment = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]))
        self.process = subprocess.Popen(
            [str(peers.install_serving(ENVIRONMENTS[tracer])), str(HERE / "serve_app.py"), tracer, endpoint,
             *(["--timed"] if timed else [])],
            stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT, env=environment, preexec_fn=_pinned(cpus),
        )
        line = self.process.stdout.readline() if self.process.stdout else ""
        if not line.strip():
            raise RuntimeError(f"server {tracer} exited with {self.process.wait()} before printing its port")
        self.port = int(line)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                self.stats = _http(f"{self.url}/stats", timeout=5)
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server {tracer} did not answer (exit code {self.process.poll()})") from None
                time.sleep(0.05)

    def flush(self) -> dict[str, Any]:
        """Export the finished spans now; the server's stats afterwards."""
        self.stats = _http(f"{self.url}/flush", method="POST")
        return self.stats

    def stop(self) -> None:
        """Terminate by PID (uvicorn shuts down gracefully and the tracer flushes), kill if it lingers."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


class LoadGenerator:
    """A serve_load.py process, in agent-tracing's serving environment for its uvloop (it needs nothing else)."""

    def __init__(self, cpus: set[int] | None = None) -> None:
        self.process = subprocess.Popen([str(peers.install_serving("agent-tracing")), str(HERE / "serve_load.py")],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
                                        preexec_fn=_pinned(cpus))
        self.loop = self._read()["loop"]

    def _read(self) -> dict[str, Any]:
        line = self.process.stdout.readline() if self.process.stdout else ""
        if not line:
            raise RuntimeError(f"load generator exited with {self.process.wait()}")
        return json.loads(line)

    def run(self, port: int, requests: int, concurrency: int) -> dict[str, Any]:
        """One turn against the server on PORT."""
        stdin: IO[str] = self.process.stdin  # type: ignore[assignment]
        stdin.write(json.dumps({"port": port, "requests": requests, "concurrency": concurrency}) + "\n")
        stdin.flush()
        return self._read()

    def stop(self) -> None:
        """Tell it to quit, kill if it lingers."""
        if self.process.poll() is None:
            try:
                stdin: IO[str] = self.process.stdin  # type: ignore[assignment]
                stdin.write(json.dumps({"quit": True}) + "\n")
                stdin.flush()
                self.process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait(timeout=10)


def start_sink(cpus: set[int] | None = None) -> tuple[subprocess.Popen[str], str]:
    """The sink process and its base URL."""
    process = subprocess.Popen([sys.executable, str(HERE / "sink.py")], stdout=subprocess.PIPE, text=True,
                               preexec_fn=_pinned(cpus))
    port = int(process.stdout.readline())  # type: ignore[union-attr]
    return process, f"http://127.0.0.1:{port}"


def percentile(values: list[float], fraction: float) -> float:
    """The value below which FRACTION of VALUES lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))] if ordered else float("nan")


def measure(servers: list[Server], load: LoadGenerator, rounds: int, requests: int, concurrency: int) -> dict[str, dict[str, Any]]:
    """Every server's turns, round after round; round 0 warms up and is not kept."""
    samples: dict[str, dict[str, Any]] = {
        s.tracer: {"rps": [], "rps_by_round": {}, "cpu_per_request_s": [], "latencies_ms": [], "load_cpu_per_request_s": [], "failed": 0,
                   "sent": 0, "answered": 0, "failures": [], "per_request_ms": {part: [] for part in PARTS}}
        for s in servers}
    for round_index in range(rounds + 1):
        shift = round_index % len(servers)
        for server in servers[shift:] + servers[:shift]:
            before = server.flush()
            result = load.run(server.port, requests, concurrency)
            after = server.flush()
            cpu_before, cpu_after = before["cpu_s"], after["cpu_s"]
            sample = samples[server.tracer]
            sample["sent"] += requests
            sample["answered"] += result["answered"]
            sample["failed"] += result["failed"]
            sample["failures"] += result["failures"][: 5 - len(sample["failures"])]
            if round_index and result["answered"]:
                sample["rps"].append(result["answered"] / result["wall_s"])
                sample["rps_by_round"][round_index] = sample["rps"][-1]
                sample["cpu_per_request_s"].append((cpu_after - cpu_before) / result["answered"])
                sample["load_cpu_per_request_s"].append(result["cpu_s"] / result["answered"])
                sample["latencies_ms"] += result["latencies_ms"]
                if "timing" in after:
                    answered = after["answered"] - before["answered"]
                    for part in PARTS:
                        spent = after["timing"][f"{part}_s"] - before["timing"][f"{part}_s"]
                        sample["per_request_ms"][part].append(spent / max(answered, 1) * 1e3)
    return samples


def summarise(samples: dict[str, dict[str, Any]], servers: list[Server], received: dict[str, int],
              received_bytes: dict[str, int]) -> dict[str, dict[str, Any]]:
    """The reported figures per tracer."""
    base = samples.get("untraced")
    floor = samples.get("floor")
    figures: dict[str, dict[str, Any]] = {}
    for server in servers:
        sample = samples[server.tracer]
        ratios = ([r / u for r, u in zip(sample["rps"], base["rps"])] if base and base["rps"] else [])
        figures[server.tracer] = {
            "rps": statistics.median(sample["rps"]) if sample["rps"] else 0.0,
            "rps_vs_untraced": statistics.median(ratios) if ratios else None,
            "p50_ms": percentile(sample["latencies_ms"], 0.50),
            "p99_ms": percentile(sample["latencies_ms"], 0.99),
            "server_cpu_per_request_ms": statistics.median(sample["cpu_per_request_s"]) * 1e3 if sample["cpu_per_request_s"] else 0.0,
            "load_cpu_per_request_ms": statistics.median(sample["load_cpu_per_request_s"]) * 1e3 if sample["load_cpu_per_request_s"] else 0.0,
            "kb_exported_per_request": received_bytes.get(server.tracer, 0) / 1024 / max(1, server.stats["answered"]),
            "sent": sample["sent"], "answered": sample["answered"], "answered_by_server": server.stats["answered"],
            "failed": sample["failed"], "failures": sample["failures"],
            "spans_made": server.stats["spans"], "spans_received": received.get(server.tracer, 0),
            "per_request_ms": {part: statistics.median(values) for part, values in sample["per_request_ms"].items() if values},
            "rps_per_round": sample["rps"], "server_cpu_per_round_ms": [s * 1e3 for s in sample["cpu_per_request_s"]],
            "vs_floor": _paired(sample["rps_by_round"], floor["rps_by_round"]) if floor else None,
            "cpus": server.stats.get("cpus"),
        }
    return figures


BOOTSTRAP = 2000
"""Resamples of the rounds behind the 95% interval of a median."""


def _paired(rps: dict[int, float], floor_rps: dict[int, float]) -> dict[str, float] | None:
    """Requests/s against the hand-written spans' in the same round (rounds where both answered): the median over
    rounds, its 95% interval (the rounds resampled, a fixed seed), and the middle half of the rounds; None without
    such a round."""
    ratios = sorted(rps[round_index] / floor_rps[round_index] for round_index in rps.keys() & floor_rps.keys())
    if not ratios:
        return None
    draw = random.Random(0)
    medians = sorted(statistics.median(draw.choices(ratios, k=len(ratios))) for _ in range(BOOTSTRAP))
    return {"median": statistics.median(ratios), "low": percentile(medians, 0.025), "high": percentile(medians, 0.975),
            "q1": percentile(ratios, 0.25), "q3": percentile(ratios, 0.75), "rounds": len(ratios)}


def paired_line(figures: dict[str, dict[str, Any]]) -> str:
    """The tracers' throughput against the hand-written spans', round by round, as one line."""
    return ("requests/s against the hand-written spans' in the same round (median over rounds, its 95% interval; "
            "the middle half of the rounds): " + ", ".join(
                f"{LABELS[t]} {p['median']:.2f} ({p['low']:.2f}-{p['high']:.2f}; {p['q1']:.2f}-{p['q3']:.2f})"
                for t, f in figures.items() if (p := f["vs_floor"]) and t != "floor"))


def table(figures: dict[str, dict[str, Any]]) -> str:
    """The markdown table of the figures."""
    lines = ["| tracer | requests/s vs untraced | p50 | p99 | server CPU per request | KB exported per request | spans received / made |",
             "|---|---|---|---|---|---|---|"]
    for tracer, f in figures.items():
        ratio = f"{f['rps_vs_untraced']:.2f}" if f["rps_vs_untraced"] is not None else f"{f['rps']:.0f}/s"
        lines.append(f"| {LABELS[tracer]} | {ratio} | {f['p50_ms']:.1f} ms | {f['p99_ms']:.1f} ms | "
                     f"{f['server_cpu_per_request_ms']:.2f} ms | {f['kb_exported_per_request']:.1f} | "
                     f"{f['spans_received']}/{f['spans_made']} |")
    return "\n".join(lines)


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "")
    except OSError:
        model = ""
    return f"{model or 'CPU'} x {os.cpu_count()}"


def breakdown_table(figures: dict[str, dict[str, Any]]) -> str:
    """The markdown table of the per-request timing of the streamed events (--breakdown)."""
    lines = ["| tracer | the agent's stream (next) | SSE text | send | in all |", "|---|---|---|---|---|"]
    for tracer, f in figures.items():
        parts = f["per_request_ms"]
        if parts:
            lines.append(f"| {LABELS[tracer]} | " + " | ".join(f"{parts[part]:.3f} ms" for part in PARTS)
                         + f" | {sum(parts.values()):.3f} ms |")
    return "\n".join(lines)


def _load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    """Run every tracer's server under the same load, interleaved, and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=600, help="requests per tracer per round")
    parser.add_argument("--concurrency", type=int, default=16, help="connections sending at once")
    parser.add_argument("--rounds", type=int, default=11, help="interleaved rounds after one warm-up round")
    parser.add_argument("--tracers", default=",".join(TRACERS), help="comma-separated subset")
    parser.add_argument("--quick", action="store_true",
                        help=f"a smoke run: {QUICK['requests']} requests at concurrency {QUICK['concurrency']}, "
                             f"{QUICK['rounds']} round (unless given)")
    parser.add_argument("--breakdown", action="store_true",
                        help="also time each streamed event in the servers: the tracer's step, its SSE text, its send")
    parser.add_argument("--no-pin", dest="pin", action="store_false",
                        help="let the scheduler place the processes (default: the servers on one CPU, the load "
                             "generator, the sink and this process on the others)")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    given = set(a.split("=", 1)[0].lstrip("-") for a in (argv if argv is not None else sys.argv[1:]) if a.startswith("--"))
    if args.quick:
        for key, value in QUICK.items():
            if key not in given:
                setattr(args, key, value)
    tracers = [t for t in TRACERS if t in args.tracers.split(",")]
    unknown = set(args.tracers.split(",")) - set(TRACERS)
    if unknown or not tracers:
        parser.error(f"--tracers: choose among {', '.join(TRACERS)}")

    for environment in dict.fromkeys(ENVIRONMENTS[t] for t in tracers):
        peers.install_serving(environment)
    cpus = placement() if args.pin else None
    server_cpus, other_cpus = cpus if cpus is not None else (None, None)
    if other_cpus is not None:
        os.sched_setaffinity(0, other_cpus)
    sink, sink_url = start_sink(other_cpus)
    servers: list[Server] = []
    load: LoadGenerator | None = None
    try:
        for tracer in tracers:
            servers.append(Server(tracer, f"{sink_url}/v1/traces", timed=args.breakdown, cpus=server_cpus))
        load = LoadGenerator(other_cpus)
        loop = load.loop
        started = time.perf_counter()
        samples = measure(servers, load, args.rounds, args.requests, args.concurrency)
        elapsed = time.perf_counter() - started
        load_average = _load_average()
        for server in servers:
            server.flush()
        received, received_bytes = _http(f"{sink_url}/counts"), _http(f"{sink_url}/bytes")
    finally:
        if load is not None:
            load.stop()
        for server in servers:
            server.stop()
        sink.terminate()
        sink.wait(timeout=10)
    figures = summarise(samples, servers, received, received_bytes)

    print(f"machine: {machine()}, {_cpu()}, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; "
          f"load average {load_average}; {args.requests} requests at concurrency {args.concurrency} per tracer "
          f"per round, {args.rounds} interleaved rounds after a warm-up; {elapsed:.0f} s; " + (
              f"servers on CPU {','.join(map(str, sorted(server_cpus)))}, the load generator and the sink on CPU "
              f"{','.join(map(str, sorted(other_cpus)))}" if server_cpus and other_cpus else "processes not pinned"))
    print()
    print(table(figures))
    print()
    if "floor" in figures and len(figures) > 1:
        print(paired_line(figures))
    print(f"load generator CPU per request (its own process, {loop}): " + ", ".join(
        f"{LABELS[t]} {f['load_cpu_per_request_ms']:.2f} ms" for t, f in figures.items()))
    print("server CPU per request: " + ", ".join(
        f"{LABELS[t]} {f['server_cpu_per_request_ms']:.2f} ms" for t, f in figures.items()))
    if args.breakdown:
        print()
        print("the streamed events per request, in the server's event loop (wall time, medians over rounds):")
        print(breakdown_table(figures))
    print("requests answered / sent: " + ", ".join(f"{LABELS[t]} {f['answered']}/{f['sent']}" for t, f in figures.items()))
    for tracer, f in figures.items():
        if f["failures"]:
            print(f"{LABELS[tracer]} failures: {f['failures']}", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps({"figures": figures, "load_average": load_average,
                                               "requests": args.requests, "concurrency": args.concurrency,
                                               "rounds": args.rounds,
                                               "pinned": {"servers": sorted(server_cpus), "others": sorted(other_cpus)}
                                               if server_cpus and other_cpus else None}, indent=2))
    incomplete = [t for t, f in figures.items() if f["answered"] < f["sent"] or f["spans_received"] < f["spans_made"]]
    return 1 if incomplete else 0


if __name__ == "__main__":
    raise SystemExit(main())
