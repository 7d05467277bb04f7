"""The compiled stream fold (tracing/_speedups.c, issue 15): built where there is a C compiler, the same answers as
the Python version on any batch, safe against events whose __eq__ changes them, and optional: without a compiler the
package builds all the same and folds in Python."""

from __future__ import annotations

import json
import json.encoder
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.trace import StatusCode

import tracing
from tests.capture import attrs
from tests.core.test_stream_fold import _BATCH, _one_by_one
from tracing import _stream
from tracing._stream import TEXT_DELTA, _python_text_run

REPO_ROOT = Path(__file__).resolve().parents[2]
_COMPILER = shutil.which("cc") or shutil.which("gcc")


def _compiled() -> Any:
    """The compiled checks (the test is skipped where they could not be built)."""
    return pytest.importorskip("tracing._speedups").text_run


def test_the_fold_is_compiled_where_there_is_a_compiler() -> None:
    if not _COMPILER:
        pytest.skip("no C compiler: the Python fold is the one used")
    assert _stream._text_run is _compiled(), "tracing/_speedups.c was not built: reinstall the package (make)"
    from exporters import _otlp

    assert _otlp._otlp_attributes is not None, "exporters/_otlp_speedups.c was not built: reinstall the package (make)"
    from tracing import _retriever

    assert _retriever._compiled_documents is not None


def _unshared(batch: list[Any]) -> list[Any]:
    """The batch through JSON: the same events with keys that are not the interned strings of a dict display."""
    return json.loads(json.dumps(batch, default=repr))


@settings(max_examples=600, deadline=None)
@given(_BATCH, st.booleans())
def test_the_compiled_checks_answer_as_the_python_ones(batch: list[Any], through_json: bool) -> None:
    if through_json:
        batch = _unshared(batch)
    assert _compiled()(batch, TEXT_DELTA) == _python_text_run(batch, TEXT_DELTA)


def test_a_plain_batch_is_joined_and_anything_else_is_not() -> None:
    text_run = _compiled()
    plain = [{"type": TEXT_DELTA, "item_id": "msg_1", "delta": word} for word in ("a", "b", "c")]
    assert text_run(plain, TEXT_DELTA) == ("msg_1", "abc")
    assert text_run(_unshared(plain), TEXT_DELTA) == ("msg_1", "abc")
    assert text_run([], TEXT_DELTA) is None
    assert text_run([*plain, {"type": TEXT_DELTA, "item_id": "msg_2", "delta": "d"}], TEXT_DELTA) is None
    assert text_run([*plain, {"type": TEXT_DELTA, "item_id": "msg_1", "delta": 4}], TEXT_DELTA) is None
    assert text_run([*plain, {"type": TEXT_DELTA, "item_id": "msg_1"}], TEXT_DELTA) is None
    assert text_run([*plain, {"type": TEXT_DELTA, "item_id": "msg_1", "delta": "d", "k": 1}], TEXT_DELTA) is None
    with pytest.raises(TypeError):
        text_run(tuple(plain), TEXT_DELTA)


class _Spoiler:
    """An item id whose __eq__ empties every event of its batch and the batch itself, then answers `answer` (or
    raises it)."""

    def __init__(self, batch: list[Any], answer: Any) -> None:
        self.batch = batch
        self.answer = answer

    def __eq__(self, other: object) -> bool:
        for event in self.batch:
            event.clear()
        self.batch.clear()
        if isinstance(self.answer, BaseException):
            raise self.answer
        return bool(self.answer)

    __hash__ = object.__hash__


def _spoilt_batch(answer: Any) -> list[Any]:
    batch: list[Any] = []
    batch.extend({"type": TEXT_DELTA, "item_id": "msg_1", "delta": "d" * 100} for _ in range(8))
    batch[3]["item_id"] = _Spoiler(batch, answer)
    return batch


@pytest.mark.parametrize("answer", [True, False])
def test_an_eq_that_empties_the_events_and_the_batch_neither_crashes_nor_folds_freed_text(answer: bool) -> None:
    assert _compiled()(_spoilt_batch(answer), TEXT_DELTA) is None  # the events after it are no deltas any more


def test_errors_from_an_eq_are_raised_as_python_raises_them_and_key_or_type_errors_give_none() -> None:
    text_run = _compiled()
    first = {"type": TEXT_DELTA, "item_id": "msg_1", "delta": "a"}
    assert text_run([first, {"type": TEXT_DELTA, "item_id": _Spoiler([], TypeError("no")), "delta": "b"}],
                    TEXT_DELTA) is None
    assert _python_text_run([first, {"type": TEXT_DELTA, "item_id": _Spoiler([], TypeError("no")), "delta": "b"}],
                            TEXT_DELTA) is None
    for run in (text_run, _python_text_run):
        with pytest.raises(ValueError, match="mine"):
            run([dict(first), {"type": TEXT_DELTA, "item_id": _Spoiler([], ValueError("mine")), "delta": "b"}],
                TEXT_DELTA)


@settings(max_examples=300, deadline=None)
@given(st.lists(_BATCH, max_size=4))
def test_the_python_fold_gives_the_aggregate_of_folding_events_one_by_one(batches: list[list[Any]]) -> None:
    first = {"type": "response.created"}
    aggregator = _stream.StreamAggregator()
    aggregator.add(first)
    compiled = _stream._text_run
    _stream._text_run = _python_text_run
    try:
        for batch in batches:
            aggregator.add_many(list(batch))
    finally:
        _stream._text_run = compiled
    assert repr(aggregator.result()) == repr(_one_by_one(first, batches))


