"""ResponsesAgent and trace_agent: AGENT spans, aggregated streams, errors, cancellation, remote parents."""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pydantic
import pytest
from opentelemetry import propagate
from opentelemetry.trace import StatusCode

import tracing
from tests.agents.test_propagation import _BrokenPropagator
from tests.capture import CapturedSpans, inputs, output
from tracing._agent import ResponsesAgent, trace_agent
from tracing._errors import error_counts
from tracing._responses import (
    ResponsesAgentRequest,
    ResponsesAgentResponse,
    ResponsesAgentStreamEvent,
    create_text_delta,
    create_text_output_item,
)

REQUEST = {
    "input": [{"role": "user", "content": "tell me about tracing"}],
    "custom_inputs": {"client": "web"},
    "context": {"conversation_id": "conv-7", "user_id": "user-3"},
}
WORDS = ["Tracing ", "shows ", "what ", "agents ", "do."]


class WordAgent(ResponsesAgent):
    """Streams a fixed answer word by word; predict collects its own stream."""

    def predict(self, request: ResponsesAgentRequest) -> ResponsesAgentResponse:
        """Collect the done items of predict_stream."""
        items = [event.item for event in self.predict_stream(request) if event.type == "response.output_item.done"]
        return ResponsesAgentResponse(output=items, custom_outputs={"sources": ["doc-1"]})

    def predict_stream(self, request: ResponsesAgentRequest) -> Iterator[ResponsesAgentStreamEvent]:
        """Yield one delta per word, then the done item."""
        for word in WORDS:
            yield ResponsesAgentStreamEvent(**self.create_text_delta(word, "msg_1"))
        yield ResponsesAgentStreamEvent(
            type="response.output_item.done",
            item=self.create_text_output_item("".join(WORDS), "msg_1"),
            custom_outputs={"sources": ["doc-1"]},
        )


class FailingAgent(ResponsesAgent):
    """Streams two words, then fails."""

    error = RuntimeError("model went away")

    def predict_stream(self, request: ResponsesAgentRequest) -> Iterator[ResponsesAgentStreamEvent]:
        """Two deltas and an exception."""
        yield ResponsesAgentStreamEvent(**create_text_delta("Half ", "msg_1"))
        yield ResponsesAgentStreamEvent(**create_text_delta("an answer", "msg_1"))
        raise self.error


class InBandFailingAgent(FailingAgent):
    """The same failure, reported in-band."""

    stream_errors = "event"

    def predict_stream(self, request: ResponsesAgentRequest) -> Iterator[ResponsesAgentStreamEvent]:
        """Two deltas and an exception."""
        yield ResponsesAgentStreamEvent(**create_text_delta("Half ", "msg_1"))
        raise self.error


def test_predict_is_one_agent_span_with_request_context_and_custom_outputs(spans: CapturedSpans) -> None:
    response = WordAgent().predict(REQUEST)
    assert isinstance(response, ResponsesAgentResponse)
    span = spans.one("WordAgent.predict")
    assert span.parent is None
    attributes = dict(span.attributes)
    assert {key: attributes[key] for key in (
        "openinference.span.kind", "gen_ai.operation.name", "gen_ai.agent.name",
        "gen_ai.conversation.id", "session.id", "user.id",
    )} == {
        "openinference.span.kind": "AGENT",
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "WordAgent",
        "gen_ai.conversation.id": "conv-7",
        "session.id": "conv-7",
        "user.id": "user-3",
    }
    assert inputs(span) == {"request": {**REQUEST, "input": [{**REQUEST["input"][0], "type": "message"}]}}
    assert output(span) == {
        "output": [{"type": "message", **create_text_output_item("Tracing shows what agents do.", "msg_1")}],
        "custom_outputs": {"sources": ["doc-1"]},
        "object": "response",
    }


