"""Retriever spans written by others, hand-built with the real SDK: which spans are retrievers, their names, queries and
document URIs (doc_uri, then metadata source, file_path, url), rows without a URI, --retriever; odd metadata never breaks."""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporters import FileSpanExporter
from exporters.cli import main
from exporters.evaluation import iter_retrievals
from tests.exporters.helpers import provider_with
from tracing import keys

RETRIEVER = keys.SpanType.RETRIEVER.value


def document(index: int, field: str) -> str:
    """The attribute key of one field of the index-th retrieved document."""
    return f"{keys.RETRIEVAL_DOCUMENTS}.{index}.{field}"


def write_spans(path: Path, spans: list[tuple[str, dict[str, Any]]]) -> None:
    """One root span per (name, attributes), each its own trace, written by the SDK through our file exporter."""
    provider = provider_with(FileSpanExporter(path))
    tracer = provider.get_tracer("tests.evaluation.foreign")
    for name, attributes in spans:
        with tracer.start_as_current_span(name, attributes=attributes):
            pass
    provider.shutdown()


def retriever(query: str, metadata: list[Any], **extra: Any) -> dict[str, Any]:
    """Attributes of an OpenInference RETRIEVER span (no agent_tracing key) whose documents have these metadata values."""
    attributes = {keys.SPAN_KIND: RETRIEVER, keys.INPUT_VALUE: query, **extra}
    for index, value in enumerate(metadata):
        attributes[document(index, keys.DOCUMENT_CONTENT)] = f"text {index}"
        if value is not None:
            attributes[document(index, keys.DOCUMENT_METADATA)] = value
    return attributes


