"""Cost of OTLP protobuf encoding of one batch: the SDK's encoder against ours (exporters/_otlp.py), same bytes.

The batch holds the spans agent-tracing makes serving benchmarks/serve_app.py's requests (per request an agent
span, a retrieval of 10 documents of 1 KB mapped by a schema and a tool call), as many as a BatchSpanProcessor
exports at once (512). Both encoders run in turn; the bytes are checked equal before timing.

    python benchmarks/bench_otlp.py [--rounds 15] [--batch 512]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(1, str(Path(__file__).resolve().parent))

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as sdk_encode_spans  # noqa: E402
from opentelemetry.sdk.trace import ReadableSpan  # noqa: E402
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult  # noqa: E402

import tracing  # noqa: E402
from benchmarks._harness import interleaved, machine, table  # noqa: E402
from exporters._otlp import encode_spans  # noqa: E402


class _Keep(SpanExporter):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS


def serving_batch(size: int) -> list[ReadableSpan]:
    """`size` spans made by agent-tracing serving serve_app.py's requests."""
    import serve_app

    kept = _Keep()
    tracing.configure(service_name="agent-tracing", exporters=[kept])
    tracing.set_retriever_schema(name="kb", primary_key="chunk_id", text_column="text", doc_uri="doc_uri", other_columns=["title"])
    retrieve = tracing.trace(name="kb", span_type="RETRIEVER")(serve_app.search)
    tool = tracing.trace(span_type="TOOL")(serve_app.lookup_order)

    class Agent(tracing.ResponsesAgent):
        def predict_stream(self, request: tracing.ResponsesAgentRequest):  # type: ignore[no-untyped-def,override]
            yield from serve_app.respond(retrieve, tool)

    agent = Agent()
    body = {"input": [{"role": "user", "content": serve_app.QUERY}]}
    while len(kept.spans) < size:
        for _ in agent.predict_stream(body):  # type: ignore[arg-type]
            pass
        tracing.force_flush()
    tracing.shutdown()
    return kept.spans[:size]


def main(argv: list[str] | None = None) -> int:
    """Print the median time of each encoder on one batch and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (median reported)")
    parser.add_argument("--number", type=int, default=5, help="batches encoded per round")
    parser.add_argument("--batch", type=int, default=512, help="spans per batch")
    args = parser.parse_args(argv)
    spans = serving_batch(args.batch)
    ours = encode_spans(spans)
    if ours != sdk_encode_spans(spans).SerializePartialToString():
        print("the encoders disagree on this batch", file=sys.stderr)
        return 1
    medians = interleaved(
        {"SDK encode_spans().SerializePartialToString()": lambda: sdk_encode_spans(spans).SerializePartialToString(),
         "exporters._otlp.encode_spans()": lambda: encode_spans(spans)},
        number=args.number, rounds=args.rounds,
    )
    sdk, own = medians.values()
    print(f"{machine()}; one batch of {len(spans)} spans, {len(ours) / 1024:.0f} KiB")
    print(table("OTLP protobuf encoding", [("SDK encoder", sdk, None), ("ours", own, own / sdk)], unit="ms"))
    print(f"ours is {sdk / own:.1f}x faster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
