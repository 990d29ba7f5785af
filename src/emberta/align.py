"""Aligning two models' embedding spaces: fit an adapter (transforms/adapters.py) on paired vectors of the same
texts, measure it on a held-out part, and keep it in a folder that records which models it joins.

An adapter folder holds adapter.json (format, method, the source and target models' name, spec and
fingerprint, the fit report) and the fitted transform (transforms.json + .npy files, no pickle). `Adapter.map`
refuses vectors of another model than its source.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emberta.errors import InputError, OptionError
from emberta.io.atomic import staged_dir
from emberta.io.jsontext import read_json_file
from emberta.similarity import unit_rows

ADAPTER_FILE = "adapter.json"
ADAPTER_FORMAT = "emberta.adapter/1"
METHODS = ("procrustes", "affine", "mlp")
NEIGHBOURS = 10


def make_adapter(method: str, *, rank: int | None = None, hidden: int = 256, seed: int = 0):
    """An unfitted adapter: "procrustes" (orthogonal, centred), "affine" (LowRankAffine; rank None = full map)
    or "mlp" (ResidualMLP with `hidden` units)."""
    from emberta.transforms.adapters import LowRankAffine, Procrustes, ResidualMLP

    if method == "procrustes":
        return Procrustes()
    if method == "affine":
        return LowRankAffine(rank=rank)
    if method == "mlp":
        return ResidualMLP(hidden=hidden, random_state=seed)
    raise OptionError(f"unknown alignment method {method!r}; choose one of {', '.join(METHODS)}")


def mapping_quality(mapped: np.ndarray, target: np.ndarray) -> dict:
    """How well `mapped` rows (n, d) stand in for the true `target` rows: mean cosine to their own target row;
    top1: the share whose nearest target row (cosine) is their own; neighbour_overlap: the mean share of each
    row's NEIGHBOURS nearest target rows (itself excluded) that the true target row also has."""
    a, b = unit_rows(np.asarray(mapped, np.float32)), unit_rows(np.asarray(target, np.float32))
    scores, truth = a @ b.T, b @ b.T
    rows = np.arange(len(a))
    k = min(NEIGHBOURS, len(a) - 1)
    overlap = float("nan")
    if k > 0:
        others = scores.copy()
        np.fill_diagonal(others, -np.inf)  # a row's own target is not its neighbour
        np.fill_diagonal(truth, -np.inf)
        mine = np.argpartition(-others, k - 1, axis=1)[:, :k]
        theirs = np.argpartition(-truth, k - 1, axis=1)[:, :k]
        overlap = float(np.mean([len(set(m) & set(t)) / k for m, t in zip(mine, theirs, strict=True)]))
    return {
        "mean_cosine": float(np.mean(scores[rows, rows])),
        "top1": float(np.mean(scores.argmax(axis=1) == rows)),
        "neighbour_overlap": overlap,
    }


def fit_pairs(source: np.ndarray, target: np.ndarray, method: str = "procrustes", *, held_out: float = 0.2,
              seed: int = 0, rank: int | None = None, hidden: int = 256) -> tuple[object, dict]:  # fmt: skip
    """Fit an adapter on paired rows (source (n, d_s), target (n, d_t), row i of both the same text), holding
    out a `held_out` share (at least 2 rows) to measure it; the returned adapter is refitted on all pairs.
    Returns (adapter, report): pairs, held-out quality (mapping_quality) and, when the widths agree, the
    quality of using source vectors as they are (the no-adapter baseline), fit seconds, microseconds per
    mapped query."""
    source, target = np.asarray(source, np.float32), np.asarray(target, np.float32)
    if source.ndim != 2 or target.ndim != 2 or len(source) != len(target):
        raise InputError(f"paired vectors must be (n, d) matrices of the same n; got {source.shape} and {target.shape}")
    order = np.random.default_rng(seed).permutation(len(source))
    n_test = max(2, round(held_out * len(source))) if held_out > 0 else 0
    test, train = order[:n_test], order[n_test:]
    report = {"method": method, "pairs": len(source), "held_out": int(n_test),
              "source_dim": source.shape[1], "target_dim": target.shape[1]}  # fmt: skip
    if n_test:
        probe = _fit(make_adapter(method, rank=rank, hidden=hidden, seed=seed), source[train], target[train])
        report["quality"] = mapping_quality(probe.transform(source[test]), target[test])
        if source.shape[1] == target.shape[1]:
            report["without_adapter"] = mapping_quality(source[test], target[test])
    started = time.perf_counter()
    adapter = _fit(make_adapter(method, rank=rank, hidden=hidden, seed=seed), source, target)
    report["fit_seconds"] = round(time.perf_counter() - started, 3)
    report["microseconds_per_query"] = _query_cost(adapter, source)
    return adapter, report


