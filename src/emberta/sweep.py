"""Sweep: evaluate post-processing configurations (transforms, quantization, hubness reduction) on tasks from
cached embeddings — every text is encoded once, whatever the number of configurations."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from emberta.cache import EmbeddingStore, open_store
from emberta.encoders import Encoder, load_encoder
from emberta.errors import NotApplicable
from emberta.evaluation import evaluate_task, prepare_tasks
from emberta.io.atomic import write_text_atomic
from emberta.tasks.registry import TaskSpec
from emberta.transforms.pipeline import PostProcess, parse_configs


@dataclass(frozen=True)
class SweepRow:
    """One configuration on one task: main score x100 (None where the configuration does not apply), storage
    per vector in bytes, and the change relative to the "none" configuration (in % of its score)."""

    config: str
    task: str
    task_type: str
    metric: str
    score: float | None
    bytes_per_vector: int
    relative_change: float | None


@dataclass
class SweepResult:
    rows: list[SweepRow]
    encoded: int
    cache_hits: int

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["config", "task", "type", "metric", "score", "bytes_per_vector", "relative_change_pct"])
        for r in self.rows:
            writer.writerow([r.config, r.task, r.task_type, r.metric, _fmt(r.score), r.bytes_per_vector,
                             _fmt(r.relative_change)])  # fmt: skip
        return out.getvalue()


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def sweep(
    encoder_or_spec: Encoder | str | Path,
    tasks: str | list[str] | list[TaskSpec],
    configs: str | list[PostProcess],
    *,
    data_dir: str | Path | None = None,
    cache: bool | EmbeddingStore = True,
    output_dir: str | Path | None = None,
    batch_size: int = 32,
    on_row=None,
) -> SweepResult:
    """Evaluate each configuration ("none; center; pca:128; int8; mp", or PostProcess objects) on each task.
    Transforms are fitted per task on its corpus or training side. With output_dir: sweep.csv and
    sweep.png (main score against bytes per vector)."""
    encoder = encoder_or_spec if isinstance(encoder_or_spec, Encoder) else load_encoder(encoder_or_spec)
    posts = parse_configs(configs) if isinstance(configs, str) else configs
    specs, root = prepare_tasks(tasks, data_dir)
    scores: dict[tuple[str, str], float | None] = {}
    with open_store(cache) as store:
        for post in posts:
            for spec in specs:
                try:
                    result = evaluate_task(spec, encoder, store, root, batch_size=batch_size, show_progress=False,
                                           postprocess=None if post.name == "none" else post)  # fmt: skip
                    scores[post.name, spec.name] = 100 * result.main_score
                except NotApplicable:
                    scores[post.name, spec.name] = None
                if on_row is not None:
                    on_row(post.name, spec.name, scores[post.name, spec.name])
    rows = []
    for post in posts:
        for spec in specs:
            score, base = scores[post.name, spec.name], scores.get(("none", spec.name))
            change = None if score is None or not base else 100 * (score - base) / abs(base)
            rows.append(SweepRow(post.name, spec.name, spec.type, spec.main_score, score,
                                 post.bytes_per_vector(encoder.dim), change))  # fmt: skip
    result = SweepResult(rows, store.encoded, store.hits)
    if output_dir is not None:
        out = Path(output_dir)
        out.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out / "sweep.csv", result.to_csv())
        from emberta.report.plots import sweep_plot

        sweep_plot(rows, out / "sweep.png", title=f"{encoder.name}: quality vs storage")
    return result
