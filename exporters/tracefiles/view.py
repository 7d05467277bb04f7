"""Render trace files as a tree per trace: name, type, duration, status, retrieved documents; a span's details on demand.

Everything printed comes from files other programs wrote: control characters (C0, C1, ESC/CSI/OSC sequences,
bidirectional overrides) are shown as escapes, never sent to the terminal.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone

from rich.console import Console
from rich.markup import escape
from rich.tree import Tree

from exporters.evaluation.dataset import documents
from exporters.tracefiles.reader import SpanRecord
from tracing import keys

_DOCUMENT_KEY = re.compile(rf"^{re.escape(keys.RETRIEVAL_DOCUMENTS)}\.(\d+)\.(.+)$")
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_HEX = re.compile(r"[0-9a-fA-F]+")
DEEPEST_SHOWN = 48
"""Deepest level drawn as a tree; spans below it are counted (a runaway parent chain must not fill the screen)."""
DETAIL_LINES = 3
"""Terminal lines a detail value may take before it is cut."""


def safe(text: object, limit: int | None = None) -> str:
    """Text fit for a terminal: control characters as visible escapes, cut to `limit` characters with a marker."""
    value = text if isinstance(text, str) else str(text)
    if limit is not None and len(value) > limit:
        value = f"{value[:limit]}... ({len(value) - limit:,} more characters)"
    return _UNSAFE.sub(_escaped, value)


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


@dataclass
class _Node:
    record: SpanRecord
    children: list[_Node]


def document_count(record: SpanRecord) -> int:
    """How many retrieval documents a span carries: the count we record, else OpenInference's retrieval.documents.N.*
    (spans other writers made)."""
    count = record.attributes.get(keys.RETRIEVER_DOCUMENT_COUNT)
    if type(count) is int:
        return count
    return len({m.group(1) for key in record.attributes if (m := _DOCUMENT_KEY.match(key))})


def select(records: Iterable[SpanRecord], prefix: str, what: str = "--trace") -> list[SpanRecord]:
    """The spans of the one trace whose id starts with `prefix` (any case); ValueError naming `what` when none or several match."""
    wanted = prefix.strip().lower()
    if not wanted or not _HEX.fullmatch(wanted) or len(wanted) > 32:
        raise ValueError(f"{what} {prefix[:40]!r}: expected a trace id or the start of one (hex digits)")
    traces: dict[str, list[SpanRecord]] = {}
    for record in records:
        if record.trace_id.startswith(wanted):
            traces.setdefault(record.trace_id, []).append(record)
    if not traces:
        raise ValueError(f"{what} {wanted}: no trace id starts with it")
    if len(traces) > 1:
        shown = ", ".join(sorted(traces)[:3])
        raise ValueError(f"{what} {wanted}: {len(traces)} traces start with it ({shown}{', ...' if len(traces) > 3 else ''}); give more digits")
    return next(iter(traces.values()))


def find_span(records: Iterable[SpanRecord], prefix: str) -> SpanRecord:
    """The one span whose id starts with `prefix`; ValueError naming --span when none or several match."""
    wanted = prefix.strip().lower()
    if not wanted or not _HEX.fullmatch(wanted) or len(wanted) > 16:
        raise ValueError(f"--span {prefix[:40]!r}: expected a span id or the start of one (hex digits)")
    found = {record.span_id: record for record in records if record.span_id.startswith(wanted)}
    if not found:
        raise ValueError(f"--span {wanted}: no span id starts with it")
    if len(found) > 1:
        raise ValueError(f"--span {wanted}: {len(found)} spans start with it; give more digits")
    return next(iter(found.values()))


def render(
    records: Iterable[SpanRecord],
    console: Console,
    *,
    trace_id: str | None = None,
    max_depth: int | None = None,
    details: bool = False,
) -> int:
    """Print one tree per trace (rich on a terminal, indented plain text otherwise); return the number of traces shown.

    `trace_id`: only the trace with this id or unique id prefix (ValueError naming --trace when none or several match).
    """
    if trace_id is not None:
        records = select(records, trace_id)
    traces: dict[str, list[SpanRecord]] = {}
    for record in records:
        traces.setdefault(record.trace_id, []).append(record)
    ordered = sorted(traces.items(), key=lambda item: min(r.start_time_unix_nano for r in item[1]))
    for tid, spans in ordered:
        roots = _build(spans)
        started = datetime.fromtimestamp(min(r.start_time_unix_nano for r in spans) / 1e9, tz=timezone.utc)
        service = roots[0].record.service_name if roots else spans[0].service_name
        header = safe(f"trace {tid}  {service}  {started:%Y-%m-%d %H:%M:%S} UTC  {len(spans)} spans", 500)
        lines = list(_lines(roots, max_depth, details, console.width))
        if console.is_terminal:
            tree = Tree(f"[bold]{escape(header)}[/bold]")
            branches: list[Tree] = [tree]
            for depth, text, style in lines:
                del branches[depth + 1 :]
                label = escape(text)
                branches.append(branches[-1].add(f"[{style}]{label}[/{style}]" if style else label))
            console.print(tree)
        else:
            console.print(header, markup=False, highlight=False, soft_wrap=True)
            for depth, text, _style in lines:
                console.print("  " * (depth + 1) + text, markup=False, highlight=False, soft_wrap=True)
    return len(ordered)


def render_span(record: SpanRecord, console: Console) -> None:
    """Print one span's line and its details: inputs, outputs, documents, events."""
    console.print(safe(_label(record), 500), markup=False, highlight=False, soft_wrap=True)
    for text in _details(record, console.width):
        console.print("  " + text, markup=False, highlight=False, soft_wrap=True)


