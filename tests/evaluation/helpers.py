"""A small traced help desk with fixed retrieval results, and a runner for the agent-tracing command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import tracing
from tracing import ResponsesAgent, ResponsesAgentRequest, ResponsesAgentResponse

ROOT = Path(__file__).resolve().parents[2]
KB = "https://kb.example/"
RESULTS: dict[str, list[str]] = {
    "Where is my order?": ["orders", "shipping", "returns"],
    "How do I return a bike?": ["shipping", "returns", "returns"],
    "Do you sell helmets?": [],
    "What are your opening hours?": ["hours"],
}
"""The doc_uris (after KB) the retriever returns for each question, best first."""

tracing.set_retriever_schema(name="kb_search", primary_key="doc_id", text_column="text", doc_uri="url", other_columns=["section"])


@tracing.trace(name="kb_search", span_type="RETRIEVER")
def search(query: str) -> list[dict[str, Any]]:
    """The fixed results of a question, as rows of the registered schema."""
    pages = RESULTS.get(query, [])
    return [
        {"doc_id": f"{page}-{rank}", "text": f"All about {page}.", "url": KB + page, "section": page, "score": round(1 - rank / 10, 2)}
        for rank, page in enumerate(pages)
    ]


class HelpDesk(ResponsesAgent):
    """Answers the last user message with the title of the first retrieved page."""

    def predict(self, request: ResponsesAgentRequest) -> ResponsesAgentResponse:
        """Retrieve, then answer in one output item."""
        documents = search(str(request.input[-1].content))
        answer = documents[0]["text"] if documents else "No idea."
        return ResponsesAgentResponse(output=[self.create_text_output_item(answer, "msg_1")])


def ask_all(questions: list[str] | None = None) -> None:
    """Ask the help desk each question (all of RESULTS by default), one trace each."""
    agent = HelpDesk()
    for question in questions if questions is not None else list(RESULTS):
        agent.predict({"input": [{"role": "user", "content": question}]})


def agent_tracing(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run the real `agent-tracing` command line in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "exporters.cli", *map(str, args)],
        capture_output=True, text=True, timeout=120, cwd=ROOT, env={**os.environ, "COLUMNS": "120"},
    )
