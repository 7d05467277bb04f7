"""A retrieval-augmented agent over a 50-document help centre, with no server and no model.

Run: python -m exporters.demo.rag_agent ["your question"] (or examples/rag_agent.py, or `agent-tracing demo`)
Without a question it answers the questions of its data/ground_truth.jsonl, so the trace file
can be scored right away:
    agent-tracing retrievals traces/traces.jsonl -o retrievals.jsonl
    agent-tracing evaluate traces/traces.jsonl --ground-truth exporters/demo/data/ground_truth.jsonl
Spans go to traces/traces.jsonl, or wherever AGENT_TRACING_EXPORTERS points. Each question is one
trace: the agent's predict, its predict_stream, a RETRIEVER span (TF-IDF search, rows mapped to
documents by the registered schema) and a RERANKER span.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import tracing
from tracing import ResponsesAgent, ResponsesAgentRequest, ResponsesAgentResponse, ResponsesAgentStreamEvent

DATA = Path(__file__).resolve().parent / "data"
KNOWLEDGE_BASE = DATA / "harbor_bikes_kb.jsonl"
GROUND_TRUTH = DATA / "ground_truth.jsonl"
RETRIEVER_NAME = "harbor_kb"
STOPWORDS = frozenset(
    "a an and are as at be by can do does for from how i if in is it my of on or the to what when where which who why with you your".split()
)

tracing.set_retriever_schema(
    name=RETRIEVER_NAME, primary_key="chunk_id", text_column="text", doc_uri="doc_uri", other_columns=["title", "section"]
)


def tokens(text: str) -> list[str]:
    """Lower-case word stems of a text, stop words left out."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    return [word[:-1] if len(word) > 3 and word.endswith("s") else word for word in words if word not in STOPWORDS]


class KeywordIndex:
    """TF-IDF vectors of the knowledge base rows, searched by cosine similarity."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        counts = [Counter(tokens(row["title"] + " " + row["text"])) for row in rows]
        frequency = Counter(term for count in counts for term in count)
        self.idf = {term: math.log((1 + len(rows)) / (1 + df)) + 1 for term, df in frequency.items()}
        self.vectors = [self._normalised({term: n * self.idf[term] for term, n in count.items()}) for count in counts]

    @staticmethod
    def _normalised(vector: dict[str, float]) -> dict[str, float]:
        norm = math.sqrt(sum(weight * weight for weight in vector.values())) or 1.0
        return {term: weight / norm for term, weight in vector.items()}

    @classmethod
    def from_jsonl(cls, path: Path) -> KeywordIndex:
        """An index over the rows of a JSON Lines file."""
        with path.open(encoding="utf-8") as lines:
            return cls([json.loads(line) for line in lines if line.strip()])

    @tracing.trace(name=RETRIEVER_NAME, span_type="RETRIEVER")
    def search(self, query: str, k: int = 5) -> list[dict[str, Any]]:
        """The k rows most similar to the query, best first, each with its score."""
        query_vector = self._normalised({term: n * self.idf.get(term, 0.0) for term, n in Counter(tokens(query)).items()})
        scored = [(sum(weight * vector.get(term, 0.0) for term, weight in query_vector.items()), row) for row, vector in zip(self.rows, self.vectors)]
        best = sorted((pair for pair in scored if pair[0] > 0), key=lambda pair: -pair[0])[:k]
        return [{**row, "score": round(score, 4)} for score, row in best]


@tracing.trace(name="harbor_rerank", span_type="RERANKER", retriever_schema=RETRIEVER_NAME)
def rerank(query: str, documents: list[dict[str, Any]], top_n: int = 3) -> list[dict[str, Any]]:
    """Boost documents whose title words all appear in the query; keep the top_n."""
    query_terms = set(tokens(query))
    boosted = [{**row, "score": round(row["score"] + 0.5 * (set(tokens(row["title"])) <= query_terms), 4)} for row in documents]
    return sorted(boosted, key=lambda row: -row["score"])[:top_n]


class HelpCentreAgent(ResponsesAgent):
    """Answers from the best matching help-centre article and lists its sources in custom_outputs."""

    def __init__(self, index: KeywordIndex) -> None:
        self.index = index

    def predict(self, request: ResponsesAgentRequest) -> ResponsesAgentResponse:
        """Collect the done items and custom outputs of our own stream."""
        items: list[Any] = []
        custom_outputs: dict[str, Any] = {}
        for event in self.predict_stream(request):
            if event.type == "response.output_item.done":
                items.append(getattr(event, "item", None))
            custom_outputs.update(event.custom_outputs or {})
        return ResponsesAgentResponse(output=items, custom_outputs=custom_outputs)

    def predict_stream(self, request: ResponsesAgentRequest) -> Iterator[ResponsesAgentStreamEvent]:
        """Retrieve, rerank, then stream an extractive answer word by word."""
        question = str(getattr(request.input[-1], "content", ""))
        documents = rerank(question, self.index.search(question, k=5))
        if documents:
            answer = f"{documents[0]['text']} (see '{documents[0]['title']}')"
        else:
            answer = "I could not find that in the help centre; please contact support."
        for word in answer.split(" "):
            yield ResponsesAgentStreamEvent.model_validate(self.create_text_delta(word + " ", "msg_1"))
        yield ResponsesAgentStreamEvent.model_validate({
            "type": "response.output_item.done",
            "item": self.create_text_output_item(answer, "msg_1"),
            "custom_outputs": {"sources": [document["doc_uri"] for document in documents]},
        })


def _questions(argv: list[str]) -> list[str]:
    if argv:
        return [" ".join(argv)]
    with GROUND_TRUTH.open(encoding="utf-8") as lines:
        return [json.loads(line)["request"] for line in lines if line.strip()]


def main(argv: list[str]) -> None:
    """Answer each question, print the answer and its sources, flush the spans."""
    tracing.configure(service_name="harbor-help-centre")
    agent = HelpCentreAgent(KeywordIndex.from_jsonl(KNOWLEDGE_BASE))
    for question in _questions(argv):
        response = agent.predict({"input": [{"role": "user", "content": question}]})  # type: ignore[arg-type]  # a dict is validated
        sources = (response.custom_outputs or {}).get("sources", [])
        print(f"Q: {question}\nA: {response.output_text}\nsources: {', '.join(sources)}\n")
    tracing.force_flush()


if __name__ == "__main__":
    main(sys.argv[1:])
