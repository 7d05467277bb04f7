"""`retrievals` and `evaluate` on spans written by OpenInference's real LangChain and LlamaIndex instrumentors.

The retrievers run in the instrumentors' cached environment (tests/evaluation/framework_retrievers.py); the trace
file they leave is read here by the real `agent-tracing` command.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.evaluation.helpers import agent_tracing
from tests.servers.instrumentors import run_script

pytestmark = [pytest.mark.servers, pytest.mark.slow]

SCRIPT = Path(__file__).with_name("framework_retrievers.py")
KB = "https://kb.example/"
GROUND_TRUTH = [
    {"request": "returns policy", "expected_retrieved_context": [{"doc_uri": KB + "returns"}]},
    {"request": "shipping times", "expected_retrieved_context": [{"doc_uri": KB + "shipping"}]},
    {"request": "payment methods", "expected_retrieved_context": [{"doc_uri": "/kb/payment.md"}]},
    {"request": "opening hours", "expected_retrieved_context": [{"doc_uri": "/kb/hours.md"}, {"doc_uri": "/kb/holidays.md"}]},
]


@pytest.fixture(scope="module")
def traced(instrumentors_python: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The trace file the frameworks' retrievers left, and a ground truth for their four questions."""
    folder = tmp_path_factory.mktemp("instrumentors")
    trace_file = folder / "traces.jsonl"
    asked = run_script(SCRIPT.read_text(), env={"TRACE_FILE": str(trace_file)})
    assert asked == {"answers": {"returns policy": "returns policy", "shipping times": "shipping times"}, "notes": 2,
                     "shelf": {"payment methods": 2, "opening hours": 3}}
    truth = folder / "gt.jsonl"
    truth.write_text("".join(json.dumps(row) + "\n" for row in GROUND_TRUTH))
    return trace_file, truth


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_retrievals_reads_langchain_and_llamaindex_spans(traced: tuple[Path, Path], tmp_path: Path) -> None:
    trace_file, _ = traced
    out = tmp_path / "rows.jsonl"

    completed = agent_tracing("retrievals", trace_file, "-o", out)

    assert completed.returncode == 0, completed.stderr
    assert "wrote 7 retriever spans" in completed.stderr
    assert "warning: 1 of 7 retriever spans have documents but no document URI" in completed.stderr
    assert "NotesRetriever 1" in completed.stderr
    rows = _rows(out)
    by_retriever: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_retriever.setdefault(row["retriever"], []).append(row)
    assert {name: len(found) for name, found in by_retriever.items()} == {
        "VectorStoreRetriever": 2, "NotesRetriever": 1, "Shelf.retrieve": 2, "Shelf._retrieve": 2,
    }
    # LangChain: the chain's input is the request, the retriever's the query; the URI is metadata.source, which stays
    returns, shipping = by_retriever["VectorStoreRetriever"]
    assert (returns["request"], returns["query"]) == ("returns policy", "returns policy")
    assert [d["rank"] for d in returns["documents"]] == [1, 2]
    assert returns["documents"][0] == {"rank": 1, "id": None, "doc_uri": KB + "returns", "score": None, "content": "returns policy",
                                       "metadata": {"source": KB + "returns"}}
    assert shipping["documents"][0]["doc_uri"] == KB + "shipping"
    assert all(d["doc_uri"].startswith(KB) for row in (returns, shipping) for d in row["documents"])
    (notes,) = by_retriever["NotesRetriever"]
    assert [(d["doc_uri"], d["metadata"]) for d in notes["documents"]] == [(None, {"page": 3}), (None, {})]
    # LlamaIndex: ids, scores and file_path; the inner _retrieve span's query comes out of its query_bundle argument
    payment, hours = sorted(by_retriever["Shelf.retrieve"], key=lambda row: row["query"])[::-1]
    assert payment["request"] == payment["query"] == "payment methods"
    assert [(d["id"], d["doc_uri"], d["score"]) for d in payment["documents"]] == [
        ("shipping-node", "/kb/shipping.md", 0.9), ("payment-node", "/kb/payment.md", 0.8),
    ]
    assert payment["documents"][1]["metadata"] == {"file_path": "/kb/payment.md", "file_name": "payment.md"}
    assert [d["doc_uri"] for d in hours["documents"]] == ["/kb/hours.md", "/kb/returns.md", "/kb/shipping.md"]
    assert sorted(row["query"] for row in by_retriever["Shelf._retrieve"]) == ["opening hours", "payment methods"]
    assert all(row["documents"] == [] for row in by_retriever["Shelf._retrieve"])

    top = tmp_path / "top.jsonl"
    assert agent_tracing("retrievals", trace_file, "-o", top, "--top-level-only").returncode == 0
    assert sorted(row["retriever"] for row in _rows(top)) == ["NotesRetriever", "Shelf.retrieve", "Shelf.retrieve",
                                                               "VectorStoreRetriever", "VectorStoreRetriever"]


