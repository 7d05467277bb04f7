"""What code written for MLflow's and OpenInference's tracing APIs expects of ours (issue 13: peer API parity)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import pytest
from opentelemetry import context as otel_context
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

import tracing
from tests.capture import CapturedSpans, attrs, inputs
from tracing._binding import binding_target
from tracing._decorator import SpanSpec
from tracing._tools import tool_parameters, tool_spec


class Calculator:
    def square(self, t: int) -> int:
        return t * t

    @classmethod
    def make(cls, a: int, b: int = 2) -> int:
        return a + b


# ---------------------------------------------------------------- inputs by name


def test_a_bound_method_traced_at_call_time_records_its_arguments_by_name(spans: CapturedSpans) -> None:
    assert tracing.trace(Calculator().square)(8) == 64
    assert inputs(spans.one("square")) == {"t": 8}


def test_a_bound_classmethod_records_its_arguments_by_name(spans: CapturedSpans) -> None:
    assert tracing.trace(Calculator.make)(1) == 3
    assert tracing.trace(Calculator().make)(1, b=5) == 6
    assert [inputs(span) for span in spans.all()] == [{"a": 1, "b": 2}, {"a": 1, "b": 5}]


def test_binding_target_is_the_function_under_a_bound_method() -> None:
    assert binding_target(Calculator().square) is Calculator.square
    assert binding_target(Calculator.make) is Calculator.__dict__["make"].__func__
    assert binding_target(len) is len


# ---------------------------------------------------------------- status and exceptions


def test_record_exception_takes_a_message_and_sets_error(spans: CapturedSpans) -> None:
    with tracing.start_span("step") as span:
        span.record_exception("the index is unavailable")
    finished = spans.one("step")
    assert finished.status.status_code is StatusCode.ERROR
    event = finished.events[0]
    assert event.name == "exception"
    assert event.attributes["exception.message"] == "the index is unavailable"  # type: ignore[index]
    assert event.attributes["exception.type"] == "Exception"  # type: ignore[index]


def test_record_exception_with_an_exception_sets_error(spans: CapturedSpans) -> None:
    with tracing.start_span("step") as span:
        span.record_exception(KeyError("k"))
    assert spans.one("step").status.status_code is StatusCode.ERROR


@pytest.mark.parametrize("status", ["OK", "ok", StatusCode.OK, Status(StatusCode.OK)])
def test_set_status_ok_in_any_spelling(spans: CapturedSpans, status: Any) -> None:
    with tracing.start_span("step") as span:
        span.set_status(status)
    assert spans.one("step").status.status_code is StatusCode.OK


def test_set_status_error_with_a_description(spans: CapturedSpans) -> None:
    with tracing.start_span("step") as span:
        span.set_status("ERROR", "index unavailable")
    status = spans.one("step").status
    assert (status.status_code, status.description) == (StatusCode.ERROR, "index unavailable")


@pytest.mark.provokes_failures("setting a status")
def test_an_unknown_status_is_counted_not_raised(spans: CapturedSpans) -> None:
    with tracing.start_span("step") as span:
        span.set_status("MAYBE")
    assert spans.one("step").status.status_code is StatusCode.UNSET
    assert tracing.error_counts().get("setting a status") == 1


# ---------------------------------------------------------------- tools


def test_set_tool_describes_the_tool_in_both_conventions(spans: CapturedSpans) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    with tracing.start_span("weather", span_type="TOOL") as span:
        span.set_tool(name="weather", description="Current weather of a city.", parameters=schema, call_id="call_7")
    attributes = attrs(spans.one("weather"))
    assert attributes["tool.name"] == attributes["gen_ai.tool.name"] == "weather"
    assert attributes["tool.description"] == attributes["gen_ai.tool.description"] == "Current weather of a city."
    assert json.loads(attributes["tool.parameters"]) == schema
    assert attributes["gen_ai.tool.call.id"] == "call_7"
    assert attributes["gen_ai.operation.name"] == "execute_tool"


def test_a_tool_block_is_named_as_its_tool(spans: CapturedSpans) -> None:
    with tracing.start_span("lookup", span_type="TOOL"):
        pass
    attributes = attrs(spans.one("lookup"))
    assert attributes["tool.name"] == attributes["gen_ai.tool.name"] == "lookup"
    assert attributes["gen_ai.operation.name"] == "execute_tool"


def weather(city: Annotated[str, "the city's name"], days: int = 1, *rest: Any, units: str = "metric", **extra: Any) -> str:
    """Forecast of a city.

    Returns text.
    """
    return "sunny"


def test_tool_parameters_are_the_json_schema_of_the_signature() -> None:
    schema = tool_parameters(weather, "weather", "Forecast of a city.")
    assert schema["title"] == "weather" and schema["description"] == "Forecast of a city."
    assert schema["required"] == ["city"]
    assert schema["properties"]["city"] == {"title": "City", "type": "string", "description": "the city's name"}
    assert schema["properties"]["days"] == {"default": 1, "title": "Days", "type": "integer"}
    assert set(schema["properties"]) == {"city", "days", "units"}
    assert tool_parameters(Calculator.square)["properties"] == {"t": {"title": "T", "type": "integer"}}


def test_tool_spec_gives_a_tool_its_name_docstring_and_schema_once() -> None:
    spec = tool_spec(SpanSpec(span_type="TOOL"), weather)
    assert spec.attributes["tool.name"] == "weather"
    assert spec.attributes["tool.description"] == "Forecast of a city.\n\nReturns text."
    assert spec.attributes["tool.parameters"]["required"] == ["city"]
    assert tool_spec(SpanSpec(span_type="CHAIN"), weather) == SpanSpec(span_type="CHAIN")
    given = tool_spec(SpanSpec(span_type="TOOL", attributes={"tool.name": "mine"}), weather, "d", {"type": "object"})
    assert (given.attributes["tool.name"], given.attributes["tool.description"], given.attributes["tool.parameters"]) == (
        "mine", "d", {"type": "object"})


def test_a_traced_tool_carries_its_description_and_parameters(spans: CapturedSpans) -> None:
    tracing.trace(span_type="TOOL")(weather)("Paris")
    attributes = attrs(spans.one("weather"))
    assert attributes["tool.name"] == "weather"
    assert attributes["tool.description"].startswith("Forecast of a city.")
    assert json.loads(attributes["tool.parameters"])["required"] == ["city"]

    tracing.trace(span_type="TOOL", description="Weather.", parameters={"type": "object"})(weather)("Rome")  # type: ignore[call-overload]
    last = spans.all()[-1]
    assert (attrs(last)["tool.description"], json.loads(attrs(last)["tool.parameters"])) == ("Weather.", {"type": "object"})


# ---------------------------------------------------------------- context helpers


def test_using_metadata_tags_and_prompt_template(spans: CapturedSpans) -> None:
    with tracing.using_metadata({"tenant": "acme", "api_key": "sk-1"}), tracing.using_tags(["beta", "eu"]), \
            tracing.using_prompt_template(template="Answer {q}", variables={"q": "why?"}, version="v3"):
        with tracing.start_span("step"):
            pass
    attributes = attrs(spans.one("step"))
    assert json.loads(attributes["metadata"]) == {"tenant": "acme", "api_key": "[REDACTED]"}
    assert list(attributes["tag.tags"]) == ["beta", "eu"]
    assert attributes["llm.prompt_template.template"] == "Answer {q}"
    assert attributes["llm.prompt_template.version"] == "v3"
    assert json.loads(attributes["llm.prompt_template.variables"]) == {"q": "why?"}


def test_using_attributes_prompt_template_goes_to_the_prompt_keys_not_metadata(spans: CapturedSpans) -> None:
    with tracing.using_attributes(prompt_template="Hi {name}", prompt_template_variables={"name": "Ada"}):
        with tracing.start_span("step"):
            pass
    attributes = attrs(spans.one("step"))
    assert "metadata" not in attributes
    assert attributes["llm.prompt_template.template"] == "Hi {name}"


def test_context_values_are_in_the_opentelemetry_context_where_openinference_reads_them() -> None:
    """OpenInference's instrumentors call get_value("session.id") etc. on the OpenTelemetry context."""
    with tracing.using_session("s-1"), tracing.using_user("u-1"), tracing.using_metadata({"password": "p", "k": 1}), \
            tracing.using_tags(["t"]), tracing.using_prompt_template(template="T", version="1"):
        assert otel_context.get_value("session.id") == "s-1"
        assert otel_context.get_value("user.id") == "u-1"
        assert json.loads(otel_context.get_value("metadata")) == {"password": "[REDACTED]", "k": 1}  # type: ignore[arg-type]
        assert list(otel_context.get_value("tag.tags")) == ["t"]  # type: ignore[call-overload]
        assert otel_context.get_value("llm.prompt_template.template") == "T"
        assert otel_context.get_value("llm.prompt_template.version") == "1"
    assert otel_context.get_value("session.id") is None


