"""Settings of the tracing pipeline, merged from arguments, a config dict or YAML file, and the environment."""

from __future__ import annotations

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
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

Convention = Literal["openinference", "genai"]
AttributeScalar = str | bool | int | float

ENV_PREFIX = "AGENT_TRACING_"
DEFAULT_TRACE_FILE = "traces/traces.jsonl"
DEFAULT_SAMPLING_MAX_SPANS = 10_000
DEFAULT_SAMPLING_MAX_BYTES = 64 * 1024 * 1024


class Redaction(BaseModel):
    """What redaction hides: secret-looking keys (built in, extended by `keys`), `values` patterns, a callback."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    enabled: bool = True
    keys: tuple[str, ...] = ()
    values: tuple[str, ...] = ()
    callback: Callable[[str, Any], Any] | None = None

    @field_validator("keys", "values")
    @classmethod
    def _compiles(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a regular expression: {exc}") from None
        return patterns


class Sampling(BaseModel):
    """Tail sampling: traces with an ERROR span (`keep_errors`) or a local root lasting at least
    `keep_slower_than_ms` are kept whole, the rest at `ratio` by trace id; undecided traces wait in a buffer of at
    most `max_spans` spans and about `max_bytes` bytes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ratio: float = Field(default=1.0, ge=0.0, le=1.0)
    keep_errors: bool = True
    keep_slower_than_ms: float | None = Field(default=None, ge=0.0, allow_inf_nan=False)
    max_spans: int = Field(default=DEFAULT_SAMPLING_MAX_SPANS, ge=1)
    max_bytes: int = Field(default=DEFAULT_SAMPLING_MAX_BYTES, ge=1)


class Settings(BaseModel):
    """The resolved configuration of agent-tracing."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    service_name: str | None = None
    exporters: tuple[Any, ...] | None = None
    sample_ratio: float | None = Field(default=None, ge=0.0, le=1.0)
    capture_content: bool = True
    redact: Redaction = Redaction()
    conventions: frozenset[Convention] = frozenset({"openinference", "genai"})
    max_attribute_length: int = Field(default=65536, ge=256)
    resource_attributes: dict[str, AttributeScalar] = {}
    stream_chunk_events: int = Field(default=0, ge=0)
    span_attribute_count_limit: int | None = Field(default=None, ge=0)
    otlp_protocol: Literal["grpc", "http/protobuf", "http/json"] = "http/protobuf"
    flush_on_signals: bool = False
    sampling: Sampling | None = None

    @field_validator("sampling", mode="before")
    @classmethod
    def _sampling_switch(cls, value: Any) -> Any:
        if value is False or (isinstance(value, str) and value.strip().lower() in ("false", "off", "no", "0", "none")):
            return None
        return Sampling() if value is True else value

    @field_validator("exporters", mode="before")
    @classmethod
    def _exporter_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        if value is not None and not isinstance(value, (list, tuple)):
            return (value,)
        return value

    @field_validator("redact", mode="before")
    @classmethod
    def _redaction(cls, value: Any) -> Any:
        if isinstance(value, bool):
            return Redaction(enabled=value)
        if isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                return Redaction(enabled=lowered in ("true", "1", "yes", "on"))
            return Redaction(keys=tuple(p.strip() for p in value.split(",") if p.strip()))
        if isinstance(value, (list, tuple)):
            return Redaction(keys=tuple(value))
        if callable(value) and not isinstance(value, (Redaction, Mapping)):
            return Redaction(callback=value)
        return value

    @field_validator("conventions", mode="before")
    @classmethod
    def _convention_set(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value.strip().lower() in ("default", "all"):
                return frozenset({"openinference", "genai"})
            return frozenset(p.strip().lower() for p in value.split(",") if p.strip())
        return value


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


def _check(layer: dict[str, Any], source: str) -> None:
    try:
        Settings.model_validate(layer)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'value'}: {err['msg']}" for err in exc.errors(include_url=False)
        )
        raise ValueError(f"{source}: {problems}") from None


def resolve(arguments: Mapping[str, Any], config: Mapping[str, Any] | str | os.PathLike[str] | None = None,
            environ: Mapping[str, str] | None = None) -> Settings:
    """Merge the layers: arguments > config > environment > defaults; errors name the layer and field."""
    environ = os.environ if environ is None else environ
    if config is None and environ.get(ENV_PREFIX + "CONFIG"):
        config = environ[ENV_PREFIX + "CONFIG"]
    env = _env_layer(environ)
    _check(env, "environment (AGENT_TRACING_*)")
    from_config, source = _config_layer(config)
    _check(from_config, source)
    given = {key: value for key, value in arguments.items() if value is not None}
    _check(given, "configure()")
    merged = {**env, **from_config, **given}
    if "sampling" in merged:
        merged["sampling"] = _merged_sampling([layer.get("sampling") for layer in (env, from_config, given)])
    return Settings.model_validate(merged)


def _merged_sampling(layers: list[Any]) -> Any:
    """Tail-sampling fields merged across layers (a later layer overrides field by field; off switches it off)."""
    fields: dict[str, Any] | None = None
    for value in layers:
        if value is None:
            continue
        value = Settings.model_validate({"sampling": value}).sampling
        fields = None if value is None else {**(fields or {}), **value.model_dump(exclude_unset=True)}
    return fields
