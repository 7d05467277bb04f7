"""The agent examples run as users run them, with no network, and write the traces they promise."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from exporters.tracefiles import read_spans

ROOT = Path(__file__).resolve().parents[2]


def _run(script: str, tmp_path: Path, env: dict[str, str] | None = None) -> str:
    completed = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, env={**os.environ, **(env or {})},
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def test_chat_agent_writes_to_the_embedded_default(tmp_path: Path) -> None:
    stdout = _run("chat_agent.py", tmp_path, {"AGENT_TRACING_EXPORTERS": ""})
    assert "tracing records every step" in stdout
    spans = list(read_spans(tmp_path / "traces" / "traces.jsonl"))
    stream = next(span for span in spans if span.name == "ChatAgent.predict_stream" and span.parent_span_id is None)
    assert json.loads(stream.attributes["output.value"])["output"][0]["content"][0]["text"] == (
        "You asked about 'OpenTelemetry'; tracing records every step of the answer."
    )
    assert stream.attributes["gen_ai.conversation.id"] == "demo-conversation"


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("tool_agent.py", {"ToolAgent.predict", "ToolAgent.predict_stream", "get_weather"}),
        ("chat_completions_agent.py", {"MigratedAgent.predict", "MigratedAgent.predict_stream", "LegacyAgent.stream", "stream"}),
    ],
)
def test_examples_write_to_the_file_given_by_env(tmp_path: Path, script: str, expected: set[str]) -> None:
    trace_file = tmp_path / "out.jsonl"
    _run(script, tmp_path, {"AGENT_TRACING_EXPORTERS": f"file://{trace_file}"})
    spans = list(read_spans(trace_file))
    assert {span.name for span in spans} == expected
    assert len({span.trace_id for span in spans}) == 1


def test_chat_completions_example_turns_every_tool_call_into_an_item(tmp_path: Path) -> None:
    trace_file = tmp_path / "out.jsonl"
    _run("chat_completions_agent.py", tmp_path, {"AGENT_TRACING_EXPORTERS": f"file://{trace_file}"})
    predict = next(span for span in read_spans(trace_file) if span.name == "MigratedAgent.predict")
    output = json.loads(predict.attributes["output.value"])["output"]
    assert [(item["type"], item.get("arguments")) for item in output] == [
        ("message", None),
        ("function_call", '{"city": "Paris"}'),
        ("function_call", '{"city": "Oslo"}'),
    ]


def test_two_process_example_gives_one_trace_across_both_services(tmp_path: Path) -> None:
    trace_file = tmp_path / "out.jsonl"
    stdout = _run("two_process/agent_a.py", tmp_path, {"AGENT_TRACING_EXPORTERS": f"file://{trace_file}"})
    assert stdout.startswith("Here is what I found: OpenTelemetry carries trace context")
    spans = list(read_spans(trace_file))
    assert len({span.trace_id for span in spans}) == 1
    assert {span.resource["service.name"] for span in spans} == {"planner-agent", "research-agent"}
    assert [span.name for span in spans if span.parent_span_id is None] == ["PlannerAgent.predict"]
