"""Stream OTLP JSON Lines trace files (plain or gzip) into span records, skipping bad lines with a warning."""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import logging
import os
import re
import zlib
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
_HEX = re.compile(r"[0-9a-fA-F]+")
_DECIMAL = re.compile(r"-?[0-9]{1,25}")
MAX_NESTING = 32
"""Deepest list or map inside an attribute value a reader accepts."""
MAX_WARNINGS = 20
"""Unreadable lines warned about per file; the rest are counted in one closing warning."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class TraceFileError(Exception):
    """An unreadable trace file or line; the message names the file and, when known, the line."""

    def __init__(self, path: str, line: int | None, reason: str) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        where = f"{path}:{line}" if line is not None else path
        super().__init__(_printable(f"{where}: {reason}"))


def _printable(text: str) -> str:
    """One line of text with control characters shown as escapes (file names and reasons may hold anything)."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text).encode("utf-8", "backslashreplace").decode("utf-8")


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
    require_spans: bool = False,
) -> Iterator[SpanRecord]:
    """Yield every span of the given files in order; bad lines are skipped with a warning (appended to `skipped`; raised when strict).

    A damaged compressed file raises TraceFileError; so does a file without any readable span when `require_spans`.
    """
    for _path, _number, _offset, records in iter_records(paths, strict=strict, skipped=skipped, require_spans=require_spans):
        yield from records


def iter_records(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    strict: bool = False,
    skipped: list[TraceFileError] | None = None,
    require_spans: bool = False,
    warn: bool = True,
) -> Iterator[tuple[Path, int, int, list[SpanRecord]]]:
    """Yield (file, line number, on-disk offset after the line, its spans) for every line holding spans (see read_spans;
    `warn=False` for a second pass that must not warn again)."""
    for path in _as_paths(paths):
        problems = _Problems(path, strict, skipped, warn)
        found = False
        stream, raw = open_trace_file(path)
        with raw, stream:
            number = 0
            try:
                for number, line in enumerate(stream, start=1):
                    if not line.strip():
                        continue
                    try:
                        records = decode_line(line)
                    except UnreadableLine as exc:
                        problems.add(number, str(exc))
                        continue
                    if records:
                        if not found:
                            found = True
                            problems.release()
                        yield path, number, raw.tell(), records
            except (OSError, EOFError, zlib.error) as exc:
                raise TraceFileError(str(path), number + 1, f"damaged file, cannot read on ({_os_reason(exc)})") from None
        problems.finish(found, require_spans)


class UnreadableLine(ValueError):
    """A line that is not an OTLP JSON `{"resourceSpans": [...]}` object; the message says why."""


def decode_line(line: bytes | str) -> list[SpanRecord]:
    """The spans of one trace-file line; raise UnreadableLine saying what is wrong."""
    try:
        payload = json.loads(line)
    except RecursionError:
        raise UnreadableLine("not JSON (nested too deeply)") from None
    except ValueError as exc:
        raise UnreadableLine(f"not JSON ({exc})") from None
    try:
        return list(records_from_payload(payload))
    except UnreadableLine:
        raise
    except RecursionError:
        raise UnreadableLine("nested too deeply") from None
    except Exception as exc:  # noqa: BLE001 - any malformed structure is an unreadable line, never a crash
        raise UnreadableLine(f"not an OTLP span line ({exc})") from None


