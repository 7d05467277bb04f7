"""The `retrievals` and `evaluate` subcommands of `agent-tracing` (SPEC 6)."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from exporters.cli.errors import UsageError
from exporters.evaluation.dataset import URI_FIELDS, iter_retrievals, without_uri, write_retrievals
from exporters.evaluation.ground_truth import load_ground_truth
from exporters.evaluation.metrics import DEFAULT_KS, Evaluation, evaluate, parse_ks, parse_threshold, write_json
from exporters.evaluation.report_text import listed, names_and_counts, print_table, without_uri_warning
from exporters.tracefiles.reader import TraceFileError


def retrievals_args(parser: argparse.ArgumentParser) -> None:
    """Arguments of `agent-tracing retrievals`."""
    parser.add_argument("files", nargs="+", metavar="FILE", help="OTLP JSON Lines trace files (.gz too)")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.jsonl|OUT.csv", help="data set to write: JSON Lines, or CSV when the name ends in .csv")
    parser.add_argument("--top-level-only", action="store_true", help="skip retriever spans nested inside another retriever span")
    parser.add_argument("--no-content", action="store_true", help="leave document text out")


def retrievals_command(args: argparse.Namespace) -> int:
    """Write one row per RETRIEVER span of the files; exit 0."""
    _check_files(args.files)
    with _progress() as on_progress:
        rows = iter_retrievals(args.files, top_level_only=args.top_level_only, include_content=not args.no_content, on_progress=on_progress,
                               require_spans=True)
        missing: dict[str, int] = {}
        count = write_retrievals(_counting_without_uri(rows, missing), args.output)
    print(f"wrote {count} retriever spans to {args.output}", file=sys.stderr)
    if missing:
        print(f"agent-tracing retrievals: warning: {sum(missing.values())} of {count} retriever spans have documents but no document URI "
              f"(metadata {', '.join(URI_FIELDS)}): {names_and_counts(missing)}", file=sys.stderr)
    return 0


def _counting_without_uri(rows: Iterator[dict[str, Any]], missing: dict[str, int]) -> Iterator[dict[str, Any]]:
    """The rows unchanged; those with documents but no URI counted into `missing` by retriever name."""
    for row in rows:
        if without_uri(row):
            missing[row["retriever"]] = missing.get(row["retriever"], 0) + 1
        yield row


def evaluate_args(parser: argparse.ArgumentParser) -> None:
    """Arguments of `agent-tracing evaluate`."""
    parser.add_argument("files", nargs="+", metavar="FILE", help="OTLP JSON Lines trace files (.gz too)")
    parser.add_argument("--ground-truth", required=True, metavar="GT",
                        help="JSON Lines with request|trace_id and expected_retrieved_context, or CSV with request,doc_uri")
    parser.add_argument("--k", default=",".join(map(str, DEFAULT_KS)), metavar="1,3,5,10", help="cut-offs for the @k metrics")
    parser.add_argument("--fail-under", action="append", default=[], metavar="METRIC=VALUE",
                        help="exit 1 when the averaged metric is below VALUE (e.g. recall@5=0.8, mrr=0.5), repeatable")
    parser.add_argument("-o", "--output", metavar="OUT.json", help="write the aggregate and per-row metrics as JSON")
    parser.add_argument("--html", metavar="OUT.html", help="write a self-contained HTML report")
    parser.add_argument("--top-level-only", action="store_true", help="skip retriever spans nested inside another retriever span")
    parser.add_argument("--retriever", action="append", default=[], metavar="NAME",
                        help="evaluate only this retriever (gen_ai.data_source.id, else the span name), repeatable")


def evaluate_command(args: argparse.Namespace) -> int:
    """Score the retriever spans against the ground truth, print the table; exit 1 when a --fail-under check fails."""
    ks = parse_ks(args.k)
    thresholds = [parse_threshold(text, ks) for text in args.fail_under]
    ks = tuple(sorted({*ks, *(int(name.partition("@")[2]) for name, _ in thresholds if "@" in name)}))
    truth = load_ground_truth(args.ground_truth)
    _check_files(args.files)
    with tempfile.TemporaryFile("w+", encoding="utf-8") as spool, _progress() as on_progress:
        rows = iter_retrievals(args.files, top_level_only=args.top_level_only, include_content=False, on_progress=on_progress, require_spans=True)
        def spool_row(row: dict[str, Any]) -> None:
            spool.write(json.dumps(row, ensure_ascii=False) + "\n")

        evaluation = evaluate(rows, truth, ks, retrievers=args.retriever, on_row=spool_row if args.output else None)
        _check_retrievers(args.retriever, evaluation)
        if args.output:
            spool.seek(0)
            write_json(evaluation, args.output, spool)
    if args.html:
        from exporters.evaluation.report_html import write_html

        write_html(evaluation, args.html)
    print_table(evaluation)
    warning = without_uri_warning(evaluation)
    if warning:
        print(f"agent-tracing evaluate: warning: {warning}", file=sys.stderr)
    failed = [(name, value, evaluation.aggregate[name]) for name, value in thresholds if (evaluation.aggregate[name] or 0.0) < value]
    for name, value, actual in failed:
        shown = "no scored rows" if actual is None else f"{actual:.3f}"
        print(f"agent-tracing evaluate: check failed: {name} = {shown} < {value:g}", file=sys.stderr)
    return 1 if failed else 0


def _check_retrievers(names: list[str], evaluation: Evaluation) -> None:
    """Refuse a --retriever name that no row of the files has, listing the names found."""
    unknown = [name for name in dict.fromkeys(names) if name not in evaluation.found]
    if not unknown:
        return
    raise UsageError(f"--retriever {listed(unknown)}: no such retriever in the files; found: {listed(sorted(evaluation.found)) or 'no retriever spans'}")


def _check_files(paths: list[str]) -> None:
    for path in paths:
        try:
            with open(path, "rb"):
                pass
        except OSError as exc:
            raise TraceFileError(path, None, f"cannot open ({exc.strerror or exc})") from exc


@contextmanager
def _progress() -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress line on stderr (spans read, rows found) when stderr is a terminal; None otherwise."""
    from rich.console import Console

    console = Console(stderr=True)
    if not console.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("reading"), BarColumn(), TextColumn("{task.fields[spans]:,} spans, {task.fields[rows]:,} retriever spans"),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        task = progress.add_task("read", total=None, spans=0, rows=0)

        def on_progress(spans: int, rows: int) -> None:
            progress.update(task, spans=spans, rows=rows)

        yield on_progress

