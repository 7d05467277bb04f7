"""Route failures inside exporting to the core's error registry (imported lazily: no import cycle)."""

from __future__ import annotations


def report(cause: str, exc: BaseException) -> None:
    """Log the failure once per cause and count it, never raising."""
    from tracing._errors import report as _core_report

    _core_report(cause, exc)
