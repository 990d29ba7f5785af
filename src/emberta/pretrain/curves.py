"""Loss-curve pictures of masked-language-model runs."""

from __future__ import annotations

from pathlib import Path


def plot_loss_curve(train_loss: list[dict], heldout: list[dict], path: Path, title: str = "MLM training") -> None:
    """Write a PNG of the training loss ({"step", "loss"} rows) and the held-out loss ({"step", "eval_loss"}
    rows) against optimizer steps, with held-out perplexity on the right-hand axis labels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 3.6), dpi=100)
    if train_loss:
        axis.plot([r["step"] for r in train_loss], [r["loss"] for r in train_loss], label="training loss", lw=1)
    if heldout:
        steps = [r["step"] for r in heldout]
        axis.plot(steps, [r["eval_loss"] for r in heldout], "o-", label="held-out loss", lw=1.5, ms=3)
        last = heldout[-1]
        axis.annotate(f"ppl {last['eval_perplexity']:.1f}", (last["step"], last["eval_loss"]), fontsize=8)
    axis.set_xlabel("step")
    axis.set_ylabel("masked-LM loss (nats)")
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def plot_curves(series: dict[str, list[tuple[float, float]]], path: Path, *, xlabel: str, ylabel: str, title: str,
                log_y: bool = False) -> None:  # fmt: skip
    """Write a PNG of several named (x, y) series on one axis (benchmark comparisons)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 3.6), dpi=100)
    for name, points in series.items():
        axis.plot([p[0] for p in points], [p[1] for p in points], "o-", label=name, lw=1.5, ms=3)
    if log_y:
        axis.set_yscale("log")
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
