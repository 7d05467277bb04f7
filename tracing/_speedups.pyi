"""The compiled parts of tracing (tracing/_speedups.c); optional, see tracing._stream._python_text_run,
tracing._decorator._traced_generator, tracing._serialize (encode_string, _python_plain_room, _plain_encoder) and
tracing._retriever._plain_dict_documents."""

from collections.abc import Callable, Generator
from contextvars import Context
from typing import Any

def text_run(events: list[Any], delta_type: str, /) -> tuple[Any, str] | None:
    """(item_id, the deltas joined) for a list of plain text deltas of one item, else None."""

class Relay:
    """The steps of a traced generator, each run in `ctx` and recorded in `stream` (see tracing._decorator)."""

    def __init__(self, ctx: Context, gen: Generator[Any, Any, Any], stream: Any, delta_type: str, /) -> None: ...
    def __iter__(self) -> Relay: ...
    def __next__(self) -> Any: ...
    def send(self, value: Any, /) -> Any: ...
    def throw(self, exc: BaseException | type[BaseException], /, *args: Any) -> Any: ...
    def close(self) -> None: ...

def quote(text: str, /) -> str:
    """The JSON string literal of text, as `json.encoder.encode_basestring(text)` writes it."""

def plain_json(value: Any, /) -> str:
    """`json.dumps(value, ensure_ascii=False)` of a value made only of plain JSON types (TypeError for any other)."""

def plain_room(value: Any, room: int, secret: Callable[[str], bool] | None = None,
               verdicts: dict[str, bool] | None = None, /) -> int:
    """What `tracing._serialize._python_plain_room` answers."""

def plain_documents(rows: Any, recorded: type[tuple[Any, ...]], primary_key: str, text_column: str, uri_column: str | None,
                    required: tuple[str, ...], columns: tuple[str, ...], max_length: int, capture_content: bool,
                    /) -> Any:
    """(documents, MLflow JSON or None, ranking JSON or None) for plain dict rows of ASCII texts, else None."""
