"""The `captured_spans` fixture of the pytest plugin: its query API, its tree assertion and its isolation."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tracing
from tracing import keys
from tracing.testing import MAX_LISTED, CapturedSpans, capturing


@tracing.trace(span_type="TOOL")
def lookup(city: str) -> dict[str, str]:
    """A tool returning JSON."""
    return {"city": city, "weather": "sunny"}


@tracing.trace(span_type="AGENT")
def plan(question: str) -> str:
    """An agent calling the tool twice and answering in text."""
    lookup("Paris")
    lookup("Oslo")
    return f"answer to {question}"


@tracing.trace
def words(count: int) -> Iterator[str]:
    """A stream of words."""
    for index in range(count):
        yield f"w{index} "


@tracing.trace(span_type="RETRIEVER")
def search_kb(query: str) -> list[dict[str, object]]:
    """A retriever whose rows the schema maps to documents."""
    return [
        {"chunk_id": "c1", "body": "OpenTelemetry carries context.", "url": "https://docs/1", "score": 0.9, "title": "one"},
        {"chunk_id": "c2", "body": "Spans nest.", "url": "https://docs/2", "score": 0.4, "title": "two"},
    ]


def test_one_finds_the_span_by_name_and_type_with_decoded_inputs_and_outputs(captured_spans: CapturedSpans) -> None:
    plan("weather?")
    agent = captured_spans.one(name="plan", type="AGENT")
    assert agent.inputs == {"question": "weather?"}
    assert agent.outputs == "answer to weather?"
    assert agent.parent is None and agent.status == "UNSET"
    assert [(child.name, child.type, child.outputs["city"]) for child in agent.children] == [
        ("lookup", "TOOL", "Paris"), ("lookup", "TOOL", "Oslo"),
    ]
    assert all(child.parent is agent for child in agent.children)
    assert agent.attributes[keys.GEN_AI_OPERATION_NAME] == keys.OPERATION_INVOKE_AGENT
    assert captured_spans.one(type=tracing.SpanType.AGENT) is agent


def test_all_filters_by_name_and_type_in_start_order(captured_spans: CapturedSpans) -> None:
    plan("a")
    plan("b")
    assert [span.inputs for span in captured_spans.all(name="plan")] == [{"question": "a"}, {"question": "b"}]
    assert len(captured_spans.all(type="tool")) == 4
    assert captured_spans.all(name="plan", type="TOOL") == []
    assert len(captured_spans) == 6 and len(captured_spans.roots()) == 2


def test_one_fails_with_every_captured_span_listed(captured_spans: CapturedSpans) -> None:
    plan("q")
    with pytest.raises(AssertionError) as missing:
        captured_spans.one(name="lookup")
    assert str(missing.value) == (
        "expected exactly one span (name='lookup'), found 2; captured:\nplan [AGENT]\n  lookup [TOOL]\n  lookup [TOOL]"
    )
    with pytest.raises(AssertionError, match=r"expected exactly one span \(name='nothing', type='LLM'\), found 0"):
        captured_spans.one(name="nothing", type="LLM")


def test_an_exception_is_status_and_event(captured_spans: CapturedSpans) -> None:
    @tracing.trace
    def broken() -> None:
        raise ValueError("no model")

    with pytest.raises(ValueError):
        broken()
    span = captured_spans.one(name="broken")
    assert span.status == "ERROR" and "no model" in span.status_message
    assert [(event.name, event.attributes[keys.EXCEPTION_TYPE]) for event in span.events] == [(keys.EXCEPTION_EVENT, "ValueError")]


def test_a_stream_tells_its_chunks_and_whether_it_was_cancelled(captured_spans: CapturedSpans) -> None:
    assert list(words(3)) == ["w0 ", "w1 ", "w2 "]
    stream = words(5)
    next(stream)
    stream.close()
    finished, cancelled = captured_spans.all(name="words")
    assert finished.outputs == "w0 w1 w2 "
    assert finished.stream is not None and finished.stream.chunks == 3 and not finished.stream.cancelled
    assert finished.stream.first_chunk_ms is not None and finished.stream.first_chunk_ms >= 0
    assert cancelled.stream is not None and (cancelled.stream.chunks, cancelled.stream.cancelled) == (1, True)
    assert cancelled.outputs == "w0 "


def test_a_span_that_is_not_a_stream_has_no_stream_info(captured_spans: CapturedSpans) -> None:
    lookup("Rome")
    assert captured_spans.one(name="lookup").stream is None


def test_retriever_documents_come_back_as_dicts(captured_spans: CapturedSpans) -> None:
    tracing.set_retriever_schema(name="search_kb", primary_key="chunk_id", text_column="body", doc_uri="url",
                                 other_columns=["title"])
    search_kb("context")
    assert captured_spans.one(name="search_kb").documents == [
        {"id": "c1", "content": "OpenTelemetry carries context.", "score": 0.9, "doc_uri": "https://docs/1", "metadata": {"title": "one"}},
        {"id": "c2", "content": "Spans nest.", "score": 0.4, "doc_uri": "https://docs/2", "metadata": {"title": "two"}},
    ]


def test_assert_tree_takes_indented_text_with_or_without_types(captured_spans: CapturedSpans) -> None:
    plan("q")
    captured_spans.assert_tree("""
        plan [AGENT]
          lookup [TOOL]
          lookup
    """)
    captured_spans.one(name="plan").children[0].assert_tree("lookup [TOOL]")


def test_assert_tree_takes_nested_dicts_and_lists(captured_spans: CapturedSpans) -> None:
    plan("q")
    captured_spans.assert_tree({"plan [AGENT]": ["lookup [TOOL]", "lookup [TOOL]"]})
    captured_spans.assert_tree([{"plan": ["lookup", {"lookup": None}]}])
    with pytest.raises(AssertionError, match=r"\n   lookup \[TOOL\]\n\+  lookup \[TOOL\]$"):
        captured_spans.assert_tree({"plan": {"lookup [TOOL]": None}})


def test_assert_tree_shows_a_diff_of_the_trees(captured_spans: CapturedSpans) -> None:
    plan("q")
    with pytest.raises(AssertionError) as wrong:
        captured_spans.assert_tree("""
            plan
              lookup [TOOL]
              search [RETRIEVER]
        """)
    assert str(wrong.value) == "\n".join([
        "the captured spans do not have the expected shape:",
        "--- expected",
        "+++ captured",
        "@@ -1,3 +1,3 @@",
        " plan",
        "   lookup [TOOL]",
        "-  search [RETRIEVER]",
        "+  lookup [TOOL]",
    ])


def test_text_inputs_stay_text_and_clear_forgets(captured_spans: CapturedSpans) -> None:
    with tracing.start_span("step", inputs="plain words") as span:
        span.set_outputs("more words")
    step = captured_spans.one(name="step")
    assert (step.inputs, step.outputs) == ("plain words", "more words")
    captured_spans.clear()
    assert captured_spans.all() == [] and captured_spans.tree() == "(no span)"


def test_configure_starts_again_with_other_settings(captured_spans: CapturedSpans) -> None:
    captured_spans.configure(capture_content=False)
    lookup("Paris")
    assert captured_spans.one(name="lookup").outputs is None


@pytest.mark.asyncio
async def test_asyncio_tasks_are_captured_each_in_its_own_trace(captured_spans: CapturedSpans) -> None:
    @tracing.trace(span_type="AGENT")
    async def answer(question: str) -> str:
        await asyncio.sleep(0)
        lookup(question)
        return question

    assert await asyncio.gather(answer("a"), answer("b")) == ["a", "b"]
    captured_spans.assert_tree("answer [AGENT]\n  lookup [TOOL]\nanswer [AGENT]\n  lookup [TOOL]")
    assert len({span.trace_id for span in captured_spans.roots()}) == 2


@pytest.mark.asyncio
async def test_an_async_stream_is_captured(captured_spans: CapturedSpans) -> None:
    @tracing.trace
    async def tokens() -> AsyncIterator[str]:
        for token in ("a", "b"):
            yield token

    assert [token async for token in tokens()] == ["a", "b"]
    stream = captured_spans.one(name="tokens").stream
    assert stream is not None and (stream.chunks, stream.cancelled) == (2, False)


def test_spans_started_before_the_capture_do_not_leak_in_and_the_previous_pipeline_comes_back() -> None:
    before = InMemorySpanExporter()
    tracing.configure(exporters=[before])
    try:
        stream = words(3)
        next(stream)
        with capturing() as captured:
            assert list(stream) == ["w1 ", "w2 "]
            lookup("inside")
            assert [span.name for span in captured] == ["lookup"]
        lookup("after")
        tracing.force_flush()
        assert sorted(span.name for span in before.get_finished_spans()) == ["lookup", "words"]
        assert [span.attributes and span.attributes[keys.INPUT_VALUE] for span in before.get_finished_spans() if span.name == "lookup"] == [
            '{"city": "after"}'
        ]
    finally:
        tracing.shutdown()


def test_spans_of_another_thread_started_inside_the_capture_are_captured(captured_spans: CapturedSpans) -> None:
    worker = threading.Thread(target=plan, args=("from a thread",))
    worker.start()
    worker.join()
    assert captured_spans.one(name="plan").inputs == {"question": "from a thread"}


def test_a_failed_one_lists_at_most_max_listed_spans(captured_spans: CapturedSpans) -> None:
    for _ in range(MAX_LISTED + 5):
        lookup("x")
    with pytest.raises(AssertionError) as many:
        captured_spans.one(name="lookup")
    lines = str(many.value).splitlines()
    assert len(lines) == 1 + MAX_LISTED + 1 and lines[-1] == "... and 5 more spans"


_NAMES = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=12).map(str.strip).filter(bool)
_TREES = st.recursive(st.tuples(_NAMES, st.just(())), lambda children: st.tuples(_NAMES, st.lists(children, max_size=3).map(tuple)),
                      max_leaves=8)


def _start(tree: tuple[str, Any]) -> None:
    name, children = tree
    with tracing.start_span(name, span_type="TOOL" if children else "CHAIN"):
        for child in children:
            _start(child)


@settings(max_examples=150, deadline=None)
@given(forest=st.lists(_TREES, min_size=1, max_size=3))
def test_any_span_names_round_trip_through_tree_and_assert_tree(forest: list[tuple[str, Any]]) -> None:
    with capturing() as captured:
        for tree in forest:
            _start(tree)
        captured.assert_tree(captured.tree())
        assert len(captured.roots()) == len(forest)
        captured.assert_tree([_shape(tree) for tree in forest])


def _shape(tree: tuple[str, Any]) -> dict[str, Any]:
    name, children = tree
    return {f"{name} [{'TOOL' if children else 'CHAIN'}]": [_shape(child) for child in children]}
