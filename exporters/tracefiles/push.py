"""Replay trace files to an OTLP collector (or Jaeger), keeping ids, parents, times and resources.

Delivery is paced: 429/503 answers slow the push down (their Retry-After honoured), a 413 halves the batch, and a
checkpoint records what the collector took so that a later `resume` sends only the rest, none twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

from exporters.tracefiles.reader import SpanRecord, TraceFileError, iter_records

logger = logging.getLogger("agent_tracing.exporters")

_REMOTE_KNOWN = 0x100
_REMOTE = 0x200
_THROTTLED = {429, 503}
_RETRYABLE = {408, 429, 500, 502, 503, 504}
_SPLIT_AFTER_FAILURES = 3
_MAX_WAIT_S = 30.0
_SECRET_WORDS = ("token", "key", "secret", "password", "passwd", "sig", "auth", "credential")


@dataclass
class PushResult:
    """What a push did: spans sent, spans refused or left undelivered, unreadable lines, retries and how it paced."""

    sent: int = 0
    failed: int = 0
    skipped_lines: int = 0
    already_sent: int = 0
    retries: int = 0
    throttled: int = 0
    splits: int = 0
    refused: int = 0
    stopped: str = ""

    @property
    def left(self) -> bool:
        """Whether anything was not delivered (the push should exit 1)."""
        return bool(self.failed or self.skipped_lines)


@dataclass
class _Position:
    """A place in the input: file index, line number, spans of that line already delivered."""

    file: int = 0
    line: int = 0
    span: int = 0


@dataclass
class Checkpoint:
    """What a push has delivered so far, for `resume`: the files (with a fingerprint of their start) and the position reached."""

    files: list[dict[str, Any]]
    endpoint: str
    position: _Position = field(default_factory=_Position)
    sent: int = 0
    done: bool = False

    @classmethod
    def start(cls, paths: Sequence[Path], endpoint: str) -> Checkpoint:
        """A checkpoint for a push of these files that has sent nothing yet."""
        return cls([{"path": str(path.resolve()), "head_sha256": _fingerprint(path)} for path in paths], mask_endpoint(endpoint))

    @classmethod
    def load(cls, path: Path, paths: Sequence[Path]) -> Checkpoint:
        """Read a checkpoint; ValueError naming --resume when it is missing, unreadable or made for other files."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            checkpoint = cls(list(data["files"]), str(data["endpoint"]), _Position(**data["position"]), int(data["sent"]), bool(data["done"]))
        except FileNotFoundError:
            raise ValueError(f"--resume: no checkpoint at {path} (push without --resume first)") from None
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise ValueError(f"--resume: cannot read the checkpoint {path} ({exc})") from None
        if [f.get("path") for f in checkpoint.files] != [str(p.resolve()) for p in paths]:
            raise ValueError(f"--resume: the checkpoint {path} was made for other files ({', '.join(str(f.get('path')) for f in checkpoint.files)})")
        for entry, source in zip(checkpoint.files, paths):
            if entry.get("head_sha256") != _fingerprint(source):
                raise ValueError(f"--resume: {source} is not the file the checkpoint {path} was made for (its start changed)")
        return checkpoint

    def save(self, path: Path) -> None:
        """Write the checkpoint atomically (a crash leaves the previous one)."""
        partial = path.with_name(path.name + ".partial")
        partial.write_text(json.dumps(asdict(self)), encoding="utf-8")
        os.replace(partial, path)


def _fingerprint(path: Path) -> str:
    """SHA-256 of the first 64 KiB: the same file, even after more lines were appended."""
    try:
        with open(path, "rb") as source:
            return hashlib.sha256(source.read(65536)).hexdigest()
    except OSError as exc:
        raise TraceFileError(str(path), None, f"cannot open ({exc.strerror or exc})") from None


def mask_endpoint(endpoint: str) -> str:
    """The endpoint fit to print: user and password, and query values under secret-looking names, as ***."""
    try:
        split = urlsplit(endpoint if "://" in endpoint else f"//{endpoint}")
        netloc = split.netloc
        if "@" in netloc:
            netloc = "***@" + netloc.rsplit("@", 1)[1]
        query = split.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            query = urlencode([(k, "***" if any(word in k.lower() for word in _SECRET_WORDS) else v) for k, v in pairs], safe="*")
        masked = urlunsplit((split.scheme, netloc, split.path, query, ""))
        return masked if "://" in endpoint else masked.removeprefix("//")
    except ValueError:
        return "(an endpoint that cannot be parsed)"


