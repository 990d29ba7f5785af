"""An index on disk: a directory holding

    index.json    format version, encoder (spec, options, fingerprint), dim, ANN settings, transform, counts
    docs.sqlite   documents (id, text, metadata JSON + typed columns), FTS5 for BM25, state (the commit point)
    vectors.f32   float32 unit vectors, row = slot, memory-mapped
    ann.faiss     the FAISS structure over the slots
    transform/    the fitted transform pipeline applied before indexing (when there is one)
    write.lock    held (flock) by the one writer

A batch of documents is committed by one SQLite transaction after its vectors are on disk; the ANN file
follows (and is caught up from the vectors on open when a writer died before saving it). So a writer killed at
any point leaves the index with all or none of the batch.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

import numpy as np

from emberta.errors import EmbertaError, InputError, OptionError
from emberta.index.ann import Ann, AnnSpec
from emberta.index.documents import DocumentStore, NewDocument
from emberta.index.vector_file import VectorFile
from emberta.io.atomic import write_text_atomic
from emberta.similarity import unit_rows
from emberta.version import __version__

FORMAT_VERSION = 1
REFRESH_SECONDS = 0.05
CONFIG, DOCS, VECTORS, ANN, LOCK, TRANSFORM = (
    "index.json",
    "docs.sqlite",
    "vectors.f32",
    "ann.faiss",
    "write.lock",
    "transform",
)


class IndexLockedError(EmbertaError):
    """Another process is writing to the index."""


class DuplicateIdError(InputError):
    """Documents whose ids are already in the index (or twice in one batch), without upsert."""


class Hit(NamedTuple):
    """One search result: document id, score (cosine for dense, BM25 for bm25, fused RRF for hybrid), text,
    metadata (None when the search was asked not to include them)."""

    id: str
    score: float
    text: str | None
    metadata: dict | None


class Index:
    """A persistent document index. Build one with `Index.create`, open one with `Index.open`."""

    def __init__(self, path: Path, config: dict, store: DocumentStore, *, writable: bool, lock=None, encoder=None):
        self.path, self.config, self.store, self.writable = path, config, store, writable
        self._lock, self._encoder = lock, encoder
        self.dim = int(config["dim"])
        self.ann_spec = AnnSpec(**config["ann"])
        self.vectors = VectorFile(path / VECTORS, self.dim)
        self.transforms = _load_transform(path / TRANSFORM) if config.get("transform") else []
        self._generation = -1
        self._checked_at = -1.0
        self._ann: Ann | None = None
        self._slots = 0
        self._ann_behind = False
        self._columns_generation = -1
        self.ids: list = []  # slot -> document id (None at dead slots), loaded with the filter columns
        self.all_live = True
        self._hub_cache: dict[int, float] = {}
        self._hub_generation = -1

    # ---- creating and opening ------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        path: str | Path,
        *,
        model: str | None = "default",
        encoder_options: dict | None = None,
        encoder=None,
        dim: int | None = None,
        fingerprint: str | None = None,
        ann: str = "hnsw",
        quantize: str | None = None,
        transform: str | Path | None = None,
        ann_params: dict | None = None,
    ) -> Index:
        """Create an empty index at `path` (a new directory) and return it open for writing.

        model/encoder_options: the encoder (`load_encoder(model, **encoder_options)`); `encoder` reuses one
        already loaded. model=None with dim and fingerprint makes an index that takes vectors only.
        ann: "hnsw", "flat" or a FAISS factory string; quantize: None, "int8" or "binary";
        transform: a folder saved by `emberta.transforms.save_transforms`, applied before indexing.
        """
        path = Path(path)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise OptionError(f"{path} already exists; choose a new folder, or add to it with `emberta index add`")
        spec = AnnSpec.parse(ann, quantize, **(ann_params or {}))
        encoder_config = None
        if model is not None:
            if encoder is None:
                from emberta.encoders import load_encoder

                encoder = load_encoder(model, **(encoder_options or {}))
            prompts = encoder.prompts
            encoder_config = {
                "spec": str(model),
                "options": dict(encoder_options or {}),
                "name": encoder.name,
                "fingerprint": encoder.fingerprint,
                "query_prompt_name": "query" if "query" in prompts else None,
                "document_prompt_name": next((n for n in ("document", "passage", "corpus") if n in prompts), None),
            }
            dim, fingerprint = encoder.dim, encoder.fingerprint
        elif dim is None or fingerprint is None:
            raise OptionError("an index without a model needs dim and fingerprint (the vectors' encoder)")
        transforms = _load_transform(Path(transform)) if transform else []
        if transforms:
            dim = int(transforms[-1].transform(np.zeros((2, dim), dtype=np.float32)).shape[1])
        Ann(spec, dim)  # refuses settings that cannot work (binary with a dim not divisible by 8)
        config = {
            "format_version": FORMAT_VERSION,
            "emberta_version": __version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "encoder": encoder_config,
            "fingerprint": fingerprint,
            "dim": int(dim),
            "dtype": "float32",
            "metric": "cosine",
            "ann": spec.as_dict(),
            "transform": TRANSFORM if transforms else None,
            "counts": {"documents": 0, "slots": 0},
        }
        path.mkdir(parents=True, exist_ok=True)
        lock = _acquire_lock(path)
        if transforms:
            from emberta.transforms.pipeline import save_transforms

            save_transforms(transforms, path / TRANSFORM)
        store = DocumentStore(path / DOCS, create=True)
        store.set_state("config", json.dumps(config))
        write_text_atomic(path / CONFIG, json.dumps(config, indent=2) + "\n")
        index = cls(path, config, store, writable=True, lock=lock, encoder=encoder)
        index._refresh()
        return index

    @classmethod
    def open(cls, path: str | Path, *, writable: bool = False, encoder=None) -> Index:
        """Open an index, checking that its parts agree. writable=True takes the write lock (IndexLockedError
        when another process holds it). encoder: an encoder already loaded, used for queries and documents when
        it gives the index's vectors (same fingerprint); otherwise the index loads its own on first use."""
        path = Path(path)
        if not path.is_dir():
            raise InputError("no index here (not a folder); build one with `emberta index build`", path=path)
        if not (path / DOCS).is_file():
            raise InputError(
                f"{DOCS} is missing, so the documents are lost; rebuild the index with `emberta index build`",
                path=path,
            )
        config = _read_config(path)
        if encoder is not None and encoder.fingerprint != config["fingerprint"]:
            encoder = None
        lock = _acquire_lock(path) if writable else None
        store = DocumentStore(path / DOCS)
        stored = store.get_state("config")
        if stored is not None and json.loads(stored)["fingerprint"] != config["fingerprint"]:
            raise InputError(
                f"{CONFIG} names another encoder than {DOCS} was built with; run `emberta index repair {path}`",
                path=path,
            )
        index = cls(path, config, store, writable=writable, lock=lock, encoder=encoder)
        index._refresh()
        if writable:
            index._save_ann_if_behind()
        return index

    def close(self) -> None:
        self.store.close()
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- state ---------------------------------------------------------------------------------------
    @property
    def slots(self) -> int:
        return self._slots

    @property
    def ann(self) -> Ann:
        return self._ann

    def refresh(self) -> None:
        """See every write committed so far (searches do this by themselves, at most every REFRESH_SECONDS)."""
        self._refresh()

    def _maybe_refresh(self) -> None:
        """Refresh unless the last check was under REFRESH_SECONDS ago: asking SQLite costs as much as a tenth
        of an HNSW search, so a reader sees another process's writes up to that late. A writer sees its own
        writes at once."""
        now = time.monotonic()
        if now - self._checked_at >= REFRESH_SECONDS:
            self._refresh()

    def _refresh(self) -> None:
        """Reload what a committed write changed (cheap when nothing did)."""
        self._checked_at = time.monotonic()
        generation = self.store.generation
        if generation == self._generation:
            return
        slots = self.store.slots
        if self._ann is not None and slots == self._slots:  # deletions only: the vectors and the ANN stand
            self._generation = generation
            return
        problem = self.vectors.check(slots)
        if problem:
            raise EmbertaError(f"{self.path}: {problem}; run `emberta index repair {self.path}`")
        ann = Ann(self.ann_spec, self.dim) if slots == 0 else Ann.load(self.path / ANN, self.ann_spec, self.dim)
        if ann.ntotal > slots:
            raise EmbertaError(
                f"{self.path / ANN} holds {ann.ntotal} vectors but the index has {slots}; "
                f"run `emberta index repair {self.path}`"
            )
        self._ann_behind = ann.ntotal < slots
        if self._ann_behind:  # a writer died between committing and saving the ANN: catch up from the vectors
            view = self.vectors.view(slots)
            ann.add(np.asarray(view[ann.ntotal :]), all_vectors=lambda: view)
        self._ann, self._slots, self._generation = ann, slots, generation

    def _save_ann_if_behind(self) -> None:
        if self._ann_behind:
            self._ann.save(self.path / ANN)
            self._ann_behind = False

    def live_and_columns(self, refresh: bool = True):
        """(live mask, filter columns) over the slots, reloaded after each committed write. `all_live` says
        whether every slot is live (no deletions to skip)."""
        if refresh:
            self._refresh()
        if self._columns_generation != self._generation:
            self._live, self.ids, self._columns = self.store.columns(self._slots)
            self.all_live = bool(self._live.all())
            self._columns_generation = self._generation
        return self._live, self._columns

    def hub_cache(self) -> dict[int, float]:
        """slot -> mean cosine to its nearest documents (hubness re-scoring), emptied by every write."""
        if self._hub_generation != self._generation:
            self._hub_cache, self._hub_generation = {}, self._generation
        return self._hub_cache

    # ---- encoding ------------------------------------------------------------------------------------
    @property
    def encoder(self):
        """The index's encoder, loaded on first use and checked against the fingerprint the index was built with."""
        if self._encoder is None:
            settings = self.config.get("encoder")
            if not settings:
                raise OptionError(f"{self.path} was built from vectors without a model; search it with a vector")
            from emberta.encoders import load_encoder

            self._encoder = load_encoder(settings["spec"], **settings["options"])
        if self._encoder.fingerprint != self.config["fingerprint"]:
            raise OptionError(
                f"the model {self.config['encoder']['spec']!r} no longer gives the vectors this index was built with "
                f"(fingerprint {self._encoder.fingerprint[:12]} != {self.config['fingerprint'][:12]}); load the "
                f"original model or rebuild the index"
            )
        return self._encoder

    def embed(self, texts: Sequence[str], *, query: bool, batch_size: int = 32) -> np.ndarray:
        """Vectors as the index stores them: encoded (query or document prompt), transformed, unit length."""
        settings = self.config["encoder"] or {}
        name = settings.get("query_prompt_name" if query else "document_prompt_name")
        vectors = self.encoder.encode(list(texts), prompt_name=name, batch_size=batch_size, show_progress=False)
        return self.prepare(vectors)

    def prepare(self, vectors: np.ndarray) -> np.ndarray:
        """Apply the index's transform to encoder vectors and scale rows to unit length."""
        vectors = np.asarray(vectors, dtype=np.float32)
        for step in self.transforms:
            vectors = np.asarray(step.transform(vectors), dtype=np.float32)
        return unit_rows(vectors)

    # ---- writing -------------------------------------------------------------------------------------
    def add(
        self,
        texts: Sequence[str],
        ids: Sequence[str] | None = None,
        metadata: Sequence[dict | None] | None = None,
        *,
        vectors: np.ndarray | None = None,
        fingerprint: str | None = None,
        upsert: bool = False,
        where: Sequence[str | None] | None = None,
        save_ann: bool = True,
        prepared: bool = False,
    ) -> dict:
        """Add one batch of documents, all or nothing. Returns {"added": n, "replaced": m}.

        ids default to the slot numbers; metadata: one dict (or None) per text. vectors: precomputed encoder
        vectors (n, encoder dim), which need `fingerprint` equal to the index's. upsert: replace documents
        whose id exists (else DuplicateIdError). where: "file:line" per document, for error messages.
        save_ann=False leaves the ANN file to `flush()` (bulk loading; the vectors are already safe).
        prepared=True: `vectors` are already as the index stores them (transformed, unit length), e.g. copied
        from another index with the same settings.
        """
        self._require_writer()
        texts = list(texts)
        n = len(texts)
        if n == 0:
            return {"added": 0, "replaced": 0}
        ids = [str(self.store.slots + i) for i in range(n)] if ids is None else [str(i) for i in ids]
        metadata = [None] * n if metadata is None else list(metadata)
        where = [None] * n if where is None else list(where)
        if not (len(ids) == len(metadata) == len(where) == n):
            raise OptionError(f"{n} texts but {len(ids)} ids, {len(metadata)} metadata entries, {len(where)} places")
        docs = [_document(*row) for row in zip(ids, texts, metadata, where, strict=True)]
        _refuse_repeats(docs)
        if vectors is None:
            vectors = self.embed(texts, query=False)
        else:
            vectors = self._check_vectors(vectors, fingerprint, n, prepared)
        self._refresh()
        store = self.store
        store.begin()
        try:
            existing = store.existing(ids)
            if existing and not upsert:
                first = next(d for d in docs if d.id in existing)
                place = f"{first.where}: " if first.where else ""
                raise DuplicateIdError(
                    f"{place}id {first.id!r} is already in the index ({len(existing)} of this batch's ids are); "
                    f"pass upsert=True (CLI: --upsert) to replace them, or give new ids"
                )
            store.delete_slots(existing.values())
            first_slot = store.slots
            self.vectors.append(vectors, first_slot)
            store.insert(docs, first_slot)
            store.bump_generation()
            store.commit()
        except BaseException:
            store.rollback()
            raise
        view = self.vectors.view(first_slot + n)
        self._ann.add(vectors, all_vectors=lambda: view)
        self._slots, self._generation = first_slot + n, store.generation
        if save_ann:
            self.flush()
        return {"added": n - len(existing), "replaced": len(existing)}

    def delete(self, ids: Iterable[str], *, missing_ok: bool = False) -> int:
        """Delete documents by id (one transaction); returns how many were deleted. Unknown ids raise
        InputError unless missing_ok."""
        self._require_writer()
        ids = [str(i) for i in ids]
        self.store.begin()
        try:
            existing = self.store.existing(ids)
            missing = [i for i in ids if i not in existing]
            if missing and not missing_ok:
                raise InputError(f"no document with id {missing[0]!r} ({len(missing)} of {len(ids)} ids are unknown)")
            deleted = self.store.delete_slots(existing.values())
            self.store.bump_generation()
            self.store.commit()
        except BaseException:
            self.store.rollback()
            raise
        self._write_counts()
        return deleted

    def flush(self) -> None:
        """Save the ANN structure and the counts in index.json."""
        self._require_writer()
        self._ann.save(self.path / ANN)
        self._write_counts()

    def _write_counts(self) -> None:
        self.config["counts"] = {"documents": self.store.count(), "slots": self.store.slots}
        write_text_atomic(self.path / CONFIG, json.dumps(self.config, indent=2) + "\n")

    def _require_writer(self) -> None:
        if not self.writable:
            raise OptionError(f"{self.path} is open for reading; open it with writable=True to change it")

    def _check_vectors(self, vectors, fingerprint: str | None, n: int, prepared: bool = False) -> np.ndarray:
        vectors = np.asarray(vectors, dtype=np.float32)
        if fingerprint is None:
            raise OptionError("vectors need the fingerprint of the encoder that made them (fingerprint=...)")
        if fingerprint != self.config["fingerprint"]:
            raise InputError(
                f"these vectors come from another encoder (fingerprint {fingerprint[:12]}) than the index's "
                f"({self.config['fingerprint'][:12]}); encode with the index's model, or build a new index"
            )
        width = self.encoder.dim if self.config.get("encoder") and self.transforms and not prepared else self.dim
        if vectors.ndim != 2 or vectors.shape != (n, width):
            raise InputError(f"vectors of shape {vectors.shape} for {n} documents; the index takes ({n}, {width})")
        return vectors if prepared else self.prepare(vectors)

    # ---- reading -------------------------------------------------------------------------------------
    def search(self, query, k: int = 10, **options) -> list[Hit]:
        """The `k` best documents for `query` (a text, or a vector for dense search). Options: filter (an
        expression such as "lang = 'en' and year >= 2020"), mode ("dense", "bm25", "hybrid"), weights
        ((dense, bm25) for hybrid), ef (HNSW breadth), exact (skip the ANN), rescore (shortlist factor for
        quantized indexes). See emberta.index.search."""
        from emberta.index.search import search

        return search(self, query, k, **options)

    def get(self, doc_id: str) -> Hit | None:
        """The document with this id, or None."""
        slot = self.store.slot_of(str(doc_id))
        if slot is None:
            return None
        did, text, meta = self.store.documents([slot])[slot]
        return Hit(did, float("nan"), text, meta)

    def __len__(self) -> int:
        return self.store.count()

    def info(self) -> dict:
        """Settings and counts, for `emberta index info`."""
        self._refresh()
        documents = self.store.count()
        return {
            "path": str(self.path),
            "documents": documents,
            "deleted_slots": self._slots - documents,
            "dim": self.dim,
            "encoder": self.config.get("encoder"),
            "fingerprint": self.config["fingerprint"],
            "ann": {**self.ann_spec.as_dict(), "structure": type(self._ann.index).__name__},
            "transform": self.config.get("transform"),
            "fields": {f.name: f.type for f in self.store.fields().values()},
            "format_version": self.config["format_version"],
            "bytes": {p.name: p.stat().st_size for p in sorted(self.path.iterdir()) if p.is_file()},
        }


