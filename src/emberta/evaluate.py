"""Evaluation: load each task's local data (io), get embeddings through the cache (encoders + cache), score
them (tasks), write MTEB-compatible results. `emberta.evaluate(...)` lives here."""

from __future__ import annotations

import hashlib
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from emberta.cache import EmbeddingStore
from emberta.encoders import Encoder, load_encoder
from emberta.errors import InputError, NotApplicable, OptionError
from emberta.io import datasets
from emberta.tasks.registry import (
    BITEXT_MINING,
    CLASSIFICATION,
    CLUSTERING,
    PAIR_CLASSIFICATION,
    RERANKING,
    RETRIEVAL,
    STS,
    TaskSpec,
    resolve_tasks,
)
from emberta.tasks.results import SubsetScores, TaskResult
from emberta.version import __version__

if TYPE_CHECKING:
    from emberta.transforms.pipeline import PostProcess

DATA_ENV = "EMBERTA_DATA"


def data_root(data_dir: str | Path | None) -> Path:
    """--data-dir, else EMBERTA_DATA; an OptionError says how to set them when neither is given."""
    chosen = data_dir or os.environ.get(DATA_ENV)
    if not chosen:
        raise OptionError(f"no data directory: pass --data-dir DIR (data_dir=...) or set {DATA_ENV}")
    return Path(chosen).expanduser()


def evaluate(
    encoder_or_spec: Encoder | str | Path = "default",
    tasks: str | list[str] | list[TaskSpec] | None = None,
    *,
    data_dir: str | Path | None = None,
    output_dir: str | Path | None = None,
    cache: bool | EmbeddingStore = True,
    batch_size: int = 32,
    show_progress: bool | None = None,
    on_result: Callable[[TaskResult], None] | None = None,
    postprocess: PostProcess | None = None,
    index_backend: str | None = None,
    search_mode: str = "dense",
) -> list[TaskResult]:
    """Evaluate an encoder on tasks: registered names, a suite ("quick", "full"), or TaskSpecs (ad-hoc tasks).

    data_dir: where task folders are looked up (default EMBERTA_DATA). output_dir: when given, one
    MTEB-style JSON per task is written to output_dir/<model>/<fingerprint[:12]>/<task>.json. cache: True
    uses the on-disk embedding cache (EMBERTA_CACHE), False an in-memory one for this call only.
    postprocess: transforms, quantization or hubness reduction applied to each task's embeddings, fitted on
    the task's corpus or training side (see emberta.transforms.parse_config).
    index_backend: retrieval tasks search an emberta index built over the corpus ("hnsw", "flat", "int8",
    "binary" or a FAISS factory string) instead of exact search, with search_mode dense, bm25 or hybrid; the
    run then holds each query's top 100 (metrics past @100 are not comparable with exact search).
    Returns one TaskResult per task, in order; scores are fractions (x100 for display).
    """
    if index_backend is not None and postprocess is not None:
        raise OptionError("an index backend and a post-process do not combine; give one of them")
    encoder = encoder_or_spec if isinstance(encoder_or_spec, Encoder) else load_encoder(encoder_or_spec)
    specs, root = prepare_tasks(tasks, data_dir)
    store = store_for(cache)
    out_folder = None
    if output_dir is not None:
        run_name = encoder.fingerprint[:12] + (f"-index-{index_backend}-{search_mode}" if index_backend else "")
        out_folder = Path(output_dir) / encoder.name.replace("/", "__") / run_name.replace("/", "_").replace(",", "_")
    results = []
    try:
        for spec in specs:
            result = evaluate_task(
                spec, encoder, store, root, batch_size=batch_size, show_progress=show_progress,
                postprocess=postprocess, index_backend=index_backend, search_mode=search_mode,
            )  # fmt: skip
            if out_folder is not None:
                result.info["result_file"] = str(result.write(out_folder))
            results.append(result)
            if on_result is not None:
                on_result(result)
    finally:
        if store is not cache:
            store.close()
    return results


def prepare_tasks(tasks: str | list[str] | list[TaskSpec] | None, data_dir) -> tuple[list[TaskSpec], Path]:
    """Task specs (names, a suite or TaskSpecs) and their data root, every folder checked before any encoding."""
    specs = tasks if tasks and isinstance(tasks, list) and isinstance(tasks[0], TaskSpec) else resolve_tasks(tasks)
    root = data_root(data_dir) if any(not Path(s.folder).is_absolute() for s in specs) else Path("/")
    for spec in specs:
        task_folder(spec, root)
    return specs, root


def store_for(cache: bool | EmbeddingStore) -> EmbeddingStore:
    """The given store, the on-disk cache (True) or a store in memory (False); callers close what they made."""
    if isinstance(cache, EmbeddingStore):
        return cache
    return EmbeddingStore.default() if cache else EmbeddingStore(None)


def task_folder(spec: TaskSpec, root: Path) -> Path:
    folder = root / spec.folder
    if not folder.is_dir():
        raise InputError(
            f"dataset folder of task {spec.name} not found (looked for {folder}); pass --data-dir (or set "
            f"{DATA_ENV}) to the directory that holds {spec.folder}/"
        )
    return folder


