"""oteltap as a real OTLP/HTTP receiver: `python -m oteltap --port P` in a subprocess, received spans read from its NDJSON stdout.

The fixture `oteltap` starts one receiver on a free loopback port per test and stops it by process id;
`stop()` and `start()` simulate a collector outage on the same port.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.servers import free_port, port_open

STARTUP_TIMEOUT_S = 30.0


class OtelTap:
    """A running oteltap receiver: its endpoint and every span it printed so far."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.endpoint = f"http://127.0.0.1:{port}/v1/traces"
        self.process: subprocess.Popen[str] | None = None
        self._spans: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._reader: threading.Thread | None = None

    def start(self) -> None:
        """Start the receiver subprocess and wait until it accepts connections."""
        self.process = subprocess.Popen(
            [sys.executable, "-u", "-m", "oteltap", "--port", str(self.port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )
        self._reader = threading.Thread(target=self._read, args=(self.process,), daemon=True)
        self._reader.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not port_open(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"oteltap did not start on port {self.port}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop the receiver by its process id and wait for it and its output to end."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        if self._reader is not None:
            self._reader.join(timeout=10)

    def spans(self) -> list[dict[str, Any]]:
        """Every span received so far (OTLP JSON: traceId, spanId, parentSpanId, name, attributes, ...)."""
        with self._lock:
            return list(self._spans)

    def wait_for(self, count: int, timeout_s: float = 30.0, where: Callable[[dict[str, Any]], bool] | None = None) -> list[dict[str, Any]]:
        """Poll until at least `count` matching spans arrived (or the deadline passes); return the matching spans."""
        deadline = time.monotonic() + timeout_s
        while True:
            found = [s for s in self.spans() if where is None or where(s)]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.02)

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("{"):
                span = json.loads(line)
                with self._lock:
                    self._spans.append(span)


def attributes_of(span: dict[str, Any]) -> dict[str, Any]:
    """The attributes of an oteltap span as plain Python values."""
    values: dict[str, Any] = {}
    for item in span.get("attributes", []):
        value = item["value"]
        if "stringValue" in value:
            values[item["key"]] = value["stringValue"]
        elif "intValue" in value:
            values[item["key"]] = int(value["intValue"])
        elif "doubleValue" in value:
            values[item["key"]] = value["doubleValue"]
        elif "boolValue" in value:
            values[item["key"]] = value["boolValue"]
        elif "arrayValue" in value:
            values[item["key"]] = [next(iter(v.values())) for v in value["arrayValue"].get("values", [])]
    return values


@pytest.fixture
def oteltap() -> Iterator[OtelTap]:
    """A fresh oteltap OTLP/HTTP receiver on a free 127.0.0.1 port, stopped after the test."""
    tap = OtelTap(free_port())
    tap.start()
    try:
        yield tap
    finally:
        tap.stop()
