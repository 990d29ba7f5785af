"""Evaluation: load each task's local data (io), get embeddings through the cache (encoders + cache), score
them (tasks), write MTEB-compatible results. `emberta.evaluate(...)` lives here."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from emberta.cache import EmbeddingStore, open_store
from emberta.encoders import Encoder, load_encoder
from emberta.errors import EmbertaError, NotApplicable, OptionError
from emberta.io.datasets import data_root, dataset_folder
from emberta.task_kinds import KINDS, subsets
from emberta.tasks.registry import RETRIEVAL, TaskSpec, resolve_tasks
from emberta.tasks.results import SubsetScores, TaskResult
from emberta.version import __version__

if TYPE_CHECKING:
    from emberta.transforms.pipeline import PostProcess


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
    engine: Encoder | None = None,
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
    engine: a stand-in for the encoder that encodes the texts the cache lacks elsewhere (e.g. on a Ray cluster:
    emberta.scale.RayEncoder); caching, prompts and scoring stay here, so scores are unchanged.
    Returns one TaskResult per task, in order; scores are fractions (x100 for display).
    """
    if index_backend is not None and postprocess is not None:
        raise OptionError("an index backend and a post-process do not combine; give one of them")
    encoder = encoder_or_spec if isinstance(encoder_or_spec, Encoder) else load_encoder(encoder_or_spec)
    specs, root = prepare_tasks(tasks, data_dir)
    out_folder = None
    if output_dir is not None:
        run_name = encoder.fingerprint[:12] + (f"-index-{index_backend}-{search_mode}" if index_backend else "")
        out_folder = Path(output_dir) / encoder.name.replace("/", "__") / run_name.replace("/", "_").replace(",", "_")
    results = []
    with open_store(cache) as store:
        for spec in specs:
            result = evaluate_task(
                spec, encoder, store, root, batch_size=batch_size, show_progress=show_progress,
                postprocess=postprocess, index_backend=index_backend, search_mode=search_mode, engine=engine,
            )  # fmt: skip
            if out_folder is not None:
                result.info["result_file"] = str(result.write(out_folder))
            results.append(result)
            if on_result is not None:
                on_result(result)
    if out_folder is not None and results:
        write_run_meta(encoder, out_folder)
    return results


def write_run_meta(encoder: Encoder, folder: Path, *, spec: str | None = None, costs: dict | None = None) -> Path:
    """Write the result folder's model_meta.json (MTEB's sidecar; see tasks.result_files): the model, its
    fingerprint, backend, emberta's and the libraries' versions, the machine, and the cost figures when measured
    (a run without them keeps those an earlier run of the same fingerprint recorded)."""
    from emberta.io.jsontext import read_json_file
    from emberta.machine import machine, versions
    from emberta.tasks import result_files

    if costs is None and (folder / result_files.RUN_META_FILE).is_file():
        try:
            costs = (read_json_file(folder / result_files.RUN_META_FILE).get("emberta") or {}).get("costs")
        except (EmbertaError, AttributeError):
            costs = None
    facts = {"spec": spec or encoder.folder.spec, "model": encoder.name, "fingerprint": encoder.fingerprint,
             "backend": encoder.backend, "quantize": encoder.options.quantize, "costs": costs,
             "versions": versions(), "machine": machine(), "written": time.strftime("%Y-%m-%dT%H:%M:%S%z")}  # fmt: skip
    mteb = {
        "embed_dim": encoder.dim,
        "max_tokens": encoder.max_length,
        "similarity_fn_name": encoder.similarity_fn_name,
    }
    return result_files.write_run_meta(folder, name=encoder.name, revision=folder.name, emberta=facts, **mteb)


def prepare_tasks(tasks: str | list[str] | list[TaskSpec] | None, data_dir) -> tuple[list[TaskSpec], Path]:
    """Task specs (names, a suite or TaskSpecs) and their data root, every folder checked before any encoding."""
    specs = tasks if tasks and isinstance(tasks, list) and isinstance(tasks[0], TaskSpec) else resolve_tasks(tasks)
    root = data_root(data_dir) if any(not Path(s.folder).is_absolute() for s in specs) else Path("/")
    for spec in specs:
        dataset_folder(root, spec.folder, spec.name)
    return specs, root


def evaluate_task(
    spec: TaskSpec, encoder: Encoder, store: EmbeddingStore, root: Path, *, batch_size: int = 32,
    show_progress: bool | None = None, postprocess: PostProcess | None = None, index_backend: str | None = None,
    search_mode: str = "dense", engine: Encoder | None = None,
) -> TaskResult:  # fmt: skip
    """Run one task; returns its TaskResult (not written anywhere)."""
    folder = dataset_folder(root, spec.folder, spec.name)
    start = time.perf_counter()

    embed = TaskEmbedder(encoder, store, spec, batch_size, show_progress, postprocess, index_backend, search_mode,
                         engine)  # fmt: skip
    kind = KINDS[spec.type]
    scores = []
    files_used: list[Path] = []
    for subset in subsets(spec, folder):
        files_used += subset.paths
        metrics = kind.score(kind.read(subset), embed)
        metrics["main_score"] = metrics[spec.main_score]
        scores.append(SubsetScores(subset.name, spec.languages.get(subset.name, []), metrics))
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
    return TaskResult(spec.name, spec.type, spec.main_score, spec.split, scores, time.perf_counter() - start, info)


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
class TaskEmbedder:
    """Embeds a task's texts through the cache, with the prompt MTEB would pick for the task and role, and
    applies the evaluation's post-process (or index backend) when there is one."""

    encoder: Encoder
    store: EmbeddingStore
    spec: TaskSpec
    batch_size: int
    show_progress: bool | None
    post: PostProcess | None = None
    index_backend: str | None = None
    search_mode: str = "dense"
    engine: Encoder | None = None  # encodes in the encoder's place (same fingerprint), e.g. on a Ray cluster

    @property
    def similarity_fn(self) -> str:
        return self.encoder.similarity_fn_name

    def __call__(self, texts: list[str], role: str | None = None) -> np.ndarray:
        prompt = task_prompt(self.encoder.prompts, self.spec, role)
        encoder = self.engine or self.encoder
        return self.store.encode(
            encoder, texts, prompt=prompt, batch_size=self.batch_size, show_progress=self.show_progress
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


def _files_digest(paths: list[Path]) -> str:
    """sha256 (first 16 hex digits) of the data files' names and bytes: the local "dataset revision"."""
    digest = hashlib.sha256()
    for path in paths:
        for file in sorted(path.rglob("*")) if path.is_dir() else [path]:
            if file.is_file():
                digest.update(file.name.encode())
                digest.update(file.read_bytes())
    return "local-" + digest.hexdigest()[:16]
