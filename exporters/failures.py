"""Failures inside the tracing pipeline: logged once per cause, counted, never raised to the traced code (SPEC 3.2).

The one registry of the project: the SDK components here and the instrumentation in `tracing` both report to
it, and `tracing.error_counts()` reads it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter

logger = logging.getLogger("agent_tracing")

_counts: Counter[str] = Counter()
_lock = threading.Lock()


def _fresh_lock_in_child() -> None:
    """A forked child gets a lock of its own (the parent's may have been held by another thread at the fork)."""
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_fresh_lock_in_child)


def report(cause: str, exc: BaseException) -> None:
    """Count a failure of `cause`; log it the first time that cause is seen."""
    with _lock:
        _counts[cause] += 1
        first = _counts[cause] == 1
    if first:
        logger.warning(
            "%s failed (%s); the traced code goes on, further failures of this kind are only counted", _user_words(cause), _detail(exc)
        )


_OURS = ("tracing", "exporters")
_CLASS_WORDS = {
    "ResilientExporter": "OTLP exporter",
    "GuardedExporter": "exporter",
    "FileSpanExporter": "file exporter",
    "CountingBatchSpanProcessor": "batch processor",
}
"""How messages name our own classes (users configure URIs, not classes)."""


def _user_words(cause: str) -> str:
    """The cause as users know it: our class names replaced, no leading product prefix (the CLI adds one)."""
    for name, words in _CLASS_WORDS.items():
        cause = cause.replace(f"exporter {name}", words).replace(name, words)
    return cause.removeprefix("agent-tracing: ")


def _detail(exc: BaseException) -> str:
    """What went wrong: the message of our own exceptions, `Type: message` for anyone else's."""
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001 - an exception that cannot be printed is still counted
        text = ""
    if type(exc).__module__.split(".")[0] in _OURS:
        return text or "no detail"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def error_counts() -> dict[str, int]:
    """How many failures inside tracing were seen, by cause."""
    with _lock:
        return dict(_counts)


def reset_error_counts() -> None:
    """Forget the failures seen so far (tests, long-lived notebooks)."""
    with _lock:
        _counts.clear()
