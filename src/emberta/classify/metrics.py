"""Classification metrics, all as fractions in [0, 1]: accuracy, macro-F1, per-class precision/recall/F1,
expected calibration error, the confusion matrix; and their multi-label counterparts.

Labels the classifier never saw (present only in the test file) count as errors and are listed under
`unseen_labels`, so the numbers stay honest instead of crashing.
"""

from __future__ import annotations

import numpy as np


def targets(labels: list, names: list[str], multi_label: bool) -> np.ndarray:
    """Class indices (n,), or an (n, k) 0/1 matrix when multi-label; labels not in `names` give -1 (or no 1)."""
    index = {name: i for i, name in enumerate(names)}
    if multi_label:
        y = np.zeros((len(labels), len(names)), dtype=int)
        for i, row in enumerate(labels):
            for label in row:
                if label in index:
                    y[i, index[label]] = 1
        return y
    return np.array([index.get(label, -1) for label in labels], dtype=int)


def expected_calibration_error(proba: np.ndarray, truth: np.ndarray, bins: int = 15) -> float:
    """ECE (Guo et al. 2017): the bin-weighted gap between confidence and accuracy, over `bins` equal-width bins
    of the top probability. proba: (n, k); truth: (n,) class indices (-1 for a label the classifier lacks)."""
    if len(truth) == 0:
        return 0.0
    confidence = proba.max(axis=1)
    correct = (proba.argmax(axis=1) == truth).astype(float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    gap = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            gap += mask.mean() * abs(confidence[mask].mean() - correct[mask].mean())
    return float(gap)


def classification_metrics(proba: np.ndarray, labels: list[str], truth: list[str]) -> dict:
    """{"accuracy", "macro_f1", "per_class": {label: {precision, recall, f1, support}}, "ece", "confusion",
    "unseen_labels", "n"} of single-label predictions `proba` (n, k) over `labels` against the true labels."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    index = {label: i for i, label in enumerate(labels)}
    unseen = sorted({t for t in truth if t not in index})
    names = list(labels) + unseen
    full = {label: i for i, label in enumerate(names)}
    y_true = np.array([full[t] for t in truth], dtype=int)
    y_pred = proba.argmax(axis=1)
    ids = list(range(len(names)))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=ids, zero_division=0)
    present = [i for i in ids if s[i] > 0 or i < len(labels)]
    return {
        "n": len(truth),
        "accuracy": float((y_true == y_pred).mean()) if len(truth) else 0.0,
        "macro_f1": float(np.mean([f[i] for i in present])),
        "per_class": {
            names[i]: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i in ids
        },
        "ece": expected_calibration_error(proba, np.where(y_true < len(labels), y_true, -1)),
        "confusion": {"labels": names, "matrix": confusion_matrix(y_true, y_pred, labels=ids).tolist()},
        "unseen_labels": unseen,
    }


def multilabel_metrics(proba: np.ndarray, labels: list[str], truth: list[list[str]], thresholds: np.ndarray) -> dict:
    """{"accuracy" (exact match), "macro_f1", "micro_f1", "per_class", "ece" (per label, as binary), ...} of
    sigmoid outputs `proba` (n, k) cut at per-label `thresholds`."""
    from sklearn.metrics import f1_score, precision_recall_fscore_support

    index = {label: i for i, label in enumerate(labels)}
    unseen = sorted({t for row in truth for t in row if t not in index})
    y_true = targets(truth, labels, True)
    y_pred = (proba >= thresholds).astype(int)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, zero_division=0)
    binary = np.stack([1 - proba.ravel(), proba.ravel()], axis=1)
    exact = [(y_true[i] == y_pred[i]).all() and not set(truth[i]) - set(index) for i in range(len(truth))]
    return {
        "n": len(truth),
        "accuracy": float(np.mean(exact)) if exact else 0.0,
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        "micro_f1": float(f1_score(y_true, y_pred, average="micro", zero_division=0)),
        "per_class": {
            labels[i]: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i in range(len(labels))
        },
        "ece": expected_calibration_error(binary, y_true.ravel()),
        "unseen_labels": unseen,
    }


def main_score(metrics: dict, positive: str | None = None) -> float:
    """macro-F1, or the F1 of class `positive` when given (TweetEval's irony metric)."""
    if positive is not None:
        return metrics["per_class"][positive]["f1"]
    return metrics["macro_f1"]
