"""Vectors as an index stores them: texts encoded with the index's encoder (its document or query prompt),
then the index's transform, then unit length; vectors given by the caller checked and prepared the same way."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from emberta.errors import InputError, OptionError
from emberta.similarity import unit_rows

DOCUMENT_PROMPTS = ("document", "passage", "corpus")


def encoder_settings(spec: str, options: dict | None, encoder) -> dict:
    """What index.json records of the encoder: spec and options to load it again, name, fingerprint, and the
    names of its query and document prompts (None where the model has none)."""
    prompts = encoder.prompts
    return {
        "spec": str(spec),
        "options": dict(options or {}),
        "name": encoder.name,
        "fingerprint": encoder.fingerprint,
        "query_prompt_name": "query" if "query" in prompts else None,
        "document_prompt_name": next((n for n in DOCUMENT_PROMPTS if n in prompts), None),
    }


def new_index_encoder(model: str | None, encoder_options: dict | None, encoder, dim: int | None,
                      fingerprint: str | None) -> tuple:  # fmt: skip
    """(encoder, settings, dim, fingerprint) of a new index: the model loaded (unless `encoder` is given) and
    described, or, without a model, the dim and fingerprint of the vectors it will be given (both required)."""
    if model is None:
        if dim is None or fingerprint is None:
            raise OptionError("an index without a model needs dim and fingerprint (the vectors' encoder)")
        return encoder, None, dim, fingerprint
    if encoder is None:
        from emberta.encoders import load_encoder

        encoder = load_encoder(model, **(encoder_options or {}))
    return encoder, encoder_settings(model, encoder_options, encoder), encoder.dim, encoder.fingerprint


class IndexEncoder:
    """The encoder side of one index. `encoder` (optional) is one already loaded; otherwise the index's own is
    loaded on first use, and either way it must give the vectors the index was built with (its fingerprint).
    While the index migrates (`migration`, see migration.py), queries are encoded by the new model and mapped
    through the migration's adapter; `encoder` may then be the new model."""

    def __init__(self, path: Path, config: dict, transforms: list, encoder=None, migration=None):
        self.path, self.config, self.transforms = path, config, transforms
        self.dim = int(config["dim"])
        self.migration = migration
        self._query_model = None
        if migration is not None and encoder is not None and encoder.fingerprint == migration.fingerprint:
            self._query_model, encoder = encoder, None
        self._loaded = encoder

    @property
    def encoder(self):
        """The index's encoder, checked against the fingerprint the index was built with."""
        if self._loaded is None:
            settings = self.config.get("encoder")
            if not settings:
                raise OptionError(f"{self.path} was built from vectors without a model; search it with a vector")
            from emberta.encoders import load_encoder

            self._loaded = load_encoder(settings["spec"], **settings["options"])
        if self._loaded.fingerprint != self.config["fingerprint"]:
            model = repr((self.config.get("encoder") or {}).get("spec", self._loaded.name))
            raise OptionError(
                f"the model {model} no longer gives the vectors this index was built with (fingerprint "
                f"{self._loaded.fingerprint[:12]} != {self.config['fingerprint'][:12]}); load the original model or "
                f"rebuild the index"
            )
        return self._loaded

    @property
    def query_model(self):
        """The new model of a migration under way, loaded on first use and checked against its fingerprint."""
        if self._query_model is None:
            from emberta.encoders import load_encoder

            target = self.migration.target
            self._query_model = load_encoder(target["spec"], **target["options"])
        if self._query_model.fingerprint != self.migration.fingerprint:
            raise OptionError(
                f"the model {self.migration.target['spec']!r} no longer gives the vectors its migration started with; "
                f"cancel the migration (`emberta index migrate {self.path} --cancel`) and start it again"
            )
        return self._query_model

    def embed(self, texts: Sequence[str], *, query: bool, batch_size: int = 32) -> np.ndarray:
        """float32 (n, dim) vectors of `texts` as the index stores them (query or document prompt); during a
        migration, queries come from the new model through the adapter."""
        if query and self.migration is not None:
            name = self.migration.target.get("query_prompt_name")
            vectors = self.query_model.encode(list(texts), prompt_name=name, batch_size=batch_size,
                                              show_progress=False)  # fmt: skip
            return self.migration.to_index_space(vectors, self.prepare)
        settings = self.config["encoder"] or {}
        name = settings.get("query_prompt_name" if query else "document_prompt_name")
        vectors = self.encoder.encode(list(texts), prompt_name=name, batch_size=batch_size, show_progress=False)
        return self.prepare(vectors)

    def prepare(self, vectors: np.ndarray) -> np.ndarray:
        """Encoder vectors (n, encoder dim) -> float32 (n, dim): the index's transform, then unit length."""
        vectors = np.asarray(vectors, dtype=np.float32)
        for step in self.transforms:
            vectors = np.asarray(step.transform(vectors), dtype=np.float32)
        return unit_rows(vectors).astype(np.float32)

    def query_vector(self, query) -> np.ndarray:
        """One query vector (dim,) or (1, dim) as the index compares it: transformed and unit length."""
        vector = np.asarray(query, dtype=np.float32)
        if vector.ndim == 2 and vector.shape[0] == 1:
            vector = vector[0]
        width = self.dim if self.migration is None else self.migration.target["dim"]
        if vector.ndim != 1 or vector.shape[0] != width:
            raise OptionError(f"a query vector of shape {vector.shape}; this index takes vectors of width {width}")
        return self.query_vectors(vector[None, :])[0]

    def query_vectors(self, queries) -> np.ndarray:
        """Query vectors (n, dim) as the index compares them: transformed and unit length. During a migration
        they are the new model's, (n, its dim), mapped through the adapter."""
        if self.migration is not None:
            return self.migration.to_index_space(queries, self.prepare)
        vectors = np.asarray(queries, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise OptionError(
                f"query vectors of shape {vectors.shape}; this index takes (n, {self.dim}) vectors, one row per query"
            )
        return self.prepare(vectors) if self.transforms else unit_rows(vectors, np.float32)

    def check_vectors(self, vectors, fingerprint: str | None, n: int, *, prepared: bool = False) -> np.ndarray:
        """Caller-computed vectors for `n` documents, checked (fingerprint, shape) and prepared. prepared=True:
        they are already as the index stores them (e.g. copied from another index with the same settings)."""
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
