"""Settings of the tracing pipeline, merged from arguments, a config dict or YAML file, and the environment.

The settings are frozen dataclasses, so `import tracing` builds no pydantic model; pydantic validates them (field
constraints in each field's metadata) the first time a layer holds a value.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from opentelemetry.sdk.environment_variables import (
    OTEL_EXPORTER_OTLP_ENDPOINT,
    OTEL_EXPORTER_OTLP_PROTOCOL,
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
    OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT,
)

Convention = Literal["openinference", "genai"]
AttributeScalar = str | bool | int | float

ENV_PREFIX = "AGENT_TRACING_"
DEFAULT_TRACE_FILE = "traces/traces.jsonl"
DEFAULT_SAMPLING_MAX_SPANS = 10_000
DEFAULT_SAMPLING_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_CONVENTIONS: frozenset[Convention] = frozenset({"openinference", "genai"})
_CONFIG = {"extra": "forbid", "arbitrary_types_allowed": True}
"""pydantic's configuration of the dataclasses below (read from `__pydantic_config__`)."""


def _limits(default: Any, **constraints: Any) -> Any:
    """A dataclass field whose pydantic constraints (`ge`, `le`, `allow_inf_nan`) travel in its metadata."""
    return dataclasses.field(default=default, metadata=constraints)


@dataclasses.dataclass(frozen=True)
class Redaction:
    """What redaction hides: secret-looking keys (built in, extended by `keys`), `values` patterns, a callback."""

    __pydantic_config__ = _CONFIG

    enabled: bool = True
    keys: tuple[str, ...] = ()
    values: tuple[str, ...] = ()
    callback: Callable[[str, Any], Any] | None = None

    def __post_init__(self) -> None:
        for field, patterns in (("keys", self.keys), ("values", self.values)):
            for pattern in patterns:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise ValueError(f"{field}: {pattern!r} is not a regular expression: {exc}") from None


@dataclasses.dataclass(frozen=True)
class Sampling:
    """Tail sampling: traces with an ERROR span (`keep_errors`) or a local root lasting at least
    `keep_slower_than_ms` are kept whole, the rest at `ratio` by trace id; undecided traces wait in a buffer of at
    most `max_spans` spans and about `max_bytes` bytes."""

    __pydantic_config__ = _CONFIG

    ratio: float = _limits(1.0, ge=0.0, le=1.0)
    keep_errors: bool = True
    keep_slower_than_ms: float | None = _limits(None, ge=0.0, allow_inf_nan=False)
    max_spans: int = _limits(DEFAULT_SAMPLING_MAX_SPANS, ge=1)
    max_bytes: int = _limits(DEFAULT_SAMPLING_MAX_BYTES, ge=1)


@dataclasses.dataclass(frozen=True)
class Settings:
    """The resolved configuration of agent-tracing."""

    __pydantic_config__ = _CONFIG

    service_name: str | None = None
    exporters: tuple[Any, ...] | None = None
    sample_ratio: float | None = _limits(None, ge=0.0, le=1.0)
    capture_content: bool = True
    redact: Redaction = Redaction()
    conventions: frozenset[Convention] = DEFAULT_CONVENTIONS
    max_attribute_length: int = _limits(65536, ge=256)
    resource_attributes: dict[str, AttributeScalar] = dataclasses.field(default_factory=dict)
    stream_chunk_events: int = _limits(0, ge=0)
    span_attribute_count_limit: int | None = _limits(None, ge=0)
    otlp_protocol: Literal["grpc", "http/protobuf", "http/json"] = "http/protobuf"
    flush_on_signals: bool = False
    sampling: Sampling | None = None


def _sampling_switch(value: Any) -> Any:
    if value is False or (isinstance(value, str) and value.strip().lower() in ("false", "off", "no", "0", "none")):
        return None
    return {} if value is True else value


def _exporter_list(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    if value is not None and not isinstance(value, (list, tuple)):
        return (value,)
    return value


def _redaction(value: Any) -> Any:
    if isinstance(value, bool):
        return {"enabled": value}
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "false", "1", "0", "yes", "no", "on", "off"):
            return {"enabled": lowered in ("true", "1", "yes", "on")}
        return {"keys": tuple(p.strip() for p in value.split(",") if p.strip())}
    if isinstance(value, (list, tuple)):
        return {"keys": tuple(value)}
    if callable(value) and not isinstance(value, (Redaction, Mapping)):
        return {"callback": value}
    return value


def _convention_set(value: Any) -> Any:
    if isinstance(value, str):
        if value.strip().lower() in ("default", "all"):
            return DEFAULT_CONVENTIONS
        return frozenset(p.strip().lower() for p in value.split(",") if p.strip())
    return value


_SHORTHANDS: dict[str, Callable[[Any], Any]] = {
    "sampling": _sampling_switch,
    "exporters": _exporter_list,
    "redact": _redaction,
    "conventions": _convention_set,
}
"""The short forms a setting may take (`redact=True`, `exporters="a,b"`, `sampling=False`, ...), made full
before validation."""

