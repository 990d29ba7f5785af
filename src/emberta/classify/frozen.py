"""Training the heads on frozen embeddings (`logreg`, `mlp`): embed once through the cache, erase the nuisance
subspace if asked, pick the regularisation on dev macro-F1, fit, calibrate on dev."""

from __future__ import annotations

import numpy as np

from emberta.classify.calibration import choose_thresholds, fit_temperature, sigmoid, softmax
from emberta.classify.erase import fit_eraser
from emberta.classify.heads import ALPHA_GRID, C_GRID, DEFAULT_ALPHA, DEFAULT_C, DenseHead, fit_head


def macro_f1(logits: np.ndarray, y: np.ndarray, multi_label: bool) -> float:
    """Macro-F1 of argmax predictions (multi-label: sigmoid cut at 0.5)."""
    from sklearn.metrics import f1_score

    if multi_label:
        return float(f1_score(y, (sigmoid(logits) >= 0.5).astype(int), average="macro", zero_division=0))
    return float(f1_score(y, logits.argmax(axis=1), average="macro", zero_division=0))


def train_frozen(kind: str, x: np.ndarray, y: np.ndarray, dev: tuple[np.ndarray, np.ndarray] | None, *,
                 class_weight: str, seed: int, multi_label: bool,
                 strength: float | None = None) -> tuple[DenseHead, dict]:  # fmt: skip
    """(head, record) for embeddings x and targets y; with dev = (x_dev, y_dev), the regularisation of the grid
    with the best dev macro-F1 (unless `strength` fixes it). record: the strength chosen and each one's score."""
    grid = C_GRID if kind == "logreg" else ALPHA_GRID
    if strength is not None or dev is None:
        value = strength if strength is not None else (DEFAULT_C if kind == "logreg" else DEFAULT_ALPHA)
        head = fit_head(kind, x, y, strength=value, class_weight=class_weight, seed=seed, multi_label=multi_label)
        return head, {"strength": value, "grid": None}
    scores, heads = {}, {}
    for value in grid:
        head = fit_head(kind, x, y, strength=value, class_weight=class_weight, seed=seed, multi_label=multi_label)
        scores[value] = macro_f1(head.logits(dev[0]), dev[1], multi_label)
        heads[value] = head
    best = max(grid, key=lambda v: (scores[v], -abs(np.log10(v) - np.log10(grid[len(grid) // 2]))))
    return heads[best], {"strength": best, "grid": {str(v): s for v, s in scores.items()}}


def calibrate(logits: np.ndarray | None, y: np.ndarray | None, multi_label: bool) -> tuple[float, list | None]:
    """(temperature, thresholds) fitted on dev logits and targets; (1.0, None) without dev."""
    if logits is None or y is None or len(y) == 0:
        return 1.0, None
    temperature = fit_temperature(logits, y, multi_label=multi_label)
    if not multi_label:
        return temperature, None
    return temperature, choose_thresholds(sigmoid(logits / temperature), y).tolist()


def erase_if_asked(x: np.ndarray, nuisance: list[str] | None):
    """(eraser or None, x erased): the LEACE eraser fitted on `x` and the nuisance labels, when given."""
    if nuisance is None:
        return None, x
    eraser = fit_eraser(x, nuisance)
    return eraser, eraser.apply(x)


def uncalibrated_proba(logits: np.ndarray, multi_label: bool) -> np.ndarray:
    """Probabilities at temperature 1 (to measure ECE before calibration)."""
    return sigmoid(logits) if multi_label else softmax(logits)
