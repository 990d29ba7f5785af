"""Precomputed vectors for `index build|add --vectors`: the output of `emberta encode` (a .npy or .parquet file,
or the folder of parquet shards that `--engine ray` writes) matched to the documents, so a corpus encoded
elsewhere (on a Ray cluster, say) is indexed without encoding it again.

Documents are matched by id when both sides have ids, else by position. The vectors' sidecar names the model
fingerprint; the index refuses vectors of another encoder, and every vector must find its document.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from emberta.errors import InputError
from emberta.io.jsontext import read_json_file
from emberta.io.vectors import read_vectors, sidecar_path


class PrecomputedVectors:
    """The vectors of `path`, handed out batch by batch in the documents' order (`take`)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.vectors, ids = read_vectors(self.path)
        sidecar = sidecar_path(self.path)
        meta = read_json_file(sidecar) if sidecar.is_file() else None
        self.fingerprint = meta.get("fingerprint") if isinstance(meta, dict) else None
        if not self.fingerprint:
            raise InputError(f"no model fingerprint (no sidecar {sidecar.name}); give vectors written by `emberta "
                             "encode`, which records the model that made them", path=self.path)  # fmt: skip
        self.rows = None if ids is None else {value: i for i, value in enumerate(ids)}
        self.used = 0

    def take(self, ids: list[str | None], where: list[str]) -> np.ndarray:
        """The (len(ids), dim) vectors of the next documents: by id when both sides have ids, else the next rows."""
        if self.rows is not None and all(value is not None for value in ids):
            rows = []
            for value, place in zip(ids, where, strict=True):
                if value not in self.rows:
                    raise InputError(f"{place}: document {value!r} has no vector in {self.path}; encode the same "
                                     "file with the same --id-field")  # fmt: skip
                rows.append(self.rows[value])
            picked = self.vectors[rows]
        else:
            picked = self.vectors[self.used : self.used + len(ids)]
            if len(picked) < len(ids):
                raise InputError(f"{where[len(picked)]}: {self.path} has only {len(self.vectors)} vectors; encode "
                                 "the same file")  # fmt: skip
        self.used += len(ids)
        return picked

    def check_all_used(self) -> None:
        """InputError when some vectors found no document (the vectors are of another file)."""
        if self.used != len(self.vectors):
            raise InputError(f"holds {len(self.vectors)} vectors for {self.used} documents; give the vectors of "
                             "this very file (emberta encode FILE)", path=self.path)  # fmt: skip
