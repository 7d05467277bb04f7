"""The example conversation written to a trace file: AGENT, CHAT_MODEL, TOOL and RETRIEVER spans with exactly the
OpenInference and GenAI keys of SPEC 4, by `conventions` and `capture_content` (issue 14)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import tracing
from exporters.tracefiles import SpanRecord, read_spans
from tests.conventions import conversation_agent as conversation

Run = Callable[..., dict[str, SpanRecord]]

STREAM = {"agent_tracing.stream.chunks", "agent_tracing.stream.first_chunk_ms", "agent_tracing.stream.cancelled"}
VALUES = {"input.value", "input.mime_type", "output.value", "output.mime_type"}
GENAI_STREAM = {"gen_ai.request.stream", "gen_ai.response.time_to_first_chunk"}


def _calls(prefix: str, count: int) -> set[str]:
    return {f"{prefix}.message.tool_calls.{j}.tool_call.{field}" for j in range(count)
            for field in ("id", "function.name", "function.arguments")}


CHAT = {
    "kind": {"openinference.span.kind"},
    "always": {"agent_tracing.span_type", *STREAM},
    "genai": {
        "gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model", "gen_ai.request.temperature",
        "gen_ai.request.max_tokens", "gen_ai.response.model", "gen_ai.response.id", "gen_ai.response.finish_reasons",
        "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.usage.reasoning.output_tokens", *GENAI_STREAM,
    },
    "genai_content": {"gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions"},
    "openinference": {
        "llm.model_name", "llm.provider", "llm.system", "llm.invocation_parameters", "llm.token_count.prompt",
        "llm.token_count.completion", "llm.token_count.total", "llm.token_count.prompt_details.cache_read",
        "llm.token_count.completion_details.reasoning",
    },
    "openinference_content": {
        "llm.input_messages.0.message.role", "llm.input_messages.0.message.content",
        "llm.input_messages.1.message.role", "llm.input_messages.1.message.content",
        "llm.output_messages.0.message.role", *_calls("llm.output_messages.0", 2),
    },
}
TOOL = {
    "kind": {"openinference.span.kind"},
    "always": set(),
    "genai": {"gen_ai.operation.name", "gen_ai.tool.name", "gen_ai.tool.description", "gen_ai.tool.call.id"},
    "genai_content": {"gen_ai.tool.call.arguments", "gen_ai.tool.call.result"},
    "openinference": {"tool.name", "tool.description", "tool.parameters"},
    "openinference_content": set(),
}
RETRIEVER = {
    # Without content, output.value still lists the documents' ids and URIs (their texts left empty).
    "kind": {"openinference.span.kind"},
    "always": {"agent_tracing.retriever.schema", "agent_tracing.retriever.document_count", "output.value",
               "output.mime_type"},
    "genai": {"gen_ai.operation.name", "gen_ai.data_source.id", "gen_ai.retrieval.documents", "gen_ai.retrieval.top_k"},
    "genai_content": {"gen_ai.retrieval.query.text"},
    "openinference": {f"retrieval.documents.{i}.document.{field}" for i in range(2) for field in ("id", "score", "metadata")},
    "openinference_content": {"retrieval.documents.0.document.content", "retrieval.documents.1.document.content"},
}
AGENT = {
    "kind": {"openinference.span.kind"},
    "always": {"session.id", "user.id", *STREAM},
    "genai": {"gen_ai.operation.name", "gen_ai.agent.name", "gen_ai.conversation.id", *GENAI_STREAM},
    "genai_content": {"gen_ai.input.messages", "gen_ai.output.messages"},
    "openinference": set(),
    "openinference_content": {
        "llm.input_messages.0.message.role", "llm.input_messages.0.message.content",
        "llm.output_messages.0.message.role", *_calls("llm.output_messages.0", 1),
        "llm.output_messages.1.message.role", "llm.output_messages.1.message.content",
        "llm.output_messages.1.message.tool_call_id",
        "llm.output_messages.2.message.role", *_calls("llm.output_messages.2", 1),
        "llm.output_messages.3.message.role", "llm.output_messages.3.message.content",
        "llm.output_messages.3.message.tool_call_id",
        "llm.output_messages.4.message.role", "llm.output_messages.4.message.content",
    },
}
SPANS = {conversation.AGENT_SPAN: AGENT, conversation.CHAT_SPAN: CHAT, conversation.TOOL_SPAN: TOOL,
         conversation.RETRIEVER_SPAN: RETRIEVER}
CONTENT_PREFIXES = ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions",
                    "gen_ai.tool.call.arguments", "gen_ai.tool.call.result", "gen_ai.retrieval.query.text",
                    "llm.input_messages", "llm.output_messages", "input.value", "output.value")


def expected(spec: dict[str, set[str]], conventions: set[str], content: bool) -> set[str]:
    """The keys a span of this spec carries under these conventions, with or without content."""
    keys = set(spec["always"])
    if "openinference" in conventions:
        keys |= spec["kind"] | spec["openinference"] | (spec["openinference_content"] if content else set())
    else:
        keys.add("agent_tracing.span_type")  # the span type, when no OpenInference kind says it
    if "genai" in conventions:
        keys |= spec["genai"] | (spec["genai_content"] if content else set())
    if content:
        keys |= VALUES
    return keys


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Run]:
    """Run the conversation once into a trace file with the given settings; its spans read back by name."""

    def conversation_file(**settings: Any) -> dict[str, SpanRecord]:
        path = tmp_path / f"trace-{len(list(tmp_path.iterdir()))}.jsonl"
        tracing.configure(service_name="conventions", exporters=[str(path)], **settings)
        conversation.run_conversation()
        tracing.shutdown()
        records = list(read_spans(path))
        assert len(records) == len({record.name for record in records}) == 4, [record.name for record in records]
        return {record.name: record for record in records}

    yield conversation_file
    tracing.shutdown()


@pytest.mark.parametrize("content", [True, False], ids=["content", "no-content"])
@pytest.mark.parametrize("conventions", [("openinference", "genai"), ("openinference",), ("genai",)],
                         ids=lambda value: "+".join(value))
def test_each_span_carries_exactly_the_keys_of_its_type(run: Run, conventions: tuple[str, ...], content: bool) -> None:
    spans = run(conventions=list(conventions), capture_content=content)
    for name, spec in SPANS.items():
        keys = set(spans[name].attributes)
        want = expected(spec, set(conventions), content)
        assert keys == want, f"{name}: unexpected {sorted(keys - want)}, missing {sorted(want - keys)}"
        if not content:
            assert not [key for key in keys if key.startswith(CONTENT_PREFIXES) and key not in spec["always"]]
        if "genai" not in conventions:
            assert not [key for key in keys if key.startswith("gen_ai.")]
        if "openinference" not in conventions:
            assert not [key for key in keys if key.startswith(("llm.", "tool.", "retrieval.", "openinference."))]
    if not content:
        documents = json.loads(spans[conversation.RETRIEVER_SPAN].attributes["output.value"])
        assert [document["page_content"] for document in documents] == ["", ""]


def test_the_chat_model_span_holds_the_streamed_completion(run: Run) -> None:
    chat = run()[conversation.CHAT_SPAN].attributes
    assert chat["openinference.span.kind"] == "LLM" and chat["agent_tracing.span_type"] == "CHAT_MODEL"
    assert chat["gen_ai.operation.name"] == "chat"
    assert chat["gen_ai.provider.name"] == chat["llm.provider"] == "openai"
    assert chat["gen_ai.request.model"] == conversation.REQUESTED_MODEL
    assert chat["gen_ai.response.model"] == chat["llm.model_name"] == conversation.MODEL
    assert chat["gen_ai.response.id"] == conversation.RESPONSE_ID
    assert list(chat["gen_ai.response.finish_reasons"]) == ["tool_calls"]
    assert chat["gen_ai.request.temperature"] == conversation.TEMPERATURE
    assert chat["gen_ai.request.max_tokens"] == conversation.MAX_TOKENS
    assert chat["gen_ai.request.stream"] is True
    assert isinstance(chat["gen_ai.response.time_to_first_chunk"], float)
    assert chat["gen_ai.response.time_to_first_chunk"] * 1000 == pytest.approx(chat["agent_tracing.stream.first_chunk_ms"],
                                                                               abs=0.01)
    assert chat["gen_ai.usage.input_tokens"] == chat["llm.token_count.prompt"] == conversation.PROMPT_TOKENS
    assert chat["gen_ai.usage.output_tokens"] == chat["llm.token_count.completion"] == conversation.COMPLETION_TOKENS
    assert chat["llm.token_count.total"] == conversation.PROMPT_TOKENS + conversation.COMPLETION_TOKENS
    assert chat["gen_ai.usage.cache_read.input_tokens"] == chat["llm.token_count.prompt_details.cache_read"] == 16
    assert chat["gen_ai.usage.reasoning.output_tokens"] == chat["llm.token_count.completion_details.reasoning"] == 8
    assert json.loads(chat["llm.invocation_parameters"]) == {"model": conversation.REQUESTED_MODEL, "stream": True,
                                                             "temperature": 0.2, "max_tokens": 256}
    assert json.loads(chat["gen_ai.system_instructions"]) == [{"type": "text", "content": conversation.SYSTEM_PROMPT}]
    assert json.loads(chat["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": conversation.QUESTION}]}]
    assert json.loads(chat["gen_ai.output.messages"]) == [{
        "role": "assistant",
        "parts": [
            {"type": "tool_call", "id": conversation.WEATHER_CALL_ID, "name": "get_weather",
             "arguments": conversation.WEATHER_ARGUMENTS},
            {"type": "tool_call", "id": conversation.SEARCH_CALL_ID, "name": "search_docs",
             "arguments": conversation.SEARCH_ARGUMENTS},
        ],
        "finish_reason": "tool_call",
    }]
    assert chat["llm.input_messages.0.message.role"] == "system"
    assert chat["llm.input_messages.1.message.content"] == conversation.QUESTION
    prefix = "llm.output_messages.0.message.tool_calls"
    assert [chat[f"{prefix}.{j}.tool_call.id"] for j in range(2)] == [conversation.WEATHER_CALL_ID,
                                                                       conversation.SEARCH_CALL_ID]
    assert [json.loads(chat[f"{prefix}.{j}.tool_call.function.arguments"]) for j in range(2)] == [
        conversation.WEATHER_ARGUMENTS, conversation.SEARCH_ARGUMENTS]


def test_the_agent_tool_and_retriever_spans_hold_the_turn(run: Run) -> None:
    spans = run()
    agent = spans[conversation.AGENT_SPAN].attributes
    assert agent["gen_ai.operation.name"] == "invoke_agent" and agent["gen_ai.agent.name"] == "ConversationAgent"
    assert agent["gen_ai.conversation.id"] == agent["session.id"] == conversation.CONVERSATION_ID
    assert agent["gen_ai.request.stream"] is True
    assert json.loads(agent["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": conversation.QUESTION}]}]
    outputs = json.loads(agent["gen_ai.output.messages"])
    assert [message["role"] for message in outputs] == ["assistant", "tool", "assistant", "tool", "assistant"]
    assert outputs[1]["parts"] == [{"type": "tool_call_response", "id": conversation.WEATHER_CALL_ID,
                                    "response": conversation.WEATHER}]
    assert outputs[-1] == {"role": "assistant", "parts": [{"type": "text", "content": conversation.ANSWER}],
                           "finish_reason": "stop"}
    assert agent["llm.output_messages.4.message.content"] == conversation.ANSWER
    assert agent["llm.output_messages.1.message.tool_call_id"] == conversation.WEATHER_CALL_ID

    tool = spans[conversation.TOOL_SPAN].attributes
    assert tool["gen_ai.operation.name"] == "execute_tool"
    assert tool["gen_ai.tool.name"] == tool["tool.name"] == "get_weather"
    assert tool["gen_ai.tool.description"] == tool["tool.description"] == "The current weather of a city."
    assert tool["gen_ai.tool.call.id"] == conversation.WEATHER_CALL_ID
    assert json.loads(tool["gen_ai.tool.call.arguments"]) == conversation.WEATHER_ARGUMENTS
    assert tool["gen_ai.tool.call.result"] == conversation.WEATHER

    retriever = spans[conversation.RETRIEVER_SPAN].attributes
    assert retriever["gen_ai.retrieval.query.text"] == conversation.SEARCH_ARGUMENTS["query"]
    assert retriever["gen_ai.retrieval.top_k"] == conversation.SEARCH_ARGUMENTS["k"]
    assert retriever["gen_ai.data_source.id"] == conversation.RETRIEVER_SPAN