def test_predict_reusing_predict_stream_has_a_stream_child_with_the_aggregate(spans: CapturedSpans) -> None:
    WordAgent().predict(REQUEST)
    parent, child = spans.one("WordAgent.predict"), spans.one("WordAgent.predict_stream")
    assert child.parent is not None and child.parent.span_id == parent.context.span_id
    assert child.context.trace_id == parent.context.trace_id
    assert child.attributes["agent_tracing.stream.chunks"] == len(WORDS) + 1
    assert child.attributes["agent_tracing.stream.cancelled"] is False
    assert child.attributes["agent_tracing.stream.first_chunk_ms"] >= 0
    assert output(child) == {
        "output": [create_text_output_item("Tracing shows what agents do.", "msg_1")],
        "custom_outputs": {"sources": ["doc-1"]},
    }


def test_a_dict_request_is_validated_into_the_model(spans: CapturedSpans) -> None:
    seen: list[Any] = []

    class Recorder(ResponsesAgent):
        def predict(self, request: ResponsesAgentRequest) -> ResponsesAgentResponse:
            seen.append(request)
            return ResponsesAgentResponse(output=[])

    Recorder().predict(REQUEST)
    Recorder().predict(request=REQUEST)
    assert [type(request) for request in seen] == [ResponsesAgentRequest, ResponsesAgentRequest]
    assert seen[0].context.conversation_id == "conv-7"


def test_an_invalid_dict_request_raises_pydantic_validation_error_naming_the_field(spans: CapturedSpans) -> None:
    with pytest.raises(pydantic.ValidationError) as raised:
        WordAgent().predict({"messages": [{"role": "user", "content": "hi"}]})
    assert raised.value.errors()[0]["loc"] == ("input",)
    assert spans.all() == []


def test_agent_methods_keep_name_doc_and_signature() -> None:
    assert WordAgent.predict.__name__ == "predict"
    assert WordAgent.predict.__doc__ == "Collect the done items of predict_stream."
    assert str(inspect.signature(WordAgent.predict_stream)) == str(
        inspect.signature(WordAgent.predict_stream.__wrapped__.__wrapped__)
    )
    assert inspect.isgeneratorfunction(WordAgent.predict_stream)
    assert WordAgent.create_text_delta("x", "i") == create_text_delta("x", "i")


def test_an_abandoned_stream_is_exported_as_cancelled_with_the_partial_text(spans: CapturedSpans) -> None:
    stream = WordAgent().predict_stream(REQUEST)
    received = [next(stream) for _ in range(3)]
    assert [event.delta for event in received] == WORDS[:3]
    stream.close()
    span = spans.one("WordAgent.predict_stream")
    assert span.attributes["agent_tracing.stream.cancelled"] is True
    assert span.attributes["agent_tracing.stream.chunks"] == 3
    assert span.status.status_code is not StatusCode.ERROR
    assert output(span) == {"output": [create_text_output_item("Tracing shows what ", "msg_1")]}


def test_a_stream_dropped_without_close_is_cancelled_when_collected(spans: CapturedSpans) -> None:
    def consume_two() -> None:
        for index, _ in enumerate(WordAgent().predict_stream(REQUEST)):
            if index == 1:
                break

    consume_two()
    span = spans.one("WordAgent.predict_stream")
    assert span.attributes["agent_tracing.stream.cancelled"] is True
    assert output(span) == {"output": [create_text_output_item("Tracing shows ", "msg_1")]}


def test_a_failing_stream_ends_error_with_partial_output_and_the_same_exception(spans: CapturedSpans) -> None:
    received: list[Any] = []
    with pytest.raises(RuntimeError) as raised:
        for event in FailingAgent().predict_stream(REQUEST):
            received.append(event)
    assert raised.value is FailingAgent.error
    assert len(received) == 2
    span = spans.one("FailingAgent.predict_stream")
    assert span.status.status_code is StatusCode.ERROR
    assert [event.name for event in span.events] == ["exception"]
    assert span.events[0].attributes["exception.message"] == "model went away"
    assert output(span) == {"output": [create_text_output_item("Half an answer", "msg_1")]}