# ---------------------------------------------------------------- span processors that fail (SPEC 3.2)


class FailingProcessor(SpanProcessor):
    """A span processor that raises in on_start or on_end."""

    def __init__(self, where: str) -> None:
        self.where = where

    def on_start(self, span: Any, parent_context: otel_context.Context | None = None) -> None:
        if self.where == "on_start":
            raise RuntimeError("processor failed in on_start")

    def on_end(self, span: ReadableSpan) -> None:
        if self.where == "on_end":
            raise RuntimeError("processor failed in on_end")


@tracing.trace
def plain(x: int) -> int:
    return x + 1


@tracing.trace
async def coroutine(x: int) -> int:
    return x + 1


@tracing.trace
def generator(x: int) -> Iterator[int]:
    yield x + 1


@tracing.trace
async def async_generator(x: int) -> AsyncIterator[int]:
    yield x + 1


@tracing.trace
def returned_stream(x: int) -> Iterator[int]:
    return map(lambda value: value + 1, [x])


async def _drain(stream: AsyncIterator[int]) -> list[int]:
    return [item async for item in stream]


class StreamingAgent(tracing.ResponsesAgent):
    def predict_stream(self, request: tracing.ResponsesAgentRequest) -> Iterator[tracing.ResponsesAgentStreamEvent]:
        yield tracing.ResponsesAgentStreamEvent(**self.create_text_delta("2", "m1"))


def _start_span() -> Any:
    with tracing.start_span("block") as span:
        span.set_outputs(2)
    return 2


KINDS: dict[str, Any] = {
    "function": lambda: plain(1),
    "coroutine": lambda: asyncio.run(coroutine(1)),
    "generator": lambda: next(iter(list(generator(1)))),
    "async generator": lambda: asyncio.run(_drain(async_generator(1)))[0],
    "returned stream": lambda: list(returned_stream(1))[0],
    "start_span": _start_span,
    "agent": lambda: int(list(StreamingAgent().predict_stream({"input": [{"role": "user", "content": "x"}]}))[0].delta),
}
CASES = [(where, kind) for where in ("on_start", "on_end") for kind in KINDS]


@pytest.mark.provokes_failures
@pytest.mark.parametrize(("where", "kind"), CASES)
def test_a_span_processor_failing_never_reaches_the_caller(spans: CapturedSpans, where: str, kind: str) -> None:
    tracing.configure(service_name="tests", exporters=[InMemorySpanExporter(), FailingProcessor(where)])
    assert KINDS[kind]() == 2
