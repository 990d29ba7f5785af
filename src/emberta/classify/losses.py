"""The losses of `--head finetune`, for imbalanced classes: plain cross-entropy (`ce`), class-weighted
cross-entropy (`weighted-ce`) and focal loss (`focal`); multi-label heads use binary cross-entropy.

Each takes logits (batch, k) and labels (batch,) class indices (multi-label: (batch, k) 0/1 floats).
"""

from __future__ import annotations

import numpy as np


def inverse_frequency_weights(labels: list[int], k: int) -> np.ndarray:
    """scikit-learn's "balanced" class weights: n / (k * count(c)) (classes absent from `labels` get 1)."""
    counts = np.bincount(np.asarray(labels, dtype=int), minlength=k).astype(float)
    return np.where(counts > 0, len(labels) / (k * np.maximum(counts, 1)), 1.0)


def build_loss(name: str, *, class_weights: np.ndarray | None = None, gamma: float = 2.0, multi_label: bool = False):
    """The torch module of loss `name` ("ce", "weighted-ce" with `class_weights`, "focal" with `gamma`)."""
    import torch
    from torch import nn

    if multi_label:
        return nn.BCEWithLogitsLoss()
    weight = None if class_weights is None else torch.tensor(class_weights, dtype=torch.float32)
    if name == "focal":
        return FocalLoss(gamma=gamma, weight=weight)
    return nn.CrossEntropyLoss(weight=weight if name == "weighted-ce" else None)


def _focal_class():
    from torch import nn

    class _FocalLoss(nn.Module):
        """Focal loss (Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017):

            FL(p_t) = -(1 - p_t)^gamma * log(p_t)

        where p_t is the softmax probability of the true class. It down-weighs examples the model already gets
        right (large p_t), so training dwells on the hard, often minority-class ones; gamma = 0 is cross-entropy,
        and an optional per-class `weight` (the alpha of the paper) multiplies each example's term.

        Inputs: logits (batch, k), labels (batch,) class indices. Related: CrossEntropyLoss (gamma = 0),
        class-weighted cross-entropy (`--loss weighted-ce`).

        Example:
            loss = FocalLoss(gamma=2.0)
            value = loss(model(**batch).logits, batch["labels"])
            value.backward()
        """

        def __init__(self, gamma: float = 2.0, weight=None):
            super().__init__()
            self.gamma = gamma
            self.register_buffer("weight", weight if weight is not None else None, persistent=False)

        def forward(self, logits, labels):
            import torch

            log_p = torch.log_softmax(logits.float(), dim=-1).gather(1, labels.view(-1, 1)).squeeze(1)
            term = -((1 - log_p.exp()) ** self.gamma) * log_p
            if self.weight is not None:
                term = term * self.weight.to(logits.device)[labels]
            return term.mean()

    return _FocalLoss


def FocalLoss(gamma: float = 2.0, weight=None):  # a class made on first use: torch loads lazily
    """A focal-loss module (see `_focal_class` for the recipe): FL(p_t) = -(1 - p_t)^gamma log p_t."""
    return _focal_class()(gamma=gamma, weight=weight)
