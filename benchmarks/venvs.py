"""Cached virtual environments for the heavy real components (peers, servers) under the project's ignored .cache/.

One mechanism for the benchmark's peers and serving environments (benchmarks/peers.py) and the tests' Phoenix and
interop environments (tests/servers/): an environment is (re)built under a file lock only when the stamp it was
built for no longer matches.
"""

from __future__ import annotations

import fcntl
import hashlib
import re
import subprocess
import sys
import venv
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
VENVS = REPO_ROOT / ".cache" / "venvs"


def project_stamp() -> str:
    """A digest of this project's runtime dependencies as pyproject.toml lists them (comments and layout aside), so an
    environment holding the project editable is rebuilt when they change, not when the file's comments do."""
    text = (REPO_ROOT / "pyproject.toml").read_text()
    block = re.search(r"^dependencies\s*=\s*\[(.*?)^\]", text, re.S | re.M)
    dependencies = sorted(re.findall(r'"([^"]+)"', re.sub(r"#[^\n]*", "", block.group(1) if block else text)))
    return "project " + hashlib.sha256("\n".join(dependencies).encode()).hexdigest()[:16]


def is_cached(folder: Path, stamp: str) -> bool:
    """Whether the environment in `folder` was built for `stamp`."""
    try:
        return (folder / ".installed").read_text().strip() == stamp and (folder / "bin" / "python").exists()
    except OSError:
        return False


def cached_venv(folder: Path, packages: Sequence[str], stamp: str, *, editable: bool) -> Path:
    """The interpreter of the environment in `folder` holding `packages` (and this project, editable, when asked),
    built now unless it was built for `stamp` already."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f".{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not is_cached(folder, stamp):
            print(f"installing {' '.join(packages)} into {folder} ...", file=sys.stderr, flush=True)
            venv.EnvBuilder(with_pip=True, clear=True).create(folder)
            project = ["-e", str(REPO_ROOT)] if editable else []
            subprocess.run(
                [str(folder / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                 *packages, *project],
                check=True,
            )
            (folder / ".installed").write_text(stamp)
    return folder / "bin" / "python"