def test_stream_errors_event_ends_the_stream_with_an_error_event(spans: CapturedSpans) -> None:
    events = list(InBandFailingAgent().predict_stream(REQUEST))
    error = {"code": "server_error", "message": "RuntimeError: model went away"}
    assert events[-1].model_dump() == {"type": "error", "error": error, **error}
    assert len(events) == 2
    span = spans.one("InBandFailingAgent.predict_stream")
    assert span.status.status_code is StatusCode.ERROR
    assert [event.name for event in span.events] == ["exception"]
    assert span.events[0].attributes["exception.message"] == "model went away"
    assert output(span) == {"output": [create_text_output_item("Half ", "msg_1")]}


def test_stream_errors_event_as_a_decorator_argument(spans: CapturedSpans) -> None:
    @trace_agent(stream_errors="event")
    class Legacy:
        def predict_stream(self, question: str) -> Iterator[str]:
            yield "partial"
            raise ValueError("no more")

    events = list(Legacy().predict_stream("q"))
    assert events[0] == "partial"
    assert events[1].type == "error" and events[1].error["message"] == "ValueError: no more"
    assert spans.one("Legacy.predict_stream").status.status_code is StatusCode.ERROR


def test_stream_errors_rejects_unknown_modes() -> None:
    with pytest.raises(ValueError, match="stream_errors"):
        trace_agent(stream_errors="ignore")  # type: ignore[arg-type]


class _Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text")


def test_an_unprintable_error_still_ends_the_stream_with_an_error_event(spans: CapturedSpans) -> None:
    class Agent(ResponsesAgent):
        stream_errors = "event"

        def predict_stream(self, request: ResponsesAgentRequest) -> Iterator[Any]:
            yield create_text_delta("a", "m")
            raise _Unprintable()

    events = list(Agent().predict_stream(REQUEST))
    assert events[-1].error == {"code": "server_error", "message": "_Unprintable"}


def test_a_method_the_user_traced_already_is_not_traced_twice(spans: CapturedSpans) -> None:
    class Agent(ResponsesAgent):
        @tracing.trace(name="my-agent", span_type="AGENT")
        def predict(self, request: ResponsesAgentRequest) -> ResponsesAgentResponse:
            return ResponsesAgentResponse(output=[])

    Agent().predict(REQUEST)
    assert [span.name for span in spans.all()] == ["my-agent"]


def test_subclasses_are_traced_once_per_definition(spans: CapturedSpans) -> None:
    class Child(WordAgent):
        pass

    Child().predict(REQUEST)
    assert sorted(span.name for span in spans.all()) == ["WordAgent.predict", "WordAgent.predict_stream"]


def test_trace_agent_traces_any_class_and_extra_methods(spans: CapturedSpans) -> None:
    @trace_agent(methods=["run"])
    class Plain:
        def predict(self, question: dict[str, Any]) -> str:
            return f"answer to {question['q']}"

        def run(self, question: str) -> str:
            return self.predict({"q": question})

    assert Plain().run("why") == "answer to why"
    run, predict = spans.one("Plain.run"), spans.one("Plain.predict")
    assert predict.parent is not None and predict.parent.span_id == run.context.span_id
    assert inputs(predict) == {"question": {"q": "why"}}
    assert predict.attributes["output.value"] == "answer to why"
    assert predict.attributes["gen_ai.agent.name"] == "Plain"


def test_trace_agent_validates_requests_annotated_with_the_request_model(spans: CapturedSpans) -> None:
    @trace_agent
    class Annotated:
        def predict(self, request: ResponsesAgentRequest) -> str:
            return type(request).__name__

    assert Annotated().predict(REQUEST) == "ResponsesAgentRequest"
    assert spans.one("Annotated.predict").attributes["session.id"] == "conv-7"


