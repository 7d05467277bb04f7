"""The MLflow tracking server as a real OTLP backend (SPEC 8): run from the cached interop environment, per test session.

The `mlflow_server` fixture installs the interop environment when missing (tests/servers/interop.py), starts
`mlflow server` with a SQLite store on a free loopback port (again on another port when the port was taken by the
time the server bound it) and stops it by process id. Spans reach it over OTLP/HTTP at `/v1/traces` with the header
`x-mlflow-experiment-id` (mlflow/server/otel_api.py); its OpenInference translator turns `openinference.span.kind`
into `mlflow.spanType` and `llm.token_count.*` into `mlflow.chat.tokenUsage`, summed into the trace's token usage.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests import servers
from tests.servers import free_port, interop

STARTUP_TIMEOUT_S = 180.0
BIND_ATTEMPTS = 5
EXPERIMENT_HEADER = "x-mlflow-experiment-id"
PORT_TAKEN = "address already in use"
"""What uvicorn logs when the port is taken; `mlflow server` then shuts down with exit code 0."""
LISTENING = "Uvicorn running on"

TRACES_SCRIPT = r'''
import json, os
import mlflow
from mlflow.tracing.constant import SpanAttributeKey

client = mlflow.MlflowClient(os.environ["TRACKING_URI"])
found = []
for trace in client.search_traces(locations=[os.environ["EXPERIMENT_ID"]], max_results=100):
    found.append({
        "trace_id": trace.info.trace_id,
        "token_usage": trace.info.token_usage,
        "spans": [
            {"name": span.name, "span_id": span.span_id, "parent_id": span.parent_id, "span_type": span.span_type,
             "token_usage": span.get_attribute(SpanAttributeKey.CHAT_USAGE), "model": span.get_attribute(SpanAttributeKey.MODEL),
             "inputs": span.inputs, "outputs": span.outputs, "attributes": span.attributes}
            for span in trace.data.spans
        ],
    })
print(os.environ["RESULT_PREFIX"] + json.dumps(found, default=repr))
'''


def mlflow_executable() -> Path:
    """The `mlflow` command of the cached interop environment."""
    return interop.python().parent / "mlflow"


class MlflowServer(servers.ServerProcess):
    """A running `mlflow server`: its OTLP endpoint, experiments created through its REST API, traces read by MLflow's client."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
        self.process = process
        self.port = port
        self.log_path = log_path
        self.base_url = f"http://127.0.0.1:{port}"
        self.otlp_endpoint = f"{self.base_url}/v1/traces"

    def create_experiment(self, name: str | None = None) -> str:
        """A new experiment's id (POST /api/2.0/mlflow/experiments/create); a unique name unless one is given."""
        response = requests.post(
            f"{self.base_url}/api/2.0/mlflow/experiments/create",
            json={"name": name or f"tests-{uuid.uuid4().hex[:12]}"},
            timeout=30,
        )
        response.raise_for_status()
        return str(response.json()["experiment_id"])

    def otlp_headers(self, experiment_id: str) -> dict[str, str]:
        """The headers an OTLP/HTTP exporter sends so that its spans land in this experiment."""
        return {EXPERIMENT_HEADER: experiment_id}

    def traces(self, experiment_id: str) -> list[dict[str, Any]]:
        """Every trace of an experiment as `mlflow.MlflowClient.search_traces` returns it (run in the interop environment):
        its id and token usage, and each span's name, ids, span type, token usage and model as MLflow's translator
        stored them, inputs, outputs and attributes."""
        found: list[dict[str, Any]] = interop.run_script(
            TRACES_SCRIPT,
            env={"TRACKING_URI": self.base_url, "EXPERIMENT_ID": experiment_id, "RESULT_PREFIX": interop.RESULT_PREFIX},
        )
        return found


class PortTaken(RuntimeError):
    """The server exited because its port was taken between choosing it and binding it."""


def _environment() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "MLFLOW_", "AGENT_TRACING_"))}
    env.update(MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false", PYTHONUNBUFFERED="1")
    return env


def _answers(server: MlflowServer) -> bool:
    """Whether the server logged that it listens on its port and answers GET /health."""
    if f"{LISTENING} {server.base_url}" not in server.log_tail(400):
        return False
    try:
        return requests.get(f"{server.base_url}/health", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def start_mlflow_server(working_dir: Path, timeout_s: float = STARTUP_TIMEOUT_S) -> MlflowServer:
    """Start `mlflow server` (SQLite store under `working_dir`) on a free loopback port and wait until it answers;
    on another port when the one chosen was taken."""
    for attempt in range(BIND_ATTEMPTS):
        try:
            return start_on_port(working_dir / f"attempt{attempt}", free_port(), timeout_s)
        except PortTaken:
            continue
    raise RuntimeError(f"mlflow server found its port taken {BIND_ATTEMPTS} times")


def start_on_port(working_dir: Path, port: int, timeout_s: float = STARTUP_TIMEOUT_S) -> MlflowServer:
    """Start `mlflow server` on this port and wait until it answers; PortTaken when it exits because the port is taken."""
    interop.install()
    working_dir.mkdir(parents=True, exist_ok=True)
    log_path = working_dir / "mlflow.log"
    command = [
        str(mlflow_executable()), "server",
        "--backend-store-uri", f"sqlite:///{working_dir / 'mlflow.db'}",
        "--default-artifact-root", str(working_dir / "artifacts"),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, env=_environment(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            cwd=working_dir, start_new_session=True,
        )
    server = MlflowServer(process, port, log_path)

    def ready() -> bool:
        if PORT_TAKEN in server.log_tail(400):
            server.stop()
            raise PortTaken(f"port {port} was taken:\n{server.log_tail()}")
        if process.poll() is not None:
            raise RuntimeError(f"mlflow server exited with {process.returncode}:\n{server.log_tail()}")
        return _answers(server)

    server.wait_ready(ready, what="mlflow server", timeout_s=timeout_s)
    return server


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """An MLflow tracking server for the test session, on a free loopback port; stopped by process id at the end."""
    server = start_mlflow_server(tmp_path_factory.mktemp("mlflow"))
    try:
        yield server
    finally:
        server.stop()
