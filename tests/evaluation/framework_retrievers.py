"""Run in the instrumentors' environment (tests/servers/instrumentors.py): tiny in-memory retrievers of LangChain and
LlamaIndex, traced by OpenInference's real instrumentors to a trace file of ours (the path in TRACE_FILE).

LangChain: a chain whose retriever is an InMemoryVectorStore over langchain-core's deterministic fake embedding
(a query equal to a page's text finds that page first), documents with `source` metadata; and a BaseRetriever
subclass whose documents carry no URI at all. LlamaIndex: a BaseRetriever subclass returning NodeWithScores with
`file_path` metadata, ids and scores. Prints RESULT_PREFIX and JSON of what it asked.
"""

import json
import os

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.retrievers import BaseRetriever as LangChainRetriever
from langchain_core.runnables import RunnableLambda, RunnableParallel, RunnablePassthrough
from langchain_core.vectorstores import InMemoryVectorStore
from llama_index.core.retrievers import BaseRetriever as LlamaIndexRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from openinference.instrumentation.langchain import LangChainInstrumentor
from openinference.instrumentation.llama_index import LlamaIndexInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from exporters import exporter_from_uri

RESULT_PREFIX = "INSTRUMENTORS-RESULT "
PAGES = {"returns": "returns policy", "shipping": "shipping times", "payment": "payment methods", "hours": "opening hours"}
SHELF = {"payment methods": ["shipping", "payment"], "opening hours": ["hours", "returns", "shipping"]}
"""What the LlamaIndex retriever returns for each question, best first."""


class NotesRetriever(LangChainRetriever):
    """Notes with a page number but no URI."""

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return [Document(page_content=f"a note on {query}", metadata={"page": 3}), Document(page_content="another note", metadata={})]


class Shelf(LlamaIndexRetriever):
    """Markdown files of a knowledge base, by question."""

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return [
            NodeWithScore(node=TextNode(id_=f"{slug}-node", text=PAGES[slug], metadata={"file_path": f"/kb/{slug}.md", "file_name": f"{slug}.md"}),
                          score=round(0.9 - rank / 10, 2))
            for rank, slug in enumerate(SHELF.get(query_bundle.query_str, []))
        ]


def main() -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter_from_uri("file://" + os.environ["TRACE_FILE"])))
    LangChainInstrumentor().instrument(tracer_provider=provider)
    LlamaIndexInstrumentor().instrument(tracer_provider=provider)

    store = InMemoryVectorStore(DeterministicFakeEmbedding(size=32))
    store.add_documents([Document(page_content=text, metadata={"source": f"https://kb.example/{slug}"}) for slug, text in PAGES.items()])
    chain = RunnableParallel(context=store.as_retriever(search_kwargs={"k": 2}), question=RunnablePassthrough()) | RunnableLambda(
        lambda found: found["context"][0].page_content
    )
    answers = {question: chain.invoke(question) for question in ("returns policy", "shipping times")}
    notes = len(NotesRetriever().invoke("returns policy"))
    shelf = {question: len(Shelf().retrieve(question)) for question in SHELF}
    provider.shutdown()
    print(RESULT_PREFIX + json.dumps({"answers": answers, "notes": notes, "shelf": shelf}))


main()