def _build(spans: list[SpanRecord]) -> list[_Node]:
    """Nodes linked to their parents; a span whose parent is missing, or that sits in a parent cycle, becomes a root."""
    nodes = {span.span_id: _Node(span, []) for span in spans}
    roots: list[_Node] = []
    for node in nodes.values():
        parent = nodes.get(node.record.parent_span_id or "")
        if parent is None or parent is node:
            roots.append(node)
        else:
            parent.children.append(node)
    reached = {id(node) for node in _walk(roots)}
    for node in nodes.values():  # spans of a parent cycle: break it at its first span
        if id(node) not in reached:
            parent = nodes[node.record.parent_span_id or ""]
            parent.children.remove(node)
            roots.append(node)
            reached.update(id(n) for n in _walk([node]))
    for node in nodes.values():
        node.children.sort(key=lambda n: n.record.start_time_unix_nano)
    roots.sort(key=lambda n: n.record.start_time_unix_nano)
    return roots


def _walk(roots: list[_Node]) -> Iterator[_Node]:
    stack = list(roots)
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node.children)


def _lines(roots: list[_Node], max_depth: int | None, details: bool, width: int) -> Iterator[tuple[int, str, str]]:
    """(depth from 0, text, style) of every line of one trace's tree, depth first, without recursion."""
    deepest = min(max_depth, DEEPEST_SHOWN) if max_depth is not None else DEEPEST_SHOWN
    stack: list[tuple[_Node, int]] = [(root, 0) for root in reversed(roots)]
    while stack:
        node, depth = stack.pop()
        record = node.record
        yield depth, safe(_label(record), 500), "red" if record.status_code == "ERROR" else ""
        if details:
            for text in _details(record, width - 2 * (depth + 2)):
                yield depth + 1, "· " + text, "dim"
        if node.children and depth + 1 >= deepest:
            hidden = sum(1 for _ in _walk(node.children))
            yield depth + 1, f"... {hidden} more spans", ""
            continue
        stack.extend((child, depth + 1) for child in reversed(node.children))


def _label(record: SpanRecord) -> str:
    parts = [record.name, f"[{record.span_type}]", _duration(record.duration_ms), record.status_code]
    documents = document_count(record)
    if documents:
        parts.append(f"{documents} docs")
    if record.attributes.get(keys.STREAM_CANCELLED):
        parts.append("cancelled")
    return "  ".join(parts)


def _duration(ms: float) -> str:
    return f"{ms / 1000:.2f} s" if ms >= 1000 else f"{ms:.1f} ms"


def _details(record: SpanRecord, width: int) -> Iterator[str]:
    """Lines of a span's details, each value cut to DETAIL_LINES terminal lines."""
    limit = max(40, width) * DETAIL_LINES
    yield f"span {record.span_id}"
    if record.status_message:
        yield safe(f"status: {record.status_message}", limit)
    for label, key in (("input", keys.INPUT_VALUE), ("output", keys.OUTPUT_VALUE)):
        if key in record.attributes:
            yield safe(f"{label}: {_text(record.attributes[key])}", limit)
    for rank, document in enumerate(documents(record, include_content=False), start=1):
        score = document.get("score")
        shown = f"{score:.4g}" if isinstance(score, float) else str(score) if score is not None else "-"
        yield safe(f"document {rank}: {document.get('doc_uri') or document.get('id') or '-'}  score {shown}", limit)
    for event in record.events:
        offset = (event.time_unix_nano - record.start_time_unix_nano) / 1e6
        attributes = ", ".join(f"{key}={_text(value)}" for key, value in event.attributes.items())
        yield safe(f"event {event.name} at +{offset:.1f} ms" + (f": {attributes}" if attributes else ""), limit)


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=repr)
    except (ValueError, RecursionError):
        return repr(value)
