"""The peer tracers of benchmarks/compare.py, each in its own cached virtual environment.

Every environment holds one pinned peer plus this project (editable), so one worker script runs in
all of them. `python -m benchmarks.peers --install` creates the missing ones; compare.py calls it too.

The serving benchmark (benchmarks/serve.py) has environments of its own, `serve-KIND` (SERVING): the same pins
plus a pinned uvicorn and Starlette; `serve-agent-tracing` holds only this project and the server, and serves
the untraced, hand-written and agent-tracing apps, so the main .venv needs no server.

    python -m benchmarks.peers [--install] [--only mlflow,openinference] [--serving]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks.venvs import REPO_ROOT, VENVS, cached_venv, is_cached, project_stamp

PEERS: dict[str, list[str]] = {
    "mlflow": ["mlflow==3.17.2"],
    "openinference": ["openinference-instrumentation==0.1.72", "openinference-semantic-conventions==0.1.42"],
}
SERVER_PACKAGES = ["uvicorn==0.54.0", "httptools==0.9.0", "uvloop==0.23.0", "starlette==1.10.0"]
SERVING: dict[str, list[str]] = {"agent-tracing": [], **PEERS}


def venv_dir(peer: str) -> Path:
    """Folder of the peer's cached virtual environment."""
    return VENVS / f"bench-{peer}"


def python(peer: str) -> Path:
    """The peer environment's interpreter."""
    return venv_dir(peer) / "bin" / "python"


def _stamp(peer: str) -> str:
    # the checkout's path: compare.py's workers import this project through the editable install
    return " ".join(PEERS[peer]) + f" + -e {REPO_ROOT}"


def is_installed(peer: str) -> bool:
    """Whether the peer's pinned packages are installed in its cached environment."""
    return is_cached(venv_dir(peer), _stamp(peer))


def install(peer: str) -> Path:
    """Install the pinned peer and this project into the peer's cached environment unless already there."""
    return cached_venv(venv_dir(peer), PEERS[peer], _stamp(peer), editable=True)


def serving_venv_dir(kind: str) -> Path:
    """Folder of the cached virtual environment the serving benchmark runs KIND's server in."""
    return VENVS / f"serve-{kind}"


def _serving_stamp(kind: str) -> str:
    # the project's dependencies, not the checkout's path: serve.py puts the running checkout first on PYTHONPATH,
    # so an environment is reinstalled only when the pins or the dependencies change
    return " ".join(SERVING[kind] + SERVER_PACKAGES) + " + " + project_stamp()


def is_serving_installed(kind: str) -> bool:
    """Whether KIND's serving environment holds its pinned packages and this project's dependencies."""
    return is_cached(serving_venv_dir(kind), _serving_stamp(kind))


def install_serving(kind: str) -> Path:
    """Install KIND's pins, the server and this project (editable) into its serving environment unless already there."""
    return cached_venv(serving_venv_dir(kind), SERVING[kind] + SERVER_PACKAGES, _serving_stamp(kind), editable=True)


def main(argv: list[str] | None = None) -> int:
    """Report or install the peer environments."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--install", action="store_true", help="install the missing peer environments")
    parser.add_argument("--only", help="comma-separated peers (default: all)")
    parser.add_argument("--serving", action="store_true", help="the serving benchmark's environments instead")
    args = parser.parse_args(argv)
    if args.serving:
        for kind in (args.only or ",".join(SERVING)).split(","):
            if args.install:
                install_serving(kind)
            state = "installed" if is_serving_installed(kind) else "missing"
            print(f"serve-{kind}: {state} ({' '.join(SERVING[kind] + SERVER_PACKAGES)}) {serving_venv_dir(kind)}")
        return 0
    for peer in (args.only or ",".join(PEERS)).split(","):
        if args.install:
            install(peer)
        print(f"{peer}: {'installed' if is_installed(peer) else 'missing'} ({' '.join(PEERS[peer])}) {venv_dir(peer)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
