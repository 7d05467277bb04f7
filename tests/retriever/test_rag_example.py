"""examples/rag_agent.py runs with no server and records its retrievals as documents."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from exporters.tracefiles import read_spans

ROOT = Path(__file__).resolve().parents[2]
KB_URI = "https://help.harborbikes.example"


def _run(tmp_path: Path, *args: str) -> tuple[str, list]:
    trace_file = tmp_path / "rag.jsonl"
    completed = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "rag_agent.py"), *args],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env={**os.environ, "AGENT_TRACING_EXPORTERS": f"file://{trace_file}"},
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout, list(read_spans(trace_file))


def _documents(attributes: dict, prefix: str) -> list[dict]:
    found: dict[int, dict] = {}
    for key, value in attributes.items():
        if key.startswith(prefix + "."):
            index, _, field = key[len(prefix) + 1 :].partition(".document.")
            found.setdefault(int(index), {})[field] = json.loads(value) if field == "metadata" else value
    return [found[index] for index in sorted(found)]


def test_one_question_is_one_trace_with_mapped_documents(tmp_path: Path) -> None:
    stdout, spans = _run(tmp_path, "How many days do I have to return an unridden bike?")
    assert "returned within 30 days" in stdout
    assert len({span.trace_id for span in spans}) == 1
    by_name = {span.name: span for span in spans}
    assert set(by_name) == {"HelpCentreAgent.predict", "HelpCentreAgent.predict_stream", "harbor_kb", "harbor_rerank"}
    assert by_name["harbor_kb"].parent_span_id == by_name["HelpCentreAgent.predict_stream"].span_id
    assert by_name["HelpCentreAgent.predict"].resource["service.name"] == "harbor-help-centre"

    retriever = by_name["harbor_kb"].attributes
    assert retriever["openinference.span.kind"] == "RETRIEVER"
    assert retriever["agent_tracing.retriever.schema"] == "harbor_kb"
    documents = _documents(retriever, "retrieval.documents")
    assert len(documents) == 5
    assert documents[0]["id"] == "hb-001"
    assert documents[0]["metadata"] == {"doc_uri": f"{KB_URI}/returns#return-window", "title": "Return window", "section": "returns"}
    assert documents[0]["score"] >= documents[-1]["score"] > 0
    assert json.loads(retriever["output.value"])[0]["metadata"]["doc_uri"] == f"{KB_URI}/returns#return-window"

    reranker = by_name["harbor_rerank"].attributes
    assert reranker["reranker.query"] == "How many days do I have to return an unridden bike?"
    assert reranker["reranker.top_k"] == 3
    assert len(_documents(reranker, "reranker.input_documents")) == 5
    assert [document["id"] for document in _documents(reranker, "reranker.output_documents")][0] == "hb-001"


def test_without_arguments_it_answers_the_ground_truth_questions(tmp_path: Path) -> None:
    stdout, spans = _run(tmp_path)
    questions = [json.loads(line)["request"] for line in (ROOT / "exporters" / "demo" / "data" / "ground_truth.jsonl").read_text().splitlines()]
    assert stdout.count("Q: ") == len(questions) == 10
    retrievers = [span for span in spans if span.name == "harbor_kb"]
    assert len(retrievers) == 10 and len({span.trace_id for span in retrievers}) == 10
    assert {json.loads(span.attributes["input.value"])["query"] for span in retrievers} == set(questions)
    assert all(_documents(span.attributes, "retrieval.documents") for span in retrievers)
