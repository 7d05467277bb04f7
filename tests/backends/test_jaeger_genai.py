"""`agent-tracing jaeger` of the example conversation's trace file (tests/conventions) carries, as tags, the GenAI keys
the Jaeger UI's GenAI tab reads: messages and system instructions as JSON in the GenAI message schema
(open-telemetry/semantic-conventions-genai, gen-ai-input-messages.json and gen-ai-output-messages.json), models,
token usage, tool names, call arguments and results (issue 14)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai

from exporters.cli import main
from tests.backends.recording import record_conversation
from tests.conventions import conversation_agent as conversation

Tags = dict[str, tuple[str, Any]]
ROLES = ("system", "user", "assistant", "tool")
PART_FIELDS = {"text": ("content",), "tool_call": ("name",), "tool_call_response": ("response",), "reasoning": ("content",)}
"""The fields the message schema requires of each part type we write, besides `type`."""


@pytest.fixture(scope="module")
def tags(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Tags]:
    """Each span's Jaeger tags, `{key: (type, value)}`, by operation name, from the conversation's trace file."""
    directory = tmp_path_factory.mktemp("jaeger-genai")
    recorded = record_conversation(directory / "conversation.jsonl")
    assert main(["jaeger", str(directory / "conversation.jsonl"), "-o", str(directory / "jaeger.json")]) == 0
    (trace,) = json.loads((directory / "jaeger.json").read_text())["data"]
    assert len(trace["spans"]) == len(recorded)
    return {span["operationName"]: {tag["key"]: (tag["type"], tag["value"]) for tag in span["tags"]} for span in trace["spans"]}


def _json(span: Tags, key: str) -> Any:
    """A tag holding JSON text, decoded."""
    assert key in span, f"no {key} tag; the span has {sorted(span)}"
    kind, value = span[key]
    assert kind == "string", (key, kind)
    return json.loads(value)


def _messages(span: Tags, key: str) -> list[dict[str, Any]]:
    """A messages tag decoded and checked against the GenAI message schema: role and parts, each part typed with its
    required fields."""
    messages = _json(span, key)
    assert isinstance(messages, list) and messages, (key, messages)
    for message in messages:
        assert message["role"] in ROLES, message
        assert isinstance(message["parts"], list) and message["parts"], message
        for part in message["parts"]:
            assert all(field in part for field in PART_FIELDS[part["type"]]), part
    return messages


def _parts(messages: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [part for message in messages for part in message["parts"] if part["type"] == kind]


def _arguments(value: Any) -> Any:
    """Tool-call arguments as the schema allows them: an object, or the JSON text of one."""
    return json.loads(value) if isinstance(value, str) else value


def test_the_agent_span_carries_its_messages(tags: dict[str, Tags]) -> None:
    agent = tags[conversation.AGENT_SPAN]
    assert agent[gen_ai.GEN_AI_OPERATION_NAME] == ("string", gen_ai.GenAiOperationNameValues.INVOKE_AGENT.value)
    sent = _messages(agent, gen_ai.GEN_AI_INPUT_MESSAGES)
    assert sent == [{"role": "user", "parts": [{"type": "text", "content": conversation.QUESTION}]}]
    answered = _messages(agent, gen_ai.GEN_AI_OUTPUT_MESSAGES)
    calls = _parts(answered, "tool_call")
    assert [(c["id"], c["name"], _arguments(c["arguments"])) for c in calls] == [
        (conversation.WEATHER_CALL_ID, conversation.TOOL_SPAN, conversation.WEATHER_ARGUMENTS),
        (conversation.SEARCH_CALL_ID, conversation.RETRIEVER_SPAN, conversation.SEARCH_ARGUMENTS),
    ]
    assert [part["id"] for part in _parts(answered, "tool_call_response")] == [conversation.WEATHER_CALL_ID, conversation.SEARCH_CALL_ID]
    assert answered[-1]["role"] == "assistant"
    assert answered[-1]["parts"] == [{"type": "text", "content": conversation.ANSWER}]


def test_the_chat_span_carries_models_usage_and_messages(tags: dict[str, Tags]) -> None:
    chat = tags[conversation.CHAT_SPAN]
    assert chat[gen_ai.GEN_AI_OPERATION_NAME] == ("string", gen_ai.GenAiOperationNameValues.CHAT.value)
    assert chat[gen_ai.GEN_AI_REQUEST_MODEL] == ("string", conversation.REQUESTED_MODEL)
    assert chat[gen_ai.GEN_AI_RESPONSE_MODEL] == ("string", conversation.MODEL)
    assert chat[gen_ai.GEN_AI_USAGE_INPUT_TOKENS] == ("int64", conversation.PROMPT_TOKENS)
    assert chat[gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS] == ("int64", conversation.COMPLETION_TOKENS)
    assert _json(chat, gen_ai.GEN_AI_SYSTEM_INSTRUCTIONS) == [{"type": "text", "content": conversation.SYSTEM_PROMPT}]
    sent = _messages(chat, gen_ai.GEN_AI_INPUT_MESSAGES)
    assert {"role": "user", "parts": [{"type": "text", "content": conversation.QUESTION}]} in sent
    answered = _messages(chat, gen_ai.GEN_AI_OUTPUT_MESSAGES)
    assert [message["role"] for message in answered] == ["assistant"]
    assert [(c["id"], c["name"], _arguments(c["arguments"])) for c in _parts(answered, "tool_call")] == [
        (conversation.WEATHER_CALL_ID, conversation.TOOL_SPAN, conversation.WEATHER_ARGUMENTS),
        (conversation.SEARCH_CALL_ID, conversation.RETRIEVER_SPAN, conversation.SEARCH_ARGUMENTS),
    ]


def test_the_tool_span_carries_its_name_call_arguments_and_result(tags: dict[str, Tags]) -> None:
    tool = tags[conversation.TOOL_SPAN]
    assert tool[gen_ai.GEN_AI_OPERATION_NAME] == ("string", gen_ai.GenAiOperationNameValues.EXECUTE_TOOL.value)
    assert tool[gen_ai.GEN_AI_TOOL_NAME] == ("string", conversation.TOOL_SPAN)
    assert tool[gen_ai.GEN_AI_TOOL_CALL_ID] == ("string", conversation.WEATHER_CALL_ID)
    assert _json(tool, gen_ai.GEN_AI_TOOL_CALL_ARGUMENTS) == conversation.WEATHER_ARGUMENTS
    assert tool[gen_ai.GEN_AI_TOOL_CALL_RESULT] == ("string", conversation.WEATHER)
