"""What a model call or an agent turn amounts to, read from its arguments and its result (SPEC 4).

A model call (LLM and CHAT_MODEL spans) is read from the traced function's arguments (`messages` or `input`,
`instructions`/`system`, `model`, parameters) and its result: an OpenAI ChatCompletion or Responses object, the
same as dicts, or the aggregate of their streams (`tracing._stream`). An agent turn is read from the request's
input items and the response's output items. Messages come out in the GenAI message schema (`{"role", "parts":
[{"type": "text"|"tool_call"|"tool_call_response"|"reasoning", ...}], "finish_reason"}`); `openinference_messages`
flattens them into OpenInference's `llm.*_messages.{i}.message.*` keys. Every reader tolerates any shape: a field
that is missing or of the wrong type is left out, never an error. The `openai` package is never imported: objects
are read by their fields.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tracing import keys
from tracing._stream import get_field

Message = dict[str, Any]
"""One message in the GenAI schema: role, parts and (outputs) finish_reason."""

_SYSTEM_ROLES = ("system", "developer")
_TEXT_PARTS = ("text", "input_text", "output_text", "refusal")
_FINISH_REASONS = {"tool_calls": "tool_call", "function_call": "tool_call", "max_output_tokens": "length"}
_OPENAI_OBJECTS = ("chat.completion", "response", "chat.completion.chunk")
_MAX_TOKENS = ("max_tokens", "max_completion_tokens", "max_output_tokens")
_FLOAT_PARAMETERS = {
    "temperature": keys.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": keys.GEN_AI_REQUEST_TOP_P,
    "top_k": keys.GEN_AI_REQUEST_TOP_K,
    "frequency_penalty": keys.GEN_AI_REQUEST_FREQUENCY_PENALTY,
    "presence_penalty": keys.GEN_AI_REQUEST_PRESENCE_PENALTY,
}
_INT_PARAMETERS = {"seed": keys.GEN_AI_REQUEST_SEED, "n": keys.GEN_AI_REQUEST_CHOICE_COUNT}
_INVOCATION_PARAMETERS = (
    "model", *_FLOAT_PARAMETERS, *_INT_PARAMETERS, *_MAX_TOKENS, "stop", "stream", "tool_choice", "response_format",
    "reasoning", "reasoning_effort", "parallel_tool_calls", "logprobs", "top_logprobs", "user",
)


@dataclass
class ModelCall:
    """What one model call amounts to; fields that could not be read are None or empty."""

    provider: str | None = None
    request_model: str | None = None
    response_model: str | None = None
    response_id: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    request: dict[str, Any] = field(default_factory=dict)
    """GenAI request attributes (`gen_ai.request.*`) read from the parameters."""
    system: list[dict[str, Any]] = field(default_factory=list)
    inputs: list[Message] = field(default_factory=list)
    outputs: list[Message] = field(default_factory=list)
    finish_reasons: list[str] = field(default_factory=list)
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    cache_read_tokens: int | None = None
    reasoning_tokens: int | None = None


def model_call(inputs: Any, output: Any) -> ModelCall:
    """A model call read from its bound arguments (a mapping, or None) and its result (None when it has none)."""
    call = ModelCall()
    if isinstance(inputs, Mapping):
        arguments = inputs
    else:  # the input of a span opened by hand (`Span.set_inputs`): the messages themselves, if anything
        arguments = {"messages": inputs} if isinstance(inputs, (str, list, tuple)) else {}
    _read_arguments(call, arguments)
    if output is not None:
        _read_output(call, output)
    provider = arguments.get("provider")
    if isinstance(provider, str) and provider:
        call.provider = provider
    elif call.provider is None and _is_openai_shaped(output):
        call.provider = keys.PROVIDER_OPENAI
    return call


def agent_messages(inputs: Any, output: Any) -> tuple[list[Message], list[Message]]:
    """An agent turn's input messages (from the request, the first argument) and output messages (from the response)."""
    request = inputs  # a request mapping, the input of a span opened by hand, or the bound arguments:
    if (type(inputs) is dict or isinstance(inputs, Mapping)) and "input" not in inputs and "messages" not in inputs:
        request = next(iter(inputs.values()), None) if inputs else None  # then the request is the first one
    messages: list[Message] = []
    if type(request) is str:  # a question (a str has neither field)
        messages = [_text_message("user", request)]
    elif request is not None:
        items = get_field(request, "input")
        if items is None:
            items = get_field(request, "messages")
        if isinstance(items, str):
            messages = [_text_message("user", items)]
        elif isinstance(items, (list, tuple)):
            messages = item_messages(items)
        elif isinstance(request, str):
            messages = [_text_message("user", request)]
    return messages, _agent_outputs(output) if output is not None else []


