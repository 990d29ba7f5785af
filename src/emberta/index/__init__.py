"""Persistent document indexes: documents and metadata in SQLite (FTS5 for BM25), float vectors on disk, a
FAISS ANN structure, filter expressions and hybrid search. `Index.create` / `Index.open`; see index.py. The same API
over a Milvus collection: `MilvusIndex` (milvus_store.py); `open_index` opens either."""

from emberta.index.filters import FilterError, parse_filter
from emberta.index.index import Index
from emberta.index.milvus_store import MilvusIndex
from emberta.index.stores import open_index
from emberta.index.types import DuplicateIdError, Hit, IndexLockedError, Snapshot

__all__ = [
    "DuplicateIdError",
    "FilterError",
    "Hit",
    "Index",
    "IndexLockedError",
    "MilvusIndex",
    "Snapshot",
    "open_index",
    "parse_filter",
]
