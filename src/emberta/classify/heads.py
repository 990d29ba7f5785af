"""Heads on frozen embeddings: multinomial logistic regression (`logreg`) and a one-hidden-layer perceptron
(`mlp`), fitted with scikit-learn and kept as plain weight matrices, so a saved head is a few .npy files and
predicting needs numpy only.

A head is a stack of dense layers with ReLU between them; `output` says how its last layer's scores become
logits: "softmax" (k scores), "binary" (one score z, logits [0, z]) or "sigmoid" (k independent scores,
multi-label).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HEADS = ("logreg", "mlp", "finetune", "setfit")
FROZEN_HEADS = ("logreg", "mlp")  # heads on frozen embeddings
MODEL_FILES_HEADS = ("finetune", "setfit")  # heads whose folder holds a trained encoder
# the regularisation tried on --dev: logreg's inverse strength C, mlp's L2 penalty alpha
C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)
ALPHA_GRID = (1e-4, 1e-3, 1e-2, 1e-1)
DEFAULT_C, DEFAULT_ALPHA = 1.0, 1e-3
MLP_HIDDEN = 256


@dataclass
class DenseHead:
    """Weights (out, in) and biases (out,) of each layer, ReLU between layers; `output` as the module says."""

    weights: list[np.ndarray]
    biases: list[np.ndarray]
    output: str

    def logits(self, x: np.ndarray) -> np.ndarray:
        """(n, k) logits of embeddings `x` (n, dim)."""
        h = np.asarray(x, dtype=np.float64)
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = h @ w.T + b
            if i < len(self.weights) - 1:
                h = np.maximum(h, 0.0)
        if self.output == "binary":
            return np.concatenate([np.zeros((len(h), 1)), h], axis=1)
        return h


def fit_head(kind: str, x: np.ndarray, y: np.ndarray, *, strength: float, class_weight: str, seed: int,
             multi_label: bool = False) -> DenseHead:  # fmt: skip
    """Fit a `logreg` (strength = C) or `mlp` (strength = alpha) head on embeddings x and class indices y (an
    (n, k) 0/1 matrix when multi_label)."""
    if kind == "logreg":
        return _fit_logreg(x, y, strength, class_weight, seed, multi_label)
    return _fit_mlp(x, y, strength, class_weight, seed, multi_label)


def _fit_logreg(x, y, c, class_weight, seed, multi_label) -> DenseHead:
    from sklearn.linear_model import LogisticRegression

    weight = "balanced" if class_weight == "balanced" else None
    if multi_label:
        rows, biases = [], []
        for j in range(y.shape[1]):
            model = LogisticRegression(C=c, class_weight=weight, max_iter=2000, random_state=seed).fit(x, y[:, j])
            rows.append(model.coef_[0])
            biases.append(model.intercept_[0])
        return DenseHead([np.array(rows)], [np.array(biases)], "sigmoid")
    model = LogisticRegression(C=c, class_weight=weight, max_iter=2000, random_state=seed).fit(x, y)
    output = "binary" if model.coef_.shape[0] == 1 else "softmax"
    return DenseHead([model.coef_.astype(np.float64)], [model.intercept_.astype(np.float64)], output)


def _fit_mlp(x, y, alpha, class_weight, seed, multi_label) -> DenseHead:
    from sklearn.neural_network import MLPClassifier
    from sklearn.utils.class_weight import compute_sample_weight

    model = MLPClassifier(hidden_layer_sizes=(MLP_HIDDEN,), alpha=alpha, max_iter=300, early_stopping=False,
                          random_state=seed)  # fmt: skip
    sample_weight = None
    if class_weight == "balanced":
        sample_weight = compute_sample_weight("balanced", y)
    model.fit(x, y, sample_weight=sample_weight)
    weights = [w.T.astype(np.float64) for w in model.coefs_]
    biases = [b.astype(np.float64) for b in model.intercepts_]
    output = "sigmoid" if multi_label else ("binary" if weights[-1].shape[0] == 1 else "softmax")
    return DenseHead(weights, biases, output)
