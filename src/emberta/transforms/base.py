"""The base of emberta's post-hoc transforms: a scikit-learn estimator (parameters stored as given in __init__,
learned state ending in "_", `fit` returns self) that takes float (n, d) arrays and gives float32 arrays."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data


class Transform(TransformerMixin, BaseEstimator):
    """Shared input checks for subclasses: `check_fit(X)` in `fit` (float (n, d), n >= 2, no NaN), `check(X)`
    in `transform` (fitted, the same width as at fit time)."""

    def check_fit(self, X) -> np.ndarray:
        return validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)

    def check(self, X) -> np.ndarray:
        check_is_fitted(self)
        return validate_data(self, X, dtype=[np.float64, np.float32], reset=False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.transformer_tags.preserves_dtype = ["float32"]  # the project's one data type: float32 out
        return tags
