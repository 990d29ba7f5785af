"""What a Milvus collection holds, at a glance (the web page's overview, as overview.py gives it for a local
index): one pass over the collection's typed scalar fields with a query iterator, turned into the in-memory
columns `overview.field_summary` summarises. The pass reads every document's scalar fields, so it costs time in
proportion to the collection: fine for the collections a web page browses, slow for a billion documents."""

from __future__ import annotations

import numpy as np

from emberta.index.milvus_collection import milvus_errors
from emberta.index.overview import TOP_VALUES, field_summary
from emberta.index.types import Column

BATCH = 4096


def collection_overview(index, *, top: int = TOP_VALUES) -> dict:
    """{"documents", "model": {"name", "spec", "fingerprint", "dim"}, "fields": [...]} of an open MilvusIndex,
    in the shape of `overview.index_overview`."""
    fields = list(index.fields().values())
    values: dict[str, list] = {f.column: [] for f in fields}
    count = 0
    with milvus_errors(index.uri, "reading the collection's fields"):
        pages = index.client.query_iterator(index.collection, batch_size=BATCH, filter="",
                                            output_fields=["id", *values])  # fmt: skip
        try:
            while page := pages.next():
                count += len(page)
                for column, found in values.items():
                    found.extend(row.get(column) for row in page)
        finally:
            pages.close()
    live = np.ones(count, dtype=bool)
    encoder = index.config.get("encoder") or {}
    return {
        "documents": count,
        "model": {
            "name": encoder.get("name"),
            "spec": encoder.get("spec"),
            "fingerprint": index.config["fingerprint"],
            "dim": int(index.dim),
        },
        "fields": [field_summary(f.name, _column(f.type, values[f.column]), live, top) for f in fields],
    }


def _column(kind: str, values: list) -> Column:
    """The in-memory column (types.Column) of one field's values, None for missing."""
    if kind == "text":
        categories = sorted({v for v in values if v is not None})
        lookup = {c: i for i, c in enumerate(categories)}
        codes = np.array([-1 if v is None else lookup[v] for v in values], dtype=np.int32)
        return Column("text", codes=codes, categories=categories)
    numbers = np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
    return Column(kind, values=numbers)
