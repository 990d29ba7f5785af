"""What an index holds, at a glance: the number of documents, the model its vectors come from, and each
filterable metadata field with the documents that have it, its distinct values, its range (numbers) and its most
common values. The web page of `emberta serve` shows it and builds filters from it.

Computed from the snapshot's in-memory filter columns (types.Column, built once per committed generation for
filtered search), so it costs numpy passes over live rows, no SQL and no pass over the vectors.
"""

from __future__ import annotations

import math

import numpy as np

from emberta.index.types import Column

TOP_VALUES = 10


def index_overview(index, *, top: int = TOP_VALUES) -> dict:
    """{"documents", "model": {"name", "spec", "fingerprint", "dim"}, "fields": [...]} of an open `Index`.

    Each field: {"name", "type" ("number" | "text" | "bool"), "documents" (how many have a value), "distinct",
    "values" (the `top` most common, [{"value", "count"}], most common first, ties in value order)}, and for
    numbers "min" and "max"."""
    snapshot = index.snapshot(max_age=0)
    encoder = index.config.get("encoder") or {}
    fields = index.store.fields().values()
    return {
        "documents": int(snapshot.live.sum()),
        "model": {
            "name": encoder.get("name"),  # None for an index built from vectors only
            "spec": encoder.get("spec"),
            "fingerprint": index.config["fingerprint"],
            "dim": int(index.dim),
        },
        "fields": [field_summary(f.name, snapshot.columns[f.column], snapshot.live, top) for f in fields],
    }


def field_summary(name: str, column: Column, live: np.ndarray, top: int = TOP_VALUES) -> dict:
    """The summary of one metadata field (see `index_overview`) from its in-memory `column` over `live` rows."""
    if column.type == "text":
        codes = column.codes[live & (column.codes >= 0)]
        counts = np.bincount(codes, minlength=len(column.categories))
        values = np.asarray(column.categories, dtype=object)
        present = counts > 0
        values, counts = values[present], counts[present]
    else:
        found = column.values[live & ~np.isnan(column.values)]
        values, counts = np.unique(found, return_counts=True)
    order = np.argsort(-counts, kind="stable")[:top]  # values come sorted, so ties keep value order
    summary = {
        "name": name,
        "type": column.type,
        "documents": int(counts.sum()),
        "distinct": len(values),
        "values": [{"value": _value(column.type, values[i]), "count": int(counts[i])} for i in order],
    }
    if column.type == "number":
        present = len(values) > 0
        summary["min"] = _value("number", values[0]) if present else None
        summary["max"] = _value("number", values[-1]) if present else None
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
