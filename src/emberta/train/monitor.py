"""What a training run reports while it runs: scores on emberta's own tasks (an evaluator the trainer calls,
so the best checkpoint can be kept) and the loss / score curve drawn as a PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sentence_transformers.base.evaluation.evaluator import BaseEvaluator


class TaskEvaluator(BaseEvaluator):
    """Scores the model under training on emberta tasks (e.g. STSBenchmark): each task's main score (x100) and
    their mean, the primary metric. `encoder` is the emberta Encoder wrapping the model being trained."""

    def __init__(self, encoder, tasks: list[str], data_dir: str | None, batch_size: int = 64):
        super().__init__()
        self.encoder, self.tasks, self.data_dir, self.batch_size = encoder, tasks, data_dir, batch_size
        self.primary_metric = "mean"

    def __call__(self, model, output_path=None, epoch: int = -1, steps: int = -1) -> dict[str, float]:
        from emberta.evaluation import evaluate

        was_training = model.training
        results = evaluate(self.encoder, self.tasks, data_dir=self.data_dir, cache=False, batch_size=self.batch_size,
                           show_progress=False)  # fmt: skip
        model.train(was_training)
        scores = {result.task_name: round(100 * result.main_score, 4) for result in results}
        scores["mean"] = round(float(np.mean(list(scores.values()))), 4)
        return scores


def write_curve(log_history: list[dict], path: Path, title: str) -> None:
    """A PNG of the training loss per step and, when the run was evaluated, the evaluation score per step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    losses = [(e["step"], e["loss"]) for e in log_history if "loss" in e and "step" in e]
    scores = [(e["step"], e["eval_mean"]) for e in log_history if "eval_mean" in e and "step" in e]
    figure, axis = plt.subplots(figsize=(7, 4))
    if losses:
        axis.plot(*zip(*losses, strict=True), color="tab:blue", label="training loss")
    axis.set_xlabel("step")
    axis.set_ylabel("loss", color="tab:blue")
    if scores:
        other = axis.twinx()
        other.plot(*zip(*scores, strict=True), "o-", color="tab:orange", label="eval score")
        other.set_ylabel("evaluation score (mean main score x100)", color="tab:orange")
    axis.set_title(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
