"""Cost of a RETRIEVER span mapped by a retriever schema, against a hand-written OpenTelemetry span.

The retrieval returns 20 documents of 1 KB. The hand-written span json-dumps them into one
`output.value` attribute; ours maps them through the registered schema into OpenInference documents,
MLflow's document JSON and the GenAI keys. Both run on the same TracerProvider and BatchSpanProcessor:
first with a null exporter (the request thread's cost), then with the project's file exporter and a
flush after every batch of calls (recording included: the extra attributes are encoded and written).
Runs are interleaved and medians compared.

    python benchmarks/bench_retriever.py [--rounds 15] [--number 300] [--documents 20] [--size 1024]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opentelemetry.sdk.trace.export import SpanExporter  # noqa: E402

import exporters  # noqa: E402
import tracing  # noqa: E402
from benchmarks._harness import NullExporter, interleaved, machine, table  # noqa: E402
from tracing import _runtime  # noqa: E402

WORDS = "bike frame wheel battery charge return refund warranty shipping brake chain gear saddle tyre pedal".split()


def _rows(documents: int, size: int) -> list[dict[str, Any]]:
    generator = random.Random(7)
    rows = []
    for index in range(documents):
        text = ""
        while len(text) < size:
            text += generator.choice(WORDS) + " "
        rows.append({
            "chunk_id": f"doc-{index:04d}",
            "text": text[:size],
            "doc_uri": f"https://kb.example/articles/{index}",
            "title": f"Article {index}",
            "score": round(1 - index / documents, 4),
        })
    return rows


def _variants(rows: list[dict[str, Any]]) -> dict[str, Callable[[], Any]]:
    tracer = _runtime.state.provider.get_tracer("hand-written")

    def search(query: str) -> list[dict[str, Any]]:
        return rows

    def hand_written(query: str) -> list[dict[str, Any]]:
        with tracer.start_as_current_span("kb", attributes={"openinference.span.kind": "RETRIEVER"}) as span:
            span.set_attribute("input.value", json.dumps({"query": query}, ensure_ascii=False))
            span.set_attribute("input.mime_type", "application/json")
            result = search(query)
            span.set_attribute("output.value", json.dumps(result, ensure_ascii=False))
            span.set_attribute("output.mime_type", "application/json")
            return result

    traced = tracing.trace(name="kb", span_type="RETRIEVER")(search)
    return {
        "untraced": lambda: search("how do I return a bike?"),
        "hand-written span": lambda: hand_written("how do I return a bike?"),
        "@tracing.trace RETRIEVER": lambda: traced("how do I return a bike?"),
    }


def _measure(exporter: SpanExporter, rows: list[dict[str, Any]], *, number: int, rounds: int, flush: bool) -> dict[str, float]:
    tracing.configure(service_name="bench-retriever", exporters=[exporter])
    variants = _variants(rows)
    if flush:
        variants = {name: _flushing(fn, number) for name, fn in variants.items()}
    return interleaved(variants, number=number, rounds=rounds)


def _flushing(fn: Callable[[], Any], every: int) -> Callable[[], Any]:
    """The call, with a flush of the span pipeline after every `every` calls."""
    count = 0

    def call() -> Any:
        nonlocal count
        result = fn()
        count += 1
        if count % every == 0:
            tracing.force_flush()
        return result

    return call


def _report(title: str, times: dict[str, float]) -> float:
    ratio = times["@tracing.trace RETRIEVER"] / times["hand-written span"]
    print(table(title, [
        ("untraced", times["untraced"], None),
        ("hand-written span, documents json-dumped (floor)", times["hand-written span"], 1.0),
        ("@tracing.trace RETRIEVER, schema-mapped", times["@tracing.trace RETRIEVER"], ratio),
    ]))
    print()
    return ratio


def main(argv: list[str] | None = None) -> int:
    """Run both measurements and print the ratios against the hand-written span."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (median reported)")
    parser.add_argument("--number", type=int, default=300, help="calls per round")
    parser.add_argument("--documents", type=int, default=20, help="documents per retrieval")
    parser.add_argument("--size", type=int, default=1024, help="characters of text per document")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)

    rows = _rows(args.documents, args.size)
    tracing.set_retriever_schema(name="kb", primary_key="chunk_id", text_column="text", doc_uri="doc_uri", other_columns=["title"])
    request_thread = _measure(NullExporter(), rows, number=args.number, rounds=args.rounds, flush=False)
    with tempfile.TemporaryDirectory() as folder:
        recorded = _measure(exporters.FileSpanExporter(Path(folder) / "bench.jsonl"), rows,
                            number=args.number, rounds=max(3, args.rounds // 3), flush=True)
        tracing.shutdown()

    label = f"{args.documents} documents of {args.size} characters"
    print(f"machine: {machine()}")
    thread_ratio = _report(f"per retrieval, request thread ({label}, null exporter)", request_thread)
    recorded_ratio = _report(f"per retrieval, recorded ({label}, file exporter, flushed)", recorded)
    print(f"ratios: request thread {thread_ratio:.2f}x, recorded {recorded_ratio:.2f}x (target <= 2x)")
    if args.json:
        Path(args.json).write_text(json.dumps({"request_thread_ratio": thread_ratio, "recorded_ratio": recorded_ratio,
                                               "request_thread_s": request_thread, "recorded_s": recorded}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
