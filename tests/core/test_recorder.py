"""The recorder: every way a value reaches a span is redacted, coerced, cut and kept valid UTF-8 (SPEC 3.5, 3.6, 3.9)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import tracing
from exporters.cli import main as cli
from tests.capture import CapturedSpans, attrs, inputs
from tests.servers.oteltap import OtelTap, attributes_of
from tracing import keys

SECRET = "hunter2-secret-value"
TOKEN = "sk-" + "A" * 24
REDACTED = "[REDACTED]"


def _no_secret(span: Any) -> None:
    """Nothing of the span (attributes, events, status) holds the secret."""
    texts = [json.dumps(dict(span.attributes or {}), default=str), span.status.description or ""]
    texts += [json.dumps(dict(event.attributes or {}), default=str) for event in span.events]
    assert not any(SECRET in text or TOKEN in text for text in texts), texts


def test_set_attribute_redacts_a_secret_key(spans: CapturedSpans) -> None:
    with tracing.start_span("call") as span:
        span.set_attribute("api_key", SECRET)
        span.set_attribute("model", "small")
    found = attrs(spans.one("call"))
    assert found["api_key"] == REDACTED and found["model"] == "small"


def test_set_attributes_redacts_secret_keys_at_any_depth(spans: CapturedSpans) -> None:
    with tracing.start_span("call") as span:
        span.set_attributes({"password": SECRET, "request": {"headers": {"Authorization": SECRET}, "n": 1}})
    found = attrs(spans.one("call"))
    assert found["password"] == REDACTED
    assert json.loads(found["request"]) == {"headers": {"Authorization": REDACTED}, "n": 1}
    _no_secret(spans.one("call"))


def test_static_attributes_of_trace_are_redacted(spans: CapturedSpans) -> None:
    @tracing.trace(attributes={"db_password": SECRET, "region": "eu"})
    def lookup() -> int:
        return 1

    assert lookup() == 1
    found = attrs(spans.one("lookup"))
    assert found["db_password"] == REDACTED and found["region"] == "eu"


def test_start_span_attributes_are_redacted(spans: CapturedSpans) -> None:
    with tracing.start_span("call", attributes={"client_secret": SECRET, "retries": 3}):
        pass
    found = attrs(spans.one("call"))
    assert found["client_secret"] == REDACTED and found["retries"] == 3


def test_event_attributes_are_redacted(spans: CapturedSpans) -> None:
    with tracing.start_span("call") as span:
        span.add_event("login", {"user": "ada", "session_token": SECRET})
    (event,) = spans.one("call").events
    assert event.name == "login" and dict(event.attributes or {}) == {"user": "ada", "session_token": REDACTED}


def test_using_attributes_metadata_is_redacted(spans: CapturedSpans) -> None:
    @tracing.trace
    def handle() -> None:
        pass

    with tracing.using_attributes(metadata={"api_key": SECRET, "tenant": "acme"}, session_id="s-1"):
        handle()
    found = attrs(spans.one("handle"))
    assert json.loads(found[keys.METADATA]) == {"api_key": REDACTED, "tenant": "acme"}
    assert found[keys.SESSION_ID] == "s-1"


def test_agent_custom_inputs_are_redacted(spans: CapturedSpans) -> None:
    class Agent(tracing.ResponsesAgent):
        def predict(self, request: tracing.ResponsesAgentRequest) -> tracing.ResponsesAgentResponse:
            return tracing.ResponsesAgentResponse(output=[self.create_text_output_item("ok", "m1")])

    Agent().predict({"input": [{"role": "user", "content": "hi"}], "custom_inputs": {"api_key": SECRET, "client": "web"}})
    span = spans.one("Agent.predict")
    assert inputs(span)["request"]["custom_inputs"] == {"api_key": REDACTED, "client": "web"}
    _no_secret(span)


def test_value_patterns_reach_exception_messages_tracebacks_and_status(spans: CapturedSpans) -> None:
    spans.configure(redact={"values": [r"sk-[A-Za-z0-9]{20,}"]})

    @tracing.trace
    def call_model(prompt: str) -> None:
        raise PermissionError(f"key {TOKEN} was refused")

    with pytest.raises(PermissionError, match=TOKEN):
        call_model("hello")
    with pytest.raises(ValueError), tracing.start_span("block") as span:
        span.set_attribute("note", f"uses {TOKEN}")
        raise ValueError(f"bad {TOKEN}")
    for name in ("call_model", "block"):
        span = spans.one(name)
        assert span.status.description and REDACTED in span.status.description
        (event,) = [event for event in span.events if event.name == keys.EXCEPTION_EVENT]
        assert REDACTED in event.attributes[keys.EXCEPTION_MESSAGE]
        assert REDACTED in event.attributes[keys.EXCEPTION_STACKTRACE]
        assert event.attributes[keys.EXCEPTION_ESCAPED] is True
        _no_secret(span)
    assert attrs(spans.one("block"))["note"] == f"uses {REDACTED}"


def test_record_exception_by_hand_is_redacted_and_not_escaped(spans: CapturedSpans) -> None:
    spans.configure(redact={"values": [r"sk-[A-Za-z0-9]{20,}"]})
    with tracing.start_span("block") as span:
        span.record_exception(RuntimeError(f"retrying with {TOKEN}"))
    span = spans.one("block")
    (event,) = span.events
    assert event.attributes[keys.EXCEPTION_ESCAPED] is False
    _no_secret(span)


def test_values_opentelemetry_cannot_hold_become_json(spans: CapturedSpans) -> None:
    with tracing.start_span("call") as span:
        span.set_attributes({"ids": [1, 2], "mixed": [1, "a"], "empty": [], "obj": {"a": {1, 2}}, "none": None})
    found = attrs(spans.one("call"))
    assert found["ids"] == (1, 2) and json.loads(found["mixed"]) == [1, "a"] and found["empty"] == ()
    assert json.loads(found["obj"]) == {"a": [1, 2]} and found["none"] == "null"


def _surrogate_and_ordinary_spans() -> None:
    for index in range(100):
        with tracing.start_span(f"ordinary-{index}", inputs={"i": index}):
            pass
    bad = "half \ud800 a pair"

    @tracing.trace(name=f"odd {bad}")
    def odd(text: str) -> str:
        return text

    with tracing.start_span("request"):
        tracing.get_current_span().set_attribute(f"key {bad}", bad)
        odd(bad)


def test_a_lone_surrogate_never_costs_a_span_over_otlp(oteltap: OtelTap) -> None:
    tracing.configure(service_name="surrogates", exporters=[oteltap.endpoint])
    try:
        _surrogate_and_ordinary_spans()
        assert tracing.force_flush()
        received = oteltap.wait_for(102)
    finally:
        tracing.shutdown()
    names = {span["name"] for span in received}
    assert "odd half \ufffd a pair" in names and "ordinary-99" in names and len(received) == 102
    request = next(span for span in received if span["name"] == "request")
    assert attributes_of(request)["key half \ufffd a pair"] == "half \ufffd a pair"


def test_a_lone_surrogate_leaves_the_trace_file_readable_by_every_command(tmp_path: Path, oteltap: OtelTap) -> None:
    path = tmp_path / "traces.jsonl"
    tracing.configure(service_name="surrogates", exporters=[f"file://{path}"])
    try:
        _surrogate_and_ordinary_spans()
        assert tracing.force_flush()
    finally:
        tracing.shutdown()
    path.read_bytes().decode("utf-8")  # strict: the file is valid UTF-8
    truth = tmp_path / "truth.jsonl"
    truth.write_text(json.dumps({"request": "x", "expected_retrieved_context": [{"doc_uri": "u"}]}) + "\n")
    assert cli(["view", str(path)]) == 0
    assert cli(["jaeger", str(path), "-o", str(tmp_path / "jaeger.json")]) == 0
    assert cli(["retrievals", str(path), "-o", str(tmp_path / "rows.jsonl")]) == 0
    assert cli(["evaluate", str(path), "--ground-truth", str(truth)]) == 0
    assert cli(["push", str(path), "--endpoint", oteltap.endpoint]) == 0
    assert len(oteltap.wait_for(102)) == 102


def test_the_trace_file_keeps_non_ascii_text_as_utf8(tmp_path: Path) -> None:
    path = tmp_path / "traces.jsonl"
    tracing.configure(service_name="utf8", exporters=[f"file://{path}"])
    try:
        @tracing.trace
        def greet(name: str, city: str) -> dict[str, str]:
            return {"greeting": f"Merhaba {name}", "city": city}

        greet("Ayşe", "日本")
        assert tracing.force_flush()
    finally:
        tracing.shutdown()
    raw = path.read_bytes()
    assert "ş".encode() in raw and "日本".encode() in raw
    assert b"\\u015f" not in raw and b"\\u65e5" not in raw
    line = json.loads(raw)
    values = {a["key"]: a["value"]["stringValue"] for s in line["resourceSpans"][0]["scopeSpans"][0]["spans"]
              for a in s["attributes"] if a["key"] in (keys.INPUT_VALUE, keys.OUTPUT_VALUE)}
    assert json.loads(values[keys.INPUT_VALUE]) == {"name": "Ayşe", "city": "日本"}
    assert '"日本"' in values[keys.OUTPUT_VALUE] and "Ayşe" in values[keys.OUTPUT_VALUE]
