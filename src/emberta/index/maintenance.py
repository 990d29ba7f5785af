"""Whole-index jobs: build an index from a file, add a file to one, check that the parts agree, repair them."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from itertools import islice
from pathlib import Path

import numpy as np

from emberta.errors import EmbertaError, InputError, OptionError
from emberta.index import layout
from emberta.index.ann import Ann, AnnSpec
from emberta.index.crashpoints import reached
from emberta.index.documents import DocumentStore
from emberta.index.embedding import IndexEncoder
from emberta.index.index import Index
from emberta.index.layout import ANN, CONFIG, DOCS, FORMAT_VERSION, VECTORS
from emberta.index.migration import require_no_migration
from emberta.index.precomputed import PrecomputedVectors
from emberta.index.vector_file import VectorFile
from emberta.io.atomic import staged_dir
from emberta.io.readers import TextReader

BLOCK = 2048


def add_file(
    index: Index,
    reader: TextReader,
    *,
    upsert: bool = False,
    block: int = BLOCK,
    on_progress: Callable[[int], None] | None = None,
    vectors: PrecomputedVectors | None = None,
) -> dict:
    """Add every record of `reader` to `index` in batches of `block` documents, each batch all or nothing;
    `vectors`: their precomputed vectors (`--vectors`), else the index encodes them.
    Returns {"added", "replaced", "batches"}."""
    totals = {"added": 0, "replaced": 0, "batches": 0}
    records = iter(reader)
    where = reader.name
    unseen = set(reader.meta_fields) if isinstance(reader.meta_fields, list) else set()
    try:
        while batch := list(islice(records, block)):
            unseen -= {name for r in batch for name, value in (r.meta or {}).items() if value is not None}
            places = [f"{where}:{r.line}" for r in batch]
            given = {} if vectors is None else {"vectors": vectors.take([r.id for r in batch], places),
                                                "fingerprint": vectors.fingerprint}  # fmt: skip
            done = index.add(
                [r.text for r in batch],
                [r.id for r in batch],
                [r.meta for r in batch],
                upsert=upsert,
                where=places,
                save_ann=False,
                **given,
            )
            totals["added"] += done["added"]
            totals["replaced"] += done["replaced"]
            totals["batches"] += 1
            if on_progress:
                on_progress(len(batch))
        if vectors is not None:
            vectors.check_all_used()
    finally:
        index.flush()
    for name in sorted(unseen):
        warnings.warn(f"{reader.name}: no document has metadata field {name!r}; check --meta-fields", stacklevel=2)
    return totals


def build_index(
    reader: TextReader,
    out: str | Path,
    *,
    model: str = "default",
    encoder_options: dict | None = None,
    ann: str = "hnsw",
    quantize: str | None = None,
    transform: str | Path | None = None,
    upsert: bool = False,
    on_progress: Callable[[int], None] | None = None,
    vectors: PrecomputedVectors | None = None,
) -> dict:
    """Build a new index at `out` from the records of `reader` (with their precomputed `vectors` when given).
    The index is built in a hidden folder beside `out` and renamed into place when complete, so a failed or
    killed build leaves no index behind."""
    out = Path(out)
    if out.exists():
        raise OptionError(
            f"{out} already exists; add documents with `emberta index add {out} FILE`, or choose a new folder"
        )
    if not out.parent.is_dir():
        raise OptionError(f"--out {out}: folder {out.parent} does not exist; create it first")
    reader.check_first()
    with staged_dir(out, "building") as staging:
        index = Index.create(
            staging, model=model, encoder_options=encoder_options, ann=ann, quantize=quantize, transform=transform
        )
        try:
            totals = add_file(index, reader, upsert=upsert, on_progress=on_progress, vectors=vectors)
        finally:
            index.close()
    return totals


def check_index(path: str | Path) -> list[str]:
    """Problems found in the index at `path` (empty when every part agrees): config, documents database
    integrity, vector file length, ANN file readable and in step with the documents. InputError when `path`
    is not a folder."""
    path = Path(path)
    layout.recover_swap(path)
    if not path.is_dir():
        raise InputError("no index here (not a folder)", path=path)
    problems: list[str] = []
    if not (path / DOCS).is_file():
        return [f"{DOCS} is missing: the documents are lost; rebuild the index"]
    store = DocumentStore(path / DOCS)
    try:
        result = store.conn.execute("PRAGMA quick_check").fetchone()[0]
        if result != "ok":
            problems.append(f"{DOCS} is damaged ({result}); rebuild the index")
        stored = json.loads(store.get_state("config") or "null")
        try:
            config = layout.read_config(path)
            if stored and stored["fingerprint"] != config["fingerprint"]:
                problems.append(f"{CONFIG} and {DOCS} name different encoders")
        except InputError as exc:
            problems.append(str(exc))
            config = stored
        if config is None:
            return problems
        slots = store.slots
        vectors = VectorFile(path / VECTORS, int(config["dim"]))
        if problem := vectors.check(slots):
            problems.append(problem)
        try:
            ann = Ann.load(path / ANN, AnnSpec(**config["ann"]), int(config["dim"])) if slots else None
            if ann is not None and ann.ntotal > slots:
                problems.append(f"{ANN} holds {ann.ntotal} vectors but the index has {slots}")
            elif ann is not None and ann.ntotal < slots:
                problems.append(f"{ANN} is {slots - ann.ntotal} vectors behind (searches catch up in memory)")
        except EmbertaError as exc:
            problems.append(str(exc).split(";")[0])
        counts = config.get("counts", {})
        if counts.get("documents") != store.count() and not problems:
            problems.append(f"{CONFIG} counts are stale ({counts.get('documents')} vs {store.count()} documents)")
    finally:
        store.close()
    return problems


@layout.reports_full_disk
def repair_index(path: str | Path, *, encoder=None) -> list[str]:
    """Fix what check_index finds, where the documents database is intact: restore index.json from the copy
    in docs.sqlite, re-encode missing vectors from the stored texts, rebuild the ANN structure. Returns the
    actions taken."""
    path = Path(path)
    layout.require_documents(path)
    actions: list[str] = []
    lock = layout.acquire_lock(path)
    try:
        store = DocumentStore(path / DOCS)
        stored = store.get_state("config")
        if stored is None:
            raise InputError(f"{DOCS} holds no index settings; rebuild the index", path=path)
        config = json.loads(stored)
        try:
            on_disk = layout.read_config(path)
            config["counts"] = on_disk.get("counts", config["counts"])
        except InputError:
            actions.append(f"restored {CONFIG} from {DOCS}")
        if config["format_version"] != FORMAT_VERSION:
            raise InputError(f"index format {config['format_version']} cannot be repaired by this emberta", path=path)
        dim, slots = int(config["dim"]), store.slots
        vectors = VectorFile(path / VECTORS, dim)
        have = min(vectors.rows_on_disk(), slots)
        if have < slots:
            actions.append(_reencode(path, config, store, vectors, have, slots, encoder))
        spec = AnnSpec(**config["ann"])
        rebuild = slots > 0
        if slots:
            try:
                rebuild = Ann.load(path / ANN, spec, dim).ntotal != slots
            except EmbertaError:
                rebuild = True
        if rebuild:
            ann = Ann(spec, dim)
            view = vectors.view(slots)
            ann.add(np.asarray(view), all_vectors=lambda: view)
            ann.save(path / ANN)
            actions.append(f"rebuilt {ANN} from {slots} vectors")
        config["counts"] = {"documents": store.count(), "slots": slots}
        layout.write_config(path, config)
        store.close()
    finally:
        lock.close()
    return actions


def _reencode(path: Path, config: dict, store: DocumentStore, vectors: VectorFile, have: int, slots: int, encoder):
    if not config.get("encoder"):
        raise InputError(
            f"vectors.f32 lacks {slots - have} vectors and the index was built from vectors without a model; "
            "rebuild it",
            path=path,
        )
    transforms = layout.load_transforms(path / layout.TRANSFORM) if config.get("transform") else []
    embedder = IndexEncoder(path, config, transforms, encoder)
    kept = np.array(vectors.view(have)) if have else np.zeros((0, vectors.dim), dtype=np.float32)
    missing = np.arange(have, slots)
    docs = store.documents(missing)
    rows = np.zeros((slots - have, vectors.dim), dtype=np.float32)
    live = [s for s in missing if int(s) in docs]
    if live:
        rows[np.asarray(live) - have] = embedder.embed([docs[int(s)][1] for s in live], query=False)
    vectors.rewrite(np.concatenate([kept, rows]))
    return f"re-encoded {len(live)} documents whose vectors were missing"


@layout.reports_full_disk
def compact_index(path: str | Path, *, block: int = 10_000) -> dict:
    """Rewrite the index without the dead slots that deletes and upserts leave behind: live documents keep
    their ids, texts, metadata and vectors (copied, not re-encoded) in slot order. Built in a hidden folder and
    swapped in whole, under the write lock. Returns {"documents", "slots_before"}."""
    path = Path(path)
    with Index.open(path, writable=True) as old, staged_dir(path, "compacting") as staging:
        require_no_migration(path, old.migration)  # the swap would drop the migration under way
        slots_before = old.slots
        live = np.sort(old.store.live_slots())
        view = old.vectors.view(old.slots)
        config = {**old.config, "counts": {"documents": 0, "slots": 0}}
        new = Index.initialise(staging, config, old.transforms)
        try:
            for start in range(0, len(live), block):
                chunk = live[start : start + block]
                docs = old.store.documents(chunk)
                rows = [docs[int(s)] for s in chunk]
                new.add([r[1] for r in rows], [r[0] for r in rows], [r[2] for r in rows],
                        vectors=np.asarray(view[chunk]), fingerprint=config["fingerprint"], prepared=True,
                        save_ann=False)  # fmt: skip
            new.flush()
        finally:
            new.close()
        reached("compact-built")
    return {"documents": len(live), "slots_before": slots_before}