def evaluate_task(
    spec: TaskSpec, encoder: Encoder, store: EmbeddingStore, root: Path, *, batch_size: int = 32,
    show_progress: bool | None = None, postprocess: PostProcess | None = None, index_backend: str | None = None,
    search_mode: str = "dense",
) -> TaskResult:  # fmt: skip
    """Run one task; returns its TaskResult (not written anywhere)."""
    folder = task_folder(spec, root)
    start = time.perf_counter()

    embed = _Embedder(encoder, store, spec, batch_size, show_progress, postprocess, index_backend, search_mode)
    runner = _RUNNERS[spec.type]
    subsets = []
    files_used: list[Path] = []
    for subset, files in spec.subsets.items():
        paths = [folder / f for f in files]
        files_used += paths
        metrics = runner(spec, folder, subset, paths, embed)
        metrics["main_score"] = metrics[spec.main_score]
        subsets.append(SubsetScores(subset, spec.languages.get(subset, []), metrics))
    info = {
        "emberta_version": __version__,
        "model": encoder.name,
        "fingerprint": encoder.fingerprint,
        "data": str(folder),
        "dataset_revision": _files_digest(files_used + [folder / f for f in spec.train.values()]),
        "postprocess": postprocess.name if postprocess is not None else None,
    }
    if index_backend is not None and spec.type == RETRIEVAL:
        info["index_backend"], info["search_mode"] = index_backend, search_mode
    return TaskResult(spec.name, spec.type, spec.main_score, spec.split, subsets, time.perf_counter() - start, info)


def task_prompt(prompts: dict[str, str], spec: TaskSpec, role: str | None) -> str | None:
    """The model prompt MTEB would use (mteb's get_prompt_name, then sentence-transformers' encode_query /
    encode_document fallbacks): "<task>-<role>", "<task>", "<type>-<role>", "<type>", then the role itself
    ("query"; "document", "passage" or "corpus"). role is "query", "document" or None (symmetric tasks)."""
    names = [f"{spec.name}-{role}", spec.name, f"{spec.type}-{role}", spec.type] if role else [spec.name, spec.type]
    if role == "query":
        names.append("query")
    elif role == "document":
        names += ["document", "passage", "corpus"]
    for name in names:
        if prompts.get(name):
            return prompts[name]
    return None


@dataclass
class _Embedder:
    """Embeds a task's texts through the cache, with the prompt MTEB would pick for the task and role."""

    encoder: Encoder
    store: EmbeddingStore
    spec: TaskSpec
    batch_size: int
    show_progress: bool | None
    post: PostProcess | None = None
    index_backend: str | None = None
    search_mode: str = "dense"

    @property
    def similarity_fn(self) -> str:
        return self.encoder.similarity_fn_name

    def __call__(self, texts: list[str], role: str | None = None) -> np.ndarray:
        prompt = task_prompt(self.encoder.prompts, self.spec, role)
        return self.store.encode(
            self.encoder, texts, prompt=prompt, batch_size=self.batch_size, show_progress=self.show_progress
        )

    def adapt(self, fit: np.ndarray, *vectors: np.ndarray) -> tuple[np.ndarray, ...]:
        """`vectors` under the post-process fitted on `fit` (unchanged without one). Hubness reduction needs a
        query-corpus search, so it does not apply here."""
        if self.post is None:
            return vectors
        if self.post.hubness is not None:
            raise NotApplicable(f"{self.post.name}: hubness reduction applies to retrieval and bitext tasks")
        fitted = self.post.fit(fit)
        return tuple(fitted.apply(v) for v in vectors)

    def scorer(self, corpus: np.ndarray):
        """scorer(queries, corpus) -> similarity matrix under the post-process fitted on `corpus`, or None."""
        if self.post is None:
            return None
        fitted = self.post.fit(corpus)
        return lambda queries, docs: fitted.scores(queries, docs, self.similarity_fn)


Embed = _Embedder
# Each runner imports its task module (scikit-learn, scipy) when it runs, so `import emberta` stays fast.


def _run_sts(spec: TaskSpec, folder: Path, subset: str, paths: list[Path], embed: Embed) -> dict:
    from emberta.tasks import sts

    data = datasets.read_sts(*paths)
    a, b = _pair_vectors(data, embed)
    a, b = embed.adapt(np.concatenate([a, b]), a, b)
    return sts.evaluate_sts(a, b, data.values, embed.similarity_fn)


def _run_pairs(spec: TaskSpec, folder: Path, subset: str, paths: list[Path], embed: Embed) -> dict:
    from emberta.tasks import pair_classification

    data = datasets.read_pairs(*paths)
    a, b = _pair_vectors(data, embed)
    a, b = embed.adapt(np.concatenate([a, b]), a, b)
    return pair_classification.evaluate_pair_classification(a, b, data.values, embed.similarity_fn)


def _pair_vectors(data: datasets.PairData, embed: Embed) -> tuple[np.ndarray, np.ndarray]:
    vectors = embed(data.sentences1 + data.sentences2)
    return vectors[: len(data.sentences1)], vectors[len(data.sentences1) :]


