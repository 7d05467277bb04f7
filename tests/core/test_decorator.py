"""@trace on every kind of callable: the traced code behaves exactly as without it (SPEC 3.1, 3.5)."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect

import pytest
from opentelemetry.trace import StatusCode

import tracing
from tests.capture import attrs, inputs, output


def test_function_inputs_outputs_and_kind(spans):
    @tracing.trace(span_type=tracing.SpanType.TOOL)
    def add(a: int, b: int = 2, *, scale: int = 1) -> int:
        """Add two numbers."""
        return (a + b) * scale

    assert add(1) == 3
    span = spans.one("add")
    assert inputs(span) == {"a": 1, "b": 2, "scale": 1}
    assert output(span) == 3
    assert attrs(span)["openinference.span.kind"] == "TOOL"
    assert attrs(span)["input.mime_type"] == "application/json"


def test_introspection_is_unchanged():
    def plain(a: int, b: str = "x", *args: int, c: float = 1.0, **kw: str) -> str:
        """Docstring."""
        return b

    traced = tracing.trace(plain)
    assert inspect.signature(traced) == inspect.signature(plain)
    assert traced.__name__ == "plain"
    assert traced.__doc__ == "Docstring."
    assert traced.__wrapped__ is plain
    assert inspect.isgeneratorfunction(tracing.trace(lambda: (yield))) is True
    assert inspect.iscoroutinefunction(tracing.trace(_coroutine)) is True


async def _coroutine() -> int:
    return 1


def test_descriptors_behave(spans):
    class Thing:
        factor = 10

        @tracing.trace
        def method(self, x):
            return x * self.factor

        @tracing.trace
        @classmethod
        def klass(cls, x):
            return x * cls.factor

        @classmethod
        @tracing.trace
        def klass2(cls, x):
            return x + cls.factor

        @tracing.trace
        @staticmethod
        def static(x):
            return -x

        @staticmethod
        @tracing.trace
        def static2(x):
            return x

    thing = Thing()
    assert thing.method(2) == 20
    assert Thing.method(thing, 3) == 30
    assert Thing.klass(2) == 20 and thing.klass(2) == 20
    assert Thing.klass2(1) == 11
    assert Thing.static(4) == -4 and thing.static(4) == -4
    assert Thing.static2(5) == 5
    for span in spans.all():
        assert "self" not in inputs(span) and "cls" not in inputs(span)
    assert [inputs(s) for s in spans.all() if s.name == "method"] == [{"x": 2}, {"x": 3}]


def test_exception_is_the_same_object_and_span_is_error(spans):
    error = ValueError("boom")

    @tracing.trace
    def fails():
        raise error

    with pytest.raises(ValueError) as caught:
        fails()
    assert caught.value is error
    assert caught.value.__traceback__ is not None
    assert "fails" in [frame.name for frame in __import__("traceback").extract_tb(caught.value.__traceback__)]
    span = spans.one("fails")
    assert span.status.status_code is StatusCode.ERROR
    assert span.events[0].name == "exception"
    assert span.events[0].attributes["exception.message"] == "boom"


def test_bare_and_parametrised_forms_and_name(spans):
    @tracing.trace(name="custom", attributes={"team": "search"})
    def f():
        return "text"

    assert f() == "text"
    span = spans.one("custom")
    assert attrs(span)["team"] == "search"
    assert attrs(span)["output.value"] == "text"
    assert attrs(span)["output.mime_type"] == "text/plain"


def test_nested_calls_share_a_trace(spans):
    @tracing.trace
    def inner(x):
        return x

    @tracing.trace(span_type="AGENT")
    def outer(x):
        return inner(x) + 1

    outer(1)
    parent, child = spans.one("outer"), spans.one("inner")
    assert child.parent.span_id == parent.context.span_id
    assert child.context.trace_id == parent.context.trace_id
    assert attrs(parent)["gen_ai.operation.name"] == "invoke_agent"
    assert attrs(parent)["gen_ai.agent.name"] == "outer"


def test_span_types_without_openinference_kind(spans):
    @tracing.trace(span_type="PARSER")
    def parse():
        return 1

    @tracing.trace(span_type="chat_model")
    def chat():
        return 1

    parse(), chat()
    assert attrs(spans.one("parse"))["openinference.span.kind"] == "CHAIN"
    assert attrs(spans.one("parse"))["agent_tracing.span_type"] == "PARSER"
    assert attrs(spans.one("chat"))["openinference.span.kind"] == "LLM"
    assert attrs(spans.one("chat"))["agent_tracing.span_type"] == "CHAT_MODEL"


def test_serialization_of_common_values(spans):
    @dataclasses.dataclass
    class Point:
        x: int
        y: int

    @tracing.trace
    def take(point, tags, blob, when, model):
        return None

    import datetime

    import pydantic

    class Model(pydantic.BaseModel):
        name: str

    take(Point(1, 2), {"b", "a"}, b"raw", datetime.datetime(2024, 1, 2, 3, 4, 5), Model(name="m"))
    span = spans.one("take")
    assert inputs(span) == {
        "point": {"x": 1, "y": 2},
        "tags": ["a", "b"],
        "blob": "raw",
        "when": "2024-01-02T03:04:05",
        "model": {"name": "m"},
    }
    assert "output.value" not in attrs(span)


def test_truncation_has_a_visible_marker(spans):
    spans.configure(max_attribute_length=300)

    @tracing.trace
    def echo(text):
        return text

    echo("y" * 1000)
    span = spans.one("echo")
    assert attrs(span)["output.value"] == "y" * 300 + "...[truncated 700 chars]"
    assert attrs(span)["input.value"].endswith("chars]")


def test_capture_flags(spans):
    @tracing.trace(capture_inputs=False, capture_outputs=False)
    def quiet(secret_plan):
        return "result"

    assert quiet("x") == "result"
    span = spans.one("quiet")
    assert "input.value" not in attrs(span) and "output.value" not in attrs(span)


def test_start_span_block(spans):
    with tracing.start_span("block", span_type="RETRIEVER", inputs="what is x?", attributes={"k": [1, 2]}) as span:
        span.set_attribute("custom", {"nested": True})
        assert tracing.get_current_span().span_id == span.span_id
    recorded = spans.one("block")
    assert attrs(recorded)["input.value"] == "what is x?"
    assert attrs(recorded)["input.mime_type"] == "text/plain"
    assert attrs(recorded)["k"] == (1, 2)
    assert attrs(recorded)["custom"] == '{"nested": true}'


def test_start_span_records_exception_and_reraises(spans):
    with pytest.raises(KeyError):
        with tracing.start_span("broken"):
            raise KeyError("k")
    assert spans.one("broken").status.status_code is StatusCode.ERROR


def test_coroutine(spans):
    @tracing.trace
    async def double(x):
        await asyncio.sleep(0)
        return x * 2

    assert asyncio.run(double(4)) == 8
    span = spans.one("double")
    assert inputs(span) == {"x": 4} and output(span) == 8


def test_coroutine_exception(spans):
    error = RuntimeError("async boom")

    @tracing.trace
    async def fails():
        raise error

    with pytest.raises(RuntimeError) as caught:
        asyncio.run(fails())
    assert caught.value is error
    assert spans.one("fails").status.status_code is StatusCode.ERROR


def test_bad_arguments_raise_like_the_function(spans):
    @tracing.trace
    def needs(a, b):
        return a

    with pytest.raises(TypeError):
        needs(1)


def test_trace_refuses_a_class():
    with pytest.raises(TypeError, match="trace_agent"):
        tracing.trace(type("Agent", (), {}))


def test_numpy_like_values_use_tolist(spans):
    class Array:
        def __init__(self, values):
            self.values = values

        def tolist(self):
            return list(self.values)

    @tracing.trace
    def embed(text):
        return Array([0.5, 0.25])

    embed("hi")
    assert output(spans.one("embed")) == [0.5, 0.25]


def test_suppressed_and_unsampled_streams_pass_through(spans):
    @tracing.trace
    def letters():
        yield "a"
        yield "b"
        return "end"

    with tracing.suppress_tracing():
        assert list(letters()) == ["a", "b"]
    assert spans.all() == []
    spans.configure(sample_ratio=0.0)
    gen = letters()
    assert next(gen) == "a" and next(gen) == "b"
    with pytest.raises(StopIteration) as stop:
        next(gen)
    assert stop.value.value == "end"
    assert spans.all() == []


def test_spans_recorded_after_unrecorded_ones_still_get_their_inputs(spans):
    """A traced callable starts its span with its input attributes when the one before was recorded, and sets them
    afterwards when it was not: under head sampling both happen, and every recorded span has them."""
    spans.configure(sample_ratio=0.5)

    @tracing.trace(span_type="TOOL")
    def lookup(tool_call_id: str, key: str) -> str:
        return key.upper()

    @tracing.trace
    def plain(question: str) -> str:
        return question[::-1]

    for index in range(200):
        lookup(f"call-{index}", f"k{index}")
        plain(f"q{index}")
    found = spans.all()
    assert 0 < len(found) < 400
    for span in found:
        index = inputs(span).get("key", inputs(span).get("question"))[1:]
        if span.name == "lookup":
            assert inputs(span) == {"tool_call_id": f"call-{index}", "key": f"k{index}"}
            assert attrs(span)["gen_ai.tool.call.id"] == f"call-{index}"
        else:
            assert inputs(span) == {"question": f"q{index}"} and output(span) == f"q{index}"[::-1]
