"""Retriever spans of trace files as an evaluation data set: one row per RETRIEVER span (SPEC 5), JSON Lines or CSV."""

from __future__ import annotations

import csv
import json
import math
import os
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from exporters.tracefiles.reader import SpanRecord, read_spans
from tracing import keys

CSV_COLUMNS = (
    "trace_id", "span_id", "retriever", "request", "query", "start_time", "duration_ms", "status",
    "rank", "id", "doc_uri", "score", "content", "metadata",
)
"""Columns of the CSV form: one row per (span, document); a span without documents keeps one row with empty document columns."""

RECENT_ROOTS = 100_000
"""How many finished traces keep their request text for retriever spans that arrive after their root (other processes, other files)."""

_DOCUMENT_FIELDS = {keys.DOCUMENT_ID: "id", keys.DOCUMENT_CONTENT: "content", keys.DOCUMENT_SCORE: "score",
                    keys.DOCUMENT_METADATA: "metadata"}
_DOCUMENT_PREFIX = keys.RETRIEVAL_DOCUMENTS + "."
_DOCUMENT_KEY = re.compile(rf"^{re.escape(_DOCUMENT_PREFIX)}(\d+)\.({'|'.join(map(re.escape, _DOCUMENT_FIELDS))})$")
_QUERY_KEYS = ("query", "question", "q", "query_str", "text", "prompt")
URI_FIELDS = (keys.MLFLOW_DOC_URI, "source", "file_path", "url")
"""Metadata fields that give a document's URI, first found first: ours and MLflow's `doc_uri`, then what LangChain
(`source`) and LlamaIndex (`file_path`) loaders record, then `url`."""
_PROGRESS_EVERY = 10_000
_NOT_JSON = object()


def request_text(value: Any) -> str | None:
    """The request text of a root span input or ground-truth request: last user message, a lone string, else its JSON (SPEC 5)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        request = _agent_request(value)
        if request is not None:
            text = _last_user_message(request)
            if text is not None:
                return text
        if len(value) == 1:
            only = next(iter(value.values()))
            if isinstance(only, str):
                return only
    return _dumps(value, sort_keys=True)


def _loads(text: str) -> Any:
    """The JSON value of a text, or _NOT_JSON."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return _NOT_JSON


