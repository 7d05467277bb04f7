"""Retriever spans of real trace files as a data set: rows, request text, CSV, --top-level-only, --no-content."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import tracing
from exporters.evaluation import iter_retrievals, request_text
from exporters.tracefiles import read_spans
from tests.evaluation.helpers import KB, HelpDesk, agent_tracing, ask_all, search


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_one_row_per_retriever_span_with_the_root_request(trace_file: Path, tmp_path: Path) -> None:
    ask_all()
    HelpDesk().predict({"input": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "an answer"},
        {"role": "user", "content": [{"type": "input_text", "text": "Where is my order?"}]},
    ]})
    tracing.force_flush()
    out = tmp_path / "rows.jsonl"

    completed = agent_tracing("retrievals", trace_file, "-o", out)

    assert completed.returncode == 0, completed.stderr
    assert "wrote 5 retriever spans" in completed.stderr
    rows = _rows(out)
    retrievers = [span for span in read_spans(trace_file) if span.name == "kb_search"]
    assert [(row["trace_id"], row["span_id"]) for row in rows] == [(span.trace_id, span.span_id) for span in retrievers]
    first = rows[0]
    assert list(first) == ["trace_id", "span_id", "retriever", "request", "query", "documents", "start_time", "duration_ms", "status"]
    assert first["retriever"] == "kb_search"
    assert first["request"] == first["query"] == "Where is my order?"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", first["start_time"])
    assert first["duration_ms"] >= 0 and first["status"] == "UNSET"
    assert first["documents"][0] == {
        "rank": 1, "id": "orders-0", "doc_uri": KB + "orders", "score": 1.0, "content": "All about orders.", "metadata": {"section": "orders"},
    }
    assert [d["rank"] for d in first["documents"]] == [1, 2, 3]
    assert rows[2]["documents"] == []
    assert rows[4]["request"] == "Where is my order?"


def test_request_text_rules() -> None:
    assert request_text({"question": "What is up?"}) == "What is up?"
    assert request_text({"request": {"input": [{"role": "user", "content": "hi"}]}}) == "hi"
    assert request_text({"messages": [{"role": "user", "content": "one"}, {"role": "assistant", "content": "two"}]}) == "one"
    assert request_text({"b": 1, "a": "x"}) == '{"a": "x", "b": 1}'
    assert request_text("plain") == "plain"


def test_a_function_root_with_one_string_argument(trace_file: Path) -> None:
    @tracing.trace
    def answer(question: str) -> str:
        return str(search(question))

    answer("Do you sell helmets?")
    tracing.force_flush()
    (row,) = iter_retrievals(trace_file)
    assert row["request"] == "Do you sell helmets?"


def test_csv_has_a_line_per_document_and_keeps_spans_without_documents(trace_file: Path, tmp_path: Path) -> None:
    ask_all(["How do I return a bike?", "Do you sell helmets?"])
    tracing.force_flush()
    out = tmp_path / "rows.csv"

    assert agent_tracing("retrievals", trace_file, "-o", out).returncode == 0

    with out.open(newline="") as lines:
        table = list(csv.DictReader(lines))
    assert [(line["request"], line["rank"], line["doc_uri"]) for line in table] == [
        ("How do I return a bike?", "1", KB + "shipping"),
        ("How do I return a bike?", "2", KB + "returns"),
        ("How do I return a bike?", "3", KB + "returns"),
        ("Do you sell helmets?", "", ""),
    ]
    assert json.loads(table[0]["metadata"]) == {"section": "shipping"}
    assert table[0]["content"] == "All about shipping."


def test_no_content_drops_document_text(trace_file: Path, tmp_path: Path) -> None:
    ask_all(["Where is my order?"])
    tracing.force_flush()
    jsonl, table = tmp_path / "rows.jsonl", tmp_path / "rows.csv"

    assert agent_tracing("retrievals", trace_file, "-o", jsonl, "--no-content").returncode == 0
    assert agent_tracing("retrievals", trace_file, "-o", table, "--no-content").returncode == 0

    (row,) = _rows(jsonl)
    assert [d["content"] for d in row["documents"]] == [None, None, None]
    assert [d["doc_uri"] for d in row["documents"]] == [KB + "orders", KB + "shipping", KB + "returns"]
    assert "All about" not in table.read_text()


def test_top_level_only_skips_retrievers_nested_in_a_retriever(trace_file: Path) -> None:
    @tracing.trace(name="hybrid", span_type="RETRIEVER")
    def hybrid(query: str) -> list[dict[str, Any]]:
        with tracing.start_span("fuse"):
            return search(query)[:1]

    @tracing.trace
    def answer(question: str) -> str:
        return str(hybrid(question)) + str(search(question))

    answer("Where is my order?")
    tracing.force_flush()
    assert [row["retriever"] for row in iter_retrievals(trace_file)] == ["hybrid", "kb_search", "kb_search"]
    assert [row["retriever"] for row in iter_retrievals(trace_file, top_level_only=True)] == ["hybrid", "kb_search"]


def test_rootless_traces_are_flushed_and_late_spans_get_their_root(tmp_path: Path) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    tracing.configure(service_name="process-a", exporters=[f"file://{first}"])
    with tracing.start_span("handle", inputs={"question": "Where is my order?"}):
        carrier = tracing.inject({})
    tracing.shutdown()
    tracing.configure(service_name="process-b", exporters=[f"file://{second}"])
    try:
        with tracing.continue_trace(carrier):
            search("Where is my order?")
    finally:
        tracing.shutdown()

    (alone,) = iter_retrievals(second)
    (joined,) = iter_retrievals([first, second])
    assert alone["request"] is None and alone["query"] == "Where is my order?"
    assert joined["request"] == "Where is my order?" and joined["span_id"] == alone["span_id"]


def test_a_torn_line_is_skipped_with_a_warning(trace_file: Path, tmp_path: Path) -> None:
    ask_all(["Where is my order?"])
    tracing.force_flush()
    with trace_file.open("a") as damaged:
        damaged.write('{"resourceSpans": [{"scopeSp')
    out = tmp_path / "rows.jsonl"

    completed = agent_tracing("retrievals", trace_file, "-o", out)

    assert completed.returncode == 0
    assert f"{trace_file}:" in completed.stderr and "unreadable line" in completed.stderr
    assert len(_rows(out)) == 1


def test_a_missing_trace_file_exits_2(tmp_path: Path) -> None:
    completed = agent_tracing("retrievals", tmp_path / "nope.jsonl", "-o", tmp_path / "rows.jsonl")
    assert completed.returncode == 2
    assert f"{tmp_path / 'nope.jsonl'}: cannot open" in completed.stderr


def test_documents_beyond_the_attribute_budget_come_from_the_output(trace_file: Path) -> None:
    many = 400

    @tracing.trace(name="kb_search", span_type="RETRIEVER")
    def wide(query: str) -> list[dict[str, Any]]:
        return [{"doc_id": f"d{i}", "text": f"t{i}", "url": f"{KB}{i}", "section": "s", "score": 1 - i / 1000} for i in range(many)]

    wide("everything")
    tracing.force_flush()
    (span,) = read_spans(trace_file)
    in_attributes = len({key.split(".")[2] for key in span.attributes if key.startswith("retrieval.documents.")})
    in_output = len(json.loads(span.attributes["output.value"]))
    (row,) = iter_retrievals(trace_file)
    assert in_attributes < in_output
    assert [(d["rank"], d["id"], d["doc_uri"]) for d in row["documents"]] == [(i + 1, f"d{i}", f"{KB}{i}") for i in range(in_output)]
    assert row["documents"][in_attributes - 1]["score"] is not None and row["documents"][in_attributes]["score"] is None
    last = row["documents"][-1]
    assert last["content"] == f"t{in_output - 1}" and last["metadata"] == {"section": "s"}


def test_csv_cells_a_spreadsheet_would_run_are_neutralised(tmp_path: Path) -> None:
    from exporters import FileSpanExporter
    from tests.exporters.helpers import provider_with

    path = tmp_path / "formula.jsonl"
    provider = provider_with(FileSpanExporter(path))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("=cmd|' /C calc'!A0", attributes={"input.value": "-2+3", "input.mime_type": "text/plain"}):
        with tracer.start_as_current_span("search", attributes={
            "openinference.span.kind": "RETRIEVER",
            "input.value": "@SUM(A1:A9)",
            "input.mime_type": "text/plain",
            "retrieval.documents.0.document.id": "+1+1",
            "retrieval.documents.0.document.content": "\t=1+2",
            "retrieval.documents.0.document.score": -0.5,
            "retrieval.documents.0.document.metadata": json.dumps({"doc_uri": '=HYPERLINK("http://evil.example","x")'}),
        }):
            pass
    provider.shutdown()
    out = tmp_path / "rows.csv"

    completed = agent_tracing("retrievals", path, "-o", out)

    assert completed.returncode == 0, completed.stderr
    with out.open(newline="") as lines:
        row = next(csv.DictReader(lines))
    assert row["request"] == "'-2+3" and row["query"] == "'@SUM(A1:A9)"
    assert row["id"] == "'+1+1" and row["content"] == "'\t=1+2" and row["doc_uri"] == "'=HYPERLINK(\"http://evil.example\",\"x\")"
    assert row["score"] == "-0.5"
    jsonl = tmp_path / "rows.jsonl"
    assert agent_tracing("retrievals", path, "-o", jsonl).returncode == 0
    assert _rows(jsonl)[0]["documents"][0]["id"] == "+1+1"