def test_evaluate_breaks_results_down_by_retriever(traced: tuple[Path, Path], tmp_path: Path) -> None:
    trace_file, truth = traced
    out = tmp_path / "eval.json"
    html = tmp_path / "eval.html"

    completed = agent_tracing("evaluate", trace_file, "--ground-truth", truth, "--k", "1,3", "-o", out, "--html", html)

    assert completed.returncode == 0, completed.stderr
    report = json.loads(out.read_text())
    assert report["counts"] == {"scored_rows": 7, "unmatched_rows": 0, "ground_truth_rows": 4, "unmatched_ground_truth": 0,
                                "rows_without_uri": 1, "documents_without_uri": 2}
    # MRR: VectorStoreRetriever 1 and 1, NotesRetriever 0, Shelf.retrieve 1/2 and 1, Shelf._retrieve 0 and 0
    assert report["aggregate"]["mrr"] == pytest.approx(3.5 / 7)
    retrievers = report["retrievers"]
    assert list(retrievers) == ["NotesRetriever", "Shelf._retrieve", "Shelf.retrieve", "VectorStoreRetriever"]
    assert retrievers["VectorStoreRetriever"]["aggregate"] == pytest.approx({
        "precision@1": 1.0, "precision@3": 0.5, "recall@1": 1.0, "recall@3": 1.0, "hit_rate@1": 1.0, "hit_rate@3": 1.0,
        "mrr": 1.0, "ndcg@1": 1.0, "ndcg@3": 1.0,
    })
    shelf = retrievers["Shelf.retrieve"]["aggregate"]
    assert (shelf["recall@1"], shelf["recall@3"], shelf["hit_rate@3"], shelf["mrr"]) == pytest.approx((0.25, 0.75, 1.0, 0.75))
    assert retrievers["NotesRetriever"]["counts"]["rows_without_uri"] == 1
    assert retrievers["NotesRetriever"]["aggregate"]["mrr"] == 0.0
    assert retrievers["Shelf._retrieve"]["counts"] == {"scored_rows": 2, "unmatched_rows": 0, "ground_truth_rows": 4, "unmatched_ground_truth": 2,
                                                       "rows_without_uri": 0, "documents_without_uri": 0}
    assert "warning: 1 of 7 scored retriever rows have documents but no document URI" in completed.stderr
    assert "NotesRetriever 1" in completed.stderr
    cells = [[cell.strip() for cell in line.strip("│ ").split("│")] for line in completed.stdout.splitlines() if line.startswith("│")]
    table = {line[0]: line[1:] for line in cells if len(line) == 9}
    assert table["VectorStoreRetriever"] == ["2", "0", "0", "0.500", "1.000", "1.000", "1.000", "1.000"]
    assert table["NotesRetriever"][:3] == ["1", "0", "1"] and table["Shelf.retrieve"][-2] == "0.750"
    assert "scored rows without any document URI: 1 (documents without a URI: 2)" in completed.stdout
    page = html.read_text()
    assert "<td>Shelf.retrieve</td><td class=n>2</td><td class=n>0</td><td class=n>0</td>" in page
    assert "1 scored rows had documents but no document URI" in page


def test_retriever_option_selects_and_names_what_it_found(traced: tuple[Path, Path], tmp_path: Path) -> None:
    trace_file, truth = traced
    out = tmp_path / "eval.json"

    chosen = agent_tracing("evaluate", trace_file, "--ground-truth", truth, "--retriever", "Shelf.retrieve", "--retriever", "VectorStoreRetriever",
                           "-o", out, "--fail-under", "mrr=0.85")
    one = agent_tracing("evaluate", trace_file, "--ground-truth", truth, "--retriever", "NotesRetriever", "--fail-under", "mrr=0.1")
    unknown = agent_tracing("evaluate", trace_file, "--ground-truth", truth, "--retriever", "BM25Retriever", "-o", tmp_path / "none.json")

    assert chosen.returncode == 0, chosen.stderr
    report = json.loads(out.read_text())
    assert list(report["retrievers"]) == ["Shelf.retrieve", "VectorStoreRetriever"]
    assert report["counts"]["scored_rows"] == 4 and report["counts"]["unmatched_ground_truth"] == 0
    assert report["aggregate"]["mrr"] == pytest.approx(3.5 / 4)
    assert "warning" not in chosen.stderr
    assert one.returncode == 1 and "check failed: mrr = 0.000 < 0.1" in one.stderr
    assert unknown.returncode == 2 and not (tmp_path / "none.json").exists()
    assert unknown.stderr.strip() == (
        "agent-tracing evaluate: error: --retriever BM25Retriever: no such retriever in the files; "
        "found: NotesRetriever, Shelf._retrieve, Shelf.retrieve, VectorStoreRetriever"
    )
