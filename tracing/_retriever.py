"""Retriever schemas and the mapping of retriever and reranker outputs to documents on spans.

Each document is written only where a backend reads it, as `conventions` choose:
- `output.value` (always): MLflow's document JSON `[{"page_content", "metadata", "id"}]`, which MLflow's trace UI
  renders as documents (its OTLP endpoint translates OpenInference spans), and which Jaeger shows as a tag;
- `retrieval.documents.{i}.document.id|content|score|metadata` and `reranker.*` (openinference): what Arize
  Phoenix's documents view and its retrieval evaluations read;
- `gen_ai.operation.name`, `gen_ai.data_source.id` and `gen_ai.retrieval.documents` `[{"id", "score"}]` (genai):
  what tools following the OpenTelemetry GenAI conventions read;
- `agent_tracing.retriever.schema|unmapped|document_count` (always): this project's readers (evaluation).
"""

from __future__ import annotations

import dataclasses
import math
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from opentelemetry.util.types import AttributeValue
from pydantic import BaseModel, ConfigDict, Field

from tracing import keys
from tracing._errors import report
from tracing._mlflow import mlflow_retriever_schema, mlflow_retriever_schemas
from tracing._serialize import Serializer, encode_string

if TYPE_CHECKING:
    from tracing._recorder import Recorder

AUTO_SCHEMA = "auto"
DEFAULT_ATTRIBUTE_BUDGET = 96
"""Attributes a mapping may add when the caller does not say: the SDK's default limit of 128 less 32 for the rest."""

_PER_DOCUMENT = 4
_quote = encode_string
_CONTENT_KEYS = ("page_content", "content", "text")
_ID_KEYS = ("id", "doc_id", "document_id", "chunk_id", "node_id", "id_")
_URI_KEYS = ("doc_uri", "uri", "url", "source")
_SCORE_KEYS = ("score", "similarity", "relevance_score")
_LIST_KEYS = ("documents", "results", "hits", "matches", "nodes", "source_nodes", "data")
_RERANKER_DOC_ARGS = ("documents", "docs", "nodes", "candidates", "passages", "results", "hits")
_QUERY_ARGS = ("query", "question", "q", "query_str", "text", "prompt")
_TOP_K_ARGS = ("top_k", "top_n", "k", "n")


class RetrieverSchema(BaseModel):
    """Which columns of a retriever's rows hold the id, the text, the URI and the other metadata."""

    model_config = ConfigDict(frozen=True)

    name: str = "retriever"
    primary_key: str
    text_column: str
    doc_uri: str | None = None
    other_columns: tuple[str, ...] = ()


class Document(BaseModel):
    """One retrieved document as recorded on RETRIEVER and RERANKER spans."""

    id: str | None = None
    content: str = ""
    doc_uri: str | None = None
    score: float | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


_registry: dict[str, RetrieverSchema] = {}
_replaced_warned: set[str] = set()
_lock = threading.Lock()


def set_retriever_schema(
    *,
    name: str = "retriever",
    primary_key: str,
    text_column: str,
    doc_uri: str | None = None,
    other_columns: Sequence[str] | None = None,
) -> RetrieverSchema:
    """Register how the rows of the retriever `name` (a RETRIEVER span of that name) map to documents.

    Args:
        name: the retriever's span name (or the `retriever_schema=` given to `trace`/`start_span`).
        primary_key: the column holding a document's id.
        text_column: the column holding its text.
        doc_uri: the column holding its URI (what evaluation compares).
        other_columns: more columns kept in each document's metadata.

    Registering the same fields again does nothing; other fields replace the schema with a warning. Bad arguments
    raise TypeError or ValueError naming the argument.
    """
    _check_column("name", name)
    _check_column("primary_key", primary_key)
    _check_column("text_column", text_column)
    if doc_uri is not None:
        _check_column("doc_uri", doc_uri)
    if other_columns is None:
        others: tuple[str, ...] = ()
    elif isinstance(other_columns, (str, bytes)) or not isinstance(other_columns, Sequence):
        raise TypeError(f"other_columns must be a list of column names, got {type(other_columns).__name__}")
    else:
        for index, column in enumerate(other_columns):
            _check_column(f"other_columns[{index}]", column)
        others = tuple(other_columns)
    seen: dict[str, str] = {}
    named: list[tuple[str, str | None]] = [("primary_key", primary_key), ("text_column", text_column), ("doc_uri", doc_uri)]
    named += [(f"other_columns[{i}]", column) for i, column in enumerate(others)]
    for argument, used in named:
        if used is None:
            continue
        if used in seen:
            raise ValueError(f"{argument}: column {used!r} is already used by {seen[used]}")
        seen[used] = argument
    schema = RetrieverSchema(name=name, primary_key=primary_key, text_column=text_column, doc_uri=doc_uri, other_columns=others)
    with _lock:
        previous = _registry.get(name)
        _registry[name] = schema
        warn = previous is not None and previous != schema and name not in _replaced_warned
        if warn:
            _replaced_warned.add(name)
    if warn and previous is not None:
        warnings.warn(
            f"retriever schema {name!r} replaced: {previous.model_dump(exclude={'name'})} -> {schema.model_dump(exclude={'name'})}",
            UserWarning,
            stacklevel=2,
        )
    return schema


