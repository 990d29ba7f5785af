"""Where an index lives: a local folder (`Index`) or a Milvus collection (`MilvusIndex`). `open_index` opens
either with the same options, so the CLI, the server and Python callers need not know which."""

from __future__ import annotations

from pathlib import Path

from emberta.errors import OptionError

STORES = ("local", "milvus")


def check_store(store: str, location, collection: str | None) -> None:
    """OptionError unless `store` is known and `location` / `collection` suit it."""
    if store not in STORES:
        raise OptionError(f"--store {store!r}: choose local (an index folder) or milvus (--uri URI)")
    if location is None:
        milvus = "give --uri: a file path for Milvus Lite (./my.db) or http://host:19530 for a server"
        raise OptionError("give the index folder" if store == "local" else milvus)
    if store == "local" and collection is not None:
        raise OptionError("--collection names a Milvus collection; use it with --store milvus")


def open_index(location: str | Path, *, store: str = "local", collection: str | None = None, writable: bool = False,
               encoder=None, own_encoder_fallback: bool = False, token: str | None = None):  # fmt: skip
    """Open the index at `location`: a folder (store="local": `Index.open`), or a Milvus URI (store="milvus": a
    file for Milvus Lite, http://host:19530 for a server) with its `collection` (default "emberta":
    `MilvusIndex.open`; token: a server's "user:password"). The other options are `Index.open`'s."""
    check_store(store, location, collection)
    if store == "milvus":
        from emberta.index.milvus_store import DEFAULT_COLLECTION, MilvusIndex

        return MilvusIndex.open(str(location), collection or DEFAULT_COLLECTION, writable=writable, encoder=encoder,
                                own_encoder_fallback=own_encoder_fallback, token=token)  # fmt: skip
    from emberta.index.index import Index

    return Index.open(location, writable=writable, encoder=encoder, own_encoder_fallback=own_encoder_fallback)


def build_milvus(reader, uri: str, collection: str | None = None, *, model: str = "default",
                 encoder_options: dict | None = None, ann: str = "hnsw", upsert: bool = False,
                 on_progress=None, token: str | None = None, vectors=None) -> dict:  # fmt: skip
    """Build a new Milvus collection from the records of `reader` (an emberta.io.readers.TextReader), as
    `maintenance.build_index` builds a folder. The metadata fields and their types are read from the whole
    input first (Milvus Lite cannot add fields later); a failed build drops the collection, so none is left
    half-written. vectors: precomputed (index.precomputed.PrecomputedVectors). Returns {"added", "replaced",
    "batches"}."""
    from emberta.index.documents import value_type
    from emberta.index.maintenance import add_file
    from emberta.index.milvus_collection import milvus_errors
    from emberta.index.milvus_store import DEFAULT_COLLECTION, MilvusIndex

    reader.check_first()
    fields: dict[str, str] = {}
    for record in reader:
        for name, value in (record.meta or {}).items():
            kind = value_type(value)
            if kind is not None:
                fields.setdefault(name, kind)
    index = MilvusIndex.create(uri, collection or DEFAULT_COLLECTION, model=model, encoder_options=encoder_options,
                               fields=fields, ann=ann, token=token)  # fmt: skip
    try:
        totals = add_file(index, reader, upsert=upsert, on_progress=on_progress, vectors=vectors)
    except BaseException:
        with milvus_errors(uri, "dropping the half-built collection"):
            index.client.drop_collection(index.collection)
        raise
    finally:
        index.close()
    return totals
