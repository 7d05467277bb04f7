"""exporters._otlp.encode_spans writes the very bytes the SDK's OTLP protobuf encoder writes, and the exporter sends them."""

from __future__ import annotations

import logging
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as sdk_encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util import BoundedList
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

from exporters._otlp import encode_spans
from exporters._uris import exporter_from_uri
from tests.exporters.helpers import provider_with, write_tree
from tests.servers.oteltap import OtelTap, attributes_of

_text = st.text(alphabet=st.characters(codec=None), max_size=12) | st.sampled_from(["", "x" * 200, "é🙂", "a\ud800b", "\udfff"])
_key = st.text(max_size=8) | st.sampled_from(["input.value", "bad\udc80key", "retrieval.documents.0.document.content"])
_int = st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.sampled_from([0, 127, 128, 2**63, -(2**63) - 1, 2**70])
_float = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.0, -0.0, math.nan])
_scalar = st.none() | st.booleans() | _text | _int | _float | st.binary(max_size=8)
_value: st.SearchStrategy[Any] = st.recursive(
    _scalar | st.just(object()),
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner) | st.dictionaries(_key, inner, max_size=3),
    max_leaves=8,
)
_attributes = st.dictionaries(_key, _value, max_size=6)
_ids = st.integers(min_value=1, max_value=2**64 - 1)


@st.composite
def _bounded(draw: st.DrawFn) -> Any:
    attributes = draw(_attributes)
    if draw(st.booleans()):
        return attributes
    bounded = BoundedAttributes(maxlen=draw(st.integers(0, 4)), immutable=False)
    for key, value in attributes.items():
        bounded._dict[key] = value  # unvalidated: the encoders must agree on whatever reaches them
        if len(bounded._dict) > (bounded.maxlen or 0):
            del bounded._dict[next(iter(bounded._dict))]
            bounded.dropped += 1
    return bounded


def _context(draw: st.DrawFn) -> SpanContext:
    state = draw(st.sampled_from([None, TraceState(), TraceState([("k", "v")]), TraceState([("a", "1"), ("vendor@x", "y-z")])]))
    return SpanContext(
        trace_id=draw(st.integers(min_value=1, max_value=2**128 - 1)),
        span_id=draw(_ids),
        is_remote=draw(st.booleans()),
        trace_flags=TraceFlags(draw(st.sampled_from([0, 1]))),
        trace_state=state,
    )


_RESOURCES = [
    Resource({"service.name": "a", "n": 1}),
    Resource({"service.name": "a", "n": 1}),  # equal to the first, another object: one group in both encoders
    Resource({"service.name": "b", "list": ("x", "y")}, schema_url="https://opentelemetry.io/schemas/1.21.0"),
    Resource({}),
]
_SCOPES = [
    None,
    InstrumentationScope("agent-tracing", "1.0"),
    InstrumentationScope("agent-tracing", "1.0"),
    InstrumentationScope("other", None, "https://example.com/schema", {"scope.attr": True}),
    InstrumentationScope(""),
]


@st.composite
def _span(draw: st.DrawFn) -> ReadableSpan:
    events = [
        Event(draw(st.text(max_size=8) | st.sampled_from(["chunk", "\udc80"])), draw(_attributes), timestamp=draw(st.none() | st.integers(0, 2**64 - 1)))
        for _ in range(draw(st.integers(0, 3)))
    ]
    links = [Link(_context(draw), draw(_bounded())) for _ in range(draw(st.integers(0, 2)))]
    if draw(st.booleans()):
        bounded_events = BoundedList(draw(st.integers(0, 2)))
        bounded_events.extend(events)
        events = bounded_events  # type: ignore[assignment]
        bounded_links = BoundedList(draw(st.integers(0, 2)))
        bounded_links.extend(links)
        links = bounded_links  # type: ignore[assignment]
    return ReadableSpan(
        name=draw(st.text(max_size=10) | st.sampled_from(["retrieve", "é"])),
        context=_context(draw),
        parent=_context(draw) if draw(st.booleans()) else None,
        resource=draw(st.sampled_from(_RESOURCES)),
        attributes=draw(_bounded()),
        events=events,
        links=links,
        kind=draw(st.sampled_from(list(SpanKind))),
        instrumentation_scope=draw(st.sampled_from(_SCOPES)),
        status=draw(st.sampled_from([Status(), Status(StatusCode.OK), Status(StatusCode.ERROR, "boom é"), Status(StatusCode.ERROR, "")])),
        start_time=draw(st.none() | st.integers(0, 2**64 - 1)),
        end_time=draw(st.none() | st.integers(0, 2**64 - 1)),
    )


