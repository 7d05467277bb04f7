"""The trace-file subcommands of `agent-tracing`: view, jaeger and push (SPEC 6)."""

from __future__ import annotations

import argparse
import sys
import time

from exporters.cli.errors import EXIT_CHECK_FAILED, EXIT_OK, UsageError
from exporters.tracefiles.reader import TraceFileError, read_all


def view_args(parser: argparse.ArgumentParser) -> None:
    """Arguments of `agent-tracing view`."""
    parser.add_argument("files", nargs="+", metavar="FILE", help="OTLP JSON Lines trace files (.gz too)")
    parser.add_argument("--trace", metavar="ID", help="show only this trace id")
    parser.add_argument("--max-depth", type=int, metavar="N", help="show spans down to depth N")


def view_command(args: argparse.Namespace) -> int:
    """Print a tree per trace; exit 2 when --trace matches nothing."""
    from rich.console import Console

    from exporters.tracefiles.view import render

    shown = render(read_all(args.files), Console(), trace_id=args.trace, max_depth=args.max_depth)
    if args.trace and not shown:
        raise UsageError(f"trace {args.trace} not found in {', '.join(args.files)}")
    return EXIT_OK


def jaeger_args(parser: argparse.ArgumentParser) -> None:
    """Arguments of `agent-tracing jaeger`."""
    parser.add_argument("files", nargs="+", metavar="FILE", help="OTLP JSON Lines trace files (.gz too)")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.json", help="Jaeger UI JSON file to write")


def jaeger_command(args: argparse.Namespace) -> int:
    """Write the Jaeger UI JSON of the files."""
    from exporters.tracefiles.jaeger import write_jaeger

    traces, spans = write_jaeger(read_all(args.files), args.output)
    print(f"wrote {traces} traces ({spans} spans) to {args.output}; open it in the Jaeger UI with Search > JSON File", file=sys.stderr)
    return EXIT_OK


def push_args(parser: argparse.ArgumentParser) -> None:
    """Arguments of `agent-tracing push`."""
    parser.add_argument("files", nargs="+", metavar="FILE", help="OTLP JSON Lines trace files (.gz too)")
    parser.add_argument("--endpoint", required=True, metavar="URL", help="collector: http://HOST:4318[/v1/traces] or HOST:4317 with --protocol grpc")
    parser.add_argument("--protocol", choices=("grpc", "http"), default="http", help="OTLP transport (default http)")
    parser.add_argument("--header", action="append", default=[], metavar="K=V", help="request header, repeatable")
    parser.add_argument("--batch-size", type=int, default=512, metavar="N", help="spans per request (default 512)")
    parser.add_argument("--timeout", type=float, default=10.0, metavar="S", help="seconds per request (default 10)")
    parser.add_argument("--retry-for", type=float, default=30.0, metavar="S", help="keep retrying a batch for S seconds before giving up (default 30)")


def push_command(args: argparse.Namespace) -> int:
    """Replay the files to a collector with a progress bar; exit 1 when anything was not delivered."""
    from pathlib import Path

    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from exporters.tracefiles.push import push

    headers = {}
    for header in args.header:
        key, sep, value = header.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--header {header!r}: expected K=V")
        headers[key.strip()] = value.strip()
    missing = [f for f in args.files if not Path(f).is_file()]
    if missing:
        raise TraceFileError(missing[0], None, "cannot open (no such file)")
    total = sum(Path(f).stat().st_size for f in args.files)
    console = Console(stderr=True)
    started = time.monotonic()
    with Progress(
        TextColumn("pushing"), BarColumn(), DownloadColumn(), TextColumn("{task.fields[sent]} spans sent"), TimeRemainingColumn(),
        console=console, transient=True,
    ) as progress:
        task = progress.add_task("push", total=total, sent=0)

        def on_progress(consumed: int, sent: int) -> None:
            progress.update(task, completed=total if consumed < 0 else consumed, sent=sent)

        result = push(args.files, args.endpoint, protocol=args.protocol, headers=headers, batch_size=args.batch_size,
                      timeout_s=args.timeout, give_up_after_s=args.retry_for, on_progress=on_progress)
    elapsed = time.monotonic() - started
    rate = result.sent / elapsed if elapsed > 0 else 0.0
    print(
        f"sent {result.sent} spans, failed {result.failed}, skipped {result.skipped_lines} unreadable lines "
        f"to {args.endpoint} in {elapsed:.1f} s ({rate:,.0f} spans/s)",
        file=sys.stderr,
    )
    return EXIT_CHECK_FAILED if result.failed or result.skipped_lines else EXIT_OK
