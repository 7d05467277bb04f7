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


def _ancestors(span: SpanRecord, by_id: dict[str, SpanRecord]) -> list[str]:
    chain = []
    while span.parent_span_id is not None:
        span = by_id[span.parent_span_id]
        chain.append(f"{span.service_name}: {span.name} ({span.kind})")
    return chain


def test_the_agent_and_the_mcp_tool_server_are_one_trace(tmp_path: Path) -> None:
    trace_file = tmp_path / "traces.jsonl"
    tracing.configure(service_name="agent", exporters=[f"file://{trace_file}"])
    try:
        agent = ForecastAgent(StdioServerParameters(command=sys.executable, args=[str(SERVER), str(trace_file)]))
        response = agent.predict({"input": [{"role": "user", "content": "Weather in Paris?"}]})
    finally:
        tracing.shutdown()
    assert response.output[0].content[0]["text"] == "sunny in Paris"

    spans = list(read_spans(trace_file))
    assert len({span.trace_id for span in spans}) == 1, [(span.trace_id, span.name) for span in spans]
    by_id = {span.span_id: span for span in spans}
    (root,) = [span for span in spans if span.parent_span_id is None]
    assert (root.service_name, root.name, root.span_type) == ("agent", "ForecastAgent.predict", "AGENT")
    (tool,) = [span for span in spans if span.span_type == "TOOL"]
    assert tool.service_name == "weather-server"
    assert (tool.name, tool.attributes[keys.INPUT_VALUE], tool.attributes[keys.OUTPUT_VALUE]) == (
        "forecast", '{"city": "Paris"}', "sunny in Paris",
    )
    assert _ancestors(tool, by_id) == [
        f"weather-server: tools/call forecast ({SpanKind.SERVER.name})",
        f"agent: MCP send tools/call forecast ({SpanKind.CLIENT.name})",
        "agent: ForecastAgent.predict (INTERNAL)",
    ]
