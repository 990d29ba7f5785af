"""Content-addressed embedding cache: vectors keyed by (encoder fingerprint + prompt, sha256 of the text).

`EmbeddingStore.encode` returns the same matrix as `encoder.encode`, but encodes each distinct text at most
once per model and prompt: within a call, across calls of a run (in memory) and across runs (SQLite file
under EMBERTA_CACHE, default ~/.cache/emberta). The file is written in transactions, so an interrupted run
leaves the cache consistent.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from emberta.encoders.base import Encoder

DEFAULT_CACHE_DIR = Path("~/.cache/emberta")
CACHE_FILE = "embeddings-v2.sqlite"
# the file of emberta before the key column was named for what it holds (text -> text_sha256); it is left as it
# is, for older versions that share the cache folder, and its vectors are copied into CACHE_FILE once
LEGACY_CACHE_FILE = "embeddings.sqlite"
SCHEMA_VERSION = 2
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS main.vectors (model TEXT NOT NULL, text_sha256 BLOB NOT NULL, dim INTEGER NOT NULL, "
    "vector BLOB NOT NULL, PRIMARY KEY (model, text_sha256)) WITHOUT ROWID"
)


def cache_dir() -> Path:
    """EMBERTA_CACHE, or ~/.cache/emberta."""
    return Path(os.environ.get("EMBERTA_CACHE") or DEFAULT_CACHE_DIR).expanduser()


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


class EmbeddingStore:
    """Encode through a cache. path=None keeps vectors in memory only (for --no-cache runs). A context manager:
    `with EmbeddingStore.default() as store: ...` closes the file at the end."""

    def __init__(self, path: str | Path | None = None, *, legacy: str | Path | None = None):
        """path: the SQLite file (None: memory only); legacy: a cache file of the old schema whose vectors are
        copied in when `path` is new."""
        self.path = None if path is None else Path(path)
        self._memory: dict[tuple[str, bytes], np.ndarray] = {}
        self._db: sqlite3.Connection | None = None
        self.hits = 0
        self.encoded = 0
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            _prepare_schema(self._db, None if legacy is None else Path(legacy))
            self._db.isolation_level = ""  # back to implicit transactions, committed by `with self._db`

    @classmethod
    def default(cls) -> EmbeddingStore:
        """The on-disk cache under EMBERTA_CACHE (default ~/.cache/emberta)."""
        return cls(cache_dir() / CACHE_FILE, legacy=cache_dir() / LEGACY_CACHE_FILE)

    def encode(
        self, encoder: Encoder, texts: list[str], *, prompt: str | None = None, prompt_name: str | None = None,
        batch_size: int = 32, show_progress: bool | None = None,
    ) -> np.ndarray:  # fmt: skip
        """float32 (len(texts), encoder.dim), equal to encoder.encode(texts, prompt=..., prompt_name=...)."""
        prompt = encoder.resolve_prompt(prompt, prompt_name)
        model_key = hashlib.sha256(f"{encoder.fingerprint}\0{prompt or ''}".encode()).hexdigest()
        keys = [text_key(t) for t in texts]
        found = self._lookup(model_key, set(keys))
        missing: dict[bytes, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key not in found and key not in missing:
                missing[key] = text
        self.hits += len(set(keys)) - len(missing)
        if missing:
            vectors = encoder.encode(
                list(missing.values()), prompt=prompt, batch_size=batch_size, show_progress=show_progress
            )
            self.encoded += len(missing)
            new = dict(zip(missing, vectors, strict=True))
            self._store(model_key, new)
            found.update(new)
        out = np.empty((len(texts), encoder.dim), dtype=np.float32)
        for i, key in enumerate(keys):
            out[i] = found[key]
        return out

    def _lookup(self, model_key: str, keys: set[bytes]) -> dict[bytes, np.ndarray]:
        found = {k: self._memory[(model_key, k)] for k in keys if (model_key, k) in self._memory}
        wanted = [k for k in keys if k not in found]
        if self._db is not None and wanted:
            for start in range(0, len(wanted), 500):
                part = wanted[start : start + 500]
                rows = self._db.execute(
                    f"SELECT text_sha256, vector FROM vectors WHERE model = ? AND text_sha256 IN "
                    f"({','.join('?' * len(part))})",
                    [model_key, *part],
                )
                for key, blob in rows:
                    vector = np.frombuffer(blob, dtype=np.float32)
                    found[key] = vector
                    self._memory[(model_key, key)] = vector
        return found

    def _store(self, model_key: str, vectors: dict[bytes, np.ndarray]) -> None:
        for key, vector in vectors.items():
            self._memory[(model_key, key)] = vector
        if self._db is not None:
            with self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO vectors (model, text_sha256, dim, vector) VALUES (?, ?, ?, ?)",
                    [(model_key, k, len(v), np.asarray(v, dtype=np.float32).tobytes()) for k, v in vectors.items()],
                )

    def cached_count(self) -> int:
        """Vectors held in memory by this store (each distinct text, model and prompt once)."""
        return len(self._memory)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> EmbeddingStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _prepare_schema(db: sqlite3.Connection, legacy: Path | None) -> None:
    """Create (or bring up to SCHEMA_VERSION) the table of a cache file, once: the first process to open a new
    file does it under an immediate transaction while others wait for it. A file of the old schema given as
    `path` is renamed in place; a `legacy` file's vectors are copied in (the legacy file is left unchanged)."""
    attached = legacy is not None and legacy.is_file()
    if attached:
        db.execute("ATTACH DATABASE ? AS legacy", (str(legacy),))
    try:
        db.execute("BEGIN IMMEDIATE")
        try:
            if db.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                if "text" in {row[1] for row in db.execute("PRAGMA main.table_info(vectors)")}:
                    db.execute("ALTER TABLE main.vectors RENAME COLUMN text TO text_sha256")
                db.execute(_SCHEMA)
                key = _legacy_key(db) if attached else None
                if key is not None:
                    copy = f"INSERT OR IGNORE INTO main.vectors SELECT model, {key}, dim, vector FROM legacy.vectors"
                    db.execute(copy)
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    finally:
        if attached:
            db.execute("DETACH DATABASE legacy")


def _legacy_key(db: sqlite3.Connection) -> str | None:
    """The key column of the attached legacy cache's table, or None when it has no table of vectors."""
    columns = {row[1] for row in db.execute("PRAGMA legacy.table_info(vectors)")}
    return next((name for name in ("text", "text_sha256") if name in columns), None)


@contextmanager
def open_store(cache: bool | EmbeddingStore) -> Iterator[EmbeddingStore]:
    """The store to encode through: `cache` itself when it is a store (left open), else the on-disk cache
    (True) or a store in memory (False), closed when the block ends."""
    if isinstance(cache, EmbeddingStore):
        yield cache
        return
    with EmbeddingStore.default() if cache else EmbeddingStore(None) as store:
        yield store
