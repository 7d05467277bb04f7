"""Retrieval metrics by doc_uri against a ground-truth evaluation set: precision@k, recall@k, hit_rate@k, MRR, nDCG@k."""

from __future__ import annotations

import csv
import heapq
import json
import math
import os
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exporters._reader import TraceFileError
from exporters._retrievals import normalise, request_text

DEFAULT_KS = (1, 3, 5, 10)
AT_K = ("precision", "recall", "hit_rate")
"""Metrics cut at k listed before MRR; nDCG@k comes after it (SPEC 6 order)."""
WORST_SHOWN = 10


class GroundTruthError(TraceFileError):
    """An unreadable ground-truth file or row; the message names the file and line."""


@dataclass(frozen=True)
class Expectation:
    """One ground-truth row: how it is matched (trace id or request text) and the doc_uris it expects."""

    line: int
    trace_id: str | None
    request: str | None
    doc_uris: tuple[str, ...]


@dataclass
class GroundTruth:
    """A ground-truth file, indexed by trace id and by normalised request text."""

    path: str
    entries: list[Expectation]
    by_trace: dict[str, int] = field(default_factory=dict)
    by_request: dict[str, int] = field(default_factory=dict)

    def match(self, row: dict[str, Any]) -> int | None:
        """The index of the entry a retrieval row matches: by trace_id, else by request text; None if none."""
        found = self.by_trace.get(str(row.get("trace_id", "")).lower())
        if found is None and isinstance(row.get("request"), str):
            found = self.by_request.get(normalise(row["request"]))
        return found


def metric_names(ks: Sequence[int]) -> list[str]:
    """The aggregate metric names for these cut-offs, in SPEC 6 order."""
    return [f"{metric}@{k}" for metric in AT_K for k in ks] + ["mrr"] + [f"ndcg@{k}" for k in ks]


def parse_ks(text: str) -> tuple[int, ...]:
    """Cut-offs from '1,3,5,10': positive integers, sorted, without repeats."""
    try:
        ks = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise ValueError(f"--k {text!r}: expected positive integers separated by commas") from None
    if not ks or ks[0] < 1:
        raise ValueError(f"--k {text!r}: expected positive integers separated by commas")
    return tuple(ks)


def parse_threshold(text: str, ks: Sequence[int]) -> tuple[str, float]:
    """A `METRIC=VALUE` check such as recall@5=0.8; the metric must be one of metric_names (any k)."""
    name, sep, value = text.partition("=")
    name = name.strip().lower()
    metric, _, k = name.partition("@")
    known = metric == "mrr" and not k or metric in (*AT_K, "ndcg") and k.isdigit() and int(k) > 0
    if not sep or not known:
        raise ValueError(f"--fail-under {text!r}: unknown metric {name!r}; use one of {', '.join(metric_names(ks))} (any k)")
    try:
        threshold = float(value)
    except ValueError:
        raise ValueError(f"--fail-under {text!r}: {value!r} is not a number") from None
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


def _recall_curve(retrieved: Sequence[str | None], relevant: Collection[str], depth: int) -> list[float]:
    """recall@1 .. recall@depth of one list, duplicates counted once."""
    found: set[str] = set()
    curve = []
    for rank in range(depth):
        uri = retrieved[rank] if rank < len(retrieved) else None
        if uri is not None and uri in relevant:
            found.add(uri)
        curve.append(len(found) / len(relevant))
    return curve


@dataclass
class Evaluation:
    """Averaged metrics, match counts, the recall@k curve and the worst rows of an evaluation."""

    ks: tuple[int, ...]
    ground_truth_path: str
    scored: int = 0
    unmatched_rows: int = 0
    ground_truth_rows: int = 0
    unmatched_ground_truth: int = 0
    sums: dict[str, float] = field(default_factory=dict)
    recall_sums: list[float] = field(default_factory=list)
    worst: list[dict[str, Any]] = field(default_factory=list)

    @property
    def aggregate(self) -> dict[str, float | None]:
        """The mean of each metric over the scored rows (None when no row matched)."""
        return {name: (self.sums.get(name, 0.0) / self.scored if self.scored else None) for name in metric_names(self.ks)}

    @property
    def recall_curve(self) -> list[float | None]:
        """Mean recall@k for k = 1 .. max(ks)."""
        return [(total / self.scored if self.scored else None) for total in self.recall_sums]

    def counts(self) -> dict[str, int]:
        """Rows scored, retrieval rows without ground truth, ground-truth rows without a retrieval."""
        return {
            "scored_rows": self.scored,
            "unmatched_rows": self.unmatched_rows,
            "ground_truth_rows": self.ground_truth_rows,
            "unmatched_ground_truth": self.unmatched_ground_truth,
        }