# ---- helpers -----------------------------------------------------------------------------------------------
def _document(doc_id: str, text, meta, where) -> NewDocument:
    place = f"{where}: " if where else ""
    if not isinstance(text, str):
        raise InputError(f"{place}document {doc_id!r}: the text is {type(text).__name__}, not a string")
    if doc_id == "":
        raise InputError(f"{place}empty document id; give every document a non-empty id")
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise InputError(f"{place}document {doc_id!r}: metadata must be an object, not {type(meta).__name__}")
    return NewDocument(doc_id, text, meta, where)


def _refuse_repeats(docs: list[NewDocument]) -> None:
    seen: dict[str, NewDocument] = {}
    for doc in docs:
        if doc.id in seen:
            first = seen[doc.id].where or "earlier in the batch"
            place = f"{doc.where}: " if doc.where else ""
            raise DuplicateIdError(
                f"{place}id {doc.id!r} appears twice in one batch (first at {first}); ids must be unique"
            )
        seen[doc.id] = doc


def _acquire_lock(path: Path):
    handle = open(path / LOCK, "a+")  # noqa: SIM115  (held open for the writer's lifetime)
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise IndexLockedError(
            f"{path}: index is locked: {holder} is writing to it; wait for it to finish (readers may search meanwhile)"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}")
    handle.flush()
    return handle


def _read_config(path: Path) -> dict:
    file = path / CONFIG
    repair = f"run `emberta index repair {path}` to restore it from {DOCS}"
    if not file.is_file():
        raise InputError(f"{CONFIG} is missing; {repair}", path=path)
    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"unreadable ({exc}); {repair}", path=file) from None
    version = config.get("format_version") if isinstance(config, dict) else None
    if version != FORMAT_VERSION:
        raise InputError(
            f"index format {version!r} where this emberta ({__version__}) reads format {FORMAT_VERSION}; "
            "rebuild the index with this version",
            path=file,
        )
    return config


def _load_transform(folder: Path) -> list:
    from emberta.transforms.pipeline import load_transforms

    if not (folder / "transforms.json").is_file():
        raise InputError(
            "no transforms.json here; save a fitted pipeline with emberta.transforms.save_transforms", path=folder
        )
    return load_transforms(folder)
