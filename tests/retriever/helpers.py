"""Reading documents back from recorded spans."""

from __future__ import annotations

import json
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan


def documents_of(span: ReadableSpan, prefix: str = "retrieval.documents") -> list[dict[str, Any]]:
    """The OpenInference documents of a span, metadata parsed, in index order."""
    attributes = dict(span.attributes or {})
    found: dict[int, dict[str, Any]] = {}
    for key, value in attributes.items():
        if not key.startswith(prefix + "."):
            continue
        index, _, field = key[len(prefix) + 1 :].partition(".document.")
        found.setdefault(int(index), {})[field] = json.loads(value) if field == "metadata" else value
    return [found[index] for index in sorted(found)]
