"""`Index`: a persistent document index (see layout.py for its files).

A batch of documents is committed by one SQLite transaction after its vectors are on disk; the ANN file
follows (and is caught up from the vectors on open when a writer died before saving it). So a writer killed at
any point leaves the index with all or none of the batch. Readers search `Snapshot`s of committed generations
(state.py, search.py); the encoder side (prompts, transform, unit length) is embedding.py's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from emberta.errors import InputError, OptionError
from emberta.index import layout
from emberta.index.ann import Ann, AnnSpec
from emberta.index.documents import DocumentStore, NewDocument, new_documents
from emberta.index.embedding import IndexEncoder, new_index_encoder
from emberta.index.filters import parse_filter
from emberta.index.migration import folder_identity, read_migration, require_no_migration
from emberta.index.search import SearchRequest, hits, hits_many, rank, rank_many
from emberta.index.state import REFRESH_SECONDS, IndexState
from emberta.index.types import DuplicateIdError, Hit, Snapshot
from emberta.index.vector_file import VectorFile


class Index:
    """A persistent document index. Build one with `Index.create`, open one with `Index.open`."""

    def __init__(self, path: Path, config: dict, store: DocumentStore, *, writable: bool, lock=None, encoder=None,
                 migration=None):  # fmt: skip
        self.path, self.config, self.store, self.writable = path, config, store, writable
        self._lock = lock
        self.dim = int(config["dim"])
        self.ann_spec = AnnSpec(**config["ann"])
        self.vectors = VectorFile(path / layout.VECTORS, self.dim)
        self.transforms = layout.load_transforms(path / layout.TRANSFORM) if config.get("transform") else []
        self.migration = migration if migration is not None else read_migration(path)
        self.embedder = IndexEncoder(path, config, self.transforms, encoder, migration=self.migration)
        self._given_encoder, self._identity = encoder, folder_identity(path)
        self._state = IndexState(path, store, self.vectors, self.ann_spec, self.dim)
        self._state.refresh()
        if writable and self._state.ann_behind:  # a writer died before saving the ANN: save the caught-up one
            self._state.save_ann()

    # ---- creating and opening ------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | Path, *, model: str | None = "default", encoder_options: dict | None = None,
               encoder=None, dim: int | None = None, fingerprint: str | None = None, ann: str = "hnsw",
               quantize: str | None = None, transform: str | Path | None = None,
               ann_params: dict | None = None) -> Index:  # fmt: skip
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
        encoder, settings, dim, fingerprint = new_index_encoder(model, encoder_options, encoder, dim, fingerprint)
        transforms = layout.load_transforms(Path(transform)) if transform else []
        if transforms:
            dim = int(transforms[-1].transform(np.zeros((2, dim), dtype=np.float32)).shape[1])
        Ann(spec, dim)  # refuses settings that cannot work (binary with a dim not divisible by 8)
        config = layout.new_config(settings, fingerprint, dim, spec.as_dict(), bool(transforms))
        return cls.initialise(path, config, transforms, encoder=encoder)

    @classmethod
    def initialise(cls, path: Path, config: dict, transforms: list, *, encoder=None) -> Index:
        """Write an empty index with these settings (index.json) and fitted `transforms` into the folder
        `path` (created if needed), and return it open for writing. `Index.create` and compaction use it."""
        path.mkdir(parents=True, exist_ok=True)
        lock = layout.acquire_lock(path)
        if transforms:
            from emberta.transforms.pipeline import save_transforms

            save_transforms(transforms, path / layout.TRANSFORM)
        store = DocumentStore(path / layout.DOCS, create=True)
        store.set_state("config", json.dumps(config))
        Ann(AnnSpec(**config["ann"]), int(config["dim"])).save(path / layout.ANN)  # readers never find it missing
        layout.write_config(path, config)
        return cls(path, config, store, writable=True, lock=lock, encoder=encoder)

    @classmethod
    def open(
        cls, path: str | Path, *, writable: bool = False, encoder=None, own_encoder_fallback: bool = False
    ) -> Index:
        """Open an index, checking that its parts agree. writable=True takes the write lock (IndexLockedError
        when another process holds it). encoder: an encoder already loaded, used for queries and documents; it
        must give the index's vectors (the same fingerprint), else encoding raises OptionError, unless
        own_encoder_fallback=True: then the index loads its own model instead (a server serving one model and
        searching an index built with another). While the index migrates to a new model (migration.py), an
        encoder of the new model serves the queries."""
        path = Path(path)
        layout.require_documents(path)
        config = layout.read_config(path)
        migration = read_migration(path)
        usable = {config["fingerprint"], migration and migration.fingerprint}
        if own_encoder_fallback and encoder is not None and encoder.fingerprint not in usable:
            encoder = None
        lock = layout.acquire_lock(path) if writable else None
        store = DocumentStore(path / layout.DOCS)
        stored = store.get_state("config")
        if stored is not None and json.loads(stored)["fingerprint"] != config["fingerprint"]:
            raise InputError(
                f"{layout.CONFIG} names another encoder than {layout.DOCS} was built with; run "
                f"`emberta index repair {path}`",
                path=path,
            )
        return cls(path, config, store, writable=writable, lock=lock, encoder=encoder, migration=migration)

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
        """Slots handed out so far (live and dead documents), as last seen."""
        return self._state.slots

    @property
    def ann(self) -> Ann:
        return self._state.ann

    def refresh(self) -> None:
        """See every write committed so far (searches do this by themselves, at most every REFRESH_SECONDS)."""
        self._state.refresh()

    def snapshot(self, max_age: float = REFRESH_SECONDS) -> Snapshot:
        """The committed state to search: live mask, ids, filter columns, ANN and vectors of the latest
        generation, looked up at most `max_age` seconds ago (0: now)."""
        self._state.refresh(max_age)
        return self._state.snapshot()

    def _follow_replacement(self) -> None:
        """Before a search (at most every REFRESH_SECONDS): a reader whose folder was replaced whole (compaction,
        the end of a migration) or whose index began migrating opens it again, so long-running readers (a server)
        follow. Done before the query is encoded, so one search never mixes the old index's query vector with
        the new index's vectors."""
        if self.writable or not self._state.due(REFRESH_SECONDS):
            return
        identity = folder_identity(self.path)
        if identity is None or identity == self._identity:  # None: mid-swap; keep the open one a moment
            return
        fresh = Index.open(self.path, encoder=self._given_encoder, own_encoder_fallback=True)
        self.store.close()
        self.__dict__.update(fresh.__dict__)

    # ---- encoding ------------------------------------------------------------------------------------
    @property
    def encoder(self):
        """The index's encoder, loaded on first use and checked against the fingerprint the index was built with."""
        return self.embedder.encoder

    def embed(self, texts: Sequence[str], *, query: bool, batch_size: int = 32) -> np.ndarray:
        """Vectors as the index stores them: encoded (query or document prompt), transformed, unit length."""
        return self.embedder.embed(texts, query=query, batch_size=batch_size)

    def prepare(self, vectors: np.ndarray) -> np.ndarray:
        """Apply the index's transform to encoder vectors and scale rows to unit length."""
        return self.embedder.prepare(vectors)

    # ---- writing -------------------------------------------------------------------------------------
    @layout.reports_full_disk
    def add(self, texts: Sequence[str], ids: Sequence[str] | None = None,
            metadata: Sequence[dict | None] | None = None, *, vectors: np.ndarray | None = None,
            fingerprint: str | None = None, upsert: bool = False, where: Sequence[str | None] | None = None,
            save_ann: bool = True, prepared: bool = False) -> dict:  # fmt: skip
        """Add one batch of documents, all or nothing. Returns {"added": n, "replaced": m}.

        ids default to the slot numbers; metadata: one dict (or None) per text. vectors: precomputed encoder
        vectors (n, encoder dim), which need `fingerprint` equal to the index's. upsert: replace documents
        whose id exists (else DuplicateIdError). where: "file:line" per document, for error messages.
        save_ann=False leaves the ANN file to `flush()` (bulk loading; the vectors are already safe).
        prepared=True: `vectors` are already as the index stores them (transformed, unit length), e.g. copied
        from another index with the same settings.
        """
        self._require_writer()
        docs = new_documents(texts, ids, metadata, where, first_id=self.store.slots)
        if not docs:
            return {"added": 0, "replaced": 0}
        if vectors is None:
            vectors = self.embed([d.text for d in docs], query=False)
        else:
            vectors = self.embedder.check_vectors(vectors, fingerprint, len(docs), prepared=prepared)
        self._state.refresh()
        replaced = self._commit(docs, vectors, upsert)
        if save_ann:
            self.flush()
        return {"added": len(docs) - replaced, "replaced": replaced}

    def _commit(self, docs: list[NewDocument], vectors: np.ndarray, upsert: bool) -> int:
        """One transaction: vectors appended (durable before the commit), replaced documents deleted, documents
        stored; then the ANN in memory follows. Returns how many documents were replaced."""
        store = self.store
        store.begin()
        try:
            existing = store.existing([d.id for d in docs])
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
        self._state.appended(vectors, first_slot + len(docs), store.generation)
        return len(existing)

    @layout.reports_full_disk
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
        self._state.refresh()  # a writer's next search sees its own deletions
        self._write_counts()
        return deleted

    @layout.reports_full_disk
    def flush(self) -> None:
        """Save the ANN structure and the counts in index.json."""
        self._require_writer()
        self._state.save_ann()
        self._write_counts()

    def _write_counts(self) -> None:
        self.config["counts"] = {"documents": self.store.count(), "slots": self.store.slots}
        layout.write_config(self.path, self.config)

    def _require_writer(self) -> None:
        if not self.writable:
            raise OptionError(f"{self.path} is open for reading; open it with writable=True to change it")
        require_no_migration(self.path, self.migration)

    # ---- reading -------------------------------------------------------------------------------------
    def search(self, query, k: int = 10, **options) -> list[Hit]:
        """The `k` best documents for `query` (a text, or a vector for dense search), best first. Options (see
        search.SearchRequest): filter (an expression such as "lang = 'en' and year >= 2020"), mode ("dense",
        "bm25", "hybrid"), weights ((dense, bm25) for hybrid), ef (HNSW breadth), exact (skip the ANN), rescore
        (shortlist factor of quantized indexes), exact_below / exact_fraction (when a filter passes this few
        documents, scan them exactly), vector (the query's vector when already computed: hybrid search without
        re-encoding), include (what hits carry besides id and score; () reads no texts), hubness ("csls":
        demote hub documents in dense search)."""
        self._follow_replacement()
        request = SearchRequest(k=k, **options)
        text = request.query_text(query)
        tree = parse_filter(request.filter, self.store.fields()) if request.filter is not None else None
        vector = None
        if request.mode != "bm25":
            if request.vector is not None:
                vector = self.embedder.query_vector(request.vector)
            elif text is not None:
                vector = self.embed([text], query=True)[0]
            else:
                vector = self.embedder.query_vector(query)

        def answer(snapshot: Snapshot) -> tuple[list, list]:
            scored = rank(snapshot, self.store, request, tree, text, vector)
            return [hits(snapshot, self.store, scored, request.include)], [scored]

        return self._complete(answer)[0]

    def search_many(self, queries, k: int = 10, *, vectors=None, **options) -> list[list[Hit]]:
        """`search` for many queries at once, one list of hits per query in order. queries: texts, or query
        vectors (n, dim) for dense search; vectors: the texts' vectors when already computed (hybrid without
        re-encoding). Options as in `search` except vector. The texts are encoded in one batch, the snapshot and
        filter are taken once, plain dense search goes to FAISS in one call, and documents are read in one
        pass, so a batch pays the fixed per-query cost of `search` once."""
        if "vector" in options:
            raise OptionError("search_many takes the queries' vectors as queries, or as vectors= beside the texts")
        self._follow_replacement()
        request = SearchRequest(k=k, **options)
        texts, matrix = self._batch_queries(queries, vectors, request)
        if (texts is not None and not texts) or (matrix is not None and not len(matrix)):
            return []
        tree = parse_filter(request.filter, self.store.fields()) if request.filter is not None else None

        def answer(snapshot: Snapshot) -> tuple[list, list]:
            scored = rank_many(snapshot, self.store, request, tree, texts, matrix)
            return hits_many(snapshot, self.store, scored, request.include), scored

        return self._complete(answer)

    def _complete(self, answer) -> list[list[Hit]]:
        """answer(snapshot) -> (hits per query, ranking per query), on the current snapshot. Texts and metadata
        are read after ranking, from the live store: a document another process retired since the snapshot
        (up to REFRESH_SECONDS old) is missing there, so such an answer is ranked again on a snapshot of now."""
        found, scored = answer(self.snapshot())
        if any(len(hits) < len(ranking) for hits, ranking in zip(found, scored, strict=True)):
            found, _ = answer(self.snapshot(max_age=0))
        return found

    def _batch_queries(self, queries, vectors, request: SearchRequest) -> tuple[list[str] | None, np.ndarray | None]:
        """(texts, prepared query vectors) of a batch; either may be None (vector queries; bm25 mode)."""
        if isinstance(queries, str):
            raise OptionError("search_many takes a list of queries; for one query use search")
        if isinstance(queries, np.ndarray):
            if request.mode != "dense":
                raise OptionError(f"{request.mode} search needs text queries")
            return None, self.embedder.query_vectors(queries)
        queries = list(queries)
        if queries and not all(isinstance(q, str) for q in queries):
            raise OptionError("search_many takes a list of texts or a matrix of query vectors (n, dim), not a mix")
        texts = [request.query_text(q) for q in queries]
        if request.mode == "bm25" or not texts:
            return texts, None
        if vectors is not None:
            matrix = self.embedder.query_vectors(vectors)
            if len(matrix) != len(texts):
                raise OptionError(f"{len(texts)} query texts but {len(matrix)} query vectors; give one per text")
            return texts, matrix
        return texts, self.embed(texts, query=True)

    def get(self, doc_id: str) -> Hit | None:
        """The document with this id, or None."""
        slot = self.store.slot_of(str(doc_id))
        if slot is None:
            return None
        did, text, meta = self.store.documents([slot])[slot]
        return Hit(did, float("nan"), text, meta)

    def __len__(self) -> int:
        return self.store.count()

    def overview(self) -> dict:
        """What the index holds, for the web page: documents, model, and each metadata field's values
        (overview.index_overview), from the current folder."""
        from emberta.index.overview import index_overview

        self._follow_replacement()
        return index_overview(self)

    def info(self) -> dict:
        """Settings and counts, for `emberta index info`."""
        self._state.refresh()
        documents = self.store.count()
        return {
            "path": str(self.path),
            "documents": documents,
            "deleted_slots": self.slots - documents,
            "dim": self.dim,
            "encoder": self.config.get("encoder"),
            "fingerprint": self.config["fingerprint"],
            "ann": {**self.ann_spec.as_dict(), "structure": type(self.ann.index).__name__},
            "transform": self.config.get("transform"),
            "fields": {f.name: f.type for f in self.store.fields().values()},
            "format_version": self.config["format_version"],
            "bytes": {p.name: p.stat().st_size for p in sorted(self.path.iterdir()) if p.is_file()},
            "migration": self.migration.progress() if self.migration is not None else None,
        }
