"""Failures inside tracing: logged once per cause, counted, never raised to the caller."""

from __future__ import annotations

import logging
import threading
from collections import Counter

logger = logging.getLogger("agent_tracing")

_counts: Counter[str] = Counter()
_lock = threading.Lock()


def report(cause: str, exc: BaseException) -> None:
    """Record a failure inside tracing; log it the first time its cause is seen."""
    with _lock:
        _counts[cause] += 1
        first = _counts[cause] == 1
    if first:
        logger.warning(
            "agent-tracing: %s failed (%s: %s); the traced code goes on, further failures of this kind are only counted",
            cause,
            type(exc).__name__,
            exc,
        )


def error_counts() -> dict[str, int]:
    """How many failures inside tracing were seen, by cause."""
    with _lock:
        return dict(_counts)


def reset_error_counts() -> None:
    """Forget the failures seen so far (tests, long-lived notebooks)."""
    with _lock:
        _counts.clear()
