"""The peers' real packages for the interoperability tests: MLflow, the OpenAI client and OpenInference's instrumentor.

They are heavy (MLflow alone brings pandas, scikit-learn, SQLAlchemy, Flask), so they live in one cached virtual
environment, `.cache/venvs/interop`, with this project installed editable beside them; tests run their code there
in a subprocess (`run_script`). `python -m tests.servers.interop --install` installs it (`make test` does);
the `interop_python` fixture installs it when missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from benchmarks.venvs import VENVS, cached_venv, is_cached, project_stamp
from tests import servers

VENV_DIR = VENVS / "interop"
PACKAGES = [
    "mlflow==3.17.2",  # the version benchmarks/peers.py pins, so pip's cache serves both
    "openai==3.54.0",
    "openinference-instrumentation-openai==0.1.66",
]
RESULT_PREFIX = "INTEROP-RESULT "


def python() -> Path:
    """The interpreter of the cached virtual environment."""
    return VENV_DIR / "bin" / "python"


def _stamp() -> str:
    """The pinned packages and this project's dependencies, not the checkout's path: `run_script` puts the running
    checkout first on PYTHONPATH, so one environment serves every checkout (worktrees, CI's fresh clone)."""
    return " ".join(PACKAGES) + " + " + project_stamp()


def is_installed() -> bool:
    """Whether the pinned packages and this project are installed in the cached environment."""
    return is_cached(VENV_DIR, _stamp())


def install() -> Path:
    """Install the pinned packages and this project (editable) into the cached environment unless already there."""
    return cached_venv(VENV_DIR, PACKAGES, _stamp(), editable=True)


def _mlflow_store(workdir: str) -> dict[str, str]:
    """MLflow keeps its runs and traces in the working directory unless told otherwise: a fresh one per script."""
    return {"MLFLOW_TRACKING_URI": f"sqlite:///{workdir}/mlflow.db"}


def run_script(source: str, *, env: dict[str, str] | None = None, timeout: float = 240.0) -> Any:
    """Run Python source in the interop environment; return what it printed after RESULT_PREFIX (as JSON).

    The script prints its result with `print(RESULT_PREFIX + json.dumps(...))`; a non-zero exit fails the test
    with the script's stderr.
    """
    return servers.run_script(python(), source, label="interop", result_prefix=RESULT_PREFIX, cleared=("MLFLOW_", "OTEL_", "AGENT_TRACING_"),
                              environment_for=_mlflow_store, env=env, timeout=timeout)


@pytest.fixture(scope="session")
def interop_python() -> Path:
    """The cached environment's interpreter (installed on first use)."""
    return install()


def main(argv: list[str] | None = None) -> int:
    """Report or install the interop environment."""
    return servers.cached_environment_main(argv, name="interop", description=__doc__, packages=PACKAGES, venv_dir=VENV_DIR,
                                           install=install, is_installed=is_installed)


if __name__ == "__main__":
    raise SystemExit(main())
