"""Ground truth for retrieval evaluation: MLflow's evaluation-set JSON Lines, or CSV with request,doc_uri rows (SPEC 5)."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from exporters.evaluation.dataset import normalise, request_text
from exporters.tracefiles.reader import TraceFileError


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


def load_ground_truth(path: str | os.PathLike[str]) -> GroundTruth:
    """Read ground truth: JSON Lines in the MLflow evaluation-set shape, or CSV with request,doc_uri rows (a .csv name)."""
    name = str(path)
    try:
        with open(path, encoding="utf-8", newline="") as lines:
            entries = _csv_entries(name, lines) if name.lower().endswith(".csv") else _jsonl_entries(name, lines)
    except OSError as exc:
        raise GroundTruthError(name, None, f"cannot open ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise GroundTruthError(name, None, f"not UTF-8 text ({exc.reason})") from None
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
        except RecursionError:
            raise GroundTruthError(path, number, "not valid JSON (nested too deeply)") from None
        except ValueError as exc:
            raise GroundTruthError(path, number, f"not valid JSON ({exc})") from None
        if not isinstance(item, dict):
            raise GroundTruthError(path, number, f"expected a JSON object, got {type(item).__name__}")
        entries.append(_expectation(path, number, item))
    return entries


def _expectation(path: str, number: int, item: dict[str, Any]) -> Expectation:
    found = item.get("expectations")
    expectations: dict[str, Any] = found if isinstance(found, dict) else {}
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
    try:
        text = request_text(request)
    except RecursionError:
        raise GroundTruthError(path, number, "request nested too deeply") from None
    if trace_id is None and request is None:
        raise GroundTruthError(path, number, "needs a request or a trace_id")
    if trace_id is not None and not isinstance(trace_id, str):
        raise GroundTruthError(path, number, "trace_id must be a string of 32 hex digits")
    return Expectation(number, trace_id.lower() if trace_id else None, text, tuple(dict.fromkeys(uris)))


def _csv_entries(path: str, lines: Iterable[str]) -> list[Expectation]:
    reader = csv.DictReader(lines)
    try:
        return _csv_rows(path, reader)
    except csv.Error as exc:
        raise GroundTruthError(path, reader.line_num + 1, f"not readable CSV ({exc})") from None


def _csv_rows(path: str, reader: csv.DictReader[str]) -> list[Expectation]:
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
