"""Where a traced stream's time per chunk goes: each layer a traced generator adds, measured on its own (issue 15).

The variants wrap the same generator of text chunks (or of Responses text-delta events) and are run in turn:
the bare generator; the floor's layer (a `for` loop collecting the chunks, as a hand-written span does); a layer
driven by `send` (what forwarding send/throw/close takes, SPEC 3.1); the same run inside a context (`Context.run`
each step: the span is current only while the body runs, SPEC 3.3); `@tracing.trace` with outputs off (span,
bookkeeping, no aggregation); `@tracing.trace` (the aggregate folded). Spans go to a processor that keeps nothing.

    python benchmarks/bench_stream_layers.py [--chunks 1000] [--number 30] [--rounds 15]
"""

from __future__ import annotations

import argparse
import contextvars
import sys
from collections.abc import Callable, Iterator
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


def main(argv: list[str] | None = None) -> int:
    """Print the time per chunk of every layer, for text chunks and for Responses events."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=1000, help="chunks per stream")
    parser.add_argument("--number", type=int, default=30, help="streams per timing")
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (median)")
    args = parser.parse_args(argv)
    tracing.configure(service_name="bench-stream-layers", exporters=[SpanProcessor()])
    print(f"machine: {machine()}; {args.chunks} chunks a stream, median of {args.rounds} interleaved rounds")
    for title, source in (("text chunks", texts), ("Responses text-delta events", events)):
        results = interleaved(variants(source, args.chunks), number=args.number, rounds=args.rounds)
        floor = results["floor's layer (for loop, chunks kept)"]
        print(f"\n{title}: ns per chunk, ratio to the floor's layer")
        for name, seconds in results.items():
            print(f"  {name:<44}{seconds / args.chunks * 1e9:>8.0f} ns{seconds / floor:>8.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
