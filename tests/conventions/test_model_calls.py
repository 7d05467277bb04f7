"""LLM and CHAT_MODEL spans from every completion shape (SDK objects, dicts, streams of either), AGENT spans named by
their runtime class, TOOL keys by `conventions`; hostile completions never fail the traced call (issue 14)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseOutputItemDoneEvent,
    ResponseTextDeltaEvent,
)

import tracing
from tests.capture import CapturedSpans, attrs

QUESTION = [{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "Where is Paris?"}]
COMPLETION = {
    "id": "chatcmpl-7", "object": "chat.completion", "created": 1, "model": "gpt-4o-2024-08-06",
    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "In France."}}],
    "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
}
RESPONSE = {
    "id": "resp_9", "object": "response", "created_at": 1.0, "model": "gpt-4.1-2025-04-14", "status": "completed",
    "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
    "output": [
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Look it up."}]},
        {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "lookup", "arguments": '{"q": "Paris"}',
         "status": "completed"},
        {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
         "content": [{"type": "output_text", "text": "In France.", "annotations": []}]},
    ],
    "usage": {"input_tokens": 20, "output_tokens": 9, "total_tokens": 29,
              "input_tokens_details": {"cached_tokens": 4, "cache_write_tokens": 0},
              "output_tokens_details": {"reasoning_tokens": 5}},
}
RESPONSE_OUTPUT = [{
    "role": "assistant",
    "parts": [{"type": "reasoning", "content": "Look it up."},
              {"type": "tool_call", "id": "call_1", "name": "lookup", "arguments": {"q": "Paris"}},
              {"type": "text", "content": "In France."}],
    "finish_reason": "tool_call",
}]


@tracing.trace(span_type="LLM")
def complete(messages: Any, model: str = "gpt-4o", result: Any = None, temperature: float = 0.5,
             stop: Any = None) -> Any:
    """A model call returning whatever the test hands it."""
    return result


@tracing.trace(span_type="CHAT_MODEL")
def stream(messages: Any, chunks: list[Any], model: str = "gpt-4o", stream: bool = True) -> Iterator[Any]:
    """A model call streaming the chunks the test hands it."""
    yield from chunks


def test_a_chat_completion_object_and_its_dict_record_the_same_keys(spans: CapturedSpans) -> None:
    complete(QUESTION, result=ChatCompletion.model_validate(COMPLETION), stop="\n")
    from_object = attrs(spans.one("complete"))
    spans.clear()
    complete(QUESTION, result=COMPLETION, stop="\n")
    from_dict = attrs(spans.one("complete"))
    for value in ("input.value", "output.value"):  # the result is an argument too: SDK objects dump more fields
        from_object.pop(value)
        from_dict.pop(value)
    assert from_object == from_dict
    assert from_dict["gen_ai.response.model"] == from_dict["llm.model_name"] == "gpt-4o-2024-08-06"
    assert from_dict["gen_ai.request.model"] == "gpt-4o"
    assert list(from_dict["gen_ai.response.finish_reasons"]) == ["stop"]
    assert list(from_dict["gen_ai.request.stop_sequences"]) == ["\n"]
    assert from_dict["gen_ai.request.temperature"] == 0.5
    assert from_dict["gen_ai.usage.input_tokens"] == 12 and from_dict["llm.token_count.total"] == 15
    assert "gen_ai.request.stream" not in from_dict
    assert json.loads(from_dict["gen_ai.system_instructions"]) == [{"type": "text", "content": "Be brief."}]
    assert json.loads(from_dict["gen_ai.output.messages"]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "In France."}], "finish_reason": "stop"}]
    assert from_dict["llm.input_messages.0.message.role"] == "system"
    assert from_dict["llm.output_messages.0.message.content"] == "In France."


def test_a_responses_object_and_its_dict_record_the_same_keys(spans: CapturedSpans) -> None:
    complete("Where is Paris?", result=Response.model_validate(RESPONSE))
    from_object = attrs(spans.one("complete"))
    spans.clear()
    complete("Where is Paris?", result=RESPONSE)
    from_dict = attrs(spans.one("complete"))
    for value in ("input.value", "output.value"):  # the result is an argument too: SDK objects dump more fields
        from_object.pop(value)
        from_dict.pop(value)
    assert from_object == from_dict
    assert from_dict["gen_ai.response.id"] == "resp_9" and from_dict["gen_ai.provider.name"] == "openai"
    assert json.loads(from_dict["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Where is Paris?"}]}]
    assert json.loads(from_dict["gen_ai.output.messages"]) == RESPONSE_OUTPUT
    assert list(from_dict["gen_ai.response.finish_reasons"]) == ["tool_call"]
    assert from_dict["gen_ai.usage.cache_read.input_tokens"] == 4
    assert from_dict["gen_ai.usage.reasoning.output_tokens"] == from_dict["llm.token_count.completion_details.reasoning"] == 5
    assert from_dict["llm.output_messages.0.message.tool_calls.0.tool_call.function.name"] == "lookup"


def _chunks() -> list[dict[str, Any]]:
    base = {"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini"}
    return [
        {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "In "}, "finish_reason": None}]},
        {**base, "choices": [{"index": 0, "delta": {"content": "France."}, "finish_reason": "stop"}]},
        {**base, "choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}},
    ]


def test_a_stream_of_chunk_objects_and_of_dicts_record_the_same_keys(spans: CapturedSpans) -> None:
    assert len(list(stream(QUESTION, [ChatCompletionChunk.model_validate(chunk) for chunk in _chunks()]))) == 3
    from_objects = attrs(spans.one("stream"))
    spans.clear()
    list(stream(QUESTION, _chunks()))
    from_dicts = attrs(spans.one("stream"))
    for value in ("input.value", "output.value"):
        from_objects.pop(value)
        from_dicts.pop(value)
    for timed in ("agent_tracing.stream.first_chunk_ms", "gen_ai.response.time_to_first_chunk"):
        assert isinstance(from_objects.pop(timed), float) and isinstance(from_dicts.pop(timed), float)
    assert from_objects == from_dicts
    assert from_dicts["gen_ai.request.stream"] is True and from_dicts["gen_ai.usage.output_tokens"] == 2
    assert from_dicts["llm.output_messages.0.message.content"] == "In France."


def test_a_stream_of_responses_events_records_its_output_messages(spans: CapturedSpans) -> None:
    events = [
        {"type": "response.output_text.delta", "item_id": "msg_1", "delta": "In "},
        {"type": "response.output_text.delta", "item_id": "msg_1", "delta": "France."},
        {"type": "response.output_item.done", "item": {"type": "message", "id": "msg_1", "role": "assistant",
                                                       "content": [{"type": "output_text", "text": "In France."}]}},
    ]
    list(stream("Where is Paris?", events))
    recorded = attrs(spans.one("stream"))
    assert json.loads(recorded["gen_ai.output.messages"]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "In France."}], "finish_reason": "stop"}]
    assert recorded["gen_ai.request.model"] == recorded["llm.model_name"] == "gpt-4o"


def test_a_stream_of_responses_sdk_events_records_the_final_response(spans: CapturedSpans) -> None:
    items = RESPONSE["output"]
    done = [ResponseOutputItemDoneEvent.model_validate({"type": "response.output_item.done", "item": item,
                                                        "output_index": index, "sequence_number": 2 + index})
            for index, item in enumerate(items)]
    events = [
        *done[:2],
        ResponseTextDeltaEvent(type="response.output_text.delta", item_id="msg_1", output_index=2, content_index=0,
                               delta="In France.", logprobs=[], sequence_number=1),
        done[2],
        ResponseCompletedEvent.model_validate({"type": "response.completed", "response": RESPONSE, "sequence_number": 9}),
    ]
    list(stream("Where is Paris?", events))
    recorded = attrs(spans.one("stream"))
    assert json.loads(recorded["gen_ai.output.messages"]) == RESPONSE_OUTPUT
    assert recorded["gen_ai.response.id"] == "resp_9" and recorded["gen_ai.provider.name"] == "openai"
    assert recorded["gen_ai.response.model"] == recorded["llm.model_name"] == "gpt-4.1-2025-04-14"
    assert recorded["gen_ai.usage.input_tokens"] == recorded["llm.token_count.prompt"] == 20
    assert recorded["gen_ai.usage.cache_read.input_tokens"] == 4


def test_messages_are_redacted_like_every_value(spans: CapturedSpans) -> None:
    spans.configure(redact={"values": [r"sk-[a-z0-9]+"]})
    leaked = [{"role": "user", "content": "my key is sk-abc123"}]
    complete(leaked, result={"choices": [{"message": {"role": "assistant", "content": "noted sk-abc123"}}]})
    recorded = attrs(spans.one("complete"))
    texts = [value for key, value in recorded.items() if "messages" in key]
    assert texts and all("sk-abc123" not in str(value) for value in texts)


def test_without_content_a_model_call_keeps_its_model_and_usage_only(spans: CapturedSpans) -> None:
    spans.configure(capture_content=False)
    complete(QUESTION, result=COMPLETION)
    recorded = attrs(spans.one("complete"))
    assert recorded["gen_ai.usage.output_tokens"] == 3 and recorded["llm.model_name"] == "gpt-4o-2024-08-06"
    assert not [key for key in recorded if "messages" in key or "instructions" in key or key.startswith(("input.", "output."))]


_scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=True), st.text(max_size=5))
_values = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                         st.dictionaries(st.sampled_from(
                                                             ["choices", "message", "content", "tool_calls", "function",
                                                              "arguments", "usage", "output", "type", "role", "id",
                                                              "model", "finish_reason", "prompt_tokens", "summary",
                                                              "call_id", "output_tokens", "delta", "status"]),
                                                             inner, max_size=5)), max_leaves=20)


@tracing.trace(span_type="AGENT")
def respond(request: Any, result: Any) -> Any:
    """An agent function answering whatever the test hands it."""
    return result


@tracing.trace(span_type="TOOL")
def use_tool(call_id: Any, argument: Any, result: Any) -> Any:
    """A tool returning whatever the test hands it."""
    return result


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(messages=_values, result=_values, chunks=st.lists(_values, max_size=4), stop=_values)
def test_hostile_completions_never_fail_the_call(spans: CapturedSpans, messages: Any, result: Any, chunks: list[Any],
                                                 stop: Any) -> None:
    assert complete(messages, result=result, stop=stop) is result
    assert list(stream(messages, chunks)) == chunks
    assert respond(messages, result) is result
    assert respond({"input": messages}, {"output": chunks}) == {"output": chunks}
    assert use_tool(stop, messages, result) is result
    assert tracing.error_counts() == {}
    assert {span.name for span in spans.all()} >= {"complete", "stream", "respond", "use_tool"}
    spans.clear()


class BaseAgent(tracing.ResponsesAgent):
    def predict(self, request: tracing.ResponsesAgentRequest) -> tracing.ResponsesAgentResponse:
        item = self.create_text_output_item("hello", "msg_1")
        return tracing.ResponsesAgentResponse.model_validate({"output": [item]})


class SupportAgent(BaseAgent):
    """Inherits predict: its span keeps the defining class's name but names the running agent."""


