"""Time and peak memory of `agent-tracing retrievals` and `evaluate` on trace files of 100,000 and 1,000,000 spans.

The file is written fast: one real trace (AGENT root, EMBEDDING, RETRIEVER with 5 documents,
CHAT_MODEL) is traced to a file once, then its line is copied with fresh trace and span ids and
the questions of exporters/demo/data/ground_truth.jsonl in turn, so every retriever row matches the
ground truth. Each command runs in its own process; peak memory is that process's maximum
resident set size. Bounded memory shows as the same peak for both sizes.

    python benchmarks/bench_evaluate.py [--spans 1000000] [--small 100000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import tracing  # noqa: E402
from benchmarks._harness import machine  # noqa: E402
from tracing import ResponsesAgent, ResponsesAgentRequest, ResponsesAgentResponse  # noqa: E402

GROUND_TRUTH = ROOT / "exporters" / "demo" / "data" / "ground_truth.jsonl"
QUESTIONS = [json.loads(line)["request"] for line in GROUND_TRUTH.read_text(encoding="utf-8").splitlines() if line.strip()]
PLACEHOLDER = "QUESTION-PLACEHOLDER"
SPANS_PER_TRACE = 4
_MEASURE = """
import resource, sys, time
from exporters.cli import main
started = time.perf_counter()
code = main(sys.argv[1:])
print(f"{time.perf_counter() - started:.3f} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss} {code}", file=sys.stderr)
"""

tracing.set_retriever_schema(name="bench_kb", primary_key="chunk_id", text_column="text", doc_uri="doc_uri", other_columns=["title"])


@tracing.trace(span_type="EMBEDDING")
def embed(text: str) -> list[float]:
    """A stand-in embedding."""
    return [len(text) / 100, 0.5, 0.25]


@tracing.trace(name="bench_kb", span_type="RETRIEVER")
def search(query: str, k: int = 5) -> list[dict[str, Any]]:
    """Five help-centre chunks with scores."""
    embed(query)
    return [
        {"chunk_id": f"hb-00{i}", "text": f"Help-centre paragraph {i} about returns, delivery and batteries.",
         "doc_uri": f"https://help.harborbikes.example/section-{i}#part", "title": f"Section {i}", "score": 1 - i / 10}
        for i in range(k)
    ]


@tracing.trace(span_type="CHAT_MODEL")
def generate(question: str, context: list[dict[str, Any]]) -> str:
    """A stand-in chat model."""
    return f"From {context[0]['title']}: {context[0]['text']}"


class BenchAgent(ResponsesAgent):
    """Retrieve, then answer."""

    def predict(self, request: ResponsesAgentRequest) -> ResponsesAgentResponse:
        """One retrieval and one model call."""
        question = str(request.input[-1].content)
        return ResponsesAgentResponse(output=[self.create_text_output_item(generate(question, search(question)), "msg_1")])


def _template(workdir: Path) -> tuple[str, str, list[str]]:
    """One traced request as a trace-file line, with its trace id and span ids to replace."""
    path = workdir / "template.jsonl"
    tracing.configure(service_name="bench-evaluate", exporters=[f"file://{path}"])
    BenchAgent().predict({"input": [{"role": "user", "content": PLACEHOLDER}]})
    tracing.shutdown()
    spans = [span for line in path.read_text().splitlines() for rs in json.loads(line)["resourceSpans"]
             for ss in rs["scopeSpans"] for span in ss["spans"]]
    assert len(spans) == SPANS_PER_TRACE, len(spans)
    first = json.loads(path.read_text().splitlines()[0])
    first["resourceSpans"][0]["scopeSpans"][0]["spans"] = spans
    return json.dumps(first, separators=(",", ":")), spans[0]["traceId"], [span["spanId"] for span in spans]


def generate_file(path: Path, spans: int, template: tuple[str, str, list[str]]) -> float:
    """Write a trace file of `spans` spans (one trace a line) from the template; return the seconds taken."""
    started = time.perf_counter()
    line, trace_id, span_ids = template
    with path.open("w", encoding="utf-8") as out:
        for number in range(spans // SPANS_PER_TRACE):
            text = line.replace(trace_id, f"{number + 1:032x}").replace(PLACEHOLDER, QUESTIONS[number % len(QUESTIONS)])
            for index, span_id in enumerate(span_ids):
                text = text.replace(span_id, f"{number + 1:012x}{index + 1:04x}")
            out.write(text + "\n")
    return time.perf_counter() - started


def _run(*args: str | Path) -> tuple[float, float]:
    """Seconds and peak resident MiB of one `agent-tracing` command in a fresh process."""
    completed = subprocess.run([sys.executable, "-c", _MEASURE, *map(str, args)], capture_output=True, text=True, cwd=ROOT)
    seconds, peak_kib, code = completed.stderr.strip().splitlines()[-1].split()
    if code != "0":
        raise SystemExit(f"agent-tracing {' '.join(map(str, args))} exited {code}: {completed.stderr}")
    return float(seconds), int(peak_kib) / 1024


def main() -> None:
    """Generate the files, run both commands on each, print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="write the files here and keep them")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        workdir = args.keep or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        template = _template(workdir)
        print(f"bench_evaluate on {machine()}")
        print(f"{'spans':>10}{'file MiB':>10}{'write s':>9}  {'command':<34}{'time s':>8}{'spans/s':>10}{'peak MiB':>10}")
        for spans in (args.small, args.spans):
            trace_file = workdir / f"traces-{spans}.jsonl"
            written = generate_file(trace_file, spans, template)
            size = trace_file.stat().st_size / 2**20
            commands = {
                "retrievals -o rows.jsonl": ("retrievals", trace_file, "-o", workdir / "rows.jsonl"),
                "evaluate --k 1,3,5,10 -o eval.json": ("evaluate", trace_file, "--ground-truth", GROUND_TRUTH, "-o", workdir / "eval.json"),
            }
            for name, command in commands.items():
                seconds, peak = _run(*command)
                print(f"{spans:>10,}{size:>10.0f}{written:>9.1f}  {name:<34}{seconds:>8.1f}{spans / seconds:>10,.0f}{peak:>10.0f}")
            if args.keep is None:
                trace_file.unlink()


if __name__ == "__main__":
    main()
