"""OpenInference's real LangChain and LlamaIndex instrumentors, for the tests that read spans other writers made.

The frameworks and their instrumentors live in one cached virtual environment, `.cache/venvs/instrumentors`, with
this project installed editable beside them; tests run a script there in a subprocess (`run_script`).
`python -m tests.servers.instrumentors --install` installs it (`make test` does); the `instrumentors_python`
fixture installs it when missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from benchmarks.venvs import VENVS, cached_venv, is_cached, project_stamp
from tests import servers

VENV_DIR = VENVS / "instrumentors"
PACKAGES = [
    "langchain-core==1.7.0",  # 1.7.3 and later require a certifi newer than the package index here holds
    "openinference-instrumentation-langchain==0.1.80",
    "llama-index-core==0.14.25",
    "openinference-instrumentation-llama-index==4.6.1",
]
RESULT_PREFIX = "INSTRUMENTORS-RESULT "


def python() -> Path:
    """The interpreter of the cached virtual environment."""
    return VENV_DIR / "bin" / "python"


def _stamp() -> str:
    """The pinned packages and this project's dependencies (not the checkout's path: `run_script` puts the running
    checkout first on PYTHONPATH)."""
    return " ".join(PACKAGES) + " + " + project_stamp()


def is_installed() -> bool:
    """Whether the pinned packages and this project are installed in the cached environment."""
    return is_cached(VENV_DIR, _stamp())


def install() -> Path:
    """Install the pinned packages and this project (editable) into the cached environment unless already there."""
    return cached_venv(VENV_DIR, PACKAGES, _stamp(), editable=True)


def _caches(workdir: str) -> dict[str, str]:
    """LlamaIndex keeps its tokenizer and NLTK caches under these; a fresh folder keeps the run from the network."""
    return {"LLAMA_INDEX_CACHE_DIR": workdir, "TIKTOKEN_CACHE_DIR": workdir}


def run_script(source: str, *, env: dict[str, str] | None = None, timeout: float = 240.0) -> Any:
    """Run Python source in the instrumentors' environment; return what it printed after RESULT_PREFIX (as JSON).

    A non-zero exit, or no result line, fails the test with the script's output.
    """
    return servers.run_script(python(), source, label="instrumentors", result_prefix=RESULT_PREFIX, cleared=("OTEL_", "AGENT_TRACING_"),
                              environment_for=_caches, env=env, timeout=timeout)


@pytest.fixture(scope="session")
def instrumentors_python() -> Path:
    """The cached environment's interpreter (installed on first use)."""
    return install()


def main(argv: list[str] | None = None) -> int:
    """Report or install the instrumentors environment."""
    return servers.cached_environment_main(argv, name="instrumentors", description=__doc__, packages=PACKAGES, venv_dir=VENV_DIR,
                                           install=install, is_installed=is_installed)


if __name__ == "__main__":
    raise SystemExit(main())
