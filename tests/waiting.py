"""Waiting in tests: poll a condition and fail with a message at the deadline, never sleep for a guessed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

POLL_INTERVAL_S = 0.02


def wait_until(
    predicate: Callable[[], T],
    *,
    timeout_s: float,
    message: str | Callable[[], str],
    interval_s: float = POLL_INTERVAL_S,
) -> T:
    """Poll `predicate` every `interval_s` until it returns a truthy value, and return that value.

    Raises AssertionError(f"{message} (not after {timeout_s} s)") when the deadline passes first; `message` may be
    a callable, called at the deadline, to tell what was seen instead. An exception raised by the predicate goes
    straight to the caller (a server that died need not wait out the deadline).
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"{text} (not after {timeout_s} s)")
        time.sleep(interval_s)
