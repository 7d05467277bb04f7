"""The evaluation as terminal text: metrics by k, MRR, what matched, the breakdown by retriever and the rows without a URI."""

from __future__ import annotations

from typing import TYPE_CHECKING

from exporters.evaluation.dataset import URI_FIELDS
from exporters.evaluation.metrics import Evaluation
from exporters.tracefiles.view import safe

if TYPE_CHECKING:
    from rich.table import Table

_AT_K = ("precision", "recall", "hit_rate", "ndcg")
NAMES_SHOWN = 10
"""How many retriever names a one-line message lists before `and N more`."""


def print_table(evaluation: Evaluation) -> None:
    """Print the aggregate metrics by k, MRR, the match counts and the metrics by retriever on stdout."""
    from rich.console import Console
    from rich.table import Table

    aggregate = evaluation.aggregate
    table = Table(title=f"retrieval metrics by doc_uri, {evaluation.scored} rows scored")
    table.add_column("k", justify="right")
    for metric in _AT_K:
        table.add_column(f"{metric}@k", justify="right")
    for k in evaluation.ks:
        table.add_row(str(k), *(_shown(aggregate[f"{metric}@{k}"]) for metric in _AT_K))
    console = Console()
    console.print(table)
    counts = evaluation.counts()
    console.print(
        f"MRR {_shown(aggregate['mrr'])}\n"
        f"retriever rows without ground truth: {counts['unmatched_rows']}\n"
        f"ground-truth rows without a retrieval: {counts['unmatched_ground_truth']} of {counts['ground_truth_rows']} ({safe(evaluation.ground_truth_path)})\n"
        f"scored rows without any document URI: {counts['rows_without_uri']} "
        f"(documents without a URI: {counts['documents_without_uri']})",
        markup=False, highlight=False, soft_wrap=True,
    )
    console.print(_retriever_table(evaluation))


def _retriever_table(evaluation: Evaluation) -> Table:
    """One line per retriever: rows scored and unmatched, rows without a URI, the metrics at the largest k."""
    from rich.table import Table

    depth = max(evaluation.ks)
    table = Table(title=f"by retriever, metrics @{depth}",
                  caption="no GT: rows without ground truth; no URI: scored rows whose documents have no URI; P, R, hit: precision, recall, hit rate")
    table.add_column("retriever", overflow="fold")  # a name is wrapped, never cut: it is what --retriever takes
    for heading in ("scored", "no GT", "no URI", f"P@{depth}", f"R@{depth}", f"hit@{depth}", "MRR", f"nDCG@{depth}"):
        table.add_column(heading, justify="right", no_wrap=True)
    for name, tally in sorted(evaluation.retrievers.items()):
        aggregate = tally.aggregate(evaluation.ks)
        table.add_row(
            safe(name), str(tally.scored), str(tally.unmatched_rows), str(tally.rows_without_uri),
            *(_shown(aggregate[f"{metric}@{depth}"]) for metric in _AT_K[:3]), _shown(aggregate["mrr"]), _shown(aggregate[f"ndcg@{depth}"]),
        )
    return table


def without_uri_warning(evaluation: Evaluation) -> str | None:
    """A one-line warning when scored rows held documents but no URI (they score 0 whatever the ground truth), else None."""
    counts = evaluation.counts()
    if not counts["rows_without_uri"]:
        return None
    by_name = {name: tally.rows_without_uri for name, tally in evaluation.retrievers.items()}
    return (f"{counts['rows_without_uri']} of {counts['scored_rows']} scored retriever rows have documents but no document URI "
            f"(metadata {', '.join(URI_FIELDS)}) and score 0: {names_and_counts(by_name)}")


def names_and_counts(counts: dict[str, int]) -> str:
    """`name count, ...` of the non-zero counts by name, in name order (see `listed`)."""
    return listed([f"{name} {count}" for name, count in sorted(counts.items()) if count])


def listed(items: list[str]) -> str:
    """The first NAMES_SHOWN items, printable and comma-separated, then `and N more`."""
    shown = ", ".join(safe(item) for item in items[:NAMES_SHOWN])
    return shown + (f" and {len(items) - NAMES_SHOWN} more" if len(items) > NAMES_SHOWN else "")


def _shown(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
