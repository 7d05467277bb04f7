"""Values to JSON and text for span attributes: one pass, redacted, cut to length, valid UTF-8, never raising.

The recorder (`tracing._recorder`) owns the one Serializer of the active configuration; nothing else builds one.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import enum
import json
import re
import uuid
from collections.abc import Mapping
from decimal import Decimal
from pathlib import PurePath
from typing import Any

from tracing._errors import report
from tracing._settings import Redaction

REDACTED = "[REDACTED]"

_SECRET_WORDS = (
    r"password|passwd|pwd|secret|token|api[_-]?key|apikey|authorization|auth|cookie|set-cookie|credentials?"
    r"|private[_-]?key|access[_-]?key|secret[_-]?key|client[_-]?secret|bearer"
)
_SURROGATE = re.compile("[\ud800-\udfff]")
_SECRET_KEY = re.compile(
    rf"(?i)^(?:.*[_\-. ])?(?:{_SECRET_WORDS})$"
    r"|^(?:.*[a-z0-9])(?:Password|Secret|Token|ApiKey|PrivateKey|SecretKey|AccessKey|Cookie|Credentials?)$"
)


def clean(text: str) -> str:
    """The text with lone surrogates (which UTF-8 cannot encode, so no exporter can send) replaced by U+FFFD."""
    if text.isascii():
        return text
    return _SURROGATE.sub("\ufffd", text)


def jsonable(value: Any) -> Any:
    """A JSON-encodable stand-in for a value the json module does not know."""
    if hasattr(value, "model_dump") and callable(value.model_dump):
        return value.model_dump(mode="json", warnings=False)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        items = list(value)
        try:
            items.sort()
        except TypeError:
            pass
        return items
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return "base64:" + base64.b64encode(raw).decode("ascii")
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (Decimal, uuid.UUID, PurePath, complex)):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    if hasattr(value, "tolist") and callable(value.tolist):
        return value.tolist()
    if isinstance(value, (tuple, list)):
        return list(value)
    return _repr(value)


def _repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception as exc:  # noqa: BLE001 - a repr that raises must not break the traced call
        report("repr", exc)
        return f"<unrepresentable {type(value).__qualname__}>"


def _default(value: Any) -> Any:
    try:
        return jsonable(value)
    except Exception as exc:  # noqa: BLE001
        report("serialization", exc)
        return _repr(value)


class Serializer:
    """JSON encoding with the redaction and length limit of one configuration."""

    __slots__ = ("max_length", "_encode", "_redaction", "_extra_keys", "_value_patterns", "_walk", "_verdicts")

    def __init__(self, max_length: int = 65536, redaction: Redaction | None = None) -> None:
        self.max_length = max_length
        self._encode = json.JSONEncoder(default=_default, ensure_ascii=False).encode
        self._redaction = redaction = redaction or Redaction()
        self._extra_keys = re.compile("|".join(f"(?:{p})" for p in redaction.keys), re.I) if redaction.keys else None
        self._value_patterns = re.compile("|".join(f"(?:{p})" for p in redaction.values)) if redaction.values else None
        self._walk = redaction.enabled and (redaction.callback is not None)
        self._verdicts: dict[str, bool] = {}

    def dumps(self, value: Any) -> str:
        """Serialize a value to a JSON string for an attribute; never raises."""
        try:
            text = self._encode(value)
        except Exception as exc:  # noqa: BLE001 - circular structures, hostile __iter__, ...
            report("serialization", exc)
            text = self._encode(_repr(value))
        return self.finish(text, value)

    def text(self, value: str) -> str:
        """A plain string for an attribute, with value patterns redacted and cut to length."""
        if self._value_patterns is not None and self._redaction.enabled:
            value = self._value_patterns.sub(REDACTED, value)
        return self.cut(value)

    def finish(self, text: str, value: Any) -> str:
        """Redact and cut an encoded JSON text."""
        redaction = self._redaction
        if redaction.enabled and (self._walk or self._has_secret_key(text)):
            text = self._redact_structure(text)
        if self._value_patterns is not None and redaction.enabled:
            text = self._value_patterns.sub(REDACTED, text)
        return self.cut(text)

    def cut(self, text: str) -> str:
        """Cut a text to the length limit with a visible marker; lone surrogates replaced."""
        if len(text) > self.max_length:
            text = text[: self.max_length] + f"...[truncated {len(text) - self.max_length} chars]"
        return clean(text)

    def is_secret_key(self, key: str) -> bool:
        """Whether values under this key are hidden."""
        secret = self._verdicts.get(key)
        if secret is None:
            secret = _SECRET_KEY.match(key) is not None or (
                self._extra_keys is not None and self._extra_keys.search(key) is not None
            )
            if len(self._verdicts) < 4096:
                self._verdicts[key] = secret
        return secret

    @property
    def walks_structure(self) -> bool:
        """Whether a redaction callback sees every key and value (so only a full dumps encodes as configured)."""
        return self._walk

    @property
    def rewrites_values(self) -> bool:
        """Whether redaction may change values whatever their key (a callback or value patterns)."""
        return self._redaction.enabled and (self._walk or self._value_patterns is not None)

    def _has_secret_key(self, text: str) -> bool:
        """Whether an encoded JSON text has a secret key; keys, unlike values, end in '": '."""
        parts = text.split('": ')
        for index in range(len(parts) - 1):
            part = parts[index]
            if self.is_secret_key(part[part.rfind('"') + 1 :]):
                return True
        return False

    def _redact_structure(self, text: str) -> str:
        try:
            return self._encode(self._redact(json.loads(text)))
        except Exception as exc:  # noqa: BLE001 - a user callback may raise
            report("redaction", exc)
            return json.dumps(REDACTED)

    def _redact(self, node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            callback = self._redaction.callback
            for key, item in node.items():
                if self.is_secret_key(key):
                    out[key] = REDACTED
                    continue
                item = self._redact(item)
                out[key] = callback(key, item) if callback is not None else item
            return out
        if isinstance(node, list):
            return [self._redact(item) for item in node]
        return node
