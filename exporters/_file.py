"""FileSpanExporter: OTLP JSON Lines files, safe for many threads and processes, with rotation."""

from __future__ import annotations

import fcntl
import gzip
import os
import shutil
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from exporters._encode import encode_json_line
from exporters.failures import report

_OPEN_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
_MODE = 0o600


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

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Write the batch as one line; report and return FAILURE on any error."""
        if self._closed:
            return SpanExportResult.FAILURE
        if not spans:
            return SpanExportResult.SUCCESS
        try:
            line = encode_json_line(spans)
            with self._lock:
                self._append(line)
        except Exception as exc:  # noqa: BLE001 - SPEC 3.2: exporting never raises
            report(f"file exporter ({self.path})", exc)
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Lines are written on export; with fsync='never' also push them to disk now."""
        with self._lock:
            if self._fd is not None:
                try:
                    os.fsync(self._fd)
                except OSError as exc:
                    report(f"file exporter ({self.path})", exc)
                    return False
        return True

    def shutdown(self) -> None:
        """Close the file; later exports fail."""
        with self._lock:
            self._closed = True
            self._close_fd()

    def _append(self, line: bytes) -> None:
        fd = self._locked_fd()
        try:
            if self.max_bytes is not None:
                size = os.fstat(fd).st_size
                if size > 0 and size + len(line) > self.max_bytes:
                    self._rotate()
                    fcntl.flock(fd, fcntl.LOCK_UN)
                    self._close_fd()
                    fd = self._locked_fd()
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view) :]
            if self.fsync == "always":
                os.fsync(fd)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def _locked_fd(self) -> int:
        """The open file, exclusively locked, and still the file at `path` (another process may have rotated it)."""
        while True:
            if self._fd is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
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


def _gzip_file(source: Path, target: Path) -> None:
    """Compress source into target (mode 0600) through a temporary name, so readers never see half a file."""
    partial = target.with_name(target.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), _MODE)
    with open(fd, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", filename="", mtime=0) as out, open(source, "rb") as src:
        shutil.copyfileobj(src, out, 1 << 20)
    os.replace(partial, target)
