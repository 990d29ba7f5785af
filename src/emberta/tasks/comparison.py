"""A comparison of models: tasks as rows, models as columns, means per task type and overall, the best value of
each row marked, and the cost figures measured for each local model. Plain data, drawn by the terminal table
(report.tables) and the HTML report (report.html) alike."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emberta.tasks.registry import TASK_TYPES
from emberta.tasks.results import TaskResult


@dataclass(frozen=True)
class CostField:
    """One cost figure: its key in a run's costs, its label, the better direction ("max", "min" or None when
    neither is better), and the factor and decimals it is shown with."""

    key: str
    label: str
    better: str | None
    scale: float = 1.0
    decimals: int = 0

    def show(self, value: float | None) -> str:
        """The value as displayed ("" when unknown; two significant digits below 1 rather than 0.0)."""
        if value is None:
            return ""
        scaled = value * self.scale
        if 0 < abs(scaled) < 10**-self.decimals:
            return f"{scaled:.2g}"
        return f"{scaled:,.{self.decimals}f}"


COST_FIELDS = (
    CostField("texts_per_second", "texts/s", "max", decimals=1),
    CostField("first_vector_seconds", "time to first vector (s)", "min", decimals=2),
    CostField("peak_memory_bytes", "peak memory (MB)", "min", scale=1e-6),
    CostField("parameters", "parameters (M)", None, scale=1e-6, decimals=1),
    CostField("dim", "dimension", None),
    CostField("bytes_per_vector", "bytes per vector", "min"),
    CostField("model_bytes", "model on disk (MB)", "min", scale=1e-6, decimals=1),
)


@dataclass(frozen=True)
class Column:
    """One model: `label` as shown, its TaskResults (local) or published scores, its cost figures (None for
    published columns and runs measured without costs)."""

    label: str
    scores: dict[str, float]  # task -> main score x100
    name: str = ""
    published: bool = False
    costs: dict | None = None


@dataclass(frozen=True)
class Row:
    """A line of the comparison: a task ("task"), the mean of a task type ("type") or of all tasks
    ("overall"); one value per column (None when the column lacks it) and the columns holding the best value."""

    label: str
    kind: str
    task_type: str
    metric: str
    values: tuple[float | None, ...]
    best: frozenset[int]


@dataclass(frozen=True)
class Comparison:
    columns: list[Column]
    rows: list[Row]

    @property
    def task_rows(self) -> list[Row]:
        return [r for r in self.rows if r.kind == "task"]

    @property
    def mean_rows(self) -> list[Row]:
        return [r for r in self.rows if r.kind != "task"]

    def cost_rows(self) -> list[tuple[CostField, tuple[float | None, ...], frozenset[int]]]:
        """(field, value per column, best columns) for each cost figure some column has."""
        out = []
        for cost in COST_FIELDS:
            values = tuple(None if c.costs is None else c.costs.get(cost.key) for c in self.columns)
            if any(v is not None for v in values):
                shown = tuple(None if v is None else v * cost.scale for v in values)
                out.append((cost, values, _best(shown, cost.better, cost.decimals)))
        return out


def column_from_results(label: str, results: list[TaskResult], *, costs: dict | None = None, name: str = "") -> Column:
    """A local model's column: each task's main score x100."""
    return Column(label, {r.task_name: 100 * r.main_score for r in results}, name or label, False, costs)


def build_comparison(columns: list[Column], tasks: list[tuple[str, str, str]]) -> Comparison:
    """The comparison of `columns` on `tasks` ((name, type, metric) in row order): a row per task, then a mean
    per task type and overall. A column's mean is shown only when it has every task the mean covers."""
    rows = []
    for name, task_type, metric in tasks:
        values = tuple(c.scores.get(name) for c in columns)
        rows.append(Row(name, "task", task_type, metric, values, _best(values, "max", 2)))
    groups = {t: [n for n, tt, _ in tasks if tt == t] for t in dict.fromkeys(tt for _, tt, _ in tasks)}
    groups_kinds = [(t, "type", names) for t, names in groups.items()] + [("overall", "overall", [t[0] for t in tasks])]
    for label, kind, names in groups_kinds:
        values = tuple(_mean([c.scores.get(n) for n in names]) for c in columns)
        rows.append(Row(f"average {label}", kind, label if kind == "type" else "", "", values, _best(values, "max", 2)))
    return Comparison(columns, rows)


def task_order(columns: list[Column], types: dict[str, tuple[str, str]]) -> list[tuple[str, str, str]]:
    """(task, type, metric) for every task some local column has: by task type in the registry's order (STS,
    pair classification, ..., bitext mining; other types last), then first seen. types: task -> (type, metric)."""
    seen = list(dict.fromkeys(t for c in columns if not c.published for t in c.scores))
    rank = {task_type: i for i, task_type in enumerate(TASK_TYPES)}
    ordered = sorted(seen, key=lambda t: (rank.get(types[t][0], len(rank)), seen.index(t)))
    return [(t, *types[t]) for t in ordered]


def _mean(values: list[float | None]) -> float | None:
    if not values or any(v is None for v in values):
        return None
    return float(np.mean(values))


def _best(values: tuple[float | None, ...], better: str | None, decimals: int) -> frozenset[int]:
    """Indexes of the columns holding the best value as displayed (ties all marked); none when every value is
    the same."""
    known = [(i, round(v, max(decimals, 0))) for i, v in enumerate(values) if v is not None]
    if better is None or len({v for _, v in known}) < 2:
        return frozenset()
    target = max(v for _, v in known) if better == "max" else min(v for _, v in known)
    return frozenset(i for i, v in known if v == target)


def compare_results(columns: list[Column], results: list[TaskResult], *, published: bool = False) -> Comparison:
    """The comparison of local `columns`, whose TaskResults (of every column) are `results`: rows in first-seen
    task order, types and metrics from the results; with `published`, MTEB's published columns that score at
    least one of the tasks are added (tasks.published)."""
    types = {r.task_name: (r.task_type, r.main_score_name) for r in results}
    tasks = task_order(columns, types)
    if published:
        from emberta.tasks.published import published_columns

        subsets: dict[str, list[str]] = {}
        for result in results:
            subsets.setdefault(result.task_name, [s.hf_subset for s in result.subsets])
        columns = columns + [c for c in published_columns(subsets) if c.scores]
    return build_comparison(columns, tasks)
