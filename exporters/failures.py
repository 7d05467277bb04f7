"""Failures inside the tracing pipeline: logged once per cause, counted, never raised to the traced code (SPEC 3.2).

The one registry of the project: the SDK components here and the instrumentation in `tracing` both report to
it, and `tracing.error_counts()` reads it.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter

logger = logging.getLogger("agent_tracing")

_counts: Counter[str] = Counter()
_lock = threading.Lock()


def report(cause: str, exc: BaseException) -> None:
    """Count a failure of `cause`; log it the first time that cause is seen."""
    with _lock:
        _counts[cause] += 1
        first = _counts[cause] == 1
    if first:
        try:
            detail = f"{type(exc).__name__}: {exc}"
        except Exception:  # noqa: BLE001 - an exception that cannot be printed is still counted
            detail = type(exc).__name__
        logger.warning(
            "%s failed (%s); the traced code goes on, further failures of this kind are only counted", cause, detail
        )


def error_counts() -> dict[str, int]:
    """How many failures inside tracing were seen, by cause."""
    with _lock:
        return dict(_counts)


def reset_error_counts() -> None:
    """Forget the failures seen so far (tests, long-lived notebooks)."""
    with _lock:
        _counts.clear()
