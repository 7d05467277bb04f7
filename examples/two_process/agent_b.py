"""Agent B, the researcher: a ResponsesAgent served over HTTP on 127.0.0.1 (http.server, no framework).

Run: python examples/two_process/agent_b.py --port 8765   (0 picks a free port)
It prints ``listening on http://127.0.0.1:PORT`` once ready and answers POST /invocations with
a ResponsesAgentRequest body. The serving code has no tracing in it: the caller's trace context
arrives as ``custom_inputs.traceparent``, and ResponsesAgent continues it, so B's spans join the
caller's trace. SIGTERM stops the server and flushes the spans.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NoReturn

import pydantic

import tracing
from tracing import ResponsesAgent, ResponsesAgentRequest, ResponsesAgentResponse

NOTES = {
    "opentelemetry": "OpenTelemetry carries trace context between services in the W3C traceparent header.",
    "agents": "An agent's request is one AGENT span; its tools and models are child spans.",
}


@tracing.trace(span_type="TOOL")
def look_up(topic: str) -> str:
    """The note about a topic, from a local table."""
    return NOTES.get(topic.lower(), f"No notes about {topic}.")


class ResearchAgent(ResponsesAgent):
    """Answers a question with the note about its last word."""

    def predict(self, request: ResponsesAgentRequest) -> ResponsesAgentResponse:
        """Look the topic up and answer with the note."""
        topic = str(request.input[-1].content).rstrip("?").split()[-1]
        note = look_up(topic)
        return ResponsesAgentResponse(
            output=[self.create_text_output_item(note, "research_1")], custom_outputs={"topic": topic}
        )


AGENT = ResearchAgent()


class _Handler(BaseHTTPRequestHandler):
    """POST /invocations: a request body in, a response body out."""

    def do_POST(self) -> None:
        """Serve one request."""
        if self.path != "/invocations":
            self._send(404, {"error": f"no route {self.path}"})
            return
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            response = AGENT.predict(body)
        except (ValueError, pydantic.ValidationError) as exc:
            self._send(400, {"error": str(exc)})
            return
        self._send(200, response.model_dump(mode="json"))

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the console quiet."""


def _stop(signum: int, frame: Any) -> NoReturn:
    """Leave serve_forever on SIGTERM so the spans are flushed."""
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> None:
    """Serve the research agent until SIGTERM or Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    port = parser.parse_args(argv).port
    tracing.configure(service_name="research-agent")
    server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
    signal.signal(signal.SIGTERM, _stop)
    print(f"listening on http://127.0.0.1:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        tracing.shutdown()


if __name__ == "__main__":
    main(sys.argv[1:])