def push(
    paths: Iterable[str | os.PathLike[str]],
    endpoint: str,
    *,
    protocol: Literal["grpc", "http"] = "http",
    headers: dict[str, str] | None = None,
    batch_size: int = 512,
    timeout_s: float = 10.0,
    give_up_after_s: float = 120.0,
    on_progress: Callable[[int, int], None] | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    resume: bool = False,
) -> PushResult:
    """Send every span of the files to the endpoint in paced batches; give up after `give_up_after_s` without progress.

    on_progress(bytes_read, spans_sent) after each batch. With `checkpoint`, the position reached is saved after each
    delivered batch; with `resume`, the spans it records as delivered are not sent again.
    """
    files = [Path(p) for p in paths]
    state_path = Path(checkpoint) if checkpoint is not None else None
    if resume:
        if state_path is None:
            raise ValueError("--resume needs a checkpoint file")
        state = Checkpoint.load(state_path, files)
    else:
        state = Checkpoint.start(files, endpoint)
    result = PushResult(already_sent=state.sent if resume else 0)
    sender = _Sender(endpoint, protocol, headers, timeout_s, result)
    pacer = _Pacer(give_up_after_s, result)
    saver = _Saver(state_path, state)
    size = max(1, batch_size)
    try:
        with _quiet_sdk_logs():
            batch: list[tuple[ReadableSpan, _Position]] = []
            consumed = 0
            for consumed, item in _spans(files, state.position, result):
                batch.append(item)
                if len(batch) >= size:
                    size = _deliver(sender, pacer, batch, size, result, saver)
                    batch = []
                    if on_progress is not None:
                        on_progress(consumed, result.sent)
                    if result.stopped:
                        break
            if batch and not result.stopped:
                _deliver(sender, pacer, batch, size, result, saver)
            if result.stopped:
                result.failed += sum(1 for _ in _spans_after(files, saver.state.position))
            elif not result.failed:
                saver.finish()
    finally:
        sender.shutdown()
    if on_progress is not None:
        on_progress(-1, result.sent)
    return result


class _Saver:
    """Keeps the checkpoint: the position after the last delivered span, written after each batch."""

    def __init__(self, path: Path | None, state: Checkpoint) -> None:
        self.path = path
        self.state = state
        self._warned = False

    def advance(self, position: _Position, spans: int) -> None:
        self.state.position = _Position(position.file, position.line, position.span + 1)
        self.state.sent += spans
        self._save()

    def finish(self) -> None:
        self.state.done = True
        self._save()

    def _save(self) -> None:
        if self.path is None:
            return
        try:
            self.state.save(self.path)
        except OSError as exc:
            if not self._warned:
                self._warned = True
                logger.warning("cannot write the checkpoint %s (%s); --resume will not be possible", self.path, exc.strerror or exc)


def _deliver(sender: _Sender, pacer: _Pacer, batch: list[tuple[ReadableSpan, _Position]], size: int, result: PushResult, saver: _Saver) -> int:
    """Deliver one batch in order, splitting it on 413 (or repeated failure); return the batch size to use next."""
    parts = [batch]
    while parts:
        part = parts.pop(0)
        failures = 0
        while True:
            pacer.wait_turn()
            status = sender.send([span for span, _ in part])
            if status == 0:
                pacer.delivered()
                result.sent += len(part)
                saver.advance(part[-1][1], len(part))
                break
            too_large = status == 413
            if status is not None and status not in _RETRYABLE and not too_large:
                result.refused += 1
                result.failed += len(part)
                saver.advance(part[-1][1], 0)
                logger.warning("the collector refused %d spans for good (HTTP %d); they are counted as failed", len(part), status)
                break
            failures += 1
            if len(part) > 1 and (too_large or failures >= _SPLIT_AFTER_FAILURES):
                half = len(part) // 2
                parts[:0] = [part[:half], part[half:]]
                result.splits += 1
                size = max(1, min(size, half))
                break
            if too_large:
                result.refused += 1
                result.failed += 1
                saver.advance(part[-1][1], 0)
                logger.warning("the collector refused a single span as too large (HTTP 413); it is counted as failed")
                break
            if not pacer.retry(sender.retry_after):
                result.stopped = f"no progress for {pacer.give_up_after_s:g} s"
                return size
    return size


