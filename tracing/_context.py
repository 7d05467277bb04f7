"""Per-request context: session, user, tags, metadata, prompt template and suppression, carried by context variables.

What `using_attributes` (and `using_session`, `using_user`, `using_metadata`, `using_tags`, `using_prompt_template`)
sets reaches our spans through the `scope` context variable, and other instrumentation through the OpenTelemetry
context: each value is also stored there under its attribute key (`session.id`, `user.id`, `metadata`, `tag.tags`,
`llm.prompt_template.*`), which is where OpenInference's instrumentors (OpenAI, LangChain, ...) read them from, as
OpenInference's own `using_attributes` stores them. The values stored are the recorder's: redacted and cut.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context

from tracing import keys
from tracing._errors import report

if TYPE_CHECKING:
    from tracing._recorder import Recorder


class PromptTemplate:
    """A prompt template, its version and variables, as `using_prompt_template` sets them."""

    __slots__ = ("template", "version", "variables")

    def __init__(self, template: str | None, version: str | None, variables: Mapping[str, Any] | None) -> None:
        self.template = template
        self.version = version
        self.variables = variables


class Scope:
    """What `using_attributes` set for the spans inside, recorded once per configuration."""

    __slots__ = ("session_id", "user_id", "tags", "metadata", "prompt", "_recorder", "_attributes")

    def __init__(self, session_id: str | None = None, user_id: str | None = None, tags: Sequence[str] | None = None,
                 metadata: Mapping[str, Any] | None = None, prompt: PromptTemplate | None = None) -> None:
        self.session_id = session_id
        self.user_id = user_id
        self.tags = tags
        self.metadata: Mapping[str, Any] = metadata or {}
        self.prompt = prompt
        self._recorder: Recorder | None = None
        self._attributes: Mapping[str, Any] = {}

    def attributes(self, recorder: Recorder) -> Mapping[str, Any]:
        """The span attributes of this scope, as the recorder writes them (redacted, cut)."""
        if self._recorder is not recorder:
            attributes = dict(recorder.scope_attributes(self.session_id, self.user_id, self.tags, self.metadata))
            prompt = self.prompt
            if prompt is not None:
                if prompt.template is not None:
                    attributes[keys.LLM_PROMPT_TEMPLATE] = recorder.text(prompt.template)
                if prompt.version is not None:
                    attributes[keys.LLM_PROMPT_TEMPLATE_VERSION] = recorder.text(prompt.version)
                if prompt.variables is not None:
                    attributes[keys.LLM_PROMPT_TEMPLATE_VARIABLES] = recorder.json(dict(prompt.variables))
            self._attributes = attributes
            self._recorder = recorder
        return self._attributes


EMPTY = Scope()
scope: ContextVar[Scope] = ContextVar("agent_tracing_scope", default=EMPTY)
suppressed: ContextVar[bool] = ContextVar("agent_tracing_suppressed", default=False)


@contextmanager
def suppress_tracing() -> Iterator[None]:
    """Trace nothing inside this block, ours or other OpenTelemetry instrumentation."""
    token = suppressed.set(True)
    otel_token = otel_context.attach(otel_context.set_value(otel_context._SUPPRESS_INSTRUMENTATION_KEY, True))
    try:
        yield
    finally:
        otel_context.detach(otel_token)
        suppressed.reset(token)


def _otel_context_with(inner: Scope) -> otel_context.Context | None:
    """The current OpenTelemetry context with the scope's values under the keys OpenInference's instrumentors read."""
    try:
        from tracing import _runtime

        values = inner.attributes(_runtime.state.recorder)
        if not values:
            return None
        context = otel_context.get_current()
        for key, value in values.items():
            context = otel_context.set_value(key, value, context)
        return context
    except Exception as exc:  # noqa: BLE001 - our own spans still get the values
        report("context values for other instrumentation", exc)
        return None


@contextmanager
def _using(inner: Scope) -> Iterator[None]:
    token = scope.set(inner)
    context = _otel_context_with(inner)
    otel_token = otel_context.attach(context) if context is not None else None
    try:
        yield
    finally:
        if otel_token is not None:
            otel_context.detach(otel_token)
        scope.reset(token)


@contextmanager
def using_attributes(
    *,
    session_id: str | None = None,
    user_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    tags: Sequence[str] | None = None,
    prompt_template: str | None = None,
    prompt_template_version: str | None = None,
    prompt_template_variables: Mapping[str, Any] | None = None,
    **extra: Any,
) -> Iterator[None]:
    """Add `session.id`, `user.id`, `tag.tags`, `metadata` and `llm.prompt_template.*` to every span started inside.

    The values also go into the OpenTelemetry context under the same keys, where OpenInference's instrumentors
    read them (OpenInference's `using_attributes` takes the same arguments).

    Args:
        session_id: the conversation or session the spans belong to.
        user_id: the user they act for.
        metadata: a JSON-able mapping merged over the metadata of enclosing blocks (secret keys redacted).
        tags: a list of strings, replacing the tags of enclosing blocks.
        prompt_template: the prompt template in use (`llm.prompt_template.template`).
        prompt_template_version: its version.
        prompt_template_variables: the values filled into it (JSON, secret keys redacted).
        **extra: more metadata entries.
    """
    outer = scope.get()
    merged = {**outer.metadata, **(metadata or {}), **extra}
    prompt = outer.prompt
    if prompt_template is not None or prompt_template_version is not None or prompt_template_variables is not None:
        prompt = PromptTemplate(
            prompt_template if prompt_template is not None else (prompt.template if prompt else None),
            prompt_template_version if prompt_template_version is not None else (prompt.version if prompt else None),
            prompt_template_variables if prompt_template_variables is not None else (prompt.variables if prompt else None),
        )
    inner = Scope(
        str(session_id) if session_id is not None else outer.session_id,
        str(user_id) if user_id is not None else outer.user_id,
        [str(tag) for tag in tags] if tags is not None else outer.tags,
        merged,
        prompt,
    )
    with _using(inner):
        yield


def using_session(session_id: str) -> Any:
    """Mark every span inside with `session.id`."""
    return using_attributes(session_id=session_id)


def using_user(user_id: str) -> Any:
    """Mark every span inside with `user.id`."""
    return using_attributes(user_id=user_id)


def using_metadata(metadata: Mapping[str, Any]) -> Any:
    """Merge `metadata` (a JSON-able mapping) into the `metadata` of every span inside."""
    return using_attributes(metadata=metadata)


def using_tags(tags: Sequence[str]) -> Any:
    """Mark every span inside with `tag.tags` (replacing the tags of enclosing blocks)."""
    return using_attributes(tags=tags)


def using_prompt_template(*, template: str = "", variables: Mapping[str, Any] | None = None, version: str = "") -> Any:
    """Mark every span inside with `llm.prompt_template.template`, `.variables` (JSON) and `.version`.

    Args:
        template: the template text, e.g. "Answer {question} from {context}".
        variables: the values filled in.
        version: the template's version.
    """
    return using_attributes(prompt_template=template or None, prompt_template_version=version or None,
                            prompt_template_variables=variables)