def get_retriever_schema(name: str) -> RetrieverSchema | None:
    """The schema registered under `name` (here, else with `mlflow.models.set_retriever_schema`), or None."""
    with _lock:
        found = _registry.get(name)
    return _with_mlflow(name, found) if mlflow_retriever_schemas() else found


def _check_column(argument: str, value: Any) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{argument} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{argument} must not be empty")


def _clear_registry() -> None:
    """Forget all schemas (tests)."""
    with _lock:
        _registry.clear()
        _replaced_warned.clear()
        _clash_warned.clear()


# ---------------------------------------------------------------- rows to documents

_MISSING = object()


def _fields(row: Any) -> dict[str, Any] | None:
    """The named fields of a row (never to be modified: it may be the row itself), `node` wrappers flattened; None for a scalar."""
    if isinstance(row, dict):
        fields = row
    elif isinstance(row, Mapping):
        fields = dict(row)
    elif isinstance(row, BaseModel):
        fields = {name: getattr(row, name, None) for name in type(row).model_fields}
        if row.model_extra:
            fields.update(row.model_extra)
    elif dataclasses.is_dataclass(row) and not isinstance(row, type):
        fields = {field.name: getattr(row, field.name) for field in dataclasses.fields(row)}
    elif isinstance(row, (str, bytes, int, float, bool, type(None), Sequence)):
        return None
    else:
        fields = {slot: getattr(row, slot) for slot in getattr(type(row), "__slots__", ()) if not slot.startswith("_") and hasattr(row, slot)}
        fields.update((key, value) for key, value in getattr(row, "__dict__", {}).items() if not key.startswith("_"))
        if not fields:
            return None
    node = fields.get("node")
    if node is not None and not any(key in fields for key in _CONTENT_KEYS):
        inner = _fields(node)
        if inner is not None:
            if inner.get("score") is None and fields.get("score") is not None:
                return {**inner, "score": fields["score"]}
            return inner
    return fields


def _lookup(fields: Mapping[str, Any], column: str, row: Any = None) -> Any:
    if column in fields:
        return fields[column]
    metadata = fields.get("metadata")
    if isinstance(metadata, Mapping) and column in metadata:
        return metadata[column]
    if row is not None and not isinstance(row, Mapping) and not column.startswith("_"):
        value = getattr(row, column, _MISSING)
        if value is not _MISSING and not callable(value):
            return value
    if "." in column:
        node: Any = fields
        for part in column.split("."):
            if isinstance(node, Mapping):
                node = node.get(part, _MISSING)
            else:
                node = getattr(node, part, _MISSING) if not isinstance(node, (str, bytes, int, float)) else _MISSING
            if node is _MISSING:
                return _MISSING
        return node
    return _MISSING


def _first(fields: Mapping[str, Any], keys: Sequence[str]) -> tuple[str | None, Any]:
    for key in keys:
        value = fields.get(key)
        if value is not None:
            return key, value
    metadata = fields.get("metadata")
    if isinstance(metadata, Mapping):
        for key in keys:
            value = metadata.get(key)
            if value is not None:
                return key, value
    return None, None


