"""docs.sqlite: the documents of an index (id, text, metadata), their BM25 full-text index (FTS5) and the
index's state. SQLite is the index's commit point: a batch of documents is one transaction, so after a crash
the documents are those of the last committed batch, and every other file is checked against them.

Each document lives at a `slot`, its row in the vector file and its id in the ANN structure. Slots are never
reused: deleting a document leaves its slot dead, and an upsert gives the document a new slot.
Metadata is kept whole as JSON; scalar fields also get a typed column (f0, f1, ...) for filtering, named by the
`fields` table, so a user's field name never becomes SQL.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emberta.errors import InputError, OptionError
from emberta.index.crashpoints import reached
from emberta.index.filters import to_sql
from emberta.index.types import Column, DuplicateIdError, Field

_SQL_TYPES = {"number": "REAL", "text": "TEXT", "bool": "INTEGER"}
_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (slot INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, text TEXT NOT NULL,
                                      meta TEXT NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(text, content='documents', content_rowid='slot',
                                                  tokenize='porter unicode61 remove_diacritics 2');
CREATE TABLE IF NOT EXISTS fields (name TEXT PRIMARY KEY, col TEXT NOT NULL UNIQUE, type TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_WORD = re.compile(r"\w+", re.UNICODE)
# Lucene's English stop set (what Elasticsearch's english analyzer, and so BEIR's BM25 baseline, drops). Only
# query words are dropped: they match most documents, cost the most to score and weigh almost nothing in BM25.
STOP_WORDS = frozenset(
    ("a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no", "not", "of",
     "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was", "will", "with")
)  # fmt: skip


@dataclass(frozen=True)
class NewDocument:
    """A document to store: `where` ("file:line") is used in error messages when known."""

    id: str
    text: str
    meta: dict
    where: str | None = None


def value_type(value: object) -> str | None:
    """The filter type of a metadata value: "bool", "number", "text", or None (null, lists, objects)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "text"
    return None


