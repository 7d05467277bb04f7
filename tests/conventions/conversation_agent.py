"""An example conversation traced end to end: one AGENT, CHAT_MODEL, TOOL and RETRIEVER span each.

`ConversationAgent` (a `tracing.ResponsesAgent`) streams: its chat model (`chat`, a CHAT_MODEL span) streams real
`openai` `ChatCompletionChunk` objects carrying two parallel tool calls and a final usage chunk; the agent runs the
first call with the tool `get_weather` (a TOOL span) and the second with the retriever `search_docs` (a RETRIEVER
span), then answers. `run_conversation()` runs it once, streaming, in whatever tracing configuration is active;
the constants below are what the spans must show (tests/conventions, tests/backends).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from openai.types import CompletionUsage
from openai.types.chat import ChatCompletionChunk
from openai.types.chat.chat_completion_chunk import (
    Choice,
    ChoiceDelta,
    ChoiceDeltaToolCall,
    ChoiceDeltaToolCallFunction,
)
from openai.types.completion_usage import CompletionTokensDetails, PromptTokensDetails

import tracing

MODEL = "gpt-4o-mini-2024-07-18"
REQUESTED_MODEL = "gpt-4o-mini"
RESPONSE_ID = "chatcmpl-conversation-1"
CONVERSATION_ID = "conversation-42"
USER_ID = "user-7"
SYSTEM_PROMPT = "You answer questions about the weather and travel."
QUESTION = "What is the weather in Paris, and what should I pack?"
WEATHER_CALL_ID = "call_weather_1"
SEARCH_CALL_ID = "call_search_2"
WEATHER_ARGUMENTS = {"city": "Paris"}
SEARCH_ARGUMENTS = {"query": "packing list for rain", "k": 2}
WEATHER = "Paris: 14 C, light rain"
ANSWER = "It is 14 C with light rain in Paris: pack an umbrella and a light raincoat."
PROMPT_TOKENS = 57
COMPLETION_TOKENS = 41
CACHED_TOKENS = 16
REASONING_TOKENS = 8
TEMPERATURE = 0.2
MAX_TOKENS = 256

AGENT_SPAN = "ConversationAgent.predict_stream"
CHAT_SPAN = "chat"
TOOL_SPAN = "get_weather"
RETRIEVER_SPAN = "search_docs"

DOCUMENTS = [
    {"id": "doc-rain", "page_content": "Rain: umbrella, waterproof shoes.", "doc_uri": "https://example.com/rain",
     "score": 0.92},
    {"id": "doc-city", "page_content": "City trips: comfortable shoes, a day bag.", "doc_uri": "https://example.com/city",
     "score": 0.71},
]


def _chunk(delta: ChoiceDelta | None = None, finish_reason: Any = None, usage: CompletionUsage | None = None
           ) -> ChatCompletionChunk:
    choices = [] if delta is None else [Choice(index=0, delta=delta, finish_reason=finish_reason)]
    return ChatCompletionChunk(id=RESPONSE_ID, created=1_763_700_000, model=MODEL, object="chat.completion.chunk",
                               choices=choices, usage=usage)


def _call_fragment(index: int, call_id: str | None, name: str | None, arguments: str) -> ChoiceDelta:
    function = ChoiceDeltaToolCallFunction(name=name, arguments=arguments)
    call = ChoiceDeltaToolCall(index=index, id=call_id, type="function" if call_id else None, function=function)
    return ChoiceDelta(tool_calls=[call])


def chat_chunks() -> list[ChatCompletionChunk]:
    """The chunks the chat model streams: a role, two parallel tool calls in fragments, the finish, the usage."""
    weather = json.dumps(WEATHER_ARGUMENTS)
    search = json.dumps(SEARCH_ARGUMENTS)
    usage = CompletionUsage(
        prompt_tokens=PROMPT_TOKENS, completion_tokens=COMPLETION_TOKENS, total_tokens=PROMPT_TOKENS + COMPLETION_TOKENS,
        prompt_tokens_details=PromptTokensDetails(cached_tokens=CACHED_TOKENS),
        completion_tokens_details=CompletionTokensDetails(reasoning_tokens=REASONING_TOKENS),
    )
    return [
        _chunk(ChoiceDelta(role="assistant", content=None)),
        _chunk(_call_fragment(0, WEATHER_CALL_ID, "get_weather", "")),
        _chunk(_call_fragment(1, SEARCH_CALL_ID, "search_docs", "")),
        _chunk(_call_fragment(0, None, None, weather[:7])),
        _chunk(_call_fragment(1, None, None, search[:9])),
        _chunk(_call_fragment(0, None, None, weather[7:])),
        _chunk(_call_fragment(1, None, None, search[9:])),
        _chunk(ChoiceDelta(), finish_reason="tool_calls"),
        _chunk(usage=usage),
    ]


@tracing.trace(span_type="CHAT_MODEL")
def chat(messages: list[dict[str, Any]], model: str = REQUESTED_MODEL, temperature: float = TEMPERATURE,
         max_tokens: int = MAX_TOKENS, stream: bool = True) -> Iterator[ChatCompletionChunk]:
    """A chat model streaming its answer (real OpenAI SDK chunk objects, no network)."""
    yield from chat_chunks()


@tracing.trace(span_type="TOOL")
def get_weather(city: str, tool_call_id: str | None = None) -> str:
    """The current weather of a city."""
    return WEATHER if city == "Paris" else f"{city}: unknown"


@tracing.trace(span_type="RETRIEVER")
def search_docs(query: str, k: int = 3) -> list[dict[str, Any]]:
    """Travel notes matching a query, best first."""
    return DOCUMENTS[:k]


def _done(item: dict[str, Any]) -> tracing.ResponsesAgentStreamEvent:
    return tracing.ResponsesAgentStreamEvent.model_validate({"type": "response.output_item.done", "item": item})


class ConversationAgent(tracing.ResponsesAgent):
    """Streams a chat model's two parallel tool calls, runs them (a tool and a retriever), then answers."""

    def predict_stream(self, request: tracing.ResponsesAgentRequest) -> Iterator[tracing.ResponsesAgentStreamEvent]:
        messages = [{"role": "system", "content": SYSTEM_PROMPT}, *self.prep_msgs_for_cc_llm(request.input)]
        calls: dict[int, dict[str, Any]] = {}
        for chunk in chat(messages=messages, model=REQUESTED_MODEL, temperature=TEMPERATURE, max_tokens=MAX_TOKENS):
            for choice in chunk.choices:
                for fragment in choice.delta.tool_calls or ():
                    call = calls.setdefault(fragment.index, {"id": None, "name": None, "arguments": ""})
                    call["id"] = fragment.id or call["id"]
                    if fragment.function is not None:
                        call["name"] = fragment.function.name or call["name"]
                        call["arguments"] += fragment.function.arguments or ""
        for index in sorted(calls):
            call = calls[index]
            item = self.create_function_call_item(f"fc_{index}", call["id"], call["name"], call["arguments"])
            yield _done(item)
            arguments = json.loads(call["arguments"])
            if call["name"] == "get_weather":
                result = get_weather(arguments["city"], tool_call_id=call["id"])
            else:
                result = json.dumps([doc["page_content"] for doc in search_docs(arguments["query"], k=arguments["k"])])
            output = self.create_function_call_output_item(call["id"], result)
            yield _done(output)
        yield tracing.ResponsesAgentStreamEvent(**self.create_text_delta(ANSWER[:20], item_id="msg_1"))
        yield tracing.ResponsesAgentStreamEvent(**self.create_text_delta(ANSWER[20:], item_id="msg_1"))
        yield _done(self.create_text_output_item(ANSWER, "msg_1"))


def request() -> tracing.ResponsesAgentRequest:
    """The request the conversation sends: one user question in a conversation."""
    return tracing.ResponsesAgentRequest.model_validate({
        "input": [{"role": "user", "content": QUESTION}],
        "context": {"conversation_id": CONVERSATION_ID, "user_id": USER_ID},
    })


def run_conversation() -> list[tracing.ResponsesAgentStreamEvent]:
    """Run the agent once, streaming, in the active tracing configuration; the events it streamed."""
    return list(ConversationAgent().predict_stream(request()))
