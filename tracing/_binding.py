"""What `@trace` binds a call's arguments against, and how a span ends without a processor's failure escaping.

Both are used by `tracing._decorator` (once per decoration and once per span end), kept here so the rules stay in
one place: `binding_target` for inputs by name (SPEC 3.5), `end_span` for SPEC 3.2.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from tracing._errors import report


def binding_target(func: Callable[..., Any]) -> Callable[..., Any]:
    """The function whose signature names a traced callable's arguments.

    A bound method (`agent.square`, or a classmethod reached through its class, `Agent.make`) is called with its
    `self`/`cls` already bound, and the wrapper is handed that instance; its signature must then be the function's
    own, `self`/`cls` first, so that leaving the instance out leaves the other names in place.
    """
    return func.__func__ if inspect.ismethod(func) else func


def end_span(span: Any) -> None:
    """End a span; a span processor failing in `on_end` is reported and counted, never raised to the traced code."""
    try:
        span.end()
    except Exception as exc:  # noqa: BLE001 - SPEC 3.2: a processor's failure never reaches the caller
        report("ending a span", exc)
