"""MLflow's ResponsesAgent helpers and ours, fed the same inputs inside the interop environment, give the same outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.servers import interop

pytestmark = [pytest.mark.servers, pytest.mark.slow]

PARITY_SCRIPT = r'''
import json
from mlflow.pyfunc import ResponsesAgent as MLflowAgent
from mlflow.types.responses import ResponsesAgentRequest as MLflowRequest
import tracing

CHUNKS = [
    {"id": "c1", "choices": []},
    {"id": "c1", "choices": [{"delta": {"content": [{"type": "reasoning", "summary": [{"type": "summary_text", "text": "think "}]}]}}]},
    {"id": "c1", "choices": [{"delta": {"content": [{"type": "reasoning", "summary": [{"type": "summary_text", "text": "more"}]}]}}]},
    {"id": "c1", "choices": [{"delta": {"content": "Hello"}}]},
    {"id": "c1", "choices": [{"delta": {"content": [{"type": "text", "text": " world"}]}}]},
    {"id": "c1", "choices": [{"delta": {"tool_calls": [{"index": 0, "id": "call_1", "function": {"name": "search", "arguments": "{\"q\""}}]}}]},
    {"id": "c1", "choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"arguments": ": \"x\"}"}}]}}]},
    {"id": "c1", "choices": [{"delta": {"tool_calls": [{"index": 1, "id": "call_2", "function": {"name": "noop"}}]}}]},
    {"id": "c1", "choices": [{"delta": {"content": None}}]},
]
TEXT_ONLY = [{"id": "c2", "choices": [{"delta": {"content": word}}]} for word in ["a ", "b"]]
INPUT = [
    {"role": "system", "content": "be brief"},
    {"role": "user", "content": "hi"},
    {"type": "message", "id": "m0", "role": "assistant", "content": [{"type": "output_text", "text": "earlier", "annotations": []}]},
    {"type": "function_call", "id": "f1", "call_id": "call_1", "name": "search", "arguments": ""},
    {"type": "function_call_output", "call_id": "call_1", "output": "found"},
    {"type": "function_call_output", "call_id": "call_2", "output": {"rows": [1, 2]}},
    {"type": "reasoning", "id": "r1", "summary": [{"type": "summary_text", "text": "thought"}]},
    {"type": "mcp_approval_request", "id": "a1", "arguments": "{}", "name": "deploy", "server_label": "ops"},
    {"type": "mcp_approval_response", "id": "a2", "approval_request_id": "a1", "approve": True},
    {"type": "unknown", "foo": "bar"},
]
REQUEST = {"input": INPUT[:5] + INPUT[6:7]}


def dump(value):
    if isinstance(value, list):
        return [dump(item) for item in value]
    if hasattr(value, "model_dump"):
        return value.model_dump(exclude_none=True)
    return value


def both(call):
    results = []
    for helpers in (MLflowAgent, tracing.ResponsesAgent, tracing):
        try:
            results.append(dump(call(helpers)))
        except Exception as exc:
            results.append({"raised": type(exc).__name__})
    return results


def stream(helpers, chunks):
    aggregator = []
    events = list(helpers.output_to_responses_items_stream(iter(chunks), aggregator))
    return {"events": dump(events), "aggregator": aggregator}


cases = {
    "create_text_output_item": both(lambda h: h.create_text_output_item("hi", "m1")),
    "create_text_output_item_annotated": both(lambda h: h.create_text_output_item("hi", "m1", [{"type": "url_citation", "url": "https://kb"}])),
    "create_annotation_added": both(lambda h: h.create_annotation_added("m1", {"type": "url_citation", "url": "https://kb"})),
    "create_annotation_added_index": both(lambda h: h.create_annotation_added("m1", {"type": "file_citation"}, 3)),
    "create_text_delta": both(lambda h: h.create_text_delta("d", "m1")),
    "create_reasoning_item": both(lambda h: h.create_reasoning_item("r1", "why")),
    "create_function_call_item": both(lambda h: h.create_function_call_item("f1", "c1", "search", "{}")),
    "create_function_call_output_item": both(lambda h: h.create_function_call_output_item("c1", "out")),
    "prep_msgs_for_cc_llm_dicts": both(lambda h: h.prep_msgs_for_cc_llm(INPUT)),
    "prep_msgs_for_cc_llm_models": [
        dump(MLflowAgent.prep_msgs_for_cc_llm(MLflowRequest(**REQUEST).input)),
        dump(tracing.ResponsesAgent.prep_msgs_for_cc_llm(tracing.ResponsesAgentRequest(**REQUEST).input)),
        dump(tracing.prep_msgs_for_cc_llm(tracing.ResponsesAgentRequest(**REQUEST).input)),
    ],
    "output_to_responses_items_stream": both(lambda h: stream(h, CHUNKS)),
    "output_to_responses_items_stream_text": both(lambda h: stream(h, TEXT_ONLY)),
    "output_to_responses_items_stream_empty": both(lambda h: stream(h, [])),
    "responses_agent_output_reducer": both(lambda h: h.responses_agent_output_reducer(
        [h.create_text_delta("x", "m1"), {"type": "response.output_item.done", "item": h.create_text_output_item("x", "m1")},
         {"type": "response.output_item.done", "item": h.create_function_call_item("f1", "c1", "search", "{}")}])),
    "responses_agent_output_reducer_events": both(lambda h: h.responses_agent_output_reducer(
        list(h.output_to_responses_items_stream(iter(CHUNKS))))),
}
print("INTEROP-RESULT " + json.dumps(cases))
'''


@pytest.fixture(scope="module")
def cases(interop_python: Path) -> dict[str, list[Any]]:
    """Each helper's output from MLflow, from `tracing.ResponsesAgent` and from the `tracing` module function."""
    return interop.run_script(PARITY_SCRIPT)


HELPERS = [
    "create_text_output_item", "create_text_output_item_annotated", "create_annotation_added",
    "create_annotation_added_index", "create_text_delta", "create_reasoning_item", "create_function_call_item",
    "create_function_call_output_item", "prep_msgs_for_cc_llm_dicts", "prep_msgs_for_cc_llm_models",
    "output_to_responses_items_stream",
    "output_to_responses_items_stream_text", "output_to_responses_items_stream_empty",
    "responses_agent_output_reducer",
    "responses_agent_output_reducer_events",
]
NAMES = [case if isinstance(case, str) else case.values[0] for case in HELPERS]


@pytest.mark.parametrize("case", HELPERS)
def test_our_helpers_give_what_mlflow_gives(cases: dict[str, list[Any]], case: str) -> None:
    theirs, method, function = cases[case]
    assert method == theirs
    assert function == theirs


def test_the_cases_cover_every_helper(cases: dict[str, list[Any]]) -> None:
    assert set(cases) == set(NAMES)
    assert cases["create_text_output_item"][0]["content"][0]["annotations"] == [], "MLflow's item always has annotations"
