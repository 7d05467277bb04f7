"""The example conversation (tests/conventions) exported live over OTLP/HTTP to a real Arize Phoenix, read back
through its REST API: the LLM span's model, token counts and messages, the agent's messages, the TOOL and
RETRIEVER spans with their kinds and the retriever's documents (issue 14)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from openinference.semconv.resource import ResourceAttributes
from openinference.semconv.trace import DocumentAttributes, MessageAttributes, SpanAttributes, ToolCallAttributes

from tests.backends.recording import record_conversation
from tests.conventions import conversation_agent as conversation
from tests.servers.phoenix import PhoenixServer, indexed

pytestmark = [pytest.mark.servers, pytest.mark.slow]  # the session's Phoenix takes ~15 s to start


@pytest.fixture(scope="module")
def shown(phoenix_server: PhoenixServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The conversation's spans as Phoenix returns them (its own project), by span name; checked to be the recorded trace."""
    project = f"conversation-{uuid.uuid4().hex[:8]}"
    recorded = record_conversation(tmp_path_factory.mktemp("phoenix-conversation") / "conversation.jsonl",
                                   phoenix_server.http_endpoint, resource_attributes={ResourceAttributes.PROJECT_NAME: project})
    spans = phoenix_server.wait_for_spans(lambda found: len(found) >= len(recorded), project=project)
    assert sorted((s["context"]["trace_id"], s["context"]["span_id"]) for s in spans) == sorted(
        (r.trace_id, r.span_id) for r in recorded)
    return {span["name"]: span for span in spans}


def test_phoenix_shows_each_span_with_its_kind(shown: dict[str, dict[str, Any]]) -> None:
    assert {name: span["span_kind"] for name, span in shown.items()} == {
        conversation.AGENT_SPAN: "AGENT", conversation.CHAT_SPAN: "LLM", conversation.TOOL_SPAN: "TOOL",
        conversation.RETRIEVER_SPAN: "RETRIEVER",
    }
    agent = shown[conversation.AGENT_SPAN]
    assert {span["parent_id"] for name, span in shown.items() if name != conversation.AGENT_SPAN} == {agent["context"]["span_id"]}


def test_phoenix_returns_the_llm_span_with_model_and_token_counts(shown: dict[str, dict[str, Any]]) -> None:
    attributes = shown[conversation.CHAT_SPAN]["attributes"]
    assert attributes.get(SpanAttributes.LLM_MODEL_NAME) == conversation.MODEL
    counts = {key: attributes.get(key) for key in (SpanAttributes.LLM_TOKEN_COUNT_PROMPT, SpanAttributes.LLM_TOKEN_COUNT_COMPLETION,
                                                   SpanAttributes.LLM_TOKEN_COUNT_TOTAL)}
    assert counts == {
        SpanAttributes.LLM_TOKEN_COUNT_PROMPT: conversation.PROMPT_TOKENS,
        SpanAttributes.LLM_TOKEN_COUNT_COMPLETION: conversation.COMPLETION_TOKENS,
        SpanAttributes.LLM_TOKEN_COUNT_TOTAL: conversation.PROMPT_TOKENS + conversation.COMPLETION_TOKENS,
    }


def test_phoenix_returns_the_llm_span_messages_with_the_parallel_tool_calls(shown: dict[str, dict[str, Any]]) -> None:
    attributes = shown[conversation.CHAT_SPAN]["attributes"]
    sent = indexed(attributes, SpanAttributes.LLM_INPUT_MESSAGES)
    assert [(m.get(MessageAttributes.MESSAGE_ROLE), m.get(MessageAttributes.MESSAGE_CONTENT)) for m in sent] == [
        ("system", conversation.SYSTEM_PROMPT), ("user", conversation.QUESTION)]
    answered = indexed(attributes, SpanAttributes.LLM_OUTPUT_MESSAGES)
    assert [m.get(MessageAttributes.MESSAGE_ROLE) for m in answered] == ["assistant"]
    calls = indexed(answered[0], MessageAttributes.MESSAGE_TOOL_CALLS)
    assert [(c.get(ToolCallAttributes.TOOL_CALL_ID), c.get(ToolCallAttributes.TOOL_CALL_FUNCTION_NAME)) for c in calls] == [
        (conversation.WEATHER_CALL_ID, conversation.TOOL_SPAN), (conversation.SEARCH_CALL_ID, conversation.RETRIEVER_SPAN)]
    arguments = [c.get(ToolCallAttributes.TOOL_CALL_FUNCTION_ARGUMENTS_JSON) for c in calls]
    assert [json.loads(a) if isinstance(a, str) else a for a in arguments] == [conversation.WEATHER_ARGUMENTS, conversation.SEARCH_ARGUMENTS]


def test_phoenix_returns_the_agents_messages(shown: dict[str, dict[str, Any]]) -> None:
    attributes = shown[conversation.AGENT_SPAN]["attributes"]
    sent = indexed(attributes, SpanAttributes.LLM_INPUT_MESSAGES)
    assert [(m.get(MessageAttributes.MESSAGE_ROLE), m.get(MessageAttributes.MESSAGE_CONTENT)) for m in sent] == [
        ("user", conversation.QUESTION)]
    answered = indexed(attributes, SpanAttributes.LLM_OUTPUT_MESSAGES)
    assert answered, f"no {SpanAttributes.LLM_OUTPUT_MESSAGES} on the agent span: {sorted(attributes)}"
    assert (answered[-1].get(MessageAttributes.MESSAGE_ROLE), answered[-1].get(MessageAttributes.MESSAGE_CONTENT)) == (
        "assistant", conversation.ANSWER)
    # the values Phoenix shows as the span's input and output hold the same conversation
    assert conversation.QUESTION in attributes[SpanAttributes.INPUT_VALUE]
    assert conversation.ANSWER in attributes[SpanAttributes.OUTPUT_VALUE]


def test_phoenix_returns_the_tool_span(shown: dict[str, dict[str, Any]]) -> None:
    attributes = shown[conversation.TOOL_SPAN]["attributes"]
    assert attributes[SpanAttributes.TOOL_NAME] == conversation.TOOL_SPAN
    assert attributes[SpanAttributes.OUTPUT_VALUE] == conversation.WEATHER


def test_phoenix_returns_the_retrievers_documents(shown: dict[str, dict[str, Any]]) -> None:
    documents = indexed(shown[conversation.RETRIEVER_SPAN]["attributes"], SpanAttributes.RETRIEVAL_DOCUMENTS)
    assert [(d[DocumentAttributes.DOCUMENT_ID], d[DocumentAttributes.DOCUMENT_CONTENT], d[DocumentAttributes.DOCUMENT_SCORE],
             d[f"{DocumentAttributes.DOCUMENT_METADATA}.doc_uri"]) for d in documents] == [
        (doc["id"], doc["page_content"], doc["score"], doc["doc_uri"]) for doc in conversation.DOCUMENTS]

