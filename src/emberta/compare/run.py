"""Compare models: every model on the same tasks through one embedding cache, each model's cost figures
measured in a fresh process on the same sample texts, each result folder's model_meta.json holding them.
`emberta eval --model A --model B` runs this."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from emberta.cache import EmbeddingStore, open_store
from emberta.compare.costs import MIN_SECONDS, SAMPLE_TEXTS, measure_costs, sample_texts
from emberta.encoders import check_model, load_encoder
from emberta.encoders.model_spec import short_label
from emberta.errors import OptionError
from emberta.evaluation import evaluate, prepare_tasks, write_run_meta
from emberta.io.datasets import dataset_folder
from emberta.task_kinds import KINDS, subsets
from emberta.tasks.comparison import Column, Comparison, column_from_results, compare_results
from emberta.tasks.registry import TaskSpec
from emberta.tasks.results import TaskResult


@dataclass
class ModelRun:
    """One evaluated model: the spec as given, its column label, the encoder's name and fingerprint, its
    results, its cost figures (None when not measured), its result folder, and the other specs that resolved
    to the same fingerprint (evaluated once, under this run)."""

    spec: str
    label: str
    name: str
    fingerprint: str
    results: list[TaskResult]
    costs: dict | None = None
    folder: Path | None = None
    same_as: list[str] = field(default_factory=list)

    def column(self) -> Column:
        """This run as a column of a comparison."""
        return column_from_results(self.label, self.results, costs=self.costs, name=self.name)


def compare_models(
    specs: list[str],
    tasks: str | list[str] | list[TaskSpec] | None = None,
    *,
    options: dict | None = None,
    data_dir: str | Path | None = None,
    output_dir: str | Path | None = None,
    cache: bool | EmbeddingStore = True,
    batch_size: int = 32,
    show_progress: bool | None = None,
    measure: bool = True,
    cost_texts: int = SAMPLE_TEXTS,
    min_seconds: float = MIN_SECONDS,
    on_result: Callable[[str, TaskResult], None] | None = None,
    on_duplicate: Callable[[str, str], None] | None = None,
    on_costs: Callable[[str, dict], None] | None = None,
    index_backend: str | None = None,
    search_mode: str = "dense",
) -> list[ModelRun]:
    """Evaluate each model spec (e.g. ["default", "default@onnx-int8", "static:DIR"]) on the same tasks.
    options: load_encoder options for every spec (a spec's @variant sets its backend). Specs whose encoders
    share a fingerprint are evaluated once (on_duplicate(spec, first_spec); the first run lists the others in
    `same_as`). measure: time each model in a fresh process on `cost_texts` texts sampled from the tasks (see
    compare.costs). Callbacks: on_result(label, result) per task, on_costs(label, costs) per model. With
    output_dir, results go where `evaluate` puts them, and each folder's model_meta.json gets the costs."""
    if not specs:
        raise OptionError("give at least one model")
    for spec in specs:
        check_model(spec, **(options or {}))  # a bad spec fails before the first model runs
    task_specs, root = prepare_tasks(tasks, data_dir)
    sample = sample_texts(_task_texts(task_specs, root), cost_texts) if measure else []
    runs: list[ModelRun] = []
    labels = _labels(specs)
    settings = dict(data_dir=root, output_dir=output_dir, batch_size=batch_size, show_progress=show_progress,
                    index_backend=index_backend, search_mode=search_mode)  # fmt: skip
    with open_store(cache) as store:
        for spec in specs:
            encoder = load_encoder(spec, **(options or {}))
            first = next((r for r in runs if r.fingerprint == encoder.fingerprint), None)
            if first is not None:
                first.same_as.append(spec)
                if on_duplicate is not None:
                    on_duplicate(spec, first.spec)
                del encoder  # one model in memory at a time
                continue
            label = labels[spec]
            report = None if on_result is None else lambda r, lb=label: on_result(lb, r)
            results = evaluate(encoder, task_specs, cache=store, on_result=report, **settings)
            folder = Path(results[0].info["result_file"]).parent if results and output_dir is not None else None
            run = ModelRun(spec, label, encoder.name, encoder.fingerprint, results, folder=folder)
            if measure:
                run.costs = _measure(spec, options or {}, sample, batch_size, min_seconds)
                if on_costs is not None:
                    on_costs(label, run.costs)
            if folder is not None:
                write_run_meta(encoder, folder, spec=spec, costs=run.costs)
            runs.append(run)
            del encoder  # one model in memory at a time
            gc.collect()
    return runs


def _measure(spec: str, options: dict, sample: list[str], batch_size: int, min_seconds: float) -> dict:
    costs = measure_costs(spec, options, sample, batch_size=batch_size, min_seconds=min_seconds)
    costs["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    return costs


def _task_texts(task_specs: list[TaskSpec], root: Path) -> list[list[str]]:
    """The distinct texts of each task (all its subsets), one list per task."""
    groups = []
    for spec in task_specs:
        folder = dataset_folder(root, spec.folder, spec.name)  # an absolute folder (ad-hoc task) stays as it is
        texts: list[str] = []
        for subset in subsets(spec, folder):
            texts += KINDS[spec.type].subset_texts(subset).texts
        groups.append(texts)
    return groups


def _labels(specs: list[str]) -> dict[str, str]:
    """A short column label per distinct spec (see short_label); repeated labels numbered."""
    labels: dict[str, str] = {}
    for spec in dict.fromkeys(specs):
        short = label = short_label(spec)
        n = 2
        while label in labels.values():
            label, n = f"{short} ({n})", n + 1
        labels[spec] = label
    return labels


def comparison(runs: list[ModelRun], *, published: bool = False) -> Comparison:
    """The comparison table of `runs` (tasks as rows, models as columns, means, costs); with `published`,
    MTEB's published scores as extra columns."""
    return compare_results([r.column() for r in runs], [res for r in runs for res in r.results], published=published)
