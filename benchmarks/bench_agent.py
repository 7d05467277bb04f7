"""Cost of an auto-traced ResponsesAgent.predict_stream per event, and a 100,000-delta stream's time and memory.

Per event: the same agent stream untraced, wrapped in a hand-written OpenTelemetry span that
collects the same events into the same output, and traced automatically by ResponsesAgent; all
on one TracerProvider, BatchSpanProcessor and exporter (a null one: the request thread is what is
measured); runs interleaved, medians compared. Long streams: time per delta at growing sizes
(linear time shows as a flat column) and tracemalloc's peak against the size of the text.

    python benchmarks/bench_agent.py [--rounds 15] [--events 2000] [--streams 5] [--long 100000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opentelemetry.trace import Status, StatusCode  # noqa: E402

import tracing  # noqa: E402
from benchmarks._harness import NullExporter, interleaved, machine, table  # noqa: E402
from tracing import _runtime  # noqa: E402
from tracing._agent import ResponsesAgent  # noqa: E402
from tracing._responses import ResponsesAgentRequest, create_text_delta, create_text_output_item  # noqa: E402

REQUEST = ResponsesAgentRequest.model_validate(
    {"input": [{"role": "user", "content": "stream"}], "context": {"conversation_id": "bench", "user_id": "u"}}
)
WORDS = [f"w{i} " for i in range(1000)]


def _events(n: int) -> Iterator[dict[str, Any]]:
    """An agent's stream: n text deltas, then the done item."""
    for i in range(n):
        yield create_text_delta(WORDS[i % 1000], "msg_1")
    yield {"type": "response.output_item.done", "item": create_text_output_item("done", "msg_1")}


class UntracedAgent:
    """The agent with no tracing."""

    def predict_stream(self, request: ResponsesAgentRequest, n: int) -> Iterator[dict[str, Any]]:
        yield from _events(n)


class TracedAgent(ResponsesAgent):
    """The same agent, traced automatically."""

    def predict_stream(self, request: ResponsesAgentRequest, n: int) -> Iterator[dict[str, Any]]:  # type: ignore[override]
        yield from _events(n)


def _hand_written(tracer: Any) -> Any:
    """The floor: one hand-written span that collects the events and records the same output."""
    ok = Status(StatusCode.OK)

    def predict_stream(request: ResponsesAgentRequest, n: int) -> Iterator[dict[str, Any]]:
        attributes = {
            "openinference.span.kind": "AGENT",
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": "HandAgent",
            "gen_ai.conversation.id": "bench",
            "session.id": "bench",
            "user.id": "u",
            "input.value": json.dumps({"request": request.model_dump(), "n": n}),
            "input.mime_type": "application/json",
        }
        with tracer.start_as_current_span("HandAgent.predict_stream", attributes=attributes) as span:
            collected = []
            for event in _events(n):
                collected.append(event)
                yield event
            deltas = "".join(e["delta"] for e in collected if e["type"] == "response.output_text.delta")
            items = [e["item"] for e in collected if e["type"] == "response.output_item.done"]
            span.set_attribute("output.value", json.dumps({"output": items or [create_text_output_item(deltas, "msg_1")]}))
            span.set_attribute("output.mime_type", "application/json")
            span.set_attribute("agent_tracing.stream.chunks", len(collected))
            span.set_status(ok)

    return predict_stream


def _drain(stream: Iterator[Any]) -> int:
    count = 0
    for _ in stream:
        count += 1
    return count


def _long_stream(agent: TracedAgent, n: int) -> tuple[float, int, int]:
    """Seconds, tracemalloc peak above the start, and text size of one n-delta traced stream."""
    text_size = sum(len(WORDS[i % 1000]) for i in range(n))
    start = time.perf_counter()
    _drain(agent.predict_stream(REQUEST, n))
    seconds = time.perf_counter() - start
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    _drain(agent.predict_stream(REQUEST, n))
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return seconds, peak, text_size


def main(argv: list[str] | None = None) -> int:
    """Run both measurements and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (median reported)")
    parser.add_argument("--events", type=int, default=2000, help="deltas per stream in the per-event comparison")
    parser.add_argument("--streams", type=int, default=5, help="streams per round")
    parser.add_argument("--long", type=int, default=100_000, help="deltas of the longest stream")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)

    tracing.configure(service_name="bench-agent", exporters=[NullExporter()])
    hand = _hand_written(_runtime.state.provider.get_tracer("hand-written"))
    untraced, traced = UntracedAgent(), TracedAgent()
    n = args.events
    streams = interleaved(
        {
            "untraced": lambda: _drain(untraced.predict_stream(REQUEST, n)),
            "hand-written span": lambda: _drain(hand(REQUEST, n)),
            "ResponsesAgent": lambda: _drain(traced.predict_stream(REQUEST, n)),
        },
        number=args.streams,
        rounds=args.rounds,
    )
    per_event = {name: seconds / (n + 1) for name, seconds in streams.items()}
    ratio = per_event["ResponsesAgent"] / per_event["hand-written span"]
    print(f"machine: {machine()}")
    print(table(f"per event ({n}-delta predict_stream, output aggregated)", [
        ("untraced", per_event["untraced"], None),
        ("hand-written OpenTelemetry span (floor)", per_event["hand-written span"], 1.0),
        ("ResponsesAgent (automatic)", per_event["ResponsesAgent"], ratio),
    ]))
    overhead = {name: (per_event[name] - per_event["untraced"]) * 1e9 for name in ("hand-written span", "ResponsesAgent")}
    print(f"overhead over untraced: floor {overhead['hand-written span']:.0f} ns/event, "
          f"ResponsesAgent {overhead['ResponsesAgent']:.0f} ns/event")
    print()
    sizes = sorted({max(1, args.long // 10), max(1, args.long * 3 // 10), args.long})
    print(f"{'deltas':>10}{'seconds':>10}{'us/delta':>10}{'text (KiB)':>12}{'peak (KiB)':>12}{'peak/text':>11}")
    long_rows = []
    for size in sizes:
        seconds, peak, text_size = _long_stream(traced, size)
        long_rows.append({"deltas": size, "seconds": seconds, "peak_bytes": peak, "text_bytes": text_size})
        print(f"{size:>10}{seconds:>10.3f}{seconds / size * 1e6:>10.2f}{text_size / 1024:>12.0f}"
              f"{peak / 1024:>12.0f}{peak / text_size:>11.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"per_event_s": per_event, "per_event_ratio": ratio, "long": long_rows}, indent=2))
    tracing.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