def _fit(adapter, source: np.ndarray, target: np.ndarray):
    try:
        return adapter.fit(source, target)
    except ValueError as exc:  # too few pairs for the map (the message says how many are needed)
        raise OptionError(str(exc)) from None


def _query_cost(adapter, source: np.ndarray, repeats: int = 200) -> dict:
    """Microseconds to map one query vector: alone (the median of `repeats` single-row calls) and within a
    batch of up to 1,000 (the batch's time over its size)."""
    row, batch = source[:1], np.resize(source, (1000, source.shape[1]))
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        adapter.transform(row)
        times.append(time.perf_counter() - started)
    started = time.perf_counter()
    adapter.transform(batch)
    batched = (time.perf_counter() - started) / len(batch)
    return {"single": round(1e6 * float(np.median(times)), 2), "batched": round(1e6 * batched, 2)}


@dataclass
class Adapter:
    """A fitted adapter and the models it joins: source and target are {"name", "spec", "fingerprint", "dim"}."""

    transform: object
    source: dict
    target: dict
    method: str
    report: dict = field(default_factory=dict)

    def map(self, vectors: np.ndarray, fingerprint: str | None = None) -> np.ndarray:
        """float32 (n, target dim) of source-model vectors (n, source dim); `fingerprint` (of the model that
        made them), when given, must be the adapter's source model."""
        if fingerprint is not None and fingerprint != self.source["fingerprint"]:
            raise OptionError(
                f"these vectors come from a model with fingerprint {fingerprint[:12]}, but the adapter maps vectors "
                f"of {self.source.get('name')!r} ({self.source['fingerprint'][:12]}); fit an adapter for that model"
            )
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.source["dim"]:
            raise OptionError(f"vectors of shape {vectors.shape}; the adapter takes (n, {self.source['dim']})")
        return np.asarray(self.transform.transform(vectors), dtype=np.float32)

    def save(self, folder: str | Path) -> Path:
        """Write the adapter to `folder` (replaced whole, atomically)."""
        from emberta.transforms.pipeline import save_transforms

        folder = Path(folder)
        with staged_dir(folder, "adapter") as staging:
            save_transforms([self.transform], staging)
            spec = {"format": ADAPTER_FORMAT, "method": self.method, "source": self.source, "target": self.target,
                    "report": self.report}  # fmt: skip
            (staging / ADAPTER_FILE).write_text(json.dumps(spec, indent=2) + "\n")
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> Adapter:
        """The adapter saved in `folder` (InputError naming the file when it is not one)."""
        from emberta.transforms.pipeline import load_transforms

        folder = Path(folder)
        file = folder / ADAPTER_FILE
        if not file.is_file():
            raise InputError(f"not an adapter folder (no {ADAPTER_FILE}); make one with `emberta align fit`",
                             path=folder)  # fmt: skip
        spec = read_json_file(file)
        sides = [spec.get(key) if isinstance(spec, dict) else None for key in ("source", "target")]
        if not all(isinstance(s, dict) and isinstance(s.get("fingerprint"), str) and isinstance(s.get("dim"), int)
                   for s in sides) or spec.get("format") != ADAPTER_FORMAT:  # fmt: skip
            raise InputError(f"expected {ADAPTER_FORMAT} with source and target models; fit the adapter again",
                             path=file)  # fmt: skip
        steps = load_transforms(folder)
        if len(steps) != 1:
            raise InputError("an adapter folder holds exactly one fitted transform", path=folder)
        return cls(steps[0], sides[0], sides[1], str(spec.get("method")), spec.get("report") or {})


def model_record(spec: str, encoder) -> dict:
    """What an adapter records of one model."""
    return {"name": encoder.name, "spec": str(spec), "fingerprint": encoder.fingerprint, "dim": int(encoder.dim)}