def _agent_outputs(output: Any) -> list[Message]:
    """An agent's result as output messages: Responses output items, a ChatCompletion, chat messages or text."""
    if isinstance(output, str):
        return [_finished(_text_message("assistant", output), "stop")]
    items = get_field(output, "output")
    if isinstance(items, (list, tuple)):
        messages = item_messages(items)
        failed = get_field(output, "error") is not None
        for message in messages:
            _finished(message, "error" if failed else _finish_of(message))
        return messages
    if isinstance(get_field(output, "choices"), (list, tuple)):
        return _chat_outputs(ModelCall(), output)
    listed = get_field(output, "messages")
    if isinstance(listed, (list, tuple)):
        return [_finished(message, _finish_of(message)) for message in item_messages(listed)]
    return []


def _finish_of(message: Message) -> str:
    parts = message["parts"]
    return "tool_call" if parts and parts[-1].get("type") == "tool_call" else "stop"


def _finished(message: Message, reason: str | None) -> Message:
    if reason:
        message["finish_reason"] = reason
    return message


# ---------------------------------------------------------------- arguments


def _read_arguments(call: ModelCall, arguments: Mapping[str, Any]) -> None:
    """Model, parameters, system instructions and input messages from the bound arguments."""
    model = arguments.get("model")
    if isinstance(model, str) and model:
        call.request_model = model
    parameters = {name: arguments[name] for name in _INVOCATION_PARAMETERS
                  if name in arguments and arguments[name] is not None and _plain(arguments[name])}
    call.parameters = parameters
    request = call.request
    for name, key in _FLOAT_PARAMETERS.items():
        value = parameters.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            request[key] = float(value)
    for name, key in _INT_PARAMETERS.items():
        value = parameters.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            request[key] = value
    for name in _MAX_TOKENS:
        value = parameters.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            request[keys.GEN_AI_REQUEST_MAX_TOKENS] = value
            break
    stop = parameters.get("stop")
    if isinstance(stop, str):
        request[keys.GEN_AI_REQUEST_STOP_SEQUENCES] = [stop]
    elif isinstance(stop, (list, tuple)) and stop and all(isinstance(item, str) for item in stop):
        request[keys.GEN_AI_REQUEST_STOP_SEQUENCES] = list(stop)
    stream = parameters.get("stream")
    if isinstance(stream, bool):
        request[keys.GEN_AI_REQUEST_STREAM] = stream
    for name in ("instructions", "system"):
        instructions = arguments.get(name)
        if isinstance(instructions, str) and instructions:
            call.system.append({"type": "text", "content": instructions})
    messages = arguments.get("messages")
    if messages is None:
        messages = arguments.get("input")
    if messages is None:
        messages = arguments.get("prompt")
    if isinstance(messages, str):
        call.inputs = [_text_message("user", messages)]
    elif isinstance(messages, (list, tuple)):
        for message in item_messages(messages):
            if message["role"] in _SYSTEM_ROLES:
                call.system.extend(part for part in message["parts"] if part.get("type") == "text")
            else:
                call.inputs.append(message)


