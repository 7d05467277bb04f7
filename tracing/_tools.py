"""TOOL spans: the tool's name, description and JSON-schema parameters, as OpenInference and GenAI tools read them.

`tool_attributes` describes a tool in both conventions (OpenInference `tool.name`, `tool.description`,
`tool.parameters`; GenAI `gen_ai.operation.name=execute_tool`, `gen_ai.tool.name`, `gen_ai.tool.description`,
`gen_ai.tool.call.id`); the recorder keeps those of the configured `conventions` when it writes them
(`Recorder.tool_keys`: at span start for a traced callable, in `Span.set_tool`); a traced tool's call id and
arguments are recorded when it starts (`gen_ai.tool.call.id|arguments`, so a failed call shows them), its
result when it ends. `tool_spec` gives a traced callable's spec these
attributes once, when it is decorated (the description from the docstring, the parameters from the signature and
its annotations), so a call pays nothing for them.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable, Mapping
from typing import Any

from tracing import keys
from tracing._errors import report

_SKIPPED_KINDS = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def tool_description(func: Callable[..., Any]) -> str | None:
    """The tool's description: its docstring, cleaned, or None."""
    doc = inspect.getdoc(func)
    return doc.strip() if doc and doc.strip() else None


def tool_parameters(func: Callable[..., Any], name: str | None = None, description: str | None = None) -> dict[str, Any]:
    """JSON schema (an object) of a callable's parameters, from its signature, annotations and defaults.

    `self`/`cls` of a method and `*args`/`**kwargs` are left out; a parameter without annotation accepts anything;
    `Annotated[T, "text"]` gives the parameter that description (as OpenInference's tool decorator reads it).
    """
    signature = inspect.signature(func)
    try:
        hints = typing.get_type_hints(func, include_extras=True)
    except Exception:  # noqa: BLE001 - unresolvable forward references: annotations as written
        hints = {}
    parameters = list(signature.parameters.values())
    if parameters and parameters[0].name in ("self", "cls") and not inspect.ismethod(func):
        parameters = parameters[1:]
    fields: dict[str, Any] = {}
    descriptions: dict[str, str] = {}
    for parameter in parameters:
        if parameter.kind in _SKIPPED_KINDS:
            continue
        annotation = hints.get(parameter.name, parameter.annotation)
        if annotation is inspect.Parameter.empty or isinstance(annotation, str):
            annotation = Any
        metadata = getattr(annotation, "__metadata__", None)
        if metadata and isinstance(metadata[0], str):
            descriptions[parameter.name] = metadata[0]
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        fields[parameter.name] = (annotation, default)
    title = str(name or getattr(func, "__name__", None) or "tool")
    from pydantic import ConfigDict, create_model  # only a TOOL span's schema needs pydantic

    model = create_model(title, __config__=ConfigDict(arbitrary_types_allowed=True), **fields)
    schema = model.model_json_schema()
    schema["title"] = title
    if description:
        schema["description"] = description
    for parameter_name, text in descriptions.items():
        schema.get("properties", {}).get(parameter_name, {}).setdefault("description", text)
    return schema


def tool_attributes(name: str | None, description: str | None, parameters: Any, call_id: str | None = None
                    ) -> dict[str, Any]:
    """The attributes of a TOOL span (values as given: the recorder coerces, redacts and cuts them)."""
    attributes: dict[str, Any] = {keys.GEN_AI_OPERATION_NAME: keys.OPERATION_EXECUTE_TOOL}
    if name is not None:
        attributes[keys.TOOL_NAME] = attributes[keys.GEN_AI_TOOL_NAME] = str(name)
    if description is not None:
        attributes[keys.TOOL_DESCRIPTION] = attributes[keys.GEN_AI_TOOL_DESCRIPTION] = str(description)
    if parameters is not None:
        attributes[keys.TOOL_PARAMETERS] = parameters if isinstance(parameters, str) else dict(parameters)
    if call_id is not None:
        attributes[keys.GEN_AI_TOOL_CALL_ID] = str(call_id)
    return attributes


def tool_spec(spec: Any, func: Callable[..., Any], description: str | None = None,
              parameters: Mapping[str, Any] | str | None = None) -> Any:
    """A traced callable's `SpanSpec` with its tool attributes added, for TOOL spans (or when described explicitly).

    Called once per decoration by `tracing.trace`: the name is the span's name, the description the docstring unless
    given, the parameters the JSON schema of the signature unless given. Attributes the user set win.
    """
    span_type = getattr(spec, "span_type", None)
    if span_type != keys.SpanType.TOOL.value and description is None and parameters is None:
        return spec
    try:
        target = func.__func__ if isinstance(func, (classmethod, staticmethod)) else func
        name = spec.name or getattr(target, "__name__", None)
        if description is None:
            description = tool_description(target)
        if parameters is None:
            parameters = tool_parameters(target, name, description)
        attributes = {**tool_attributes(name, description, parameters), **(spec.attributes or {})}
    except Exception as exc:  # noqa: BLE001 - a tool we cannot describe is still traced
        report("describing a tool", exc)
        return spec
    if span_type == keys.SpanType.TOOL.value and spec.input_hook is None:
        hook = functools.partial(_tool_call, spec.capture_inputs)
        return dataclasses.replace(spec, attributes=attributes, input_hook=hook)
    return dataclasses.replace(spec, attributes=attributes)


def _tool_call(with_arguments: bool, inputs: dict[str, Any]) -> Mapping[str, Any]:
    """A TOOL span's call id and arguments, recorded when it starts (so a tool that fails still shows them)."""
    from tracing import _runtime

    return _runtime.state.recorder.tool_call(inputs, with_arguments)
