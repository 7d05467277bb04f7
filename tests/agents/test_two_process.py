"""Two agents in two processes over real HTTP on 127.0.0.1 give one trace."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from exporters.tracefiles import read_spans
from tests.capture import CapturedSpans

ROOT = Path(__file__).resolve().parents[2]
AGENT_B = ROOT / "examples" / "two_process" / "agent_b.py"


class AgentB:
    """Agent B running in its own process, exporting to a trace file."""

    def __init__(self, trace_file: Path) -> None:
        self.trace_file = trace_file
        env = {**os.environ, "AGENT_TRACING_EXPORTERS": f"file://{trace_file}"}
        self.process = subprocess.Popen(
            [sys.executable, str(AGENT_B), "--port", "0"], stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT
        )
        line = self.process.stdout.readline() if self.process.stdout else ""
        assert line.startswith("listening on "), line
        self.url = line.split("listening on ", 1)[1].strip()

    def stop(self) -> int:
        """Stop the process by its id (SIGTERM flushes its spans); its exit code."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
        code = self.process.wait(timeout=30)
        if self.process.stdout:
            self.process.stdout.close()
        return code


@pytest.fixture
def agent_b(tmp_path: Path) -> Iterator[AgentB]:
    server = AgentB(tmp_path / "agent_b.jsonl")
    yield server
    server.stop()


def test_agent_b_spans_carry_agent_a_trace_and_parent(spans: CapturedSpans, agent_b: AgentB) -> None:
    from examples.two_process.agent_a import PlannerAgent

    answer = PlannerAgent(agent_b.url).predict(
        {"input": [{"role": "user", "content": "Tell me about agents"}], "context": {"conversation_id": "c-2"}}
    )
    assert answer.output_text.startswith("Here is what I found: An agent's request is one AGENT span")
    assert agent_b.stop() == 0

    planner, call = spans.one("PlannerAgent.predict"), spans.one("ask_researcher")
    remote = {span.name: span for span in read_spans(agent_b.trace_file)}
    assert set(remote) == {"ResearchAgent.predict", "look_up"}
    research = remote["ResearchAgent.predict"]
    assert research.trace_id == f"{planner.context.trace_id:032x}"
    assert research.parent_span_id == f"{call.context.span_id:016x}"
    assert remote["look_up"].parent_span_id == research.span_id
    assert research.attributes["session.id"] == "c-2"
    assert research.resource["service.name"] == "research-agent"
