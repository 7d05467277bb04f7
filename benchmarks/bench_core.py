"""Request-thread cost of @trace per call and per streamed chunk, against a hand-written OpenTelemetry span.

Both sides run on the same TracerProvider, BatchSpanProcessor and exporter (a null one, so only the
request thread is measured); runs are interleaved and medians compared.

    python benchmarks/bench_core.py [--rounds 15] [--number 3000] [--chunks 1000]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opentelemetry.trace import Status, StatusCode  # noqa: E402

import tracing  # noqa: E402
from benchmarks._harness import NullExporter, interleaved, machine, table  # noqa: E402
from tracing import _runtime  # noqa: E402


def _small(question: str, top_k: int = 3) -> dict:
    return {"answer": question[::-1], "top_k": top_k}


def _chunks(n: int):
    for _ in range(n):
        yield "tok "


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (median reported)")
    parser.add_argument("--number", type=int, default=3000, help="calls per round")
    parser.add_argument("--chunks", type=int, default=1000, help="chunks per stream")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)

    tracing.configure(service_name="bench", exporters=[NullExporter()])
    floor_tracer = _runtime.state.provider.get_tracer("hand-written")
    ok = Status(StatusCode.OK)

    traced_small = tracing.trace(_small)

    def hand_small(question: str, top_k: int = 3) -> dict:
        with floor_tracer.start_as_current_span("_small", attributes={"openinference.span.kind": "CHAIN"}) as span:
            span.set_attribute("input.value", json.dumps({"question": question, "top_k": top_k}, ensure_ascii=False))
            span.set_attribute("input.mime_type", "application/json")
            result = _small(question, top_k)
            span.set_attribute("output.value", json.dumps(result, ensure_ascii=False))
            span.set_attribute("output.mime_type", "application/json")
            return result

    traced_stream = tracing.trace(_chunks)

    def hand_stream(n: int):
        with floor_tracer.start_as_current_span("_chunks", attributes={"openinference.span.kind": "CHAIN"}) as span:
            span.set_attribute("input.value", json.dumps({"n": n}))
            span.set_attribute("input.mime_type", "application/json")
            collected = []
            for chunk in _chunks(n):
                collected.append(chunk)
                yield chunk
            span.set_attribute("output.value", "".join(collected))
            span.set_attribute("output.mime_type", "text/plain")
            span.set_attribute("agent_tracing.stream.chunks", len(collected))
            span.set_status(ok)

    n = args.chunks
    calls = interleaved(
        {
            "untraced": lambda: _small("what is tracing?"),
            "hand-written span": lambda: hand_small("what is tracing?"),
            "@tracing.trace": lambda: traced_small("what is tracing?"),
        },
        number=args.number,
        rounds=args.rounds,
    )
    streams = interleaved(
        {
            "untraced": lambda: sum(1 for _ in _chunks(n)),
            "hand-written span": lambda: sum(1 for _ in hand_stream(n)),
            "@tracing.trace": lambda: sum(1 for _ in traced_stream(n)),
        },
        number=max(1, args.number // n * 10) or 1,
        rounds=args.rounds,
    )
    per_chunk = {name: seconds / n for name, seconds in streams.items()}
    call_floor = calls["hand-written span"] - calls["untraced"]
    chunk_floor = per_chunk["hand-written span"] - per_chunk["untraced"]
    call_ratio = calls["@tracing.trace"] / calls["hand-written span"]
    chunk_ratio = per_chunk["@tracing.trace"] / per_chunk["hand-written span"]
    print(f"machine: {machine()}")
    print(table("per call (a small function, inputs and outputs recorded)", [
        ("untraced", calls["untraced"], None),
        ("hand-written OpenTelemetry span (floor)", calls["hand-written span"], 1.0),
        ("@tracing.trace", calls["@tracing.trace"], call_ratio),
    ]))
    print()
    print(table(f"per streamed chunk ({n}-chunk generator, output aggregated)", [
        ("untraced", per_chunk["untraced"], None),
        ("hand-written OpenTelemetry span (floor)", per_chunk["hand-written span"], 1.0),
        ("@tracing.trace", per_chunk["@tracing.trace"], chunk_ratio),
    ]))
    print()
    print(f"tracing overhead over untraced: floor {call_floor * 1e6:.2f} us/call, ours "
          f"{(calls['@tracing.trace'] - calls['untraced']) * 1e6:.2f} us/call; floor {chunk_floor * 1e9:.0f} ns/chunk, "
          f"ours {(per_chunk['@tracing.trace'] - per_chunk['untraced']) * 1e9:.0f} ns/chunk")
    print(f"ratios: per call {call_ratio:.2f}x (target <= 1.5x), per chunk {chunk_ratio:.2f}x (target <= 1.3x)")
    if args.json:
        Path(args.json).write_text(json.dumps({"per_call_ratio": call_ratio, "per_chunk_ratio": chunk_ratio,
                                               "calls_s": calls, "per_chunk_s": per_chunk}, indent=2))
    tracing.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
