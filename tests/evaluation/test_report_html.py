"""The HTML report of `evaluate` keeps text from trace files and ground truth as text: nothing in it becomes markup."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

from exporters import FileSpanExporter
from tests.evaluation.helpers import agent_tracing
from tests.exporters.helpers import provider_with

HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_the_html_report_escapes_requests_and_doc_uris(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    provider = provider_with(FileSpanExporter(path))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("agent", attributes={"input.value": HOSTILE, "input.mime_type": "text/plain"}):
        with tracer.start_as_current_span("search", attributes={
            "openinference.span.kind": "RETRIEVER",
            "gen_ai.data_source.id": HOSTILE + "retriever",
            "retrieval.documents.0.document.id": "d",
            "retrieval.documents.0.document.metadata": json.dumps({"doc_uri": HOSTILE + "uri"}),
        }):
            pass
    provider.shutdown()
    truth = tmp_path / "gt.jsonl"
    truth.write_text(json.dumps({"request": HOSTILE, "expected_retrieved_context": [{"doc_uri": HOSTILE + "expected"}]}) + "\n")
    page = tmp_path / "report.html"

    completed = agent_tracing("evaluate", path, "--ground-truth", truth, "--html", page)

    assert completed.returncode == 0, completed.stderr
    parsed = _Tags()
    parsed.feed(page.read_text())
    assert "script" not in parsed.tags and "img" not in parsed.tags
    text = "".join(parsed.text)
    assert HOSTILE in text and HOSTILE + "uri" in text and HOSTILE + "expected" in text
    assert text.count(HOSTILE + "retriever") == 2  # the table by retriever and the worst queries