def run(*args: str | Path) -> tuple[int, str, str]:
    """Run the command line in this process; (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(arg) for arg in args])
    return code, out.getvalue(), err.getvalue()


def test_uri_comes_from_doc_uri_then_source_file_path_url(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    metadata = [
        json.dumps({"doc_uri": "mlflow://a", "source": "s"}),
        json.dumps({"source": "https://b", "file_path": "/c"}),
        json.dumps({"file_path": "/c.md", "url": "https://c"}),
        json.dumps({"url": "https://d"}),
        json.dumps({"doc_uri": 7, "source": "", "file_path": ["/x"], "url": "https://e"}),
        json.dumps({"title": "no uri"}),
        json.dumps(["not", "an", "object"]),
        "plain text",
        None,
    ]
    write_spans(path, [("LangChainish", retriever("q", metadata))])

    (row,) = iter_retrievals(path)

    assert row["retriever"] == "LangChainish" and row["query"] == row["request"] == "q"
    assert [d["doc_uri"] for d in row["documents"]] == ["mlflow://a", "https://b", "/c.md", "https://d", "https://e", None, None, None, None]
    assert [d["metadata"] for d in row["documents"][:3]] == [{"source": "s"}, {"source": "https://b", "file_path": "/c"},
                                                            {"file_path": "/c.md", "url": "https://c"}]
    assert row["documents"][4]["metadata"] == {"doc_uri": 7, "source": "", "file_path": ["/x"], "url": "https://e"}
    assert [d["metadata"] for d in row["documents"][6:]] == [{}, {}, {}]


def test_which_spans_are_retrievers_their_names_and_queries(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    write_spans(path, [
        ("kb_search", {keys.SPAN_TYPE: RETRIEVER, keys.INPUT_VALUE: "ours"}),
        ("VectorStoreRetriever", {keys.SPAN_KIND: RETRIEVER, keys.INPUT_VALUE: "42"}),
        ("Shelf._retrieve", {keys.SPAN_KIND: RETRIEVER, keys.INPUT_MIME_TYPE: keys.JSON,
                             keys.INPUT_VALUE: json.dumps({"query_bundle": {"query_str": "nested", "embedding": None}})}),
        ("retrieve", {keys.SPAN_KIND: RETRIEVER, keys.GEN_AI_DATA_SOURCE_ID: "products", keys.INPUT_VALUE: "null"}),
        ("chain", {keys.SPAN_KIND: "CHAIN", keys.INPUT_VALUE: "not a retriever"}),
    ])

    rows = list(iter_retrievals(path))

    assert [(row["retriever"], row["query"]) for row in rows] == [
        ("kb_search", "ours"), ("VectorStoreRetriever", "42"), ("Shelf._retrieve", "nested"), ("products", "null"),
    ]


@pytest.fixture
def two_retrievers(tmp_path: Path) -> tuple[Path, Path]:
    """A file with a retriever whose documents have URIs and one whose documents have none, and the ground truth."""
    path = tmp_path / "t.jsonl"
    write_spans(path, [
        ("WithSource", retriever("q1", [json.dumps({"source": "a"}), json.dumps({"source": "b"})])),
        ("WithSource", retriever("q2", [json.dumps({"source": "c"})])),
        ("Bare", retriever("q1", [json.dumps({"page": 1}), None])),
        ("Bare", retriever("q2", [])),
        ("Bare", retriever("not in the ground truth", [None])),
    ])
    truth = tmp_path / "gt.jsonl"
    truth.write_text("".join(json.dumps({"request": request, "expected_retrieved_context": [{"doc_uri": uri}]}) + "\n"
                             for request, uri in (("q1", "b"), ("q2", "c"))))
    return path, truth


def test_rows_without_a_uri_are_counted_and_named(two_retrievers: tuple[Path, Path], tmp_path: Path) -> None:
    path, truth = two_retrievers
    out = tmp_path / "eval.json"

    page = tmp_path / "eval.html"
    code, stdout, stderr = run("evaluate", path, "--ground-truth", truth, "--k", "2", "-o", out, "--html", page)

    assert code == 0, stderr
    report = json.loads(out.read_text())
    # Bare's q2 row retrieved nothing: an empty retrieval, not a row without a URI
    assert report["counts"]["rows_without_uri"] == 1 and report["counts"]["documents_without_uri"] == 2
    assert report["retrievers"]["Bare"]["counts"] == {"scored_rows": 2, "unmatched_rows": 1, "ground_truth_rows": 2, "unmatched_ground_truth": 0,
                                                      "rows_without_uri": 1, "documents_without_uri": 2}
    assert report["retrievers"]["WithSource"]["aggregate"]["mrr"] == 0.75
    assert report["retrievers"]["Bare"]["aggregate"]["mrr"] == 0.0
    assert report["aggregate"]["mrr"] == 0.375
    assert stderr == ("agent-tracing evaluate: warning: 1 of 4 scored retriever rows have documents but no document URI "
                      "(metadata doc_uri, source, file_path, url) and score 0: Bare 1\n")
    assert "scored rows without any document URI: 1 (documents without a URI: 2)" in stdout
    html = page.read_text()
    assert "1 scored rows had documents but no document URI and score 0; 2 documents in scored rows had no URI" in html
    assert "<tr><td>Bare</td><td class=n>2</td><td class=n>1</td><td class=n>1</td><td class=n>0.000</td>" in html

    code, _, stderr = run("retrievals", path, "-o", tmp_path / "rows.csv")
    assert code == 0
    assert "warning: 2 of 5 retriever spans have documents but no document URI" in stderr and stderr.endswith(": Bare 2\n")


def test_retriever_option(two_retrievers: tuple[Path, Path], tmp_path: Path) -> None:
    path, truth = two_retrievers
    out = tmp_path / "eval.json"

    code, _, stderr = run("evaluate", path, "--ground-truth", truth, "--retriever", "WithSource", "-o", out, "--fail-under", "mrr=0.7")

    assert code == 0 and stderr == ""
    report = json.loads(out.read_text())
    assert list(report["retrievers"]) == ["WithSource"] and report["counts"]["scored_rows"] == 2 and report["aggregate"]["mrr"] == 0.75
    assert {row["retriever"] for row in report["rows"]} == {"WithSource"}

    code, _, stderr = run("evaluate", path, "--ground-truth", truth, "--retriever", "Bare", "--retriever", "Nope", "--retriever", "Nope\x1b[2J")
    assert code == 2
    assert stderr == ("agent-tracing evaluate: error: --retriever Nope, Nope\\x1b[2J: no such retriever in the files; found: Bare, WithSource\n")


def test_retriever_option_on_a_file_without_retrievers(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    write_spans(path, [("chain", {keys.SPAN_KIND: "CHAIN"})])
    truth = tmp_path / "gt.jsonl"
    truth.write_text('{"request": "q", "expected_retrieved_context": [{"doc_uri": "a"}]}\n')

    code, _, stderr = run("evaluate", path, "--ground-truth", truth, "--retriever", "kb")

    assert (code, stderr) == (2, "agent-tracing evaluate: error: --retriever kb: no such retriever in the files; found: no retriever spans\n")


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(["doc_uri", "source", "file_path", "url", "x"]), children,
                                                                      max_size=4),
    max_leaves=8,
)
METADATA = (
    JSON_VALUES.map(lambda value: json.dumps(value))  # JSON of any shape: objects whose URI fields have any type, lists, scalars
    | st.text(max_size=12)  # not JSON
    | st.integers(-(2**63), 2**63 - 1) | st.booleans() | st.lists(st.text(max_size=4), max_size=3)  # not even text (OTLP ints are int64)
    | st.none()  # no metadata attribute
)


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    spans=st.lists(st.tuples(st.sampled_from(["A", "B", "\x1b[31mC"]), st.sampled_from(["q1", "q2", '{"query": 1}', "[]"]),
                             st.lists(METADATA, max_size=4)), min_size=1, max_size=4),
    names=st.lists(st.sampled_from(["A", "B", "Z"]), max_size=2),
)
def test_odd_metadata_never_breaks_the_commands(spans: list[tuple[str, str, list[Any]]], names: list[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path, truth = Path(folder) / "t.jsonl", Path(folder) / "gt.jsonl"
        write_spans(path, [(name, retriever(query, metadata)) for name, query, metadata in spans])
        truth.write_text('{"request": "q1", "expected_retrieved_context": [{"doc_uri": "a"}]}\n')

        rows_code, _, rows_err = run("retrievals", path, "-o", Path(folder) / "rows.csv")
        options = [arg for name in names for arg in ("--retriever", name)]
        code, stdout, stderr = run("evaluate", path, "--ground-truth", truth, "-o", Path(folder) / "e.json", "--html", Path(folder) / "e.html", *options)

        assert rows_code == 0, rows_err
        assert "Traceback" not in rows_err + stderr and "could not finish" not in rows_err + stderr
        assert "\x1b" not in stdout + stderr + rows_err
        found = {name for name, _, _ in spans}
        if set(names) <= found:
            assert code == 0, stderr
            report = json.loads((Path(folder) / "e.json").read_text())
            assert report["counts"]["scored_rows"] == sum(1 for name, query, _ in spans if query == "q1" and (not names or name in names))
        else:
            assert code == 2 and stderr.startswith("agent-tracing evaluate: error: --retriever ") and stderr.count("\n") == 1
