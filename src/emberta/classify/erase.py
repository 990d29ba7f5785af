"""Concept erasure before the head (`--erase-subspace FIELD`): LEACE (Belrose et al., "LEACE: Perfect linear
concept erasure in closed form", NeurIPS 2023) removes from the embeddings the linear subspace that predicts a
nuisance attribute (a second label column), with the least change to the embeddings in the mean-squared sense.

Inputs: embeddings (n, dim) and the nuisance label of each row. It is fitted with the `concept-erasure`
package (the `classify` extra) and kept as three arrays, applied with numpy:
x' = x - ((x - bias) @ right.T) @ left.T.

Example:
    eraser = fit_eraser(train_vectors, ["en", "fr", ...])
    head_input = eraser.apply(vectors)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emberta.errors import OptionError


@dataclass
class Eraser:
    """A fitted LEACE eraser: x' = x - ((x - bias) @ right.T) @ left.T."""

    left: np.ndarray
    right: np.ndarray
    bias: np.ndarray

    def apply(self, x: np.ndarray) -> np.ndarray:
        """The embeddings with the nuisance subspace removed (float32)."""
        delta = np.asarray(x, dtype=np.float64) - self.bias
        return (x - (delta @ self.right.T) @ self.left.T).astype(np.float32)


def fit_eraser(x: np.ndarray, nuisance: list[str]) -> Eraser:
    """LEACE fitted on embeddings `x` and the nuisance attribute of each row (at least two values)."""
    try:
        import torch
        from concept_erasure import LeaceEraser
    except ImportError:
        message = "--erase-subspace needs the concept-erasure package: pip install 'emberta[classify]'"
        raise OptionError(message) from None
    values = sorted(set(nuisance))
    if len(values) < 2:
        raise OptionError(f"--erase-subspace: the nuisance field has one value only ({values[0]!r}); it needs two "
                          "or more to have a subspace to erase")  # fmt: skip
    index = {v: i for i, v in enumerate(values)}
    z = torch.nn.functional.one_hot(torch.tensor([index[v] for v in nuisance]), len(values)).double()
    fitted = LeaceEraser.fit(torch.from_numpy(np.asarray(x, dtype=np.float64)), z)
    bias = np.zeros(x.shape[1]) if fitted.bias is None else fitted.bias.numpy()
    return Eraser(fitted.proj_left.numpy().astype(np.float64), fitted.proj_right.numpy().astype(np.float64), bias)


def linear_leakage(x: np.ndarray, nuisance: list[str], seed: int = 0) -> float:
    """How well a logistic regression predicts the nuisance attribute from `x` (macro-F1, 3-fold): what
    erasure should bring down to chance."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.model_selection import cross_val_predict

    y = np.array(nuisance)
    folds = min(3, int(min(np.unique(y, return_counts=True)[1])))
    if folds < 2:
        return float("nan")
    pred = cross_val_predict(LogisticRegression(max_iter=1000, random_state=seed), x, y, cv=folds)
    return float(f1_score(y, pred, average="macro"))
