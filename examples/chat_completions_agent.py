"""Migrating a ChatCompletions agent: its chunks become Responses events inside a ResponsesAgent.

Run: python examples/chat_completions_agent.py
Spans go to traces/traces.jsonl, or wherever AGENT_TRACING_EXPORTERS points.

The legacy agent streams OpenAI ChatCompletion chunks from a local fake LLM (no network). Its
own span's output is the assembled ChatCompletion; the ResponsesAgent around it turns content
deltas into text deltas, then yields one done item for the text and one function-call item per
tool call, each assembled from all its argument fragments. ``predict`` reuses ``predict_stream``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import tracing
from tracing import ResponsesAgent, ResponsesAgentRequest, ResponsesAgentResponse, ResponsesAgentStreamEvent


def _chunk(completion_id: str, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    """One ChatCompletion chunk as the OpenAI API streams it."""
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "fake-llm",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


class FakeLLM:
    """A local ChatCompletions model: some text, then two tool calls streamed in fragments."""

    @tracing.trace(span_type="CHAT_MODEL")
    def stream(self, messages: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Stream the completion of a conversation as ChatCompletion chunks."""
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:8]}"
        yield _chunk(completion_id, {"role": "assistant", "content": ""})
        for word in ("Checking ", "both ", "cities."):
            yield _chunk(completion_id, {"content": word})
        for index, (call_id, city) in enumerate((("call_paris", "Paris"), ("call_oslo", "Oslo"))):
            yield _chunk(completion_id, {"tool_calls": [
                {"index": index, "id": call_id, "type": "function", "function": {"name": "get_weather", "arguments": ""}}
            ]})
            for fragment in ('{"ci', 'ty": "', city, '"}'):
                yield _chunk(completion_id, {"tool_calls": [{"index": index, "function": {"arguments": fragment}}]})
        yield _chunk(completion_id, {}, finish_reason="tool_calls")


@tracing.trace_agent(methods=["stream"])
class LegacyAgent:
    """The agent being migrated: takes chat messages, streams ChatCompletion chunks."""

    def __init__(self) -> None:
        self.llm = FakeLLM()

    def stream(self, messages: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Stream the LLM's chunks."""
        yield from self.llm.stream(messages)


class MigratedAgent(ResponsesAgent):
    """The legacy agent behind the Responses interface."""

    def __init__(self) -> None:
        self.legacy = LegacyAgent()

    def predict(self, request: ResponsesAgentRequest) -> ResponsesAgentResponse:
        """Collect the done items of our own stream."""
        items = [event.item for event in self.predict_stream(request) if event.type == "response.output_item.done"]
        return ResponsesAgentResponse(output=items)

    def predict_stream(self, request: ResponsesAgentRequest) -> Iterator[ResponsesAgentStreamEvent]:
        """Turn ChatCompletion chunks into text deltas, a text item and one item per tool call."""
        messages = [{"role": message.role, "content": message.content} for message in request.input if hasattr(message, "role")]
        text: list[str] = []
        calls: dict[int, dict[str, Any]] = {}
        item_id = ""
        for chunk in self.legacy.stream(messages):
            item_id = chunk["id"]
            delta = chunk["choices"][0]["delta"] if chunk["choices"] else {}
            if delta.get("content"):
                text.append(delta["content"])
                yield ResponsesAgentStreamEvent(**self.create_text_delta(delta["content"], item_id))
            for fragment in delta.get("tool_calls") or ():
                call = calls.setdefault(fragment["index"], {"id": "", "name": "", "arguments": []})
                call["id"] = fragment.get("id") or call["id"]
                call["name"] = fragment.get("function", {}).get("name") or call["name"]
                call["arguments"].append(fragment.get("function", {}).get("arguments") or "")
        if text:
            yield ResponsesAgentStreamEvent(
                type="response.output_item.done", item=self.create_text_output_item("".join(text), item_id)
            )
        for index in sorted(calls):
            call = calls[index]
            yield ResponsesAgentStreamEvent(
                type="response.output_item.done",
                item=self.create_function_call_item(f"{item_id}-{index}", call["id"], call["name"], "".join(call["arguments"])),
            )


def main() -> None:
    """Ask once without streaming and print the output items, flush the spans."""
    response = MigratedAgent().predict({"input": [{"role": "user", "content": "Weather in Paris and Oslo?"}]})
    for item in response.output:
        print(item.model_dump())
    tracing.force_flush()


if __name__ == "__main__":
    main()
