"""Arize Phoenix as a real OTLP backend: installed once into .cache/venvs/phoenix, served per test session.

`python -m tests.servers.phoenix --install` installs it (CI calls this); the `phoenix_server` fixture
installs it when missing, starts `phoenix serve` on free loopback ports (again on other ports when one of them
was taken by the time Phoenix bound it) and stops it by process id.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import requests

from benchmarks.venvs import VENVS, cached_venv, is_cached
from tests import servers
from tests.servers import free_port, port_open
from tests.waiting import wait_until

PHOENIX_VERSION = "20.26.1"
VENV_DIR = VENVS / "phoenix"
STARTUP_TIMEOUT_S = 180.0
BIND_ATTEMPTS = 5
PORT_TAKEN = ("address already in use", "Failed to bind to address")
"""What Phoenix logs before exiting when its HTTP (uvicorn) or gRPC port is taken."""


def phoenix_executable() -> Path:
    """Path of the `phoenix` command inside the cached virtual environment."""
    return VENV_DIR / "bin" / "phoenix"


def is_installed() -> bool:
    """Whether the pinned Phoenix version is installed in the cached virtual environment."""
    return is_cached(VENV_DIR, PHOENIX_VERSION)


def install() -> Path:
    """Install the pinned arize-phoenix into the cached virtual environment unless already there."""
    cached_venv(VENV_DIR, [f"arize-phoenix=={PHOENIX_VERSION}"], PHOENIX_VERSION, editable=False)
    return phoenix_executable()


class PhoenixServer(servers.ServerProcess):
    """A running `phoenix serve`: its OTLP endpoints and its REST span query."""

    def __init__(self, process: subprocess.Popen[bytes], http_port: int, grpc_port: int, log_path: Path) -> None:
        self.process = process
        self.http_port = http_port
        self.grpc_port = grpc_port
        self.log_path = log_path
        self.base_url = f"http://127.0.0.1:{http_port}"
        self.http_endpoint = f"{self.base_url}/v1/traces"
        self.grpc_endpoint = f"http://127.0.0.1:{grpc_port}"

    def spans(self, project: str = "default", **filters: Any) -> list[dict[str, Any]]:
        """All spans of a project from GET /v1/projects/{project}/spans (every page); [] before the project exists."""
        found: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": 1000, **filters}
        while True:
            response = requests.get(f"{self.base_url}/v1/projects/{project}/spans", params=params, timeout=10)
            if response.status_code == 404:
                return found
            response.raise_for_status()
            body = response.json()
            found.extend(body.get("data") or [])
            cursor = body.get("next_cursor")
            if not cursor:
                return found
            params["cursor"] = cursor

    def wait_for_spans(
        self,
        predicate: Callable[[list[dict[str, Any]]], bool],
        *,
        project: str = "default",
        timeout_s: float = 60.0,
        interval_s: float = 0.2,
        **filters: Any,
    ) -> list[dict[str, Any]]:
        """Poll the span query until `predicate(spans)` holds; fail with what was seen at the deadline."""
        seen: list[dict[str, Any]] = []

        def shown() -> tuple[list[dict[str, Any]]] | None:
            seen[:] = self.spans(project, **filters)
            return (list(seen),) if predicate(seen) else None  # a tuple: even [] may be what the predicate wants

        (spans,) = wait_until(
            shown,
            timeout_s=timeout_s,
            interval_s=interval_s,
            message=lambda: f"Phoenix did not show the expected spans; it had {len(seen)}: {[s.get('name') for s in seen[:20]]}",
        )
        return spans


def indexed(attributes: Mapping[str, Any], prefix: str) -> list[dict[str, Any]]:
    """Phoenix's flattened `{prefix}.{i}.{rest}` span attributes regrouped per index, in index order: `[{rest: value}]`
    (a span's documents under `retrieval.documents`, its messages under `llm.input_messages`)."""
    found: dict[int, dict[str, Any]] = {}
    for key, value in attributes.items():
        if key.startswith(f"{prefix}."):
            index, _, rest = key[len(prefix) + 1 :].partition(".")
            if index.isdigit():
                found.setdefault(int(index), {})[rest] = value
    return [found[index] for index in sorted(found)]


def _environment(working_dir: Path, http_port: int, grpc_port: int) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "PHOENIX_", "AGENT_TRACING_"))}
    env.update(
        PHOENIX_WORKING_DIR=str(working_dir),
        PHOENIX_HOST="127.0.0.1",
        PHOENIX_PORT=str(http_port),
        PHOENIX_GRPC_PORT=str(grpc_port),
        PHOENIX_TELEMETRY_ENABLED="false",
        PHOENIX_ALLOW_EXTERNAL_RESOURCES="false",
        PHOENIX_DISABLE_AGENT_ASSISTANT="true",
        PHOENIX_ENABLE_MCP_SERVER="false",
        PHOENIX_ENABLE_PROMETHEUS="false",
        PHOENIX_LOGGING_LEVEL="warning",
        PYTHONUNBUFFERED="1",
    )
    return env


def _ready(server: PhoenixServer) -> bool:
    try:
        response = requests.get(f"{server.base_url}/readyz", timeout=2)
    except requests.RequestException:
        return False
    return response.status_code == 200 and port_open(server.grpc_port)


class PortTaken(RuntimeError):
    """Phoenix exited because one of its ports was taken between choosing it and binding it."""


def start_phoenix(working_dir: Path, timeout_s: float = STARTUP_TIMEOUT_S) -> PhoenixServer:
    """Start `phoenix serve` on free loopback ports and wait until HTTP and gRPC answer; on other ports when one was taken."""
    for attempt in range(BIND_ATTEMPTS):
        try:
            return _start_phoenix_once(working_dir / f"attempt{attempt}", timeout_s)
        except PortTaken:
            continue
    raise RuntimeError(f"phoenix serve found its ports taken {BIND_ATTEMPTS} times")


def _start_phoenix_once(working_dir: Path, timeout_s: float) -> PhoenixServer:
    """Start `phoenix serve` once on two free ports; PortTaken when it exits because one was taken meanwhile."""
    executable = install()
    working_dir.mkdir(parents=True, exist_ok=True)
    http_port, grpc_port = free_port(), free_port()
    while grpc_port == http_port:
        grpc_port = free_port()
    log_path = working_dir / "phoenix.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(executable), "serve"],
            env=_environment(working_dir, http_port, grpc_port),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=working_dir,
            start_new_session=True,
        )
    server = PhoenixServer(process, http_port, grpc_port, log_path)

    def ready() -> bool:
        if process.poll() is not None:
            log = server.log_tail(400)
            if any(sign in log for sign in PORT_TAKEN):
                raise PortTaken(f"port {http_port} or {grpc_port} was taken:\n{server.log_tail()}")
            raise RuntimeError(f"phoenix serve exited with {process.returncode}:\n{server.log_tail()}")
        return _ready(server)

    server.wait_ready(ready, what="phoenix serve", timeout_s=timeout_s)
    return server


@pytest.fixture(scope="session")
def phoenix_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PhoenixServer]:
    """A Phoenix server for the test session, on free loopback ports; stopped by process id at the end."""
    server = start_phoenix(tmp_path_factory.mktemp("phoenix"))
    try:
        yield server
    finally:
        server.stop()


if __name__ == "__main__":
    if sys.argv[1:] != ["--install"]:
        sys.exit("usage: python -m tests.servers.phoenix --install")
    print(f"phoenix {PHOENIX_VERSION}: {install()}")