def test_without_a_compiler_the_package_builds_and_folds_in_python(tmp_path: Path) -> None:
    for name in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy(REPO_ROOT / name, tmp_path / name)
    for package in ("tracing", "exporters"):
        shutil.copytree(REPO_ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    env = {**os.environ, "CC": "/bin/false", "LDSHARED": "/bin/false"}
    built = subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    assert not list((tmp_path / "tracing").glob("*.so"))
    folded = subprocess.run(
        [sys.executable, "-c", "import sys; sys.meta_path[:] = [finder for finder in sys.meta_path "  # the copy, not
         "if '__editable__' not in getattr(finder, '__module__', '')]; "  # an editable install's mapping
         "from tracing import _stream; print(_stream.__file__); "
         "assert _stream._text_run is _stream._python_text_run; "
         "print(_stream.aggregate_stream([{'type': 'response.output_text.delta', 'item_id': 'm', 'delta': d} "
         "for d in 'abc'])); "
         "import tracing; from tracing import _decorator; assert _decorator._Relay is None; "
         "print(list(tracing.trace(lambda n: (yield from range(n)))(3))); "
         "import json.encoder; from tracing import _serialize; "
         "assert _serialize.encode_string is json.encoder.encode_basestring; "
         "assert _serialize._plain_room is _serialize._python_plain_room; "
         "from exporters import _otlp; assert _otlp._otlp_attributes is None; "
         "from tracing import _retriever; assert _retriever._compiled_documents is None; "
         "print(_retriever._plain_dict_documents([{'id': 'd1', 'text': 't', 'score': 0.5}], "
         "_retriever.RetrieverSchema(name='kb', primary_key='id', text_column='text'), True, _serialize.Serializer())); "
         "print(len(_otlp._attributes(b'J', {'a': 'b', 'n': 1}))); "
         "print(_serialize.Serializer().dumps({'text': 'a \\\"quoted\\\" word', 'n': [1, 2.5, None]}))"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)}, capture_output=True, text=True, timeout=120)
    assert folded.returncode == 0, folded.stderr
    assert folded.stdout.startswith(str(tmp_path)), folded.stdout  # this copy, not the installed package
    assert "'text': 'abc'" in folded.stdout
    assert "[0, 1, 2]" in folded.stdout  # a traced generator streams through the Python loop
    assert '{"text": "a \\"quoted\\" word", "n": [1, 2.5, null]}' in folded.stdout  # JSON written in Python
    assert "\n19\n" in folded.stdout  # OTLP attribute fields written in Python
    assert "([_Recorded(id='d1', content='t', score=0.5, metadata_json=None, scored_node=False, id_json='\"d1\"')], " \
        "None, None)" in folded.stdout  # retriever rows mapped in Python


_ESCAPED = ['"', "\\", "\x00", "\x1f", "\n", "\t"]
_OTHERS = ["a", " ", "\x7f", "\x80", "\xe9", "\xff", "\u0100", "\u65e5", "\ud800", "\udfff", "\uffff",
           "\U0001f600", "\U0010ffff"]


@settings(max_examples=800, deadline=None)
@given(st.one_of(
    st.text(),
    st.text(alphabet=st.sampled_from(_ESCAPED + _OTHERS)),
    # long runs with one character to escape (or none) anywhere: each position in an 8-character word is tested
    st.builds(lambda run, at, special, wide: (run * 40)[:at] + special + (run * 40)[at:] + wide,
              st.sampled_from(["abcdefgh", "\xe9t\xe9", "x"]), st.integers(0, 80),
              st.sampled_from(["", *_ESCAPED, "\x20", "\x21", "\x5b", "\x5d", "\xa2", "\xdc"]),
              st.sampled_from(["", "\u65e5", "\U0001f600"])),
))
def test_compiled_quote_writes_what_json_writes(text: str) -> None:
    quote = pytest.importorskip("tracing._speedups").quote
    assert quote(text) == json.encoder.encode_basestring(text)


def test_compiled_quote_takes_str_subclasses_and_refuses_what_json_refuses() -> None:
    quote = pytest.importorskip("tracing._speedups").quote

    class Text(str):
        pass

    assert quote(Text('a"b')) == json.encoder.encode_basestring(Text('a"b')) == '"a\\"b"'
    assert quote(Text("plain")) == '"plain"'
    for value in (3, None, b"bytes"):
        with pytest.raises(TypeError, match="must be a string"):
            quote(value)
    if _COMPILER:
        from tracing import _serialize
        assert _serialize.encode_string is quote


@pytest.mark.provokes_failures("recording a chunk", "ending a stream span")
def test_a_stream_whose_event_eq_raises_still_streams_every_event_and_counts_the_failure(spans: Any) -> None:
    events = [{"type": TEXT_DELTA, "item_id": "msg_1", "delta": f"w{i} "} for i in range(40)]
    events[20]["item_id"] = _Spoiler([], ValueError("eq on fire"))  # raised by the compiled and the Python checks

    @tracing.trace(name="hostile_stream")
    def stream() -> Any:
        yield from events

    assert list(stream()) == events
    span = spans.one("hostile_stream")
    assert span.status.status_code is StatusCode.OK
    assert attrs(span)["agent_tracing.stream.chunks"] == 40
    counts = tracing.error_counts()
    # the batch holding it fails to fold while streaming or, once the deltas before it were set aside by the
    # compiled loop, when the span ends; either way once per batch, counted, and the output is given up
    assert counts["ending a stream span"] == 1
    assert set(counts) <= {"recording a chunk", "ending a stream span"}