def _cc_chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {"id": "cc-1", "model": "fake", "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}


def test_a_chat_completions_stream_is_aggregated_into_one_completion(spans: CapturedSpans) -> None:
    @trace_agent
    class LegacyChat:
        def predict_stream(self, messages: list[dict[str, str]]) -> Iterator[dict[str, Any]]:
            yield _cc_chunk({"role": "assistant", "content": "Let me "})
            yield _cc_chunk({"content": "check."})
            yield _cc_chunk({"tool_calls": [{"index": 0, "id": "call_1", "function": {"name": "lookup", "arguments": '{"k"'}}]})
            yield _cc_chunk({"tool_calls": [{"index": 0, "function": {"arguments": ': 1}'}}]})
            yield _cc_chunk({}, finish_reason="tool_calls")

    list(LegacyChat().predict_stream([{"role": "user", "content": "hi"}]))
    assert output(spans.one("LegacyChat.predict_stream")) == {
        "object": "chat.completion",
        "id": "cc-1",
        "model": "fake",
        "choices": [{
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Let me check.",
                "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"k": 1}'}}],
            },
            "finish_reason": "tool_calls",
        }],
    }


def test_async_predict_and_predict_stream(spans: CapturedSpans) -> None:
    class AsyncAgent(ResponsesAgent):
        async def predict(self, request: ResponsesAgentRequest) -> ResponsesAgentResponse:
            items = [event["item"] async for event in self.predict_stream(request) if event["type"] == "response.output_item.done"]
            return ResponsesAgentResponse(output=items)

        async def predict_stream(self, request: ResponsesAgentRequest) -> AsyncIterator[dict[str, Any]]:
            for word in WORDS[:2]:
                await asyncio.sleep(0)
                yield create_text_delta(word, "m")
            yield {"type": "response.output_item.done", "item": create_text_output_item("Tracing shows ", "m")}

    response = asyncio.run(AsyncAgent().predict(REQUEST))
    assert response.output_text == "Tracing shows "
    parent, child = spans.one("AsyncAgent.predict"), spans.one("AsyncAgent.predict_stream")
    assert child.parent is not None and child.parent.span_id == parent.context.span_id
    assert output(child) == {"output": [create_text_output_item("Tracing shows ", "m")]}
    assert parent.attributes["user.id"] == "user-3"


def test_async_stream_errors_event(spans: CapturedSpans) -> None:
    class AsyncFailing(ResponsesAgent):
        stream_errors = "event"

        async def predict_stream(self, request: ResponsesAgentRequest) -> AsyncIterator[dict[str, Any]]:
            yield create_text_delta("a", "m")
            raise KeyError("gone")

    async def collect() -> list[Any]:
        return [event async for event in AsyncFailing().predict_stream(REQUEST)]

    events = asyncio.run(collect())
    assert events[-1].error == {"code": "server_error", "message": "KeyError: 'gone'"}
    assert spans.one("AsyncFailing.predict_stream").status.status_code is StatusCode.ERROR


def _with_traceparent(traceparent: str) -> dict[str, Any]:
    return {**REQUEST, "custom_inputs": {"traceparent": traceparent}}


REMOTE_TRACE = "0af7651916cd43dd8448eb211c80319c"
REMOTE_SPAN = "b7ad6b7169203331"


def test_a_traceparent_in_custom_inputs_makes_the_agent_a_child_of_the_remote_span(spans: CapturedSpans) -> None:
    WordAgent().predict(_with_traceparent(f"00-{REMOTE_TRACE}-{REMOTE_SPAN}-01"))
    parent, child = spans.one("WordAgent.predict"), spans.one("WordAgent.predict_stream")
    assert f"{parent.context.trace_id:032x}" == REMOTE_TRACE
    assert parent.parent is not None and f"{parent.parent.span_id:016x}" == REMOTE_SPAN and parent.parent.is_remote
    assert child.context.trace_id == parent.context.trace_id


def test_a_traceparent_continues_streams_and_coroutines_too(spans: CapturedSpans) -> None:
    class AsyncAgent(ResponsesAgent):
        async def predict(self, request: ResponsesAgentRequest) -> ResponsesAgentResponse:
            return ResponsesAgentResponse(output=[])

    list(WordAgent().predict_stream(_with_traceparent(f"00-{REMOTE_TRACE}-{REMOTE_SPAN}-01")))
    asyncio.run(AsyncAgent().predict(_with_traceparent(f"00-{REMOTE_TRACE}-{REMOTE_SPAN}-01")))
    for name in ("WordAgent.predict_stream", "AsyncAgent.predict"):
        span = spans.one(name)
        assert f"{span.context.trace_id:032x}" == REMOTE_TRACE
        assert f"{span.parent.span_id:016x}" == REMOTE_SPAN  # type: ignore[union-attr]


