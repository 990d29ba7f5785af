"""Cross-model adapters: maps from one encoder's embedding space into another's, fitted on paired rows
(the same texts encoded by both models). They follow Drift-Adapter (Vejendla, EMNLP 2025), which maps a new
model's queries into an old model's space so an index keeps serving while its documents are re-encoded.

Each is a scikit-learn estimator: `fit(X_source, y=X_target)` with X_source (n, d_source) and X_target
(n, d_target) rows of the same n texts, then `transform(X_source) -> (n, d_target)` float32. Saved and loaded
without pickle by `emberta.transforms.save_transforms` / `load_transforms`.

Example::

    adapter = Procrustes().fit(new_model_vectors, old_model_vectors)
    old_space_queries = adapter.transform(new_model.encode(queries))
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted, validate_data

from emberta.transforms.base import Transform


class PairedTransform(Transform):
    """Shared checks of adapters: X and y float (n, d) with the same rows; at least `min_pairs` of them."""

    def check_pairs(self, X, y) -> tuple[np.ndarray, np.ndarray]:
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None: give the "
                "target model's vectors of the same rows"
            )
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], multi_output=True, y_numeric=True,
                             ensure_min_samples=2)  # fmt: skip
        y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        needed = self.min_pairs(X.shape[1], y.shape[1])
        if len(X) < needed:
            raise ValueError(f"{type(self).__name__} needs at least {needed} pairs here, got {len(X)}; {self.advice()}")
        return np.asarray(X, dtype=np.float64), y

    def min_pairs(self, d_source: int, d_target: int) -> int:
        return 2

    def set_affine(self, matrix: np.ndarray, bias: np.ndarray) -> None:
        """Keep the fitted map x -> x @ matrix + bias as float32 (one product per query at transform time)."""
        self.matrix_ = np.ascontiguousarray(matrix, dtype=np.float32)
        self.bias_ = np.asarray(bias, dtype=np.float32)

    def affine(self, X: np.ndarray) -> np.ndarray:
        return X.astype(np.float32, copy=False) @ self.matrix_ + self.bias_

    def advice(self) -> str:
        return "give more pairs"

    def check(self, X) -> np.ndarray:
        """X as a float matrix, checked like scikit-learn does; a fitted adapter's fast path for plain float matrices
        keeps mapping one query at a few microseconds (validate_data alone costs about a hundred)."""
        if (isinstance(X, np.ndarray) and X.dtype in (np.float32, np.float64) and X.ndim == 2 and len(X)
                and X.shape[1] == getattr(self, "n_features_in_", -1) and np.isfinite(X).all()):  # fmt: skip
            return X
        check_is_fitted(self)
        return np.asarray(validate_data(self, X, dtype=[np.float64, np.float32], reset=False))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags


class Procrustes(PairedTransform):
    """Orthogonal Procrustes: the rotation W (W^T W = I) that best maps source rows onto target rows
    (Schönemann 1966), optionally after centring both sides and with one global scale. Different widths are
    bridged by zero-padding the narrower side (`dims="pad"`) or by projecting both onto their top principal
    directions (`dims="pca"`). It needs at least as many pairs as dimensions (fewer leave the rotation
    undetermined)."""

    def __init__(self, center: bool = True, scale: bool = False, dims: str = "pad"):
        self.center = center
        self.scale = scale
        self.dims = dims

    def min_pairs(self, d_source: int, d_target: int) -> int:
        return max(d_source, d_target) if self.dims == "pad" else min(d_source, d_target)

    def advice(self) -> str:
        return "give more pairs, or fit LowRankAffine(rank) with a rank below the number of pairs"

    def fit(self, X, y=None):
        if self.dims not in ("pad", "pca"):
            raise ValueError(f"dims={self.dims!r}: choose 'pad' or 'pca'")
        X, y = self.check_pairs(X, y)
        source_mean = X.mean(axis=0) if self.center else np.zeros(X.shape[1])
        target_mean = y.mean(axis=0) if self.center else np.zeros(y.shape[1])
        xs, ys = X - source_mean, y - target_mean
        if self.dims == "pca" and X.shape[1] != y.shape[1]:
            width = min(X.shape[1], y.shape[1])
            source_basis, target_basis = _principal_axes(xs, width), _principal_axes(ys, width)
        else:
            width = max(X.shape[1], y.shape[1])
            source_basis, target_basis = np.eye(X.shape[1], width), np.eye(y.shape[1], width)
        a, b = xs @ source_basis, ys @ target_basis
        u, singular, vt = np.linalg.svd(a.T @ b)
        self.scale_ = float(singular.sum() / max((a**2).sum(), 1e-12)) if self.scale else 1.0
        matrix = source_basis @ (u @ vt) @ target_basis.T * self.scale_
        self.set_affine(matrix, target_mean - source_mean @ matrix)
        return self

    def transform(self, X):
        return self.affine(self.check(X))


class LowRankAffine(PairedTransform):
    """Reduced-rank ridge regression: the affine map y = x W + b with W of rank at most `rank` (Izenman 1975):
    ridge least squares (penalty `alpha`, relative to the mean squared norm of the source rows), then the
    fitted values projected onto their top `rank` principal directions. rank=None keeps the full map, which
    needs more pairs than source dimensions."""

    def __init__(self, rank: int | None = 64, alpha: float = 1e-3):
        self.rank = rank
        self.alpha = alpha

    def min_pairs(self, d_source: int, d_target: int) -> int:
        return d_source + 1 if self.rank is None else self.rank + 1

    def advice(self) -> str:
        return "give more pairs, or choose a rank below the number of pairs"

    def fit(self, X, y=None):
        if self.rank is not None and self.rank < 1:
            raise ValueError(f"rank={self.rank} must be at least 1 (or None for the full map)")
        X, y = self.check_pairs(X, y)
        source_mean, target_mean = X.mean(axis=0), y.mean(axis=0)
        xs, ys = X - source_mean, y - target_mean
        weights = _ridge(xs, ys, self.alpha)
        if self.rank is not None and self.rank < min(weights.shape):
            _, _, vt = np.linalg.svd(xs @ weights, full_matrices=False)
            top = vt[: self.rank]
            weights = weights @ top.T @ top
        self.set_affine(weights, target_mean - source_mean @ weights)
        return self

    def transform(self, X):
        return self.affine(self.check(X))


class ResidualMLP(PairedTransform):
    """A full affine map (ridge) plus a one-hidden-layer ReLU network fitted on what the affine map leaves
    over, as in Drift-Adapter's residual MLP; the network is dropped when it does not lower the fit's squared
    error. It is trained by scikit-learn's MLPRegressor (Adam, early stopping on 10% of the pairs when there
    are at least 50) and kept as plain float32 weight matrices, so transforming is three matrix products."""

    def __init__(self, hidden: int = 256, alpha: float = 1e-4, max_iter: int = 200, random_state: int = 0):
        self.hidden = hidden
        self.alpha = alpha
        self.max_iter = max_iter
        self.random_state = random_state

    def fit(self, X, y=None):
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPRegressor

        X, y = self.check_pairs(X, y)
        linear = LowRankAffine(rank=None, alpha=1e-3).fit(X, y) if len(X) > X.shape[1] else \
            LowRankAffine(rank=len(X) - 1, alpha=1e-3).fit(X, y)  # fmt: skip
        self.set_affine(linear.matrix_, linear.bias_)
        residual = y - linear.transform(X).astype(np.float64)
        net = MLPRegressor(hidden_layer_sizes=(self.hidden,), alpha=self.alpha, max_iter=self.max_iter,
                           early_stopping=len(X) >= 50, random_state=self.random_state)  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            net.fit(X, residual[:, 0] if residual.shape[1] == 1 else residual)
        self.n_iter_ = int(net.n_iter_)
        layers = [np.asarray(a, dtype=np.float32) for a in (*net.coefs_, *net.intercepts_)]
        self.hidden_weights_, self.output_weights_, self.hidden_bias_, self.output_bias_ = layers
        if ((residual - self._residual(X)) ** 2).mean() >= (residual**2).mean():  # the network does not help
            self.output_weights_[:], self.output_bias_[:] = 0.0, 0.0
        return self

    def _residual(self, X: np.ndarray) -> np.ndarray:
        hidden = np.maximum(X.astype(np.float32, copy=False) @ self.hidden_weights_ + self.hidden_bias_, 0.0)
        return (hidden @ self.output_weights_ + self.output_bias_).reshape(len(X), -1)

    def transform(self, X):
        X = self.check(X)
        return self.affine(X) + self._residual(X)


def _principal_axes(x: np.ndarray, width: int) -> np.ndarray:
    """(d, width) orthonormal columns: the top `width` principal directions of centred rows x."""
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    axes = vt[:width].T
    if axes.shape[1] < width:  # fewer rows than width: complete with zero columns
        axes = np.pad(axes, ((0, 0), (0, width - axes.shape[1])))
    return axes


def _ridge(x: np.ndarray, y: np.ndarray, alpha: float) -> np.ndarray:
    """argmin_W |x W - y|^2 + alpha * mean squared row norm of x * |W|^2, for centred x and y."""
    penalty = alpha * max(float((x**2).sum(axis=1).mean()), 1e-12)
    gram = x.T @ x + penalty * np.eye(x.shape[1])
    return np.linalg.solve(gram, x.T @ y)
