"""A real process that writes spans to a trace file: `python -m tests.exporters.span_writer PATH COUNT|forever [max_bytes]`."""

from __future__ import annotations

import os
import sys

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from exporters import FileSpanExporter


def main(argv: list[str]) -> int:
    """Write COUNT spans (or spans forever, announcing 'ready' after the first) with one line per span."""
    path, count = argv[0], argv[1]
    max_bytes = int(argv[2]) if len(argv) > 2 else None
    provider = TracerProvider(resource=Resource.create({"service.name": f"writer-{os.getpid()}"}))
    provider.add_span_processor(SimpleSpanProcessor(FileSpanExporter(path, max_bytes=max_bytes, compress=max_bytes is not None)))
    tracer = provider.get_tracer("span_writer")
    payload = "x" * 200
    index = 0
    while count == "forever" or index < int(count):
        with tracer.start_as_current_span("parent", attributes={"i": index, "pid": os.getpid(), "payload": payload}):
            pass
        if index == 0 and count == "forever":
            print("ready", flush=True)
        index += 1
    provider.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
