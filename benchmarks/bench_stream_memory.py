"""Memory of many traced streams open at once: what tracing holds per stream against the text streamed so far.

Opens STREAMS traced generators (plain text chunks, and ResponsesAgent-style text-delta events), advances each
by CHUNKS chunks of about 5 characters and keeps them all open; tracemalloc measures the memory they hold, traced
and untraced (the same generators without @trace), and the difference is what tracing costs. The budget
(issue 15): at most twice the text plus 2 KB per stream. For scale, the same for a hand-written OpenTelemetry span
per stream that keeps its chunks and joins them at the end (the SDK's span alone holds about 2.8 KB).

    python benchmarks/bench_stream_memory.py [--streams 1000] [--chunks 200]
"""

from __future__ import annotations

import argparse
import gc
import sys
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tracing  # noqa: E402
from benchmarks._harness import NullExporter, machine  # noqa: E402


def text_chunks(n: int) -> Iterator[str]:
    """n distinct chunks of about 5 characters, as a model streams tokens."""
    for i in range(n):
        yield f"w{i:03d} "


def delta_events(n: int) -> Iterator[dict[str, Any]]:
    """n Responses text-delta events of about 5 characters, as a ResponsesAgent streams them."""
    for i in range(n):
        yield {"type": "response.output_text.delta", "item_id": "msg_1", "delta": f"w{i:03d} "}


def held_by_open_streams(make: Callable[[int], Iterator[Any]], streams: int, chunks: int) -> tuple[int, int]:
    """(bytes held once `streams` streams have each yielded `chunks` chunks and stay open, characters of text)."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    opened = [make(chunks + 1) for _ in range(streams)]
    text = 0
    for stream in opened:
        for _ in range(chunks):
            chunk = next(stream)
            text += len(chunk if isinstance(chunk, str) else chunk["delta"])
    del chunk
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    for stream in opened:
        stream.close()
    return held, text


def hand_written(make: Callable[[int], Iterator[Any]]) -> Callable[[int], Iterator[Any]]:
    """The stream in a hand-written OpenTelemetry span that keeps its chunks (not made current: many are open)."""
    from tracing import _runtime

    tracer = _runtime.state.provider.get_tracer("hand-written")

    def stream(n: int) -> Iterator[Any]:
        span = tracer.start_span(make.__name__, attributes={"openinference.span.kind": "CHAIN"})
        collected = []
        try:
            for chunk in make(n):
                collected.append(chunk)
                yield chunk
        finally:
            span.set_attribute("agent_tracing.stream.chunks", len(collected))
            span.end()

    return stream


def tracing_cost(make: Callable[[int], Iterator[Any]], streams: int, chunks: int) -> tuple[float, float, float]:
    """(bytes agent-tracing holds per open stream, bytes a hand-written span holds, characters of text per stream)."""
    traced, text = held_by_open_streams(tracing.trace(make), streams, chunks)
    floor, _ = held_by_open_streams(hand_written(make), streams, chunks)
    untraced, _ = held_by_open_streams(make, streams, chunks)
    return (traced - untraced) / streams, (floor - untraced) / streams, text / streams


def main(argv: list[str] | None = None) -> int:
    """Print what tracing holds per open stream for each kind of stream, against the budget (tests/core/
    test_stream_memory.py asserts the bound)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=1000, help="streams open at once")
    parser.add_argument("--chunks", type=int, default=200, help="chunks each has yielded")
    args = parser.parse_args(argv)
    tracing.configure(service_name="bench-stream-memory", exporters=[NullExporter()])
    print(f"{machine()}; {args.streams} open streams, {args.chunks} chunks each")
    for name, make in (("text chunks", text_chunks), ("Responses text deltas", delta_events)):
        per_stream, floor, text = tracing_cost(make, args.streams, args.chunks)
        budget = 2 * text + 2048
        print(f"  {name:<24} agent-tracing holds {per_stream / 1024:5.1f} KiB per stream for {text / 1024:.1f} KiB of "
              f"text (budget {budget / 1024:.1f} KiB: {per_stream / budget:.2f} of it); a hand-written span "
              f"{floor / 1024:.1f} KiB")
    tracing.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
