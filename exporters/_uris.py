"""exporter_from_uri: build span exporters from the URIs of SPEC 7 and the standard OTEL_EXPORTER_OTLP_* variables."""

from __future__ import annotations

import functools
import logging
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from opentelemetry.sdk.trace.export import SpanExporter

from exporters._delivery import DeliveryControl, ResilientExporter
from exporters._file import FileSpanExporter

_TRUE = {"1", "true", "yes", "on"}
_GRPC_SCHEMES = {"otlp", "otlp+grpc"}
_GRPCS_SCHEMES = {"otlps", "otlp+grpcs"}
_HTTP_SCHEMES = {"otlp+http": "http", "otlp+https": "https", "http": "http", "https": "https"}


def exporter_from_uri(
    uri: str,
    *,
    headers: dict[str, str] | None = None,
    timeout_s: float | None = None,
    compression: str | None = None,
    certificate_file: str | None = None,
    fallback: str | os.PathLike[str] | None = None,
    protocol: str = "http/protobuf",
) -> SpanExporter:
    """Build the exporter a URI names: file://PATH or *.jsonl, otlp[+grpc]://HOST:PORT, otlp+http://HOST:PORT, http(s)://.../v1/traces.

    Without HOST:PORT (`otlp`, `otlp+grpc:`, `otlp+http:`) the SDK's exporter takes its endpoint from
    OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT; bare `otlp` uses `protocol` (`grpc` or `http/protobuf`; `configure` passes
    the one OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL names). Query options: fallback=PATH, timeout=S, compression=gzip,
    certificate=PATH, give_up_after=S; for files max_bytes, backups, compress, fsync.
    """
    split = urlsplit(uri)
    scheme = split.scheme.lower()
    if scheme == "file" or (not scheme and uri.endswith((".jsonl", ".ndjson"))):
        path = unquote(uri[len("file://") :].split("?", 1)[0]) if scheme == "file" else uri
        return FileSpanExporter(path, **_file_options(dict(parse_qsl(split.query))))
    options = dict(parse_qsl(split.query))
    timeout_s = timeout_s if timeout_s is not None else _float(options.get("timeout"))
    compression = compression or options.get("compression")
    certificate_file = certificate_file or options.get("certificate")
    fallback = fallback or options.get("fallback")
    give_up = _float(options.get("give_up_after")) or 120.0
    if uri == "otlp":
        scheme = "otlp+grpc" if protocol == "grpc" else "otlp+http"
    control = None
    if scheme in _GRPC_SCHEMES or scheme in _GRPCS_SCHEMES:
        tls = scheme in _GRPCS_SCHEMES or options.get("tls", "").lower() in _TRUE or certificate_file is not None
        inner = _grpc(split.netloc or None, tls, headers, timeout_s, compression, certificate_file)
    elif scheme in _HTTP_SCHEMES:
        path = split.path if split.path not in ("", "/") else "/v1/traces"
        endpoint = f"{_HTTP_SCHEMES[scheme]}://{split.netloc}{path}" if split.netloc else None
        if endpoint is None and scheme in ("http", "https"):
            raise ValueError(f"exporter URI {uri!r} has no HOST:PORT")
        control = DeliveryControl()
        inner = _http(endpoint, headers, timeout_s, compression, certificate_file, control)
    else:
        raise ValueError(
            f"unknown exporter {uri!r}: use file://PATH, a *.jsonl path, otlp://HOST:4317, otlp+http://HOST:4318, "
            "http(s)://HOST/v1/traces, console, memory or a SpanExporter object"
        )
    _log_each_message_once(type(inner).__module__)
    return ResilientExporter(inner, fallback=Path(fallback) if fallback is not None else None, give_up_after_s=give_up, control=control)


def _float(value: str | None) -> float | None:
    return float(value) if value else None


def _file_options(options: dict[str, str]) -> dict[str, Any]:
    known = {"max_bytes", "backups", "compress", "fsync"}
    unknown = set(options) - known
    if unknown:
        raise ValueError(f"unknown file exporter option(s) {sorted(unknown)}; known: {sorted(known)}")
    parsed: dict[str, Any] = {}
    if "max_bytes" in options:
        parsed["max_bytes"] = int(options["max_bytes"])
    if "backups" in options:
        parsed["backups"] = int(options["backups"])
    if "compress" in options:
        parsed["compress"] = options["compress"].lower() in _TRUE
    if "fsync" in options:
        parsed["fsync"] = options["fsync"]
    return parsed


