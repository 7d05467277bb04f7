"""push and `agent-tracing push`: trace files replayed to a real oteltap receiver with ids, parents and times kept."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from exporters import FileSpanExporter
from exporters.cli import main
from exporters.tracefiles import read_spans
from exporters.tracefiles.push import push
from tests.exporters.helpers import provider_with, write_tree
from tests.servers import free_port
from tests.servers.oteltap import OtelTap, attributes_of


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


def test_push_to_an_absent_receiver_fails_with_exit_1(tmp_path: Path) -> None:
    path = _trace_file(tmp_path / "t.jsonl", traces=4)
    port = free_port()
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


def _big_trace_file(path: Path, spans: int, per_line: int = 500) -> None:
    """An OTLP JSON Lines file of `spans` spans with distinct ids, in traces of 10 (a root and 9 children)."""
    import json

    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "bulk"}}]}
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
                        "attributes": [{"key": "n", "value": {"intValue": str(n)}}],
                        "status": {},
                    }
                )
            out.write(json.dumps({"resourceSpans": [{"resource": resource, "scopeSpans": [{"scope": {"name": "bulk"}, "spans": batch}]}]}) + "\n")


def test_push_of_100000_spans_all_arrive(oteltap: OtelTap, tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    _big_trace_file(path, 100_000)
    assert main(["push", str(path), "--endpoint", oteltap.endpoint]) == 0
    received = oteltap.wait_for(100_000, timeout_s=180)
    assert len(received) == 100_000
    assert len({s["spanId"] for s in received}) == 100_000
    assert all(s["parentSpanId"] == "" or int(s["spanId"], 16) - int(s["parentSpanId"], 16) < 10 for s in received)