def test_a_local_parent_wins_over_a_traceparent_in_custom_inputs(spans: CapturedSpans) -> None:
    with tracing.start_span("server") as server:
        WordAgent().predict(_with_traceparent(f"00-{REMOTE_TRACE}-{REMOTE_SPAN}-01"))
    predict = spans.one("WordAgent.predict")
    assert predict.parent is not None and predict.parent.span_id == spans.one("server").context.span_id
    assert server is not None


@pytest.mark.provokes_failures("trace context extraction")
def test_a_broken_propagator_leaves_the_agent_call_untouched(spans: CapturedSpans) -> None:
    previous = propagate.get_global_textmap()
    propagate.set_global_textmap(_BrokenPropagator())
    try:
        before = error_counts().get("trace context extraction", 0)
        response = WordAgent().predict(_with_traceparent(f"00-{REMOTE_TRACE}-{REMOTE_SPAN}-01"))
    finally:
        propagate.set_global_textmap(previous)
    assert response.output_text == "Tracing shows what agents do."
    assert error_counts()["trace context extraction"] == before + 1
    assert spans.one("WordAgent.predict").parent is None


def test_concurrent_requests_on_one_instance_stay_in_their_own_traces(spans: CapturedSpans) -> None:
    agent = WordAgent()
    barrier = threading.Barrier(2)
    results: dict[str, str] = {}

    def serve(conversation: str) -> None:
        stream = agent.predict_stream({**REQUEST, "context": {"conversation_id": conversation}})
        text = []
        for event in stream:
            if event.type == "response.output_text.delta":
                barrier.wait(timeout=10)
                text.append(event.delta)
        results[conversation] = "".join(text)

    threads = [threading.Thread(target=serve, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert results == {"a": "".join(WORDS), "b": "".join(WORDS)}
    streams = [span for span in spans.all() if span.name == "WordAgent.predict_stream"]
    assert sorted(span.attributes["session.id"] for span in streams) == ["a", "b"]
    assert streams[0].context.trace_id != streams[1].context.trace_id
    assert all(span.parent is None for span in streams)


def test_an_abandoned_async_stream_with_stream_errors_event_is_cancelled(spans: CapturedSpans) -> None:
    class AsyncAgent(ResponsesAgent):
        stream_errors = "event"

        async def predict_stream(self, request: ResponsesAgentRequest) -> AsyncIterator[dict[str, Any]]:
            for word in WORDS:
                yield create_text_delta(word, "m")

    async def take_two() -> None:
        stream = AsyncAgent().predict_stream(REQUEST)
        await stream.__anext__()
        await stream.__anext__()
        await stream.aclose()

    asyncio.run(take_two())
    span = spans.one("AsyncAgent.predict_stream")
    assert span.attributes["agent_tracing.stream.cancelled"] is True
    assert output(span) == {"output": [create_text_output_item("Tracing shows ", "m")]}


def test_a_redaction_callback_sees_the_conversation_and_user_of_the_request(spans: CapturedSpans) -> None:
    """The agent's attributes read from the request go through the redaction callback like any attribute."""
    def callback(key: str, value: Any) -> Any:
        return "[HIDDEN]" if key in ("user.id", "session.id") else value

    spans.configure(redact={"callback": callback})
    WordAgent().predict(REQUEST)
    attributes = dict(spans.one("WordAgent.predict").attributes)
    assert attributes["user.id"] == attributes["session.id"] == "[HIDDEN]"
    assert attributes["gen_ai.conversation.id"] == "conv-7" and attributes["gen_ai.agent.name"] == "WordAgent"