_PYDANTIC_MESSAGES = {"unexpected_keyword_argument": "Extra inputs are not permitted"}
"""pydantic says this of an unknown field of a dataclass; we say what it says of a model's."""


@functools.cache
def _validator() -> Any:
    from pydantic import TypeAdapter

    return TypeAdapter(Settings)


def _validated(layer: Mapping[str, Any], source: str) -> Settings:
    """The layer's settings (defaults elsewhere); ValueError naming the source and each bad field."""
    if not layer:
        return Settings()
    from pydantic import ValidationError

    full = {key: _SHORTHANDS[key](value) if key in _SHORTHANDS else value for key, value in layer.items()}
    try:
        return _validator().validate_python(full)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'value'}: {_PYDANTIC_MESSAGES.get(err['type'], err['msg'])}"
            for err in exc.errors(include_url=False)
        )
        raise ValueError(f"{source}: {problems}") from None


_ENV_FIELDS = {
    "SERVICE_NAME": "service_name",
    "EXPORTERS": "exporters",
    "SAMPLE_RATIO": "sample_ratio",
    "CAPTURE_CONTENT": "capture_content",
    "REDACT": "redact",
    "CONVENTIONS": "conventions",
    "MAX_ATTRIBUTE_LENGTH": "max_attribute_length",
    "STREAM_CHUNK_EVENTS": "stream_chunk_events",
    "FLUSH_ON_SIGNALS": "flush_on_signals",
}
_SAMPLING_ENV_FIELDS = ("RATIO", "KEEP_ERRORS", "KEEP_SLOWER_THAN_MS", "MAX_SPANS", "MAX_BYTES")
"""AGENT_TRACING_SAMPLING_<FIELD>: any of them set turns tail sampling on."""


def _env_layer(environ: Mapping[str, str]) -> dict[str, Any]:
    """The settings the environment gives: AGENT_TRACING_* and the standard OTEL_* variables we read (the only place)."""
    layer: dict[str, Any] = {
        field: environ[ENV_PREFIX + key] for key, field in _ENV_FIELDS.items() if environ.get(ENV_PREFIX + key)
    }
    sampling = {
        key.lower(): environ[f"{ENV_PREFIX}SAMPLING_{key}"] for key in _SAMPLING_ENV_FIELDS if environ.get(f"{ENV_PREFIX}SAMPLING_{key}")
    }
    if sampling:
        layer["sampling"] = sampling
    protocol = (environ.get(OTEL_EXPORTER_OTLP_TRACES_PROTOCOL) or environ.get(OTEL_EXPORTER_OTLP_PROTOCOL) or "").strip()
    if protocol:
        layer["otlp_protocol"] = protocol
    limit = environ.get(OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT, "").strip()
    if limit:
        layer["span_attribute_count_limit"] = limit
    if "exporters" not in layer and (environ.get(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) or environ.get(OTEL_EXPORTER_OTLP_ENDPOINT)):
        layer["exporters"] = ("otlp+grpc:" if protocol == "grpc" else "otlp+http:",)  # the endpoint is left to the SDK
    return layer


def _config_layer(config: Mapping[str, Any] | str | os.PathLike[str] | None) -> tuple[dict[str, Any], str]:
    if config is None:
        return {}, ""
    if isinstance(config, Mapping):
        return dict(config), "config"
    path = Path(config)
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"config file {path}: cannot be read: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ValueError(f"config file {path}{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        return {}, str(path)
    if not isinstance(data, Mapping):
        raise ValueError(f"config file {path}: expected a mapping of settings, got {type(data).__name__}")
    return dict(data), f"config file {path}"


def resolve(arguments: Mapping[str, Any], config: Mapping[str, Any] | str | os.PathLike[str] | None = None,
            environ: Mapping[str, str] | None = None) -> Settings:
    """Merge the layers: arguments > config > environment > defaults; errors name the layer and field."""
    environ = os.environ if environ is None else environ
    if config is None and environ.get(ENV_PREFIX + "CONFIG"):
        config = environ[ENV_PREFIX + "CONFIG"]
    env = _env_layer(environ)
    _validated(env, "environment (AGENT_TRACING_*)")
    from_config, source = _config_layer(config)
    _validated(from_config, source)
    given = {key: value for key, value in arguments.items() if value is not None}
    _validated(given, "configure()")
    merged = {**env, **from_config, **given}
    if "sampling" in merged:
        merged["sampling"] = _merged_sampling([layer.get("sampling") for layer in (env, from_config, given)])
    return _validated(merged, "settings")


def _merged_sampling(layers: list[Any]) -> dict[str, Any] | None:
    """Tail-sampling fields merged across layers (a later layer overrides field by field; off switches it off)."""
    fields: dict[str, Any] | None = None
    for value in layers:
        if value is None:
            continue
        value = _sampling_switch(value)
        if value is None:
            fields = None
        else:
            given = dataclasses.asdict(value) if isinstance(value, Sampling) else dict(value)
            fields = {**(fields or {}), **given}
    return fields
