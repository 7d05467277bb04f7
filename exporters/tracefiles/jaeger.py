"""Convert trace files to the Jaeger UI's JSON format (loadable with its "Upload" tab, no backend)."""

from __future__ import annotations

import base64
import json
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from exporters.tracefiles.reader import SpanRecord
from tracing import keys

_EXACT = 2**53
"""Integers a JavaScript number holds exactly."""
_KIND_TAGS = {"SERVER": "server", "CLIENT": "client", "PRODUCER": "producer", "CONSUMER": "consumer", "INTERNAL": "internal"}


def to_jaeger(records: Iterable[SpanRecord]) -> dict[str, Any]:
    """Group span records into Jaeger traces: {"data": [{"traceID", "spans", "processes"}]}."""
    traces: dict[str, list[SpanRecord]] = {}
    for record in records:
        traces.setdefault(record.trace_id, []).append(record)
    data = []
    for trace_id, spans in sorted(traces.items(), key=lambda item: min(s.start_time_unix_nano for s in item[1])):
        processes: dict[str, dict[str, Any]] = {}
        process_ids: dict[str, str] = {}
        jaeger_spans = []
        for span in sorted(spans, key=lambda s: s.start_time_unix_nano):
            key = json.dumps(span.resource, sort_keys=True, default=repr)
            if key not in process_ids:
                process_ids[key] = f"p{len(process_ids) + 1}"
                processes[process_ids[key]] = {
                    "serviceName": span.service_name,
                    "tags": [_tag(k, v) for k, v in sorted(span.resource.items()) if k != keys.SERVICE_NAME],
                }
            jaeger_spans.append(_span(span, process_ids[key]))
        data.append({"traceID": trace_id, "spans": jaeger_spans, "processes": processes, "warnings": None})
    return {"data": data, "total": 0, "limit": 0, "offset": 0, "errors": None}


def write_jaeger(records: Iterable[SpanRecord], output: str | os.PathLike[str]) -> tuple[int, int]:
    """Write the records as one Jaeger JSON file (parent folders created); return (traces, spans) written."""
    document = to_jaeger(records)
    target = Path(output)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    try:
        partial.write_text(json.dumps(document, ensure_ascii=False, separators=(",", ":"), allow_nan=False), encoding="utf-8")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return len(document["data"]), sum(len(trace["spans"]) for trace in document["data"])


def _span(span: SpanRecord, process_id: str) -> dict[str, Any]:
    tags = [_tag(k, v) for k, v in span.attributes.items()]
    if span.kind in _KIND_TAGS:
        tags.append(_tag("span.kind", _KIND_TAGS[span.kind]))
    if span.scope_name:
        tags.append(_tag("otel.scope.name", span.scope_name))
    if span.scope_version:
        tags.append(_tag("otel.scope.version", span.scope_version))
    if span.status_code != "UNSET":
        tags.append(_tag("otel.status_code", span.status_code))
    if span.status_message:
        tags.append(_tag("otel.status_description", span.status_message))
    if span.status_code == "ERROR":
        tags.append(_tag("error", True))
    references = []
    if span.parent_span_id:
        references.append({"refType": "CHILD_OF", "traceID": span.trace_id, "spanID": span.parent_span_id})
    references.extend({"refType": "FOLLOWS_FROM", "traceID": link.trace_id, "spanID": link.span_id} for link in span.links)
    start_us = span.start_time_unix_nano // 1000
    return {
        "traceID": span.trace_id,
        "spanID": span.span_id,
        "flags": 1,
        "operationName": span.name,
        "references": references,
        "startTime": start_us,
        "duration": max(0, span.end_time_unix_nano // 1000 - start_us),
        "tags": tags,
        "logs": [
            {"timestamp": event.time_unix_nano // 1000, "fields": [_tag("event", event.name)] + [_tag(k, v) for k, v in event.attributes.items()]}
            for event in span.events
        ],
        "processID": process_id,
        "warnings": None,
    }


def _tag(key: str, value: Any) -> dict[str, Any]:
    """A typed Jaeger tag; lists and maps become JSON strings, bytes base64 binary; integers beyond 2^53 (which a
    JavaScript number would round) are written as strings, NaN and infinity as text."""
    if isinstance(value, bool):
        return {"key": key, "type": "bool", "value": value}
    if isinstance(value, int):
        return {"key": key, "type": "int64", "value": value if -_EXACT <= value <= _EXACT else str(value)}
    if isinstance(value, float):
        return {"key": key, "type": "float64", "value": value} if math.isfinite(value) else {"key": key, "type": "string", "value": str(value)}
    if isinstance(value, bytes):
        return {"key": key, "type": "binary", "value": base64.b64encode(value).decode("ascii")}
    if isinstance(value, str):
        return {"key": key, "type": "string", "value": value}
    try:
        text = json.dumps(value, ensure_ascii=False, default=repr)
    except (ValueError, RecursionError):
        text = repr(value)
    return {"key": key, "type": "string", "value": text}
