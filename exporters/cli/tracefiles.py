"""The trace-file subcommands of `agent-tracing`: view, jaeger and push (SPEC 6)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from exporters.cli.errors import EXIT_CHECK_FAILED, EXIT_OK, UsageError
from exporters.cli.options import seconds, whole_number
from exporters.tracefiles.reader import TraceFileError, read_all


def view_args(parser: argparse.ArgumentParser) -> None:
    """Arguments of `agent-tracing view`."""
    parser.add_argument("files", nargs="+", metavar="FILE", help="OTLP JSON Lines trace files (.gz too)")
    parser.add_argument("--trace", metavar="ID", help="show only the trace whose id starts with ID")
    parser.add_argument("--span", metavar="ID", help="show the details of the span whose id starts with ID")
    parser.add_argument("--details", action="store_true", help="show each span's inputs, outputs, documents and events")
    parser.add_argument("--max-depth", type=whole_number(0, 10_000), metavar="N", help="show spans down to depth N")


def view_command(args: argparse.Namespace) -> int:
    """Print a tree per trace, or one span's details; exit 2 when --trace or --span matches nothing or several."""
    from rich.console import Console

    from exporters.tracefiles.view import find_span, render, render_span

    records = read_all(args.files)
    console = Console()
    if args.span:
        render_span(find_span(records, args.span), console)
        return EXIT_OK
    render(records, console, trace_id=args.trace, max_depth=args.max_depth, details=args.details)
    return EXIT_OK


def jaeger_args(parser: argparse.ArgumentParser) -> None:
    """Arguments of `agent-tracing jaeger`."""
    parser.add_argument("files", nargs="+", metavar="FILE", help="OTLP JSON Lines trace files (.gz too)")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.json", help="Jaeger UI JSON file to write")


def jaeger_command(args: argparse.Namespace) -> int:
    """Write the Jaeger UI JSON of the files."""
    from exporters.tracefiles.jaeger import write_jaeger

    traces, spans = write_jaeger(read_all(args.files), args.output)
    print(f"wrote {traces} traces ({spans} spans) to {args.output}; open it in the Jaeger UI: Search, then the Upload tab", file=sys.stderr)
    return EXIT_OK


def push_args(parser: argparse.ArgumentParser) -> None:
    """Arguments of `agent-tracing push`."""
    parser.add_argument("files", nargs="+", metavar="FILE", help="OTLP JSON Lines trace files (.gz too)")
    parser.add_argument("--endpoint", required=True, metavar="URL", help="collector: http://HOST:4318[/v1/traces] or HOST:4317 with --protocol grpc")
    parser.add_argument("--protocol", choices=("grpc", "http"), default="http", help="OTLP transport (default http)")
    parser.add_argument("--header", action="append", default=[], metavar="K=V", help="request header, repeatable (values are never printed)")
    parser.add_argument("--batch-size", type=whole_number(1, 100_000), default=512, metavar="N", help="spans per request (default 512; halved after HTTP 413)")
    parser.add_argument("--timeout", type=seconds(0.001, 3600), default=10.0, metavar="S", help="seconds per request (default 10)")
    parser.add_argument("--retry-for", type=seconds(0, 86_400), default=120.0, metavar="S",
                        help="give up after S seconds without a delivered batch (default 120)")
    parser.add_argument("--checkpoint", metavar="PATH", help="where to record what was delivered (default FILE.push-checkpoint.json next to the first file)")
    parser.add_argument("--resume", action="store_true", help="send only what the checkpoint does not record as delivered")


def push_command(args: argparse.Namespace) -> int:
    """Replay the files to a collector with a progress bar; exit 1 when anything was not delivered."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from exporters.tracefiles.push import mask_endpoint, push

    headers = {}
    for number, header in enumerate(args.header, start=1):
        key, sep, value = header.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--header (the {_ordinal(number)}): expected NAME=VALUE (not shown: it may hold a credential)")
        headers[key.strip()] = value.strip()
    for name in args.files:
        if not Path(name).is_file():
            raise TraceFileError(name, None, "cannot open (no such file)")
    checkpoint = Path(args.checkpoint) if args.checkpoint else Path(f"{args.files[0]}.push-checkpoint.json")
    total = sum(Path(f).stat().st_size for f in args.files)
    endpoint = mask_endpoint(args.endpoint)
    console = Console(stderr=True)
    started = time.monotonic()
    options = {"protocol": args.protocol, "headers": headers, "batch_size": args.batch_size, "timeout_s": args.timeout,
               "give_up_after_s": args.retry_for, "checkpoint": checkpoint, "resume": args.resume}
    if not console.is_terminal:
        result = push(args.files, args.endpoint, **options)
    else:
        with Progress(
            TextColumn("pushing"), BarColumn(), DownloadColumn(), TextColumn("{task.fields[sent]} spans sent"), TimeRemainingColumn(),
            console=console, transient=True,
        ) as progress:
            task = progress.add_task("push", total=total, sent=0)

            def on_progress(consumed: int, sent: int) -> None:
                progress.update(task, completed=total if consumed < 0 else consumed, sent=sent)

            result = push(args.files, args.endpoint, on_progress=on_progress, **options)
    elapsed = time.monotonic() - started
    rate = result.sent / elapsed if elapsed > 0 else 0.0
    already = f", {result.already_sent} already sent before (--resume)" if args.resume else ""
    print(
        f"sent {result.sent} spans, failed {result.failed}, skipped {result.skipped_lines} unreadable lines{already} "
        f"to {endpoint} in {elapsed:.1f} s ({rate:,.0f} spans/s; {result.retries} retries, "
        f"{result.throttled} throttled answers, {result.splits} batch splits)",
        file=sys.stderr,
    )
    if result.stopped:
        print(f"agent-tracing push: stopped: {result.stopped}; run the same command with --resume to send the rest", file=sys.stderr)
    return EXIT_CHECK_FAILED if result.left else EXIT_OK


def _ordinal(number: int) -> str:
    return {1: "first", 2: "second", 3: "third"}.get(number, f"{number}th")