def _text(value: Any, serializer: Serializer) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, (int, float)):
        return str(value)
    return serializer.dumps(value)


def _identifier(value: Any, serializer: Serializer) -> str | None:
    if value is None or value is _MISSING:
        return None
    return value if isinstance(value, str) else _text(value, serializer)


def _score(value: Any) -> float | None:
    if value is None or value is _MISSING or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _split_scored(row: Any) -> tuple[Any, Any]:
    """A `(document, score)` pair as LangChain's similarity_search_with_score returns it."""
    if isinstance(row, tuple) and len(row) == 2 and isinstance(row[1], (int, float)) and not isinstance(row[1], bool):
        return row[0], row[1]
    return row, None


class _Mapped(NamedTuple):
    """A row mapped to the fields of a Document (a light record: mapping runs on every retrieval)."""

    id: str | None = None
    content: str = ""
    doc_uri: str | None = None
    score: float | None = None
    metadata: dict[str, Any] = {}
    scored_node: bool = False
    """A LlamaIndex NodeWithScore: MLflow keeps its score in the document metadata (Document.from_llama_index_node)."""


def _scored_node(row: Any) -> bool:
    """Whether a row wraps a node with a score beside it, as LlamaIndex's NodeWithScore does."""
    if isinstance(row, Mapping):
        return row.get("node") is not None and "score" in row and not any(key in row for key in _CONTENT_KEYS)
    node = getattr(row, "node", None)
    return node is not None and not isinstance(node, (str, bytes, int, float)) and hasattr(row, "score")


def _from_document(document: Document) -> _Mapped:
    return _Mapped(document.id, document.content, document.doc_uri, document.score, document.metadata)


def _map_dict_row(row: dict[str, Any], schema: RetrieverSchema, serializer: Serializer) -> _Mapped | None:
    """A plain dict row holding every schema column mapped in one pass; None for any other row (the general path)."""
    if row.get("node") is not None:
        return None
    try:
        identifier = row[schema.primary_key]
        content = row[schema.text_column]
        uri = row[schema.doc_uri] if schema.doc_uri is not None else None
        metadata = {column: row[column] for column in schema.other_columns}
    except KeyError:
        return None
    score = row["score"] if "score" in row else _lookup(row, "score")
    return _Mapped(  # positional: a NamedTuple built with keywords costs twice as much
        identifier if type(identifier) is str else _identifier(identifier, serializer),
        content if type(content) is str else _text(content, serializer),
        uri if uri is None or type(uri) is str else _identifier(uri, serializer),
        score if type(score) is float and math.isfinite(score) else _score(score),
        metadata,
    )


def _map_with_schema(row: Any, schema: RetrieverSchema, unmapped: set[str], serializer: Serializer) -> _Mapped:
    if type(row) is dict:
        mapped = _map_dict_row(row, schema, serializer)
        if mapped is not None:
            return mapped
    row, pair_score = _split_scored(row)
    if isinstance(row, Document):
        return _from_document(row)
    fields = _fields(row)
    if fields is None:
        unmapped.add(schema.primary_key)
        if schema.doc_uri is not None:
            unmapped.add(schema.doc_uri)
        unmapped.update(schema.other_columns)
        return _Mapped(content=_text(row, serializer), score=_score(pair_score))
    values = {}
    for column in (schema.primary_key, schema.text_column, schema.doc_uri, *schema.other_columns):
        if column is None:
            continue
        value = _lookup(fields, column, row)
        if value is _MISSING:
            unmapped.add(column)
        values[column] = value
    score = _score(pair_score) if pair_score is not None else _score(_lookup(fields, "score"))
    metadata = {column: values[column] for column in schema.other_columns if values[column] is not _MISSING}
    return _Mapped(
        id=_identifier(values[schema.primary_key], serializer),
        content=_text(None if values[schema.text_column] is _MISSING else values[schema.text_column], serializer),
        doc_uri=_identifier(values[schema.doc_uri], serializer) if schema.doc_uri is not None else None,
        score=score,
        metadata=metadata,
        scored_node=score is not None and _scored_node(row),
    )


