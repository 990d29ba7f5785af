"""MTEB's published scores of popular small models, shipped as package data (`mteb_published.json`, a copy of
../shared/datasets/REFERENCE_MODELS.json made by benchmarks/published_scores.py), on the tasks whose local data
is identical to MTEB's. `emberta eval --compare-published` and `emberta report --compare-published` add them as
columns, marked published, with no cost figures."""

from __future__ import annotations

import functools
import json
from importlib import resources

import numpy as np

from emberta.tasks.comparison import Column

DATA_FILE = "mteb_published.json"


@functools.cache
def published_scores() -> dict:
    """The package data as parsed: {"about", "tasks": {task: {type, local_dataset}}, "models": {model: {task:
    {split, main_score: {subset: fraction}, results_file, mteb_version}}}}."""
    text = resources.files("emberta.tasks").joinpath(DATA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def published_columns(task_subsets: dict[str, list[str]]) -> list[Column]:
    """A column per published model. task_subsets: task -> the subsets the local runs scored; a task's published
    score (x100) is the mean over those subsets, given only when MTEB published every one of them (a model with
    only the English subset of a multilingual task gets no score for it)."""
    columns = []
    for model, tasks in published_scores()["models"].items():
        scores = {}
        for task, subsets in task_subsets.items():
            published = tasks.get(task, {}).get("main_score", {})
            if subsets and all(s in published for s in subsets):
                scores[task] = 100 * float(np.mean([published[s] for s in subsets]))
        columns.append(Column(model.rsplit("/", 1)[-1], scores, model, True, None))
    return columns