def _grpc(
    netloc: str | None, tls: bool, headers: dict[str, str] | None, timeout_s: float | None, compression: str | None, certificate_file: str | None
) -> SpanExporter:
    import grpc
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    credentials = None
    if certificate_file is not None:
        credentials = grpc.ssl_channel_credentials(root_certificates=Path(certificate_file).read_bytes())
    grpc_compression = None
    if compression is not None:
        grpc_compression = {"gzip": grpc.Compression.Gzip, "deflate": grpc.Compression.Deflate, "none": grpc.Compression.NoCompression}[compression.lower()]
    return OTLPSpanExporter(
        endpoint=f"{'https' if tls else 'http'}://{netloc}" if netloc else None,
        insecure=False if tls else None,
        credentials=credentials,
        headers=headers,
        timeout=timeout_s,
        compression=grpc_compression,
    )


def _http(endpoint: str | None, headers: dict[str, str] | None, timeout_s: float | None, compression: str | None,
          certificate_file: str | None, control: DeliveryControl) -> SpanExporter:
    from opentelemetry.exporter.otlp.proto.http import Compression

    from exporters._otlp import OTLPSpanExporter  # the SDK's exporter with a faster encoder of the same bytes

    return OTLPSpanExporter(
        endpoint=endpoint,
        certificate_file=certificate_file,
        headers=headers,
        timeout=timeout_s,
        compression=Compression(compression.lower()) if compression is not None else None,
        session=_session_class()(control),
    )


_RETRYABLE = frozenset({429, 502, 503, 504})


class AttemptFailed(Exception):
    """One HTTP attempt failed (refused, timed out, retryable status, deadline passed): the SDK client returns at
    once instead of retrying and sleeping on its own; ResilientExporter decides what comes next."""


@functools.cache
def _session_class() -> type[Any]:
    """A requests.Session that keeps each request within the attempt's deadline and tells DeliveryControl what it saw."""
    import requests

    class DeadlineSession(requests.Session):
        def __init__(self, control: DeliveryControl) -> None:
            super().__init__()
            self.control = control

        def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
            control = self.control
            control.sent = True
            if control.deadline is not None:
                left = control.deadline - time.monotonic()
                if left <= 0:
                    raise AttemptFailed("the deadline passed before the request")
                timeout = kwargs.get("timeout")
                kwargs["timeout"] = left if timeout is None else min(float(timeout), left)
            try:
                response = super().request(method, url, *args, **kwargs)
            except requests.RequestException as exc:
                raise AttemptFailed(f"{type(exc).__name__}: {exc}") from exc
            control.status = response.status_code
            if response.status_code in _RETRYABLE:
                control.retry_after = _retry_after(response.headers.get("retry-after"))
                raise AttemptFailed(f"HTTP {response.status_code}")
            return response

    return DeadlineSession


def _retry_after(value: str | None) -> float | None:
    try:
        return max(float(value), 0.0) if value else None
    except ValueError:
        return None


class _OncePerMessage(logging.Filter):
    """Let each message (by its template) of an SDK exporter's logger through once: a collector that stays away
    must not log every retry (agent-tracing counts and logs each cause once itself)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[object] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        key = record.msg
        if key in self.seen:
            return False
        if len(self.seen) < 256:
            self.seen.add(key)
        return True


_filtered: set[str] = set()


def _log_each_message_once(module: str) -> None:
    """Add the once-per-message filter to the loggers the SDK's OTLP exporters log their failures to."""
    names = {module, "opentelemetry.exporter.otlp.common.http", "opentelemetry.exporter.otlp.proto.grpc.exporter",
             "opentelemetry.exporter.otlp.proto.http.trace_exporter"}  # the SDK's HTTP exporter, beneath ours
    for name in names - _filtered:
        _filtered.add(name)
        logging.getLogger(name).addFilter(_OncePerMessage())
