"""The peer tracers of benchmarks/compare.py, each in its own cached virtual environment.

Every environment holds one pinned peer plus this project (editable), so one worker script runs in
all of them. `python benchmarks/peers.py --install` creates the missing ones; compare.py calls it too.

    python benchmarks/peers.py [--install] [--only mlflow,openinference]
"""

from __future__ import annotations

import argparse
import fcntl
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


def main(argv: list[str] | None = None) -> int:
    """Report or install the peer environments."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--install", action="store_true", help="install the missing peer environments")
    parser.add_argument("--only", default=",".join(PEERS), help="comma-separated peers")
    args = parser.parse_args(argv)
    for peer in args.only.split(","):
        if args.install:
            install(peer)
        print(f"{peer}: {'installed' if is_installed(peer) else 'missing'} ({' '.join(PEERS[peer])}) {venv_dir(peer)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
