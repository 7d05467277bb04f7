"""The fixed cost of an agent turn (issue 15): message items that are plain dicts are read by shortcuts in
`tracing._llm`; whatever the item, they must read it as the general reading of the same item as any other mapping
does (a read-only mapping view takes the general path)."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tracing import _llm

_TEXT = st.one_of(st.text(max_size=12), st.just(""))
_ODD = st.one_of(st.none(), st.integers(), st.lists(st.integers(), max_size=2), st.booleans())
_PARTS = st.dictionaries(st.sampled_from(["type", "text", "refusal", "annotations"]),
                         st.one_of(st.sampled_from(["output_text", "input_text", "text", "refusal", "image_url"]),
                                   _TEXT, _ODD), max_size=4)
_CONTENT = st.one_of(_TEXT, _ODD, st.lists(st.one_of(_PARTS, _TEXT, _ODD), max_size=4))
_ROLES = st.sampled_from(["user", "assistant", "tool", "system", "message", "reasoning", "function_call"])
_ITEMS = st.one_of(
    st.fixed_dictionaries({"role": st.one_of(_ROLES, _ODD), "content": _CONTENT},
                          optional={"type": st.one_of(_ROLES, _ODD), "id": _TEXT, "status": _ODD,
                                    "tool_calls": st.one_of(_ODD, st.just([])),
                                    "reasoning_content": st.one_of(_TEXT, _ODD)}),
    st.dictionaries(st.sampled_from(["role", "content", "type", "id", "tool_calls", "reasoning_content", "status"]),
                    st.one_of(_ROLES, _CONTENT, _ODD), max_size=6))


def _viewed(item: Any) -> Any:
    """The same item (and its content parts) as read-only mappings, which the general path reads."""
    if not isinstance(item, dict):
        return item
    content = item.get("content")
    if isinstance(content, list):
        content = [MappingProxyType(part) if isinstance(part, dict) else part for part in content]
        item = {**item, "content": content}
    return MappingProxyType(item)


@settings(max_examples=500, deadline=None)
@given(items=st.lists(_ITEMS, max_size=4))
def test_plain_dict_items_read_as_any_mapping_of_them_reads(items: list[dict[str, Any]]) -> None:
    assert _llm.item_messages(items) == _llm.item_messages([_viewed(item) for item in items])


def test_an_output_message_with_content_parts_reads_its_texts() -> None:
    item = {"type": "message", "id": "m", "role": "assistant",
            "content": [{"type": "output_text", "text": "a"}, {"type": "refusal", "refusal": "no"}, {"type": "image"}]}
    assert _llm.item_messages([item]) == [{"role": "assistant", "parts": [{"type": "text", "content": "a"},
                                                                           {"type": "text", "content": "no"}]}]
