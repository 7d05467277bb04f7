"""An MCP tool server over stdio whose tool is traced: `python weather_server.py TRACE_FILE`.

The server's MCP spans and its tool span go to the trace file; the client's `traceparent` (in `params._meta`)
makes them part of the caller's trace.
"""

from __future__ import annotations

import sys

from mcp.server.mcpserver import MCPServer

import tracing

tracing.configure(service_name="weather-server", exporters=[f"file://{sys.argv[1]}"])
server = MCPServer("weather")


@server.tool()
@tracing.trace(span_type="TOOL")
def forecast(city: str) -> str:
    """Tomorrow's weather in a city."""
    return f"sunny in {city}"


if __name__ == "__main__":
    server.run()
