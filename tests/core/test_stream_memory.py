"""Streams keep no yielded object alive past what the aggregate needs (issue 11): chunks that are not text or known
events are summarised as they come, a bounded number of them, and the rest counted."""

from __future__ import annotations

import json
import weakref
from collections.abc import Iterator
from typing import Any

import pytest

import tracing
from tests.capture import attrs


class Frame:
    """A large object a stream yields (weak-referenceable, so the test can tell whether anything still holds it)."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.pixels = bytearray(1 << 20)

    def __repr__(self) -> str:
        return f"Frame({self.index})"


def _consume_and_watch(stream: Iterator[Any], refs: list[weakref.ref[Any]]) -> int:
    """Consume a stream dropping every chunk; the most chunks yielded so far still alive at any step."""
    most = 0
    for chunk in stream:
        del chunk
        most = max(most, sum(ref() is not None for ref in refs))
    return most


def test_60_numpy_arrays_of_8_mb_dropped_by_the_consumer_are_not_kept_alive(spans: Any) -> None:
    np = pytest.importorskip("numpy")
    refs: list[weakref.ref[Any]] = []

    @tracing.trace
    def embeddings(n: int) -> Iterator[Any]:
        for i in range(n):
            array = np.full(1 << 20, float(i))  # 8 MB
            refs.append(weakref.ref(array))
            yield array

    assert _consume_and_watch(embeddings(60), refs) <= 1
    recorded = attrs(spans.one("embeddings"))
    assert recorded["agent_tracing.stream.chunks"] == 60
    listed = json.loads(recorded["output.value"])
    assert listed[0].startswith("[0.0, 0.0") and listed[-1].endswith("more chunks]")
    assert len(recorded["output.value"]) <= 65536


def test_objects_streamed_are_summarised_as_they_come(spans: Any) -> None:
    refs: list[weakref.ref[Any]] = []

    @tracing.trace
    def frames(n: int) -> Iterator[Frame]:
        for i in range(n):
            frame = Frame(i)
            refs.append(weakref.ref(frame))
            yield frame

    assert _consume_and_watch(frames(30), refs) <= 1
    assert json.loads(attrs(spans.one("frames"))["output.value"]) == [f"Frame({i})" for i in range(30)]


def test_text_streams_still_join_their_text(spans: Any) -> None:
    @tracing.trace
    def words() -> Iterator[str]:
        yield from ["a ", "b ", "c"]

    assert "".join(words()) == "a b c"
    assert attrs(spans.one("words"))["output.value"] == "a b c"