@tracing.trace_agent
class AsyncAgent:
    async def predict(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"output": [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "ok"}]}]}


class AsyncSupportAgent(AsyncAgent):
    pass


def test_an_agent_span_names_the_runtime_class(spans: CapturedSpans) -> None:
    SupportAgent().predict({"input": [{"role": "user", "content": "hi"}]})
    recorded = attrs(spans.one("BaseAgent.predict"))
    assert recorded["gen_ai.agent.name"] == "SupportAgent"
    assert json.loads(recorded["gen_ai.output.messages"]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "hello"}], "finish_reason": "stop"}]
    assert "gen_ai.request.stream" not in recorded
    spans.clear()
    asyncio.run(AsyncSupportAgent().predict({"input": "hi"}))
    recorded = attrs(spans.one("AsyncAgent.predict"))
    assert recorded["gen_ai.agent.name"] == "AsyncSupportAgent"
    assert json.loads(recorded["gen_ai.input.messages"]) == [{"role": "user", "parts": [{"type": "text", "content": "hi"}]}]
    assert recorded["llm.output_messages.0.message.content"] == "ok"


def test_set_tool_and_tool_spans_write_the_chosen_conventions_only(spans: CapturedSpans) -> None:
    @tracing.trace(span_type="TOOL")
    def lookup(q: str, call_id: str) -> dict[str, Any]:
        """Look something up."""
        return {"found": q}

    for conventions, present, absent in ((["genai"], "gen_ai.tool.name", "tool.name"),
                                         (["openinference"], "tool.name", "gen_ai.tool.name")):
        spans.configure(conventions=conventions)
        lookup("x", call_id="call_9")
        with tracing.start_span("manual", span_type="TOOL") as span:
            span.set_tool(name="manual", description="by hand", call_id="call_10")
        for name in ("lookup", "manual"):
            recorded = attrs(spans.one(name))
            assert present in recorded and absent not in recorded, (conventions, name, sorted(recorded))
        if conventions == ["genai"]:
            assert attrs(spans.one("lookup"))["gen_ai.tool.call.id"] == "call_9"
            assert json.loads(attrs(spans.one("lookup"))["gen_ai.tool.call.result"]) == {"found": "x"}
            assert attrs(spans.one("manual"))["gen_ai.tool.call.id"] == "call_10"
        else:
            assert not [key for key in attrs(spans.one("lookup")) if key.startswith("gen_ai.")]


