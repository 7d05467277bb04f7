"""Messages speak the user's words: no internal class names, and one `agent-tracing:` prefix on the command line."""

from __future__ import annotations

import contextlib
import io
import logging

import pytest

from exporters.cli import _log_to_stderr
from exporters.failures import report


class _OwnError(Exception):
    pass


_OwnError.__module__ = "exporters._delivery"  # as if it were one of ours


@pytest.mark.provokes_failures("exporter ResilientExporter", "exporter MyExporter")
def test_failures_name_no_internal_class(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="agent_tracing"):
        report("exporter ResilientExporter", _OwnError("12 spans could not be delivered"))
        report("exporter MyExporter", OSError(28, "No space left on device"))
    first, second = (r.getMessage() for r in caplog.records)
    assert first.startswith("OTLP exporter failed (12 spans could not be delivered)")
    assert "ResilientExporter" not in first and "_OwnError" not in first
    assert second.startswith("exporter MyExporter failed (OSError: [Errno 28] No space left on device)")
    assert not any(m.startswith("agent-tracing:") for m in (first, second))


def test_the_command_line_prints_one_prefix_per_line() -> None:
    _log_to_stderr()
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        logging.getLogger("agent_tracing.exporters").warning("agent-tracing: %d spans could not be delivered", 3)
        logging.getLogger("agent_tracing").warning("a name with \x1b[2J and\nanother line")
    lines = err.getvalue().splitlines()
    assert lines == [
        "agent-tracing: warning: 3 spans could not be delivered",
        "agent-tracing: warning: a name with \\x1b[2J and\\nanother line",
    ]
