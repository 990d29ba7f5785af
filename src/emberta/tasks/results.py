"""Task results: MTEB-compatible result JSON and the rows of the summary table."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emberta.io.atomic import write_text_atomic
from emberta.tasks.references import Reference, reference_for


@dataclass
class SubsetScores:
    """Scores of one subset (language, language pair or "default"); `metrics` holds every metric as a
    fraction (MTEB's convention), `main_score` among them."""

    hf_subset: str
    languages: list[str]
    metrics: dict

    @property
    def main_score(self) -> float:
        return float(self.metrics["main_score"])


@dataclass
class TaskResult:
    task_name: str
    task_type: str
    main_score_name: str
    split: str
    subsets: list[SubsetScores]
    evaluation_time: float
    info: dict = field(default_factory=dict)

    @property
    def main_score(self) -> float:
        """Mean main score over subsets (a fraction)."""
        return float(np.mean([s.main_score for s in self.subsets]))

    def to_mteb_dict(self) -> dict:
        """The result in the layout of MTEB's result files (results/<model>/<revision>/<task>.json)."""
        return {
            "dataset_revision": self.info.get("dataset_revision"),
            "task_name": self.task_name,
            "mteb_version": None,
            "scores": {
                self.split: [{**s.metrics, "hf_subset": s.hf_subset, "languages": s.languages} for s in self.subsets]
            },
            "evaluation_time": self.evaluation_time,
            "kg_co2_emissions": None,
            "emberta": {"task_type": self.task_type, "main_score": self.main_score_name, **self.info},
        }

    def write(self, folder: Path) -> Path:
        """Write `<folder>/<task_name>.json` atomically; returns its path."""
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.task_name}.json"
        write_text_atomic(path, json.dumps(self.to_mteb_dict(), indent=2, default=_jsonable) + "\n")
        return path


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


@dataclass(frozen=True)
class SummaryRow:
    """One line of the summary: scores x 100; `subset` is "" for a task's own line."""

    task: str
    subset: str
    task_type: str
    metric: str
    score: float
    reference: Reference | None

    @property
    def difference(self) -> float | None:
        return None if self.reference is None else self.score - self.reference.value

    @property
    def within_tolerance(self) -> bool | None:
        if self.reference is None:
            return None
        return abs(self.difference) <= self.reference.tolerance + 1e-9


def summary_rows(results: list[TaskResult], model_name: str) -> list[SummaryRow]:
    """A row per task (mean over subsets) followed by a row per subset for multi-subset tasks. A task's
    reference is the mean of its subsets' references when every subset has one. BM25 and hybrid runs through
    an index are another system than the model alone, so they get no reference."""
    rows = []
    for result in results:
        refs = [reference_for(model_name, result.task_name, s.hf_subset) for s in result.subsets]
        if result.info.get("search_mode", "dense") != "dense":
            refs = [None] * len(refs)
        task_ref = None
        if refs and all(refs):
            task_ref = Reference(
                float(np.mean([r.value for r in refs])), refs[0].source, max(r.tolerance for r in refs)
            )
        rows.append(SummaryRow(result.task_name, "", result.task_type, result.main_score_name,
                               100 * result.main_score, task_ref))  # fmt: skip
        if len(result.subsets) > 1:
            for subset, ref in zip(result.subsets, refs, strict=True):
                rows.append(SummaryRow(result.task_name, subset.hf_subset, result.task_type, result.main_score_name,
                                       100 * subset.main_score, ref))  # fmt: skip
    return rows


def averages(results: list[TaskResult]) -> dict[str, float]:
    """Mean main score x 100 per task type, and "overall" over all tasks."""
    by_type: dict[str, list[float]] = {}
    for result in results:
        by_type.setdefault(result.task_type, []).append(100 * result.main_score)
    means = {task_type: float(np.mean(scores)) for task_type, scores in by_type.items()}
    if results:
        means["overall"] = float(np.mean([100 * r.main_score for r in results]))
    return means