def _recognise(row: Any, serializer: Serializer) -> _Mapped:
    row, pair_score = _split_scored(row)
    if isinstance(row, Document):
        return _from_document(row)
    fields = _fields(row)
    if fields is None:
        return _Mapped(content=_text(row, serializer), score=_score(pair_score))
    content_key, content = _first(fields, _CONTENT_KEYS)
    id_key, identifier = _first(fields, _ID_KEYS)
    uri_key, uri = _first(fields, _URI_KEYS)
    score_key, score = _first(fields, _SCORE_KEYS)
    if pair_score is not None:
        score = pair_score
    used = {content_key, id_key, uri_key, score_key, "metadata"}
    nested = fields.get("metadata")
    if isinstance(nested, Mapping):
        metadata = {str(key): value for key, value in nested.items() if key not in used}
    else:
        metadata = {str(key): value for key, value in fields.items() if key not in used}
    if content_key is None:
        content = serializer.dumps(metadata) if metadata else ""
        metadata = {}
    score = _score(score)
    return _Mapped(id=_identifier(identifier, serializer), content=_text(content, serializer),
                   doc_uri=_identifier(uri, serializer), score=score, metadata=metadata,
                   scored_node=score is not None and _scored_node(row))


def _guarded(mapper: Callable[..., _Mapped], row: Any, *args: Any) -> _Mapped:
    """Map one row; a row that cannot be read becomes an empty document and the failure is reported."""
    try:
        return mapper(row, *args)
    except Exception as exc:  # noqa: BLE001 - a hostile row must not lose the other documents
        report("retriever document mapping", exc)
        return _Mapped()


def _rows(output: Any) -> list[Any] | None:
    """The rows of a retriever output; None when the output is not something documents come from."""
    if output is None:
        return []
    if isinstance(output, (list, tuple)):
        return list(output)
    if isinstance(output, Mapping):
        rows = _databricks_rows(output)
        if rows is not None:
            return rows
        if not any(key in output for key in _CONTENT_KEYS):
            for key in _LIST_KEYS:
                if isinstance(output.get(key), (list, tuple)):
                    return list(output[key])
        return [output]
    if isinstance(output, (str, Document)):
        return [output]
    source_nodes = getattr(output, "source_nodes", None)
    if isinstance(source_nodes, (list, tuple)):
        return list(source_nodes)
    if isinstance(output, BaseModel) or (dataclasses.is_dataclass(output) and not isinstance(output, type)):
        return [output]
    return None


