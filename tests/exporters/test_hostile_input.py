"""Every command on hostile trace files, ground truths and options: exit 2 with one line `FILE:LINE: what`, never a traceback."""

from __future__ import annotations

import contextlib
import copy
import gzip
import io
import json
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporters import FileSpanExporter
from exporters.cli import main
from tests.exporters.collector import Collector
from tests.exporters.helpers import provider_with, write_tree

COMMANDS = ("view", "jaeger", "retrievals", "evaluate", "push")
GROUND_TRUTH = '{"request": "q", "expected_retrieved_context": [{"doc_uri": "a"}]}\n'


@pytest.fixture(scope="module")
def valid_line(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One real trace-file line holding a root span with an attribute and an event (written by FileSpanExporter)."""
    path = tmp_path_factory.mktemp("valid") / "t.jsonl"
    provider = provider_with(FileSpanExporter(path))
    write_tree(provider)
    provider.shutdown()
    return path.read_text().splitlines()[-1]


@pytest.fixture(scope="module")
def receiver() -> Iterator[Collector]:
    """One OTLP/HTTP receiver for the pushes of this module."""
    server = Collector()
    yield server
    server.stop()


def run(command: str, path: Path, receiver: Collector, *extra: str) -> tuple[int, str]:
    """Run one command in this process on `path`; (exit code, stderr)."""
    work = path.parent
    args = {
        "view": ["view", str(path)],
        "jaeger": ["jaeger", str(path), "-o", str(work / "out.json")],
        "retrievals": ["retrievals", str(path), "-o", str(work / "rows.csv")],
        "evaluate": ["evaluate", str(path), "--ground-truth", str(work / "gt.jsonl")],
        "push": ["push", str(path), "--endpoint", receiver.endpoint, "--retry-for", "0", "--checkpoint", str(work / "cp.json")],
    }[command]
    (work / "gt.jsonl").write_text(GROUND_TRUTH)
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = main([*args, *extra])
    return code, err.getvalue()


def assert_one_error_line(command: str, code: int, stderr: str, where: str, line: bool = True) -> None:
    """Exit 2 and exactly one line `agent-tracing COMMAND: error: WHERE[:LINE]: what`."""
    assert code == 2, stderr
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    pattern = rf"agent-tracing {command}: error: {re.escape(where)}{':[0-9]+' if line else '(:[0-9]+)?'}: \S.*"
    assert re.fullmatch(pattern, lines[0]), lines[0]


def _span(line: str) -> tuple[dict[str, Any], dict[str, Any]]:
    payload = json.loads(line)
    return payload, payload["resourceSpans"][0]["scopeSpans"][0]["spans"][0]


def _with(line: str, change: Callable[[dict[str, Any]], None]) -> str:
    payload, span = _span(line)
    change(span)
    return json.dumps(payload)


HOSTILE_LINES: dict[str, Callable[[str], str]] = {
    "a JSON bomb": lambda line: "[" * 100_000 + "]" * 100_000,
    "an integer attribute key": lambda line: _with(line, lambda s: s["attributes"].append({"key": 7, "value": {"intValue": "1"}})),
    "an integer span name": lambda line: _with(line, lambda s: s.update(name=12)),
    "a timestamp of 1e30": lambda line: _with(line, lambda s: s.update(startTimeUnixNano=1e30)),
    "a timestamp of '1e30'": lambda line: _with(line, lambda s: s.update(endTimeUnixNano="1e30")),
    "a span id in 0x form": lambda line: _with(line, lambda s: s.update(spanId="0x" + s["spanId"][2:])),
    "attributes as a string": lambda line: _with(line, lambda s: s.update(attributes="x")),
    "an attribute nested 40 deep": lambda line: _with(
        line, lambda s: s["attributes"].append({"key": "deep", "value": json.loads('{"arrayValue": {"values": [' * 40 + "]}}" * 40)})
    ),
    "not JSON": lambda line: "this is not json",
    "a JSON list": lambda line: "[1, 2, 3]",
    "bytes that are not UTF-8": lambda line: '{"resourceSpans": "\udcff"}',
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", list(HOSTILE_LINES))
def test_a_file_of_hostile_lines_exits_2_naming_file_and_line(command: str, case: str, valid_line: str, receiver: Collector, tmp_path: Path) -> None:
    path = tmp_path / "hostile.jsonl"
    text = HOSTILE_LINES[case](valid_line)
    path.write_bytes(text.encode("utf-8", "surrogateescape") + b"\n" + text.encode("utf-8", "surrogateescape") + b"\n")
    code, stderr = run(command, path, receiver)
    assert_one_error_line(command, code, stderr, str(path))
    assert f"{path}:1: no readable span in this file" in stderr and "1 more unreadable lines" in stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_a_hostile_line_among_good_ones_is_a_warning_naming_file_and_line(command: str, valid_line: str, receiver: Collector, tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text(valid_line + "\n" + HOSTILE_LINES["an integer span name"](valid_line) + "\n")
    code, stderr = run(command, path, receiver)
    assert code == (1 if command == "push" else 0), stderr
    assert f"agent-tracing: warning: {path}:2: skipped an unreadable line: name is a number, not a string" in stderr
    assert "Traceback" not in stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_a_null_name_is_the_empty_name_as_proto3_json_says(command: str, valid_line: str, receiver: Collector, tmp_path: Path) -> None:
    path = tmp_path / "null.jsonl"
    path.write_text(_with(valid_line, lambda s: s.update(name=None)) + "\n")
    code, stderr = run(command, path, receiver)
    assert code == 0, stderr


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("content", [b"", b"\n\n", b'{"resourceSpans": []}\n'], ids=["empty", "blank", "no spans"])
def test_a_file_without_spans_exits_2(command: str, content: bytes, receiver: Collector, tmp_path: Path) -> None:
    path = tmp_path / "nothing.jsonl"
    path.write_bytes(content)
    code, stderr = run(command, path, receiver)
    assert_one_error_line(command, code, stderr, str(path), line=False)


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("cut", [5, 40], ids=["5 bytes", "40 bytes"])
def test_a_truncated_gzip_exits_2(command: str, cut: int, valid_line: str, receiver: Collector, tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(gzip.compress((valid_line + "\n").encode() * 50)[:cut])
    code, stderr = run(command, path, receiver)
    assert_one_error_line(command, code, stderr, str(path))


@pytest.mark.parametrize("command", COMMANDS)
def test_a_3000_deep_parent_chain_is_read(command: str, valid_line: str, receiver: Collector, tmp_path: Path) -> None:
    payload, span = _span(valid_line)
    spans = []
    for depth in range(3000):
        deep = copy.deepcopy(span)
        deep["spanId"] = format(depth + 1, "016x")
        deep["parentSpanId"] = format(depth, "016x") if depth else ""
        spans.append(deep)
    payload["resourceSpans"][0]["scopeSpans"][0]["spans"] = spans
    path = tmp_path / "deep.jsonl"
    path.write_text(json.dumps(payload) + "\n")
    code, stderr = run(command, path, receiver)
    assert code == 0, stderr
    if command == "push":
        assert all(receiver.received[format(depth + 1, "016x")] >= 1 for depth in range(3000))


def test_view_of_a_deep_chain_stops_indenting_and_counts_the_rest(valid_line: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    payload, span = _span(valid_line)
    chain = []
    for depth in range(3000):
        deep = dict(span, spanId=format(depth + 1, "016x"), parentSpanId=format(depth, "016x") if depth else "")
        chain.append(deep)
    chain[0]["parentSpanId"] = format(3000, "016x")  # and a cycle: the first span's parent is the last
    payload["resourceSpans"][0]["scopeSpans"][0]["spans"] = chain
    path = tmp_path / "deep.jsonl"
    path.write_text(json.dumps(payload) + "\n")
    assert main(["view", str(path)]) == 0
    out = capsys.readouterr().out
    assert "... 2952 more spans" in out
    assert max(len(line) - len(line.lstrip()) for line in out.splitlines()) <= 2 * 49


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        ("gt.jsonl", "[" * 100_000 + "]" * 100_000 + "\n", "gt.jsonl:1"),
        ("gt.jsonl", GROUND_TRUTH + '{"request": "x", "expected_retrieved_context": [{"doc_uri": ["a"]}]}\n', "gt.jsonl:2"),
        ("gt.jsonl", GROUND_TRUTH + '{"trace_id": 5, "expected_retrieved_context": [{"doc_uri": "a"}]}\n', "gt.jsonl:2"),
        ("gt.jsonl", GROUND_TRUTH + "[]\n", "gt.jsonl:2"),
        ("gt.csv", "request,doc_uri\nq," + "u" * 200_000 + "\n", "gt.csv:2"),
        ("gt.csv", "request,url\nq,a\n", "gt.csv:1"),
        ("gt.jsonl", "", "gt.jsonl"),
    ],
    ids=["JSON bomb", "doc_uri a list", "trace_id a number", "a list", "CSV field of 200 KB", "CSV without doc_uri", "empty"],
)
def test_a_hostile_ground_truth_exits_2_naming_file_and_line(name: str, text: str, where: str, valid_line: str, tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    trace.write_text(valid_line + "\n")
    truth = tmp_path / name
    truth.write_text(text)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["evaluate", str(trace), "--ground-truth", str(truth)])
    assert code == 2
    assert len(err.getvalue().splitlines()) == 1, err.getvalue()
    assert err.getvalue().startswith(f"agent-tracing evaluate: error: {tmp_path / where}: ")


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("evaluate", "--k", "1e10"), "--k '1e10'"),
        (("evaluate", "--k", "1,3,30000000"), "--k '1,3,30000000': '30000000' is not a whole number from 1 to 10000"),
        (("evaluate", "--k", ""), "--k ''"),
        (("evaluate", "--fail-under", "mrr=nan"), "--fail-under 'mrr=nan': VALUE must be a number from 0 to 1"),
        (("evaluate", "--fail-under", "recall@3=inf"), "--fail-under 'recall@3=inf'"),
        (("evaluate", "--fail-under", "recall@3"), "--fail-under 'recall@3': expected METRIC=VALUE"),
        (("evaluate", "--fail-under", "recall@99999999=0.5"), "unknown metric 'recall@99999999'"),
        (("view", "--max-depth", "-1"), "argument --max-depth: '-1' is not a whole number"),
        (("view", "--trace", "xyz"), "--trace 'xyz': expected a trace id"),
        (("view", "--span", "\x1b[2J"), "--span '\\x1b[2J'"),
        (("push", "--batch-size", "0"), "argument --batch-size"),
        (("push", "--timeout", "nan"), "argument --timeout"),
        (("push", "--retry-for", "-1"), "argument --retry-for"),
        (("push", "--header", "Authorization Bearer s3cr3t"), "--header (the first): expected NAME=VALUE"),
    ],
)
def test_bad_options_exit_2_with_one_line_naming_the_option(args: tuple[str, ...], named: str, valid_line: str, receiver: Collector, tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    trace.write_text(valid_line + "\n")
    command, *options = args
    code, stderr = run(command, trace, receiver, *options)
    assert code == 2
    assert len(stderr.splitlines()) == 1, stderr
    assert named in stderr
    assert "s3cr3t" not in stderr and "\x1b" not in stderr


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
_garbage = st.one_of(
    st.binary(min_size=1, max_size=120),
    st.text(min_size=1, max_size=120),
    _json.map(json.dumps),
    st.dictionaries(st.sampled_from(["resourceSpans", "scopeSpans", "spans"]), _json, min_size=1).map(json.dumps),
).map(lambda value: value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass"))
_HOSTILE_VALUES = [None, 0, -1, 5, 1e30, -1e30, "1e30", "", "zz", "\x1b]0;title\x07", [], {}, True, 2**64, -(2**63) - 1, "9" * 30, float("nan"),
                   [{"key": 1}], {"key": "k"}, [{"key": "k", "value": {"intValue": "x"}}], [{"key": "k", "value": {"kvlistValue": {"values": 5}}}]]
_FIELDS = ["name", "traceId", "spanId", "parentSpanId", "startTimeUnixNano", "endTimeUnixNano", "kind", "status", "attributes", "events",
           "links", "flags", "traceState"]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(command=st.sampled_from(COMMANDS), lines=st.lists(_garbage, min_size=1, max_size=5))
def test_property_garbage_files_exit_2_with_one_line(command: str, lines: list[bytes], receiver: Collector) -> None:
    lines = [line.replace(b"\n", b" ").replace(b"\r", b" ") for line in lines]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "garbage.jsonl"
        path.write_bytes(b"\n".join(lines) + b"\n")
        code, stderr = run(command, path, receiver)
    assert_one_error_line(command, code, stderr, str(path), line=False)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    command=st.sampled_from(COMMANDS),
    changes=st.lists(st.tuples(st.sampled_from(_FIELDS), st.sampled_from(_HOSTILE_VALUES)), min_size=1, max_size=4),
    garbage=st.lists(_garbage, max_size=2),
)
def test_property_hostile_spans_beside_a_good_one_never_crash(
    command: str, changes: list[tuple[str, Any]], garbage: list[bytes], valid_line: str, receiver: Collector
) -> None:
    payload, span = _span(valid_line)
    for field, value in changes:
        span[field] = value
    lines = [valid_line.encode(), json.dumps(payload).encode(), *(g.replace(b"\n", b" ").replace(b"\r", b" ") for g in garbage)]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mixed.jsonl"
        path.write_bytes(b"\n".join(lines) + b"\n")
        code, stderr = run(command, path, receiver)
    assert "Traceback" not in stderr
    assert code in ((0, 1) if command == "push" else (0,)), stderr
    for line in stderr.splitlines():
        if line.startswith("agent-tracing: warning: "):
            assert re.fullmatch(rf"agent-tracing: warning: {re.escape(str(path))}:[0-9]+: skipped an unreadable line: \S.*", line), line
    assert "\x1b" not in stderr
