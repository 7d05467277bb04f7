"""Trace context across processes: W3C ``traceparent``/``tracestate`` through the OpenTelemetry propagator."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.propagators.textmap import Getter

from tracing._errors import report


class _CaseInsensitiveGetter(Getter[Mapping[str, Any]]):
    """Reads carrier keys whatever their case (``Traceparent`` from urllib, HTTP header objects)."""

    def get(self, carrier: Mapping[str, Any], key: str) -> list[str] | None:
        """The values of a key, looked up case-insensitively."""
        value = carrier.get(key.lower())
        if value is None:
            return None
        return list(value) if isinstance(value, (list, tuple)) else [str(value)]

    def keys(self, carrier: Mapping[str, Any]) -> list[str]:
        """The carrier's keys."""
        return list(carrier.keys())


_GETTER = _CaseInsensitiveGetter()


def inject(carrier: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write the current trace context (``traceparent``, ``tracestate``) into ``carrier`` and return it."""
    if carrier is None:
        carrier = {}
    try:
        propagate.inject(carrier)
    except Exception as exc:
        report("trace context injection", exc)
    return carrier


def extract(carrier: Any) -> otel_context.Context | None:
    """The remote trace context a carrier holds, or None when it holds no valid one."""
    try:
        if not carrier:
            return None
        lowered = {str(key).lower(): value for key, value in carrier.items()}
        remote = propagate.extract(lowered, getter=_GETTER)
    except Exception as exc:
        report("trace context extraction", exc)
        return None
    if not trace.get_current_span(remote).get_span_context().is_valid:
        return None
    return remote


@contextlib.contextmanager
def continue_trace(carrier: Any) -> Iterator[otel_context.Context | None]:
    """Make spans started inside the block children of the trace context a carrier holds (headers, dict)."""
    remote = extract(carrier)
    if remote is None:
        yield None
        return
    token = otel_context.attach(remote)
    try:
        yield remote
    finally:
        otel_context.detach(token)
