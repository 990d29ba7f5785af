"""What an index holds, at a glance: the number of documents, the model its vectors come from, and each
filterable metadata field with the documents that have it, its distinct values, its range (numbers) and its most
common values. The web page of `emberta serve` shows it and builds filters from it.

Computed by SQL over the typed columns of the documents store (one aggregate and one GROUP BY per field, on
columns that carry an SQLite index), so it costs a pass over the documents, not over the vectors.
"""

from __future__ import annotations

import math
import re

from emberta.index.types import Field

TOP_VALUES = 10
_COLUMN = re.compile(r"f\d+")  # the store names its typed columns f0, f1, ...; anything else is not ours


def index_overview(index, *, top: int = TOP_VALUES) -> dict:
    """{"documents", "model": {"name", "spec", "fingerprint", "dim"}, "fields": [...]} of an open `Index`.

    Each field: {"name", "type" ("number" | "text" | "bool"), "documents" (how many have a value), "distinct",
    "values" (the `top` most common, [{"value", "count"}], most common first, ties in value order)}, and for
    numbers "min" and "max". Callers sharing one index connection between threads hold their lock around it."""
    store = index.store
    encoder = index.config.get("encoder") or {}
    return {
        "documents": store.count(),
        "model": {
            "name": encoder.get("name"),  # None for an index built from vectors only
            "spec": encoder.get("spec"),
            "fingerprint": index.config["fingerprint"],
            "dim": int(index.dim),
        },
        "fields": [field_summary(store.conn, field, top) for field in store.fields().values()],
    }


def field_summary(conn, field: Field, top: int = TOP_VALUES) -> dict:
    """The summary of one metadata `field` (see `index_overview`) from the documents table behind `conn`."""
    if not _COLUMN.fullmatch(field.column):
        raise ValueError(f"unexpected column name {field.column!r} for field {field.name!r}")
    column = field.column
    present, distinct, low, high = conn.execute(
        f"SELECT count({column}), count(DISTINCT {column}), min({column}), max({column}) FROM documents"
    ).fetchone()
    rows = conn.execute(
        f"SELECT {column}, count(*) AS n FROM documents WHERE {column} IS NOT NULL GROUP BY {column} "
        f"ORDER BY n DESC, {column} LIMIT ?",
        (int(top),),
    ).fetchall()
    summary = {
        "name": field.name,
        "type": field.type,
        "documents": int(present),
        "distinct": int(distinct),
        "values": [{"value": _value(field.type, value), "count": int(n)} for value, n in rows],
    }
    if field.type == "number":
        summary["min"], summary["max"] = _value("number", low), _value("number", high)
    return summary


def _value(kind: str, value):
    """A stored column value as JSON shows it: booleans as true/false, whole numbers without a ".0", infinities
    (which JSON cannot hold) as null."""
    if value is None:
        return None
    if kind == "bool":
        return bool(value)
    if kind == "number":
        number = float(value)
        if not math.isfinite(number):
            return None
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    return value
