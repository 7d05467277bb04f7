"""A streaming chat agent: every request is one AGENT span holding the whole answer.

Run: python examples/chat_agent.py
Spans go to traces/traces.jsonl (the embedded default), or wherever AGENT_TRACING_EXPORTERS
points (for example AGENT_TRACING_EXPORTERS=file:///tmp/chat.jsonl). Look at them with
`agent-tracing view traces/traces.jsonl`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import tracing
from tracing import ResponsesAgent, ResponsesAgentRequest, ResponsesAgentResponse, ResponsesAgentStreamEvent


class EchoModel:
    """A local stand-in for a chat model: answers word by word, no network."""

    @tracing.trace(span_type="CHAT_MODEL")
    def generate(self, prompt: str) -> Iterator[str]:
        """Stream the answer to a prompt one word at a time."""
        for word in f"You asked about {prompt!r}; tracing records every step of the answer.".split(" "):
            yield word + " "


class ChatAgent(ResponsesAgent):
    """Wraps the model: converts the request's last user message, streams the answer as deltas."""

    def __init__(self) -> None:
        self.model = EchoModel()

    def predict(self, request: ResponsesAgentRequest) -> ResponsesAgentResponse:
        """Collect the done items of our own stream."""
        items = [event.item for event in self.predict_stream(request) if event.type == "response.output_item.done"]
        return ResponsesAgentResponse(output=items, custom_outputs=request.custom_inputs)

    def predict_stream(self, request: ResponsesAgentRequest) -> Iterator[ResponsesAgentStreamEvent]:
        """Yield one text delta per model chunk, then the complete message."""
        prompt = next(message.content for message in reversed(request.input) if getattr(message, "role", None) == "user")
        item_id = f"msg_{uuid.uuid4().hex[:8]}"
        text = []
        for chunk in self.model.generate(str(prompt)):
            text.append(chunk)
            yield ResponsesAgentStreamEvent(**self.create_text_delta(chunk, item_id))
        yield ResponsesAgentStreamEvent(
            type="response.output_item.done", item=self.create_text_output_item("".join(text).strip(), item_id)
        )


def main() -> None:
    """Stream one answer, ask a second question without streaming, flush the spans."""
    agent = ChatAgent()
    request = {
        "input": [{"role": "user", "content": "OpenTelemetry"}],
        "custom_inputs": {"client": "cli"},
        "context": {"conversation_id": "demo-conversation", "user_id": "demo-user"},
    }
    for event in agent.predict_stream(request):
        if event.type == "response.output_text.delta":
            print(event.delta, end="", flush=True)
    print()
    print(agent.predict({**request, "input": [{"role": "user", "content": "agents"}]}).output_text)
    tracing.force_flush()


if __name__ == "__main__":
    main()
