"""Stream OTLP JSON Lines trace files (plain or gzip) into span records, skipping bad lines with a warning."""

from __future__ import annotations

import base64
import gzip
import json
import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, cast

from tracing import keys

logger = logging.getLogger("agent_tracing.exporters")

_KINDS = {0: "UNSPECIFIED", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
_STATUS = {0: "UNSET", 1: "OK", 2: "ERROR"}
_KIND_NAMES = {f"SPAN_KIND_{name}": name for name in _KINDS.values()}
_STATUS_NAMES = {f"STATUS_CODE_{name}": name for name in _STATUS.values()}


class TraceFileError(Exception):
    """An unreadable trace file or line; the message names the file and, when known, the line."""

    def __init__(self, path: str, line: int | None, reason: str) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {reason}")


@dataclass(slots=True)
class SpanEvent:
    """A span event: name, time and attributes."""

    name: str
    time_unix_nano: int
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class SpanLink:
    """A link to another span."""

    trace_id: str
    span_id: str
    attributes: dict[str, Any] = field(default_factory=dict)
    trace_state: str = ""


@dataclass(slots=True)
class SpanRecord:
    """One span read back from a trace file, with its resource and scope."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    start_time_unix_nano: int
    end_time_unix_nano: int
    attributes: dict[str, Any]
    events: list[SpanEvent]
    links: list[SpanLink]
    status_code: str
    status_message: str
    resource: dict[str, Any]
    scope_name: str
    scope_version: str
    trace_state: str = ""
    flags: int = 0

    @property
    def duration_ms(self) -> float:
        """Span duration in milliseconds."""
        return (self.end_time_unix_nano - self.start_time_unix_nano) / 1e6

    @property
    def span_type(self) -> str:
        """The agent-tracing span type (falls back to the OpenInference kind, then UNKNOWN)."""
        value = self.attributes.get(keys.SPAN_TYPE) or self.attributes.get(keys.SPAN_KIND)
        return str(value) if value else "UNKNOWN"

    @property
    def service_name(self) -> str:
        """The resource's service.name, or 'unknown_service'."""
        return str(self.resource.get(keys.SERVICE_NAME, "unknown_service"))


def read_spans(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    strict: bool = False,
    skipped: list[TraceFileError] | None = None,
) -> Iterator[SpanRecord]:
    """Yield every span of the given files in order; bad lines are skipped with a warning (appended to `skipped`; raised when strict)."""
    for path, number, line in iter_lines(paths):
        try:
            yield from records_from_payload(json.loads(line))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            problem = TraceFileError(str(path), number, f"skipped an unreadable line ({type(exc).__name__}: {exc})")
            if strict:
                raise problem from exc
            if skipped is not None:
                skipped.append(problem)
            logger.warning("%s", problem)


def iter_lines(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> Iterator[tuple[Path, int, bytes]]:
    """Yield (file, line number from 1, raw line) for every non-blank line; raise TraceFileError if a file cannot be opened."""
    for path in _as_paths(paths):
        stream, raw = open_trace_file(path)
        with raw, stream:
            number = 0
            try:
                for number, line in enumerate(stream, start=1):
                    if line.strip():
                        yield path, number, line
            except (OSError, EOFError) as exc:
                logger.warning("%s", TraceFileError(str(path), number + 1, f"stopped reading a damaged file ({exc})"))


def open_trace_file(path: str | os.PathLike[str]) -> tuple[BinaryIO, BinaryIO]:
    """Open a plain or gzip trace file: (decoded line stream, raw file whose tell() is the on-disk position)."""
    try:
        raw = open(path, "rb")
    except OSError as exc:
        raise TraceFileError(str(path), None, f"cannot open ({exc.strerror or exc})") from exc
    if raw.read(2) == b"\x1f\x8b":
        raw.seek(0)
        return cast(BinaryIO, gzip.GzipFile(fileobj=raw, mode="rb")), raw
    raw.seek(0)
    return raw, raw


def _as_paths(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[Path]:
    if isinstance(paths, (str, os.PathLike)):
        return [Path(paths)]
    return [Path(p) for p in paths]


def records_from_payload(payload: dict[str, Any]) -> Iterator[SpanRecord]:
    """Decode one `{"resourceSpans": [...]}` object; validate it whole before yielding anything."""
    records: list[SpanRecord] = []
    for resource_spans in payload["resourceSpans"]:
        resource = _attributes((resource_spans.get("resource") or {}).get("attributes"))
        for scope_spans in resource_spans.get("scopeSpans") or ():
            scope = scope_spans.get("scope") or {}
            scope_name = scope.get("name", "")
            scope_version = scope.get("version", "")
            for span in scope_spans.get("spans") or ():
                status = span.get("status") or {}
                records.append(
                    SpanRecord(
                        trace_id=_hex_id(span["traceId"], 32),
                        span_id=_hex_id(span["spanId"], 16),
                        parent_span_id=_hex_id(span["parentSpanId"], 16) if span.get("parentSpanId") else None,
                        name=span.get("name", ""),
                        kind=_enum(span.get("kind", 0), _KINDS, _KIND_NAMES),
                        start_time_unix_nano=int(span.get("startTimeUnixNano", 0)),
                        end_time_unix_nano=int(span.get("endTimeUnixNano", 0)),
                        attributes=_attributes(span.get("attributes")),
                        events=[
                            SpanEvent(e.get("name", ""), int(e.get("timeUnixNano", 0)), _attributes(e.get("attributes")))
                            for e in span.get("events") or ()
                        ],
                        links=[
                            SpanLink(
                                _hex_id(link["traceId"], 32),
                                _hex_id(link["spanId"], 16),
                                _attributes(link.get("attributes")),
                                link.get("traceState", ""),
                            )
                            for link in span.get("links") or ()
                        ],
                        status_code=_enum(status.get("code", 0), _STATUS, _STATUS_NAMES),
                        status_message=status.get("message", ""),
                        resource=resource,
                        scope_name=scope_name,
                        scope_version=scope_version,
                        trace_state=span.get("traceState", ""),
                        flags=int(span.get("flags", 0)),
                    )
                )
    return iter(records)


def _hex_id(value: str, length: int) -> str:
    if len(value) != length:
        raise ValueError(f"id {value!r} is not {length} hex digits")
    int(value, 16)
    return value.lower()


def _enum(value: int | str, by_number: dict[int, str], by_name: dict[str, str]) -> str:
    if isinstance(value, str):
        return by_name.get(value, value)
    return by_number.get(value, str(value))


def _attributes(items: list[dict[str, Any]] | None) -> dict[str, Any]:
    if not items:
        return {}
    return {item["key"]: _any_value(item.get("value") or {}) for item in items}


def _any_value(value: dict[str, Any]) -> Any:
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "arrayValue" in value:
        return [_any_value(v) for v in (value["arrayValue"] or {}).get("values") or ()]
    if "kvlistValue" in value:
        return _attributes((value["kvlistValue"] or {}).get("values"))
    if "bytesValue" in value:
        return base64.b64decode(value["bytesValue"])
    return None


def read_all(paths: Sequence[str]) -> list[SpanRecord]:
    """Read every span of the files; a file that cannot be opened, or holds no readable line, is a usage error."""
    records: list[SpanRecord] = []
    for path in paths:
        problems: list[TraceFileError] = []
        found = list(read_spans(path, skipped=problems))
        if not found and problems:
            raise TraceFileError(problems[0].path, problems[0].line, f"not an OTLP JSON trace file ({problems[0].reason})")
        records.extend(found)
    return records
