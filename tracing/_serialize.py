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
from collections.abc import Callable, Mapping
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


_BaseModel: type | None = None


def _pydantic_base() -> type:
    global _BaseModel
    if _BaseModel is None:
        from pydantic import BaseModel

        _BaseModel = BaseModel
    return _BaseModel


def _array_module(value: Any) -> str | None:
    """For an array-like value (its *type* defines `tolist`: numpy, pandas, torch, ... never asked of the instance,
    so a mock that answers every attribute is not one), the top package of its type; else None."""
    kind = type(value)
    known = _ARRAY_MODULES.get(kind, _UNKNOWN)
    if known is not _UNKNOWN:
        return known  # type: ignore[return-value]
    module = kind.__module__.partition(".")[0] if callable(getattr(kind, "tolist", None)) else None
    if len(_ARRAY_MODULES) < 1024:
        _ARRAY_MODULES[kind] = module
    return module


_UNKNOWN = object()
_PLAIN_JSON: dict[type, Callable[[Any], Any] | None] = {}
"""A pydantic model class's `_plain_json` (None when it has none), by class."""
_ARRAY_MODULES: dict[type, str | None] = {}
"""`_array_module` by type, learnt (a missing attribute of a pydantic model class costs about a microsecond)."""


def jsonable(value: Any) -> Any:
    """A JSON-encodable stand-in for a value the json module does not know (types detected by type, never by
    asking the value: a mock that answers every attribute is only repr'd)."""
    kind = type(value)
    if issubclass(kind, _pydantic_base()):
        if kind in _PLAIN_JSON:
            plain = _PLAIN_JSON[kind]
        else:
            plain = getattr(kind, "_plain_json", None)
            if len(_PLAIN_JSON) < 1024:
                _PLAIN_JSON[kind] = plain
        if plain is not None:
            dumped = plain(value)  # the agent models' own dump of plain JSON (tracing._responses), else None
            if dumped is not None:
                return dumped
        try:
            return value.model_dump(mode="json", warnings=False)
        except ValueError:  # pydantic cannot write some fields as JSON (bytes that are not UTF-8): we write them
            return value.model_dump(mode="python", warnings=False)
    if dataclasses.is_dataclass(kind):
        return {field.name: getattr(value, field.name) for field in dataclasses.fields(kind)}
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
    if _array_module(value) is not None:
        return value.tolist()
    if isinstance(value, (tuple, list)):
        return list(value)
    return _repr(value)


