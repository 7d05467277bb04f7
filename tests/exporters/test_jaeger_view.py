"""`agent-tracing jaeger` and `agent-tracing view` on real trace files."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest
from opentelemetry.trace import SpanKind, Status, StatusCode

from exporters import FileSpanExporter
from exporters.cli import main
from tests.exporters.helpers import provider_with, write_tree


@pytest.fixture
def trace_file(tmp_path: Path) -> Path:
    path = tmp_path / "traces.jsonl"
    provider = provider_with(FileSpanExporter(path), service="shop", resource={"deployment.environment": "test"})
    write_tree(provider, traces=2)
    tracer = provider.get_tracer("rag", "1.2")
    with tracer.start_as_current_span("agent", kind=SpanKind.SERVER, attributes={"openinference.span.kind": "AGENT"}):
        with tracer.start_as_current_span(
            "search",
            attributes={
                "openinference.span.kind": "RETRIEVER",
                "retrieval.documents.0.document.id": "d1",
                "retrieval.documents.1.document.id": "d2",
                "retrieval.documents.1.document.score": 0.25,
            },
        ) as search:
            search.add_event("exception", {"exception.type": "KeyError", "exception.message": "boom"})
            search.set_status(Status(StatusCode.ERROR, "boom"))
    other = provider_with(FileSpanExporter(path), service="billing")
    with other.get_tracer("t").start_as_current_span("invoice"):
        pass
    provider.shutdown()
    other.shutdown()
    return path


def test_jaeger_json_has_typed_tags_logs_references_and_processes(trace_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "jaeger.json"
    assert main(["jaeger", str(trace_file), "-o", str(out)]) == 0
    document = json.loads(out.read_text())
    assert len(document["data"]) == 4
    spans = {s["operationName"]: (trace, s) for trace in document["data"] for s in trace["spans"]}
    trace, search = spans["search"]
    tags = {t["key"]: t for t in search["tags"]}
    assert tags["error"] == {"key": "error", "type": "bool", "value": True}
    assert tags["otel.status_code"]["value"] == "ERROR" and tags["otel.status_description"]["value"] == "boom"
    assert tags["span.kind"]["value"] == "internal"
    assert tags["retrieval.documents.1.document.score"] == {"key": "retrieval.documents.1.document.score", "type": "float64", "value": 0.25}
    assert tags["otel.scope.name"]["value"] == "rag" and tags["otel.scope.version"]["value"] == "1.2"
    assert search["logs"][0]["fields"][0] == {"key": "event", "type": "string", "value": "exception"}
    assert {"key": "exception.type", "type": "string", "value": "KeyError"} in search["logs"][0]["fields"]
    assert search["logs"][0]["timestamp"] >= search["startTime"]
    _, agent = spans["agent"]
    assert search["references"] == [{"refType": "CHILD_OF", "traceID": agent["traceID"], "spanID": agent["spanID"]}]
    assert {t["key"]: t["value"] for t in agent["tags"]}["span.kind"] == "server"
    assert agent["references"] == []
    assert isinstance(agent["startTime"], int) and agent["startTime"] > 1_600_000_000_000_000
    assert agent["duration"] >= search["duration"]
    process = trace["processes"][search["processID"]]
    assert process["serviceName"] == "shop"
    assert {"key": "deployment.environment", "type": "string", "value": "test"} in process["tags"]
    _, child = spans["child"]
    assert {t["key"]: t for t in child["tags"]}["flag"]["type"] == "bool"
    _, grandchild = spans["grandchild"]
    assert {t["key"]: t for t in grandchild["tags"]}["tags"] == {"key": "tags", "type": "string", "value": '["a", "b"]'}
    trace_invoice, invoice = spans["invoice"]
    assert trace_invoice["processes"][invoice["processID"]]["serviceName"] == "billing"


def test_view_prints_a_plain_tree_when_not_on_a_terminal(trace_file: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "exporters.cli", "view", str(trace_file)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert sum(1 for line in lines if line.startswith("trace ")) == 4
    agent = next(i for i, line in enumerate(lines) if line.strip().startswith("agent"))
    assert lines[agent].startswith("  agent  [AGENT]") and lines[agent].endswith("UNSET")
    assert lines[agent + 1].startswith("    search  [RETRIEVER]")
    assert lines[agent + 1].endswith("ERROR  2 docs")
    assert "\x1b[" not in run.stdout


def test_view_filters_by_trace_and_depth(trace_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    packed = tmp_path / "traces.jsonl.gz"
    packed.write_bytes(gzip.compress(trace_file.read_bytes()))
    from exporters.tracefiles import read_spans

    agent = next(r for r in read_spans(trace_file) if r.name == "agent")
    assert main(["view", str(packed), "--trace", agent.trace_id.upper(), "--max-depth", "1"]) == 0
    out = capsys.readouterr().out
    assert out.count("trace ") == 1 and "agent  [AGENT]" in out and "... 1 more spans" in out and "search" not in out
    assert main(["view", str(trace_file), "--trace", "0" * 32]) == 2


def test_unreadable_input_exits_2_naming_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk.jsonl"
    junk.write_text("\nnot json\n")
    assert main(["view", str(junk)]) == 2
    assert f"{junk}:2" in capsys.readouterr().err
    assert main(["jaeger", str(tmp_path / "absent.jsonl"), "-o", str(tmp_path / "o.json")]) == 2
    assert "absent.jsonl" in capsys.readouterr().err
    assert main(["view"]) == 2
    assert main(["frobnicate"]) == 2
    assert main(["--help"]) == 0


def test_a_torn_line_is_a_warning_not_an_error(trace_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with open(trace_file, "ab") as torn:
        torn.write(b'{"resourceSpans": [')
    lines = len(trace_file.read_bytes().splitlines())
    assert main(["view", str(trace_file)]) == 0
    captured = capsys.readouterr()
    assert captured.out.count("trace ") == 4
    assert f"{trace_file}:{lines}" in captured.err
