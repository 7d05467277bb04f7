"""Agent request, response and stream-event models on the OpenAI Responses schema.

Field names follow MLflow's ``ResponsesAgent`` types (``mlflow.types.responses``) so payloads
move between the two unchanged; unknown fields are kept rather than dropped, and dumps leave out
fields that are None (what MLflow's ``model_dump(exclude_none=True)`` sends).
"""

from __future__ import annotations

import json
import math
import sys
import types
import typing
import uuid
from collections.abc import Iterable, Iterator, Sequence
from itertools import tee
from typing import Any

from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, model_serializer, model_validator


class _Model(BaseModel):
    """Base of the agent models: unknown fields are kept, fields set to None are left out of dumps."""

    model_config = ConfigDict(extra="allow")

    @model_serializer(mode="wrap")
    def _without_none(self, handler: SerializerFunctionWrapHandler) -> Any:
        """The dump without None-valued fields, as the Responses API and MLflow's serving send them."""
        data = handler(self)
        return {key: value for key, value in data.items() if value is not None} if isinstance(data, dict) else data

    def _plain_json(self) -> dict[str, Any] | None:
        """`model_dump(mode="json")` of a model of this module holding only plain JSON (str, int, float, bool, None,
        lists and str-keyed dicts, this module's models: their JSON dump is what they hold), read without the
        serializer (whose wrap per model costs about a microsecond and a half); None for anything else."""
        kind = type(self)
        try:
            dumped = _plain(self, frozenset((kind,))) if kind in _PLAIN_MODELS else _NOT_PLAIN
        except RecursionError:  # nested deeper than the stack: pydantic's dump (and the writer's depth limit) take it
            return None
        return dumped if type(dumped) is dict else None


class ChatContext(_Model):
    """Who is talking and in which conversation."""

    conversation_id: str | None = None
    user_id: str | None = None


class Message(_Model):
    """An input message: a role and text or content parts."""

    role: str
    content: str | list[dict[str, Any]]
    type: str = "message"
    status: str | None = None


class OutputItem(_Model):
    """An output item (message, function_call, function_call_output, reasoning, ...)."""

    type: str

    @model_validator(mode="after")
    def _check_known_types(self) -> OutputItem:
        """Validate the fields that message and function_call items require."""
        if self.type == "message":
            _MessageItem.model_validate(self.model_dump())
        elif self.type == "function_call":
            _FunctionCallItem.model_validate(self.model_dump())
        elif self.type == "function_call_output":
            _FunctionCallOutputItem.model_validate(self.model_dump())
        return self


class _MessageItem(_Model):
    id: str
    content: list[dict[str, Any]]
    role: str = "assistant"


class _FunctionCallItem(_Model):
    arguments: str
    call_id: str
    name: str


class _FunctionCallOutputItem(_Model):
    call_id: str
    output: str


class ResponseError(_Model):
    """An error reported by an agent."""

    code: str | None = None
    message: str


class ResponsesAgentRequest(_Model):
    """Request to an agent: input messages or items, custom inputs and the chat context."""

    input: list[Message | OutputItem]
    custom_inputs: dict[str, Any] | None = None
    context: ChatContext | None = None
    max_output_tokens: int | None = None
    metadata: dict[str, str] | None = None
    parallel_tool_calls: bool | None = None
    reasoning: dict[str, Any] | None = None
    store: bool | None = None
    stream: bool | None = None
    temperature: float | None = None
    text: Any | None = None
    tool_choice: str | dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    top_p: float | None = None
    truncation: str | None = None
    user: str | None = None


class ResponsesAgentResponse(_Model):
    """Response of an agent: output items and custom outputs."""

    output: list[OutputItem]
    custom_outputs: dict[str, Any] | None = None
    id: str | None = None
    created_at: float | None = None
    error: ResponseError | None = None
    model: str | None = None
    object: str = "response"
    status: str | None = None
    usage: dict[str, Any] | None = None

    @property
    def output_text(self) -> str:
        """The text of all output_text parts of the message items, joined."""
        return "".join(
            part.get("text", "")
            for item in self.output
            if item.type == "message"
            for part in (getattr(item, "content", None) or [])
            if isinstance(part, dict) and part.get("type") == "output_text"
        )


class _TextDeltaEvent(_Model):
    delta: str
    item_id: str


