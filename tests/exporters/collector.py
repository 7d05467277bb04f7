"""Real receivers on 127.0.0.1 for the tests: an OTLP/HTTP receiver (http.server in a thread) that can answer 413,
429 or 503 on cue, and a collector that accepts connections and never answers."""

from __future__ import annotations

import gzip
import socket
import threading
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest, ExportTraceServiceResponse


class Collector:
    """Received span ids (with how often each came), requests seen, and the answers still to give."""

    def __init__(self) -> None:
        self.received: Counter[str] = Counter()
        self.requests: list[tuple[int, int, float]] = []
        """(spans in the request, status answered, time.monotonic() of the answer) for every POST."""
        self.script: list[tuple[int, dict[str, str]]] = []
        """Answers to give before accepting again: (status, headers)."""
        self.max_spans: int | None = None
        """Requests with more spans than this get 413."""
        self.accept: int | None = None
        """Accept this many more requests, then answer 503 (no Retry-After) until it is set again."""
        self.authorization: list[str | None] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.port = self._server.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}/v1/traces"
        self._thread = threading.Thread(target=self._server.serve_forever, name="collector", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                encoding = self.headers.get("Content-Encoding")
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                ids = [span.span_id.hex() for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans]
                with collector._lock:
                    collector.authorization.append(self.headers.get("Authorization"))
                    if collector.script:
                        status, headers = collector.script.pop(0)
                    elif collector.max_spans is not None and len(ids) > collector.max_spans:
                        status, headers = 413, {}
                    elif collector.accept is not None and collector.accept <= 0:
                        status, headers = 503, {}
                    else:
                        status, headers = 200, {}
                        collector.received.update(ids)
                        if collector.accept is not None:
                            collector.accept -= 1
                    collector.requests.append((len(ids), status, time.monotonic()))
                payload = ExportTraceServiceResponse().SerializeToString() if status == 200 else b"no"
                self.send_response(status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

        return Handler


@pytest.fixture
def collector() -> Iterator[Collector]:
    """A fresh receiver on a free loopback port, stopped afterwards."""
    server = Collector()
    yield server
    server.stop()


class HangingCollector:
    """A TCP server on 127.0.0.1 that accepts every connection and never sends a byte."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._accepted: list[socket.socket] = []
        self._closed = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                connection, _ = self._server.accept()
            except OSError:
                return
            self._accepted.append(connection)

    def close(self) -> None:
        """Stop accepting and close every connection (the client's pending request then fails at once)."""
        self._closed = True
        self._server.close()
        for connection in self._accepted:
            connection.close()
        self._thread.join(timeout=10)
