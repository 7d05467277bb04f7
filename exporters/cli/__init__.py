"""The `agent-tracing` command: argument parsing and exit codes (SPEC 6); each subcommand lives in its own module."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from exporters.cli.errors import EXIT_USAGE, UsageError
from exporters.cli.evaluation import evaluate_args, evaluate_command, retrievals_args, retrievals_command
from exporters.cli.tracefiles import jaeger_args, jaeger_command, push_args, push_command, view_args, view_command
from exporters.tracefiles.reader import TraceFileError
from exporters.tracefiles.view import safe as printable
from tracing import __version__

Command = tuple[str, str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]


def _demo_args(parser: argparse.ArgumentParser) -> None:
    """The demo takes no arguments."""


def _demo(args: argparse.Namespace) -> int:
    from exporters.demo import run

    return run()


COMMANDS: list[Command] = [
    ("view", "show trace files as a tree per trace", view_args, view_command),
    ("jaeger", "convert trace files to Jaeger UI JSON", jaeger_args, jaeger_command),
    ("push", "replay trace files to an OTLP collector or Jaeger", push_args, push_command),
    ("retrievals", "export the retriever spans as an evaluation data set (JSONL or CSV)", retrievals_args, retrievals_command),
    ("evaluate", "score the retriever spans against ground truth: precision, recall, hit rate, MRR, nDCG", evaluate_args, evaluate_command),
    ("demo", "run the RAG example traced to traces/traces.jsonl, show a trace and evaluate its retrievals", _demo_args, _demo),
]
"""Subcommands as (name, help, add arguments, run); a new subcommand is one more entry."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line naming the option, exit 2 (SPEC 6)."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {printable(message)} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand of COMMANDS."""
    parser = _Parser(prog="agent-tracing", description="Trace AI agents with OpenTelemetry: read, convert and replay trace files.")
    parser.add_argument("--version", action="version", version=f"agent-tracing {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
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
    except (TraceFileError, UsageError, ValueError) as exc:
        return _fail(args.command, str(exc))
    except OSError as exc:
        return _fail(args.command, f"{exc.filename or ''}: {exc.strerror or exc}")
    except RecursionError:
        return _fail(args.command, "the input is nested too deeply to read")
    except MemoryError:
        return _fail(args.command, "the input does not fit in memory")
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - SPEC 6: never a traceback; say what broke in one line
        return _fail(args.command, f"could not finish ({type(exc).__name__}: {exc}); please report this with the input that caused it")


def _fail(command: str, message: str) -> int:
    """Print the one-line error of a command; exit 2."""
    print(f"agent-tracing {command}: error: {printable(message)}", file=sys.stderr)
    return EXIT_USAGE


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time of each record."""

    @property
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


class _OnePrefix(logging.Formatter):
    """Formats a warning with one `agent-tracing:` prefix (a message that brings its own loses it), on one printable line."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if message.startswith("agent-tracing: "):
            record = logging.makeLogRecord({**record.__dict__, "msg": message.removeprefix("agent-tracing: "), "args": None})
        return printable(super().format(record))


def _log_to_stderr() -> None:
    """Show the library's warnings (skipped lines, undelivered spans) on stderr, once."""
    logger = logging.getLogger("agent_tracing")
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(_OnePrefix("agent-tracing: warning: %(message)s"))
        logger.addHandler(handler)
