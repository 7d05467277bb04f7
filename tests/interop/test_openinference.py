"""Beside OpenInference: its real OpenAI instrumentor, in the same process, tags its spans with our context values.

The OpenAI client talks to a stub chat-completions server on 127.0.0.1 (started inside the script); the
instrumentor's LLM span must carry the session, user, metadata, tags and prompt template set with our `using_*`
helpers, and nest under our span.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.servers import interop

pytestmark = [pytest.mark.servers, pytest.mark.slow]

OPENINFERENCE_SCRIPT = r'''
import json, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import openai
from openinference.instrumentation.openai import OpenAIInstrumentor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
import tracing

COMPLETION = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "stub-model",
              "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Spans."}}],
              "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}}


class Stub(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        body = json.dumps(COMPLETION).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Stub)
threading.Thread(target=server.serve_forever, daemon=True).start()

memory = InMemorySpanExporter()
provider = tracing.configure(service_name="beside-openinference", exporters=[memory])
OpenAIInstrumentor().instrument(tracer_provider=provider)
client = openai.OpenAI(base_url=f"http://127.0.0.1:{server.server_address[1]}/v1", api_key="sk-test", max_retries=0)

with tracing.using_session("s-42"), tracing.using_user("u-7"), tracing.using_metadata({"tenant": "acme"}), \
        tracing.using_tags(["beta"]), tracing.using_prompt_template(template="Answer {q}", variables={"q": "what?"}, version="v2"):
    with tracing.start_span("request", span_type="AGENT"):
        answer = client.chat.completions.create(model="stub-model", messages=[{"role": "user", "content": "what?"}])
outside = client.chat.completions.create(model="stub-model", messages=[{"role": "user", "content": "again"}])
tracing.force_flush()
server.shutdown()
spans = [{"name": s.name, "scope": s.instrumentation_scope.name, "span_id": s.context.span_id,
          "parent_id": s.parent.span_id if s.parent else None,
          "attributes": {k: (list(v) if isinstance(v, tuple) else v) for k, v in s.attributes.items()}}
         for s in memory.get_finished_spans()]
print("INTEROP-RESULT " + json.dumps({"spans": spans, "answer": answer.choices[0].message.content,
                                      "errors": tracing.error_counts()}))
'''


@pytest.fixture(scope="module")
def result(interop_python: Path) -> dict[str, Any]:
    """Our spans and the instrumentor's, from one in-process run."""
    return interop.run_script(OPENINFERENCE_SCRIPT)


def _llm_spans(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [span for span in result["spans"] if span["attributes"].get("openinference.span.kind") == "LLM"]


def test_the_openai_instrumentors_span_carries_our_context_values(result: dict[str, Any]) -> None:
    assert result["answer"] == "Spans."
    assert result["errors"] == {}
    inside, outside = _llm_spans(result)
    assert inside["scope"].startswith("openinference.instrumentation.openai")
    attributes = inside["attributes"]
    assert attributes["session.id"] == "s-42"
    assert attributes["user.id"] == "u-7"
    assert json.loads(attributes["metadata"]) == {"tenant": "acme"}
    assert attributes["tag.tags"] == ["beta"]
    assert attributes["llm.prompt_template.template"] == "Answer {q}"
    assert attributes["llm.prompt_template.version"] == "v2"
    assert json.loads(attributes["llm.prompt_template.variables"]) == {"q": "what?"}
    assert "session.id" not in outside["attributes"], "the values leave with the block"


def test_the_instrumentors_span_nests_under_ours(result: dict[str, Any]) -> None:
    ours = next(span for span in result["spans"] if span["name"] == "request")
    assert ours["attributes"]["session.id"] == "s-42"
    inside, _ = _llm_spans(result)
    assert inside["parent_id"] == ours["span_id"]
