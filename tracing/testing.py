"""Spans in tests: a pipeline isolated per test, and a small query API over the spans it finished.

The `captured_spans` pytest fixture (`tracing.pytest_plugin`) hands a `CapturedSpans` to a test. Spans are read back
through the trace-file decoder, so a test sees exactly what a trace file would hold:

    def test_agent(captured_spans):
        MyAgent().predict({"input": [{"role": "user", "content": "hi"}]})
        agent = captured_spans.one(name="MyAgent.predict", type="AGENT")
        assert agent.outputs["output"][0]["content"][0]["text"] == "hello"
        captured_spans.assert_tree('''
            MyAgent.predict [AGENT]
              retrieve [RETRIEVER]
        ''')
"""

from __future__ import annotations

import contextlib
import difflib
import json
import textwrap
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

from exporters._encode import encode_json_line
from exporters.evaluation.dataset import documents as _read_documents
from exporters.tracefiles.reader import SpanEvent, SpanRecord, decode_line
from tracing import _runtime, keys
from tracing._recorder import span_type_name
from tracing.keys import SpanType

MAX_LISTED = 60
"""At most this many spans are listed in the message of a failed `one()`."""

Shape = str | Mapping[str, Any] | Sequence[Any]
"""An expected span tree: indented `Name [TYPE]` lines, or nested dicts / lists of such labels (see `assert_tree`)."""


@dataclass(frozen=True)
class StreamInfo:
    """What a stream span recorded: chunks yielded, whether the consumer stopped early, time to the first chunk."""

    chunks: int
    cancelled: bool
    first_chunk_ms: float | None


class CapturedSpan:
    """One finished span as a trace file holds it, linked to its captured parent and children."""

    def __init__(self, record: SpanRecord) -> None:
        self.record = record
        self.parent: CapturedSpan | None = None
        self.children: list[CapturedSpan] = []

    @property
    def name(self) -> str:
        """The span's name."""
        return self.record.name

    @property
    def type(self) -> str:
        """The span type (AGENT, TOOL, RETRIEVER, ...)."""
        return self.record.span_type

    @property
    def attributes(self) -> dict[str, Any]:
        """Every attribute, as the trace file holds it."""
        return self.record.attributes

    @property
    def inputs(self) -> Any:
        """The decoded input value (JSON decoded, text stays text); None when the span has none."""
        return _value(self.attributes, keys.INPUT_VALUE, keys.INPUT_MIME_TYPE)

    @property
    def outputs(self) -> Any:
        """The decoded output value (JSON decoded, text stays text); None when the span has none."""
        return _value(self.attributes, keys.OUTPUT_VALUE, keys.OUTPUT_MIME_TYPE)

    @property
    def status(self) -> str:
        """UNSET, OK or ERROR."""
        return self.record.status_code

    @property
    def status_message(self) -> str:
        """The status description (an ERROR's message)."""
        return self.record.status_message

    @property
    def events(self) -> list[SpanEvent]:
        """The span's events (exceptions, stream chunks when enabled), each with name, time and attributes."""
        return self.record.events

    @property
    def documents(self) -> list[dict[str, Any]]:
        """A retriever's (or reranker's) documents in rank order: id, content, score, doc_uri, metadata."""
        return [{name: document[name] for name in ("id", "content", "score", "doc_uri", "metadata")}
                for document in _read_documents(self.record)]

    @property
    def stream(self) -> StreamInfo | None:
        """What a stream span recorded, or None for a span that is not a stream."""
        chunks = self.attributes.get(keys.STREAM_CHUNKS)
        if chunks is None:
            return None
        first = self.attributes.get(keys.STREAM_FIRST_CHUNK_MS)
        return StreamInfo(int(chunks), bool(self.attributes.get(keys.STREAM_CANCELLED, False)),
                          float(first) if first is not None else None)

    @property
    def trace_id(self) -> str:
        """The trace id in lowercase hex."""
        return self.record.trace_id

    @property
    def span_id(self) -> str:
        """The span id in lowercase hex."""
        return self.record.span_id

    @property
    def duration_ms(self) -> float:
        """How long the span ran, in milliseconds."""
        return self.record.duration_ms

    def assert_tree(self, expected: Shape) -> None:
        """Assert the tree under this span (this span included) has the expected shape (see `CapturedSpans.assert_tree`)."""
        __tracebackhide__ = True
        _assert_forest([self], _parse_shape(expected))

    def __repr__(self) -> str:
        return f"<CapturedSpan {_label(self)} status={self.status}>"