class _Pacer:
    """Adaptive pacing: a pause between batches that grows when the collector throttles and shrinks as batches get through."""

    def __init__(self, give_up_after_s: float, result: PushResult) -> None:
        self.give_up_after_s = give_up_after_s
        self.result = result
        self.gap_s = 0.0
        self.backoff_s = 0.5
        self.last_progress = time.monotonic()
        self._event = threading.Event()

    def wait_turn(self) -> None:
        if self.gap_s > 0:
            self._event.wait(self.gap_s)

    def delivered(self) -> None:
        self.last_progress = time.monotonic()
        self.backoff_s = 0.5
        self.gap_s = self.gap_s / 2 if self.gap_s > 0.01 else 0.0

    def retry(self, retry_after: float | None) -> bool:
        """Wait before retrying (Retry-After when the collector said so); False when the deadline has passed."""
        wait = retry_after if retry_after is not None else self.backoff_s * random.uniform(0.8, 1.2)
        wait = min(max(wait, 0.0), _MAX_WAIT_S)
        if time.monotonic() + wait > self.last_progress + self.give_up_after_s:
            return False
        self.result.retries += 1
        self.gap_s = min(max(self.gap_s * 2, 0.05), 5.0)
        self.backoff_s = min(self.backoff_s * 2, _MAX_WAIT_S)
        self._event.wait(wait)
        return True


class _Sender:
    """One SDK OTLP exporter and what the collector last answered (HTTP status and Retry-After)."""

    def __init__(self, endpoint: str, protocol: str, headers: dict[str, str] | None, timeout_s: float, result: PushResult) -> None:
        self.result = result
        self.status: int | None = None
        self.retry_after: float | None = None
        self.exporter = _otlp_exporter(endpoint, protocol, headers, timeout_s, self._observe)

    def send(self, spans: list[ReadableSpan]) -> int | None:
        """0 when delivered; else the last HTTP status seen (None when there was no answer)."""
        self.status = None
        self.retry_after = None
        try:
            outcome = self.exporter.export(spans)
        except Exception as exc:  # noqa: BLE001 - an exporter that raises is a failed attempt
            logger.debug("export raised %s", exc)
            return None
        return 0 if outcome is SpanExportResult.SUCCESS else self.status

    def _observe(self, response: Any, *args: Any, **kwargs: Any) -> None:
        """requests response hook: remember the status and Retry-After of every answer."""
        self.status = int(response.status_code)
        if self.status in _THROTTLED:
            self.result.throttled += 1
        self.retry_after = _retry_after(response.headers.get("Retry-After"))

    def shutdown(self) -> None:
        try:
            self.exporter.shutdown()
        except Exception as exc:  # noqa: BLE001
            logger.debug("exporter shutdown raised %s", exc)


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), or None."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return max(0.0, seconds) if seconds == seconds else None


@contextmanager
def _quiet_sdk_logs() -> Iterator[None]:
    """The SDK exporters' own retry and failure logs are silenced: push reports every outcome itself."""
    sdk = logging.getLogger("opentelemetry.exporter")
    level = sdk.level
    sdk.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        sdk.setLevel(level)


def _spans(files: list[Path], start: _Position, result: PushResult, warn: bool = True) -> Iterator[tuple[int, tuple[ReadableSpan, _Position]]]:
    """(bytes read so far, (span, its position)) for every span from `start` on; unreadable lines counted as skipped."""
    cache = _Cache()
    done = 0
    for index, path in enumerate(files):
        if index < start.file:
            done += path.stat().st_size
            continue
        skipped: list[TraceFileError] = []
        for _path, number, offset, records in iter_records([path], skipped=skipped, require_spans=True, warn=warn):
            if index == start.file and number < start.line:
                continue
            first = start.span if (index, number) == (start.file, start.line) else 0
            for position, record in enumerate(records):
                if position >= first:
                    yield done + offset, (to_readable_span(record, cache), _Position(index, number, position))
        if index > start.file or start.line == 0:
            result.skipped_lines += len(skipped)
        else:
            result.skipped_lines += sum(1 for problem in skipped if (problem.line or 0) > start.line)
        done += path.stat().st_size


def _spans_after(files: list[Path], position: _Position) -> Iterator[tuple[int, tuple[ReadableSpan, _Position]]]:
    """The spans not yet delivered, counted when a push stops early."""
    return _spans(files, position, PushResult(), warn=False)


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


def _trace_state(header: str) -> TraceState | None:
    return TraceState.from_header([header]) if header else None


def _otlp_exporter(endpoint: str, protocol: str, headers: dict[str, str] | None, timeout_s: float, observe: Callable[..., None]) -> SpanExporter:
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

        target = endpoint if "://" in endpoint else f"http://{endpoint}"
        return GrpcExporter(endpoint=target, headers=headers, timeout=timeout_s)
    if protocol != "http":
        raise ValueError(f"--protocol must be grpc or http, not {protocol!r}")
    import requests
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

    url = endpoint if "://" in endpoint else f"http://{endpoint}"
    scheme, rest = url.split("://", 1)
    if "/" not in rest.rstrip("/"):
        url = f"{scheme}://{rest.rstrip('/')}/v1/traces"
    session = requests.Session()
    session.hooks["response"].append(observe)
    return HttpExporter(endpoint=url, headers=headers, timeout=timeout_s, session=session)
