"""Language separability: how well a linear probe tells the language of a text from its embedding."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

from emberta.geometry._common import as_matrix


@dataclass(frozen=True)
class LanguageSeparability:
    """accuracy: mean 5-fold accuracy of a logistic regression predicting the language; chance: the share of
    the most frequent language (what predicting it always would score)."""

    accuracy: float
    chance: float
    languages: int


def language_separability(x, languages, *, folds: int = 5, seed: int = 0) -> LanguageSeparability:
    x = as_matrix(x)
    labels = np.asarray(languages)
    _, counts = np.unique(labels, return_counts=True)
    if len(counts) < 2:
        raise ValueError("language separability needs at least two languages")
    probe = LogisticRegression(max_iter=1000, random_state=seed)
    scores = cross_val_score(probe, x, labels, cv=min(folds, int(counts.min())))
    return LanguageSeparability(float(scores.mean()), float(counts.max() / counts.sum()), len(counts))
