"""`agent-tracing evaluate` on real trace files: the table, -o JSON, --fail-under, --html, exit 2 on bad input."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

import tracing
from exporters.evaluation import iter_retrievals
from tests.evaluation.helpers import KB, ROOT, agent_tracing, ask_all

NDCG3_RETURNS = (1 / math.log2(3)) / (1 + 1 / math.log2(3))
"""nDCG@3 of [shipping, returns, returns] against {returns, refunds}."""
EXPECTED = {
    "precision@1": 1 / 3, "precision@3": (1 / 3 + 1 / 3 + 0) / 3,
    "recall@1": 1 / 3, "recall@3": (1 + 1 / 2 + 0) / 3,
    "hit_rate@1": 1 / 3, "hit_rate@3": 2 / 3,
    "mrr": (1 + 1 / 2 + 0) / 3,
    "ndcg@1": 1 / 3, "ndcg@3": (1 + NDCG3_RETURNS + 0) / 3,
}
"""Averages over the three matched questions: orders found first, returns found second (and repeated), helmets not retrieved."""


@pytest.fixture
def traced(trace_file: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A trace file of the four help-desk questions and a ground truth covering three of them plus one never asked."""
    ask_all()
    tracing.force_flush()
    truth = tmp_path / "gt.jsonl"
    truth.write_text("\n".join(json.dumps(row) for row in [
        {"request": {"input": [{"role": "user", "content": "Where is my order?"}]}, "expected_retrieved_context": [{"doc_uri": KB + "orders"}]},
        {"request": "  how do I   RETURN a bike? ", "expected_retrieved_context": [{"doc_uri": KB + "returns"}, {"doc_uri": KB + "refunds"}]},
        {"request": "Do you sell helmets?", "expected_retrieved_context": [{"doc_uri": KB + "helmets"}]},
        {"request": "Can I pay by invoice?", "expected_retrieved_context": [{"doc_uri": KB + "payment"}]},
    ]) + "\n")
    return trace_file, truth


def test_table_json_and_counts(traced: tuple[Path, Path], tmp_path: Path) -> None:
    trace_file, truth = traced
    out = tmp_path / "report" / "eval.json"

    completed = agent_tracing("evaluate", trace_file, "--ground-truth", truth, "--k", "3,1", "-o", out)

    assert completed.returncode == 0, completed.stderr
    lines = {line.split()[1]: line for line in completed.stdout.splitlines() if re.match(r"^\W*[13]\s", line)}
    assert re.findall(r"\d\.\d{3}", lines["1"]) == ["0.333", "0.333", "0.333", "0.333"]
    assert re.findall(r"\d\.\d{3}", lines["3"]) == ["0.222", "0.500", "0.667", f"{EXPECTED['ndcg@3']:.3f}"]
    assert "3 rows scored" in completed.stdout and "MRR 0.500" in completed.stdout
    assert "retriever rows without ground truth: 1" in completed.stdout
    assert "ground-truth rows without a retrieval: 1 of 4" in completed.stdout

    report = json.loads(out.read_text())
    assert list(report["aggregate"]) == list(EXPECTED)
    assert report["aggregate"] == pytest.approx(EXPECTED)
    assert report["k"] == [1, 3]
    assert report["counts"] == {"scored_rows": 3, "unmatched_rows": 1, "ground_truth_rows": 4, "unmatched_ground_truth": 1,
                                "rows_without_uri": 0, "documents_without_uri": 0}
    by_request = {row["request"]: row for row in report["rows"]}
    returns = by_request["How do I return a bike?"]
    assert returns["retrieved"] == [KB + "shipping", KB + "returns", KB + "returns"]
    assert returns["expected"] == [KB + "returns", KB + "refunds"]
    assert returns["ground_truth_line"] == 2
    assert returns["metrics"]["precision@3"] == pytest.approx(1 / 3) and returns["metrics"]["mrr"] == 0.5


def test_fail_under(traced: tuple[Path, Path]) -> None:
    trace_file, truth = traced

    failing = agent_tracing("evaluate", trace_file, "--ground-truth", truth, "--fail-under", "recall@3=0.6", "--fail-under", "mrr=0.4")
    passing = agent_tracing("evaluate", trace_file, "--ground-truth", truth, "--fail-under", "hit_rate@3=0.6", "--fail-under", "MRR=0.5")

    assert failing.returncode == 1
    assert "check failed: recall@3 = 0.500 < 0.6" in failing.stderr and "mrr" not in failing.stderr
    assert "precision@k" in failing.stdout
    assert passing.returncode == 0, passing.stderr


def test_a_fail_under_k_not_in_k_is_added(traced: tuple[Path, Path], tmp_path: Path) -> None:
    trace_file, truth = traced
    out = tmp_path / "eval.json"
    completed = agent_tracing("evaluate", trace_file, "--ground-truth", truth, "--k", "1", "--fail-under", "ndcg@2=0.1", "-o", out)
    assert completed.returncode == 0, completed.stderr
    assert json.loads(out.read_text())["k"] == [1, 2]