def test_spans_opened_by_hand_read_their_recorded_inputs(spans: CapturedSpans) -> None:
    with tracing.start_span("by_hand_llm", span_type="LLM") as span:
        span.set_inputs(QUESTION)
        span.set_outputs(COMPLETION)
    with tracing.start_span("by_hand_agent", span_type="AGENT") as span:
        span.set_inputs({"input": [{"role": "user", "content": "hi"}]})
        span.set_outputs({"output": [{"type": "message", "role": "assistant", "content": [{"type": "output_text",
                                                                                          "text": "hello"}]}]})
    llm = attrs(spans.one("by_hand_llm"))
    assert llm["llm.input_messages.1.message.content"] == "Where is Paris?"
    assert llm["gen_ai.usage.output_tokens"] == 3 and llm["gen_ai.operation.name"] == "chat"
    agent = attrs(spans.one("by_hand_agent"))
    assert json.loads(agent["gen_ai.input.messages"]) == [{"role": "user", "parts": [{"type": "text", "content": "hi"}]}]
    assert agent["llm.output_messages.0.message.content"] == "hello"
    assert agent["gen_ai.operation.name"] == "invoke_agent" and agent["gen_ai.agent.name"] == "by_hand_agent"


def test_a_failing_tool_shows_its_call_id_and_arguments(spans: CapturedSpans) -> None:
    @tracing.trace(span_type="TOOL")
    def flaky(city: str, tool_call_id: str) -> str:
        """Fails."""
        raise RuntimeError("no weather today")

    @tracing.trace(span_type="TOOL", capture_inputs=False)
    def private(secret_city: str, tool_call_id: str) -> str:
        """Keeps its arguments to itself."""
        return "ok"

    try:
        flaky("Paris", tool_call_id="call_1")
    except RuntimeError:
        pass
    private("Paris", tool_call_id="call_2")
    with tracing.start_span("by_hand", span_type="TOOL") as span:
        span.set_inputs({"city": "Rome", "call_id": "call_3"})
        span.set_outputs("sunny")
    failed = attrs(spans.one("flaky"))
    assert failed["gen_ai.tool.call.id"] == "call_1" and json.loads(failed["gen_ai.tool.call.arguments"]) == {"city": "Paris"}
    assert "gen_ai.tool.call.result" not in failed
    kept = attrs(spans.one("private"))
    assert kept["gen_ai.tool.call.id"] == "call_2" and kept["gen_ai.tool.call.result"] == "ok"
    assert "gen_ai.tool.call.arguments" not in kept and "input.value" not in kept
    by_hand = attrs(spans.one("by_hand"))
    assert by_hand["gen_ai.tool.call.id"] == "call_3" and by_hand["gen_ai.tool.call.result"] == "sunny"
    assert json.loads(by_hand["gen_ai.tool.call.arguments"]) == {"city": "Rome"}
