"""The recorder's attribute write (`tracing._recorder._write`, issue 15): on the SDK's own span it may skip the SDK's
per-value cleaning, so for every write the span must end up exactly as `span.set_attributes` leaves it: the same
keys, values and order, the same dropped count, nothing on an ended span; and any span it cannot vouch for goes
through `set_attributes`."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace import Span, SpanLimits, TracerProvider

from tracing._recorder import MARKER_ROOM, _write

_KEYS = st.sampled_from([f"k{i}" for i in range(12)])
_SCALARS = st.one_of(st.text(max_size=40), st.integers(), st.floats(allow_nan=False), st.booleans())
_VALUES = st.one_of(_SCALARS, _SCALARS, _SCALARS, st.lists(st.text(max_size=5), max_size=3), st.none())
_WRITES = st.lists(st.dictionaries(_KEYS, _VALUES, max_size=8), min_size=1, max_size=6)
_LONGEST = 30


def _tracer(limits: SpanLimits) -> Any:
    return TracerProvider(span_limits=limits).get_tracer("test")


def _state(span: Any) -> tuple[list[tuple[str, Any]], int]:
    return list(span.attributes.items()), span.dropped_attributes


@settings(max_examples=300, deadline=None)
@given(writes=_WRITES, count_limit=st.one_of(st.none(), st.integers(1, 16)),
       length_limit=st.one_of(st.none(), st.integers(1, 60)), at_start=st.dictionaries(_KEYS, _SCALARS, max_size=4))
def test_a_write_leaves_the_span_as_set_attributes_does(writes: list[dict[str, Any]], count_limit: int | None,
                                                         length_limit: int | None, at_start: dict[str, Any]) -> None:
    # texts longer than `longest` never reach _write (the recorder cuts them first): keep the generated ones within it
    writes = [{key: value[:_LONGEST] if isinstance(value, str) else value for key, value in write.items()}
              for write in writes]
    limits = SpanLimits(max_span_attributes=count_limit if count_limit is not None else 10_000,
                        max_attribute_length=length_limit)
    tracer = _tracer(limits)
    ours, theirs = tracer.start_span("ours", attributes=at_start), tracer.start_span("theirs", attributes=at_start)
    for write in writes:
        _write(ours, write, _LONGEST)
        theirs.set_attributes(write)
        assert _state(ours) == _state(theirs)
    ours.end()
    theirs.end()
    assert _state(ours) == _state(theirs)


def test_a_key_written_again_moves_to_the_end_as_with_the_sdk() -> None:
    span = _tracer(SpanLimits()).start_span("s")
    _write(span, {"a": 1, "b": 2, "c": 3}, _LONGEST)
    _write(span, {"a": 4}, _LONGEST)
    assert list(span.attributes.items()) == [("b", 2), ("c", 3), ("a", 4)]


def test_nothing_is_written_on_an_ended_span() -> None:
    span = _tracer(SpanLimits()).start_span("s", attributes={"a": 1})
    span.end()
    _write(span, {"b": 2}, _LONGEST)
    assert dict(span.attributes) == {"a": 1}


def test_texts_the_span_would_cut_go_through_the_sdk() -> None:
    # the span's limit is below what the recorder may write: the SDK path cuts, as set_attributes would
    span = _tracer(SpanLimits(max_attribute_length=5)).start_span("s")
    _write(span, {"a": "abcdefgh"}, _LONGEST)
    assert span.attributes["a"] == "abcde"


def test_the_recorders_provider_leaves_room_for_its_longest_text() -> None:
    # the provider tracing.configure builds allows max_attribute_length + MARKER_ROOM, which is what the recorder
    # passes as `longest`: its writes take the direct path
    import tracing
    from tracing import _runtime

    tracing.configure(service_name="attribute-write", exporters=["memory"], max_attribute_length=1000)
    try:
        span = _runtime.state.tracer.start_span("s")
        assert span._attributes.max_value_len == 1000 + MARKER_ROOM
        assert _runtime.state.recorder._longest == 1000 + MARKER_ROOM
        span.end()
    finally:
        tracing.configure()


class _OwnSpan(Span):
    """A span class of the user's own, derived from the SDK's: its set_attributes must be called."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[dict[str, Any]] = []

    def set_attributes(self, attributes: Any) -> None:
        self.calls.append(dict(attributes))
        super().set_attributes(attributes)


def test_a_span_class_of_its_own_goes_through_set_attributes() -> None:
    source = _tracer(SpanLimits()).start_span("source")
    span = _OwnSpan("own", source.get_span_context())
    span.start()
    _write(span, {"a": 1}, _LONGEST)
    assert span.calls == [{"a": 1}]
    assert dict(span.attributes) == {"a": 1}
