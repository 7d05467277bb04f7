"""`agent-tracing jaeger` and `agent-tracing view` on real trace files."""

from __future__ import annotations

import gzip
import json
import os
import re
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


HOSTILE_NAME = "evil\x1b[2J\x1b]0;pwned\x07\x1b]8;;http://x.example\x1b\\link\x1b]8;;\x1b\\\x9b31m\u202etxt.exe\r\nnext"


def _hostile_file(path: Path) -> Path:
    provider = provider_with(FileSpanExporter(path), service="svc\x1b[31m")
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span(HOSTILE_NAME, attributes={"input.value": "in\x1b[2Jput", "output.value": "out\x07put"}) as span:
        span.add_event("ev\x1b[1m", {"k\x1b": "v\x9d"})
    provider.shutdown()
    return path


@pytest.mark.parametrize("options", [[], ["--details"]], ids=["tree", "details"])
@pytest.mark.parametrize("terminal", [False, True], ids=["plain", "terminal"])
def test_view_never_sends_control_characters_from_span_data(tmp_path: Path, options: list[str], terminal: bool) -> None:
    path = _hostile_file(tmp_path / "evil.jsonl")
    env = {"FORCE_COLOR": "1", "TERM": "xterm-256color", "COLUMNS": "200"} if terminal else {"COLUMNS": "200", "TERM": "dumb"}
    run = subprocess.run([sys.executable, "-m", "exporters.cli", "view", str(path), *options], capture_output=True, text=True, timeout=60,
                         env={**{k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR", "TERM")}, **env})
    assert run.returncode == 0, run.stderr
    out = run.stdout
    # rich's own colour codes (ESC [ ... m) may appear on a terminal; nothing else from the span data
    stripped = re.sub(r"\x1b\[[0-9;]*m", "", out)
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]", stripped), repr(stripped)
    assert "evil\\x1b[2J\\x1b]0;pwned\\x07" in stripped and "\\u202etxt.exe\\r\\nnext" in stripped
    assert "svc\\x1b[31m" in stripped
    if options:
        assert "input: in\\x1b[2Jput" in stripped and "output: out\\x07put" in stripped
        assert "event ev\\x1b[1m" in stripped and "k\\x1b=v\\x9d" in stripped


def test_view_header_shows_the_root_service_and_trace_prefixes_select(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "two.jsonl"
    root_side = provider_with(FileSpanExporter(path), service="frontend")
    tracer = root_side.get_tracer("t")
    child_side = provider_with(FileSpanExporter(path), service="backend")
    with tracer.start_as_current_span("root") as root:
        with child_side.get_tracer("t").start_as_current_span("downstream"):
            pass
    child_side.shutdown()  # the child's line comes first in the file
    root_side.shutdown()
    trace_id = format(root.get_span_context().trace_id, "032x")

    assert main(["view", str(path), "--trace", trace_id[:6]]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith(f"trace {trace_id}  frontend  ")

    assert main(["view", str(path), "--trace", "f" * 33]) == 2
    assert "--trace" in capsys.readouterr().err


def test_view_trace_prefix_matching_several_traces_is_refused(trace_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from exporters.tracefiles import read_spans

    ids = sorted({r.trace_id for r in read_spans(trace_file)})
    assert main(["view", str(trace_file), "--trace", ""]) == 2
    common = next(n for n in range(32) if len({i[: n + 1] for i in ids}) > 1)
    if common:
        assert main(["view", str(trace_file), "--trace", ids[0][:common]]) == 2
        assert "give more digits" in capsys.readouterr().err


def test_view_details_show_inputs_outputs_documents_and_events_cut_to_the_terminal(trace_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "rag.jsonl"
    provider = provider_with(FileSpanExporter(path))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("search", attributes={
        "openinference.span.kind": "RETRIEVER",
        "input.value": '{"query": "bikes"}',
        "output.value": "x" * 5000,
        "retrieval.documents.0.document.id": "d1",
        "retrieval.documents.0.document.score": 0.875,
        "retrieval.documents.0.document.metadata": '{"doc_uri": "https://kb.example/bikes"}',
        "retrieval.documents.1.document.id": "d2",
    }) as span:
        span.add_event("exception", {"exception.type": "KeyError", "exception.message": "boom"})
        span_id = format(span.get_span_context().span_id, "016x")
    provider.shutdown()
    run = subprocess.run([sys.executable, "-m", "exporters.cli", "view", str(path), "--span", span_id[:5]], capture_output=True, text=True,
                         timeout=60, env={**os.environ, "COLUMNS": "100"})
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert 'input: {"query": "bikes"}' in out
    assert "document 1: https://kb.example/bikes  score 0.875" in out and "document 2: d2  score -" in out
    assert "event exception at +" in out and "exception.message=boom" in out
    output_line = next(line for line in out.splitlines() if "output: " in line)
    assert len(output_line) < 400 and "more characters)" in output_line
    tree = subprocess.run([sys.executable, "-m", "exporters.cli", "view", str(path), "--details"], capture_output=True, text=True, timeout=60)
    assert "document 1: https://kb.example/bikes" in tree.stdout


def test_jaeger_writes_big_integers_as_strings_and_keeps_exception_escaped(tmp_path: Path) -> None:
    import tracing

    path = tmp_path / "t.jsonl"
    tracing.configure(service_name="jaeger-test", exporters=[f"file://{path}"])

    @tracing.trace
    def fails() -> None:
        raise ValueError("left the span")

    with pytest.raises(ValueError):
        fails()
    with tracing.start_span("numbers", attributes={"big": 2**53 + 1, "small": 2**53, "negative": -(2**63)}):
        pass
    tracing.force_flush()
    tracing.shutdown()
    out = tmp_path / "j.json"
    assert main(["jaeger", str(path), "-o", str(out)]) == 0
    text = out.read_text()
    document = json.loads(text)
    spans = {s["operationName"]: s for trace in document["data"] for s in trace["spans"]}
    tags = {t["key"]: t for t in spans["numbers"]["tags"]}
    assert tags["big"] == {"key": "big", "type": "int64", "value": "9007199254740993"}
    assert tags["small"] == {"key": "small", "type": "int64", "value": 9007199254740992}
    assert tags["negative"]["value"] == str(-(2**63))
    fields = {f["key"]: f for f in spans["fails"]["logs"][0]["fields"]}
    assert fields["exception.escaped"] == {"key": "exception.escaped", "type": "bool", "value": True}
    assert fields["exception.type"]["value"] == "ValueError"


def test_view_shows_documents_of_genai_only_retrievers_and_other_writers_uris(tmp_path: Path) -> None:
    import tracing

    path = tmp_path / "genai.jsonl"
    tracing.configure(exporters=[str(path)], conventions=["genai"])

    @tracing.trace(span_type="RETRIEVER")
    def search(query: str) -> list[dict[str, object]]:
        return [{"page_content": "bikes", "metadata": {"doc_uri": "https://kb.example/bikes", "chunk_id": "c1"}}]

    search("bikes")
    tracing.shutdown()
    provider = provider_with(FileSpanExporter(path))
    with provider.get_tracer("langchain").start_as_current_span("VectorStoreRetriever", attributes={
        "openinference.span.kind": "RETRIEVER",
        "retrieval.documents.0.document.content": "trains",
        "retrieval.documents.0.document.metadata": '{"source": "docs/trains.md"}',
    }):
        pass
    provider.shutdown()
    run = subprocess.run([sys.executable, "-m", "exporters.cli", "view", str(path), "--details"], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "COLUMNS": "200"})
    assert run.returncode == 0, run.stderr
    assert "document 1: https://kb.example/bikes" in run.stdout  # from output.value: no retrieval.documents.* under genai
    assert "document 1: docs/trains.md" in run.stdout  # LangChain's metadata.source
    assert re.search(r"search .*1 doc", run.stdout), run.stdout
