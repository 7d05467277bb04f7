"""Retrieval metrics against hand-computed values, and the ground-truth readers."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from exporters.evaluation import GroundTruthError, evaluate, load_ground_truth, retrieval_metrics

LOG3 = math.log2(3)


def test_ranked_list_with_misses() -> None:
    metrics = retrieval_metrics(["a", "x", "b", "y"], ["a", "b", "c"], (1, 3, 5))
    ideal3 = 1 + 1 / LOG3 + 1 / 2
    assert metrics == pytest.approx({
        "precision@1": 1.0, "precision@3": 2 / 3, "precision@5": 2 / 4,
        "recall@1": 1 / 3, "recall@3": 2 / 3, "recall@5": 2 / 3,
        "hit_rate@1": 1.0, "hit_rate@3": 1.0, "hit_rate@5": 1.0,
        "mrr": 1.0,
        "ndcg@1": 1.0, "ndcg@3": 1.5 / ideal3, "ndcg@5": 1.5 / ideal3,
    })
    assert list(metrics) == [f"{m}@{k}" for m in ("precision", "recall", "hit_rate") for k in (1, 3, 5)] + ["mrr", "ndcg@1", "ndcg@3", "ndcg@5"]


def test_a_duplicate_counts_once_and_takes_its_rank() -> None:
    metrics = retrieval_metrics(["x", "a", "a", "b"], ["a", "b"], (3, 4))
    assert metrics["precision@3"] == pytest.approx(1 / 3)
    assert metrics["recall@3"] == pytest.approx(1 / 2)
    assert metrics["precision@4"] == pytest.approx(2 / 4)
    assert metrics["recall@4"] == 1.0
    assert metrics["mrr"] == 0.5
    assert metrics["ndcg@3"] == pytest.approx((1 / LOG3) / (1 + 1 / LOG3))
    assert metrics["ndcg@4"] == pytest.approx((1 / LOG3 + 1 / math.log2(5)) / (1 + 1 / LOG3))
    assert retrieval_metrics(["a", "a", "a"], ["a"], (3,))["precision@3"] == pytest.approx(1 / 3)


def test_empty_retrieval_scores_zero() -> None:
    assert set(retrieval_metrics([], ["a"], (1, 5)).values()) == {0.0}


def test_k_larger_than_the_list() -> None:
    metrics = retrieval_metrics(["a"], ["a", "b"], (10,))
    assert metrics["precision@10"] == 1.0
    assert metrics["recall@10"] == 0.5
    assert metrics["hit_rate@10"] == 1.0
    assert metrics["ndcg@10"] == pytest.approx(1 / (1 + 1 / LOG3))


def test_a_document_without_doc_uri_is_a_miss_at_its_rank() -> None:
    metrics = retrieval_metrics([None, "a"], ["a"], (1, 2))
    assert (metrics["precision@1"], metrics["precision@2"], metrics["mrr"]) == (0.0, 0.5, 0.5)


def test_rows_are_averaged_and_unmatched_counted_on_both_sides(tmp_path: Path) -> None:
    truth_path = tmp_path / "gt.jsonl"
    truth_path.write_text(
        '{"request": "Q one", "expected_retrieved_context": [{"doc_uri": "a"}]}\n'
        '{"request": {"input": [{"role": "user", "content": "q  TWO"}]}, "expected_retrieved_context": [{"doc_uri": "b"}, {"doc_uri": "c"}]}\n'
        '{"request": "never asked", "expected_retrieved_context": [{"doc_uri": "z"}]}\n'
    )
    rows = [
        {"trace_id": "1" * 32, "request": "q one", "documents": [{"doc_uri": "a"}, {"doc_uri": "b"}]},
        {"trace_id": "2" * 32, "request": "Q two", "documents": [{"doc_uri": "c"}]},
        {"trace_id": "3" * 32, "request": "not in the ground truth", "documents": [{"doc_uri": "a"}]},
    ]
    result = evaluate(rows, load_ground_truth(truth_path), ks=(1, 2))
    assert result.counts() == {"scored_rows": 2, "unmatched_rows": 1, "ground_truth_rows": 3, "unmatched_ground_truth": 1,
                               "rows_without_uri": 0, "documents_without_uri": 0}
    assert result.aggregate["precision@1"] == 1.0
    assert result.aggregate["precision@2"] == pytest.approx((1 / 2 + 1) / 2)
    assert result.aggregate["recall@1"] == pytest.approx((1 + 1 / 2) / 2)
    assert result.aggregate["mrr"] == 1.0
    assert result.recall_curve == pytest.approx([0.75, 0.75])
    assert [row["request"] for row in result.worst] == ["Q two", "q one"]


def test_no_matched_row_leaves_the_aggregate_empty(tmp_path: Path) -> None:
    truth_path = tmp_path / "gt.jsonl"
    truth_path.write_text('{"request": "q", "expected_retrieved_context": [{"doc_uri": "a"}]}\n')
    result = evaluate([], load_ground_truth(truth_path), ks=(1,))
    assert set(result.aggregate.values()) == {None}
    assert result.counts()["unmatched_ground_truth"] == 1


def test_csv_ground_truth_groups_doc_uris_by_request(tmp_path: Path) -> None:
    truth_path = tmp_path / "gt.csv"
    truth_path.write_text('request,doc_uri\n"Q one",a\nq   one,b\nQ two,c\n')
    truth = load_ground_truth(truth_path)
    assert [(e.line, e.request, e.doc_uris) for e in truth.entries] == [(2, "Q one", ("a", "b")), (4, "Q two", ("c",))]


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ('{"request": "q", "expected_retrieved_context": [{"doc_uri": "a"}]}\n{"request": "r", ', 2, "not valid JSON"),
        ('\n{"request": "q"}\n', 2, "no expected_retrieved_context"),
        ('{"request": "q", "expected_retrieved_context": []}\n', 1, "non-empty list"),
        ('{"request": "q", "expected_retrieved_context": [{"uri": "a"}]}\n', 1, "expected_retrieved_context[0] has no doc_uri"),
        ('{"expected_retrieved_context": [{"doc_uri": "a"}]}\n', 1, "needs a request or a trace_id"),
        ('{"request": "Q", "expected_retrieved_context": ["a"]}\n{"request": " q ", "expected_retrieved_context": ["b"]}\n', 2, "the same request as line 1"),
    ],
)
def test_bad_ground_truth_names_file_and_line(tmp_path: Path, text: str, line: int, reason: str) -> None:
    truth_path = tmp_path / "gt.jsonl"
    truth_path.write_text(text)
    with pytest.raises(GroundTruthError, match=f"^{truth_path}:{line}: ") as raised:
        load_ground_truth(truth_path)
    assert reason in str(raised.value)


def test_bad_csv_ground_truth(tmp_path: Path) -> None:
    truth_path = tmp_path / "gt.csv"
    truth_path.write_text("question,uri\nq,a\n")
    with pytest.raises(GroundTruthError, match=f"^{truth_path}:1: .*request,doc_uri"):
        load_ground_truth(truth_path)
    truth_path.write_text("request,doc_uri\nq,a\nr,\n")
    with pytest.raises(GroundTruthError, match=f"^{truth_path}:3: no doc_uri"):
        load_ground_truth(truth_path)
