"""Serialization with a budget (SPEC 3.5): the work stops at max_attribute_length, mocks are only repr'd, NaN and
infinity stay valid JSON, a bad field spoils only itself, and a traced recursive function keeps half its depth."""

from __future__ import annotations

import dataclasses
import json
import sys
import tracemalloc
from typing import Any
from unittest.mock import MagicMock, Mock

import pytest
from pydantic import BaseModel

import tracing
from tests.capture import attrs, inputs, output

MB = 1 << 20


@tracing.trace
def take(value: Any, other: str = "kept") -> str:
    return "done"


def _peak_bytes(call: Any) -> int:
    """Peak memory allocated while `call` runs (what was allocated before does not count)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        call()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def test_a_50_mb_string_costs_what_is_kept(spans: Any) -> None:
    spans.configure(max_attribute_length=65536)
    text = '": ' * (50 * MB // 3)
    peak = _peak_bytes(lambda: take(text))
    value = attrs(spans.one("take"))["input.value"]
    assert value.startswith('{"value": "\\": \\": ')
    assert "...[truncated" in value and len(value) < 65536 + 100
    assert peak < 4 * MB, f"serializing a 50 MB string allocated {peak / MB:.1f} MB"


def test_a_large_numpy_array_reads_only_what_is_kept(spans: Any) -> None:
    np = pytest.importorskip("numpy")
    spans.configure(max_attribute_length=65536)
    array = np.random.default_rng(0).random((1000, 1536))
    peak = _peak_bytes(lambda: take(array))
    value = attrs(spans.one("take"))["input.value"]
    assert value.startswith('{"value": [[') and "...[truncated" in value
    assert peak < 4 * MB, f"serializing a 1000x1536 array allocated {peak / MB:.1f} MB (whole: {array.nbytes / MB:.0f} MB)"


def test_the_writer_stops_reading_a_long_list_at_the_limit(spans: Any) -> None:
    spans.configure(max_attribute_length=1000)
    seen = [0]

    class Counting(list):  # type: ignore[type-arg]
        def __iter__(self) -> Any:
            for item in list.__iter__(self):
                seen[0] += 1
                yield item

    take(Counting(range(1_000_000)))
    assert seen[0] <= 1000
    assert attrs(spans.one("take"))["input.value"].startswith('{"value": [0, 1, 2, ')


def test_mocks_and_objects_answering_every_attribute_are_only_repr_d(spans: Any) -> None:
    asked: list[str] = []

    class Anything:
        def __getattr__(self, name: str) -> Any:
            asked.append(name)
            return lambda *args, **kwargs: Anything()

        def __repr__(self) -> str:
            return "<anything>"

    mock, magic = Mock(), MagicMock()
    take(mock, other="a")
    take(magic, other="b")
    take(Anything(), other="c")
    assert mock.mock_calls == [] and magic.mock_calls == []
    assert asked == []
    values = [inputs(span)["value"] for span in spans.all()]
    assert values[0].startswith("<Mock id=") and values[1].startswith("<MagicMock id=") and values[2] == "<anything>"


def test_real_models_dataclasses_and_arrays_are_detected_by_type(spans: Any) -> None:
    np = pytest.importorskip("numpy")

    class Model(BaseModel):
        name: str

    @dataclasses.dataclass
    class Row:
        id: int
        score: float

    take({"model": Model(name="m"), "row": Row(1, 0.5), "array": np.arange(3), "scalar": np.float32(1.5)})
    assert inputs(spans.one("take"))["value"] == {"model": {"name": "m"}, "row": {"id": 1, "score": 0.5},
                                                  "array": [0, 1, 2], "scalar": 1.5}


def test_nan_and_infinity_stay_valid_json(spans: Any) -> None:
    @tracing.trace
    def scores(values: list[float]) -> dict[str, float]:
        return {"best": float("inf"), "worst": float("-inf"), "mean": float("nan")}

    scores([1.0, float("nan"), float("inf")])
    span = spans.one("scores")
    assert inputs(span) == {"values": [1.0, "NaN", "Infinity"]}
    assert output(span) == {"best": "Infinity", "worst": "-Infinity", "mean": "NaN"}


def test_a_huge_int_spoils_only_itself(spans: Any) -> None:
    take(10**5000, other="still here")
    recorded = inputs(spans.one("take"))
    assert recorded["other"] == "still here"
    assert recorded["value"] == "<int of about 5001 digits>"


@pytest.mark.provokes_failures("repr")
def test_an_unrepresentable_field_spoils_only_itself(spans: Any) -> None:
    class NoRepr:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    take([1, NoRepr(), 3], other="kept")
    recorded = inputs(spans.one("take"))
    assert recorded["other"] == "kept" and recorded["value"][0] == 1 and recorded["value"][2] == 3
    assert recorded["value"][1].startswith("<unrepresentable ") and recorded["value"][1].endswith("NoRepr>")


@pytest.mark.provokes_failures("serialization")
def test_a_circular_field_spoils_only_itself(spans: Any) -> None:
    loop: list[Any] = []
    loop.append(loop)
    take({"loop": loop, "n": 1})
    assert inputs(spans.one("take")) == {"value": {"loop": "[[...]]", "n": 1}, "other": "kept"}


def _deepest(function: Any) -> int:
    low, high = 1, 2 * sys.getrecursionlimit()
    while low < high:
        middle = (low + high + 1) // 2
        try:
            function(middle)
            low = middle
        except RecursionError:
            high = middle - 1
    return low


@pytest.mark.provokes_failures("recording inputs")
def test_a_traced_recursive_function_keeps_half_its_depth(spans: Any) -> None:
    def plain(n: int) -> int:
        return 0 if n == 0 else 1 + plain(n - 1)

    @tracing.trace
    def traced(n: int) -> int:
        return 0 if n == 0 else 1 + traced(n - 1)

    untraced_depth = _deepest(plain)
    traced_depth = _deepest(traced)
    assert traced_depth >= untraced_depth // 2, (traced_depth, untraced_depth)
    spans.clear()
    assert traced(50) == 50
    assert len(spans.all()) == 51


def test_json_text_is_still_the_json_module_s_for_plain_values(spans: Any) -> None:
    value = {"q": "héllo", "n": [1, 2.5, True, None], "nested": {"a": ["x"]}}
    take(value)
    assert attrs(spans.one("take"))["input.value"] == json.dumps({"value": value, "other": "kept"}, ensure_ascii=False)


def test_a_pydantic_model_holding_bytes_that_are_not_utf8_is_written_like_the_bytes_alone(spans: Any) -> None:
    class Page(BaseModel):
        page_content: bytes

    take(Page(page_content=b"\xc5"), other=b"\xc5")  # type: ignore[arg-type]
    assert inputs(spans.one("take")) == {"value": {"page_content": "base64:xQ=="}, "other": "base64:xQ=="}
    assert tracing.error_counts() == {}
