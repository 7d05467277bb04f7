"""Where a traced stream's time per chunk goes: each layer a traced generator adds, measured on its own (issue 15).

The variants wrap the same generator of text chunks (or of Responses text-delta events) and are run in turn:
the bare generator; the floor's layer (a `for` loop collecting the chunks, as a hand-written span does); a layer
driven by `send` (what forwarding send/throw/close takes, SPEC 3.1); the same run inside a context (`Context.run`
each step: the span is current only while the body runs, SPEC 3.3); `@tracing.trace` with outputs off (span,
bookkeeping, no aggregation); `@tracing.trace` (the aggregate folded). Spans go to a processor that keeps nothing.

    python benchmarks/bench_stream_layers.py [--chunks 1000] [--number 30] [--rounds 15]
    python benchmarks/bench_stream_layers.py --instructions [--kinds events] [--only "@trace"]

`--instructions` counts the CPU instructions each layer executes per chunk under valgrind's callgrind instead of
timing it: every variant runs in its own process twice, with a warm-up stream alone and with `--number` streams
more, and the difference is divided by their chunks. Unlike a time, the count repeats to a fraction of a percent whatever else the
machine is doing (about a minute a variant; two run at once).
"""

from __future__ import annotations

import argparse
import contextvars
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opentelemetry.sdk.trace import SpanProcessor  # noqa: E402

import tracing  # noqa: E402
from benchmarks._harness import interleaved, machine  # noqa: E402

WORDS = [f"w{i} " for i in range(1000)]


def texts(n: int) -> Iterator[str]:
    """n text chunks."""
    for index in range(n):
        yield WORDS[index % 1000]


def events(n: int) -> Iterator[dict[str, Any]]:
    """n Responses text-delta events of one item."""
    for index in range(n):
        yield {"type": "response.output_text.delta", "item_id": "msg_1", "delta": WORDS[index % 1000]}


def collecting(stream: Iterator[Any]) -> Iterator[Any]:
    """The floor's layer: a for loop keeping every chunk."""
    kept = []
    for chunk in stream:
        kept.append(chunk)
        yield chunk


def sending(stream: Iterator[Any]) -> Iterator[Any]:
    """A layer driven by send, as one forwarding send/throw must be."""
    send = stream.send  # type: ignore[attr-defined]
    while True:
        try:
            chunk = send(None)
        except StopIteration:
            return
        yield chunk


def in_context(stream: Iterator[Any]) -> Iterator[Any]:
    """The same, every step run inside a context."""
    run, send = contextvars.copy_context().run, stream.send  # type: ignore[attr-defined]
    while True:
        try:
            chunk = run(send, None)
        except StopIteration:
            return
        yield chunk


def drain(stream: Iterator[Any]) -> None:
    """Consume a stream."""
    for _ in stream:
        pass


def variants(source: Callable[[int], Iterator[Any]], chunks: int) -> dict[str, Callable[[], None]]:
    """Each layer over `source`, as a callable consuming one stream."""
    bare_traced = tracing.trace(name="bare", capture_outputs=False)(source)
    traced = tracing.trace(name="traced")(source)
    return {
        "generator alone": lambda: drain(source(chunks)),
        "floor's layer (for loop, chunks kept)": lambda: drain(collecting(source(chunks))),
        "layer driven by send": lambda: drain(sending(source(chunks))),
        "layer driven by send in a context": lambda: drain(in_context(source(chunks))),
        "@trace, capture_outputs=False": lambda: drain(bare_traced(chunks)),
        "@trace": lambda: drain(traced(chunks)),
    }


KINDS: dict[str, tuple[str, Callable[[int], Iterator[Any]]]] = {
    "text": ("text chunks", texts),
    "events": ("Responses text-delta events", events),
}
FLOOR = "floor's layer (for loop, chunks kept)"


def _run_streams(kind: str, variant: str, chunks: int, number: int) -> None:
    """Consume one stream of one variant (what runs once: imports, the interpreter's warm-up), then `number` more
    (the process callgrind counts)."""
    run = variants(KINDS[kind][1], chunks)[variant]
    for _ in range(1 + number):
        run()


def _instructions(kind: str, variant: str, chunks: int, number: int) -> float:
    """Instructions per chunk of one variant: the callgrind count with `number` streams more than the warm-up stream,
    less the count with the warm-up stream alone."""
    counts = []
    for streams in (0, number):
        command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, __file__,
                   "--child", kind, variant, "--chunks", str(chunks), "--number", str(streams)]
        # one hash seed for every process: string hashes decide how many probes a dict lookup takes
        completed = subprocess.run(command, capture_output=True, text=True, check=False,
                                   env={**os.environ, "PYTHONHASHSEED": "0"})
        found = re.search(r"Collected : (\d+)", completed.stderr)
        if completed.returncode != 0 or found is None:
            raise RuntimeError(f"callgrind failed on {variant!r} ({kind}): {completed.stderr[-2000:]}")
        counts.append(int(found.group(1)))
    return (counts[1] - counts[0]) / (number * chunks)


def _count_all(kinds: list[str], only: list[str], chunks: int, number: int) -> None:
    """Print instructions per chunk of every chosen variant, and its ratio to the floor's layer."""
    if shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind (Debian: apt-get install valgrind)")
    names = [name for name in variants(texts, chunks) if name == FLOOR or not only or any(o in name for o in only)]
    jobs = [(kind, name) for kind in kinds for name in names]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        counts = dict(zip(jobs, pool.map(lambda job: _instructions(*job, chunks, number), jobs)))
    print(f"machine: {machine()}; {chunks} chunks a stream, {number} streams; valgrind callgrind instruction counts")
    for kind in kinds:
        floor = counts[(kind, FLOOR)]
        print(f"\n{KINDS[kind][0]}: instructions per chunk, ratio to the floor's layer")
        for name in names:
            print(f"  {name:<44}{counts[(kind, name)]:>8.0f}{counts[(kind, name)] / floor:>8.2f}x")


def main(argv: list[str] | None = None) -> int:
    """Print the time (or, with --instructions, the instructions) per chunk of every layer, for text chunks and for
    Responses events."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=1000, help="chunks per stream")
    parser.add_argument("--number", type=int, default=30, help="streams per timing (or per count)")
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (median)")
    parser.add_argument("--instructions", action="store_true", help="count instructions under callgrind instead")
    parser.add_argument("--kinds", default="text,events", help="with --instructions: text, events or both")
    parser.add_argument("--only", action="append", default=[],
                        help="with --instructions: count only the variants whose name holds this (repeatable)")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "VARIANT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    tracing.configure(service_name="bench-stream-layers", exporters=[SpanProcessor()])
    if args.child:
        _run_streams(args.child[0], args.child[1], args.chunks, args.number)
        return 0
    if args.instructions:
        kinds = [kind.strip() for kind in args.kinds.split(",")]
        unknown = [kind for kind in kinds if kind not in KINDS]
        if unknown:
            parser.error(f"--kinds: unknown {', '.join(unknown)} (choose from {', '.join(KINDS)})")
        _count_all(kinds, args.only, args.chunks, args.number)
        return 0
    print(f"machine: {machine()}; {args.chunks} chunks a stream, median of {args.rounds} interleaved rounds")
    for title, source in KINDS.values():
        results = interleaved(variants(source, args.chunks), number=args.number, rounds=args.rounds)
        floor = results[FLOOR]
        print(f"\n{title}: ns per chunk, ratio to the floor's layer")
        for name, seconds in results.items():
            print(f"  {name:<44}{seconds / args.chunks * 1e9:>8.0f} ns{seconds / floor:>8.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
