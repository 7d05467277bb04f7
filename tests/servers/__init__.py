"""Real servers for the tests (SPEC section 8), on loopback ports that cannot race, stopped by process id.

A server of ours binds port 0 and reports the port it got. An external process (oteltap, Phoenix) is given a
port chosen here and, when the port turns out to be taken by the time it binds, is started again on another.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import tempfile
import textwrap
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from benchmarks.venvs import REPO_ROOT
from tests.waiting import wait_until


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (it may be taken again before it is used:
    only for an external process whose start is retried when its bind fails)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def refused_port() -> Iterator[int]:
    """A loopback port that refuses every connection while the block runs: bound (nobody else can take it), never listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def port_open(port: int) -> bool:
    """Whether something accepts connections on this loopback port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def run_script(python: Path, source: str, *, label: str, result_prefix: str, cleared: tuple[str, ...] = ("OTEL_", "AGENT_TRACING_"),
               environment_for: Callable[[str], dict[str, str]] | None = None, env: dict[str, str] | None = None,
               timeout: float = 240.0) -> Any:
    """Run Python source with a cached environment's interpreter in a fresh working directory (this checkout first
    on PYTHONPATH, variables starting with `cleared` removed, `environment_for(workdir)` and `env` added); return the
    JSON it printed after `result_prefix`. A non-zero exit, or no result line, fails the test with the script's output.
    """
    with tempfile.TemporaryDirectory(prefix=f"{label}-") as workdir:
        environment = {key: value for key, value in os.environ.items() if not key.startswith(cleared)}
        environment.update({"PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1"})
        if environment_for is not None:
            environment.update(environment_for(workdir))
        if env:
            environment.update(env)
        completed = subprocess.run(
            [str(python), "-c", textwrap.dedent(source)],
            capture_output=True, text=True, timeout=timeout, env=environment, cwd=workdir,
        )
    if completed.returncode != 0:
        raise AssertionError(f"{label} script failed ({completed.returncode}):\n{completed.stderr[-6000:]}")
    for line in reversed(completed.stdout.splitlines()):
        if line.startswith(result_prefix):
            return json.loads(line[len(result_prefix):])
    raise AssertionError(f"{label} script printed no result:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}")


def cached_environment_main(argv: list[str] | None, *, name: str, description: str | None, packages: Sequence[str], venv_dir: Path,
                            install: Callable[[], Path], is_installed: Callable[[], bool]) -> int:
    """The `python -m tests.servers.<name> [--install]` command of a cached environment: install it when asked, then
    say whether it is installed."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--install", action="store_true", help="install the environment when missing")
    args = parser.parse_args(argv)
    if args.install:
        install()
    print(f"{name}: {'installed' if is_installed() else 'missing'} ({' '.join(packages)}) {venv_dir}")
    return 0


class ServerProcess:
    """An external server started in its own process group, with its output in `log_path`."""

    process: subprocess.Popen[bytes]
    log_path: Path

    def wait_ready(self, ready: Callable[[], bool], *, what: str, timeout_s: float) -> None:
        """Poll `ready` until it is true; stop the server and fail with its log tail at the deadline."""
        try:
            wait_until(ready, timeout_s=timeout_s, interval_s=0.25, message=lambda: f"{what} was not ready:\n{self.log_tail()}")
        except AssertionError:
            self.stop()
            raise

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the server's output."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop the server's process group by its process id: TERM, then KILL after a grace period."""
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=20)
        except ProcessLookupError:
            self.process.wait(timeout=20)
