"""The peer tracers of benchmarks/compare.py, each in its own cached virtual environment.

Every environment holds one pinned peer plus this project (editable), so one worker script runs in
all of them. `python benchmarks/peers.py --install` creates the missing ones; compare.py calls it too.

The serving benchmark (benchmarks/serve.py) has environments of its own, `serve-KIND` (SERVING): the same pins
plus a pinned uvicorn and Starlette; `serve-agent-tracing` holds only this project and the server, and serves
the untraced, hand-written and agent-tracing apps, so the main .venv needs no server.

    python benchmarks/peers.py [--install] [--only mlflow,openinference] [--serving]
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import re
import subprocess
import sys
import venv
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
VENVS = REPO_ROOT / ".cache" / "venvs"
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
    return " ".join(PEERS[peer]) + f" + -e {REPO_ROOT}"


def is_installed(peer: str) -> bool:
    """Whether the peer's pinned packages are installed in its cached environment."""
    try:
        return (venv_dir(peer) / ".installed").read_text().strip() == _stamp(peer) and python(peer).exists()
    except OSError:
        return False


def install(peer: str) -> Path:
    """Install the pinned peer and this project into the peer's cached environment unless already there."""
    VENVS.mkdir(parents=True, exist_ok=True)
    with open(VENVS / f".bench-{peer}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not is_installed(peer):
            print(f"installing {' '.join(PEERS[peer])} into {venv_dir(peer)} ...", file=sys.stderr, flush=True)
            venv.EnvBuilder(with_pip=True, clear=True).create(venv_dir(peer))
            subprocess.run(
                [str(python(peer)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                 *PEERS[peer], "-e", str(REPO_ROOT)],
                check=True,
            )
            (venv_dir(peer) / ".installed").write_text(_stamp(peer))
    return python(peer)


def serving_venv_dir(kind: str) -> Path:
    """Folder of the cached virtual environment the serving benchmark runs KIND's server in."""
    return VENVS / f"serve-{kind}"


def serving_python(kind: str) -> Path:
    """The serving environment's interpreter."""
    return serving_venv_dir(kind) / "bin" / "python"


def _project_dependencies() -> list[str]:
    """The project's runtime dependencies as pyproject.toml lists them (comments and layout aside)."""
    text = (REPO_ROOT / "pyproject.toml").read_text()
    block = re.search(r"^dependencies\s*=\s*\[(.*?)^\]", text, re.S | re.M)
    return sorted(re.findall(r'"([^"]+)"', re.sub(r"#[^\n]*", "", block.group(1) if block else text)))


def _serving_stamp(kind: str) -> str:
    # the project's dependencies, not the checkout's path: serve.py puts the running checkout first on PYTHONPATH,
    # so an environment is reinstalled only when the pins or the dependencies change
    project = hashlib.sha256("\n".join(_project_dependencies()).encode()).hexdigest()[:16]
    return " ".join(SERVING[kind] + SERVER_PACKAGES) + f" + project {project}"


def is_serving_installed(kind: str) -> bool:
    """Whether KIND's serving environment holds its pinned packages and this project's dependencies."""
    try:
        return (serving_venv_dir(kind) / ".installed").read_text().strip() == _serving_stamp(kind) and serving_python(kind).exists()
    except OSError:
        return False


def install_serving(kind: str) -> Path:
    """Install KIND's pins, the server and this project (editable) into its serving environment unless already there."""
    VENVS.mkdir(parents=True, exist_ok=True)
    with open(VENVS / f".serve-{kind}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not is_serving_installed(kind):
            packages = SERVING[kind] + SERVER_PACKAGES
            print(f"installing {' '.join(packages)} into {serving_venv_dir(kind)} ...", file=sys.stderr, flush=True)
            venv.EnvBuilder(with_pip=True, clear=True).create(serving_venv_dir(kind))
            subprocess.run(
                [str(serving_python(kind)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                 *packages, "-e", str(REPO_ROOT)],
                check=True,
            )
            (serving_venv_dir(kind) / ".installed").write_text(_serving_stamp(kind))
    return serving_python(kind)


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
