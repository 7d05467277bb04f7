"""A self-contained HTML report of an evaluation: aggregate table, rows without a URI, metrics by retriever, recall@k curve (inline SVG), worst queries."""

from __future__ import annotations

import os
from html import escape
from pathlib import Path
from typing import Any

from exporters.evaluation.dataset import URI_FIELDS
from exporters.evaluation.metrics import Evaluation

_AT_K = ("precision", "recall", "hit_rate", "ndcg")
_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:70em;color:#1d2330;padding:0 1em}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:2em}
table{border-collapse:collapse}td,th{border:1px solid #d5d9e0;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f2f4f7}td.n{text-align:right;font-variant-numeric:tabular-nums}
.hit{color:#116329}.miss{color:#a40e26}.muted{color:#6b7280}ul{margin:0;padding-left:1.2em}code{font-size:.92em}
"""
_WIDTH, _HEIGHT, _PAD = 520, 260, 44


def render_html(evaluation: Evaluation) -> str:
    """The report as one HTML document with no external resource."""
    counts = evaluation.counts()
    aggregate = evaluation.aggregate
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>Retrieval evaluation</title>',
        f"<style>{_STYLE}</style></head><body>",
        "<h1>Retrieval evaluation by doc_uri</h1>",
        f'<p>{counts["scored_rows"]} retriever rows scored against <code>{escape(evaluation.ground_truth_path)}</code>; '
        f'{counts["unmatched_rows"]} rows without ground truth; '
        f'{counts["unmatched_ground_truth"]} of {counts["ground_truth_rows"]} ground-truth rows without a retrieval.</p>',
        _without_uri(counts),
        "<h2>Averages</h2>",
        "<table><tr><th>k</th>" + "".join(f"<th>{m}@k</th>" for m in _AT_K) + "</tr>",
    ]
    for k in evaluation.ks:
        parts.append(f"<tr><td class=n>{k}</td>" + "".join(f"<td class=n>{_number(aggregate[f'{m}@{k}'])}</td>" for m in _AT_K) + "</tr>")
    parts.append(f"</table><p>MRR <b>{_number(aggregate['mrr'])}</b></p>")
    parts.append(f"<h2>By retriever (metrics @{max(evaluation.ks)})</h2>")
    parts.append(_retrievers(evaluation))
    parts.append("<h2>Recall@k</h2>")
    parts.append(_curve(evaluation.recall_curve))
    parts.append(f"<h2>Worst queries (by recall@{max(evaluation.ks)}, then MRR)</h2>")
    parts.append(_worst(evaluation.worst, max(evaluation.ks)))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_html(evaluation: Evaluation, path: str | os.PathLike[str]) -> None:
    """Write the report to a file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_html(evaluation), encoding="utf-8")


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _without_uri(counts: dict[str, int]) -> str:
    """The paragraph on scored rows whose documents had no URI (they score 0), or nothing when every row had one."""
    if not counts["documents_without_uri"]:
        return ""
    return (f'<p class="miss">{counts["rows_without_uri"]} scored rows had documents but no document URI and score 0; '
            f'{counts["documents_without_uri"]} documents in scored rows had no URI '
            f'(looked for in metadata {escape(", ".join(URI_FIELDS))}).</p>')


def _retrievers(evaluation: Evaluation) -> str:
    """A table with one line per retriever: rows scored, unmatched and without a URI, the metrics at the largest k."""
    depth = max(evaluation.ks)
    names = (*(f"{m}@{depth}" for m in _AT_K[:3]), "mrr", f"ndcg@{depth}")
    lines = ["<table><tr><th>retriever</th><th>rows scored</th><th>without ground truth</th><th>without a URI</th>"
             + "".join(f"<th>{name}</th>" for name in names) + "</tr>"]
    for name, tally in sorted(evaluation.retrievers.items()):
        aggregate = tally.aggregate(evaluation.ks)
        lines.append(
            f"<tr><td>{escape(name)}</td><td class=n>{tally.scored}</td><td class=n>{tally.unmatched_rows}</td>"
            f"<td class=n>{tally.rows_without_uri}</td>" + "".join(f"<td class=n>{_number(aggregate[metric])}</td>" for metric in names) + "</tr>"
        )
    lines.append("</table>")
    return "\n".join(lines) if evaluation.retrievers else '<p class="muted">No retriever row was read.</p>'


def _curve(points: list[float | None]) -> str:
    """An SVG line chart of mean recall@k for k = 1..len(points)."""
    if not points or points[0] is None:
        return '<p class="muted">No row was scored.</p>'
    inner_w, inner_h = _WIDTH - 2 * _PAD, _HEIGHT - 2 * _PAD
    step = inner_w / max(1, len(points) - 1)

    def xy(index: int, value: float) -> tuple[float, float]:
        return _PAD + index * step, _PAD + inner_h * (1 - value)

    coords = [xy(index, value or 0.0) for index, value in enumerate(points)]
    svg = [f'<svg width="{_WIDTH}" height="{_HEIGHT}" role="img" aria-label="recall at k">']
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = _PAD + inner_h * (1 - tick)
        svg.append(f'<line x1="{_PAD}" y1="{y:.1f}" x2="{_WIDTH - _PAD}" y2="{y:.1f}" stroke="#e5e7eb"/>')
        svg.append(f'<text x="{_PAD - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">{tick:.2f}</text>')
    for index in range(len(points)):
        if len(points) <= 20 or (index + 1) % 5 == 0 or index == 0:
            svg.append(f'<text x="{coords[index][0]:.1f}" y="{_HEIGHT - _PAD + 16}" font-size="11" text-anchor="middle">{index + 1}</text>')
    svg.append(f'<text x="{_WIDTH / 2:.0f}" y="{_HEIGHT - 8}" font-size="12" text-anchor="middle">k</text>')
    svg.append(f'<polyline fill="none" stroke="#2563eb" stroke-width="2" points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in coords)}"/>')
    for index, (x, y) in enumerate(coords):
        svg.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#2563eb"><title>recall@{index + 1} = {points[index] or 0.0:.3f}</title></circle>')
    svg.append("</svg>")
    return "\n".join(svg)


def _worst(rows: list[dict[str, Any]], depth: int) -> str:
    if not rows:
        return '<p class="muted">No row was scored.</p>'
    lines = [f"<table><tr><th>request</th><th>retriever</th><th>trace</th><th>recall@{depth}</th><th>MRR</th>"
             "<th>retrieved doc_uris</th><th>expected doc_uris</th></tr>"]
    for row in rows:
        expected = set(row["expected"])
        found = {uri for uri in row["retrieved"] if uri in expected}
        retrieved = "".join(
            f'<li class="{"hit" if uri in expected else "miss"}">{escape(str(uri))}</li>' for uri in row["retrieved"]
        ) or '<li class="muted">nothing retrieved</li>'
        wanted = "".join(f'<li class="{"hit" if uri in found else "miss"}">{escape(uri)}</li>' for uri in row["expected"])
        lines.append(
            f"<tr><td>{escape(str(row['request']))}</td><td>{escape(str(row['retriever']))}</td><td><code>{escape(str(row['trace_id']))}</code></td>"
            f"<td class=n>{_number(row['metrics'][f'recall@{depth}'])}</td><td class=n>{_number(row['metrics']['mrr'])}</td>"
            f"<td><ul>{retrieved}</ul></td><td><ul>{wanted}</ul></td></tr>"
        )
    lines.append("</table>")
    return "\n".join(lines)