class _ItemDoneEvent(_Model):
    item: OutputItem


class _ErrorEvent(_Model):
    message: str


_EVENT_SHAPES: dict[str, type[_Model]] = {
    "response.output_text.delta": _TextDeltaEvent,
    "response.output_item.done": _ItemDoneEvent,
    "error": _ErrorEvent,
}


class ResponsesAgentStreamEvent(_Model):
    """One event of an agent's stream: a ``type`` and the fields that type carries."""

    type: str
    custom_outputs: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _check_known_types(self) -> ResponsesAgentStreamEvent:
        """Validate the fields that text deltas, done items and errors require."""
        shape = _EVENT_SHAPES.get(self.type)
        if shape is not None:
            shape.model_validate(self.model_dump())
        return self


_NOT_PLAIN = object()
_SCALARS = (str, int, float, bool)
_NONE: frozenset[type] = frozenset()


def _declared(annotation: Any) -> list[Any]:
    """The types an annotation names, unions and generic arguments opened (list[A | B] -> list, A, B)."""
    found = [annotation]
    for argument in typing.get_args(annotation):
        found.extend(_declared(argument))
    return found


def _field_kinds(model: type[BaseModel]) -> dict[str, tuple[type | None, frozenset[type]]]:
    """By field: the one scalar type it is declared as, if so (their dump converts a value of another type: an int
    in a float field is written 1.0), and the models of this module it names (a model elsewhere is written as the
    type declared there, or inferred, which `_plain` leaves to pydantic)."""
    kinds: dict[str, tuple[type | None, frozenset[type]]] = {}
    for name, info in model.model_fields.items():
        annotation = info.annotation
        declared = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
        scalars = [kind for kind in declared if kind is not type(None)]
        scalar = scalars[0] if len(scalars) == 1 and isinstance(scalars[0], type) and scalars[0] in _SCALARS else None
        kinds[name] = (scalar, frozenset(kind for kind in _declared(annotation) if kind in _MODEL_CLASSES))
    return kinds


_MODEL_CLASSES = (ChatContext, Message, OutputItem, ResponseError, ResponsesAgentRequest, ResponsesAgentResponse,
                  ResponsesAgentStreamEvent)
_PLAIN_MODELS = {model: _field_kinds(model) for model in _MODEL_CLASSES}
"""The models read by `_plain` (exactly these classes: a subclass may serialize its fields its own way)."""


