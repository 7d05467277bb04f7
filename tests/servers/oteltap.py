"""oteltap as a real OTLP/HTTP receiver: `python -m oteltap --port P` in a subprocess, received spans read from its NDJSON stdout.

The fixture `oteltap` starts one receiver per test on a free loopback port (on another one when that port is
taken by the time oteltap binds it) and stops it by process id; `stop()` and `start()` simulate a collector
outage on the same port.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from typing import IO, Any

import pytest

from tests.servers import free_port
from tests.waiting import wait_until

STARTUP_TIMEOUT_S = 30.0
BIND_ATTEMPTS = 5
LISTENING = "Listening for OTLP/HTTP telemetry on port"
"""What oteltap prints once its port is bound; before it, a taken port makes it exit with OtelTapInitializationError."""


class OtelTap:
    """A running oteltap receiver: its endpoint and every span it printed so far."""

    def __init__(self) -> None:
        self.port: int | None = None
        self.process: subprocess.Popen[str] | None = None
        self._spans: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._reader: threading.Thread | None = None
        self._stderr: IO[bytes] | None = None

    @property
    def endpoint(self) -> str:
        """The OTLP/HTTP traces URL."""
        return f"http://127.0.0.1:{self.port}/v1/traces"

    def start(self) -> None:
        """Start the receiver: the first time on a free port (another one if that port was taken meanwhile), then on the same port again."""
        if self.port is not None:
            if not self._launch(self.port):
                raise RuntimeError(f"oteltap could not bind port {self.port} again: it was taken while the receiver was down")
            return
        for _ in range(BIND_ATTEMPTS):
            port = free_port()
            if self._launch(port):
                self.port = port
                return
        raise RuntimeError(f"oteltap found no free port in {BIND_ATTEMPTS} attempts")

    def _launch(self, port: int) -> bool:
        """Start oteltap on `port`: True once it listens there, False when it exited because the port was taken."""
        listening = threading.Event()
        stderr = tempfile.TemporaryFile()
        process = subprocess.Popen(
            [sys.executable, "-u", "-m", "oteltap", "--port", str(port)],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            bufsize=1,
        )
        reader = threading.Thread(target=self._read, args=(process, listening), daemon=True)
        reader.start()
        self.process, self._reader, self._stderr = process, reader, stderr
        try:
            wait_until(lambda: listening.is_set() or process.poll() is not None,
                       timeout_s=STARTUP_TIMEOUT_S, message=f"oteltap did not listen on port {port}")
        except AssertionError:
            self.stop()
            raise
        if process.poll() is not None:
            reader.join(timeout=10)
        if listening.is_set():
            return True
        stderr.seek(0)
        error = stderr.read().decode(errors="replace")
        self.stop()
        if "OtelTapInitializationError" not in error:
            raise RuntimeError(f"oteltap exited with {process.returncode} on port {port}:\n{error[-2000:]}")
        return False

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
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def spans(self) -> list[dict[str, Any]]:
        """Every span received so far (OTLP JSON: traceId, spanId, parentSpanId, name, attributes, ...)."""
        with self._lock:
            return list(self._spans)

    def wait_for(self, count: int, timeout_s: float = 30.0, where: Callable[[dict[str, Any]], bool] | None = None) -> list[dict[str, Any]]:
        """The matching spans once at least `count` arrived; fails saying how many did at the deadline."""

        def matching() -> list[dict[str, Any]]:
            return [s for s in self.spans() if where is None or where(s)]

        def enough() -> tuple[list[dict[str, Any]]] | None:
            found = matching()
            return (found,) if len(found) >= count else None

        (found,) = wait_until(enough, timeout_s=timeout_s, message=lambda: f"oteltap received {len(matching())} of {count} spans")
        return found

    def _read(self, process: subprocess.Popen[str], listening: threading.Event) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("{"):
                span = json.loads(line)
                with self._lock:
                    self._spans.append(span)
            elif line.startswith(LISTENING):
                listening.set()


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
    tap = OtelTap()
    tap.start()
    try:
        yield tap
    finally:
        tap.stop()