class DocumentStore:
    """The SQLite file of one index. Readers and the (single) writer each hold their own connection; WAL
    mode lets readers go on while the writer commits."""

    def __init__(self, path: str | Path, *, create: bool = False):
        self.path = Path(path)
        uri = f"file:{self.path}" + ("" if create else "?mode=rw")
        self.conn = sqlite3.connect(uri, uri=True, timeout=30.0, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        # reads go through a memory map and a larger page cache: fetching the k hits of a query is then a few
        # microseconds per row instead of a read() per page
        self.conn.execute("PRAGMA mmap_size=1073741824")
        self.conn.execute("PRAGMA cache_size=-65536")
        if create:
            self.conn.executescript(_SCHEMA)

    def close(self) -> None:
        self.conn.close()

    # ---- state ------------------------------------------------------------------------------------------
    def get_state(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return default if row is None else row[0]

    def set_state(self, key: str, value: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)", (key, value))

    @property
    def slots(self) -> int:
        """Slots handed out so far (live and dead): the committed length of the vector file."""
        return int(self.get_state("slots", "0"))

    @property
    def generation(self) -> int:
        """A counter raised by every committed write, so readers know when to reload."""
        return int(self.get_state("generation", "0"))

    def count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM documents").fetchone()[0]

    # ---- fields -----------------------------------------------------------------------------------------
    def fields(self) -> dict[str, Field]:
        rows = self.conn.execute("SELECT name, col, type FROM fields ORDER BY col").fetchall()
        return {name: Field(name, col, kind) for name, col, kind in rows}

    def _register_fields(self, docs: Sequence[NewDocument]) -> dict[str, Field]:
        from emberta.errors import InputError

        fields = self.fields()
        for doc in docs:
            for name, value in doc.meta.items():
                kind = value_type(value)
                if kind is None:
                    continue
                known = fields.get(name)
                if known is None:
                    column = f"f{len(fields)}"
                    self.conn.execute(f"ALTER TABLE documents ADD COLUMN {column} {_SQL_TYPES[kind]}")
                    self.conn.execute(f"CREATE INDEX IF NOT EXISTS documents_{column} ON documents ({column})")
                    self.conn.execute("INSERT INTO fields (name, col, type) VALUES (?, ?, ?)", (name, column, kind))
                    fields[name] = Field(name, column, kind)
                elif known.type != kind:
                    where = f"{doc.where}: " if doc.where else ""
                    raise InputError(
                        f"{where}document {doc.id!r}: metadata field {name!r} is {kind} here but {known.type} in the "
                        f"index; give every document the same type for a field (or leave it out)"
                    )
        return fields

    # ---- writes (the caller holds the write lock and wraps them in begin/commit) -------------------------
    def begin(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.conn.execute("COMMIT")
        reached("committed")

    def rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def existing(self, ids: Sequence[str]) -> dict[str, int]:
        """id -> slot of those `ids` already stored."""
        found: dict[str, int] = {}
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            marks = ", ".join("?" * len(chunk))
            found.update(self.conn.execute(f"SELECT id, slot FROM documents WHERE id IN ({marks})", chunk).fetchall())
        return found

    def delete_slots(self, slots: Iterable[int]) -> int:
        deleted = 0
        for slot in slots:
            row = self.conn.execute("SELECT text FROM documents WHERE slot = ?", (slot,)).fetchone()
            if row is None:
                continue
            self.conn.execute("INSERT INTO fts (fts, rowid, text) VALUES ('delete', ?, ?)", (slot, row[0]))
            self.conn.execute("DELETE FROM documents WHERE slot = ?", (slot,))
            deleted += 1
        return deleted

    def insert(self, docs: Sequence[NewDocument], first_slot: int) -> None:
        """Store `docs` at slots first_slot, first_slot+1, ... and move the slot counter past them."""
        fields = self._register_fields(docs)
        names = list(fields)
        columns = ", ".join(fields[name].column for name in names)
        marks = ", ".join("?" * (4 + len(names)))
        sql = f"INSERT INTO documents (slot, id, text, meta{', ' + columns if names else ''}) VALUES ({marks})"
        rows = []
        for offset, doc in enumerate(docs):
            typed = []
            for name in names:
                typed.append(_column_value(doc.meta.get(name)))
            meta = json.dumps(doc.meta, ensure_ascii=False, default=str)
            rows.append((first_slot + offset, doc.id, doc.text, meta, *typed))
        try:
            self.conn.executemany(sql, rows)
        except UnicodeEncodeError:
            raise InputError(
                "a document's id, text or metadata holds half of a surrogate pair (not text, cannot be stored); "
                "fix the input's encoding"
            ) from None
        self.conn.executemany(
            "INSERT INTO fts (rowid, text) VALUES (?, ?)", [(first_slot + i, d.text) for i, d in enumerate(docs)]
        )
        self.set_state("slots", str(max(self.slots, first_slot + len(docs))))
        reached("documents-written")

    def bump_generation(self) -> None:
        self.set_state("generation", str(self.generation + 1))

    # ---- reads ------------------------------------------------------------------------------------------
    def live_slots(self) -> np.ndarray:
        return np.fromiter((r[0] for r in self.conn.execute("SELECT slot FROM documents")), dtype=np.int64)

    def documents(self, slots: Sequence[int]) -> dict[int, tuple[str, str, dict]]:
        """slot -> (id, text, metadata) for those of `slots` that are live."""
        out: dict[int, tuple[str, str, dict]] = {}
        slots = [int(s) for s in slots]
        for start in range(0, len(slots), 500):
            chunk = slots[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            for slot, did, text, meta in self.conn.execute(
                f"SELECT slot, id, text, meta FROM documents WHERE slot IN ({marks})", chunk
            ):
                out[slot] = (did, text, json.loads(meta))
        return out

    def slot_of(self, doc_id: str) -> int | None:
        row = self.conn.execute("SELECT slot FROM documents WHERE id = ?", (doc_id,)).fetchone()
        return None if row is None else row[0]

    def filter_slots(self, tree: object | None) -> np.ndarray:
        """Live slots whose metadata passes `tree` (SQL evaluation), ascending."""
        where, params = ("", []) if tree is None else to_sql(tree)
        sql = "SELECT slot FROM documents" + (f" WHERE {where}" if where else "") + " ORDER BY slot"
        return np.fromiter((r[0] for r in self.conn.execute(sql, params)), dtype=np.int64)

    def columns(self, slots: int) -> tuple[np.ndarray, list, dict[str, Column]]:
        """(live mask, ids, in-memory columns) over slots [0, slots): ids is a list (None at dead slots); the
        columns feed the numpy pre-filter."""
        fields = list(self.fields().values())
        select = ", ".join(["slot", "id", *(f.column for f in fields)])
        rows = [r for r in self.conn.execute(f"SELECT {select} FROM documents") if r[0] < slots]
        live = np.zeros(slots, dtype=bool)
        index = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        live[index] = True
        ids: list = [None] * slots
        for r in rows:
            ids[r[0]] = r[1]
        columns: dict[str, Column] = {}
        for position, field in enumerate(fields, start=2):
            values = [r[position] for r in rows]
            if field.type == "text":
                categories = sorted({v for v in values if v is not None})
                lookup = {c: i for i, c in enumerate(categories)}
                codes = np.full(slots, -1, dtype=np.int32)
                codes[index] = [lookup[v] if v is not None else -1 for v in values]
                columns[field.column] = Column("text", codes=codes, categories=categories)
            else:
                numbers = np.full(slots, np.nan)
                numbers[index] = [np.nan if v is None else float(v) for v in values]
                columns[field.column] = Column(field.type, values=numbers)
        return live, ids, columns

    def bm25(self, query: str, k: int, tree: object | None = None) -> list[tuple[int, float]]:
        """(slot, score) of the best `k` BM25 matches of `query` (any of its words but English stop words),
        best first; score is FTS5's bm25 negated, so higher is better."""
        match = match_expression(query)
        if match is None:
            return []
        where, params = ("", []) if tree is None else to_sql(tree)
        sql = (
            "SELECT fts.rowid, bm25(fts) AS rank FROM fts JOIN documents ON documents.slot = fts.rowid "
            "WHERE fts MATCH ?" + (f" AND {where}" if where else "") + " ORDER BY rank LIMIT ?"
        )
        return [(slot, -rank) for slot, rank in self.conn.execute(sql, [match, *params, k])]


def match_expression(query: str) -> str | None:
    """The FTS5 MATCH expression BM25 searches `query` with: any of its words (each a quoted phrase) but English
    stop words (all of them when nothing else is left); None when `query` holds no word."""
    words = _WORD.findall(query)
    words = [w for w in words if w.lower() not in STOP_WORDS] or words
    if not words:
        return None
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in dict.fromkeys(words))


def _column_value(value):
    """A metadata value as its typed column stores it: bools as 0/1, numbers as SQLite takes them (integers
    beyond 64 bits as floats, as the in-memory float64 columns hold every number), anything else None."""
    if isinstance(value, bool):
        return int(value)
    if not value_type(value):
        return None
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        return float(value)
    return value


def new_documents(texts: Sequence[str], ids: Sequence[str] | None, metadata: Sequence[dict | None] | None,
                  where: Sequence[str | None] | None, first_id: int = 0) -> list[NewDocument]:  # fmt: skip
    """One batch of documents, checked: ids default to first_id, first_id + 1, ...; metadata and where ("file:line",
    for messages) default to none; texts must be strings, ids non-empty and unique within the batch."""
    texts = list(texts)
    n = len(texts)
    ids = [str(first_id + i) for i in range(n)] if ids is None else [str(i) for i in ids]
    metadata = [None] * n if metadata is None else list(metadata)
    where = [None] * n if where is None else list(where)
    if not (len(ids) == len(metadata) == len(where) == n):
        raise OptionError(f"{n} texts but {len(ids)} ids, {len(metadata)} metadata entries, {len(where)} places")
    docs, seen = [], {}
    for doc_id, text, meta, place in zip(ids, texts, metadata, where, strict=True):
        prefix = f"{place}: " if place else ""
        if not isinstance(text, str):
            raise InputError(f"{prefix}document {doc_id!r}: the text is {type(text).__name__}, not a string")
        if doc_id == "":
            raise InputError(f"{prefix}empty document id; give every document a non-empty id")
        if meta is not None and not isinstance(meta, dict):
            raise InputError(f"{prefix}document {doc_id!r}: metadata must be an object, not {type(meta).__name__}")
        if doc_id in seen:
            raise DuplicateIdError(f"{prefix}id {doc_id!r} appears twice in one batch (first at "
                                   f"{seen[doc_id] or 'earlier in the batch'}); ids must be unique")  # fmt: skip
        seen[doc_id] = place
        docs.append(NewDocument(doc_id, text, meta or {}, place))
    return docs