def _value(attributes: Mapping[str, Any], key: str, mime_key: str) -> Any:
    value = attributes.get(key)
    if not isinstance(value, str) or attributes.get(mime_key) == keys.TEXT:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _label(span: CapturedSpan) -> str:
    return f"{span.name} [{span.type}]"


class _Capture(SpanProcessor):
    """The test's span processor: keeps the spans that started in this pipeline, in the order they end."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started: set[tuple[int, int]] = set()
        self.finished: list[ReadableSpan] = []

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        context = span.get_span_context()
        with self._lock:
            self._started.add((context.trace_id, context.span_id))

    def on_end(self, span: ReadableSpan) -> None:
        context = span.context
        started = (context.trace_id, context.span_id) if context is not None else None
        with self._lock:
            if started in self._started:
                self._started.discard(started)
                self.finished.append(span)

    def clear(self) -> None:
        with self._lock:
            self.finished.clear()

    def snapshot(self) -> list[ReadableSpan]:
        with self._lock:
            return list(self.finished)


class CapturedSpans:
    """The spans a test finished, read back as a trace file holds them, with queries and a tree assertion."""

    def __init__(self) -> None:
        self._capture = _Capture()
        self._read: tuple[int, list[CapturedSpan]] = (0, [])

    def configure(self, **settings: Any) -> CapturedSpans:
        """Start again with these `tracing.configure` settings (e.g. `capture_content=False`); spans so far are left behind."""
        capture = _Capture()
        settings.setdefault("sample_ratio", 1.0)
        _runtime.configure(exporters=[capture], **settings)
        self._capture, self._read = capture, (0, [])
        return self

    def all(self, name: str | None = None, type: SpanType | str | None = None) -> list[CapturedSpan]:
        """The finished spans with this name and type (either may be left out), in the order they started."""
        wanted = span_type_name(type) if type is not None else None
        return [span for span in self._spans() if (name is None or span.name == name) and (wanted is None or span.type == wanted)]

    def one(self, name: str | None = None, type: SpanType | str | None = None) -> CapturedSpan:
        """The one finished span with this name and type; an AssertionError listing every captured span otherwise."""
        __tracebackhide__ = True
        found = self.all(name, type)
        if len(found) != 1:
            wanted = ", ".join(f"{label}={value!r}" for label, value in (("name", name), ("type", type and span_type_name(type)))
                               if value is not None) or "any"
            raise AssertionError(f"expected exactly one span ({wanted}), found {len(found)}; captured:\n{self._listing()}")
        return found[0]

    def roots(self) -> list[CapturedSpan]:
        """The spans whose parent was not captured (trace roots, or spans continuing a remote trace)."""
        return [span for span in self._spans() if span.parent is None]

    def tree(self) -> str:
        """Every captured span as indented `Name [TYPE]` lines (children under their parent, in start order)."""
        return "\n".join(_render(self.roots())) or "(no span)"

    def _listing(self) -> str:
        """The tree, cut to MAX_LISTED lines for a failure message."""
        lines = self.tree().splitlines()
        more = f"\n... and {len(lines) - MAX_LISTED} more spans" if len(lines) > MAX_LISTED else ""
        return "\n".join(lines[:MAX_LISTED]) + more

    def assert_tree(self, expected: Shape) -> None:
        """Assert the captured spans form exactly this forest; an AssertionError with a diff of the trees otherwise.

        `expected` is either text, one span a line as `Name [TYPE]` (or just `Name` to accept any type), children
        indented under their parent; or nested data: a dict `{label: children}` whose children are a dict, a list or
        None, or a list of labels and such dicts (a list allows the same label twice). Children are compared in the
        order they started.
        """
        __tracebackhide__ = True
        _assert_forest(self.roots(), _parse_shape(expected))

    def clear(self) -> None:
        """Forget the spans finished so far."""
        _runtime.force_flush()
        self._capture.clear()
        self._read = (0, [])

    def __len__(self) -> int:
        return len(self._spans())

    def __iter__(self) -> Iterator[CapturedSpan]:
        return iter(self._spans())

    def _spans(self) -> list[CapturedSpan]:
        _runtime.force_flush()
        finished = self._capture.snapshot()
        count, spans = self._read
        if count != len(finished):
            spans = _linked(finished)
            self._read = (len(finished), spans)
        return spans


def _linked(finished: list[ReadableSpan]) -> list[CapturedSpan]:
    """The spans decoded from their OTLP JSON, sorted by start time, each linked to its captured parent."""
    records = decode_line(encode_json_line(finished)) if finished else []
    spans = [CapturedSpan(record) for record in sorted(records, key=lambda record: record.start_time_unix_nano)]
    by_id = {(span.trace_id, span.span_id): span for span in spans}
    for span in spans:
        parent = by_id.get((span.trace_id, span.record.parent_span_id or ""))
        if parent is not None:
            span.parent = parent
            parent.children.append(span)
    return spans


@dataclass
class _Node:
    """One span of an expected shape: name, type (None matches any) and children."""

    name: str
    type: str | None
    children: list[_Node] = field(default_factory=list)


def _parse_label(label: str) -> _Node:
    text = label.strip()
    if text.endswith("]") and " [" in text:
        name, _, kind = text[:-1].rpartition(" [")
        return _Node(name.strip(), span_type_name(kind))
    return _Node(text, None)


def _parse_shape(expected: Shape) -> list[_Node]:
    if isinstance(expected, str):
        return _parse_text(expected)
    if isinstance(expected, Mapping):
        return [_with_children(_parse_label(str(label)), children) for label, children in expected.items()]
    found: list[_Node] = []
    for item in expected:
        found.extend(_parse_shape(item) if isinstance(item, Mapping) else [_parse_label(str(item))])
    return found


def _with_children(node: _Node, children: Any) -> _Node:
    node.children = [] if children is None else _parse_shape(children)
    return node


def _parse_text(text: str) -> list[_Node]:
    roots: list[_Node] = []
    stack: list[tuple[int, _Node]] = []
    for line in textwrap.dedent(text).splitlines():
        if not line.strip():
            continue
        depth = len(line) - len(line.lstrip())
        node = _parse_label(line)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        (stack[-1][1].children if stack else roots).append(node)
        stack.append((depth, node))
    return roots


def _matches(actual: Sequence[CapturedSpan], expected: Sequence[_Node]) -> bool:
    return len(actual) == len(expected) and all(
        span.name == node.name and node.type in (None, span.type) and _matches(span.children, node.children)
        for span, node in zip(actual, expected)
    )


def _assert_forest(actual: Sequence[CapturedSpan], expected: Sequence[_Node]) -> None:
    __tracebackhide__ = True
    if _matches(actual, expected):
        return
    want = list(_render_expected(expected))
    got = list(_render(actual, expected))
    diff = "\n".join(difflib.unified_diff(want, got, "expected", "captured", lineterm="", n=max(len(want), len(got))))
    raise AssertionError(f"the captured spans do not have the expected shape:\n{diff}")


def _render(spans: Sequence[CapturedSpan], like: Sequence[_Node] = (), depth: int = 0) -> Iterator[str]:
    """Indented labels; a span is shown without its type where the expected node in its place gives none."""
    for index, span in enumerate(spans):
        node = like[index] if index < len(like) else None
        shown = span.name if node is not None and node.type is None and node.name == span.name else _label(span)
        yield "  " * depth + shown
        yield from _render(span.children, node.children if node is not None else (), depth + 1)


def _render_expected(nodes: Sequence[_Node], depth: int = 0) -> Iterator[str]:
    for node in nodes:
        yield "  " * depth + (node.name if node.type is None else f"{node.name} [{node.type}]")
        yield from _render_expected(node.children, depth + 1)


@contextlib.contextmanager
def capturing(**settings: Any) -> Iterator[CapturedSpans]:
    """Trace into a fresh pipeline that captures spans for the block; the previous pipeline is put back afterwards.

    The pipeline active before is set aside, not shut down: spans it started end there, and it is the active one
    again after the block, with the settings and exporters it had. The block's pipeline is shut down at its end.
    """
    with _runtime.set_aside():
        yield CapturedSpans().configure(**settings)
