"""The evaluation as a terminal table: metrics by k, MRR and what matched."""

from __future__ import annotations

from exporters.evaluation.metrics import Evaluation
from exporters.tracefiles.view import safe


def print_table(evaluation: Evaluation) -> None:
    """Print the aggregate metrics by k, MRR and the match counts on stdout."""
    from rich.console import Console
    from rich.table import Table

    aggregate = evaluation.aggregate
    table = Table(title=f"retrieval metrics by doc_uri, {evaluation.scored} rows scored")
    table.add_column("k", justify="right")
    for metric in ("precision", "recall", "hit_rate", "ndcg"):
        table.add_column(f"{metric}@k", justify="right")
    for k in evaluation.ks:
        table.add_row(str(k), *(_shown(aggregate[f"{metric}@{k}"]) for metric in ("precision", "recall", "hit_rate", "ndcg")))
    console = Console()
    console.print(table)
    counts = evaluation.counts()
    console.print(
        f"MRR {_shown(aggregate['mrr'])}\n"
        f"retriever rows without ground truth: {counts['unmatched_rows']}\n"
        f"ground-truth rows without a retrieval: {counts['unmatched_ground_truth']} of {counts['ground_truth_rows']} ({safe(evaluation.ground_truth_path)})",
        markup=False, highlight=False, soft_wrap=True,
    )


def _shown(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
