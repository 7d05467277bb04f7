"""push and `agent-tracing push`: trace files replayed to a real oteltap receiver with ids, parents and times kept."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from exporters import FileSpanExporter
from exporters.cli import main
from exporters.tracefiles import read_spans
from exporters.tracefiles.push import push
from tests.exporters.collector import Collector
from tests.exporters.helpers import provider_with, write_tree
from tests.servers import refused_port
from tests.servers.oteltap import OtelTap, attributes_of

ROOT = Path(__file__).resolve().parents[2]


def _trace_file(path: Path, traces: int) -> Path:
    provider = provider_with(FileSpanExporter(path), service="pushed")
    write_tree(provider, traces=traces)
    provider.shutdown()
    return path


def test_push_keeps_ids_parents_times_and_attributes(oteltap: OtelTap, tmp_path: Path) -> None:
    path = _trace_file(tmp_path / "t.jsonl", traces=20)
    original = {r.span_id: r for r in read_spans(path)}
    result = push([path], oteltap.endpoint, batch_size=7)
    assert (result.sent, result.failed, result.skipped_lines) == (60, 0, 0)

    received = oteltap.wait_for(60)
    assert len(received) == 60
    for span in received:
        record = original[span["spanId"]]
        assert span["traceId"] == record.trace_id
        assert (span["parentSpanId"] or None) == record.parent_span_id
        assert (int(span["startTimeUnixNano"]), int(span["endTimeUnixNano"])) == (record.start_time_unix_nano, record.end_time_unix_nano)
        assert span["name"] == record.name
        assert attributes_of(span) == record.attributes


def test_cli_push_exit_codes(oteltap: OtelTap, tmp_path: Path) -> None:
    path = _trace_file(tmp_path / "t.jsonl", traces=2)
    assert main(["push", str(path), "--endpoint", f"http://127.0.0.1:{oteltap.port}", "--header", "x-team=a"]) == 0
    assert len(oteltap.wait_for(6)) == 6

    assert main(["push", str(tmp_path / "missing.jsonl"), "--endpoint", oteltap.endpoint]) == 2
    assert main(["push", str(path), "--endpoint", oteltap.endpoint, "--header", "novalue"]) == 2
    assert main(["push", str(path)]) == 2


@pytest.mark.slow
def test_push_to_an_absent_receiver_fails_with_exit_1(tmp_path: Path) -> None:
    path = _trace_file(tmp_path / "t.jsonl", traces=4)
    with refused_port() as port:
        run = subprocess.run(
            [sys.executable, "-m", "exporters.cli", "push", str(path), "--endpoint", f"http://127.0.0.1:{port}",
             "--timeout", "1", "--retry-for", "2", "--batch-size", "5"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert run.returncode == 1
    assert "sent 0 spans, failed 12" in run.stderr


def test_push_skips_a_torn_line_and_reports_it(oteltap: OtelTap, tmp_path: Path) -> None:
    path = _trace_file(tmp_path / "t.jsonl", traces=3)
    with open(path, "ab") as torn:
        torn.write(b'{"resourceSpans": [{"scopeSp')
    run = subprocess.run(
        [sys.executable, "-m", "exporters.cli", "push", str(path), "--endpoint", oteltap.endpoint],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1
    assert f"{path}:10" in run.stderr
    assert "sent 9 spans, failed 0, skipped 1" in run.stderr
    assert len(oteltap.wait_for(9)) == 9


def _big_trace_file(path: Path, spans: int, per_line: int = 500, project: str | None = None, payload: int = 0) -> None:
    """An OTLP JSON Lines file of `spans` spans with distinct ids, in traces of 10 (a root and 9 children).

    `project` routes them to a Phoenix project; `payload` adds an input.value of that many characters to each span.
    """
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "bulk"}}]}
    if project is not None:
        resource["attributes"].append({"key": "openinference.project.name", "value": {"stringValue": project}})
    extra = [{"key": "input.value", "value": {"stringValue": "p" * payload}}] if payload else []
    with open(path, "w") as out:
        for first in range(0, spans, per_line):
            batch = []
            for n in range(first, min(spans, first + per_line)):
                root = n - n % 10
                batch.append(
                    {
                        "traceId": format(root + 1, "032x"),
                        "spanId": format(n + 1, "016x"),
                        "parentSpanId": "" if n == root else format(root + 1, "016x"),
                        "name": "bulk",
                        "kind": 1,
                        "startTimeUnixNano": str(1_700_000_000_000_000_000 + n * 1000),
                        "endTimeUnixNano": str(1_700_000_000_000_000_000 + n * 1000 + 500),
                        "attributes": [{"key": "n", "value": {"intValue": str(n)}}, *extra],
                        "status": {},
                    }
                )
            out.write(json.dumps({"resourceSpans": [{"resource": resource, "scopeSpans": [{"scope": {"name": "bulk"}, "spans": batch}]}]}) + "\n")


@pytest.mark.slow
def test_push_of_100000_spans_all_arrive(oteltap: OtelTap, tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    _big_trace_file(path, 100_000)
    assert main(["push", str(path), "--endpoint", oteltap.endpoint]) == 0
    received = oteltap.wait_for(100_000, timeout_s=180)
    assert len(received) == 100_000
    assert len({s["spanId"] for s in received}) == 100_000
    assert all(s["parentSpanId"] == "" or int(s["spanId"], 16) - int(s["parentSpanId"], 16) < 10 for s in received)


@pytest.fixture
def receiver() -> Iterator[Collector]:
    """A local OTLP/HTTP receiver that answers 413, 429 or 503 on cue."""
    server = Collector()
    yield server
    server.stop()


def _cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "exporters.cli", *map(str, args)], capture_output=True, text=True, timeout=300, cwd=ROOT)


@pytest.mark.slow
def test_throttled_answers_are_retried_after_their_retry_after(receiver: Collector, tmp_path: Path) -> None:
    path = _trace_file(tmp_path / "t.jsonl", traces=10)
    receiver.script = [(429, {"Retry-After": "1"}), (503, {"Retry-After": "2"})]
    result = push([path], receiver.endpoint, batch_size=10, timeout_s=1.5)
    assert (result.sent, result.failed) == (30, 0)
    assert result.throttled == 2 and result.retries >= 1
    assert set(receiver.received.values()) == {1} and len(receiver.received) == 30
    (_, first, t1), (_, second, t2), (_, third, t3) = receiver.requests[:3]
    assert (first, second, third) == (429, 503, 200)
    assert t2 - t1 >= 0.9 and t3 - t2 >= 1.9  # each Retry-After was waited out


def test_413_halves_the_batch_until_it_fits(receiver: Collector, tmp_path: Path) -> None:
    path = _trace_file(tmp_path / "t.jsonl", traces=20)
    receiver.max_spans = 8
    result = push([path], receiver.endpoint, batch_size=64)
    assert (result.sent, result.failed) == (60, 0) and result.splits >= 3
    assert set(receiver.received.values()) == {1} and len(receiver.received) == 60
    accepted = [spans for spans, status, _ in receiver.requests if status == 200]
    assert max(accepted) <= 8 and sum(accepted) == 60


@pytest.mark.slow
def test_a_stopped_push_resumes_from_its_checkpoint_and_sends_nothing_twice(receiver: Collector, tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    _big_trace_file(path, 1_000, per_line=64)
    receiver.accept = 3
    stopped = _cli("push", path, "--endpoint", receiver.endpoint, "--batch-size", "50", "--timeout", "1", "--retry-for", "1")
    assert stopped.returncode == 1, stderr_of(stopped)
    assert "sent 150 spans, failed 850" in stopped.stderr and "--resume" in stopped.stderr
    checkpoint = json.loads((tmp_path / "big.jsonl.push-checkpoint.json").read_text())
    assert checkpoint["sent"] == 150 and not checkpoint["done"]

    receiver.accept = None
    resumed = _cli("push", path, "--endpoint", receiver.endpoint, "--batch-size", "50", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "sent 850 spans, failed 0, skipped 0 unreadable lines, 150 already sent before (--resume)" in resumed.stderr
    assert len(receiver.received) == 1_000 and set(receiver.received.values()) == {1}

    again = _cli("push", path, "--endpoint", receiver.endpoint, "--resume")
    assert again.returncode == 0 and "sent 0 spans" in again.stderr
    assert set(receiver.received.values()) == {1}

    _trace_file(path, traces=2)  # the application appended to the file since: --resume sends just that
    grown = _cli("push", path, "--endpoint", receiver.endpoint, "--resume")
    assert grown.returncode == 0 and "sent 6 spans" in grown.stderr
    assert len(receiver.received) == 1_006 and set(receiver.received.values()) == {1}


def stderr_of(run: subprocess.CompletedProcess[str]) -> str:
    return run.stderr[-2000:]


def test_resume_refuses_a_missing_checkpoint_or_a_changed_file(receiver: Collector, tmp_path: Path) -> None:
    path = _trace_file(tmp_path / "t.jsonl", traces=2)
    missing = _cli("push", path, "--endpoint", receiver.endpoint, "--resume")
    assert missing.returncode == 2 and "--resume: no checkpoint at" in missing.stderr
    assert _cli("push", path, "--endpoint", receiver.endpoint).returncode == 0
    path.write_bytes(b" " + path.read_bytes())
    changed = _cli("push", path, "--endpoint", receiver.endpoint, "--resume")
    assert changed.returncode == 2 and "is not the file the checkpoint" in changed.stderr
    assert len(changed.stderr.splitlines()) == 1


def test_credentials_are_never_printed(receiver: Collector, tmp_path: Path) -> None:
    path = _trace_file(tmp_path / "t.jsonl", traces=2)
    endpoint = f"http://agent:s3cr3t-pass@127.0.0.1:{receiver.port}/v1/traces?api_key=s3cr3t-key&team=a"
    sent = _cli("push", path, "--endpoint", endpoint, "--header", "Authorization=Bearer s3cr3t-token", "--header", "x-team=a")
    assert sent.returncode == 0, sent.stderr
    assert "http://***@127.0.0.1" in sent.stderr and "api_key=***" in sent.stderr and "team=a" in sent.stderr
    assert receiver.authorization[-1] == "Basic YWdlbnQ6czNjcjN0LXBhc3M="  # the userinfo reached the collector (it wins over the header)
    with refused_port() as port:
        failed = _cli("push", path, "--endpoint", f"http://agent:s3cr3t-pass@127.0.0.1:{port}/v1/traces", "--header", "Authorization=Bearer s3cr3t-token",
                      "--timeout", "0.5", "--retry-for", "0.5")
    assert failed.returncode == 1
    for run in (sent, failed):
        assert "s3cr3t" not in run.stdout + run.stderr


def test_a_collector_that_refuses_for_good_is_not_retried(receiver: Collector, tmp_path: Path) -> None:
    path = _trace_file(tmp_path / "t.jsonl", traces=4)
    receiver.script = [(400, {})]
    result = push([path], receiver.endpoint, batch_size=6)
    assert (result.sent, result.failed, result.refused) == (6, 6, 1)
    assert [status for _, status, _ in receiver.requests] == [400, 200]
