"""The agent examples: run as users run them (no network) they write the traces they promise; run in this process
under `captured_spans`, their span trees and outputs are the ones they document."""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from exporters.tracefiles import read_spans
from tracing.testing import CapturedSpans

ROOT = Path(__file__).resolve().parents[2]


def _run(script: str, tmp_path: Path, env: dict[str, str] | None = None) -> str:
    completed = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, env={**os.environ, **(env or {})},
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def _main(script: str) -> None:
    """Run an example's main() in this process."""
    runpy.run_path(str(ROOT / "examples" / script))["main"]()


def test_chat_agent_writes_to_the_embedded_default(tmp_path: Path) -> None:
    stdout = _run("chat_agent.py", tmp_path, {"AGENT_TRACING_EXPORTERS": ""})
    assert "tracing records every step" in stdout
    spans = list(read_spans(tmp_path / "traces" / "traces.jsonl"))
    stream = next(span for span in spans if span.name == "ChatAgent.predict_stream" and span.parent_span_id is None)
    assert json.loads(stream.attributes["output.value"])["output"][0]["content"][0]["text"] == (
        "You asked about 'OpenTelemetry'; tracing records every step of the answer."
    )
    assert stream.attributes["gen_ai.conversation.id"] == "demo-conversation"


def test_an_example_writes_to_the_file_given_by_env(tmp_path: Path) -> None:
    trace_file = tmp_path / "out.jsonl"
    assert _run("tool_agent.py", tmp_path, {"AGENT_TRACING_EXPORTERS": f"file://{trace_file}"}).startswith("The weather in Paris")
    spans = list(read_spans(trace_file))
    assert {span.name for span in spans} == {"ToolAgent.predict", "ToolAgent.predict_stream", "get_weather"}
    assert len({span.trace_id for span in spans}) == 1
    assert not (tmp_path / "traces").exists()


def test_tool_agent_example_runs_its_tool_inside_its_stream(captured_spans: CapturedSpans, capsys: pytest.CaptureFixture[str]) -> None:
    _main("tool_agent.py")
    assert capsys.readouterr().out == "The weather in Paris is sunny, 21 C.\nsources: ['weather://paris']\n"
    captured_spans.assert_tree("""
        ToolAgent.predict [AGENT]
          ToolAgent.predict_stream [AGENT]
            get_weather [TOOL]
    """)
    assert captured_spans.one(type="TOOL").outputs == "sunny, 21 C"
    assert captured_spans.one(name="ToolAgent.predict").outputs["custom_outputs"] == {"sources": ["weather://paris"]}


def test_chat_completions_example_turns_every_tool_call_into_an_item(captured_spans: CapturedSpans) -> None:
    _main("chat_completions_agent.py")
    captured_spans.assert_tree("""
        MigratedAgent.predict [AGENT]
          MigratedAgent.predict_stream [AGENT]
            LegacyAgent.stream [AGENT]
              stream [CHAT_MODEL]
    """)
    output = captured_spans.one(name="MigratedAgent.predict").outputs["output"]
    assert [(item["type"], item.get("arguments")) for item in output] == [
        ("message", None),
        ("function_call", '{"city": "Paris"}'),
        ("function_call", '{"city": "Oslo"}'),
    ]


def test_chat_agent_example_streams_and_predicts_through_the_same_model_call(captured_spans: CapturedSpans) -> None:
    _main("chat_agent.py")
    captured_spans.assert_tree("""
        ChatAgent.predict_stream [AGENT]
          generate [CHAT_MODEL]
        ChatAgent.predict [AGENT]
          ChatAgent.predict_stream [AGENT]
            generate [CHAT_MODEL]
    """)
    stream = captured_spans.roots()[0]
    assert stream.stream is not None and stream.stream.chunks > 1 and not stream.stream.cancelled


def test_two_process_example_gives_one_trace_across_both_services(tmp_path: Path) -> None:
    trace_file = tmp_path / "out.jsonl"
    stdout = _run("two_process/agent_a.py", tmp_path, {"AGENT_TRACING_EXPORTERS": f"file://{trace_file}"})
    assert stdout.startswith("Here is what I found: OpenTelemetry carries trace context")
    spans = list(read_spans(trace_file))
    assert len({span.trace_id for span in spans}) == 1
    assert {span.resource["service.name"] for span in spans} == {"planner-agent", "research-agent"}
    assert [span.name for span in spans if span.parent_span_id is None] == ["PlannerAgent.predict"]
