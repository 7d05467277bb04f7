"""A tool-calling agent: the AGENT span holds the function call, its result and the answer.

Run: python examples/tool_agent.py
Spans go to traces/traces.jsonl, or wherever AGENT_TRACING_EXPORTERS points.
The tool runs as a TOOL span inside the agent's span; the sources the answer used travel in
custom_outputs, outside the chat history, and are in the trace too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import tracing
from tracing import ResponsesAgent, ResponsesAgentRequest, ResponsesAgentResponse, ResponsesAgentStreamEvent

WEATHER = {"paris": "sunny, 21 C", "oslo": "snow, -3 C"}


@tracing.trace(span_type="TOOL")
def get_weather(city: str) -> str:
    """The weather of a city, from a local table."""
    return WEATHER.get(city.lower(), "unknown")


class ToolAgent(ResponsesAgent):
    """Calls get_weather for the city in the question, then answers with its result."""

    def predict(self, request: ResponsesAgentRequest) -> ResponsesAgentResponse:
        """Collect the done items and custom outputs of our own stream."""
        items, custom_outputs = [], {}
        for event in self.predict_stream(request):
            if event.type == "response.output_item.done":
                items.append(event.item)
            custom_outputs.update(event.custom_outputs or {})
        return ResponsesAgentResponse(output=items, custom_outputs=custom_outputs)

    def predict_stream(self, request: ResponsesAgentRequest) -> Iterator[ResponsesAgentStreamEvent]:
        """Yield the function call, its output, then the answer."""
        question = str(request.input[-1].content)
        city = question.rstrip("?").split()[-1]
        arguments = json.dumps({"city": city})
        yield ResponsesAgentStreamEvent(
            type="response.output_item.done",
            item=self.create_function_call_item("fc_1", "call_1", "get_weather", arguments),
        )
        result = get_weather(**json.loads(arguments))
        yield ResponsesAgentStreamEvent(
            type="response.output_item.done", item=self.create_function_call_output_item("call_1", result)
        )
        answer = f"The weather in {city} is {result}."
        for word in answer.split(" "):
            yield ResponsesAgentStreamEvent(**self.create_text_delta(word + " ", "msg_1"))
        yield ResponsesAgentStreamEvent(
            type="response.output_item.done",
            item=self.create_text_output_item(answer, "msg_1"),
            custom_outputs={"sources": [f"weather://{city.lower()}"]},
        )


def main() -> None:
    """Ask about the weather once, print the answer and its sources, flush the spans."""
    response = ToolAgent().predict({"input": [{"role": "user", "content": "What is the weather in Paris?"}]})
    print(response.output_text)
    print("sources:", response.custom_outputs["sources"])
    tracing.force_flush()


if __name__ == "__main__":
    main()
