"""Retrieval metrics by doc_uri against a ground-truth evaluation set: precision@k, recall@k, hit_rate@k, MRR, nDCG@k."""

from __future__ import annotations

import heapq
import json
import math
import os
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exporters.evaluation.ground_truth import GroundTruth

DEFAULT_KS = (1, 3, 5, 10)
AT_K = ("precision", "recall", "hit_rate")
"""Metrics cut at k listed before MRR; nDCG@k comes after it (SPEC 6 order)."""
WORST_SHOWN = 10
MAX_K = 10_000
"""Largest cut-off accepted: far beyond the documents one span holds, and memory stays proportional to the rankings read."""


def metric_names(ks: Sequence[int]) -> list[str]:
    """The aggregate metric names for these cut-offs, in SPEC 6 order."""
    return [f"{metric}@{k}" for metric in AT_K for k in ks] + ["mrr"] + [f"ndcg@{k}" for k in ks]


def parse_ks(text: str) -> tuple[int, ...]:
    """Cut-offs from '1,3,5,10': whole numbers from 1 to MAX_K, sorted, without repeats."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts:
        raise ValueError(f"--k {text!r}: expected whole numbers from 1 to {MAX_K} separated by commas")
    for part in parts:
        if not part.isdecimal() or not 1 <= int(part) <= MAX_K:
            raise ValueError(f"--k {text!r}: {part!r} is not a whole number from 1 to {MAX_K}")
    return tuple(sorted({int(part) for part in parts}))


def parse_threshold(text: str, ks: Sequence[int]) -> tuple[str, float]:
    """A `METRIC=VALUE` check such as recall@5=0.8: a metric of metric_names (any k up to MAX_K) and a VALUE from 0 to 1."""
    name, sep, value = text.partition("=")
    name = name.strip().lower()
    if not sep:
        raise ValueError(f"--fail-under {text!r}: expected METRIC=VALUE, such as recall@5=0.8")
    metric, _, k = name.partition("@")
    known = metric == "mrr" and not k or metric in (*AT_K, "ndcg") and k.isdecimal() and 1 <= int(k) <= MAX_K
    if not known:
        raise ValueError(f"--fail-under {text!r}: unknown metric {name!r}; use one of {', '.join(metric_names(ks))} (k from 1 to {MAX_K})")
    try:
        threshold = float(value)
    except ValueError:
        threshold = math.nan
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"--fail-under {text!r}: VALUE must be a number from 0 to 1")
    return name, threshold


def retrieval_metrics(retrieved: Sequence[str | None], expected: Collection[str], ks: Sequence[int]) -> dict[str, float]:
    """Metrics of one ranked list of doc_uris against the expected ones; a repeated doc_uri counts only at its first rank."""
    relevant = set(expected)
    seen: set[str] = set()
    gains = []
    for uri in retrieved:
        gains.append(1 if uri is not None and uri in relevant and uri not in seen else 0)
        if uri is not None:
            seen.add(uri)
    metrics: dict[str, float] = {}
    hits = {k: sum(gains[:k]) for k in ks}
    for k in ks:
        metrics[f"precision@{k}"] = hits[k] / min(k, len(gains)) if gains else 0.0
    for k in ks:
        metrics[f"recall@{k}"] = hits[k] / len(relevant)
    for k in ks:
        metrics[f"hit_rate@{k}"] = 1.0 if hits[k] else 0.0
    first = next((rank for rank, gain in enumerate(gains, start=1) if gain), None)
    metrics["mrr"] = 1.0 / first if first else 0.0
    for k in ks:
        dcg = sum(gain / math.log2(rank + 1) for rank, gain in enumerate(gains[:k], start=1))
        ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(k, len(relevant)) + 1))
        metrics[f"ndcg@{k}"] = dcg / ideal
    return metrics


def _recall_steps(retrieved: Sequence[str | None], relevant: Collection[str], depth: int) -> Iterator[int]:
    """The 0-based ranks (below depth) at which a not yet found relevant doc_uri appears: recall grows by 1/|E| there."""
    found: set[str] = set()
    for rank, uri in enumerate(retrieved[:depth]):
        if uri is not None and uri in relevant and uri not in found:
            found.add(uri)
            yield rank


@dataclass
class Tally:
    """What a group of scored rows (all of them, or one retriever's) adds up to."""

    scored: int = 0
    unmatched_rows: int = 0
    rows_without_uri: int = 0
    documents_without_uri: int = 0
    sums: dict[str, float] = field(default_factory=dict)
    matched: set[int] = field(default_factory=set)

    def add(self, index: int, metrics: dict[str, float], retrieved: Sequence[str | None]) -> None:
        """Count one row scored against ground-truth entry `index`."""
        self.scored += 1
        self.matched.add(index)
        missing = retrieved.count(None)
        self.documents_without_uri += missing
        self.rows_without_uri += int(bool(retrieved) and missing == len(retrieved))
        for name, value in metrics.items():
            self.sums[name] = self.sums.get(name, 0.0) + value

    def aggregate(self, ks: Sequence[int]) -> dict[str, float | None]:
        """The mean of each metric over the scored rows (None when no row matched)."""
        return {name: (self.sums.get(name, 0.0) / self.scored if self.scored else None) for name in metric_names(ks)}

    def counts(self, ground_truth_rows: int) -> dict[str, int]:
        """Rows scored, rows without ground truth, ground-truth rows without a retrieval, rows and documents without a URI."""
        return {
            "scored_rows": self.scored,
            "unmatched_rows": self.unmatched_rows,
            "ground_truth_rows": ground_truth_rows,
            "unmatched_ground_truth": ground_truth_rows - len(self.matched),
            "rows_without_uri": self.rows_without_uri,
            "documents_without_uri": self.documents_without_uri,
        }


@dataclass
class Evaluation:
    """Averaged metrics and counts, overall and by retriever, the recall@k curve and the worst rows of an evaluation."""

    ks: tuple[int, ...]
    ground_truth_path: str
    ground_truth_rows: int = 0
    overall: Tally = field(default_factory=Tally)
    retrievers: dict[str, Tally] = field(default_factory=dict)
    """Tallies by retriever name (at most MAX_RETRIEVERS names, the rest under OTHER_RETRIEVERS), of the rows evaluated."""
    found: dict[str, int] = field(default_factory=dict)
    """Rows by retriever name read from the files, evaluated or not (at most MAX_RETRIEVERS names)."""
    recall_steps: list[float] = field(default_factory=list)
    worst: list[dict[str, Any]] = field(default_factory=list)

    @property
    def scored(self) -> int:
        """Rows scored."""
        return self.overall.scored

    @property
    def aggregate(self) -> dict[str, float | None]:
        """The mean of each metric over the scored rows (None when no row matched)."""
        return self.overall.aggregate(self.ks)

    @property
    def recall_curve(self) -> list[float | None]:
        """Mean recall@k for k = 1 .. max(ks)."""
        if not self.scored:
            return [None] * max(self.ks)
        curve: list[float | None] = []
        total = 0.0
        for rank in range(max(self.ks)):
            total += self.recall_steps[rank] if rank < len(self.recall_steps) else 0.0
            curve.append(total / self.scored)
        return curve

    def counts(self) -> dict[str, int]:
        """Rows scored, retrieval rows without ground truth, ground-truth rows without a retrieval, rows and documents without a URI."""
        return self.overall.counts(self.ground_truth_rows)

    def by_retriever(self) -> dict[str, dict[str, Any]]:
        """Each retriever's {"aggregate", "counts"}, by name."""
        return {name: {"aggregate": tally.aggregate(self.ks), "counts": tally.counts(self.ground_truth_rows)}
                for name, tally in sorted(self.retrievers.items())}


MAX_RETRIEVERS = 1_000
"""Retriever names tallied apart; rows of further names count under OTHER_RETRIEVERS (memory stays bounded)."""
OTHER_RETRIEVERS = "(other retrievers)"


def evaluate(
    rows: Iterable[dict[str, Any]],
    ground_truth: GroundTruth,
    ks: Sequence[int] = DEFAULT_KS,
    *,
    retrievers: Collection[str] = (),
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> Evaluation:
    """Score every retrieval row that matches the ground truth, overall and by retriever; each scored row goes to on_row,
    only sums and the worst rows are kept. `retrievers`: only rows of these retriever names are evaluated (all when empty)."""
    ks = tuple(sorted(set(ks)))
    depth = max(ks)
    wanted = set(retrievers)
    result = Evaluation(ks=ks, ground_truth_path=ground_truth.path, ground_truth_rows=len(ground_truth.entries))
    worst: list[tuple[tuple[float, float, float], int, dict[str, Any]]] = []
    for row in rows:
        name = str(row.get("retriever"))
        if name in result.found or len(result.found) < MAX_RETRIEVERS or name in wanted:
            result.found[name] = result.found.get(name, 0) + 1
        if wanted and name not in wanted:
            continue
        tally = _tally(result, name)
        index = ground_truth.match(row)
        if index is None:
            result.overall.unmatched_rows += 1
            tally.unmatched_rows += 1
            continue
        expectation = ground_truth.entries[index]
        retrieved = [_uri(document) for document in row.get("documents") or ()]
        metrics = retrieval_metrics(retrieved, expectation.doc_uris, ks)
        result.overall.add(index, metrics, retrieved)
        tally.add(index, metrics, retrieved)
        for rank in _recall_steps(retrieved, expectation.doc_uris, depth):
            if rank >= len(result.recall_steps):
                result.recall_steps.extend([0.0] * (rank + 1 - len(result.recall_steps)))
            result.recall_steps[rank] += 1.0 / len(expectation.doc_uris)
        scored = {
            "trace_id": row.get("trace_id"),
            "span_id": row.get("span_id"),
            "retriever": row.get("retriever"),
            "request": row.get("request"),
            "ground_truth_line": expectation.line,
            "retrieved": retrieved,
            "expected": list(expectation.doc_uris),
            "metrics": metrics,
        }
        if on_row is not None:
            on_row(scored)
        badness = (-metrics[f"recall@{depth}"], -metrics["mrr"], -metrics[f"ndcg@{depth}"])
        entry = (badness, -result.scored, scored)
        if len(worst) < WORST_SHOWN:
            heapq.heappush(worst, entry)
        else:
            heapq.heappushpop(worst, entry)
    result.worst = [entry[2] for entry in sorted(worst, reverse=True)]
    return result


def _tally(result: Evaluation, name: str) -> Tally:
    """The retriever's tally, made on its first row; past MAX_RETRIEVERS names, the shared OTHER_RETRIEVERS one."""
    tally = result.retrievers.get(name)
    if tally is None:
        if len(result.retrievers) >= MAX_RETRIEVERS:
            name = OTHER_RETRIEVERS
        tally = result.retrievers.setdefault(name, Tally())
    return tally


def _uri(document: Any) -> str | None:
    """A document's doc_uri when it is text; anything else is a miss."""
    uri = document.get("doc_uri") if isinstance(document, dict) else None
    return uri if isinstance(uri, str) else None


def write_json(evaluation: Evaluation, path: str | os.PathLike[str], rows: Iterable[str]) -> None:
    """Write {"aggregate", "k", "counts", "retrievers", "rows"} (SPEC 6) with rows given as JSON texts, so they need not all be in memory."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    head = {"aggregate": evaluation.aggregate, "k": list(evaluation.ks), "counts": evaluation.counts(),
            "retrievers": evaluation.by_retriever()}
    with target.open("w", encoding="utf-8") as out:
        out.write(json.dumps(head, ensure_ascii=False)[:-1] + ', "rows": [')
        for number, text in enumerate(rows):
            out.write(("," if number else "") + "\n" + text.rstrip("\n"))
        out.write("\n]}\n")