def _plain(value: Any) -> bool:
    """Whether a parameter value is plain data (no SDK objects, no callables)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and _plain(item) for key, item in value.items())
    return False


# ---------------------------------------------------------------- messages


def item_messages(items: Any) -> list[Message]:
    """Chat messages or Responses items (dicts or objects) as GenAI messages; consecutive assistant or tool items
    (parallel tool calls, their results) join one message."""
    messages: list[Message] = []
    for item in items:
        role, parts = _item(item)
        if role is None or not parts:
            continue
        last = messages[-1] if messages else None
        if last is not None and last["role"] == role and role in ("assistant", "tool"):
            last["parts"].extend(parts)
        else:
            messages.append({"role": role, "parts": parts})
    return messages


def _fields(obj: Any) -> Any:
    """A pydantic model's fields and extras as one dict (reading absent attributes of a model is slow); other
    values unchanged."""
    if type(obj) is dict:
        return obj
    extra = getattr(obj, "__pydantic_extra__", None)
    fields = getattr(obj, "__dict__", None) if hasattr(obj, "__pydantic_fields_set__") else None
    if type(fields) is dict:
        return {**fields, **extra} if isinstance(extra, dict) and extra else fields
    return obj


def _item(item: Any) -> tuple[str | None, list[dict[str, Any]]]:
    """One chat message or Responses item as a role and its parts."""
    item = _fields(item)
    if type(item) is dict:  # the common case first: a message of text or content parts
        role, content = item.get("role"), item.get("content")
        if (type(role) is str and role != "tool" and item.get("type", "message") == "message"
                and not item.get("tool_calls") and not item.get("reasoning_content")):
            if type(content) is str:
                return role, [{"type": "text", "content": content}] if content else []
            if type(content) is list:
                return role, _content_parts(content)
    kind = get_field(item, "type")
    if kind == "function_call":
        return "assistant", [_tool_call(get_field(item, "call_id") or get_field(item, "id"), get_field(item, "name"),
                                        get_field(item, "arguments"))]
    if kind == "function_call_output":
        return "tool", [_tool_response(get_field(item, "call_id"), get_field(item, "output"))]
    if kind == "reasoning":
        return "assistant", _reasoning_parts(item)
    role = get_field(item, "role")
    if not isinstance(role, str):
        return None, []
    if role == "tool":
        return role, [_tool_response(get_field(item, "tool_call_id"), get_field(item, "content"))]
    parts = _content_parts(get_field(item, "content"))
    reasoning = get_field(item, "reasoning_content")
    if isinstance(reasoning, str) and reasoning:
        parts.insert(0, {"type": "reasoning", "content": reasoning})
    for call in _sequence(get_field(item, "tool_calls")):
        function = get_field(call, "function")
        parts.append(_tool_call(get_field(call, "id"), get_field(function, "name"), get_field(function, "arguments")))
    return role, parts


def _sequence(value: Any) -> tuple[Any, ...] | list[Any]:
    return value if isinstance(value, (list, tuple)) else ()


def _content_parts(content: Any) -> list[dict[str, Any]]:
    """A message's content (text, or a list of content parts) as text parts."""
    if isinstance(content, str):
        return [{"type": "text", "content": content}] if content else []
    parts = []
    for part in _sequence(content):
        part = _fields(part)
        if isinstance(part, str):
            parts.append({"type": "text", "content": part})
            continue
        # a dict (the common case) is read without get_field
        read = part.get if type(part) is dict else functools.partial(get_field, part)
        kind = read("type")
        if kind in _TEXT_PARTS or kind is None:
            text = read("text")
            if not isinstance(text, str):
                text = read("refusal")
            if isinstance(text, str):
                parts.append({"type": "text", "content": text})
    return parts


def _reasoning_parts(item: Any) -> list[dict[str, Any]]:
    texts = [get_field(part, "text") for part in (*_sequence(get_field(item, "summary")),
                                                  *_sequence(get_field(item, "content")))]
    return [{"type": "reasoning", "content": text} for text in texts if isinstance(text, str) and text]


def _tool_call(call_id: Any, name: Any, arguments: Any) -> dict[str, Any]:
    part: dict[str, Any] = {"type": "tool_call", "id": call_id if isinstance(call_id, str) else None,
                            "name": name if isinstance(name, str) else ""}
    if isinstance(arguments, str):
        try:
            part["arguments"] = json.loads(arguments) if arguments else None
        except ValueError:
            part["arguments"] = arguments
    elif arguments is not None:
        part["arguments"] = arguments
    return part


def _tool_response(call_id: Any, response: Any) -> dict[str, Any]:
    if not isinstance(response, str):
        texts = [part["content"] for part in _content_parts(response)]
        response = "".join(texts) if texts else response
    return {"type": "tool_call_response", "id": call_id if isinstance(call_id, str) else None, "response": response}


def _text_message(role: str, text: str) -> Message:
    return {"role": role, "parts": [{"type": "text", "content": text}]}


# ---------------------------------------------------------------- results


def _is_openai_shaped(output: Any) -> bool:
    """Whether a result is an OpenAI SDK object, or a dict of an OpenAI completion or response."""
    if output is None:
        return False
    if type(output).__module__.startswith("openai."):
        return True
    return get_field(output, "object") in _OPENAI_OBJECTS


def _read_output(call: ModelCall, output: Any) -> None:
    """Response id, model, output messages, finish reasons and usage from a completion or response."""
    response_id = get_field(output, "id")
    if isinstance(response_id, str) and response_id:
        call.response_id = response_id
    model = get_field(output, "model")
    if isinstance(model, str) and model:
        call.response_model = model
    if isinstance(get_field(output, "choices"), (list, tuple)):
        call.outputs = _chat_outputs(call, output)
    else:
        items = get_field(output, "output")
        if isinstance(items, (list, tuple)):
            parts = [part for message in item_messages(items) if message["role"] == "assistant"
                     for part in message["parts"]]
            reason = _responses_finish(output, parts)
            if reason:
                call.finish_reasons.append(reason)
            call.outputs = [_finished({"role": "assistant", "parts": parts}, reason)]
        elif isinstance(output, str):
            call.outputs = [_text_message("assistant", output)]
    _read_usage(call, get_field(output, "usage"))


