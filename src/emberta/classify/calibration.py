"""Temperature scaling (Guo et al., "On Calibration of Modern Neural Networks", ICML 2017): one scalar T > 0
divides the logits, fitted on dev by minimising the negative log-likelihood. It changes confidences, never the
predicted class. Per-label thresholds for multi-label outputs, chosen on dev to maximise each label's F1."""

from __future__ import annotations

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (n, k) logits, float64."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Element-wise logistic function."""
    return 1.0 / (1.0 + np.exp(-np.clip(logits, -50, 50)))


def fit_temperature(logits: np.ndarray, truth: np.ndarray, *, multi_label: bool = False) -> float:
    """The T in [0.05, 20] minimising the NLL of softmax(logits / T) (sigmoid for multi-label, where truth is an
    (n, k) 0/1 matrix) on held-out rows. Example: `T = fit_temperature(dev_logits, dev_y)`."""
    from scipy.optimize import minimize_scalar

    logits = np.asarray(logits, dtype=np.float64)

    def nll(log_t: float) -> float:
        scaled = logits / np.exp(log_t)
        if multi_label:
            p = np.clip(sigmoid(scaled), 1e-12, 1 - 1e-12)
            return float(-(truth * np.log(p) + (1 - truth) * np.log(1 - p)).mean())
        p = softmax(scaled)[np.arange(len(truth)), truth]
        return float(-np.log(np.clip(p, 1e-12, None)).mean())

    found = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(found.x))


def choose_thresholds(proba: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per label, the cut in {0.05, 0.10, ..., 0.95} with the best F1 on dev (0.5 when the label has no positive
    row there)."""
    grid = np.arange(0.05, 0.96, 0.05)
    out = np.full(proba.shape[1], 0.5)
    for j in range(proba.shape[1]):
        if truth[:, j].sum() == 0:
            continue
        scores = []
        for t in grid:
            pred = proba[:, j] >= t
            tp = float((pred & (truth[:, j] == 1)).sum())
            scores.append(2 * tp / max(pred.sum() + truth[:, j].sum(), 1))
        out[j] = grid[int(np.argmax(scores))]
    return out