def _databricks_rows(output: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """Rows of a Databricks Vector Search response: `manifest.columns` names, `result.data_array` values."""
    manifest, result = output.get("manifest"), output.get("result")
    if not isinstance(manifest, Mapping) or not isinstance(result, Mapping):
        return None
    columns = manifest.get("columns")
    data = result.get("data_array") or []
    if not isinstance(columns, list) or not isinstance(data, list):
        return None
    names = [str(column.get("name")) if isinstance(column, Mapping) else str(column) for column in columns]
    return [dict(zip(names, values)) for values in data if isinstance(values, (list, tuple))]


def _to_documents(output: Any, schema: RetrieverSchema | None, serializer: Serializer) -> tuple[list[_Mapped], list[str]] | None:
    """Map a retriever output to documents, with the schema columns that were missing; None if it holds none."""
    rows = _rows(output)
    if rows is None:
        return None
    unmapped: set[str] = set()
    if schema is None:
        return [_guarded(_recognise, row, serializer) for row in rows], []
    documents = [_guarded(_map_with_schema, row, schema, unmapped, serializer) for row in rows]
    order = [schema.primary_key, schema.text_column, schema.doc_uri, *schema.other_columns]
    return documents, [column for column in order if column in unmapped]


def _resolve(schema: str | RetrieverSchema | None, span_name: str) -> RetrieverSchema | None:
    if isinstance(schema, RetrieverSchema):
        return schema
    name = span_name if schema is None else schema
    with _lock:
        found = _registry.get(name)
    if mlflow_retriever_schemas():
        found = _with_mlflow(name, found)
    if found is None and schema is not None:
        report("retriever schema lookup", LookupError(f"no retriever schema named {schema!r} is registered"))
    return found


_from_mlflow: dict[tuple[Any, ...], RetrieverSchema] = {}
_clash_warned: set[str] = set()


def _with_mlflow(name: str, ours: RetrieverSchema | None) -> RetrieverSchema | None:
    """Our schema for `name`, else the one registered with `mlflow.models.set_retriever_schema`; ours win a clash."""
    registered = mlflow_retriever_schema(name)
    if registered is None:
        return ours
    try:
        fields = (name, registered.get("primary_key"), registered.get("text_column"), registered.get("doc_uri"),
                  tuple(registered.get("other_columns") or ()))
        theirs = _from_mlflow.get(fields)
        if theirs is None:
            theirs = _from_mlflow[fields] = RetrieverSchema.model_validate(
                dict(zip(("name", "primary_key", "text_column", "doc_uri", "other_columns"), fields)))
    except Exception as exc:  # noqa: BLE001 - a registration we cannot read leaves ours (or none)
        report("reading an MLflow retriever schema", exc)
        return ours
    if ours is None:
        return theirs
    if ours != theirs and name not in _clash_warned:
        _clash_warned.add(name)
        warnings.warn(
            f"retriever schema {name!r} is registered both with tracing.set_retriever_schema and with "
            f"mlflow.models.set_retriever_schema, differently; tracing's is used: {ours.model_dump(exclude={'name'})}",
            UserWarning,
            stacklevel=2,
        )
    return ours


# ---------------------------------------------------------------- documents to attributes


class _Recorded(NamedTuple):
    """One document as it goes on the span: texts redacted and cut once, metadata and JSON strings encoded once."""

    id: str | None
    content: str
    score: float | None
    metadata_json: str | None
    scored_node: bool = False
    id_json: str = "null"
    """The id as a JSON string (`null` without one), for MLflow's document and the GenAI ranking."""


def _prepare(documents: list[_Mapped], capture_content: bool, serializer: Serializer) -> list[_Recorded]:
    text, cut = serializer.text, serializer.cut
    recorded = []
    for document in documents:
        metadata: dict[str, Any] = {} if document.doc_uri is None else {"doc_uri": document.doc_uri}
        if capture_content and document.metadata:
            for key, value in document.metadata.items():
                if key != "doc_uri" and key != "chunk_id":
                    metadata[key] = value
        identifier = None if document.id is None else cut(document.id)
        recorded.append(_Recorded(  # id, content, score, metadata_json, scored_node, id_json (positional: faster)
            identifier,
            text(document.content) if capture_content else "",
            document.score,
            _metadata_json(metadata, serializer),
            document.scored_node,
            "null" if identifier is None else _quote(identifier),
        ))
    return recorded


def _plain_dict_documents(rows: Any, schema: RetrieverSchema, capture_content: bool,
                          serializer: Serializer) -> tuple[list[_Recorded], str | None, str | None] | None:
    """The documents of a list of plain dict rows, each holding every schema column and a score (str id, text and
    URI, a finite float or None score, str, int, bool or None metadata under keys that are not secret), prepared in
    one pass: what `_prepare(_to_documents(...))` makes of them, without the general mapping's per-row steps; with
    the MLflow output and GenAI ranking JSON when the compiled writer made them too (else None: written after).
    None for any other output, which the general path maps."""
    if type(rows) is not list or serializer.walks_structure:
        return None
    primary_key, text_column, uri_column = schema.primary_key, schema.text_column, schema.doc_uri
    columns = schema.other_columns
    kept = [column for column in dict.fromkeys(columns) if column != "doc_uri" and column != "chunk_id"] if capture_content else []
    named = (["doc_uri"] if uri_column is not None else []) + kept
    if any(serializer.is_secret_key(key) for key in named):
        return None
    required = {primary_key, text_column, "score", *columns, *([uri_column] if uri_column is not None else [])}
    if _compiled_documents is not None and not serializer.rewrites_values:  # text() and cut() keep plain texts
        made = _compiled_documents(rows, _Recorded, primary_key, text_column, uri_column, tuple(required), tuple(kept),
                                   serializer.max_length, capture_content)
        if made is not None:
            return made
    prefixes = [(column, _quote(column) + ": ") for column in kept]
    text, cut, scalars = serializer.text, serializer.cut, _SCALARS
    recorded = []
    for row in rows:
        if type(row) is not dict or not row.keys() >= required or row.get("node") is not None:
            return None
        identifier, content, score = row[primary_key], row[text_column], row["score"]
        uri = row[uri_column] if uri_column is not None else None
        if (type(identifier) is not str or type(content) is not str or (uri is not None and type(uri) is not str)
                or (score is not None and (type(score) is not float or not math.isfinite(score)))):
            return None
        parts = [] if uri is None else ['"doc_uri": ' + _quote(uri)]
        for column, prefix in prefixes:
            value = row[column]
            write = scalars.get(type(value))
            if write is None:
                return None
            parts.append(prefix + write(value))
        identifier = cut(identifier)
        recorded.append(_Recorded(  # id, content, score, metadata_json, scored_node, id_json (positional: faster)
            identifier,
            text(content) if capture_content else "",
            score,
            text("{" + ", ".join(parts) + "}") if parts else None,
            False,
            _quote(identifier),
        ))
    return recorded, None, None


_compiled_documents: Callable[..., Any] | None
"""The same rows, and their MLflow and ranking JSON, written in one compiled pass (tracing/_speedups.c); None: the
Python loop only."""
try:
    from tracing._speedups import plain_documents as _compiled_documents
except ImportError:  # pragma: no cover - a machine without a compiler
    _compiled_documents = None


def _metadata_json(metadata: dict[str, Any], serializer: Serializer) -> str | None:
    """A document's metadata as JSON as the serializer writes it (redacted, cut); None when empty."""
    if not metadata:
        return None
    return serializer.dumps(metadata) if serializer.walks_structure else _flat_json(metadata, serializer)


_SCALARS: dict[type, Callable[[Any], str]] = {
    str: _quote, int: int.__repr__, bool: lambda value: "true" if value else "false", type(None): lambda value: "null",
}
_quoted_keys: dict[str, str] = {}  # metadata column -> '"column": ' (the columns of the registered schemas, mostly)


def _flat_json(metadata: dict[str, Any], serializer: Serializer) -> str:
    """What serializer.dumps writes for a dict, built directly when its keys are plain and its values scalars."""
    parts = []
    for key, value in metadata.items():
        write = _SCALARS.get(type(value))
        if write is None or type(key) is not str or serializer.is_secret_key(key):
            return serializer.dumps(metadata)
        quoted = _quoted_keys.get(key)
        if quoted is None:
            quoted = _quote(key) + ": "
            if len(_quoted_keys) < 1024:
                _quoted_keys[key] = quoted
        parts.append(quoted + write(value))
    return serializer.text("{" + ", ".join(parts) + "}")


def _mlflow_part(document: _Recorded, content_json: str) -> str:
    """MLflow's retriever document as JSON: page_content, metadata with doc_uri and chunk_id, id."""
    metadata = document.metadata_json or "{}"
    if document.id is not None and metadata.startswith("{") and metadata.endswith("}"):
        chunk = '"chunk_id": ' + document.id_json
        metadata = "{" + chunk + ("}" if metadata == "{}" else ", " + metadata[1:])
    if document.scored_node and document.score is not None and metadata.endswith("}"):
        score = '"score": ' + repr(document.score)
        metadata = metadata[:-1] + (score + "}" if metadata == "{}" else ", " + score + "}")
    return f'{{"page_content": {content_json}, "metadata": {metadata}, "id": {document.id_json}}}'


def _cut(text: str, limit: int) -> str:
    """Shorten a text to `limit` characters plus a visible marker, unless that would not make it shorter."""
    marker = f"...[truncated {len(text) - limit} chars]"
    if len(text) <= limit + len(marker):
        return text
    return text[:limit] + marker


def _prefix_within(parts: list[str], limit: int) -> list[str]:
    if sum(map(len, parts)) + len(parts) + 1 <= limit:  # the common case: all of them
        return parts
    kept: list[str] = []
    total = 2
    for part in parts:
        total += len(part) + (1 if kept else 0)
        if total > limit:
            break
        kept.append(part)
    return kept


def _mlflow_json(documents: list[_Recorded], limit: int) -> str:
    """`output.value`: valid JSON of at most `limit` characters, texts shortened first, then trailing documents dropped."""
    parts = [_mlflow_part(document, _quote(document.content)) for document in documents]
    allowance = limit // max(len(documents), 1)
    while True:
        kept = _prefix_within(parts, limit)
        if len(kept) == len(parts) or allowance == 0:
            return f"[{','.join(kept)}]"
        parts = [_mlflow_part(document, _quote(_cut(document.content, allowance))) for document in documents]
        allowance //= 2


def _ranking_json(documents: list[_Recorded], limit: int) -> str:
    """`gen_ai.retrieval.documents`: [{"id", "score"}] in rank order, trailing entries dropped to fit."""
    parts = [
        '{"id": ' + document.id_json
        + ', "score": ' + ("null" if document.score is None else repr(document.score)) + "}"
        for document in documents
    ]
    return "[" + ",".join(_prefix_within(parts, limit)) + "]"


_document_keys: dict[tuple[str, int], tuple[str, str, str, str]] = {}  # (prefix, index) -> id, content, score, metadata keys


def _keys_of(prefix: str, index: int) -> tuple[str, str, str, str]:
    found = _document_keys.get((prefix, index))
    if found is None:
        key = f"{prefix}.{index}."
        found = (key + keys.DOCUMENT_ID, key + keys.DOCUMENT_CONTENT, key + keys.DOCUMENT_SCORE, key + keys.DOCUMENT_METADATA)
        if len(_document_keys) < 4096:
            _document_keys[(prefix, index)] = found
    return found


def _document_attributes(prefix: str, documents: list[_Recorded], capture_content: bool) -> dict[str, AttributeValue]:
    """OpenInference's per-document attributes (what Phoenix's documents view reads)."""
    attributes: dict[str, AttributeValue] = {}
    for index, document in enumerate(documents):
        id_key, content_key, score_key, metadata_key = _keys_of(prefix, index)
        if document.id is not None:
            attributes[id_key] = document.id
        if capture_content:
            attributes[content_key] = document.content
        if document.score is not None:
            attributes[score_key] = document.score
        if document.metadata_json is not None:
            attributes[metadata_key] = document.metadata_json
    return attributes


def _documents_fitting(budget: int) -> int:
    return max(0, budget // _PER_DOCUMENT)


def _common(documents: list[_Recorded], schema_name: str, unmapped: list[str], limit: int,
            mlflow_json: str | None = None) -> dict[str, AttributeValue]:
    attributes: dict[str, AttributeValue] = {
        keys.OUTPUT_VALUE: _mlflow_json(documents, limit) if mlflow_json is None else mlflow_json,
        keys.OUTPUT_MIME_TYPE: keys.JSON,
        keys.RETRIEVER_SCHEMA: schema_name,
        keys.RETRIEVER_DOCUMENT_COUNT: len(documents),
    }
    if unmapped:
        attributes[keys.RETRIEVER_UNMAPPED] = list(unmapped)
    return attributes


def _generic_output(output: Any, recorder: Recorder) -> dict[str, AttributeValue]:
    if not recorder.capture_content:
        return {}
    return {keys.OUTPUT_VALUE: recorder.json(output), keys.OUTPUT_MIME_TYPE: keys.JSON}


def retriever_attributes(
    output: Any,
    *,
    span_name: str,
    schema: str | RetrieverSchema | None,
    recorder: Recorder,
    max_attributes: int | None = None,
) -> dict[str, AttributeValue]:
    """The attributes of a RETRIEVER span that returned `output`: MLflow's output JSON, and as `recorder.conventions`
    choose OpenInference's documents and the GenAI keys."""
    serializer, capture_content = recorder.serializer, recorder.capture_content
    genai, openinference = "genai" in recorder.conventions, "openinference" in recorder.conventions
    limit = serializer.max_length
    budget = DEFAULT_ATTRIBUTE_BUDGET if max_attributes is None else max(max_attributes, 0)
    resolved = _resolve(schema, span_name)
    schema_name = resolved.name if resolved is not None else AUTO_SCHEMA
    attributes: dict[str, AttributeValue] = {}
    if genai:
        attributes[keys.GEN_AI_OPERATION_NAME] = keys.OPERATION_RETRIEVAL
        attributes[keys.GEN_AI_DATA_SOURCE_ID] = resolved.name if resolved is not None else span_name
    plain = None if resolved is None else _plain_dict_documents(output, resolved, capture_content, serializer)
    unmapped: list[str] = []
    if plain is None:
        mapped = _to_documents(output, resolved, serializer)
        if mapped is None:
            attributes.update(_generic_output(output, recorder))
            return _within_budget(attributes, budget)
        plain = _prepare(mapped[0], capture_content, serializer), None, None
        unmapped = mapped[1]
    documents, mlflow_json, ranking_json = plain
    attributes.update(_common(documents, schema_name, unmapped, limit, mlflow_json))
    if genai:
        attributes[keys.GEN_AI_RETRIEVAL_DOCUMENTS] = _ranking_json(documents, limit) if ranking_json is None else ranking_json
    if openinference:
        room = _documents_fitting(budget - len(attributes))
        attributes.update(_document_attributes(keys.RETRIEVAL_DOCUMENTS, documents[:room], capture_content))
    return _within_budget(attributes, budget)


def _within_budget(attributes: dict[str, AttributeValue], budget: int) -> dict[str, AttributeValue]:
    if len(attributes) <= budget:
        return attributes
    return dict(list(attributes.items())[:budget])


def _reranker_inputs(inputs: Mapping[str, Any]) -> tuple[Any, str | None, int | None]:
    documents = next((inputs[name] for name in _RERANKER_DOC_ARGS if isinstance(inputs.get(name), (list, tuple))), None)
    if documents is None:
        documents = next((value for value in inputs.values() if isinstance(value, (list, tuple)) and value and not isinstance(value[0], (int, float))), None)
    query = next((inputs[name] for name in _QUERY_ARGS if isinstance(inputs.get(name), str)), None)
    if query is None:
        texts = [value for value in inputs.values() if isinstance(value, str)]
        query = texts[0] if len(texts) == 1 else None
    top_k = next((inputs[name] for name in _TOP_K_ARGS if isinstance(inputs.get(name), int) and not isinstance(inputs.get(name), bool)), None)
    return documents, query, top_k


def reranker_attributes(
    inputs: Mapping[str, Any],
    output: Any,
    *,
    span_name: str,
    schema: str | RetrieverSchema | None,
    recorder: Recorder,
    max_attributes: int | None = None,
) -> dict[str, AttributeValue]:
    """The attributes of a RERANKER span: input and output documents, the query and top_k."""
    serializer, capture_content = recorder.serializer, recorder.capture_content
    limit = serializer.max_length
    budget = DEFAULT_ATTRIBUTE_BUDGET if max_attributes is None else max(max_attributes, 0)
    resolved = _resolve(schema, span_name)
    candidates, query, top_k = _reranker_inputs(inputs)
    mapped_out = _to_documents(output, resolved, serializer)
    mapped_in = _to_documents(candidates, resolved, serializer) if candidates is not None else None
    openinference = "openinference" in recorder.conventions
    attributes: dict[str, AttributeValue] = {}
    if query is not None and capture_content and openinference:
        attributes[keys.RERANKER_QUERY] = recorder.text(query)
    if top_k is not None and openinference:
        attributes[keys.RERANKER_TOP_K] = top_k
    if mapped_out is None:
        attributes.update(_generic_output(output, recorder))
        return _within_budget(attributes, budget)
    unmapped, unmapped_in = mapped_out[1], mapped_in[1] if mapped_in is not None else []
    missing = unmapped + [column for column in unmapped_in if column not in unmapped]
    out_documents = _prepare(mapped_out[0], capture_content, serializer)
    attributes.update(_common(out_documents, resolved.name if resolved is not None else AUTO_SCHEMA, missing, limit))
    room = _documents_fitting(budget - len(attributes))
    outputs_room = min(len(out_documents), room)
    in_documents = _prepare(mapped_in[0][: room - outputs_room], capture_content, serializer) if mapped_in is not None and openinference else []
    if openinference:
        attributes.update(_document_attributes(keys.RERANKER_OUTPUT_DOCUMENTS, out_documents[:outputs_room], capture_content))
        attributes.update(_document_attributes(keys.RERANKER_INPUT_DOCUMENTS, in_documents, capture_content))
    return _within_budget(attributes, budget)