def _chat_outputs(call: ModelCall, output: Any) -> list[Message]:
    """A ChatCompletion's choices as output messages, one per choice; their finish reasons noted on the call."""
    messages = []
    for choice in _sequence(get_field(output, "choices")):
        message = get_field(choice, "message")
        role, parts = _item(message) if message is not None else (None, [])
        raw = get_field(choice, "finish_reason")
        reason = raw if isinstance(raw, str) and raw else None
        if reason is not None:
            call.finish_reasons.append(reason)
        messages.append(_finished({"role": role or "assistant", "parts": parts},
                                  _FINISH_REASONS.get(reason, reason) if reason else None))
    return messages


def _responses_finish(output: Any, parts: list[dict[str, Any]]) -> str | None:
    """A Responses result's finish reason: its incomplete reason, tool_call, error or stop."""
    status = get_field(output, "status")
    if status == "incomplete":
        reason = get_field(get_field(output, "incomplete_details"), "reason")
        return _FINISH_REASONS.get(reason, reason) if isinstance(reason, str) else "length"
    if status == "failed" or get_field(output, "error") is not None:
        return "error"
    if any(part.get("type") == "tool_call" for part in parts):
        return "tool_call"
    if status in ("completed", None) and parts:
        return "stop"
    return None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _read_usage(call: ModelCall, usage: Any) -> None:
    """Token counts of a ChatCompletion (prompt/completion) or a Responses result (input/output)."""
    if usage is None:
        return
    call.input_tokens = _count(get_field(usage, "prompt_tokens"))
    if call.input_tokens is None:
        call.input_tokens = _count(get_field(usage, "input_tokens"))
    call.output_tokens = _count(get_field(usage, "completion_tokens"))
    if call.output_tokens is None:
        call.output_tokens = _count(get_field(usage, "output_tokens"))
    call.total_tokens = _count(get_field(usage, "total_tokens"))
    if call.total_tokens is None and call.input_tokens is not None and call.output_tokens is not None:
        call.total_tokens = call.input_tokens + call.output_tokens
    details = get_field(usage, "prompt_tokens_details")
    if details is None:
        details = get_field(usage, "input_tokens_details")
    call.cache_read_tokens = _count(get_field(details, "cached_tokens"))
    details = get_field(usage, "completion_tokens_details")
    if details is None:
        details = get_field(usage, "output_tokens_details")
    call.reasoning_tokens = _count(get_field(details, "reasoning_tokens"))


# ---------------------------------------------------------------- OpenInference


def openinference_messages(prefix: str, messages: list[Message], text: Callable[[str], str],
                           dumps: Callable[[Any], str], attributes: dict[str, Any]) -> None:
    """GenAI messages as OpenInference's flattened `{prefix}.{i}.message.*` attributes: texts through `text`,
    other values through `dumps` (the recorder's, so redaction applies)."""
    for index, message in enumerate(messages):
        base = f"{prefix}.{index}."
        attributes[base + keys.MESSAGE_ROLE] = text(message["role"])
        texts: list[str] = []
        calls = 0
        for part in message["parts"]:
            kind = part.get("type")
            if kind == "text":
                texts.append(text(part["content"]))
            elif kind == "tool_call":
                call = f"{base}{keys.MESSAGE_TOOL_CALLS}.{calls}."
                calls += 1
                if part.get("id"):
                    attributes[call + keys.TOOL_CALL_ID] = text(part["id"])
                attributes[call + keys.TOOL_CALL_FUNCTION_NAME] = text(part["name"])
                arguments = part.get("arguments")
                if arguments is not None:
                    attributes[call + keys.TOOL_CALL_FUNCTION_ARGUMENTS] = (
                        text(arguments) if isinstance(arguments, str) else dumps(arguments))
            elif kind == "tool_call_response":
                if part.get("id"):
                    attributes[base + keys.MESSAGE_TOOL_CALL_ID] = text(part["id"])
                response = part.get("response")
                texts.append(text(response) if isinstance(response, str) else dumps(response))
        if texts:
            attributes[base + keys.MESSAGE_CONTENT] = "\n".join(texts)
