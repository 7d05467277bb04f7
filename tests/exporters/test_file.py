"""FileSpanExporter and read_spans: OTLP JSON Lines, many writers, torn lines, rotation, failures."""

from __future__ import annotations

import gzip
import json
import logging
import os
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExportResult

from exporters import FileSpanExporter
from exporters.tracefiles import TraceFileError, read_spans
from tests.exporters.helpers import provider_with, write_tree
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


def _writer(path: Path, count: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.exporters.span_writer", str(path), count, *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE if count == "forever" else subprocess.DEVNULL,
        text=True,
    )


def test_lines_are_otlp_json_with_hex_ids_and_string_nanoseconds(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "traces.jsonl"
    provider = provider_with(FileSpanExporter(path), service="svc-a")
    made = write_tree(provider)
    provider.shutdown()

    lines = path.read_text().splitlines()
    assert len(lines) == 3
    span = json.loads(lines[0])["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert span["traceId"] == format(made[2][0], "032x")
    assert span["spanId"] == format(made[2][1], "016x")
    assert isinstance(span["startTimeUnixNano"], str) and int(span["startTimeUnixNano"]) > 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    records = list(read_spans(path))
    assert [(int(r.trace_id, 16), int(r.span_id, 16), int(r.parent_span_id, 16) if r.parent_span_id else None) for r in records] == [
        made[2],
        made[1],
        made[0],
    ]
    root = records[2]
    assert root.service_name == "svc-a"
    assert root.attributes == {"index": 0, "openinference.span.kind": "AGENT"}
    assert root.span_type == "AGENT" and root.kind == "INTERNAL" and root.status_code == "UNSET"
    assert records[1].attributes == {"flag": True, "score": 0.5}
    assert records[0].attributes == {"tags": ["a", "b"]}
    assert records[0].events[0].name == "note" and records[0].events[0].attributes == {"n": 1}


@pytest.mark.slow
def test_four_processes_append_to_one_file_without_losing_or_tearing_lines(tmp_path: Path) -> None:
    path = tmp_path / "shared.jsonl"
    writers = [_writer(path, "1000") for _ in range(4)]
    for writer in writers:
        assert writer.wait(timeout=120) == 0

    lines = path.read_bytes().splitlines()
    assert len(lines) == 4000
    for line in lines:
        json.loads(line)
    records = list(read_spans(path))
    assert len(records) == 4000
    by_pid: dict[int, set[int]] = {}
    for record in records:
        by_pid.setdefault(record.attributes["pid"], set()).add(record.attributes["i"])
    assert sorted(by_pid) == sorted(w.pid for w in writers)
    assert all(indexes == set(range(1000)) for indexes in by_pid.values())


def test_threads_share_one_exporter(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "threads.jsonl"
    provider = provider_with(FileSpanExporter(path))
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: write_tree(provider, traces=50), range(8)))
    provider.shutdown()
    assert len(list(read_spans(path, strict=True))) == 8 * 50 * 3


def test_torn_last_line_is_skipped_with_a_warning_naming_file_and_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "torn.jsonl"
    provider = provider_with(FileSpanExporter(path))
    write_tree(provider, traces=2)
    provider.shutdown()
    whole = path.read_bytes()
    last = whole.splitlines()[-1]
    path.write_bytes(whole + last[: len(last) // 2])

    with caplog.at_level(logging.WARNING, logger="agent_tracing.exporters"):
        records = list(read_spans(path))
    assert len(records) == 6
    assert f"{path}:7" in caplog.text
    with pytest.raises(TraceFileError, match=f"{path}:7"):
        list(read_spans(path, strict=True))


def test_sigkilled_writer_leaves_only_parseable_lines(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "killed.jsonl"
    writer = _writer(path, "forever")
    assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
    wait_until(lambda: path.stat().st_size >= 200_000, timeout_s=30, message="the writer did not write 200,000 bytes")
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait(timeout=30)
    writer.stdout.close()

    lines = path.read_bytes().split(b"\n")
    complete, tail = lines[:-1], lines[-1]
    assert len(complete) > 100
    for line in complete:
        json.loads(line)
    with caplog.at_level(logging.WARNING, logger="agent_tracing.exporters"):
        count = sum(1 for _ in read_spans(path))
    assert count == len(complete)
    if tail:  # the kill tore the last line: the reader reports it by file and line
        assert f"{path}:{len(lines)}" in caplog.text
    else:
        assert caplog.text == ""


def test_missing_file_raises_trace_file_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(TraceFileError, match="nope.jsonl"):
        list(read_spans(tmp_path / "nope.jsonl"))


@pytest.mark.provokes_failures("file exporter (/dev/full)")
def test_full_disk_never_reaches_the_traced_call() -> None:
    from tracing._errors import error_counts

    exporter = FileSpanExporter("/dev/full")
    provider = provider_with(exporter)
    tracer = provider.get_tracer("t")

    def traced() -> str:
        with tracer.start_as_current_span("call"):
            return "result"

    before = sum(v for k, v in error_counts().items() if "/dev/full" in k)
    assert traced() == "result"
    assert traced() == "result"
    assert sum(v for k, v in error_counts().items() if "/dev/full" in k) == before + 2
    assert exporter.export([]) is SpanExportResult.SUCCESS
    provider.shutdown()


@pytest.mark.provokes_failures("file exporter (")
def test_unwritable_folder_never_reaches_the_traced_call(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    provider = provider_with(FileSpanExporter(blocker / "sub" / "traces.jsonl"))
    with provider.get_tracer("t").start_as_current_span("call"):
        value = 42
    assert value == 42
    provider.shutdown()


def test_rotation_keeps_backups_and_gzips_them(tmp_path: Path) -> None:
    path = tmp_path / "rot.jsonl"
    exporter = FileSpanExporter(path, max_bytes=4000, backups=3, compress=True)
    provider = provider_with(exporter)
    write_tree(provider, traces=60)
    provider.shutdown()

    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["rot.jsonl", "rot.jsonl.1.gz", "rot.jsonl.2.gz", "rot.jsonl.3.gz"]
    for name in names:
        file = tmp_path / name
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
        assert file.stat().st_size <= 4000 or name.endswith(".gz")
    with gzip.open(tmp_path / "rot.jsonl.1.gz", "rt") as rotated:
        assert all(json.loads(line) for line in rotated)
    kept = list(read_spans([tmp_path / "rot.jsonl.3.gz", tmp_path / "rot.jsonl.2.gz", tmp_path / "rot.jsonl.1.gz", path], strict=True))
    newest_root = [r for r in kept if r.name == "root"][-1]
    assert newest_root.attributes["index"] == 59
    assert len(kept) < 180


def test_rotation_without_compression_and_without_backups(tmp_path: Path) -> None:
    plain = tmp_path / "plain.jsonl"
    provider = provider_with(FileSpanExporter(plain, max_bytes=3000, backups=2))
    write_tree(provider, traces=40)
    provider.shutdown()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain.jsonl", "plain.jsonl.1", "plain.jsonl.2"]

    single = tmp_path / "single" / "one.jsonl"
    provider = provider_with(FileSpanExporter(single, max_bytes=3000, backups=0))
    write_tree(provider, traces=40)
    provider.shutdown()
    assert [p.name for p in single.parent.iterdir()] == ["one.jsonl"]
    assert single.stat().st_size <= 3000


def test_processes_rotating_one_file_lose_no_span(tmp_path: Path) -> None:
    path = tmp_path / "multi.jsonl"
    writers = [_writer(path, "500", "500000") for _ in range(3)]
    for writer in writers:
        assert writer.wait(timeout=120) == 0
    rotated = sorted(tmp_path.glob("multi.jsonl.*.gz"), reverse=True)
    assert 2 <= len(rotated) < 5  # rotated several times, nothing deleted yet
    assert not list(tmp_path.glob("*.partial"))
    records = list(read_spans([*rotated, path], strict=True))
    assert len(records) == 1500
    assert len({(r.attributes["pid"], r.attributes["i"]) for r in records}) == 1500


def test_gzip_trace_files_are_read(tmp_path: Path) -> None:
    path = tmp_path / "plain.jsonl"
    provider = provider_with(FileSpanExporter(path))
    write_tree(provider, traces=3)
    provider.shutdown()
    packed = tmp_path / "packed.jsonl.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    assert [r.span_id for r in read_spans(packed)] == [r.span_id for r in read_spans(path)]


def test_fsync_always_writes_every_line(tmp_path: Path) -> None:
    path = tmp_path / "synced.jsonl"
    provider = provider_with(FileSpanExporter(path, fsync="always"))
    write_tree(provider)
    provider.shutdown()
    assert len(path.read_text().splitlines()) == 3
    with pytest.raises(ValueError):
        FileSpanExporter(path, fsync="sometimes")  # type: ignore[arg-type]


_TORN_WRITE = r"""
import json, os, resource, signal, sys
from opentelemetry.sdk.trace import TracerProvider
from exporters import FileSpanExporter

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
path = sys.argv[1]
tracer = TracerProvider().get_tracer("torn")

def spans(name, count, size):
    made = []
    for i in range(count):
        span = tracer.start_span(name, attributes={"i": i, "pad": "x" * size})
        span.end()
        made.append(span)
    return made

exporter = FileSpanExporter(path)
first = exporter.export(spans("first", 2, 10)).name
_, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (os.path.getsize(path) + 100, hard))
torn = exporter.export(spans("torn", 20, 1000)).name
flushed_after_failure = exporter.force_flush()
resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
last = exporter.export(spans("last", 2, 10)).name
flushed_again = exporter.force_flush()
exporter.shutdown()
print(json.dumps([first, torn, flushed_after_failure, last, flushed_again]))
"""


def test_a_write_that_fails_half_way_is_cut_off_and_the_next_line_stays_whole(tmp_path: Path) -> None:
    path = tmp_path / "torn.jsonl"
    run = subprocess.run([sys.executable, "-c", _TORN_WRITE, str(path)], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == ["SUCCESS", "FAILURE", False, "SUCCESS", True]
    assert "File too large" in run.stderr  # the failure was reported (once)
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == 3
    assert [r.name for r in read_spans(path, strict=True)] == ["first", "first", "last", "last"]


def test_a_line_left_unfinished_by_another_writer_does_not_swallow_the_next(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "fragment.jsonl"
    path.write_bytes(b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "ab')  # a writer killed mid-line
    os.chmod(path, 0o600)
    provider = provider_with(FileSpanExporter(path))
    write_tree(provider)
    provider.shutdown()
    with caplog.at_level(logging.WARNING, logger="agent_tracing.exporters"):
        records = list(read_spans(path))
    assert [r.name for r in records] == ["grandchild", "child", "root"]
    assert f"{path}:1: skipped an unreadable line" in caplog.text


def test_folders_it_creates_are_0700_and_files_0600(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "traces.jsonl"
    provider = provider_with(FileSpanExporter(path, max_bytes=2000, backups=3, compress=True))
    write_tree(provider, traces=20)
    provider.shutdown()
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "a" / "b").stat().st_mode) == 0o700
    files = list((tmp_path / "a" / "b").iterdir())
    assert len(files) == 4
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)


def _finished_span(name: str) -> ReadableSpan:
    span = TracerProvider().get_tracer("fork").start_span(name, attributes={"pid": os.getpid()})
    span.end()
    return span  # type: ignore[return-value]


def _wait_for_children(pids: list[int], timeout_s: float) -> dict[int, int]:
    """Exit status of every child; the ones still running at the deadline are killed and the test fails."""
    statuses: dict[int, int] = {}

    def all_exited() -> bool:
        for pid in pids:
            if pid not in statuses:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    statuses[pid] = os.waitstatus_to_exitcode(status)
        return len(statuses) == len(pids)

    try:
        wait_until(all_exited, timeout_s=timeout_s, message=lambda: f"{len(pids) - len(statuses)} forked children hung (killed)")
    finally:
        for pid in pids:
            if pid not in statuses:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
    return statuses


@pytest.mark.slow
def test_a_child_forked_while_the_parent_writes_exports_and_shuts_down(tmp_path: Path) -> None:
    path = tmp_path / "forked.jsonl"
    exporter = FileSpanExporter(path)
    batch = [_finished_span("parent") for _ in range(200)]
    child_span = _finished_span("child")
    stop = threading.Event()

    def write() -> None:
        while not stop.is_set():
            exporter.export(batch)

    writer = threading.Thread(target=write)
    writer.start()
    pids = []
    try:
        for _ in range(40):
            pid = os.fork()
            if pid == 0:  # the child: its exporter must not wait on the parent's lock or share its file lock
                code = 1
                try:
                    ok = exporter.export([child_span]) is SpanExportResult.SUCCESS
                    exporter.shutdown()
                    code = 0 if ok else 3
                finally:
                    os._exit(code)
            pids.append(pid)
    finally:
        stop.set()
        writer.join(30)
    statuses = _wait_for_children(pids, timeout_s=60)
    exporter.shutdown()
    assert set(statuses.values()) == {0}
    names = [r.name for r in read_spans(path, strict=True)]
    assert names.count("child") == 40


def _rotating_child(path: str, count: int, exporter: FileSpanExporter) -> None:
    provider = provider_with(exporter)
    tracer = provider.get_tracer("child")
    for index in range(count):
        with tracer.start_as_current_span("work", attributes={"pid": os.getpid(), "i": index, "pad": "y" * 300}):
            pass


@pytest.mark.slow
@pytest.mark.parametrize("start", ["os.fork", "multiprocessing fork"])
def test_forked_children_appending_to_one_rotating_file_lose_nothing(tmp_path: Path, start: str) -> None:
    import multiprocessing

    path = tmp_path / "rotating.jsonl"
    exporter = FileSpanExporter(path, max_bytes=30_000, backups=1000, compress=True)
    provider = provider_with(exporter)
    with provider.get_tracer("parent").start_as_current_span("parent", attributes={"pid": os.getpid(), "i": 0}):
        pass  # the parent's file is open before the children are forked
    children, count = 4, 300
    if start == "os.fork":
        pids = []
        for _ in range(children):
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    _rotating_child(str(path), count, exporter)
                    code = 0
                finally:
                    os._exit(code)
            pids.append(pid)
        assert set(_wait_for_children(pids, timeout_s=120).values()) == {0}
    else:
        context = multiprocessing.get_context("fork")
        processes = [context.Process(target=_rotating_child, args=(str(path), count, exporter)) for _ in range(children)]
        for process in processes:
            process.start()
        for process in processes:
            process.join(120)
            assert process.exitcode == 0
    provider.shutdown()
    rotated = sorted(tmp_path.glob("rotating.jsonl.*.gz"), key=lambda p: int(p.name.split(".")[2]), reverse=True)
    assert len(rotated) >= 5  # rotated many times while the children wrote
    records = list(read_spans([*rotated, path], strict=True))
    work = {(r.attributes["pid"], r.attributes["i"]) for r in records if r.name == "work"}
    assert len(work) == children * count == sum(1 for r in records if r.name == "work")
