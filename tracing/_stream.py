"""Aggregation of the chunks a traced generator yielded into one span output.

The kind of stream is chosen by its first chunk: strings are joined; OpenAI Responses
stream events (dicts or objects with a ``type`` of ``response.*`` or ``error``) become a
Responses-shaped ``{"output": [...], "custom_outputs": {...}, "error": {...}}``; OpenAI
ChatCompletion chunks (``choices[].delta``) become one ``chat.completion``; anything else is
listed; a chunk that does not fit the stream's kind, or fails to fold, is kept under
``"other"``. Aggregation is incremental (``StreamAggregator.add``), linear in the stream size, and
keeps no chunk it can fold, so its memory stays close to the size of the streamed text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tracing._errors import report

TEXT_DELTA = "response.output_text.delta"
_ARGUMENTS_DELTA = "response.function_call_arguments.delta"
_ITEM_ADDED = "response.output_item.added"
_ITEM_DONE = "response.output_item.done"
_ERROR_TYPES = frozenset({"error", "response.error"})
_FINAL_TYPES = frozenset({"response.completed", "response.incomplete", "response.failed"})
_RESPONSE_FIELDS = ("object", "id", "model", "status", "incomplete_details", "usage")
"""What the aggregate keeps of the response a final event carries (the LLM span's model, id and usage)."""
_NOT_PYDANTIC = object()


def get_field(obj: Any, name: str) -> Any:
    """Read a key of a mapping or an attribute of an object, None when absent or unreadable."""
    if type(obj) is dict or isinstance(obj, Mapping):
        return obj.get(name)
    try:
        return getattr(obj, name, None)
    except Exception:
        return None


class _AttributeView:
    """Read an object's attributes as a mapping's keys."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def get(self, name: str) -> Any:
        """The attribute, None when absent or unreadable."""
        return get_field(self.obj, name)


def _view(obj: Any) -> Any:
    """A mapping-like view of an event: mappings as they are, a pydantic model's fields and extras as one dict."""
    if isinstance(obj, dict):
        return obj
    extra = getattr(obj, "__pydantic_extra__", _NOT_PYDANTIC)
    fields = getattr(obj, "__dict__", None) if extra is not _NOT_PYDANTIC else None
    if type(fields) is dict:
        return {**fields, **extra} if isinstance(extra, dict) and extra else fields
    if isinstance(obj, Mapping):
        return obj
    return _AttributeView(obj)


def _as_dict(obj: Any) -> Any:
    """A plain dict for a pydantic model (None fields left out); other values unchanged."""
    dump = getattr(obj, "model_dump", None)
    if callable(dump) and not isinstance(obj, Mapping):
        return dump(exclude_none=True)
    return obj


def _is_responses_event(chunk: Any) -> bool:
    """Whether a chunk is an OpenAI Responses stream event."""
    kind = get_field(chunk, "type")
    return isinstance(kind, str) and (kind.startswith("response.") or kind == "error")


def is_responses_event(chunk: Any) -> bool:
    """Whether a chunk is an OpenAI Responses stream event."""
    return _is_responses_event(chunk)


def _is_chat_chunk(chunk: Any) -> bool:
    """Whether a chunk is an OpenAI ChatCompletion chunk."""
    return isinstance(get_field(chunk, "choices"), (list, tuple))


def is_chat_chunk(chunk: Any) -> bool:
    """Whether a chunk is an OpenAI ChatCompletion chunk."""
    return _is_chat_chunk(chunk)


class TextBuffer:
    """Text written in pieces, as io.StringIO's write/getvalue, holding few pieces: each is merged into the one before
    once that is no longer twice as long, so a stream's text costs about its size (StringIO keeps every piece written,
    49 bytes of overhead each) and each character is copied O(log n) times."""

    __slots__ = ("parts",)

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> None:
        """Append a piece of text."""
        parts = self.parts
        parts.append(text)
        while len(parts) > 1 and len(parts[-2]) <= 2 * len(parts[-1]):
            last = parts.pop()
            parts[-1] += last

    def getvalue(self) -> str:
        """The text written so far."""
        return "".join(self.parts)


class _ItemSlot:
    """An output item still being streamed: its skeleton and the text streamed into it."""

    __slots__ = ("index", "item_id", "skeleton", "buffer", "kind")

    def __init__(self, index: int, item_id: Any, skeleton: Any = None) -> None:
        self.index = index
        self.item_id = item_id
        self.skeleton = skeleton
        self.buffer: TextBuffer | None = None
        self.kind = "arguments" if get_field(skeleton, "type") == "function_call" else "text"

    def start(self, kind: str) -> TextBuffer:
        """Start streaming text (``text``) or function arguments (``arguments``) into this item."""
        self.buffer = TextBuffer()
        self.kind = kind
        return self.buffer

    def item(self) -> Any:
        """The output item as streamed so far."""
        if self.buffer is None:
            return self.skeleton
        text = self.buffer.getvalue()
        if self.kind == "arguments":
            base = dict(self.skeleton) if isinstance(self.skeleton, Mapping) else {"type": "function_call", "id": self.item_id}
            base["arguments"] = text
            return base
        return {
            "id": self.item_id,
            "content": [{"text": text, "type": "output_text", "annotations": []}],
            "role": "assistant",
            "type": "message",
        }


def _write(slot: Any, parts: list[str]) -> None:
    """Append a run of text deltas to an item's text, then empty the run."""
    (slot.buffer or slot.start("text")).write("".join(parts))
    parts.clear()


def _python_text_run(events: list[Any], delta_type: str) -> tuple[Any, str] | None:
    """(item_id, the deltas joined) for a batch made only of plain text deltas of one item: exact dicts of exactly
    "type" (equal to `delta_type`), "item_id" (equal to the first one's) and a str "delta"; else None."""
    first = events[0] if events else None
    if type(first) is not dict:
        return None
    item_id = first.get("item_id")
    try:  # one comprehension: about a quarter fewer instructions an event than a loop of checks
        deltas = [event["delta"] for event in events if type(event) is dict and len(event) == 3
                  and event["type"] == delta_type and event["item_id"] == item_id]
        if len(deltas) != len(events):
            return None
        return item_id, "".join(deltas)  # a delta not a str: TypeError
    except (KeyError, TypeError):
        return None


try:  # the same checks compiled (tracing/_speedups.c, built when the package is installed with a C compiler)
    from tracing._speedups import text_run as _text_run
except ImportError:  # pragma: no cover - a machine without a compiler
    _text_run = _python_text_run


class _ResponsesAggregate:
    """Folds Responses stream events into output items, custom outputs and the first error."""

    __slots__ = ("slots", "open", "custom_outputs", "error", "response")

    def __init__(self) -> None:
        self.slots: list[Any] = []
        self.open: dict[Any, _ItemSlot] = {}
        self.custom_outputs: dict[str, Any] | None = None  # made with the first custom output (many open streams)
        self.error: dict[str, Any] | None = None
        self.response: dict[str, Any] | None = None

    def add(self, event: Any) -> bool:
        """Fold one event; False when it is not a Responses event."""
        fields = event if type(event) is dict else _view(event)
        kind = fields.get("type")
        if kind == TEXT_DELTA or kind == _ARGUMENTS_DELTA:
            item_id = fields.get("item_id")
            slot = self.open.get(item_id) or self._open_slot(item_id, None)
            delta = fields.get("delta")
            if isinstance(delta, str):  # a str subclass as the plain str it holds, as a batch's join reads it
                (slot.buffer or slot.start("text" if kind == TEXT_DELTA else "arguments")).write(str.__str__(delta))
        elif not isinstance(kind, str) or not (kind.startswith("response.") or kind == "error"):
            return False
        elif kind == _ITEM_ADDED:
            item = _as_dict(fields.get("item"))
            item_id = get_field(item, "id")
            if item_id is not None and item_id not in self.open:
                self._open_slot(item_id, item)
        elif kind == _ITEM_DONE:
            item = _as_dict(fields.get("item"))
            done = self.open.pop(get_field(item, "id"), None)
            if done is None:
                self.slots.append(item)
            else:
                self.slots[done.index] = item
        elif kind in _ERROR_TYPES and self.error is None:
            self.error = _error_of(event)
        elif kind in _FINAL_TYPES:
            response = fields.get("response")
            self.response = {name: _as_dict(get_field(response, name)) for name in _RESPONSE_FIELDS
                             if get_field(response, name) is not None}
        custom = fields.get("custom_outputs")
        if custom and isinstance(custom, Mapping):
            if self.custom_outputs is None:
                self.custom_outputs = {}
            self.custom_outputs.update(custom)
        return True

    def add_many(self, events: list[Any], other: Callable[[Any], None]) -> None:
        """Fold events in order, runs of text deltas of one item joined at once; foreign chunks go to ``other``."""
        if events and self._add_text_run(events):
            return
        run_id: Any = _NOT_PYDANTIC
        run_slot: _ItemSlot | None = None
        parts: list[str] = []
        for event in events:
            fields = event if type(event) is dict else _view(event)
            if fields.get("type") == TEXT_DELTA and not fields.get("custom_outputs"):
                item_id = fields.get("item_id")
                if run_slot is None or item_id != run_id:
                    if parts:
                        _write(run_slot, parts)
                    run_id, run_slot = item_id, self.open.get(item_id) or self._open_slot(item_id, None)
                delta = fields.get("delta")
                if isinstance(delta, str):
                    parts.append(delta)
                continue
            if parts:
                _write(run_slot, parts)
            run_slot = None
            try:
                if self.add(event):
                    continue
            except Exception as exc:
                report("stream aggregation", exc)
            other(event)
        if parts:
            _write(run_slot, parts)

    def _add_text_run(self, events: list[Any]) -> bool:
        """Fold a batch made only of plain text deltas of one item (dicts of type, item_id and a str delta, as
        `create_text_delta` makes them: the common batch) at once; False, folding nothing, for any other batch."""
        run = _text_run(events, TEXT_DELTA)
        if run is None:
            return False
        item_id, text = run
        slot = self.open.get(item_id) or self._open_slot(item_id, None)
        (slot.buffer or slot.start("text")).write(text)
        return True

    def open_text(self, event: Any) -> tuple[str, TextBuffer] | None:
        """(item id, text) of the open item that a plain text delta of the same item as `event` (the last event
        folded) would append to, so that the deltas which follow can be joined into it directly; else None."""
        try:
            if type(event) is not dict or type(kind := event.get("type")) is not str or kind != TEXT_DELTA:
                return None
            item_id = event.get("item_id")
        except Exception:  # noqa: BLE001 - a key whose __eq__ raises: no shortcut for this stream
            return None
        if type(item_id) is not str:
            return None
        slot = self.open.get(item_id)
        return None if slot is None or slot.buffer is None else (item_id, slot.buffer)

    def _open_slot(self, item_id: Any, skeleton: Any) -> _ItemSlot:
        """A new slot for an item being streamed, at the end of the output."""
        slot = self.open[item_id] = _ItemSlot(len(self.slots), item_id, skeleton)
        self.slots.append(slot)
        return slot

    def result(self) -> dict[str, Any]:
        """The aggregate, shaped like a ResponsesAgentResponse."""
        output = [slot.item() if isinstance(slot, _ItemSlot) else slot for slot in self.slots]
        result: dict[str, Any] = {"output": output, **(self.response or {})}
        if self.custom_outputs:
            result["custom_outputs"] = self.custom_outputs
        if self.error is not None:
            result["error"] = self.error
        return result


def _error_of(event: Any) -> dict[str, Any]:
    """The code and message of an error event, top-level or nested under ``error``."""
    source = get_field(event, "error")
    if source is None:
        source = event
    return {"code": get_field(source, "code"), "message": get_field(source, "message")}


class _ToolCall:
    """A ChatCompletion tool call assembled from its fragments."""

    __slots__ = ("id", "type", "name", "arguments")

    def __init__(self) -> None:
        self.id: Any = None
        self.type: Any = None
        self.name: Any = None
        self.arguments = TextBuffer()

    def add(self, fragment: Any) -> None:
        """Fold one fragment: ids, types and names are kept, arguments appended."""
        self.id = get_field(fragment, "id") or self.id
        self.type = get_field(fragment, "type") or self.type
        function = get_field(fragment, "function")
        self.name = get_field(function, "name") or self.name
        arguments = get_field(function, "arguments")
        if isinstance(arguments, str):
            self.arguments.write(arguments)

    def result(self) -> dict[str, Any]:
        """The assembled tool call."""
        return {
            "id": self.id,
            "type": self.type or "function",
            "function": {"name": self.name, "arguments": self.arguments.getvalue()},
        }


class _Choice:
    """One ChatCompletion choice assembled from its deltas."""

    __slots__ = ("role", "content", "tool_calls", "finish_reason")

    def __init__(self) -> None:
        self.role: Any = None
        self.content = TextBuffer()
        self.tool_calls: dict[Any, _ToolCall] = {}
        self.finish_reason: Any = None

    def add(self, choice: Any) -> None:
        """Fold one streamed choice."""
        delta = get_field(choice, "delta")
        self.role = get_field(delta, "role") or self.role
        content = get_field(delta, "content")
        if isinstance(content, str):
            self.content.write(content)
        for position, fragment in enumerate(get_field(delta, "tool_calls") or ()):
            index = get_field(fragment, "index")
            key = position if index is None else index
            call = self.tool_calls.get(key)
            if call is None:
                call = self.tool_calls[key] = _ToolCall()
            call.add(fragment)
        self.finish_reason = get_field(choice, "finish_reason") or self.finish_reason

    def result(self, index: Any) -> dict[str, Any]:
        """The assembled choice, as in a non-streamed ChatCompletion."""
        message: dict[str, Any] = {"role": self.role or "assistant", "content": self.content.getvalue() or None}
        if self.tool_calls:
            message["tool_calls"] = [self.tool_calls[key].result() for key in sorted(self.tool_calls, key=_sort_key)]
        return {"index": index, "message": message, "finish_reason": self.finish_reason}


def _sort_key(key: Any) -> tuple[int, Any]:
    """Order integer indexes numerically before any other key."""
    return (0, key) if isinstance(key, int) else (1, str(key))


class _ChatAggregate:
    """Folds ChatCompletion chunks into one ``chat.completion``."""

    _META = ("id", "created", "model", "system_fingerprint")

    def __init__(self) -> None:
        self.meta: dict[str, Any] = {}
        self.choices: dict[Any, _Choice] = {}
        self.usage: Any = None

    def add(self, chunk: Any) -> bool:
        """Fold one chunk; False when it is not a ChatCompletion chunk."""
        choices = get_field(chunk, "choices")
        if not isinstance(choices, (list, tuple)):
            return False
        if len(self.meta) < len(self._META):
            for name in self._META:
                if name not in self.meta:
                    value = get_field(chunk, name)
                    if value is not None:
                        self.meta[name] = value
        for position, choice in enumerate(choices):
            index = get_field(choice, "index")
            key = position if index is None else index
            state = self.choices.get(key)
            if state is None:
                state = self.choices[key] = _Choice()
            state.add(choice)
        usage = get_field(chunk, "usage")
        if usage is not None:
            self.usage = _as_dict(usage)
        return True

    def result(self) -> dict[str, Any]:
        """The aggregate, shaped like a non-streamed ChatCompletion."""
        result: dict[str, Any] = {"object": "chat.completion", **self.meta}
        result["choices"] = [self.choices[key].result(key) for key in sorted(self.choices, key=_sort_key)]
        if self.usage is not None:
            result["usage"] = self.usage
        return result


Summarise = Callable[[Any, int], Any]
"""How a chunk that cannot be folded is kept: `summarise(chunk, room)` returns a stand-in of at most `room` characters."""


class StreamAggregator:
    """Incremental aggregation of a stream, chosen by its first chunk.

    With `summarise`, chunks that are listed (neither text nor a known event) are kept only as summaries, and only
    while their total fits in `room` characters (the rest are counted): the stream's objects are not held.
    """

    __slots__ = ("_mode", "_text", "_items", "_fold", "_other", "_summarise", "_room", "_omitted")

    def __init__(self, summarise: Summarise | None = None, room: int = 65536) -> None:
        self._mode = ""
        self._text: TextBuffer | None = None
        self._items: list[Any] | None = None  # the listed chunks, made when the stream turns out to be a list
        self._fold: _ResponsesAggregate | _ChatAggregate | None = None
        self._other: list[Any] | None = None  # made with the first chunk that does not fit the stream's kind
        self._summarise = summarise
        self._room = room
        self._omitted = 0

    def _keep_other(self, chunk: Any) -> None:
        if self._other is None:
            self._other = []
        self._keep(self._other, chunk)

    def _keep(self, into: list[Any], chunk: Any) -> None:
        """List a chunk (or its summary, while there is room)."""
        summarise = self._summarise
        if summarise is None:
            into.append(chunk)
        elif self._room <= 0:
            self._omitted += 1
        else:
            summary = summarise(chunk, self._room)
            self._room -= len(getattr(summary, "text", "")) or 1
            into.append(summary)

    def add(self, chunk: Any) -> None:
        """Fold one chunk into the aggregate."""
        mode = self._mode
        if mode == "text":
            if isinstance(chunk, str):
                self._text.write(chunk)  # type: ignore[union-attr]
                return
            self._mode = "list"
            self._items = [self._text.getvalue()]  # type: ignore[union-attr]
            self._text = None
            self._keep(self._items, chunk)
        elif mode == "responses" or mode == "chat":
            try:
                if self._fold.add(chunk):  # type: ignore[union-attr]
                    return
            except Exception as exc:
                report("stream aggregation", exc)
            self._keep_other(chunk)
        elif mode == "list":
            self._keep(self._items, chunk)  # type: ignore[arg-type]
        else:
            self._start(chunk)

    def add_many(self, chunks: list[Any]) -> None:
        """Fold a batch of chunks; a batch of strings is joined in one step."""
        if not chunks:
            return
        if self._mode in ("", "text") and type(chunks[0]) is str:
            try:
                joined = "".join(chunks)
            except TypeError:
                pass
            else:
                self.add(joined)
                return
        if not self._mode:
            self._start(chunks[0])
            chunks = chunks[1:]
        fold = self._fold
        if type(fold) is _ResponsesAggregate:
            fold.add_many(chunks, self._keep_other)
            return
        for chunk in chunks:
            self.add(chunk)

    def open_text(self, event: Any) -> tuple[str, TextBuffer] | None:
        """For a stream of Responses events: see _ResponsesAggregate.open_text."""
        fold = self._fold
        return fold.open_text(event) if type(fold) is _ResponsesAggregate else None

    def _start(self, chunk: Any) -> None:
        """Choose the mode from the first chunk and fold it."""
        if isinstance(chunk, str):
            self._mode, self._text = "text", TextBuffer()
        elif _is_responses_event(chunk):
            self._mode, self._fold = "responses", _ResponsesAggregate()
        elif _is_chat_chunk(chunk):
            self._mode, self._fold = "chat", _ChatAggregate()
        else:
            self._mode, self._items = "list", []
        self.add(chunk)

    def result(self) -> Any:
        """The aggregate of the chunks added so far."""
        if self._mode == "text":
            return self._text.getvalue()  # type: ignore[union-attr]
        more = [f"...[{self._omitted} more chunks]"] if self._omitted else []
        if self._fold is not None:
            result = self._fold.result()
            if self._other or more:
                result["other"] = list(self._other or ()) + more
            return result
        return list(self._items or ()) + more


def aggregate_stream(chunks: list[Any]) -> Any:
    """Aggregate streamed chunks: strings joined, Responses events and ChatCompletion chunks folded, else listed."""
    aggregator = StreamAggregator()
    aggregator.add_many(chunks)
    return aggregator.result()
