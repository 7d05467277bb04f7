"""FileSpanExporter: OTLP JSON Lines files, safe for many threads and processes (forked ones too), with rotation."""

from __future__ import annotations

import fcntl
import gzip
import os
import shutil
import threading
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from exporters.failures import report

_OPEN_FLAGS = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
_MODE = 0o600
_DIR_MODE = 0o700
_FORKABLE: weakref.WeakSet[FileSpanExporter] = weakref.WeakSet()


class FileSpanExporter(SpanExporter):
    """Append spans to an OTLP JSON Lines file (the Collector file exporter's format)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_bytes: int | None = None,
        backups: int = 5,
        compress: bool = False,
        fsync: Literal["never", "always"] = "never",
    ) -> None:
        if fsync not in ("never", "always"):
            raise ValueError(f"fsync must be 'never' or 'always', not {fsync!r}")
        if max_bytes is not None and max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        if backups < 0:
            raise ValueError("backups must be >= 0")
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.backups = backups
        self.compress = compress
        self.fsync = fsync
        self._fd: int | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._failed = False
        # The OTLP JSON encoder loads with the first file exporter (import time), here and not at the first export:
        # a process forked while an export thread imports it would inherit the module's import lock held.
        from exporters._encode import encode_json_line

        self._encode = encode_json_line
        _FORKABLE.add(self)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Write the batch as one line; report and return FAILURE on any error."""
        if self._closed:
            return SpanExportResult.FAILURE
        if not spans:
            return SpanExportResult.SUCCESS
        try:
            line = self._encode(spans)
            with self._lock:
                self._append(line)
        except Exception as exc:  # noqa: BLE001 - SPEC 3.2: exporting never raises
            self._failed = True
            report(f"file exporter ({self.path})", exc)
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Push written lines to disk; False when an export failed since the last flush (its spans are not in the file)."""
        with self._lock:
            failed, self._failed = self._failed, False
            if self._fd is not None:
                try:
                    os.fsync(self._fd)
                except OSError as exc:
                    report(f"file exporter ({self.path})", exc)
                    return False
        return not failed

    def shutdown(self) -> None:
        """Close the file; later exports fail."""
        with self._lock:
            self._closed = True
            self._close_fd()

    def _after_fork_in_child(self) -> None:
        """A forked child gets a fresh lock (the parent's may have been copied held) and opens the file itself, so its
        file lock is its own and parent and child exclude each other."""
        self._lock = threading.Lock()
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass

    def _append(self, line: bytes) -> None:
        """Write one line at the end of the file, under the file lock; a write that fails half-way is cut off again,
        and a line left unfinished by anyone (a crash, a failed cut) is ended before ours, so ours stays whole."""
        fd = self._locked_fd()
        try:
            size = os.fstat(fd).st_size
            if self.max_bytes is not None and size > 0 and size + len(line) > self.max_bytes:
                self._rotate()
                fcntl.flock(fd, fcntl.LOCK_UN)
                self._close_fd()
                fd = self._locked_fd()
                size = os.fstat(fd).st_size
            if size > 0 and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line
            view = memoryview(line)
            try:
                while view:
                    view = view[os.write(fd, view) :]
            except BaseException:
                if len(view) < len(line):
                    try:
                        os.ftruncate(fd, size)
                    except OSError:
                        pass  # the next line starts on a new line instead
                raise
            if self.fsync == "always":
                os.fsync(fd)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def _locked_fd(self) -> int:
        """The open file, exclusively locked, and still the file at `path` (another process may have rotated it)."""
        while True:
            if self._fd is None:
                _make_folders(self.path.parent)
                self._fd = os.open(self.path, _OPEN_FLAGS, _MODE)
            fd = self._fd
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                current = os.stat(self.path)
            except FileNotFoundError:
                current = None
            opened = os.fstat(fd)
            if current is not None and (current.st_ino, current.st_dev) == (opened.st_ino, opened.st_dev):
                return fd
            fcntl.flock(fd, fcntl.LOCK_UN)
            self._close_fd()

    def _rotate(self) -> None:
        """Shift path.N-1 -> path.N ... path -> path.1 (gzipped when compress=True); caller holds the lock."""
        suffix = ".gz" if self.compress else ""
        if self.backups == 0:
            os.unlink(self.path)
            return
        oldest = self._backup(self.backups, suffix)
        if oldest.exists():
            oldest.unlink()
        for index in range(self.backups - 1, 0, -1):
            source = self._backup(index, suffix)
            if source.exists():
                os.replace(source, self._backup(index + 1, suffix))
        if self.compress:
            _gzip_file(self.path, self._backup(1, suffix))
            os.unlink(self.path)
        else:
            os.replace(self.path, self._backup(1, ""))

    def _backup(self, index: int, suffix: str) -> Path:
        return self.path.with_name(f"{self.path.name}.{index}{suffix}")

    def _close_fd(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


def _make_folders(folder: Path) -> None:
    """Create the missing folders of a path with mode 0700 (traces may hold what users typed); existing ones stay as they are."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        if folder.parent == folder:
            break
        folder = folder.parent
    for path in reversed(missing):
        try:
            os.mkdir(path, _DIR_MODE)
        except FileExistsError:
            pass


def _after_fork_in_child() -> None:
    for exporter in list(_FORKABLE):
        exporter._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _gzip_file(source: Path, target: Path) -> None:
    """Compress source into target (mode 0600) through a temporary name, so readers never see half a file."""
    partial = target.with_name(target.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), _MODE)
    with open(fd, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", filename="", mtime=0) as out, open(source, "rb") as src:
        shutil.copyfileobj(src, out, 1 << 20)
    os.replace(partial, target)