@pytest.fixture(autouse=True)
def _quiet_encoders() -> Any:
    """Both encoders log each attribute they leave out; the generated spans have many."""
    loggers = [logging.getLogger("exporters._otlp"), logging.getLogger("opentelemetry.exporter.otlp.proto.common._internal")]
    for logger in loggers:
        logger.disabled = True
    yield
    for logger in loggers:
        logger.disabled = False


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(_span(), max_size=6))
def test_the_bytes_are_the_sdk_encoders_bytes(spans: list[ReadableSpan]) -> None:
    try:
        expected = sdk_encode_spans(spans).SerializePartialToString()
    except Exception as error:  # the SDK gives up on the batch (a span name UTF-8 cannot hold): so must we
        with pytest.raises(type(error)):
            encode_spans(spans)
        return
    assert encode_spans(spans) == expected


def test_a_retrieval_span_of_our_own_encodes_to_the_sdk_bytes_and_decodes() -> None:
    attributes: dict[str, Any] = {"openinference.span.kind": "RETRIEVER", "input.value": "q" * 300}
    for i in range(20):
        attributes[f"retrieval.documents.{i}.document.content"] = "d" * 1024
        attributes[f"retrieval.documents.{i}.document.score"] = 0.5 + i
        attributes[f"retrieval.documents.{i}.document.metadata"] = '{"source": "x"}'
    span = ReadableSpan(
        "retrieve",
        SpanContext(1, 2, False),
        resource=_RESOURCES[0],
        attributes=attributes,
        events=[Event("chunk", {"n": 1}, timestamp=5)],
        instrumentation_scope=_SCOPES[1],
        start_time=1,
        end_time=2,
    )
    ours = encode_spans([span, span])
    assert ours == sdk_encode_spans([span, span]).SerializePartialToString()
    decoded = ExportTraceServiceRequest.FromString(ours)
    assert len(decoded.resource_spans[0].scope_spans[0].spans) == 2


def test_the_otlp_http_exporter_of_a_uri_sends_our_encoding_to_a_real_receiver(oteltap: OtelTap) -> None:
    exporter = exporter_from_uri(f"otlp+http://127.0.0.1:{oteltap.port}")
    from exporters._otlp import OTLPSpanExporter

    assert isinstance(exporter.inner, OTLPSpanExporter)  # type: ignore[attr-defined]
    provider = provider_with(exporter)
    write_tree(provider, traces=2)
    assert provider.force_flush()
    received = oteltap.wait_for(6)
    roots = sorted((s for s in received if s["name"] == "root"), key=lambda s: attributes_of(s)["index"])
    assert [attributes_of(s) for s in roots] == [{"index": i, "openinference.span.kind": "AGENT"} for i in range(2)]
    provider.shutdown()


_plain_text = _text | st.sampled_from(["x" * 20_000, "é" * 9_000])  # texts whose length takes a 3-byte varint
_plain_value = st.none() | st.booleans() | _plain_text | _int | _float


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _all_plain(attributes: dict[Any, Any]) -> bool:
    return all(type(key) is str and _encodable(key) for key in attributes) and all(
        value is None or type(value) in (bool, float) or (type(value) is str and _encodable(value))
        or (type(value) is int and -(2**63) <= value < 2**63) for value in attributes.values())


@settings(max_examples=600, deadline=None)
@given(st.dictionaries(_key, _plain_value, max_size=8) | _attributes, st.sampled_from([b"\x4a", b"\x1a", b"\x0a", b"\x22"]))
def test_the_compiled_attribute_fields_are_the_python_ones_or_none(attributes: dict[str, Any], tag: bytes) -> None:
    # every plain dict is written as the Python encoder writes it (which the tests above hold to the SDK's); any other
    # (a container, bytes, an object, an int beyond int64, a text UTF-8 cannot encode) is left to the Python encoder
    from exporters._otlp import _python_attributes

    compiled = pytest.importorskip("exporters._otlp_speedups").otlp_attributes
    encoded = compiled(tag, attributes)
    if _all_plain(attributes):
        assert encoded == _python_attributes(tag, attributes)
    else:
        assert encoded is None


def test_the_compiled_attribute_fields_take_only_a_dict() -> None:
    compiled = pytest.importorskip("exporters._otlp_speedups").otlp_attributes
    assert compiled(b"\x4a", BoundedAttributes(attributes={"a": 1})) is None  # the encoder hands it the dict inside
    assert compiled(b"\x4a", {}) == b""
    with pytest.raises(TypeError, match="otlp_attributes"):
        compiled("not bytes", {"a": 1})
