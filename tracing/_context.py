"""Per-request context: session, user, tags, metadata and suppression, carried by context variables."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context

if TYPE_CHECKING:
    from tracing._recorder import Recorder


class Scope:
    """What `using_attributes` set for the spans inside, recorded once per configuration."""

    __slots__ = ("session_id", "user_id", "tags", "metadata", "_recorder", "_attributes")

    def __init__(self, session_id: str | None = None, user_id: str | None = None, tags: Sequence[str] | None = None,
                 metadata: Mapping[str, Any] | None = None) -> None:
        self.session_id = session_id
        self.user_id = user_id
        self.tags = tags
        self.metadata: Mapping[str, Any] = metadata or {}
        self._recorder: Recorder | None = None
        self._attributes: Mapping[str, Any] = {}

    def attributes(self, recorder: Recorder) -> Mapping[str, Any]:
        """The span attributes of this scope, as the recorder writes them (redacted, cut)."""
        if self._recorder is not recorder:
            self._attributes = recorder.scope_attributes(self.session_id, self.user_id, self.tags, self.metadata)
            self._recorder = recorder
        return self._attributes


EMPTY = Scope()
scope: ContextVar[Scope] = ContextVar("agent_tracing_scope", default=EMPTY)
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
    """Add `session.id`, `user.id`, `tag.tags` and `metadata` to every span started inside the block.

    Args:
        session_id: the conversation or session the spans belong to.
        user_id: the user they act for.
        metadata: a JSON-able mapping merged over the metadata of enclosing blocks (secret keys redacted).
        tags: a list of strings, replacing the tags of enclosing blocks.
        **extra: more metadata entries.
    """
    outer = scope.get()
    merged = {**outer.metadata, **(metadata or {}), **extra}
    inner = Scope(
        str(session_id) if session_id is not None else outer.session_id,
        str(user_id) if user_id is not None else outer.user_id,
        [str(tag) for tag in tags] if tags is not None else outer.tags,
        merged,
    )
    token = scope.set(inner)
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
