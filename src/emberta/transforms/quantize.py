"""Quantizers: int8 codes with per-dimension ranges from calibration data, and binary (sign) codes packed
8 per byte. transform gives codes; inverse_transform the float32 vectors the codes stand for."""

from __future__ import annotations

import numpy as np

from emberta.transforms.base import Transform


class _Quantizer(Transform):
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = []  # codes are integers, not floats
        return tags

    def quantize_dequantize(self, X) -> np.ndarray:
        """The float32 vectors the codes of X stand for (what search over the codes sees)."""
        return self.inverse_transform(self.transform(X))


class Int8Quantizer(_Quantizer):
    """Per-dimension int8: the range of each dimension is taken at quantiles (`lower`, `upper`) of the fit
    (calibration) data and mapped linearly onto -128..127; values outside are clipped. 1 byte per dim."""

    def __init__(self, lower: float = 0.0, upper: float = 1.0):
        self.lower = lower
        self.upper = upper

    def fit(self, X, y=None):
        X = self.check_fit(X)
        self.low_, self.high_ = np.quantile(X, [self.lower, self.upper], axis=0)
        self.step_ = np.where(self.high_ > self.low_, (self.high_ - self.low_) / 255.0, 1.0)
        return self

    def transform(self, X):
        X = self.check(X)
        return np.clip(np.round((X - self.low_) / self.step_) - 128, -128, 127).astype(np.int8)

    def inverse_transform(self, codes):
        check = np.asarray(codes)
        return ((check.astype(np.float64) + 128) * self.step_ + self.low_).astype(np.float32)

    def bytes_per_vector(self) -> int:
        return int(self.n_features_in_)


class BinaryQuantizer(_Quantizer):
    """One bit per dimension: 1 where the value exceeds its threshold (0, or the fit data's mean per
    dimension with threshold="mean"), packed 8 per byte (numpy.packbits). inverse_transform gives +-1
    vectors, whose cosine is 1 - 2 * Hamming distance / dim."""

    def __init__(self, threshold: str = "zero"):
        self.threshold = threshold

    def fit(self, X, y=None):
        X = self.check_fit(X)
        if self.threshold not in ("zero", "mean"):
            raise ValueError(f"threshold must be 'zero' or 'mean', got {self.threshold!r}")
        self.thresholds_ = X.mean(axis=0) if self.threshold == "mean" else np.zeros(X.shape[1])
        return self

    def transform(self, X):
        X = self.check(X)
        return np.packbits(X > self.thresholds_, axis=1)  # noqa: SIM300 - X is the data, not a constant

    def inverse_transform(self, codes):
        bits = np.unpackbits(np.asarray(codes, dtype=np.uint8), axis=1, count=self.n_features_in_)
        return (bits.astype(np.float32) * 2 - 1).astype(np.float32)

    def bytes_per_vector(self) -> int:
        return int((self.n_features_in_ + 7) // 8)