class _Problems:
    """Unreadable lines of one file: warnings are held until the file shows a readable span, so a file of nothing
    but bad lines ends in one error instead of a warning per line; at most MAX_WARNINGS are logged per file."""

    def __init__(self, path: Path, strict: bool, skipped: list[TraceFileError] | None, warn: bool = True) -> None:
        self.warn = warn
        self.path = path
        self.strict = strict
        self.skipped = skipped
        self.held: list[TraceFileError] = []
        self.count = 0
        self.released = False

    def add(self, line: int, reason: str) -> None:
        problem = TraceFileError(str(self.path), line, f"skipped an unreadable line: {reason}")
        if self.strict:
            raise problem
        self.count += 1
        if self.skipped is not None:
            self.skipped.append(problem)
        if self.count > MAX_WARNINGS:
            return
        if self.released:
            self._log(problem)
        else:
            self.held.append(problem)

    def release(self) -> None:
        self.released = True
        for problem in self.held:
            self._log(problem)
        self.held = []

    def finish(self, found: bool, require_spans: bool) -> None:
        if not found and require_spans:
            if self.count:
                first = self.held[0] if self.held else None
                line = first.line if first else None
                reason = first.reason.removeprefix("skipped an unreadable line: ") if first else "unreadable"
                more = f"; {self.count - 1} more unreadable lines" if self.count > 1 else ""
                raise TraceFileError(str(self.path), line, f"no readable span in this file: {reason}{more}")
            raise TraceFileError(str(self.path), None, "no span in this file")
        self.release()
        if self.count > MAX_WARNINGS and self.warn:
            logger.warning("%s: %d more unreadable lines skipped", _printable(str(self.path)), self.count - MAX_WARNINGS)

    def _log(self, problem: TraceFileError) -> None:
        if self.warn:
            logger.warning("%s", problem)


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        return "it ends in the middle of compressed data"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def open_trace_file(path: str | os.PathLike[str]) -> tuple[BinaryIO, BinaryIO]:
    """Open a plain or gzip trace file: (decoded line stream, raw file whose tell() is the on-disk position)."""
    try:
        raw = open(path, "rb")
    except OSError as exc:
        raise TraceFileError(str(path), None, f"cannot open ({exc.strerror or exc})") from exc
    try:
        magic = raw.read(2)
    except OSError as exc:
        raw.close()
        raise TraceFileError(str(path), None, f"cannot read ({exc.strerror or exc})") from exc
    raw.seek(0)
    if magic == b"\x1f\x8b":
        return cast(BinaryIO, gzip.GzipFile(fileobj=raw, mode="rb")), raw
    return raw, raw


