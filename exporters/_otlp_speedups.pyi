"""The compiled part of exporters (exporters/_otlp_speedups.c); optional, see exporters._otlp._python_attributes."""

from typing import Any

def otlp_attributes(tag: bytes, attributes: Any, /) -> bytes | None:
    """The OTLP KeyValue fields `exporters._otlp._python_attributes` writes, for a dict of plain values; else None."""