def _plain(value: Any, models: frozenset[type] = _NONE) -> Any:
    """The JSON dump of plain JSON or of this module's models holding it (fields and extras set to None left out, as
    `_without_none` leaves them), else _NOT_PLAIN. `models`: the model classes that may stand here (those its
    field declares, as the field's value or the items of its list); any other model is left to pydantic."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        return value if math.isfinite(value) else _NOT_PLAIN  # pydantic writes NaN and infinities as null
    if kind is list:
        items = []
        for item in value:
            item = _plain(item, models if type(item) is not list else _NONE)
            if item is _NOT_PLAIN:
                return _NOT_PLAIN
            items.append(item)
        return items
    if kind is dict:
        mapping = {}
        for key, item in value.items():
            item = _plain(item)
            if type(key) is not str or item is _NOT_PLAIN:
                return _NOT_PLAIN
            mapping[key] = item
        return mapping
    if kind not in models:
        return _NOT_PLAIN
    fields = _PLAIN_MODELS[kind]
    extra = value.__pydantic_extra__
    dumped = {}
    for key, item in (value.__dict__.items() if not extra else [*value.__dict__.items(), *extra.items()]):
        if item is None:
            continue
        scalar, inner = fields.get(key, (None, _NONE))
        if scalar is not None and type(item) is not scalar:
            return _NOT_PLAIN
        item = _plain(item, inner)
        if item is _NOT_PLAIN:
            return _NOT_PLAIN
        dumped[key] = item
    return dumped



def create_text_delta(delta: str, item_id: str) -> dict[str, Any]:
    """A text delta stream event for the output item ``item_id``."""
    return {"type": "response.output_text.delta", "item_id": item_id, "delta": delta}


def create_annotation_added(item_id: str, annotation: dict[str, Any], annotation_index: int | None = 0) -> dict[str, Any]:
    """A stream event adding an annotation (a citation, a link) to the text of the output item ``item_id``."""
    return {
        "type": "response.output_text.annotation.added",
        "item_id": item_id,
        "annotation_index": annotation_index,
        "annotation": annotation,
    }


def create_text_output_item(text: str, id: str, annotations: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """An assistant message output item holding ``text`` and its ``annotations`` (``[]`` by default, as MLflow's)."""
    content: dict[str, Any] = {"text": text, "type": "output_text", "annotations": annotations or []}
    return {"id": id, "content": [content], "role": "assistant", "type": "message"}


def create_function_call_item(id: str, call_id: str, name: str, arguments: str) -> dict[str, Any]:
    """A function call output item."""
    return {"type": "function_call", "id": id, "call_id": call_id, "name": name, "arguments": arguments}


def create_function_call_output_item(call_id: str, output: str) -> dict[str, Any]:
    """The output item of a function call's result."""
    return {"type": "function_call_output", "call_id": call_id, "output": output}


def create_reasoning_item(id: str, reasoning_text: str) -> dict[str, Any]:
    """A reasoning output item holding a summary text."""
    return {"type": "reasoning", "summary": [{"type": "summary_text", "text": reasoning_text}], "id": id}


# ---------------------------------------------------------------- MLflow's ResponsesAgent helpers, same behaviour


def responses_agent_output_reducer(chunks: list[Any]) -> dict[str, Any]:
    """The response a stream of events amounts to: its ``output_item.done`` items, as MLflow's reducer builds it."""
    items: list[Any] = []
    for chunk in chunks:
        if isinstance(chunk, dict):
            if chunk.get("type") == "response.output_item.done":
                items.append(chunk.get("item"))
        elif getattr(chunk, "type", None) == "response.output_item.done":
            items.append(chunk.item)
    return ResponsesAgentResponse.model_validate({"output": items}).model_dump(exclude_none=True)


def _dump_json(value: Any) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return str(value)


def responses_to_cc(message: dict[str, Any]) -> list[dict[str, Any]]:
    """One Responses input or output item as ChatCompletion messages."""
    kind = message.get("type")
    if kind == "function_call":
        call = {"id": message["call_id"], "type": "function",
                "function": {"arguments": message.get("arguments") or "{}", "name": message["name"]}}
        return [{"role": "assistant", "content": "tool call", "tool_calls": [call]}]
    if kind == "message" and isinstance(message.get("content"), list):
        return [{"role": message["role"], "content": content["text"]} for content in message["content"]]
    if kind == "reasoning":
        return [{"role": "assistant", "content": json.dumps(message["summary"])}]
    if kind == "function_call_output":
        output = message["output"]
        return [{"role": "tool", "content": output if isinstance(output, str) else _dump_json(output),
                 "tool_call_id": message["call_id"]}]
    if kind == "mcp_approval_request":
        call = {"id": message["id"], "type": "function",
                "function": {"arguments": message.get("arguments") or "{}", "name": message["name"]}}
        return [{"role": "assistant", "content": "mcp approval request", "tool_calls": [call]}]
    if kind == "mcp_approval_response":
        return [{"role": "tool", "content": str(message["approve"]), "tool_call_id": message["approval_request_id"]}]
    kept = {key: value for key, value in message.items() if key in ("role", "content", "name", "tool_calls", "tool_call_id")}
    return [kept] if kept else []


def prep_msgs_for_cc_llm(responses_input: Sequence[Any]) -> list[dict[str, Any]]:
    """Responses input items (dicts or models) as ChatCompletion messages, as MLflow's helper converts them."""
    messages: list[dict[str, Any]] = []
    for item in responses_input:
        messages.extend(responses_to_cc(item.model_dump() if isinstance(item, BaseModel) else item))
    return messages


def _event(**fields: Any) -> ResponsesAgentStreamEvent:
    return ResponsesAgentStreamEvent(**fields)


def _cc_stream_to_responses_stream(chunks: Iterable[dict[str, Any]], aggregator: list[dict[str, Any]] | None
                                   ) -> Iterator[ResponsesAgentStreamEvent]:
    """ChatCompletion chunks as Responses events: text deltas, then one done item for the text, one per tool call."""
    text = ""
    reasoning = ""
    tool_calls: dict[int, dict[str, Any]] = {}
    message_id = None
    for chunk in chunks:
        if chunk.get("choices") is None or len(chunk["choices"]) == 0:
            continue
        delta = chunk["choices"][0]["delta"]
        message_id = chunk.get("id", None)
        content = delta.get("content", None)
        if calls := delta.get("tool_calls"):
            for fragment in calls:
                index = fragment.get("index", 0)
                function = fragment.get("function", {})
                if index not in tool_calls:
                    tool_calls[index] = {"id": fragment.get("id"),
                                         "function": {"name": function.get("name", ""),
                                                      "arguments": function.get("arguments", "")}}
                else:
                    tool_calls[index]["function"]["arguments"] += function.get("arguments", "")
        elif content is not None:
            if isinstance(content, list):
                for part in content:
                    if isinstance(part, dict):
                        if part.get("type") == "reasoning":
                            reasoning += part.get("summary", [])[0].get("text", "")
                        if part.get("type") == "text" and part.get("text"):
                            text += part["text"]
                            yield _event(**create_text_delta(part["text"], item_id=message_id))  # type: ignore[arg-type]
            elif reasoning != "":
                item = create_reasoning_item(message_id, reasoning)  # type: ignore[arg-type]
                if aggregator is not None:
                    aggregator.append(item)
                yield _event(type="response.output_item.done", item=item)
                reasoning = ""
            if isinstance(content, str):
                text += content
                yield _event(**create_text_delta(content, item_id=message_id))  # type: ignore[arg-type]
    if text:
        item = create_text_output_item(text, message_id)  # type: ignore[arg-type]
        if aggregator is not None:
            aggregator.append(item)
        yield _event(type="response.output_item.done", item=item)
    for index in sorted(tool_calls):
        call = tool_calls[index]
        item = create_function_call_item(message_id, call["id"], call["function"]["name"],  # type: ignore[arg-type]
                                         call["function"]["arguments"])
        if aggregator is not None:
            aggregator.append(item)
        yield _event(type="response.output_item.done", item=item)


def _langchain_stream_to_responses_stream(chunks: Iterable[Any], aggregator: list[dict[str, Any]] | None
                                          ) -> Iterator[ResponsesAgentStreamEvent]:
    """LangChain messages as done items: AI text, AI tool calls and tool results (user messages skipped)."""
    for chunk in chunks:
        message = chunk.model_dump()
        role = message["type"]
        if role == "ai":
            if message.get("content"):
                item = create_text_output_item(text=message["content"], id=message.get("id") or str(uuid.uuid4()))
                if aggregator is not None:
                    aggregator.append(item)
                yield _event(type="response.output_item.done", item=item)
            for call in message.get("tool_calls") or []:
                item = create_function_call_item(id=call.get("id") or message.get("id") or str(uuid.uuid4()),
                                                 call_id=call["id"], name=call["name"], arguments=json.dumps(call["args"]))
                if aggregator is not None:
                    aggregator.append(item)
                yield _event(type="response.output_item.done", item=item)
        elif role == "tool":
            content = message["content"]
            item = create_function_call_output_item(call_id=message["tool_call_id"],
                                                    output=content if isinstance(content, str) else _dump_json(content))
            if aggregator is not None:
                aggregator.append(item)
            yield _event(type="response.output_item.done", item=item)


def output_to_responses_items_stream(chunks: Iterable[Any], aggregator: list[dict[str, Any]] | None = None
                                     ) -> Iterator[ResponsesAgentStreamEvent]:
    """A stream of ChatCompletion chunks (or LangChain messages) as Responses stream events, as MLflow's helper.

    Args:
        chunks: ChatCompletion chunk dicts, or LangChain `BaseMessage` objects.
        aggregator: when given, extended with every done output item.
    """
    peek, chunks = tee(chunks)
    first = next(peek, _EMPTY)
    if first is _EMPTY:
        return
    messages = sys.modules.get("langchain_core.messages")
    base_message = getattr(messages, "BaseMessage", None) if messages is not None else None
    if isinstance(base_message, type) and isinstance(first, base_message):
        yield from _langchain_stream_to_responses_stream(chunks, aggregator)
    else:
        yield from _cc_stream_to_responses_stream(chunks, aggregator)


_EMPTY = object()
