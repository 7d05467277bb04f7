"""An MCP tool server over stdio whose tool is traced: `python weather_server.py [TRACE_FILE]`.

With TRACE_FILE, tracing is configured to write there: MCP's server spans and the tool span go to it. Without, the
embedded default set up from the environment (AGENT_TRACING_EXPORTERS) records the tool span only. Either way the
client's `traceparent` (in `params._meta`) makes them part of the caller's trace.
"""

from __future__ import annotations

import sys

from mcp.server.mcpserver import MCPServer

import tracing

if len(sys.argv) > 1:
    tracing.configure(service_name="weather-server", exporters=[f"file://{sys.argv[1]}"])
server = MCPServer("weather")


@server.tool()
@tracing.trace(span_type="TOOL")
def forecast(city: str) -> str:
    """Tomorrow's weather in a city."""
    return f"sunny in {city}"


if __name__ == "__main__":
    server.run()