def _run_classification(spec: TaskSpec, folder: Path, subset: str, paths: list[Path], embed: Embed) -> dict:
    from emberta.tasks import classification

    train_path = folder / spec.train[subset]  # an absolute train path (ad-hoc tasks) stays as it is
    train = datasets.read_labelled(train_path, spec.text_field)
    test = datasets.read_labelled(paths[0], spec.text_field)
    known = set(train.labels)
    for label, line in zip(test.labels, test.lines, strict=True):
        if label not in known:
            raise InputError(
                f"label {label!r} does not occur in the training file {train_path}; "
                "a classifier cannot predict it (fix the label or add training rows for it)",
                path=paths[0],
                line=line,
            )
    experiments = classification.undersample_experiments(train.labels, spec.samples_per_label, spec.n_experiments)
    union = sorted(set().union(*experiments))
    vectors = embed([train.texts[i] for i in union] + test.texts)
    union_vectors, test_vectors = embed.adapt(vectors[: len(union)], vectors[: len(union)], vectors[len(union) :])
    train_vectors = np.zeros((len(train.texts), union_vectors.shape[1]), dtype=np.float32)
    train_vectors[union] = union_vectors
    return classification.evaluate_classification(train_vectors, train.labels, test_vectors, test.labels, experiments)


def _run_clustering(spec: TaskSpec, folder: Path, subset: str, paths: list[Path], embed: Embed) -> dict:
    from emberta.tasks import clustering

    data = datasets.read_labelled(paths[0], spec.text_field)
    rng = random.Random(clustering.SEED)
    rows = clustering.sample_documents(len(data.texts), rng)
    if len(rows) < 2:
        raise InputError(
            f"{len(data.texts)} documents are too few: clustering embeds a 4% sample and needs 2 or more",
            path=paths[0],
        )
    vectors = embed([data.texts[i] for i in rows])
    (vectors,) = embed.adapt(vectors, vectors)
    return clustering.evaluate_clustering(vectors, [data.labels[i] for i in rows], rng)


def _run_retrieval(spec: TaskSpec, folder: Path, subset: str, paths: list[Path], embed: Embed) -> dict:
    from emberta.tasks import retrieval

    data = datasets.read_beir(paths[0], spec.split)
    doc_ids, query_ids = list(data.corpus), list(data.queries)
    doc_vectors = embed([data.corpus[d] for d in doc_ids], "document")
    query_vectors = embed([data.queries[q] for q in query_ids], "query")
    if embed.index_backend is not None:
        from emberta.index.evaluation import index_search_run

        run = index_search_run(
            doc_ids, [data.corpus[d] for d in doc_ids], doc_vectors, query_ids,
            [data.queries[q] for q in query_ids], query_vectors, backend=embed.index_backend, mode=embed.search_mode,
        )  # fmt: skip
        return retrieval.retrieval_metrics(run, data.qrels)
    run = retrieval.search(
        query_vectors, doc_vectors, doc_ids, query_ids, similarity_fn=embed.similarity_fn,
        scorer=embed.scorer(doc_vectors),
    )  # fmt: skip
    return retrieval.retrieval_metrics(run, data.qrels)


def _run_reranking(spec: TaskSpec, folder: Path, subset: str, paths: list[Path], embed: Embed) -> dict:
    from emberta.tasks import reranking

    items = datasets.read_reranking(paths[0])
    query_vectors = embed([item.query for item in items], "query")
    candidates = [c.strip() for item in items for c in item.positives + item.negatives]  # MTEB strips documents
    candidate_vectors = embed(candidates, "document")
    query_vectors, candidate_vectors = embed.adapt(candidate_vectors, query_vectors, candidate_vectors)
    per_query, start = [], 0
    for item in items:
        n = len(item.positives) + len(item.negatives)
        per_query.append(candidate_vectors[start : start + n])
        start += n
    n_positives = [len(item.positives) for item in items]
    return reranking.evaluate_reranking(query_vectors, per_query, n_positives, similarity_fn=embed.similarity_fn)


def _run_bitext(spec: TaskSpec, folder: Path, subset: str, paths: list[Path], embed: Embed) -> dict:
    from emberta.tasks import bitext

    data = datasets.read_bitext(paths[0])
    a, b = _pair_vectors(data, embed)
    return bitext.evaluate_bitext(a, b, embed.similarity_fn, scorer=embed.scorer(np.concatenate([a, b])))


_RUNNERS = {
    STS: _run_sts,
    PAIR_CLASSIFICATION: _run_pairs,
    CLASSIFICATION: _run_classification,
    CLUSTERING: _run_clustering,
    RETRIEVAL: _run_retrieval,
    RERANKING: _run_reranking,
    BITEXT_MINING: _run_bitext,
}


def _files_digest(paths: list[Path]) -> str:
    """sha256 (first 16 hex digits) of the data files' names and bytes: the local "dataset revision"."""
    digest = hashlib.sha256()
    for path in paths:
        for file in sorted(path.rglob("*")) if path.is_dir() else [path]:
            if file.is_file():
                digest.update(file.name.encode())
                digest.update(file.read_bytes())
    return "local-" + digest.hexdigest()[:16]
