"""PNG plots (matplotlib, no display needed): the sweep's quality against storage, the geometry plots of
`emberta analyze`, the confusion matrix of `emberta classify`, and the loss curves of `emberta train mlm`."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    """Write `fig` to `path` as PNG (atomically) and close it."""
    from emberta.io.atomic import temp_path_for

    path = Path(path)
    tmp = temp_path_for(path)
    try:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
        _pyplot().close(fig)
    return path


def sweep_plot(rows, path: Path, title: str) -> Path:
    """Main score against bytes per vector (log scale), one series per task, each point labelled."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    for task in dict.fromkeys(r.task for r in rows):
        points = [r for r in rows if r.task == task and r.score is not None]
        ax.scatter([r.bytes_per_vector for r in points], [r.score for r in points], label=task)
        for r in points:
            ax.annotate(r.config, (r.bytes_per_vector, r.score), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("bytes per vector")
    ax.set_ylabel("main score (x100)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return _save(fig, path)


def spectrum_plot(singular_values: np.ndarray, path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.semilogy(np.arange(1, len(singular_values) + 1), singular_values)
    ax.set_xlabel("component")
    ax.set_ylabel("singular value")
    ax.set_title("singular-value spectrum (centred)")
    return _save(fig, path)


def dimensions_plot(x: np.ndarray, rogue: list[int], path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    dims = np.arange(x.shape[1])
    ax.errorbar(dims, x.mean(axis=0), yerr=x.std(axis=0), fmt=".", markersize=2, elinewidth=0.5)
    if rogue:
        ax.scatter(rogue, x.mean(axis=0)[rogue], color="red", zorder=3, label="rogue dimensions")
        ax.legend()
    ax.set_xlabel("dimension")
    ax.set_ylabel("mean +- std")
    ax.set_title("per-dimension mean and spread")
    return _save(fig, path)


def k_occurrence_plot(occurrence: np.ndarray, k: int, path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist(occurrence, bins=min(60, int(occurrence.max()) + 1), log=True)
    ax.axvline(2 * k, color="red", linestyle="--", label=f"hub threshold (2k = {2 * k})")
    ax.set_xlabel(f"k-occurrence (k = {k})")
    ax.set_ylabel("points")
    ax.legend()
    return _save(fig, path)


def pca_scatter(x: np.ndarray, labels, path: Path) -> Path:
    plt = _pyplot()
    centred = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    xy = centred @ vt[:2].T
    fig, ax = plt.subplots(figsize=(6, 6))
    if labels is None:
        ax.scatter(xy[:, 0], xy[:, 1], s=3)
    else:
        labels = np.asarray(labels)
        for label in np.unique(labels)[:20]:
            mask = labels == label
            ax.scatter(xy[mask, 0], xy[mask, 1], s=3, label=str(label))
        ax.legend(fontsize=7, markerscale=3)
    ax.set_title("2-D PCA")
    return _save(fig, path)


def confusion_plot(labels: list[str], matrix: np.ndarray, path: Path) -> Path:
    """`matrix` (rows: true label, columns: predicted) shaded by its share of each row, with the counts written in
    the cells."""
    plt = _pyplot()
    matrix = np.asarray(matrix)
    share = np.divide(matrix, np.maximum(matrix.sum(axis=1, keepdims=True), 1))
    size = max(3.5, 0.6 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center", color="white" if share[i, j] > 0.5 else "black")
    fig.tight_layout()
    return _save(fig, path)


def loss_curve_plot(train_loss: list[dict], heldout: list[dict], path: Path, title: str = "MLM training") -> Path:
    """The training loss ({"step", "loss"} rows) and the held-out loss ({"step", "eval_loss", "eval_perplexity"}
    rows) of a masked-LM run against optimizer steps, the last held-out perplexity written beside its point."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    if train_loss:
        ax.plot([r["step"] for r in train_loss], [r["loss"] for r in train_loss], label="training loss", lw=1)
    if heldout:
        ax.plot([r["step"] for r in heldout], [r["eval_loss"] for r in heldout], "o-", label="held-out loss", lw=1.5,
                ms=3)  # fmt: skip
        last = heldout[-1]
        ax.annotate(f"ppl {last['eval_perplexity']:.1f}", (last["step"], last["eval_loss"]), fontsize=8)
    return _finish_lines(fig, ax, path, xlabel="step", ylabel="masked-LM loss (nats)", title=title)


def curves_plot(series: dict[str, list[tuple[float, float]]], path: Path, *, xlabel: str, ylabel: str, title: str,
                log_y: bool = False) -> Path:  # fmt: skip
    """Several named (x, y) series on one axis (benchmark comparisons), optionally on a log y axis."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for name, points in series.items():
        ax.plot([p[0] for p in points], [p[1] for p in points], "o-", label=name, lw=1.5, ms=3)
    if log_y:
        ax.set_yscale("log")
    return _finish_lines(fig, ax, path, xlabel=xlabel, ylabel=ylabel, title=title)


def _finish_lines(fig, ax, path: Path, *, xlabel: str, ylabel: str, title: str) -> Path:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)
