"""An agent calling a tool on a real MCP server over stdio: the agent, the MCP client and server spans and the tool
span are one trace in one file, written by two processes (issue 16)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from mcp import Client
from mcp.client.stdio import StdioServerParameters
from opentelemetry.trace import SpanKind

import tracing
from exporters.tracefiles import SpanRecord, read_spans
from tracing import ResponsesAgent, ResponsesAgentRequest, ResponsesAgentResponse, keys

SERVER = Path(__file__).with_name("weather_server.py")


class ForecastAgent(ResponsesAgent):
    """Answers with the forecast tool of an MCP server it starts over stdio."""

    def __init__(self, server: StdioServerParameters) -> None:
        self.server = server

    def predict(self, request: ResponsesAgentRequest) -> ResponsesAgentResponse:
        """Call the MCP tool for the city the question ends with."""
        city = str(request.input[-1].content).rstrip("?").split()[-1]
        return ResponsesAgentResponse(output=[self.create_text_output_item(asyncio.run(self._forecast(city)), "msg_1")])

    async def _forecast(self, city: str) -> str:
        async with Client(self.server) as client:
            result = await client.call_tool("forecast", {"city": city})
        return str(result.content[0].text)


def _call_through_mcp(trace_file: Path, server: StdioServerParameters) -> list[SpanRecord]:
    """Ask the agent once with tracing configured to the trace file, and return the spans of both processes."""
    tracing.configure(service_name="agent", exporters=[f"file://{trace_file}"])
    try:
        response = ForecastAgent(server).predict({"input": [{"role": "user", "content": "Weather in Paris?"}]})
    finally:
        tracing.shutdown()
    assert response.output[0].content[0]["text"] == "sunny in Paris"
    spans = list(read_spans(trace_file))
    assert len({span.trace_id for span in spans}) == 1, [(span.trace_id, span.name) for span in spans]
    (root,) = [span for span in spans if span.parent_span_id is None]
    assert (root.service_name, root.name, root.span_type) == ("agent", "ForecastAgent.predict", "AGENT")
    (tool,) = [span for span in spans if span.span_type == "TOOL"]
    assert (tool.service_name, tool.name, tool.attributes[keys.INPUT_VALUE], tool.attributes[keys.OUTPUT_VALUE]) == (
        "weather-server", "forecast", '{"city": "Paris"}', "sunny in Paris",
    )
    return spans


def _ancestors_of_the_tool(spans: list[SpanRecord]) -> list[str]:
    by_id = {span.span_id: span for span in spans}
    (span,) = [span for span in spans if span.span_type == "TOOL"]
    chain = []
    while span.parent_span_id is not None:
        span = by_id[span.parent_span_id]
        chain.append(f"{span.service_name}: {span.name} ({span.kind})")
    return chain


def test_the_agent_and_the_mcp_tool_server_are_one_trace(tmp_path: Path) -> None:
    trace_file = tmp_path / "traces.jsonl"
    spans = _call_through_mcp(trace_file, StdioServerParameters(command=sys.executable, args=[str(SERVER), str(trace_file)]))
    assert _ancestors_of_the_tool(spans) == [
        f"weather-server: tools/call forecast ({SpanKind.SERVER.name})",
        f"agent: MCP send tools/call forecast ({SpanKind.CLIENT.name})",
        "agent: ForecastAgent.predict (INTERNAL)",
    ]


def test_a_server_on_the_embedded_default_still_joins_the_trace_without_mcp_server_spans(tmp_path: Path) -> None:
    trace_file = tmp_path / "traces.jsonl"
    environment = {"AGENT_TRACING_EXPORTERS": f"file://{trace_file}", "OTEL_SERVICE_NAME": "weather-server"}
    spans = _call_through_mcp(trace_file, StdioServerParameters(command=sys.executable, args=[str(SERVER)], env=environment))
    assert _ancestors_of_the_tool(spans) == [
        f"agent: MCP send tools/call forecast ({SpanKind.CLIENT.name})",
        "agent: ForecastAgent.predict (INTERNAL)",
    ]
    assert not [span for span in spans if span.kind == SpanKind.SERVER.name]