def _as_paths(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[Path]:
    if isinstance(paths, (str, os.PathLike)):
        return [Path(paths)]
    return [Path(p) for p in paths]


def records_from_payload(payload: Any) -> Iterator[SpanRecord]:
    """Decode one `{"resourceSpans": [...]}` object; validate it whole before yielding anything (ValueError says what is wrong)."""
    if not isinstance(payload, dict) or "resourceSpans" not in payload:
        raise UnreadableLine('not an OTLP JSON object (no "resourceSpans")')
    records: list[SpanRecord] = []
    for resource_spans in _list(payload["resourceSpans"], "resourceSpans"):
        resource_spans = _object(resource_spans, "resourceSpans[]")
        resource = _attributes(_object(resource_spans.get("resource"), "resource").get("attributes"), "resource attributes")
        for scope_spans in _list(resource_spans.get("scopeSpans"), "scopeSpans"):
            scope_spans = _object(scope_spans, "scopeSpans[]")
            scope = _object(scope_spans.get("scope"), "scope")
            scope_name = _text(scope.get("name"), "scope name")
            scope_version = _text(scope.get("version"), "scope version")
            for span in _list(scope_spans.get("spans"), "spans"):
                records.append(_span(_object(span, "span"), resource, scope_name, scope_version))
    return iter(records)


def _span(span: dict[str, Any], resource: dict[str, Any], scope_name: str, scope_version: str) -> SpanRecord:
    status = _object(span.get("status"), "status")
    parent = span.get("parentSpanId")
    return SpanRecord(
        trace_id=_hex_id(span.get("traceId"), 32, "traceId"),
        span_id=_hex_id(span.get("spanId"), 16, "spanId"),
        parent_span_id=_hex_id(parent, 16, "parentSpanId") if parent else None,
        name=_text(span.get("name"), "name"),
        kind=_enum(span.get("kind"), _KINDS, _KIND_NAMES, "kind"),
        start_time_unix_nano=_unsigned(span.get("startTimeUnixNano"), "startTimeUnixNano"),
        end_time_unix_nano=_unsigned(span.get("endTimeUnixNano"), "endTimeUnixNano"),
        attributes=_attributes(span.get("attributes"), "attributes"),
        events=[_event(_object(e, "event")) for e in _list(span.get("events"), "events")],
        links=[_link(_object(link, "link")) for link in _list(span.get("links"), "links")],
        status_code=_enum(status.get("code"), _STATUS, _STATUS_NAMES, "status code"),
        status_message=_text(status.get("message"), "status message"),
        resource=resource,
        scope_name=scope_name,
        scope_version=scope_version,
        trace_state=_text(span.get("traceState"), "traceState"),
        flags=_unsigned(span.get("flags"), "flags", bits=32),
    )


def _event(event: dict[str, Any]) -> SpanEvent:
    return SpanEvent(_text(event.get("name"), "event name"), _unsigned(event.get("timeUnixNano"), "event timeUnixNano"),
                     _attributes(event.get("attributes"), "event attributes"))


def _link(link: dict[str, Any]) -> SpanLink:
    return SpanLink(_hex_id(link.get("traceId"), 32, "link traceId"), _hex_id(link.get("spanId"), 16, "link spanId"),
                    _attributes(link.get("attributes"), "link attributes"), _text(link.get("traceState"), "link traceState"))


def _kind_of(value: Any) -> str:
    """A JSON value's kind in the user's words."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _object(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UnreadableLine(f"{what} is {_kind_of(value)}, not an object")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise UnreadableLine(f"{what} is {_kind_of(value)}, not a list")
    return value


def _text(value: Any, what: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise UnreadableLine(f"{what} is {_kind_of(value)}, not a string")
    return value if value.isascii() else _utf8(value)


def _utf8(value: str) -> str:
    """The text with lone surrogates (JSON escapes UTF-8 cannot hold) replaced by U+FFFD."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return value


def _integer(value: Any, what: str, low: int, high: int) -> int:
    """An integer field, as JSON number or decimal string (proto3 JSON), within [low, high)."""
    if value is None:
        return 0
    if isinstance(value, bool):
        raise UnreadableLine(f"{what} is a boolean, not an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise UnreadableLine(f"{what} is not an integer")
        number = int(value)
    elif isinstance(value, int):
        number = value
    elif isinstance(value, str) and _DECIMAL.fullmatch(value):
        number = int(value)
    else:
        raise UnreadableLine(f"{what} is {_kind_of(value)}, not an integer")
    if not low <= number < high:
        raise UnreadableLine(f"{what} is out of range")
    return number


def _unsigned(value: Any, what: str, bits: int = 64) -> int:
    return _integer(value, what, 0, 1 << bits)


def _hex_id(value: Any, length: int, what: str) -> str:
    if not isinstance(value, str) or not _HEX.fullmatch(value) or len(value) != length:
        raise UnreadableLine(f"{what} is not {length} hex digits")
    return value.lower()


def _enum(value: Any, by_number: dict[int, str], by_name: dict[str, str], what: str) -> str:
    if value is None:
        return by_number[0]
    if isinstance(value, str):
        return by_name.get(value, value)
    return by_number.get(_integer(value, what, -(1 << 31), 1 << 31), str(value))


def _attributes(items: Any, what: str, depth: int = 0) -> dict[str, Any]:
    if depth > MAX_NESTING:
        raise UnreadableLine(f"{what} nested deeper than {MAX_NESTING} levels")
    found: dict[str, Any] = {}
    for item in _list(items, what):
        item = _object(item, what)
        key = item.get("key")
        if not isinstance(key, str):
            raise UnreadableLine(f"{what}: a key is {_kind_of(key)}, not a string")
        key = _text(key, what)
        found[key] = _any_value(_object(item.get("value"), f"{what} {key!r}"), f"{what} {key!r}", depth)
    return found


def _any_value(value: dict[str, Any], what: str, depth: int) -> Any:
    if "stringValue" in value:
        return _text(value["stringValue"], what)
    if "intValue" in value:
        return _integer(value["intValue"], what, -(1 << 63), 1 << 63)
    if "doubleValue" in value:
        return _double(value["doubleValue"], what)
    if "boolValue" in value:
        if not isinstance(value["boolValue"], bool):
            raise UnreadableLine(f"{what} is {_kind_of(value['boolValue'])}, not a boolean")
        return value["boolValue"]
    if depth >= MAX_NESTING:
        raise UnreadableLine(f"{what} nested deeper than {MAX_NESTING} levels")
    if "arrayValue" in value:
        values = _object(value["arrayValue"], what).get("values")
        return [_any_value(_object(v, what), what, depth + 1) for v in _list(values, what)]
    if "kvlistValue" in value:
        return _attributes(_object(value["kvlistValue"], what).get("values"), what, depth + 1)
    if "bytesValue" in value:
        try:
            return base64.b64decode(_text(value["bytesValue"], what), validate=True)
        except binascii.Error:
            raise UnreadableLine(f"{what} is not base64") from None
    return None


def _double(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise UnreadableLine(f"{what} is {_kind_of(value)}, not a number")
    try:
        return float(value)
    except (ValueError, OverflowError):
        raise UnreadableLine(f"{what} is not a number") from None


def read_all(paths: Sequence[str]) -> list[SpanRecord]:
    """Read every span of the files; a file that cannot be opened, is damaged or holds no readable span is a usage error."""
    return list(read_spans(paths, require_spans=True))
