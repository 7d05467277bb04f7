"""Per-request context: session, user, extra attributes and suppression, carried by context variables."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, NamedTuple

from openinference.semconv.trace import SpanAttributes
from opentelemetry import context as otel_context


class _Scope(NamedTuple):
    attributes: Mapping[str, Any]
    metadata: Mapping[str, Any]


_EMPTY = _Scope({}, {})
scope: ContextVar[_Scope] = ContextVar("agent_tracing_scope", default=_EMPTY)
suppressed: ContextVar[bool] = ContextVar("agent_tracing_suppressed", default=False)


@contextmanager
def suppress_tracing() -> Iterator[None]:
    """Trace nothing inside this block, ours or other OpenTelemetry instrumentation."""
    token = suppressed.set(True)
    otel_token = otel_context.attach(otel_context.set_value(otel_context._SUPPRESS_INSTRUMENTATION_KEY, True))
    try:
        yield
    finally:
        otel_context.detach(otel_token)
        suppressed.reset(token)


@contextmanager
def using_attributes(
    *,
    session_id: str | None = None,
    user_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    tags: Sequence[str] | None = None,
    **extra: Any,
) -> Iterator[None]:
    """Add session, user, tags and metadata (extra keywords go into metadata) to every span inside."""
    outer = scope.get()
    attributes = dict(outer.attributes)
    merged = {**outer.metadata, **(metadata or {}), **extra}
    if session_id is not None:
        attributes[SpanAttributes.SESSION_ID] = str(session_id)
    if user_id is not None:
        attributes[SpanAttributes.USER_ID] = str(user_id)
    if tags is not None:
        attributes[SpanAttributes.TAG_TAGS] = [str(tag) for tag in tags]
    if merged:
        attributes[SpanAttributes.METADATA] = json.dumps(merged, default=str, ensure_ascii=False)
    token = scope.set(_Scope(attributes, merged))
    try:
        yield
    finally:
        scope.reset(token)


def using_session(session_id: str) -> Any:
    """Mark every span inside with `session.id`."""
    return using_attributes(session_id=session_id)


def using_user(user_id: str) -> Any:
    """Mark every span inside with `user.id`."""
    return using_attributes(user_id=user_id)
