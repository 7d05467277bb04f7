"""Agent A, the planner: calls agent B over HTTP on 127.0.0.1; both processes give one trace.

Run: python examples/two_process/agent_a.py
It starts agent_b.py on a free port, asks it a question, prints the answer and stops it; give
``--researcher http://127.0.0.1:PORT`` to use a B that is already running. A puts its trace
context into the request's ``custom_inputs`` with ``tracing.inject``; B's ResponsesAgent
continues it. Both processes write to the same place (traces/traces.jsonl, or
AGENT_TRACING_EXPORTERS), so ``agent-tracing view`` shows one tree across the two services.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import tracing
from tracing import ResponsesAgent, ResponsesAgentRequest, ResponsesAgentResponse

AGENT_B = Path(__file__).with_name("agent_b.py")


class PlannerAgent(ResponsesAgent):
    """Asks the researcher about the topic, then answers with what it found."""

    def __init__(self, researcher_url: str) -> None:
        self.researcher_url = researcher_url.rstrip("/")

    def predict(self, request: ResponsesAgentRequest) -> ResponsesAgentResponse:
        """Delegate the research to agent B, then write the answer."""
        question = str(request.input[-1].content)
        finding = self.ask_researcher(question, request.context.model_dump() if request.context else None)
        return ResponsesAgentResponse(output=[self.create_text_output_item(f"Here is what I found: {finding}", "plan_1")])

    @tracing.trace(span_type="TOOL")
    def ask_researcher(self, question: str, context: dict[str, str] | None) -> str:
        """POST the question to agent B with this trace's context in custom_inputs."""
        payload = {"input": [{"role": "user", "content": question}], "custom_inputs": tracing.inject({})}
        if context:
            payload["context"] = context
        http_request = urllib.request.Request(
            f"{self.researcher_url}/invocations",
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(http_request, timeout=30) as answer:
            return ResponsesAgentResponse.model_validate(json.load(answer)).output_text


def start_agent_b() -> tuple[subprocess.Popen[str], str]:
    """Start agent B on a free port; its process and URL once it listens."""
    process = subprocess.Popen(
        [sys.executable, str(AGENT_B), "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    line = process.stdout.readline() if process.stdout else ""
    if not line.startswith("listening on "):
        process.kill()
        raise RuntimeError(f"agent B did not start: {line!r}")
    return process, line.split("listening on ", 1)[1].strip()


def main(argv: list[str] | None = None) -> None:
    """Ask the planner one question, through agent B in another process."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--researcher", help="URL of a running agent B (default: start one)")
    researcher = parser.parse_args(argv).researcher
    tracing.configure(service_name="planner-agent")
    process = None
    if researcher is None:
        process, researcher = start_agent_b()
    try:
        request = {
            "input": [{"role": "user", "content": "What carries context between services in OpenTelemetry?"}],
            "context": {"conversation_id": "two-process-demo", "user_id": "demo-user"},
        }
        print(PlannerAgent(researcher).predict(request).output_text)
    finally:
        if process is not None:
            stop_agent_b(process)
        tracing.shutdown()


def stop_agent_b(process: subprocess.Popen[str]) -> None:
    """Stop agent B (SIGTERM: it flushes its spans); kill it, and say so, if it has not stopped within 30 s."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()  # else it outlives this process, holding the stderr it inherited
        process.wait()
        raise RuntimeError("agent B did not stop within 30 s of SIGTERM; killed it") from None


if __name__ == "__main__":
    main(sys.argv[1:])