def sample_texts(path: str | Path, n: int, *, field: str = "text", format: str | None = None) -> list[str]:
    """The first `n` distinct non-blank texts of an input file (txt, jsonl, csv, tsv, parquet)."""
    from emberta.io.readers import TextReader

    seen: dict[str, None] = {}
    with TextReader(path, format=format, field=field) as reader:
        for record in reader:
            if record.text.strip():
                seen.setdefault(record.text)
                if len(seen) >= n:
                    break
    return list(seen)


def align_models(source: str, target: str, texts: list[str], *, method: str = "procrustes", held_out: float = 0.2,
                 seed: int = 0, rank: int | None = None, hidden: int = 256, cache=True, batch_size: int = 32,
                 show_progress: bool = False, source_options: dict | None = None,
                 target_options: dict | None = None) -> Adapter:  # fmt: skip
    """Encode `texts` with the `source` and `target` models (through the embedding cache) and fit an adapter
    from the source model's space into the target's (fit_pairs). The two specs may name the same model with
    other options (a truncated dimension, another backend)."""
    from emberta.cache import open_store
    from emberta.encoders import load_encoder

    if len(texts) < 2:
        raise InputError(f"{len(texts)} distinct texts; aligning two models needs at least 2 (better thousands)")
    models = [load_encoder(spec, **(options or {})) for spec, options in
              ((source, source_options), (target, target_options))]  # fmt: skip
    with open_store(cache) as store:
        vectors = [store.encode(m, texts, batch_size=batch_size, show_progress=show_progress) for m in models]
    transform, report = fit_pairs(*vectors, method, held_out=held_out, seed=seed, rank=rank, hidden=hidden)
    return Adapter(transform, model_record(source, models[0]), model_record(target, models[1]), method, report)


def align_vector_files(source: str | Path, target: str | Path, *, method: str = "procrustes",
                       held_out: float = 0.2, seed: int = 0, rank: int | None = None,
                       hidden: int = 256) -> Adapter:  # fmt: skip
    """Fit an adapter on two vector files of the same texts (`emberta encode --out`, with their sidecars).
    With ids, rows are paired by id (the same ids in both, any order); without, by row, which needs the same
    number of rows."""
    from emberta.io.vectors import read_vectors, sidecar_path

    (xs, ids_s), (xt, ids_t) = read_vectors(source), read_vectors(target)
    xs, xt = _paired(xs, ids_s, xt, ids_t, Path(source), Path(target))
    transform, report = fit_pairs(xs, xt, method, held_out=held_out, seed=seed, rank=rank, hidden=hidden)
    sides = []
    for path, matrix in ((Path(source), xs), (Path(target), xt)):
        sidecar = read_json_file(sidecar_path(path)) if sidecar_path(path).is_file() else {}
        fingerprint = sidecar.get("fingerprint") if isinstance(sidecar, dict) else None
        if not isinstance(fingerprint, str):
            raise InputError("no fingerprint of the model that made these vectors (the .json sidecar that "
                             "`emberta encode --out` writes); encode them with emberta", path=path)  # fmt: skip
        sides.append({"name": sidecar.get("model"), "spec": sidecar.get("model_path"), "fingerprint": fingerprint,
                      "dim": int(matrix.shape[1])})  # fmt: skip
    return Adapter(transform, sides[0], sides[1], method, report)


def _paired(xs, ids_s, xt, ids_t, source: Path, target: Path) -> tuple[np.ndarray, np.ndarray]:
    """The rows of both files in one order: by id when both have ids, else by row."""
    if ids_s is None or ids_t is None:
        if ids_s is not None or ids_t is not None:
            raise InputError(f"{source if ids_s is None else target} has no ids but the other file has; encode both "
                             "with --id-field, or both without")  # fmt: skip
        if len(xs) != len(xt):
            raise InputError(f"{len(xs)} vectors in {source} but {len(xt)} in {target}; pair vectors of the same "
                             "texts (encode the same file with both models)")  # fmt: skip
        return xs, xt
    where = {doc_id: row for row, doc_id in enumerate(ids_t)}
    missing = next((doc_id for doc_id in ids_s if doc_id not in where), None)
    if missing is not None or len(ids_s) != len(ids_t):
        extra = missing if missing is not None else next(i for i in ids_t if i not in set(ids_s))
        side = target if missing is not None else source
        raise InputError(f"id {extra!r} is missing from {side} ({len(ids_s)} ids in {source}, {len(ids_t)} in "
                         f"{target}); pair vectors of the same texts")  # fmt: skip
    return xs, xt[[where[doc_id] for doc_id in ids_s]]
