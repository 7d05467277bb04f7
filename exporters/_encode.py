"""OTLP JSON encoding of finished SDK spans: one `{"resourceSpans": [...]}` line per batch."""

from __future__ import annotations

import json
from collections.abc import Sequence

from opentelemetry.exporter.otlp.json.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan

_dumps = json.JSONEncoder(separators=(",", ":"), check_circular=False, ensure_ascii=False).encode


def encode_json_line(spans: Sequence[ReadableSpan]) -> bytes:
    """Encode spans as one OTLP JSON line (hex ids, string nanoseconds, text as UTF-8), newline included.

    A lone surrogate (which UTF-8 cannot hold) from instrumentation other than ours becomes `?`
    instead of failing the whole batch.
    """
    return (_dumps(encode_spans(spans).to_dict()) + "\n").encode("utf-8", "replace")
