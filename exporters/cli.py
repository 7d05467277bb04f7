"""The `agent-tracing` command: view, jaeger, push, retrievals, evaluate and demo (exit codes of SPEC 6)."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable, Sequence

from exporters._evaluate_cli import evaluate_args, evaluate_command, retrievals_args, retrievals_command
from exporters._reader import SpanRecord, TraceFileError

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2

Command = tuple[str, str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]


class _UsageError(Exception):
    """Bad usage or unreadable input: exit 2 with this one-line message."""


def read_records(paths: Sequence[str]) -> list[SpanRecord]:
    """Read every span of the files; a file that cannot be opened, or holds no readable line, is a usage error."""
    from exporters._reader import read_spans

    records: list[SpanRecord] = []
    for path in paths:
        problems: list[TraceFileError] = []
        found = list(read_spans(path, skipped=problems))
        if not found and problems:
            raise TraceFileError(problems[0].path, problems[0].line, f"not an OTLP JSON trace file ({problems[0].reason})")
        records.extend(found)
    return records


def _view_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="OTLP JSON Lines trace files (.gz too)")
    parser.add_argument("--trace", metavar="ID", help="show only this trace id")
    parser.add_argument("--max-depth", type=int, metavar="N", help="show spans down to depth N")


def _view(args: argparse.Namespace) -> int:
    from rich.console import Console

    from exporters._view import render

    shown = render(read_records(args.files), Console(), trace_id=args.trace, max_depth=args.max_depth)
    if args.trace and not shown:
        raise _UsageError(f"trace {args.trace} not found in {', '.join(args.files)}")
    return EXIT_OK


def _jaeger_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="OTLP JSON Lines trace files (.gz too)")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.json", help="Jaeger UI JSON file to write")


def _jaeger(args: argparse.Namespace) -> int:
    from exporters._jaeger import write_jaeger

    traces, spans = write_jaeger(read_records(args.files), args.output)
    print(f"wrote {traces} traces ({spans} spans) to {args.output}; open it in the Jaeger UI with Search > JSON File", file=sys.stderr)
    return EXIT_OK


def _push_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="OTLP JSON Lines trace files (.gz too)")
    parser.add_argument("--endpoint", required=True, metavar="URL", help="collector: http://HOST:4318[/v1/traces] or HOST:4317 with --protocol grpc")
    parser.add_argument("--protocol", choices=("grpc", "http"), default="http", help="OTLP transport (default http)")
    parser.add_argument("--header", action="append", default=[], metavar="K=V", help="request header, repeatable")
    parser.add_argument("--batch-size", type=int, default=512, metavar="N", help="spans per request (default 512)")
    parser.add_argument("--timeout", type=float, default=10.0, metavar="S", help="seconds per request (default 10)")
    parser.add_argument("--retry-for", type=float, default=30.0, metavar="S", help="keep retrying a batch for S seconds before giving up (default 30)")


def _push(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from exporters._push import push

    headers = {}
    for header in args.header:
        key, sep, value = header.partition("=")
        if not sep or not key.strip():
            raise _UsageError(f"--header {header!r}: expected K=V")
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


def _demo_args(parser: argparse.ArgumentParser) -> None:
    """The demo takes no arguments."""


def _demo(args: argparse.Namespace) -> int:
    from exporters import _demo

    return int(_demo.main(args))


COMMANDS: list[Command] = [
    ("view", "show trace files as a tree per trace", _view_args, _view),
    ("jaeger", "convert trace files to Jaeger UI JSON", _jaeger_args, _jaeger),
    ("push", "replay trace files to an OTLP collector or Jaeger", _push_args, _push),
    ("retrievals", "export the retriever spans as an evaluation data set (JSONL or CSV)", retrievals_args, retrievals_command),
    ("evaluate", "score the retriever spans against ground truth: precision, recall, hit rate, MRR, nDCG", evaluate_args, evaluate_command),
    ("demo", "run the RAG example traced to traces/traces.jsonl, show a trace and evaluate its retrievals", _demo_args, _demo),
]
"""Subcommands as (name, help, add arguments, run); a new subcommand is one more entry."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand of COMMANDS."""
    parser = argparse.ArgumentParser(prog="agent-tracing", description="Trace AI agents with OpenTelemetry: read, convert and replay trace files.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text, add_arguments, run in COMMANDS:
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        add_arguments(sub)
        sub.set_defaults(run=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (0 ok, 1 a check failed, 2 bad usage or unreadable input)."""
    _log_to_stderr()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    try:
        return int(args.run(args))
    except (TraceFileError, _UsageError, ValueError) as exc:
        print(f"agent-tracing {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"agent-tracing {args.command}: error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time of each record."""

    @property  # type: ignore[override]
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


def _log_to_stderr() -> None:
    """Show the library's warnings (skipped lines, undelivered spans) on stderr, once."""
    logger = logging.getLogger("agent_tracing")
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("agent-tracing: warning: %(message)s"))
        logger.addHandler(handler)


if __name__ == "__main__":
    sys.exit(main())
