"""Render trace files as a tree per trace: name, type, duration, status, retrieved documents."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timezone

from rich.console import Console
from rich.markup import escape
from rich.tree import Tree

from exporters.tracefiles.reader import SpanRecord
from tracing import keys

_DOCUMENT_KEY = re.compile(rf"^{re.escape(keys.RETRIEVAL_DOCUMENTS)}\.(\d+)\.")


class _Node:
    __slots__ = ("record", "children")

    def __init__(self, record: SpanRecord) -> None:
        self.record = record
        self.children: list[_Node] = []


def document_count(record: SpanRecord) -> int:
    """How many retrieval documents a span carries (OpenInference retrieval.documents.N.*)."""
    return len({m.group(1) for key in record.attributes if (m := _DOCUMENT_KEY.match(key))})


def render(records: Iterable[SpanRecord], console: Console, *, trace_id: str | None = None, max_depth: int | None = None) -> int:
    """Print one tree per trace (rich on a terminal, indented plain text otherwise); return the number of traces shown."""
    traces: dict[str, list[SpanRecord]] = {}
    wanted = trace_id.lower() if trace_id else None
    for record in records:
        if wanted is None or record.trace_id == wanted:
            traces.setdefault(record.trace_id, []).append(record)
    ordered = sorted(traces.items(), key=lambda item: min(r.start_time_unix_nano for r in item[1]))
    for tid, spans in ordered:
        roots = _build(spans)
        started = datetime.fromtimestamp(min(r.start_time_unix_nano for r in spans) / 1e9, tz=timezone.utc)
        header = f"trace {tid}  {spans[0].service_name}  {started:%Y-%m-%d %H:%M:%S} UTC  {len(spans)} spans"
        if console.is_terminal:
            tree = Tree(f"[bold]{escape(header)}[/bold]")
            for root in roots:
                _add_rich(tree, root, 1, max_depth)
            console.print(tree)
        else:
            console.print(header, markup=False, highlight=False, soft_wrap=True)
            for root in roots:
                _print_plain(console, root, 1, max_depth)
    return len(ordered)


def _build(spans: list[SpanRecord]) -> list[_Node]:
    nodes = {span.span_id: _Node(span) for span in spans}
    roots: list[_Node] = []
    for node in nodes.values():
        parent = nodes.get(node.record.parent_span_id or "")
        (parent.children if parent is not None else roots).append(node)
    for node in nodes.values():
        node.children.sort(key=lambda n: n.record.start_time_unix_nano)
    roots.sort(key=lambda n: n.record.start_time_unix_nano)
    return roots


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


def _add_rich(parent: Tree, node: _Node, depth: int, max_depth: int | None) -> None:
    record = node.record
    style = "red" if record.status_code == "ERROR" else ""
    label = escape(_label(record))
    branch = parent.add(f"[{style}]{label}[/{style}]" if style else label)
    if max_depth is not None and depth >= max_depth:
        if node.children:
            branch.add(f"... {_count(node) - 1} more spans")
        return
    for child in node.children:
        _add_rich(branch, child, depth + 1, max_depth)


def _print_plain(console: Console, node: _Node, depth: int, max_depth: int | None) -> None:
    console.print("  " * depth + _label(node.record), markup=False, highlight=False, soft_wrap=True)
    if max_depth is not None and depth >= max_depth:
        if node.children:
            console.print("  " * (depth + 1) + f"... {_count(node) - 1} more spans", markup=False, highlight=False, soft_wrap=True)
        return
    for child in node.children:
        _print_plain(console, child, depth + 1, max_depth)


def _count(node: _Node) -> int:
    return 1 + sum(_count(child) for child in node.children)