class RawJSON:
    """A JSON text already encoded (and cut): written into the output as it is."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


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


_MAX_INT_BITS = 13_000  # below the 4,300-digit limit of int -> str
_MAX_DEPTH = 100
_WHOLE_UP_TO = 8
"""Plain JSON values up to this many times the length limit are encoded whole (`_plain_encoder`), then cut (the
marker then tells exactly how much was cut); larger ones are written only up to the limit."""


_SECRET = -2
"""What `_plain_room` answers for a plain value that has a key whose value is redacted."""


def _python_plain_room(value: Any, room: int, secret: Callable[[str], bool] | None = None,
                       verdicts: Mapping[str, bool] | None = None) -> int:
    """What is left of `room` (characters) after a value made only of plain JSON (str-keyed dicts, lists, tuples,
    str, finite floats, moderate ints, bools, None), which `_plain_encoder` then writes; -1 if it is not plain or
    would not fit; with `secret` (a key's verdict; `verdicts`, those already known), _SECRET if it fits but has a
    secret key. Stops as soon as it knows (strings, ints, bools and None in a container are counted there)."""
    stack = [value]
    pop, push = stack.pop, stack.append
    found = False
    checking = secret is not None
    known = verdicts.get if verdicts is not None else _no_verdict
    while stack:
        item = pop()
        kind = type(item)
        if kind is dict:
            room -= 2
            for key, child in item.items():
                if type(key) is not str:
                    return -1
                if checking:
                    verdict = known(key)
                    if verdict if verdict is not None else secret(key):  # type: ignore[misc]
                        found, checking = True, False
                kind = type(child)
                if kind is str:
                    room -= len(key) + len(child) + 8
                elif kind is int:
                    if child.bit_length() > _MAX_INT_BITS:
                        return -1
                    room -= len(key) + 10 + child.bit_length() // 3
                elif kind is bool or child is None:
                    room -= len(key) + 11
                else:
                    room -= len(key) + 6
                    push(child)
        elif kind is str:
            room -= len(item) + 2
        elif kind is list or kind is tuple:
            room -= 2 + 2 * len(item)
            for child in item:
                kind = type(child)
                if kind is str:
                    room -= len(child) + 2
                elif kind is int:
                    if child.bit_length() > _MAX_INT_BITS:
                        return -1
                    room -= 4 + child.bit_length() // 3
                elif kind is bool or child is None:
                    room -= 5
                else:
                    push(child)
        elif kind is int:
            if item.bit_length() > _MAX_INT_BITS:
                return -1
            room -= 4 + item.bit_length() // 3
        elif kind is float:
            if item != item or item in _INFINITIES:
                return -1
            room -= 24
        elif kind is bool or item is None:
            room -= 5
        else:
            return -1
        if room < 0:
            return -1
    return _SECRET if found else room


def _no_verdict(key: str) -> None:
    return None


try:  # the same walk compiled (tracing/_speedups.c); `verdicts` must then be a dict or None
    from tracing._speedups import plain_room as _plain_room
except ImportError:  # pragma: no cover - a machine without a compiler
    _plain_room = _python_plain_room


_INFINITIES = (float("inf"), float("-inf"))


class _Full(Exception):
    """The budget is spent: the text so far is what is kept."""


class _Circular(Exception):
    """A container met again inside itself; the outermost occurrence is written as its repr."""

    def __init__(self, ident: int) -> None:
        super().__init__("circular reference")
        self.ident = ident


class _ReprInstead(Exception):
    """Write this value as the JSON string of its repr."""


class _Writer:
    """Writes JSON into parts until `left` characters are spent; secret keys redacted on the way; each value that
    cannot be represented spoils only itself."""

    __slots__ = ("parts", "left", "skipped", "serializer", "_path")

    def __init__(self, left: int, serializer: Serializer) -> None:
        self.parts: list[str] = []
        self.left = left
        self.skipped = 0
        """Characters of a cut string left unwritten (what the truncation marker can at least report)."""
        self.serializer = serializer
        self._path: set[int] = set()

    def put(self, text: str) -> None:
        self.parts.append(text)
        self.left -= len(text)
        if self.left <= 0:
            raise _Full

    def value(self, value: Any, depth: int = 0) -> None:
        """Write one value; on failure, roll back and write a marker instead."""
        mark, left = len(self.parts), self.left
        try:
            self._write(value, depth)
        except (_Full, _Circular):
            raise
        except _ReprInstead:
            del self.parts[mark:]
            self.left = left
            self.string(_repr(value))
        except Exception as exc:  # noqa: BLE001 - one field, not the whole value
            del self.parts[mark:]
            self.left = left
            if not isinstance(exc, RecursionError):
                report("serialization", exc)
            self.put(encode_string(f"<unrepresentable {type(value).__qualname__}>"))

    def _write(self, value: Any, depth: int) -> None:
        kind = type(value)
        if kind is str:
            self.string(value)
        elif value is None:
            self.put("null")
        elif kind is bool:
            self.put("true" if value else "false")
        elif isinstance(value, int) and kind is not bool and not isinstance(value, enum.Enum):
            if value.bit_length() > _MAX_INT_BITS:
                self.put(encode_string(f"<int of about {int(value.bit_length() * 0.30103) + 1} digits>"))
            else:
                self.put(int.__repr__(value))
        elif isinstance(value, float):
            self.put(_float(value))
        elif kind is RawJSON:
            self.put(value.text)
        elif depth >= _MAX_DEPTH:
            self.put(encode_string("<nested too deep>"))
        elif kind is dict or isinstance(value, (list, tuple)) or (isinstance(value, Mapping) and not isinstance(value, enum.Enum)):
            ident = id(value)
            if ident in self._path:
                raise _Circular(ident)
            self._path.add(ident)
            try:
                if isinstance(value, (list, tuple)):
                    self.sequence(value, depth)
                else:
                    self.mapping(value, depth)
            except _Circular as exc:
                if exc.ident != ident:
                    raise
                report("serialization", ValueError("circular reference"))
                raise _ReprInstead from None
            finally:
                self._path.discard(ident)
        elif isinstance(value, str):
            self.string(value)
        else:
            if _array_module(value) == "numpy":
                self.array(value, depth)
            else:
                converted = _default(value)
                if not self.plain(converted):
                    self._write(converted, depth + 1)

    def plain(self, value: Any) -> bool:
        """Write a value of plain JSON without a secret key at once (`_plain_encoder`; what the walk below would write)
        when it fits in what is left; whether it did."""
        serializer = self.serializer
        check = serializer.is_secret_key if serializer._redaction.enabled else None
        if _plain_room(value, self.left, check, serializer._verdicts) < 0:
            return False
        text = serializer._encode_plain(value)
        if len(text) >= self.left:
            return False
        self.put(text)
        return True

    def string(self, text: str) -> None:
        if len(text) > self.left:
            keep = max(self.left, 1)
            self.skipped += len(text) - keep
            text = text[:keep]
        self.put(encode_string(text))

    def mapping(self, value: Mapping[Any, Any], depth: int) -> None:
        self.put("{")
        first = True
        is_secret = self.serializer.is_secret_key if self.serializer._redaction.enabled else None
        for key, item in value.items():
            name = _key(key)
            self.put(encode_string(name) + ": " if first else ", " + encode_string(name) + ": ")
            first = False
            if is_secret is not None and is_secret(name):
                self.put('"' + REDACTED + '"')
            else:
                self.value(item, depth + 1)
        self.put("}")

    def sequence(self, value: Any, depth: int) -> None:
        self.put("[")
        first = True
        for item in value:
            if not first:
                self.put(", ")
            first = False
            self.value(item, depth + 1)
        self.put("]")

    def array(self, value: Any, depth: int) -> None:
        """A numpy array, reading only as many elements as the budget can hold."""
        if value.ndim == 0:
            self.value(value.item(), depth + 1)
            return
        if value.ndim == 1:
            items = value[: self.left // 2 + 1].tolist()
            if value.dtype.kind in "biuf":
                try:
                    text = _encode_numbers(items)  # the C encoder; NaN or infinity make it refuse
                except ValueError:
                    pass
                else:
                    self.put(text)
                    return
            self.sequence(items, depth)
            return
        self.put("[")
        for index in range(len(value)):
            if index:
                self.put(", ")
            self.array(value[index], depth + 1)
        self.put("]")


def _key(key: Any) -> str:
    if type(key) is str:
        return key
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    if isinstance(key, float):
        return _float(key).strip('"')
    if isinstance(key, int):
        return int.__repr__(key)
    return str(key)


def _float(value: float) -> str:
    if value != value:
        return '"NaN"'
    if value in _INFINITIES:
        return '"Infinity"' if value > 0 else '"-Infinity"'
    return float.__repr__(value)


# encode_string(text): the JSON string literal of a text, exactly as json.encoder.encode_basestring writes it; the
# serializer's general writer and the retriever's document JSON (tracing._retriever) write every string with it.
try:  # compiled: a text with nothing to escape is copied between quotes in one pass (tracing/_speedups.c)
    from tracing._speedups import quote as encode_string
except ImportError:  # pragma: no cover - a machine without a compiler
    encode_string = json.encoder.encode_basestring
_encode_numbers = json.JSONEncoder(allow_nan=False).encode


def _plain_encoder() -> Callable[[Any], str]:
    """JSON of a value `_plain_room` accepted, as `json.dumps(value, ensure_ascii=False)` writes it: compiled (each
    piece copied once into one buffer, tracing/_speedups.c), else by the json module's C encoder made once (json.dumps
    makes one per call, most of the time of a small value); no cycle check, as `_plain_room` only accepts values it
    could walk to the end."""
    try:
        from tracing._speedups import plain_json
    except ImportError:  # pragma: no cover - a machine without a compiler
        pass
    else:
        return plain_json
    make = getattr(json.encoder, "c_make_encoder", None)  # None without the C accelerator
    if make is None:
        return json.JSONEncoder(ensure_ascii=False, check_circular=False).encode
    iterencode = make(None, None, encode_string, None, ": ", ", ", False, False, True)
    join = "".join
    return lambda value: join(iterencode(value, 0))


class Serializer:
    """JSON encoding with the redaction and length limit of one configuration."""

    __slots__ = ("max_length", "_encode", "_encode_plain", "_redaction", "_extra_keys", "_value_patterns", "_walk",
                 "_verdicts", "_patterns", "_check")

    def __init__(self, max_length: int = 65536, redaction: Redaction | None = None) -> None:
        self.max_length = max_length
        self._encode = json.JSONEncoder(default=_default, ensure_ascii=False).encode
        self._encode_plain = _plain_encoder()
        self._redaction = redaction = redaction or Redaction()
        self._extra_keys = re.compile("|".join(f"(?:{p})" for p in redaction.keys), re.I) if redaction.keys else None
        self._value_patterns = re.compile("|".join(f"(?:{p})" for p in redaction.values)) if redaction.values else None
        self._walk = redaction.enabled and (redaction.callback is not None)
        self._verdicts: dict[str, bool] = {}
        self._patterns = self._value_patterns if redaction.enabled else None
        """The value patterns redacted (None when there are none or redaction is off)."""
        self._check = self.is_secret_key if redaction.enabled and not self._walk else None
        """How plain values are checked for secret keys (None: not at all; with a callback, the whole is redacted)."""

    def dumps(self, value: Any) -> str:
        """Serialize a value to a JSON string for an attribute; never raises. The work stops once the length limit
        is reached (a 50 MB string or a large array cost what is kept); NaN and infinity become "NaN",
        "Infinity", "-Infinity"; a field that cannot be represented spoils only itself."""
        if self._walk:
            return self._dumps_whole(value)
        limit = self.max_length
        room = _plain_room(value, _WHOLE_UP_TO * limit, self._check, self._verdicts)
        text: str | None = None
        if room >= 0:  # plain JSON without a secret key (most values): encoded, redacted and cut right here
            try:
                text = self._encode_plain(value)
            except Exception:  # noqa: BLE001, S110 - the writer says what failed
                pass
        elif type(value) is dict:  # bound arguments holding a pydantic model (an agent's request)
            text = self._with_models(value, limit)
        if text is not None:
            if self._patterns is not None:
                text = self._patterns.sub(REDACTED, text)
            return clean(text if len(text) <= limit else text[:limit] + f"...[truncated {len(text) - limit} chars]")
        return self._dumps(value, limit, room)[0]

    def _with_models(self, value: dict[Any, Any], limit: int) -> str | None:
        """The JSON text the writer writes for a dict of str keys (none secret) whose values are plain scalars or
        pydantic models dumping to plain JSON, when it fits in `limit` (so nothing is cut); else None. Each model's
        dump is checked and encoded as the writer's `plain` checks and encodes it where the writer reaches it."""
        check, verdicts, encode = self._check, self._verdicts, self._encode_plain
        base = _pydantic_base()
        written = 1  # "{"
        parts: list[str] = []
        for key, item in value.items():
            if type(key) is not str or (check is not None and check(key)):
                return None
            name = encode_string(key) + ": "
            written += len(name) + (2 if parts else 0)
            kind = type(item)
            if kind is str:
                if written + len(item) >= limit:  # a long text: only the writer reads no more of it than it keeps
                    return None
                piece = encode_string(item)
            elif item is None or kind is bool or kind is int or kind is float:
                if (kind is int and item.bit_length() > _MAX_INT_BITS) or (kind is float and (
                        item != item or item in _INFINITIES)):
                    return None
                piece = encode(item)
            elif isinstance(item, base):
                try:
                    item = jsonable(item)
                except Exception:  # noqa: BLE001 - the writer says what failed
                    return None
                left = limit + 1 - written  # what the writer has left when it reaches the dump
                if _plain_room(item, left, check, verdicts) < 0:
                    return None
                try:
                    piece = encode(item)
                except RecursionError:  # nested deeper than the plain encoder goes: the writer takes it
                    return None
                if len(piece) >= left:
                    return None
            else:
                return None
            written += len(piece)
            if written > limit:
                return None
            parts.append(name + piece)
        text = "{" + ", ".join(parts) + "}"
        return text if len(text) <= limit else None

    def summary(self, value: Any, limit: int) -> RawJSON:
        """A value as a JSON fragment of about `limit` characters at most: its JSON, or (when cut) the cut text as a
        JSON string, so that it can stand in a list in place of the value."""
        text, cut = self._dumps(value, max(limit, 16))
        return RawJSON(encode_string(text) if cut else text)

    def _dumps(self, value: Any, limit: int, room: int | None = None) -> tuple[str, bool]:
        """(JSON text cut to `limit` with a marker, whether it was cut); `room`: what `_plain_room` said, if known."""
        if room is None:
            room = _plain_room(value, _WHOLE_UP_TO * limit, self._check, self._verdicts)
        if room != -1:
            try:
                text = self._encode_plain(value)
            except Exception:  # noqa: BLE001, S110 - the writer below says what failed
                pass
            else:
                text = self.finish(text, room == _SECRET or self._walk, limit)
                return text, len(text) > limit
        writer = _Writer(limit + 1, self)
        try:
            writer.value(value)
            complete = True
        except _Full:
            complete = False
        except Exception as exc:  # noqa: BLE001 - never raises (SPEC 3.2)
            report("serialization", exc)
            return self.cut(encode_string(f"<unrepresentable {type(value).__qualname__}>")), False
        text = "".join(writer.parts)
        if self._value_patterns is not None and self._redaction.enabled:
            text = self._value_patterns.sub(REDACTED, text)
        if complete and len(text) <= limit:
            return clean(text), False
        cut = len(text) - limit + writer.skipped
        if complete:
            return clean(text[:limit]) + f"...[truncated {cut} chars]", True
        return clean(text[:limit]) + f"...[truncated at least {cut} chars]", True

    def _dumps_whole(self, value: Any) -> str:
        """Encode everything, then redact (a redaction callback sees every key and value), then cut."""
        try:
            text = self._encode(value)
        except Exception as exc:  # noqa: BLE001 - circular structures, hostile __iter__, ...
            report("serialization", exc)
            text = self._encode(_repr(value))
        return self.finish(text, True)

    def text(self, value: str) -> str:
        """A plain string for an attribute, with value patterns redacted and cut to length."""
        if self._patterns is not None:
            value = self._patterns.sub(REDACTED, value)
        elif len(value) <= self.max_length and value.isascii():
            return value
        return self.cut(value)

    def finish(self, text: str, secret_keys: bool, limit: int | None = None) -> str:
        """Redact (the values of secret keys, when it has some, and the callback's choices) and cut an encoded JSON
        text."""
        redaction = self._redaction
        if redaction.enabled and secret_keys:
            text = self._redact_structure(text)
        if self._value_patterns is not None and redaction.enabled:
            text = self._value_patterns.sub(REDACTED, text)
        return self.cut(text, limit)

    def cut(self, text: str, limit: int | None = None) -> str:
        """Cut a text to the length limit with a visible marker; lone surrogates replaced."""
        limit = self.max_length if limit is None else limit
        if len(text) > limit:
            text = text[:limit] + f"...[truncated {len(text) - limit} chars]"
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
