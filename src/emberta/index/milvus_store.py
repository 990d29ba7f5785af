"""`MilvusIndex`: the `Index` API over a Milvus collection (Milvus Lite in-process, or a Milvus server/cluster).

The same calls as a local index (add with upsert, delete, search and search_many with filters and modes, get,
len, info, overview, close, context manager) and the same `Hit` results; the collection's layout is
milvus_collection.py's, the filter translation milvus_filters.py's. What differs from a local index: Milvus has
no multi-request transaction, so a batch is one insert/upsert request, checked in full before it is sent;
BM25 and hybrid search use Milvus's own analyzer (so their rankings differ from the local FTS5 one); hubness
re-scoring, transforms and highlights are local-index only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone

import numpy as np

from emberta.errors import InputError, OptionError
from emberta.index.documents import new_documents
from emberta.index.embedding import IndexEncoder, new_index_encoder
from emberta.index.filters import FIELD_TYPES, parse_filter
from emberta.index.fusion import reciprocal_rank_fusion
from emberta.index.milvus_collection import (
    CONFIG_KEY,
    check_ann,
    check_name,
    check_sizes,
    connect,
    create_collection,
    id_filter,
    is_lite,
    milvus_errors,
    read_fields,
)
from emberta.index.milvus_filters import to_milvus
from emberta.index.milvus_prefilter import filtered_dense
from emberta.index.milvus_rows import register_fields, row
from emberta.index.search import HYBRID_CANDIDATES, SearchRequest
from emberta.index.types import DuplicateIdError, Field, Hit
from emberta.version import __version__

DEFAULT_COLLECTION = "emberta"
MAX_K = 16_384  # Milvus's largest limit for one search
_CHUNK = 500


class MilvusIndex:
    """An emberta index kept in a Milvus collection. Build one with `MilvusIndex.create`, open one with
    `MilvusIndex.open` (or `emberta.index.open_index(uri, store="milvus")`)."""

    def __init__(self, client, uri: str, collection: str, config: dict, fields: dict[str, Field], *,
                 writable: bool, bm25: bool, encoder=None):  # fmt: skip
        self.client, self.uri, self.collection, self.config = client, uri, collection, config
        self.writable, self.bm25, self.known_fields = writable, bm25, fields
        self.dim = int(config["dim"])
        self.path = f"{uri}#{collection}"  # where, in messages and the server's /readyz
        self.embedder = IndexEncoder(self.path, config, [], encoder)
        self._templates: bool | None = False if is_lite(uri) else None  # filter_params support, probed once
        self.passing_counts: dict = {}  # filter -> documents passing, for Milvus Lite (milvus_prefilter.py)

    # ---- creating and opening ------------------------------------------------------------------------
    @classmethod
    def create(cls, uri: str, collection: str = DEFAULT_COLLECTION, *, model: str | None = "default",
               encoder_options: dict | None = None, encoder=None, dim: int | None = None,
               fingerprint: str | None = None, fields: dict[str, str] | None = None, ann: str = "hnsw",
               token: str | None = None) -> MilvusIndex:  # fmt: skip
        """Create the collection `collection` at `uri` (a file for Milvus Lite, http://host:19530 for a server)
        and return it open for writing. model/encoder_options/encoder/dim/fingerprint as in `Index.create`.
        fields: the filterable metadata fields, name -> "number" | "text" | "bool" (Milvus Lite cannot add
        fields later; a server can). ann: "hnsw" or "flat" (exact). OptionError when the collection exists."""
        check_ann(ann)
        client = connect(uri, token)
        check_name(collection)
        with milvus_errors(uri, "looking up the collection"):
            exists = client.has_collection(collection)
        if exists:
            raise OptionError(f"{uri}: collection {collection!r} already exists; add documents with `emberta index "
                              f"add FILE --store milvus --uri {uri} --collection {collection}`, or choose another "
                              "--collection")  # fmt: skip
        encoder, settings, dim, fingerprint = new_index_encoder(model, encoder_options, encoder, dim, fingerprint)
        typed = {}
        for name, kind in (fields or {}).items():
            if kind not in FIELD_TYPES:
                raise OptionError(f"field {name!r}: type {kind!r}; choose one of {', '.join(FIELD_TYPES)}")
            typed[name] = Field(name, f"f{len(typed)}", kind)
        config = {"format_version": 1, "emberta_version": __version__, "store": "milvus", "encoder": settings,
                  "fingerprint": fingerprint, "dim": int(dim), "metric": "cosine", "ann": ann,
                  "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}  # fmt: skip
        bm25 = create_collection(client, uri, collection, config, typed)
        return cls(client, uri, collection, config, typed, writable=True, bm25=bm25, encoder=encoder)

    @classmethod
    def open(cls, uri: str, collection: str = DEFAULT_COLLECTION, *, writable: bool = False, encoder=None,
             own_encoder_fallback: bool = False, token: str | None = None) -> MilvusIndex:  # fmt: skip
        """Open an emberta collection. InputError when it is missing, not emberta's, or its vector field's
        dimension differs from the one its settings record; OptionError when `encoder` gives other vectors
        than the collection's (unless own_encoder_fallback: then the collection's own model is loaded)."""
        client = connect(uri, token)
        check_name(collection)
        with milvus_errors(uri, "describing the collection"):
            if not client.has_collection(collection):
                raise InputError(f"{uri}: no collection {collection!r}; build one with `emberta index build FILE "
                                 f"--store milvus --uri {uri} --collection {collection}`")  # fmt: skip
            described = client.describe_collection(collection)
            client.load_collection(collection)  # a collection is searchable once loaded (a server keeps it released)
        properties = described.get("properties") or {}
        if CONFIG_KEY not in properties:
            raise InputError(f"{uri}: collection {collection!r} was not made by emberta (no {CONFIG_KEY} property); "
                             "build a new collection with `emberta index build --store milvus`")  # fmt: skip
        config = json.loads(properties[CONFIG_KEY])
        fields = {f["name"]: f for f in described["fields"]}
        stored_dim = int((fields.get("vector") or {}).get("params", {}).get("dim", -1))
        if stored_dim != int(config["dim"]):
            raise InputError(f"{uri}: collection {collection!r} holds vectors of dimension {stored_dim} but was built "
                             f"for {config['dim']}; rebuild it with `emberta index build --store milvus`")  # fmt: skip
        if encoder is not None and encoder.fingerprint != config["fingerprint"]:
            if not own_encoder_fallback:
                raise OptionError(
                    f"the model {encoder.name!r} gives other vectors (fingerprint {encoder.fingerprint[:12]}) than "
                    f"collection {collection!r} was built with ({config['fingerprint'][:12]}); use its own model, "
                    "or build a new collection"
                )
            encoder = None
        return cls(client, uri, collection, config, read_fields(properties), writable=writable,
                   bm25="sparse" in fields, encoder=encoder)  # fmt: skip

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> MilvusIndex:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- encoding ------------------------------------------------------------------------------------
    @property
    def encoder(self):
        """The collection's encoder, loaded on first use and checked against its fingerprint."""
        return self.embedder.encoder

    def embed(self, texts: Sequence[str], *, query: bool, batch_size: int = 32) -> np.ndarray:
        """Vectors as the collection stores them: encoded (query or document prompt), unit length."""
        return self.embedder.embed(texts, query=query, batch_size=batch_size)

    @property
    def store(self):
        raise OptionError("highlights need a local index (its SQLite FTS5 tokenizer); a Milvus store has none")

    # ---- writing -------------------------------------------------------------------------------------
    def add(self, texts: Sequence[str], ids: Sequence[str] | None = None,
            metadata: Sequence[dict | None] | None = None, *, vectors: np.ndarray | None = None,
            fingerprint: str | None = None, upsert: bool = False, where: Sequence[str | None] | None = None,
            save_ann: bool = True, prepared: bool = False) -> dict:  # fmt: skip
        """Add one batch of documents as `Index.add` does (one insert or upsert request, sent after the whole
        batch is checked). Returns {"added": n, "replaced": m}. save_ann is accepted for `Index` callers."""
        self._require_writer()
        docs = new_documents(texts, ids, metadata, where, first_id=len(self))
        if not docs:
            return {"added": 0, "replaced": 0}
        register_fields(self, docs)
        metas = [json.loads(json.dumps(d.meta, ensure_ascii=False, default=str)) for d in docs]
        for doc in docs:
            check_sizes(doc.id, doc.text, json.dumps(doc.meta, ensure_ascii=False, default=str), doc.where)
        if vectors is None:
            vectors = self.embed([d.text for d in docs], query=False)
        else:
            vectors = self.embedder.check_vectors(vectors, fingerprint, len(docs), prepared=prepared)
        existing = self._existing([d.id for d in docs])
        if existing and not upsert:
            first = next(d for d in docs if d.id in existing)
            place = f"{first.where}: " if first.where else ""
            raise DuplicateIdError(f"{place}id {first.id!r} is already in the index ({len(existing)} of this "
                                   "batch's ids are); pass upsert=True (CLI: --upsert) to replace them, or give new "
                                   "ids")  # fmt: skip
        fields, vectors = self.known_fields, vectors.tolist()
        rows = [row(fields, d, meta, vector) for d, meta, vector in zip(docs, metas, vectors, strict=True)]
        self.passing_counts.clear()
        with milvus_errors(self.uri, "writing documents"):
            (self.client.upsert if existing else self.client.insert)(self.collection, rows)
        return {"added": len(docs) - len(existing), "replaced": len(existing)}

    def delete(self, ids: Iterable[str], *, missing_ok: bool = False) -> int:
        """Delete documents by id; returns how many were deleted. Unknown ids raise InputError unless
        missing_ok."""
        self._require_writer()
        ids = [str(i) for i in ids]
        existing = self._existing(ids)
        missing = [i for i in ids if i not in existing]
        if missing and not missing_ok:
            raise InputError(f"no document with id {missing[0]!r} ({len(missing)} of {len(ids)} ids are unknown)")
        found = sorted(existing)
        self.passing_counts.clear()
        with milvus_errors(self.uri, "deleting documents"):
            for start in range(0, len(found), _CHUNK):
                self.client.delete(self.collection, filter=id_filter(found[start : start + _CHUNK]))
        return len(found)

    def flush(self) -> None:
        """Ask Milvus to persist what was written (a server seals its segments)."""
        self._require_writer()
        with milvus_errors(self.uri, "flushing"):
            self.client.flush(self.collection)

    def _require_writer(self) -> None:
        if not self.writable:
            raise OptionError(f"{self.path} is open for reading; open it with writable=True to change it")

    def _existing(self, ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        with milvus_errors(self.uri, "looking up ids"):
            for start in range(0, len(ids), _CHUNK):
                chunk = list(dict.fromkeys(ids[start : start + _CHUNK]))
                rows = self.client.query(self.collection, filter=id_filter(chunk), output_fields=["id"],
                                         limit=len(chunk))  # fmt: skip
                found.update(r["id"] for r in rows)
        return found

    # ---- reading -------------------------------------------------------------------------------------
    def search(self, query, k: int = 10, **options) -> list[Hit]:
        """The `k` best documents for `query` (a text, or a vector for dense search), as `Index.search`. Options:
        filter, mode ("dense", "bm25", "hybrid"), weights, ef (HNSW breadth), vector, include; hubness is
        local-index only; exact, rescore, exact_below and exact_fraction are accepted and have no effect."""
        request = self._request(k, options)
        text = request.query_text(query)
        vector = None
        if request.mode != "bm25":
            if request.vector is not None:
                vector = self.embedder.query_vector(request.vector)
            elif text is not None:
                vector = self.embed([text], query=True)[0]
            else:
                vector = self.embedder.query_vector(query)
        matrix = None if vector is None else vector[None, :]
        return self._answer(request, None if text is None else [text], matrix)[0]

    def search_many(self, queries, k: int = 10, *, vectors=None, **options) -> list[list[Hit]]:
        """`search` for many queries at once (one Milvus request per mode), as `Index.search_many`."""
        if "vector" in options:
            raise OptionError("search_many takes the queries' vectors as queries, or as vectors= beside the texts")
        request = self._request(k, options)
        if isinstance(queries, str):
            raise OptionError("search_many takes a list of queries; for one query use search")
        if isinstance(queries, np.ndarray):
            if request.mode != "dense":
                raise OptionError(f"{request.mode} search needs text queries")
            return self._answer(request, None, self.embedder.query_vectors(queries)) if len(queries) else []
        texts = [request.query_text(q) for q in queries]
        if not texts:
            return []
        matrix = None
        if request.mode != "bm25":
            matrix = self.embedder.query_vectors(vectors) if vectors is not None else self.embed(texts, query=True)
            if len(matrix) != len(texts):
                raise OptionError(f"{len(texts)} query texts but {len(matrix)} query vectors; give one per text")
        return self._answer(request, texts, matrix)

    def _request(self, k: int, options: dict) -> SearchRequest:
        request = SearchRequest(k=k, **options)
        if request.hubness:
            raise OptionError("hubness re-scoring needs a local index; a Milvus store does not offer it")
        if request.k > MAX_K:
            raise OptionError(f"k = {request.k}: Milvus returns at most {MAX_K} results per query")
        if request.mode != "dense" and not self.bm25:
            raise OptionError(f"{request.mode} search needs full-text search (BM25), which this Milvus server did not "
                              "offer when the collection was built (Milvus 2.5+ does); use --mode dense")  # fmt: skip
        return request

    def _answer(self, request: SearchRequest, texts, matrix) -> list[list[Hit]]:
        expression, params = self._filter(request.filter)
        output = [name for name, part in (("text", "text"), ("meta", "metadata")) if part in request.include]
        output = output or ["id"]  # an empty list would fetch every field
        search = {"filter": expression, "filter_params": params, "output_fields": output}
        if request.mode == "dense":
            return _hits(self._dense(matrix, request.k, search, request.ef), output)
        lexical = self._search(texts, "sparse", max(request.k, HYBRID_CANDIDATES), search, None)
        if request.mode == "bm25":
            return _hits([one[: request.k] for one in lexical], output)
        dense = self._dense(matrix, request.shortlist, search, request.ef)
        answers = []
        for near, words in zip(dense, lexical, strict=True):
            found = {hit[0]: hit for hit in near} | {hit[0]: hit for hit in words}
            fused = reciprocal_rank_fusion([[h[0] for h in near], [h[0] for h in words]], request.weights)
            answers.append([(found[i][0], score, found[i][2]) for i, score in fused[: request.k]])
        return _hits(answers, output)

    def _dense(self, matrix: np.ndarray, k: int, search: dict, ef: int | None) -> list[list[tuple]]:
        """Dense search; filtered on Milvus Lite through milvus_prefilter (exact when few pass)."""
        if search["filter"] and is_lite(self.uri):
            return filtered_dense(
                self, matrix, k, search, ef, lambda wide: self._search(matrix, "vector", k, search, wide)
            )
        return self._search(matrix, "vector", k, search, ef)

    def _search(self, data, field: str, k: int, search: dict, ef: int | None) -> list[list[tuple]]:
        """(id, score, entity) lists, best first, one per query; BM25 scores positive (Milvus Lite negates them)."""
        metric = "IP" if field == "vector" else "BM25"
        params = {"metric_type": metric, "params": {"ef": max(ef, k)} if ef else {}}
        payload = data.tolist() if isinstance(data, np.ndarray) else list(data)
        with milvus_errors(self.uri, "searching"):
            found = self.client.search(self.collection, data=payload, limit=k, anns_field=field, search_params=params,
                                       **search)  # fmt: skip
        sign = (lambda s: abs(s)) if metric == "BM25" else float
        return [[(hit["id"], sign(float(hit["distance"])), hit.get("entity") or {}) for hit in one] for one in found]

    def _filter(self, text: str | None) -> tuple[str, dict | None]:
        """(expression, filter_params) of a filter text; ("", None) for none. FilterError when it does not parse."""
        if text is None:
            return "", None
        tree = parse_filter(text, self.known_fields)
        if self._templates is None:
            self._templates = self._probe_templates()
        params: dict | None = {} if self._templates else None
        try:
            expression = to_milvus(tree, params)
        except ValueError as exc:
            raise OptionError(f"filter {text!r}: {exc}") from None
        return expression, params or None

    def _probe_templates(self) -> bool:
        """Whether the server takes expression templates (filter_params)."""
        try:
            self.client.query(self.collection, filter="id == {p}", filter_params={"p": ""}, limit=1)
        except Exception:  # an older server rejects the template: values go as escaped literals
            return False
        return True

    def get(self, doc_id: str) -> Hit | None:
        """The document with this id, or None."""
        with milvus_errors(self.uri, "reading a document"):
            rows = self.client.query(self.collection, filter=id_filter([str(doc_id)]), output_fields=["text", "meta"],
                                     limit=1)  # fmt: skip
        return Hit(rows[0]["id"], float("nan"), rows[0]["text"], rows[0]["meta"]) if rows else None

    def __len__(self) -> int:
        with milvus_errors(self.uri, "counting documents"):
            rows = self.client.query(self.collection, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    def fields(self) -> dict[str, Field]:
        """The filterable metadata fields, name -> Field."""
        return dict(self.known_fields)

    def info(self) -> dict:
        """Settings and counts, for `emberta index info`."""
        return {
            "store": "milvus",
            "uri": self.uri,
            "collection": self.collection,
            "server": "Milvus Lite (in-process)" if is_lite(self.uri) else "Milvus server",
            "documents": len(self),
            "dim": self.dim,
            "encoder": self.config.get("encoder"),
            "fingerprint": self.config["fingerprint"],
            "ann": self.config.get("ann"),
            "bm25": self.bm25,
            "fields": {f.name: f.type for f in self.known_fields.values()},
            "format_version": self.config["format_version"],
        }

    def overview(self) -> dict:
        """What the collection holds, for the web page (as `Index.overview`), from one pass over its scalar fields."""
        from emberta.index.milvus_overview import collection_overview

        return collection_overview(self)


def _hits(answers: list[list[tuple]], output: list[str]) -> list[list[Hit]]:
    text, meta = "text" in output, "meta" in output
    return [
        [Hit(i, float(score), entity.get("text") if text else None, entity.get("meta") if meta else None)
         for i, score, entity in one]
        for one in answers
    ]  # fmt: skip
