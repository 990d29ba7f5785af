"""Post-hoc linear transforms of embeddings, as scikit-learn estimators (fit returns self; learned state ends
in "_"; arrays in, float32 arrays out)."""

from __future__ import annotations

import numpy as np

from emberta.similarity import unit_rows
from emberta.transforms.base import Transform


class Center(Transform):
    """Subtract the mean vector of the fit data."""

    def fit(self, X, y=None):
        self.mean_ = self.check_fit(X).mean(axis=0)
        return self

    def transform(self, X):
        return (self.check(X) - self.mean_).astype(np.float32)


class PCA(Transform):
    """Project onto the top `n_components` principal directions of the fit data (centred)."""

    def __init__(self, n_components: int = 128):
        self.n_components = n_components

    def fit(self, X, y=None):
        X = self.check_fit(X)
        self.mean_ = X.mean(axis=0)
        _, _, vt = np.linalg.svd(X - self.mean_, full_matrices=False)
        self.components_ = vt[: min(self.n_components, vt.shape[0])]
        return self

    def transform(self, X):
        return ((self.check(X) - self.mean_) @ self.components_.T).astype(np.float32)


class Whiten(Transform):
    """BERT-whitening (Su et al. 2021): centre, rotate to the principal axes and scale each to unit variance;
    with `n_components`, keep only the first k axes."""

    def __init__(self, n_components: int | None = None, epsilon: float = 1e-9):
        self.n_components = n_components
        self.epsilon = epsilon

    def fit(self, X, y=None):
        X = self.check_fit(X)
        self.mean_ = X.mean(axis=0)
        u, s, _ = np.linalg.svd(np.atleast_2d(np.cov((X - self.mean_).T)), hermitian=True)
        kernel = u / np.sqrt(s + self.epsilon)
        self.kernel_ = kernel[:, : self.n_components] if self.n_components else kernel
        return self

    def transform(self, X):
        return ((self.check(X) - self.mean_) @ self.kernel_).astype(np.float32)


class AllButTheTop(Transform):
    """All-but-the-top (Mu & Viswanath 2018): centre, then remove the projections on the top
    `n_components` principal directions."""

    def __init__(self, n_components: int = 3):
        self.n_components = n_components

    def fit(self, X, y=None):
        X = self.check_fit(X)
        self.mean_ = X.mean(axis=0)
        _, _, vt = np.linalg.svd(X - self.mean_, full_matrices=False)
        self.components_ = vt[: self.n_components]
        return self

    def transform(self, X):
        centred = self.check(X) - self.mean_
        return (centred - (centred @ self.components_.T) @ self.components_).astype(np.float32)


class ClipRogueDims(Transform):
    """Tame rogue dimensions (Timkey & van Schijndel 2021): dimensions whose share of the expected cosine
    exceeds `threshold` on the fit data are centred and rescaled to the median spread of all dimensions."""

    def __init__(self, threshold: float = 0.1):
        self.threshold = threshold

    def fit(self, X, y=None):
        from emberta.geometry.rogue import rogue_dimensions

        X = self.check_fit(X)
        self.dims_ = np.asarray(rogue_dimensions(X, threshold=self.threshold).rogue, dtype=np.int64)
        self.center_ = X.mean(axis=0)
        spread = X.std(axis=0)
        self.scale_ = np.where(spread > 0, np.median(spread) / np.where(spread > 0, spread, 1.0), 1.0)
        return self

    def transform(self, X):
        X = np.array(self.check(X), dtype=np.float64, copy=True)
        d = self.dims_
        X[:, d] = (X[:, d] - self.center_[d]) * self.scale_[d]
        return X.astype(np.float32)


class Truncate(Transform):
    """Keep the first `n_components` dimensions (Matryoshka-style prefix)."""

    def __init__(self, n_components: int = 128):
        self.n_components = n_components

    def fit(self, X, y=None):
        X = self.check_fit(X)
        if not 1 <= self.n_components <= X.shape[1]:
            raise ValueError(f"n_components={self.n_components} must lie in 1..{X.shape[1]}")
        self.n_components_ = self.n_components
        return self

    def transform(self, X):
        return self.check(X)[:, : self.n_components_].astype(np.float32)


class Normalize(Transform):
    """Scale rows to unit L2 norm (zero rows stay zero)."""

    def fit(self, X, y=None):
        self.check_fit(X)
        self.fitted_ = True
        return self

    def transform(self, X):
        return unit_rows(self.check(X)).astype(np.float32)


class LanguageCenter(Transform):
    """Subtract each language's mean vector (Libovický et al. 2020). fit(X, y=languages); transform(X,
    groups=None) centres rows by their language, or, without groups, by the nearest language mean."""

    def fit(self, X, y=None):
        X = self.check_fit(X)
        if y is None:
            raise ValueError("LanguageCenter.fit needs the language of each row as y")
        y = np.asarray(y)
        self.languages_ = np.unique(y)
        self.means_ = np.stack([X[y == g].mean(axis=0) for g in self.languages_])
        return self

    def transform(self, X, groups=None):
        X = self.check(X)
        if groups is None:
            distances = ((X[:, None, :] - self.means_[None, :, :]) ** 2).sum(axis=2)
            index = distances.argmin(axis=1)
        else:
            lookup = {g: i for i, g in enumerate(self.languages_)}
            unknown = sorted({g for g in groups if g not in lookup})
            if unknown:
                raise ValueError(f"languages {unknown} were not seen in fit")
            index = np.array([lookup[g] for g in groups])
        return (X - self.means_[index]).astype(np.float32)


class HardDebias(Transform):
    """The neutralize step of hard debiasing (Bolukbasi et al. 2016). fit(X, y): X holds the embeddings of
    definitional words (e.g. "she", "he", "woman", "man") and y the set each row belongs to (rows with the
    same y form a pair or group); the bias direction is the first principal direction of the rows centred
    within their group. transform removes each row's projection on that direction."""

    def fit(self, X, y=None):
        X = self.check_fit(X)
        if y is None:
            raise ValueError("HardDebias.fit needs y: the definitional pair (or group) of each row")
        y = np.asarray(y)
        centred = X.copy()
        for group in np.unique(y):
            rows = y == group
            centred[rows] -= X[rows].mean(axis=0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        self.direction_ = vt[0]
        return self

    def transform(self, X):
        X = self.check(X)
        return (X - np.outer(X @ self.direction_, self.direction_)).astype(np.float32)


class RemoveLanguageDirections(Transform):
    """Project out the low-rank subspace that tells languages apart (LSAR, Xie et al. 2022): fit(X, y=languages)
    takes each language's mean vector, centres the means, and keeps their top `n_components` principal
    directions; transform removes every row's projection on them. Unlike LanguageCenter it needs no language
    at transform time, so it can sit in an index's transform pipeline."""

    def __init__(self, n_components: int = 1):
        self.n_components = n_components

    def fit(self, X, y=None):
        X = self.check_fit(X)
        if y is None:
            raise ValueError("RemoveLanguageDirections.fit needs the language of each row as y")
        y = np.asarray(y)
        means = np.stack([X[y == g].mean(axis=0) for g in np.unique(y)])
        if not 1 <= self.n_components < len(means):
            raise ValueError(f"n_components={self.n_components} must lie in 1..{len(means) - 1} for {len(means)} "
                             "languages")  # fmt: skip
        _, _, vt = np.linalg.svd(means - means.mean(axis=0), full_matrices=False)
        self.components_ = vt[: self.n_components]
        return self

    def transform(self, X):
        X = self.check(X)
        return (X - (X @ self.components_.T) @ self.components_).astype(np.float32)