def test_trace_id_matching_and_csv_ground_truth(traced: tuple[Path, Path], tmp_path: Path) -> None:
    trace_file, _ = traced
    hours = next(row for row in iter_retrievals(trace_file) if row["request"] == "What are your opening hours?")
    truth = tmp_path / "gt.csv"
    truth.write_text(f"trace_id,request,doc_uri\n{hours['trace_id']},,{KB}hours\n,WHERE IS MY ORDER?,{KB}orders\n,Where is my order?,{KB}tracking\n")
    out = tmp_path / "eval.json"

    completed = agent_tracing("evaluate", trace_file, "--ground-truth", truth, "--k", "1", "-o", out)

    assert completed.returncode == 0, completed.stderr
    report = json.loads(out.read_text())
    assert report["counts"] == {"scored_rows": 2, "unmatched_rows": 2, "ground_truth_rows": 2, "unmatched_ground_truth": 0,
                                "rows_without_uri": 0, "documents_without_uri": 0}
    assert {row["request"]: row["metrics"]["recall@1"] for row in report["rows"]} == {"What are your opening hours?": 1.0, "Where is my order?": 0.5}


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_report_is_self_contained(traced: tuple[Path, Path], tmp_path: Path) -> None:
    trace_file, truth = traced
    page = tmp_path / "report.html"

    completed = agent_tracing("evaluate", trace_file, "--ground-truth", truth, "--k", "1,3,5", "--html", page)

    assert completed.returncode == 0, completed.stderr
    parsed = _Tags()
    parsed.feed(page.read_text())
    names = [tag for tag, _ in parsed.tags]
    assert not [attrs for _, attrs in parsed.tags if {"src", "href"} & set(attrs)]
    assert "script" not in names and "link" not in names
    assert names.count("svg") == 1 and names.count("circle") == 5 and "polyline" in names
    text = " ".join(parsed.text)
    assert "recall@5 = 0.500" in text
    assert text.index("Do you sell helmets?") < text.index("How do I return a bike?") < text.index("Where is my order?")
    assert "nothing retrieved" in text and f"{KB}refunds" in text


ONE_ROW = '{"request": "q", "expected_retrieved_context": [{"doc_uri": "a"}]}\n'


@pytest.mark.parametrize(
    ("ground_truth", "args", "message"),
    [
        (ONE_ROW + '{"request": oops}\n', (), "gt.jsonl:2: not valid JSON"),
        (ONE_ROW + '\n{"request": "r"}\n', (), "gt.jsonl:3: no expected_retrieved_context"),
        (ONE_ROW, ("--fail-under", "f1@3=0.5"), "--fail-under 'f1@3=0.5': unknown metric 'f1@3'"),
        (ONE_ROW, ("--fail-under", "recall@5"), "--fail-under 'recall@5': expected METRIC=VALUE"),
        (ONE_ROW, ("--fail-under", "mrr=nan"), "--fail-under 'mrr=nan': VALUE must be a number from 0 to 1"),
        (ONE_ROW, ("--k", "0,3"), "--k '0,3'"),
        (ONE_ROW, ("--k", "1,3,30000000"), "--k '1,3,30000000': '30000000' is not a whole number from 1 to 10000"),
    ],
)
def test_bad_input_exits_2_naming_file_and_line(trace_file: Path, tmp_path: Path, ground_truth: str, args: tuple[str, ...], message: str) -> None:
    ask_all(["Where is my order?"])
    tracing.force_flush()
    truth = tmp_path / "gt.jsonl"
    truth.write_text(ground_truth)

    completed = agent_tracing("evaluate", trace_file, "--ground-truth", truth, *args)

    assert completed.returncode == 2
    assert completed.stderr.startswith("agent-tracing evaluate: error: ")
    assert message in completed.stderr
    assert len(completed.stderr.strip().splitlines()) == 1


def test_an_unreadable_trace_file_exits_2(tmp_path: Path) -> None:
    truth = tmp_path / "gt.jsonl"
    truth.write_text('{"request": "q", "expected_retrieved_context": [{"doc_uri": "a"}]}\n')
    completed = agent_tracing("evaluate", tmp_path / "missing.jsonl", "--ground-truth", truth)
    assert completed.returncode == 2
    assert f"{tmp_path / 'missing.jsonl'}: cannot open" in completed.stderr


def test_the_rag_example_scores_against_its_ground_truth(tmp_path: Path) -> None:
    trace_file, out = tmp_path / "rag.jsonl", tmp_path / "eval.json"
    example = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "rag_agent.py")],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, env={**os.environ, "AGENT_TRACING_EXPORTERS": f"file://{trace_file}"},
    )
    assert example.returncode == 0, example.stderr

    completed = agent_tracing("evaluate", trace_file, "--ground-truth", ROOT / "exporters" / "demo" / "data" / "ground_truth.jsonl", "-o", out)

    assert completed.returncode == 0, completed.stderr
    report = json.loads(out.read_text())
    assert report["counts"] == {"scored_rows": 10, "unmatched_rows": 0, "ground_truth_rows": 10, "unmatched_ground_truth": 0,
                                "rows_without_uri": 0, "documents_without_uri": 0}
    assert report["aggregate"]["hit_rate@5"] == 1.0
