"""configure(): precedence, YAML, environment, exporters, the embedded default, an app's own provider (SPEC 3.6, 3.7, 7)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tracing
from tests.capture import attrs
from tracing._settings import Redaction, Settings, resolve

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _shutdown():
    yield
    tracing.shutdown()


def _run(code: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_TRACING_", "OTEL_"))}
    environment.update(env or {})
    environment["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=60)


def test_precedence_arguments_config_environment_defaults(tmp_path):
    config = tmp_path / "tracing.yaml"
    config.write_text("service_name: from-yaml\nsample_ratio: 0.25\ncapture_content: false\n")
    environ = {"AGENT_TRACING_SAMPLE_RATIO": "0.5", "AGENT_TRACING_MAX_ATTRIBUTE_LENGTH": "1000",
               "AGENT_TRACING_SERVICE_NAME": "from-env"}
    settings = resolve({"service_name": "from-args"}, str(config), environ)
    assert settings.service_name == "from-args"
    assert settings.sample_ratio == 0.25
    assert settings.capture_content is False
    assert settings.max_attribute_length == 1000
    assert resolve({}, None, {}).max_attribute_length == 65536


def test_config_file_from_environment(tmp_path):
    config = tmp_path / "prod.yaml"
    config.write_text("exporters: [console]\n")
    assert resolve({}, None, {"AGENT_TRACING_CONFIG": str(config)}).exporters == ("console",)


def test_errors_name_the_source_and_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("sample_ratio: 2\n")
    with pytest.raises(ValueError, match=r"bad.yaml: sample_ratio: .*less than or equal to 1"):
        resolve({}, str(bad), {})
    broken = tmp_path / "broken.yaml"
    broken.write_text("service_name: [unclosed\n")
    with pytest.raises(ValueError, match=r"broken.yaml:2: not valid YAML"):
        resolve({}, str(broken), {})
    with pytest.raises(ValueError, match=r"configure\(\): max_attribute_length"):
        tracing.configure(max_attribute_length=3)
    with pytest.raises(ValueError, match=r"environment .*sample_ratio"):
        resolve({}, None, {"AGENT_TRACING_SAMPLE_RATIO": "lots"})
    with pytest.raises(ValueError, match=r"config: colour: Extra inputs"):
        resolve({}, {"colour": "blue"}, {})
    with pytest.raises(ValueError, match="missing.yaml: cannot be read"):
        resolve({}, str(tmp_path / "missing.yaml"), {})


def test_redaction_patterns_must_be_regular_expressions():
    with pytest.raises(ValueError, match=r"configure\(\): redact: .*keys: '\(' is not a regular expression"):
        tracing.configure(redact=["("])
    with pytest.raises(ValueError, match=r"config: redact: .*values: '\[' is not a regular expression"):
        resolve({}, {"redact": {"values": ["["]}}, {})
    with pytest.raises(ValueError, match=r"keys: '\(' is not a regular expression"):
        Redaction(keys=("(",))
    assert resolve({"redact": "api_key_.*, x-.*"}, None, {}).redact == Redaction(keys=("api_key_.*", "x-.*"))


def test_without_any_setting_the_defaults_apply():
    """No argument, config or variable of ours: the defaults (pydantic is not needed for them, see test_import)."""
    assert resolve({}, None, {}) == Settings()
    assert resolve({"service_name": None}, None, {"UNRELATED": "1"}) == Settings()


_ANY_VALUE = st.one_of(st.none(), st.booleans(), st.integers(-10, 10**9), st.floats(allow_nan=True), st.text(max_size=12),
                      st.lists(st.text(max_size=6), max_size=3), st.dictionaries(st.text(max_size=6), st.integers(), max_size=2))


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from([*Settings.__dataclass_fields__, "colour"]), _ANY_VALUE))
def test_any_config_is_accepted_as_valid_or_refused_with_a_value_error_naming_the_source(config):
    try:
        settings = resolve({}, config, {})
    except ValueError as exc:
        assert str(exc).startswith("config: ")
        return
    assert isinstance(settings, Settings) and isinstance(settings.redact, Redaction)
    assert settings.max_attribute_length >= 256 and settings.conventions <= {"openinference", "genai"}


def test_standard_otlp_variables_pick_the_protocol():
    assert resolve({}, None, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://h:4318"}).exporters == ("otlp+http:",)
    assert resolve({}, None, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://h:4317",
                              "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}).exporters == ("otlp+grpc:",)


def test_reconfigure_replaces_the_pipeline():
    first, second = InMemorySpanExporter(), InMemorySpanExporter()

    @tracing.trace
    def step():
        return 1

    tracing.configure(service_name="one", exporters=[first])
    step()
    tracing.configure(service_name="two", exporters=[second])
    step()
    assert len(first.get_finished_spans()) == 1
    assert len(second.get_finished_spans()) == 1
    assert second.get_finished_spans()[0].resource.attributes["service.name"] == "two"


def test_other_instrumentation_follows_reconfiguration():
    from opentelemetry import trace as otel_trace

    first, second = InMemorySpanExporter(), InMemorySpanExporter()
    tracing.configure(exporters=[first])
    other = otel_trace.get_tracer("third.party")
    with other.start_as_current_span("theirs-1"):
        pass
    tracing.configure(exporters=[second])
    with other.start_as_current_span("theirs-2"):
        pass
    assert [s.name for s in first.get_finished_spans()] == ["theirs-1"]
    assert [s.name for s in second.get_finished_spans()] == ["theirs-2"]


def test_resource_attributes_and_service_name():
    memory = InMemorySpanExporter()
    tracing.configure(service_name="svc", exporters=[memory], resource_attributes={"deployment.environment": "dev"})
    with tracing.start_span("x"):
        pass
    resource = memory.get_finished_spans()[0].resource.attributes
    assert resource["service.name"] == "svc" and resource["deployment.environment"] == "dev"


def test_sampling_keeps_or_drops_whole_traces(spans):
    @tracing.trace
    def child(i):
        return i

    @tracing.trace
    def root(i):
        return child(i)

    spans.configure(sample_ratio=0.5)
    for i in range(400):
        root(i)
    finished = spans.all()
    roots = [s for s in finished if s.name == "root"]
    assert 100 < len(roots) < 300
    kept = {s.context.trace_id for s in roots}
    assert {s.context.trace_id for s in finished if s.name == "child"} == kept
    spans.configure(sample_ratio=0.0)
    assert root(1) == 1
    assert spans.all() == []


def test_capture_content_false_keeps_structure(spans):
    spans.configure(capture_content=False)

    @tracing.trace(span_type="TOOL")
    def private(text):
        return text.upper()

    assert private("secret") == "SECRET"
    span = spans.one("private")
    assert "input.value" not in attrs(span) and "output.value" not in attrs(span)
    assert attrs(span)["openinference.span.kind"] == "TOOL"


def test_capture_content_from_environment(tmp_path):
    result = _run("""
        import json, tracing
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        memory = InMemorySpanExporter()
        tracing.configure(exporters=[memory])
        tracing.trace(lambda q: q)("hidden")
        print(json.dumps(dict(memory.get_finished_spans()[0].attributes)))
    """, tmp_path, {"AGENT_TRACING_CAPTURE_CONTENT": "false"})
    assert result.returncode == 0, result.stderr
    assert "input.value" not in json.loads(result.stdout)


def test_redaction_default_patterns_and_callback(spans):
    spans.configure(redact={"keys": ["ssn"], "values": [r"sk-[A-Za-z0-9]{8,}"],
                            "callback": lambda k, v: "***" if k == "email" else v})

    @tracing.trace
    def login(user, password, headers, note):
        return {"user": user, "api_key": "abc", "ssn": "123", "email": "a@b.c"}

    login("ann", "hunter2", {"Authorization": "Bearer x", "Accept": "json"}, "key sk-ABCDEFGH1234 inside")
    span = spans.one("login")
    assert json.loads(attrs(span)["input.value"]) == {
        "user": "ann", "password": "[REDACTED]", "headers": {"Authorization": "[REDACTED]", "Accept": "json"},
        "note": "key [REDACTED] inside"}
    assert json.loads(attrs(span)["output.value"]) == {"user": "ann", "api_key": "[REDACTED]", "ssn": "[REDACTED]",
                                                       "email": "***"}


def test_redaction_can_be_turned_off(spans):
    spans.configure(redact=False)
    tracing.trace(lambda password: 1)("hunter2")
    assert "hunter2" in spans.all()[0].attributes["input.value"]


def test_embedded_default_writes_the_trace_file_and_says_so_once(tmp_path):
    result = _run("""
        import tracing
        @tracing.trace
        def hello(name):
            return "hi " + name
        hello("a"); hello("b")
        tracing.shutdown()
    """, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("writing traces to") == 1
    assert str(tmp_path / "traces" / "traces.jsonl") in result.stderr
    lines = (tmp_path / "traces" / "traces.jsonl").read_text().splitlines()
    names = [span["name"] for line in lines for rs in json.loads(line)["resourceSpans"]
             for ss in rs["scopeSpans"] for span in ss["spans"]]
    assert names == ["hello", "hello"]


def test_application_provider_is_respected(tmp_path):
    result = _run("""
        import json, tracing
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        theirs, ours = InMemorySpanExporter(), InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(theirs))
        trace.set_tracer_provider(provider)
        @tracing.trace
        def step():
            return 1
        step()
        tracing.configure(exporters=[ours])
        step()
        tracing.configure(exporters=[ours])
        step()
        print(json.dumps([len(theirs.get_finished_spans()), len(ours.get_finished_spans())]))
    """, tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [3, 2]
    assert not (tmp_path / "traces").exists()


def test_exporter_uris_and_bad_exporter():
    with pytest.raises(TypeError, match="exporters: expected a URI string"):
        tracing.configure(exporters=[42])
    tracing.configure(exporters=["memory"])
    with tracing.start_span("kept"):
        pass
    from tracing import _runtime

    assert [s.name for s in _runtime.state.memory.get_finished_spans()] == ["kept"]


def test_file_uri_writes_otlp_json_lines(tmp_path):
    target = tmp_path / "out" / "spans.jsonl"
    tracing.configure(exporters=[f"file://{target}"])
    with tracing.start_span("to-file"):
        pass
    tracing.force_flush()
    line = json.loads(target.read_text().splitlines()[0])
    span = line["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert span["name"] == "to-file" and len(span["traceId"]) == 32 and span["traceId"] == span["traceId"].lower()


def test_suppress_and_session_scopes(spans):

    @tracing.trace
    def step():
        return 1

    with tracing.suppress_tracing():
        step()
    with tracing.using_session("conv-1"), tracing.using_user("u-9"), tracing.using_attributes(tags=["beta"], tier="gold"):
        step()
    (span,) = spans.all()
    assert span.attributes["session.id"] == "conv-1"
    assert span.attributes["user.id"] == "u-9"
    assert tuple(span.attributes["tag.tags"]) == ("beta",)
    assert json.loads(span.attributes["metadata"]) == {"tier": "gold"}
