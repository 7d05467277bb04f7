"""Agent request, response and stream-event models on the OpenAI Responses schema.

Field names follow MLflow's ``ResponsesAgent`` types (``mlflow.types.responses``) so payloads
move between the two unchanged; unknown fields are kept rather than dropped, and dumps leave out
fields that are None (what MLflow's ``model_dump(exclude_none=True)`` sends).
"""

from __future__ import annotations

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


def create_text_delta(delta: str, item_id: str) -> dict[str, Any]:
    """A text delta stream event for the output item ``item_id``."""
    return {"type": "response.output_text.delta", "item_id": item_id, "delta": delta}


def create_text_output_item(text: str, id: str, annotations: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """An assistant message output item holding ``text``."""
    content: dict[str, Any] = {"text": text, "type": "output_text"}
    if annotations is not None:
        content["annotations"] = annotations
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
