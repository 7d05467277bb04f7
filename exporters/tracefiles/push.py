"""Replay trace files to an OTLP collector (or Jaeger), keeping ids, parents, times and resources."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

from exporters._delivery import ResilientExporter
from exporters.tracefiles.reader import SpanRecord, TraceFileError, logger, open_trace_file, records_from_payload

_REMOTE_KNOWN = 0x100
_REMOTE = 0x200


@dataclass
class PushResult:
    """What a push delivered: spans sent, spans that could not be delivered, lines skipped as unreadable."""

    sent: int = 0
    failed: int = 0
    skipped_lines: int = 0


def push(
    paths: Iterable[str | os.PathLike[str]],
    endpoint: str,
    *,
    protocol: Literal["grpc", "http"] = "http",
    headers: dict[str, str] | None = None,
    batch_size: int = 512,
    timeout_s: float = 10.0,
    give_up_after_s: float = 30.0,
    on_progress: Callable[[int, int], None] | None = None,
) -> PushResult:
    """Send every span of the files to the endpoint in batches with retries; on_progress(bytes_read, spans_sent) after each batch."""
    exporter = ResilientExporter(_otlp_exporter(endpoint, protocol, headers, timeout_s), give_up_after_s=give_up_after_s)
    result = PushResult()
    try:
        batch: list[ReadableSpan] = []
        for consumed, span in _spans_with_position([Path(p) for p in paths], result):
            batch.append(span)
            if len(batch) >= batch_size:
                _send(exporter, batch, result)
                batch = []
                if on_progress is not None:
                    on_progress(consumed, result.sent)
        if batch:
            _send(exporter, batch, result)
    finally:
        exporter.shutdown()
    if on_progress is not None:
        on_progress(-1, result.sent)
    return result


class _Resource(Resource):
    """A Resource whose hash is computed once (the SDK's encoder hashes the resource of every span)."""

    def __init__(self, attributes: dict[str, Any]) -> None:
        super().__init__(attributes)
        self._hash = super().__hash__()

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return self is other or super().__eq__(other)


class _Cache:
    """Resources and scopes shared by the spans of a push, so each is built and hashed once."""

    def __init__(self) -> None:
        self.resources: dict[str, Resource] = {}
        self.scopes: dict[tuple[str, str], InstrumentationScope] = {}
        self._last: tuple[dict[str, Any], Resource] | None = None

    def resource(self, attributes: dict[str, Any]) -> Resource:
        """The Resource for these attributes (records of one line share one dict: looked up once)."""
        if self._last is not None and self._last[0] is attributes:
            return self._last[1]
        key = json.dumps(attributes, sort_keys=True, default=repr)
        resource = self.resources.get(key)
        if resource is None:
            resource = self.resources[key] = _Resource(attributes)
        self._last = (attributes, resource)
        return resource

    def scope(self, name: str, version: str) -> InstrumentationScope:
        """The InstrumentationScope for (name, version)."""
        scope = self.scopes.get((name, version))
        if scope is None:
            scope = self.scopes[(name, version)] = InstrumentationScope(name, version or None)
        return scope


def to_readable_span(record: SpanRecord, cache: _Cache | None = None) -> ReadableSpan:
    """Rebuild an SDK ReadableSpan from a span record (same ids, parent, times, resource, scope, status)."""
    cache = cache or _Cache()
    trace_id = int(record.trace_id, 16)
    flags = record.flags
    state = _trace_state(record.trace_state)
    context = SpanContext(trace_id, int(record.span_id, 16), is_remote=False, trace_flags=TraceFlags(flags & 0xFF or TraceFlags.SAMPLED), trace_state=state)
    parent = None
    if record.parent_span_id:
        parent = SpanContext(trace_id, int(record.parent_span_id, 16), is_remote=bool(flags & _REMOTE_KNOWN and flags & _REMOTE))
    return ReadableSpan(
        name=record.name,
        context=context,
        parent=parent,
        resource=cache.resource(record.resource),
        attributes=record.attributes,
        events=[Event(e.name, e.attributes, e.time_unix_nano) for e in record.events],
        links=[
            Link(SpanContext(int(link.trace_id, 16), int(link.span_id, 16), is_remote=True, trace_state=_trace_state(link.trace_state)), link.attributes)
            for link in record.links
        ],
        kind=SpanKind[record.kind] if record.kind in SpanKind.__members__ else SpanKind.INTERNAL,
        status=Status(StatusCode[record.status_code], record.status_message or None)
        if record.status_code in StatusCode.__members__
        else Status(StatusCode.UNSET),
        start_time=record.start_time_unix_nano,
        end_time=record.end_time_unix_nano,
        instrumentation_scope=cache.scope(record.scope_name, record.scope_version),
    )


def _spans_with_position(paths: list[Path], result: PushResult) -> Iterator[tuple[int, ReadableSpan]]:
    cache = _Cache()
    done = 0
    for path in paths:
        stream, raw = open_trace_file(path)
        with raw, stream:
            number = 0
            try:
                for number, line in enumerate(stream, start=1):
                    if not line.strip():
                        continue
                    try:
                        records = list(records_from_payload(json.loads(line)))
                    except (ValueError, TypeError, KeyError, AttributeError) as exc:
                        result.skipped_lines += 1
                        logger.warning("%s", TraceFileError(str(path), number, f"skipped an unreadable line ({type(exc).__name__}: {exc})"))
                        continue
                    position = done + raw.tell()
                    for record in records:
                        yield position, to_readable_span(record, cache)
            except (OSError, EOFError) as exc:
                result.skipped_lines += 1
                logger.warning("%s", TraceFileError(str(path), number + 1, f"stopped reading a damaged file ({exc})"))
        done += path.stat().st_size


def _send(exporter: ResilientExporter, batch: list[ReadableSpan], result: PushResult) -> None:
    """Send one batch; after a batch is given up, later ones are not retried (the receiver is gone)."""
    lost_before = exporter.lost_spans
    exporter.export(batch)
    failed = exporter.lost_spans - lost_before
    if failed:
        exporter.begin_shutdown()
    result.failed += failed
    result.sent += len(batch) - failed


def _trace_state(header: str) -> TraceState | None:
    return TraceState.from_header([header]) if header else None


def _otlp_exporter(endpoint: str, protocol: str, headers: dict[str, str] | None, timeout_s: float) -> SpanExporter:
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

        target = endpoint if "://" in endpoint else f"http://{endpoint}"
        return GrpcExporter(endpoint=target, headers=headers, timeout=timeout_s)
    if protocol != "http":
        raise ValueError(f"protocol must be grpc or http, not {protocol!r}")
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

    url = endpoint if "://" in endpoint else f"http://{endpoint}"
    scheme, rest = url.split("://", 1)
    if "/" not in rest.rstrip("/"):
        url = f"{scheme}://{rest.rstrip('/')}/v1/traces"
    return HttpExporter(endpoint=url, headers=headers, timeout=timeout_s)
