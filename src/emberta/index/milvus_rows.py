"""Documents as rows of an emberta Milvus collection: the typed scalar column of each metadata field (fields
are registered on first sight, as the local index does: a server adds the column, Milvus Lite cannot), and the
row of one document."""

from __future__ import annotations

import json
import math

from emberta.errors import InputError
from emberta.index.documents import NewDocument, value_type
from emberta.index.milvus_collection import (
    FIELDS_KEY,
    field_schema,
    is_lite,
    milvus_errors,
    require_pymilvus,
    typed_columns,
)
from emberta.index.milvus_filters import ascii_fold, fold_column
from emberta.index.types import Field


def row(fields: dict[str, Field], doc: NewDocument, meta: dict, vector: list) -> dict:
    """The Milvus row of `doc`: id, vector, text, the whole metadata `meta` (JSON) and each typed field's value
    (None when the document lacks it or holds another type there; NaN is missing, as in the local index)."""
    values = {"id": doc.id, "vector": vector, "text": doc.text, "meta": meta}
    for field in fields.values():
        value = doc.meta.get(field.name)
        if value_type(value) != field.type:
            value = None
        elif field.type == "number":
            value = _number(value)
        values[field.column] = value
        if field.type == "text":
            values[fold_column(field.column)] = None if value is None else ascii_fold(value)
    return values


def _number(value) -> float | None:
    try:
        number = float(value)
    except OverflowError:  # a whole number beyond float64, as the local index's float columns hold it
        number = math.inf if value > 0 else -math.inf
    return None if math.isnan(number) else number


def register_fields(index, docs: list[NewDocument]) -> None:
    """Give the new scalar metadata fields of `docs` a typed column in `index` (a MilvusIndex), and refuse a
    value whose type differs from its field's (InputError naming the document)."""
    for doc in docs:
        for name, value in doc.meta.items():
            kind = value_type(value)
            if kind is None:
                continue
            known = index.known_fields.get(name)
            if known is None:
                _add_field(index, Field(name, f"f{len(index.known_fields)}", kind), doc)
            elif known.type != kind:
                where = f"{doc.where}: " if doc.where else ""
                raise InputError(
                    f"{where}document {doc.id!r}: metadata field {name!r} is {kind} here but {known.type} in the "
                    "index; give every document the same type for a field (or leave it out)"
                )


def _add_field(index, field: Field, doc: NewDocument) -> None:
    if is_lite(index.uri):
        where = f"{doc.where}: " if doc.where else ""
        raise InputError(
            f"{where}document {doc.id!r}: metadata field {field.name!r} is not in collection {index.collection!r}, "
            "and Milvus Lite cannot add fields to a collection; build it again with every field (`emberta index "
            "build` takes them from the whole file; MilvusIndex.create takes fields=...)"
        )
    pymilvus = require_pymilvus()
    with milvus_errors(index.uri, f"adding field {field.name!r}"):
        for name, kind, params in typed_columns(field, pymilvus.DataType):
            index.client.add_collection_field(index.collection, name, kind, nullable=True, **params)
        index.known_fields[field.name] = field
        properties = {FIELDS_KEY: json.dumps(field_schema(index.known_fields))}
        index.client.alter_collection_properties(index.collection, properties=properties)
