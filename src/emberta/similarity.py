"""Similarity of embedding matrices (float32 (n, dim) in, float scores out), with sentence-transformers'
semantics: "cosine", "dot", and "euclidean" / "manhattan" as negated distances (higher = more similar)."""

from __future__ import annotations

import numpy as np

from emberta.errors import OptionError

SIMILARITY_FUNCTIONS = ("cosine", "dot", "euclidean", "manhattan")


def unit_rows(x: np.ndarray, dtype=np.float64) -> np.ndarray:
    """Rows of `x` (an (n, dim) matrix, or one vector) scaled to unit L2 norm in `dtype`; zero rows stay zero.
    The one L2 normalisation of the project: encoders, indexes, the server and the measures all use it."""
    x = np.asarray(x, dtype=dtype)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norms == 0, 1, norms).astype(dtype)


def paired_cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of row i of `a` with row i of `b`."""
    return (unit_rows(a) * unit_rows(b)).sum(axis=1)


def paired_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (np.asarray(a, dtype=np.float64) * np.asarray(b, dtype=np.float64)).sum(axis=1)


def paired_euclidean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distance (not negated) of paired rows."""
    return np.linalg.norm(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64), axis=1)


def paired_manhattan(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Manhattan distance (not negated) of paired rows."""
    return np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)).sum(axis=1)


def paired_scores(a: np.ndarray, b: np.ndarray, function: str = "cosine") -> np.ndarray:
    """Similarity of row i of `a` with row i of `b` under `function` (distances negated)."""
    _check(function)
    if function == "cosine":
        return paired_cosine(a, b)
    if function == "dot":
        return paired_dot(a, b)
    if function == "euclidean":
        return -paired_euclidean(a, b)
    return -paired_manhattan(a, b)


def score_matrix(a: np.ndarray, b: np.ndarray, function: str = "cosine") -> np.ndarray:
    """(len(a), len(b)) similarities under `function`, in float32 as sentence-transformers computes them."""
    _check(function)
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    if function == "cosine":
        return unit_rows(a, np.float32) @ unit_rows(b, np.float32).T
    if function == "dot":
        return a @ b.T
    if function == "euclidean":
        squared = (a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2 * a @ b.T
        return -np.sqrt(np.maximum(squared, 0))
    return -np.abs(a[:, None, :] - b[None, :, :]).sum(axis=2)


def _check(function: str) -> None:
    if function not in SIMILARITY_FUNCTIONS:
        raise OptionError(f"unknown similarity function {function!r}; choose one of {', '.join(SIMILARITY_FUNCTIONS)}")
