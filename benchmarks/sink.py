"""A local OTLP/HTTP sink for the benchmarks: accepts POST /v1/traces (protobuf) and counts spans per service.name.

GET /counts returns {"service": spans, ...} as JSON; GET /bytes {"service": bytes, ...}, the request bodies as
they came over the wire (before any decompression), each counted for the service of its first resource. Binds 127.0.0.1 only; prints its port on the first line.

    python benchmarks/sink.py [--port 0]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import threading
import zlib
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest, ExportTraceServiceResponse

_RESPONSE = ExportTraceServiceResponse().SerializeToString()


class SpanCounts:
    """Spans received so far, per service.name, safe across handler threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._bytes: Counter[str] = Counter()

    def add(self, body: bytes, wire_bytes: int | None = None) -> int:
        """Count the spans of one ExportTraceServiceRequest body, and its size on the wire; returns the spans it held."""
        request = ExportTraceServiceRequest.FromString(body)
        added: Counter[str] = Counter()
        for resource_spans in request.resource_spans:
            service = next((a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name"), "")
            added[service] += sum(len(scope.spans) for scope in resource_spans.scope_spans)
        first = next((a.value.string_value for r in request.resource_spans[:1] for a in r.resource.attributes
                      if a.key == "service.name"), "")
        with self._lock:
            self._counts.update(added)
            self._bytes[first] += len(body) if wire_bytes is None else wire_bytes
        return sum(added.values())

    def snapshot(self) -> dict[str, int]:
        """A copy of the counts."""
        with self._lock:
            return dict(self._counts)

    def byte_snapshot(self) -> dict[str, int]:
        """A copy of the bytes received per service."""
        with self._lock:
            return dict(self._bytes)


def _decompress(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    return body


def make_server(port: int = 0) -> tuple[ThreadingHTTPServer, SpanCounts]:
    """An HTTP server on 127.0.0.1:port (0: a free one) that counts the spans posted to /v1/traces."""
    counts = SpanCounts()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path.split("?", 1)[0] != "/v1/traces":
                self._reply(404, b"", "text/plain")
                return
            try:
                counts.add(_decompress(body, self.headers.get("Content-Encoding", "").lower()), len(body))
            except Exception:  # noqa: BLE001 - a bad body is the client's problem, answered with 400
                self._reply(400, b"bad OTLP body", "text/plain")
                return
            self._reply(200, _RESPONSE, "application/x-protobuf")

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path == "/counts":
                self._reply(200, json.dumps(counts.snapshot()).encode(), "application/json")
            elif self.path == "/bytes":
                self._reply(200, json.dumps(counts.byte_snapshot()).encode(), "application/json")
            else:
                self._reply(404, b"", "text/plain")

        def _reply(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
            return

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    return server, counts


def main(argv: list[str] | None = None) -> int:
    """Serve until interrupted or terminated."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    args = parser.parse_args(argv)
    server, _ = make_server(args.port)
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
