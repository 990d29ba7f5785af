"""Persistent document indexes: documents and metadata in SQLite (FTS5 for BM25), float vectors on disk, a
FAISS ANN structure, filter expressions and hybrid search. `Index.create` / `Index.open`; see index.py."""

from emberta.index.filters import FilterError, parse_filter
from emberta.index.index import Index
from emberta.index.types import DuplicateIdError, Hit, IndexLockedError, Snapshot

__all__ = ["DuplicateIdError", "FilterError", "Hit", "Index", "IndexLockedError", "Snapshot", "parse_filter"]
