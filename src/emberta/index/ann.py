"""The ANN structure of an index: a FAISS index over slots 0..ntotal-1, inner product on unit vectors (cosine).

Kinds: "hnsw" (IndexHNSWFlat; an exact flat index while the collection is under `flat_below` vectors),
"flat" (exact), or any FAISS factory string ("IVF256,PQ32", "HNSW32,SQ8", ...). Quantized indexes keep int8
(FAISS scalar quantizer) or binary (sign bits, Hamming distance) codes in memory; the index layer re-scores
their shortlist with the float vectors. Filters reach FAISS as an IDSelectorBitmap over slots.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from emberta.errors import EmbertaError, OptionError
from emberta.index.crashpoints import reached

QUANTIZE = (None, "int8", "binary")


@dataclass(frozen=True)
class AnnSpec:
    """How the ANN structure is built and searched (stored in index.json)."""

    kind: str = "hnsw"  # hnsw | flat | a FAISS factory string
    m: int = 32
    ef_construction: int = 200
    ef_search: int = 64
    flat_below: int = 5000
    quantize: str | None = None

    @classmethod
    def parse(cls, ann: str = "hnsw", quantize: str | None = None, **params) -> AnnSpec:
        if quantize not in QUANTIZE:
            raise OptionError(f"unknown --quantize {quantize!r}; choose int8 or binary (or leave it out)")
        if not ann or not ann.strip():
            raise OptionError("--ann is empty; choose hnsw, flat or a FAISS factory string such as 'IVF256,PQ32'")
        ann = ann.strip()
        if ann not in ("hnsw", "flat"):
            if quantize:
                raise OptionError("--quantize applies to hnsw and flat; write the codec into the factory string")
            import faiss

            try:
                faiss.index_factory(8 if "PQ" not in ann else 32, ann, faiss.METRIC_INNER_PRODUCT)
            except RuntimeError as exc:
                message = str(exc).strip().splitlines()[-1]
                raise OptionError(
                    f"--ann {ann!r} is not a FAISS factory string FAISS understands ({message})"
                ) from None
        return cls(kind=ann, quantize=quantize, **params)

    def as_dict(self) -> dict:
        return asdict(self)


class Ann:
    """A FAISS index over slots plus what searching it needs."""

    def __init__(self, spec: AnnSpec, dim: int, index=None):
        self.spec, self.dim = spec, dim
        if spec.quantize == "binary" and dim % 8:
            raise OptionError(f"binary quantization needs a dimension divisible by 8; this model's is {dim}")
        self.index = index if index is not None else self._new(flat=spec.kind == "hnsw" and spec.flat_below > 0)
        self._param_cache: dict[int, object] = {}

    # ---- building ---------------------------------------------------------------------------------------
    @property
    def binary(self) -> bool:
        return self.spec.quantize == "binary"

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    @property
    def is_graph(self) -> bool:
        return "HNSW" in type(self.index).__name__

    def _new(self, flat: bool):
        import faiss

        spec, dim, ip = self.spec, self.dim, faiss.METRIC_INNER_PRODUCT
        if self.binary:
            if flat or spec.kind == "flat":
                return faiss.IndexBinaryFlat(dim)
            index = faiss.IndexBinaryHNSW(dim, spec.m)
        elif spec.kind not in ("hnsw", "flat"):
            return faiss.index_factory(dim, spec.kind, ip)
        elif spec.quantize == "int8":
            if flat or spec.kind == "flat":
                return faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_8bit, ip)
            index = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_8bit, spec.m, ip)
        elif flat or spec.kind == "flat":
            return faiss.IndexFlatIP(dim)
        else:
            index = faiss.IndexHNSWFlat(dim, spec.m, ip)
        index.hnsw.efConstruction = spec.ef_construction
        return index

    def _codes(self, vectors: np.ndarray) -> np.ndarray:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        return np.packbits(vectors > 0, axis=1) if self.binary else vectors

    def add(self, vectors: np.ndarray, all_vectors=None) -> None:
        """Append `vectors` (the next slots). `all_vectors()` returns every stored vector, slots 0..ntotal +
        len(vectors); it is called when an hnsw index outgrows its flat start and is rebuilt as a graph."""
        if len(vectors) == 0:
            return
        if self.spec.kind == "hnsw" and not self.is_graph and self.ntotal + len(vectors) >= self.spec.flat_below:
            self.index = self._new(flat=False)
            self._param_cache.clear()
            vectors = np.asarray(all_vectors())
        if not self.index.is_trained:
            if len(vectors) < _training_minimum(self.spec.kind):
                raise EmbertaError(
                    f"--ann {self.spec.kind!r} must be trained and the first batch has {len(vectors)} vectors; "
                    f"add at least {_training_minimum(self.spec.kind)} documents in the first batch, or use hnsw"
                )
            self.index.train(self._codes(vectors))
        self.index.add(self._codes(vectors))

    # ---- searching --------------------------------------------------------------------------------------
    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None, ef: int | None = None):
        """(scores, slots) of the best `k` slots for one query row, slot -1 where fewer were found. `allowed`:
        a boolean mask over slots; binary indexes apply it after the search (callers over-fetch)."""
        scores, slots = self.search_batch(query.reshape(1, -1), k, allowed, ef)
        return scores[0], slots[0]

    def search_batch(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None, ef: int | None = None):
        """(scores, slots), each (n, k'), for the query rows `queries` (n, dim) in one FAISS call; k' = min(k,
        ntotal) and slot -1 where fewer were found. `allowed` as in `search`, the same mask for every row."""
        queries = self._codes(queries) if self.binary else np.ascontiguousarray(queries, dtype=np.float32)
        k = min(k, max(self.index.ntotal, 1))
        ef = max(ef or self.spec.ef_search, k)
        if self.binary:
            if self.is_graph:
                self.index.hnsw.efSearch = ef
            distances, slots = self.index.search(queries, k)
            scores = self.dim - 2.0 * distances.astype(np.float32)  # Hamming distance -> agreement, higher better
            if allowed is not None:
                keep = (slots >= 0) & allowed[np.clip(slots, 0, len(allowed) - 1)]
                slots = np.where(keep, slots, -1)
            return scores, slots
        if allowed is None:
            return self.index.search(queries, k, params=self._params(ef))
        import faiss

        bitmap = np.packbits(allowed[: self.index.ntotal], bitorder="little")
        params = self._params(ef, cached=False)
        params.sel = faiss.IDSelectorBitmap(self.index.ntotal, faiss.swig_ptr(bitmap))
        scores, slots = self.index.search(queries, k, params=params)
        del bitmap  # the selector read it during the search
        return scores, slots

    def exact(self, query: np.ndarray, k: int, allowed: np.ndarray | None):
        """Exact (scores, slots) over the allowed slots when the structure keeps float vectors in memory (flat,
        HNSW-flat), computing only the allowed rows' products; None for other structures."""
        import faiss

        if self.binary:
            return None
        storage = self.index
        if self.is_graph:
            storage = faiss.downcast_index(self.index.storage)
        if not isinstance(storage, faiss.IndexFlat):
            return None
        params = None
        bitmap = None
        if allowed is not None:
            bitmap = np.packbits(allowed[: storage.ntotal], bitorder="little")
            params = faiss.SearchParameters()
            params.sel = faiss.IDSelectorBitmap(storage.ntotal, faiss.swig_ptr(bitmap))
        scores, slots = storage.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), k, params=params)
        del bitmap
        return scores[0], slots[0]

    def _params(self, ef: int, cached: bool = True):
        """FAISS search parameters for this structure (kept per ef: building one costs as much as a tenth of a
        search)."""
        if cached and ef in self._param_cache:
            return self._param_cache[ef]
        import faiss

        if self.is_graph:
            params = faiss.SearchParametersHNSW(efSearch=ef)
        elif hasattr(self.index, "nprobe"):
            params = faiss.SearchParametersIVF(nprobe=max(self.index.nprobe, 16))
        else:
            params = faiss.SearchParameters()
        if cached:
            self._param_cache[ef] = params
        return params

    # ---- files ------------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the index through a temporary file and a rename (readers see the old or the new one)."""
        import faiss

        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        (faiss.write_index_binary if self.binary else faiss.write_index)(self.index, str(tmp))
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        reached("ann-written")
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | Path, spec: AnnSpec, dim: int) -> Ann:
        """Read an ANN file; EmbertaError when it is missing, unreadable or of the wrong width."""
        import faiss

        path = Path(path)
        repair = f"run `emberta index repair {path.parent}` to rebuild it from the vectors"
        if not path.exists():
            raise EmbertaError(f"{path}: the ANN file is missing; {repair}")
        try:
            index = (faiss.read_index_binary if spec.quantize == "binary" else faiss.read_index)(str(path))
        except RuntimeError:
            raise EmbertaError(f"{path}: the ANN file is unreadable (truncated or corrupt); {repair}") from None
        if index.d != dim:
            raise EmbertaError(f"{path}: the ANN file holds {index.d}-d vectors where the index has {dim}; {repair}")
        return cls(spec, dim, index)


def _training_minimum(kind: str) -> int:
    """Vectors FAISS wants to train a factory index (39 per IVF list or PQ centroid, as FAISS warns)."""
    import re

    need = 1
    for match in re.finditer(r"IVF(\d+)", kind):
        need = max(need, 39 * int(match.group(1)))
    if re.search(r"PQ\d+", kind):
        need = max(need, 39 * 256)
    return need
