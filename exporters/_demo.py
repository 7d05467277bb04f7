"""`agent-tracing demo`: a small retrieval agent traced to the embedded default, then its traces shown."""

from __future__ import annotations

import argparse
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import tracing
from tracing import ResponsesAgent, ResponsesAgentRequest, ResponsesAgentResponse, ResponsesAgentStreamEvent
from tracing._settings import DEFAULT_TRACE_FILE

_DOCUMENTS = [
    {"doc_id": "otel-1", "url": "https://docs.example/otel/spans", "section": "concepts",
     "text": "A span is one unit of work in a trace: a name, a start and end time, attributes and events."},
    {"doc_id": "otel-2", "url": "https://docs.example/otel/context", "section": "concepts",
     "text": "Context propagation carries the trace id and parent span id across threads, tasks and processes."},
    {"doc_id": "otel-3", "url": "https://docs.example/otel/exporters", "section": "export",
     "text": "Exporters send finished spans to a collector over OTLP, or write them to a file."},
    {"doc_id": "jaeger-1", "url": "https://docs.example/jaeger/ui", "section": "viewing",
     "text": "The Jaeger UI shows each trace as a timeline of spans with their tags and logs."},
    {"doc_id": "rag-1", "url": "https://docs.example/rag/retrievers", "section": "retrieval",
     "text": "A retriever returns the documents most similar to a query, each with an id, a uri and a score."},
    {"doc_id": "rag-2", "url": "https://docs.example/rag/evaluation", "section": "retrieval",
     "text": "Retrieval is evaluated against ground truth by precision, recall and reciprocal rank of document uris."},
]

_QUESTIONS = [
    "What is a span in a trace?",
    "How do exporters send spans to a collector?",
    "How is a retriever evaluated against ground truth?",
]


def _words(text: str) -> set[str]:
    return {word for word in re.findall(r"[a-z]+", text.lower()) if len(word) > 2}


@tracing.trace(name="docs_retriever", span_type=tracing.SpanType.RETRIEVER)
def retrieve(query: str, k: int = 2) -> list[dict]:
    """The k documents sharing the most words with the query, best first."""
    query_words = _words(query)
    scored = [{**doc, "score": round(len(query_words & _words(doc["text"])) / max(1, len(query_words)), 3)}
              for doc in _DOCUMENTS]
    return sorted(scored, key=lambda doc: -doc["score"])[:k]


@tracing.trace(span_type=tracing.SpanType.CHAT_MODEL)
def generate(question: str, context: list[dict]) -> Iterator[str]:
    """A local stand-in for a chat model: streams an answer built from the retrieved text."""
    answer = f"{context[0]['text']} (source: {context[0]['url']})"
    for word in answer.split(" "):
        yield word + " "


class DocsAgent(ResponsesAgent):
    """Answers questions about tracing from a handful of documents."""

    def predict(self, request: ResponsesAgentRequest) -> ResponsesAgentResponse:
        """Collect the finished items (and their sources) of our own stream."""
        done = [event for event in self.predict_stream(request) if event.type == "response.output_item.done"]
        sources = [url for event in done for url in (event.custom_outputs or {}).get("sources", [])]
        return ResponsesAgentResponse(output=[event.item for event in done], custom_outputs={"sources": sources})

    def predict_stream(self, request: ResponsesAgentRequest) -> Iterator[ResponsesAgentStreamEvent]:
        """Retrieve, then stream the answer as text deltas and one finished message."""
        question = str(request.input[-1].content)
        documents = retrieve(question)
        item_id = f"msg_{uuid.uuid4().hex[:8]}"
        text = []
        for delta in generate(question, documents):
            text.append(delta)
            yield ResponsesAgentStreamEvent(**self.create_text_delta(delta, item_id))
        yield ResponsesAgentStreamEvent(type="response.output_item.done",
                                        item=self.create_text_output_item("".join(text).strip(), item_id),
                                        custom_outputs={"sources": [doc["url"] for doc in documents]})


def main(args: argparse.Namespace | None = None) -> int:
    """Run the demo agent on three questions, then print the trace tree of the file it wrote."""
    os.environ.setdefault("OTEL_SERVICE_NAME", "agent-tracing-demo")
    tracing.set_retriever_schema(name="docs_retriever", primary_key="doc_id", text_column="text", doc_uri="url",
                                 other_columns=["section"])
    agent = DocsAgent()
    for number, question in enumerate(_QUESTIONS):
        request = {"input": [{"role": "user", "content": question}],
                   "context": {"conversation_id": "demo", "user_id": "demo-user"}}
        if number == 0:
            answer = agent.predict(request)
            print(f"Q: {question}\nA: {answer.output[0].content[0]['text']}\n")
        else:
            streamed = "".join(event.delta for event in agent.predict_stream(request) if event.type.endswith(".delta"))
            print(f"Q: {question}\nA: {streamed.strip()}\n")
    tracing.force_flush()
    path = Path(DEFAULT_TRACE_FILE)
    if not path.exists():
        print(f"agent-tracing demo: spans went to the configured exporters, not to {path}")
        return 0
    from exporters.cli import main as cli

    return cli(["view", str(path)])
