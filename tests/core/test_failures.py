"""A failure inside tracing never reaches the caller (SPEC 3.2): each path made to fail for real."""

from __future__ import annotations

import logging

import pytest
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tracing
from tests.capture import attrs, output
from tracing import _errors


class _RaisingExporter(SpanExporter):
    def __init__(self):
        self.calls = 0

    def export(self, spans):
        self.calls += 1
        raise ConnectionError("collector on fire")

    def shutdown(self):
        raise OSError("shutdown on fire")


class _RaisingProcessor(SpanProcessor):
    def on_start(self, span, parent_context=None):
        raise RuntimeError("on_start on fire")

    def on_end(self, span):
        raise RuntimeError("on_end on fire")


class _BadRepr:
    def __repr__(self):
        raise RuntimeError("repr on fire")


@pytest.fixture
def fresh_counts():
    """tracing shut down after the test (the counts start empty: tests/conftest.py resets them before every test)."""
    yield
    tracing.shutdown()


@tracing.trace
def compute(x):
    return {"x": x}


@pytest.mark.provokes_failures("exporter _RaisingExporter")
def test_exporter_that_raises_is_logged_once_and_counted(fresh_counts, caplog):
    bad = _RaisingExporter()
    tracing.configure(exporters=[bad])
    for i in range(5):
        assert compute(i) == {"x": i}
        tracing.force_flush()
    assert bad.calls >= 1
    assert _errors.error_counts()["exporter _RaisingExporter"] == bad.calls
    logged = [r for r in caplog.records if "_RaisingExporter" in r.getMessage()]
    assert len(logged) == 1


@pytest.mark.provokes_failures("starting a span", "ending a span")
def test_processor_that_raises_does_not_break_the_call(fresh_counts):
    memory = InMemorySpanExporter()
    tracing.configure(exporters=[_RaisingProcessor(), memory])
    assert compute(1) == {"x": 1}
    assert sum(_errors.error_counts().values()) >= 1

    @tracing.trace
    def gen():
        yield 1
        yield 2

    assert list(gen()) == [1, 2]
    with tracing.start_span("block") as span:
        span.set_outputs("fine")


@pytest.mark.provokes_failures("output_reducer")
def test_reducer_that_raises_falls_back_to_default_aggregation(spans):
    def reducer(chunks):
        raise ZeroDivisionError("reducer on fire")

    @tracing.trace(output_reducer=reducer)
    def words():
        yield "a"
        yield "b"

    assert list(words()) == ["a", "b"]
    assert output(spans.one("words")) == "ab"
    assert _errors.error_counts()["output_reducer"] == 1


@pytest.mark.provokes_failures("repr")
def test_object_whose_repr_raises(spans):
    bad = _BadRepr()

    @tracing.trace
    def identity(value):
        return value

    assert identity(bad) is bad
    span = spans.one("identity")
    assert attrs(span)["input.value"] == '{"value": "<unrepresentable _BadRepr>"}'
    assert _errors.error_counts()["repr"] >= 1


@pytest.mark.provokes_failures("serialization")
def test_object_whose_serialization_raises(spans):
    class Hostile:
        def model_dump(self, **kwargs):
            raise ValueError("model_dump on fire")

        def __repr__(self):
            return "Hostile()"

    @tracing.trace
    def identity(value):
        return value

    hostile = Hostile()
    assert identity(hostile) is hostile
    assert attrs(spans.one("identity"))["output.value"] == '"Hostile()"'


@pytest.mark.provokes_failures("serialization")
def test_circular_structure(spans):
    loop = []
    loop.append(loop)

    @tracing.trace
    def identity(value):
        return value

    assert identity(loop) is loop
    assert attrs(spans.one("identity"))["output.value"] == '"[[...]]"'


@pytest.mark.provokes_failures("redaction")
def test_redaction_callback_that_raises(fresh_counts, spans):
    def callback(key, value):
        raise RuntimeError("callback on fire")

    spans.configure(redact={"callback": callback})
    assert compute(3) == {"x": 3}
    assert attrs(spans.one("compute"))["output.value"] == '"[REDACTED]"'
    assert _errors.error_counts()["redaction"] >= 1


@pytest.mark.provokes_failures("input hook")
def test_input_hook_that_raises(spans):
    from tracing._decorator import SpanSpec, traced

    def hook(inputs):
        raise LookupError("hook on fire")

    fn = traced(lambda x: x + 1, SpanSpec(name="hooked", input_hook=hook))
    assert fn(1) == 2
    assert spans.one("hooked")
    assert _errors.error_counts()["input hook"] == 1


@pytest.mark.provokes_failures("file exporter (/dev/full)")
def test_full_disk_file_exporter(fresh_counts, tmp_path):
    import exporters

    tracing.configure(exporters=[exporters.FileSpanExporter("/dev/full")])
    for i in range(3):
        assert compute(i) == {"x": i}
    tracing.force_flush()
    assert _errors.error_counts()["file exporter (/dev/full)"] >= 1


@pytest.mark.provokes_failures("configuration from the environment")
def test_bad_environment_falls_back_to_defaults(fresh_counts, monkeypatch, tmp_path, caplog):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AGENT_TRACING_SAMPLE_RATIO", "seven")
    tracing.shutdown()
    assert compute(1) == {"x": 1}
    assert _errors.error_counts()["configuration from the environment"] == 1
    assert any("AGENT_TRACING" in r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)


class _Unprintable(Exception):
    def __str__(self):
        raise RuntimeError("__str__ on fire")


def test_exception_that_cannot_be_printed_still_ends_its_spans(spans):
    from opentelemetry.trace import StatusCode

    @tracing.trace
    def fails():
        raise _Unprintable()

    @tracing.trace
    def stream_fails():
        yield "partial"
        raise _Unprintable()

    with pytest.raises(_Unprintable):
        fails()
    with pytest.raises(_Unprintable):
        list(stream_fails())
    assert spans.one("fails").status.status_code is StatusCode.ERROR
    span = spans.one("stream_fails")
    assert span.status.status_code is StatusCode.ERROR
    assert output(span) == "partial"