def evaluate(
    rows: Iterable[dict[str, Any]],
    ground_truth: GroundTruth,
    ks: Sequence[int] = DEFAULT_KS,
    *,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> Evaluation:
    """Score every retrieval row that matches the ground truth; each scored row goes to on_row, only sums and the worst rows are kept."""
    ks = tuple(sorted(set(ks)))
    depth = max(ks)
    result = Evaluation(ks=ks, ground_truth_path=ground_truth.path, ground_truth_rows=len(ground_truth.entries), recall_sums=[0.0] * depth)
    matched: set[int] = set()
    worst: list[tuple[tuple[float, float, float], int, dict[str, Any]]] = []
    for row in rows:
        index = ground_truth.match(row)
        if index is None:
            result.unmatched_rows += 1
            continue
        matched.add(index)
        expectation = ground_truth.entries[index]
        retrieved = [document.get("doc_uri") for document in row.get("documents") or ()]
        metrics = retrieval_metrics(retrieved, expectation.doc_uris, ks)
        for name, value in metrics.items():
            result.sums[name] = result.sums.get(name, 0.0) + value
        for rank, value in enumerate(_recall_curve(retrieved, expectation.doc_uris, depth)):
            result.recall_sums[rank] += value
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
        result.scored += 1
        if on_row is not None:
            on_row(scored)
        badness = (-metrics[f"recall@{depth}"], -metrics["mrr"], -metrics[f"ndcg@{depth}"])
        entry = (badness, -result.scored, scored)
        if len(worst) < WORST_SHOWN:
            heapq.heappush(worst, entry)
        else:
            heapq.heappushpop(worst, entry)
    result.unmatched_ground_truth = len(ground_truth.entries) - len(matched)
    result.worst = [entry[2] for entry in sorted(worst, reverse=True)]
    return result


def write_json(evaluation: Evaluation, path: str | os.PathLike[str], rows: Iterable[str]) -> None:
    """Write {"aggregate", "k", "counts", "rows"} (SPEC 6) with rows given as JSON texts, so they need not all be in memory."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    head = {"aggregate": evaluation.aggregate, "k": list(evaluation.ks), "counts": evaluation.counts()}
    with target.open("w", encoding="utf-8") as out:
        out.write(json.dumps(head, ensure_ascii=False)[:-1] + ', "rows": [')
        for number, text in enumerate(rows):
            out.write(("," if number else "") + "\n" + text.rstrip("\n"))
        out.write("\n]}\n")


def load_ground_truth(path: str | os.PathLike[str]) -> GroundTruth:
    """Read ground truth: JSON Lines in the MLflow evaluation-set shape, or CSV with request,doc_uri rows (a .csv name)."""
    name = str(path)
    try:
        with open(path, encoding="utf-8", newline="") as lines:
            entries = _csv_entries(name, lines) if name.lower().endswith(".csv") else _jsonl_entries(name, lines)
    except OSError as exc:
        raise GroundTruthError(name, None, f"cannot open ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise GroundTruthError(name, None, f"not UTF-8 text ({exc.reason})") from exc
    if not entries:
        raise GroundTruthError(name, None, "no ground-truth rows")
    truth = GroundTruth(name, entries)
    for index, entry in enumerate(entries):
        if entry.trace_id is not None:
            _index(truth.by_trace, entry.trace_id, index, truth, "trace_id")
        elif entry.request is not None:
            _index(truth.by_request, normalise(entry.request), index, truth, "request")
    return truth


def _index(table: dict[str, int], key: str, index: int, truth: GroundTruth, what: str) -> None:
    if key in table:
        first = truth.entries[table[key]].line
        raise GroundTruthError(truth.path, truth.entries[index].line, f"the same {what} as line {first}")
    table[key] = index


def _jsonl_entries(path: str, lines: Iterable[str]) -> list[Expectation]:
    entries = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise GroundTruthError(path, number, f"not valid JSON ({exc})") from None
        if not isinstance(item, dict):
            raise GroundTruthError(path, number, f"expected a JSON object, got {type(item).__name__}")
        entries.append(_expectation(path, number, item))
    return entries


def _expectation(path: str, number: int, item: dict[str, Any]) -> Expectation:
    expectations = item.get("expectations") if isinstance(item.get("expectations"), dict) else {}
    context = item.get("expected_retrieved_context", expectations.get("expected_retrieved_context"))
    if context is None:
        raise GroundTruthError(path, number, "no expected_retrieved_context")
    if not isinstance(context, list) or not context:
        raise GroundTruthError(path, number, 'expected_retrieved_context must be a non-empty list of {"doc_uri": ...}')
    uris = []
    for position, document in enumerate(context):
        uri = document.get("doc_uri") if isinstance(document, dict) else document
        if not isinstance(uri, str) or not uri.strip():
            raise GroundTruthError(path, number, f"expected_retrieved_context[{position}] has no doc_uri")
        uris.append(uri)
    trace_id = item.get("trace_id")
    request = item.get("request", item.get("inputs"))
    if trace_id is None and request is None:
        raise GroundTruthError(path, number, "needs a request or a trace_id")
    if trace_id is not None and not isinstance(trace_id, str):
        raise GroundTruthError(path, number, "trace_id must be a string of 32 hex digits")
    return Expectation(number, trace_id.lower() if trace_id else None, request_text(request), tuple(dict.fromkeys(uris)))


def _csv_entries(path: str, lines: Iterable[str]) -> list[Expectation]:
    reader = csv.DictReader(lines)
    columns = set(reader.fieldnames or ())
    if "doc_uri" not in columns or not columns & {"request", "trace_id"}:
        raise GroundTruthError(path, 1, "a CSV ground truth needs the columns request,doc_uri (or trace_id,doc_uri)")
    groups: dict[tuple[str, str], tuple[int, str | None, str | None, list[str]]] = {}
    for row in reader:
        trace_id = (row.get("trace_id") or "").strip().lower() or None
        request = row.get("request") or None
        uri = (row.get("doc_uri") or "").strip()
        if not uri:
            raise GroundTruthError(path, reader.line_num, "no doc_uri")
        if trace_id is None and request is None:
            raise GroundTruthError(path, reader.line_num, "needs a request or a trace_id")
        key = ("trace", trace_id) if trace_id else ("request", normalise(request or ""))
        groups.setdefault(key, (reader.line_num, trace_id, request, []))[3].append(uri)
    return [Expectation(line, trace_id, request, tuple(dict.fromkeys(uris))) for line, trace_id, request, uris in groups.values()]