def _dumps(value: Any, *, sort_keys: bool = False) -> str:
    """JSON text of a value read from a trace file: non-finite numbers become null, too deep a value its repr."""
    try:
        try:
            return json.dumps(value, sort_keys=sort_keys, ensure_ascii=False, allow_nan=False)
        except ValueError:
            return json.dumps(_finite(value), sort_keys=sort_keys, ensure_ascii=False)
    except RecursionError:
        return json.dumps(repr(value)[:1000], ensure_ascii=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def normalise(text: str) -> str:
    """Text compared case- and whitespace-insensitively."""
    return " ".join(text.split()).casefold()


def _agent_request(value: dict[str, Any]) -> dict[str, Any] | None:
    """A Responses (`input`) or chat (`messages`) request, at the top or under a single argument such as `request`."""
    if isinstance(value.get("input"), (list, str)) or isinstance(value.get("messages"), list):
        return value
    if len(value) == 1:
        only = next(iter(value.values()))
        if isinstance(only, dict) and (isinstance(only.get("input"), (list, str)) or isinstance(only.get("messages"), list)):
            return only
    return None


def _last_user_message(request: dict[str, Any]) -> str | None:
    messages = request.get("input") if request.get("input") is not None else request.get("messages")
    if isinstance(messages, str):
        return messages
    for message in reversed(messages or []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                parts = [part if isinstance(part, str) else part.get("text") for part in content if isinstance(part, (str, dict))]
                return " ".join(part for part in parts if isinstance(part, str))
    return None


def _decoded(record: SpanRecord) -> Any:
    """The span's input value, JSON-decoded when it is JSON."""
    value = record.attributes.get(keys.INPUT_VALUE)
    if not isinstance(value, str) or record.attributes.get(keys.INPUT_MIME_TYPE) == keys.TEXT:
        return value
    decoded = _loads(value)
    return value if decoded is _NOT_JSON else decoded


def _query(record: SpanRecord) -> str | None:
    """The retriever's query from input.value: text as it is, a JSON object's query field or only text, other JSON as text."""
    raw = record.attributes.get(keys.INPUT_VALUE)
    value = _decoded(record)
    while isinstance(value, dict) and len(value) == 1 and isinstance(next(iter(value.values())), dict):
        value = next(iter(value.values()))  # one argument holding the query, such as LlamaIndex's {"query_bundle": {...}}
    if isinstance(value, dict):
        named = next((value[key] for key in _QUERY_KEYS if isinstance(value.get(key), str)), None)
        if named is not None:
            return named
        texts = [item for item in value.values() if isinstance(item, str)]
        if len(texts) == 1:
            return texts[0]
    if isinstance(value, str) or value is None and raw is None:
        return value
    if isinstance(raw, str) and not isinstance(value, (dict, list)):
        return raw  # a query such as "42" or "null" is text that happens to parse as JSON
    return _dumps(value)


def documents(record: SpanRecord, include_content: bool = True) -> list[dict[str, Any]]:
    """A retriever's ranked documents (rank, id, doc_uri, score, content, metadata): from retrieval.documents.N.*, and
    from output.value (MLflow's document JSON) for the tail the attribute budget cut short or when the OpenInference
    keys were not written."""
    found: dict[int, dict[str, Any]] = {}
    for key, value in record.attributes.items():
        match = _DOCUMENT_KEY.match(key) if key.startswith(_DOCUMENT_PREFIX) else None
        if match:
            found.setdefault(int(match.group(1)), {})[_DOCUMENT_FIELDS[match.group(2)]] = value
    entries = []
    for index in sorted(found):
        fields = found[index]
        metadata = _json_object(fields.get("metadata"))
        entries.append((fields.get("id"), _doc_uri(metadata), fields.get("score"), fields.get("content"), metadata))
    for item in _output_documents(record, len(entries))[len(entries):]:
        metadata = _json_object(item.get(keys.MLFLOW_DOC_METADATA))
        metadata.pop(keys.MLFLOW_CHUNK_ID, None)
        entries.append((item.get("id"), _doc_uri(metadata), None, item.get(keys.MLFLOW_PAGE_CONTENT), metadata))
    return [
        {"rank": rank, "id": identifier, "doc_uri": doc_uri, "score": score, "content": content if include_content else None, "metadata": metadata}
        for rank, (identifier, doc_uri, score, content, metadata) in enumerate(entries, start=1)
    ]


def _json_object(value: Any) -> dict[str, Any]:
    """A metadata object: a JSON object's text decoded, a mapping copied; anything else is empty."""
    decoded = _loads(value) if isinstance(value, str) else value
    return dict(decoded) if isinstance(decoded, dict) else {}


def _doc_uri(metadata: dict[str, Any]) -> str | None:
    """The first URI_FIELDS value that is non-blank text; `doc_uri` leaves the metadata, the writers' own fields stay."""
    for name in URI_FIELDS:
        value = metadata.get(name)
        if isinstance(value, str) and value.strip():
            if name == keys.MLFLOW_DOC_URI:
                del metadata[name]
            return value
    return None


def is_retriever(record: SpanRecord) -> bool:
    """Whether a span is a retriever: our span type, or the OpenInference kind whoever wrote it."""
    kind = keys.SpanType.RETRIEVER.value
    return record.span_type == kind or record.attributes.get(keys.SPAN_KIND) == kind


def without_uri(row: dict[str, Any]) -> bool:
    """Whether a retrieval row holds documents but not one document URI (it cannot score above 0)."""
    documents = row.get("documents") or []
    return bool(documents) and all(not isinstance(d, dict) or d.get("doc_uri") is None for d in documents)


def _output_documents(record: SpanRecord, known: int) -> list[dict[str, Any]]:
    """The documents of output.value when the span holds more documents than its `known` attributes."""
    count = record.attributes.get(keys.RETRIEVER_DOCUMENT_COUNT)
    value = record.attributes.get(keys.OUTPUT_VALUE)
    if not isinstance(count, int) or count <= known or not isinstance(value, str) or not value.startswith("["):
        return []
    items = _loads(value)
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _row(record: SpanRecord, include_content: bool) -> dict[str, Any]:
    started = datetime.fromtimestamp(record.start_time_unix_nano / 1e9, tz=timezone.utc)
    return {
        "trace_id": record.trace_id,
        "span_id": record.span_id,
        "retriever": str(record.attributes.get(keys.GEN_AI_DATA_SOURCE_ID) or record.name),
        "request": None,
        "query": _query(record),
        "documents": documents(record, include_content),
        "start_time": started.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "duration_ms": round(record.duration_ms, 3),
        "status": record.status_code,
    }


@dataclass
class _Pending:
    """What a trace still waiting for its root keeps: its retriever rows and, for --top-level-only, its parent links."""

    rows: list[tuple[dict[str, Any], str | None]] = field(default_factory=list)
    parents: dict[str, str | None] = field(default_factory=dict)
    retrievers: set[str] = field(default_factory=set)


def iter_retrievals(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    top_level_only: bool = False,
    include_content: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
    require_spans: bool = False,
) -> Iterator[dict[str, Any]]:
    """Yield one row per RETRIEVER span (SPEC 5) in bounded memory: a trace's rows when its root arrives, rootless traces at the end.

    `require_spans`: a file without any readable span raises TraceFileError (as the command line wants).
    """
    pending: dict[str, _Pending] = {}
    roots: OrderedDict[str, str | None] = OrderedDict()
    spans = rows = 0
    for record in read_spans(paths, require_spans=require_spans):
        spans += 1
        if on_progress is not None and spans % _PROGRESS_EVERY == 0:
            on_progress(spans, rows)
        retriever = is_retriever(record)
        trace_id = record.trace_id
        if trace_id in roots:
            if retriever:
                row = _row(record, include_content)
                row["request"] = roots[trace_id]
                rows += 1
                yield row
            continue
        if record.parent_span_id is None:
            request = request_text(_decoded(record))
            roots[trace_id] = request
            if len(roots) > RECENT_ROOTS:
                roots.popitem(last=False)
            waiting = pending.pop(trace_id, None)
            if waiting is not None:
                if retriever:
                    waiting.retrievers.add(record.span_id)  # a root retriever, as LlamaIndex's retrieve() around _retrieve()
                for row in _finished(waiting, request, top_level_only):
                    rows += 1
                    yield row
            if retriever:
                row = _row(record, include_content)
                row["request"] = request
                rows += 1
                yield row
            continue
        if not retriever and not top_level_only:
            continue
        waiting = pending.setdefault(trace_id, _Pending())
        if top_level_only:
            waiting.parents[record.span_id] = record.parent_span_id
        if retriever:
            waiting.retrievers.add(record.span_id)
            waiting.rows.append((_row(record, include_content), record.parent_span_id))
    for waiting in pending.values():
        for row in _finished(waiting, None, top_level_only):
            rows += 1
            yield row
    if on_progress is not None:
        on_progress(spans, rows)


def _finished(waiting: _Pending, request: str | None, top_level_only: bool) -> Iterator[dict[str, Any]]:
    for row, parent in sorted(waiting.rows, key=lambda item: item[0]["start_time"]):
        if top_level_only and _under_retriever(parent, waiting):
            continue
        row["request"] = request
        yield row


def _under_retriever(parent: str | None, waiting: _Pending) -> bool:
    seen: set[str] = set()
    while parent is not None and parent not in seen:
        if parent in waiting.retrievers:
            return True
        seen.add(parent)
        parent = waiting.parents.get(parent)
    return False


def write_retrievals(rows: Iterable[dict[str, Any]], path: str | os.PathLike[str]) -> int:
    """Write rows as JSON Lines, or as CSV (one line per span and document) when the path ends in .csv; return the span count.

    The file appears whole or not at all (written under a temporary name). CSV cells a spreadsheet would read as a
    formula are prefixed with `'` (OWASP's advice on CSV injection).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    count = 0
    try:
        with partial.open("w", encoding="utf-8", newline="") as out:
            if target.suffix.lower() == ".csv":
                writer = csv.writer(out)
                writer.writerow(CSV_COLUMNS)
                for row in rows:
                    count += 1
                    writer.writerows([[_cell(value) for value in line] for line in _csv_lines(row)])
            else:
                for row in rows:
                    count += 1
                    out.write(_dumps(row) + "\n")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return count


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    """A CSV cell: text that a spreadsheet would run as a formula gets a leading `'`; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _csv_lines(row: dict[str, Any]) -> list[list[Any]]:
    span = [row["trace_id"], row["span_id"], row["retriever"], row["request"], row["query"], row["start_time"], row["duration_ms"], row["status"]]
    if not row["documents"]:
        return [span + [""] * 6]
    return [
        span + [d["rank"], d["id"], d["doc_uri"], d["score"], d["content"], _dumps(d["metadata"]) if d["metadata"] else ""]
        for d in row["documents"]
    ]
