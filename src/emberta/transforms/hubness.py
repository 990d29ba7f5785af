"""Hubness-aware re-scoring of query-corpus similarity matrices: mutual proximity (empiric and Gaussian;
Schnitzer et al. 2012), local scaling and NICDM (Zelnik-Manor & Perona 2005; Jegou et al. 2010), and CSLS
(Conneau et al. 2018). fit(corpus) learns each document's neighbourhood; scores(queries, corpus) gives a
re-scored similarity matrix (higher = more similar)."""

from __future__ import annotations

import numpy as np
from scipy.stats import norm
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from emberta.similarity import score_matrix

METHODS = ("mp", "mp_gauss", "ls", "nicdm", "csls")


class HubnessReduction(BaseEstimator):
    """method: mp (empiric mutual proximity), mp_gauss, ls (local scaling), nicdm, csls; k: neighbourhood size
    for ls, nicdm and csls; sample: corpus rows whose distances describe each document for mp / mp_gauss."""

    def __init__(self, method: str = "mp", k: int = 10, sample: int = 2000, seed: int = 0):
        self.method = method
        self.k = k
        self.sample = sample
        self.seed = seed

    def fit(self, corpus, y=None):
        if self.method not in METHODS:
            raise ValueError(f"unknown hubness reduction {self.method!r}; choose one of {', '.join(METHODS)}")
        corpus = np.asarray(corpus, dtype=np.float32)
        n = len(corpus)
        rng = np.random.default_rng(self.seed)
        reference = (
            corpus[rng.choice(n, size=min(self.sample, n), replace=False)] if self.method.startswith("mp") else corpus
        )
        similarity = score_matrix(corpus, reference)
        if self.method.startswith("mp"):
            distance = 1 - similarity
            self.sorted_distances_ = np.sort(distance, axis=1)  # the document side of P(D > d)
            self.mean_, self.std_ = distance.mean(axis=1), distance.std(axis=1) + 1e-12
        else:
            np.fill_diagonal(similarity, -np.inf)
            k = min(self.k, n - 1)
            top = -np.sort(-similarity, axis=1)[:, :k]
            if self.method == "csls":
                self.neighbourhood_ = top.mean(axis=1)  # r_T(y): mean similarity to its k nearest documents
            else:
                distance = 1 - top
                self.scale_ = distance[:, -1] if self.method == "ls" else distance.mean(axis=1)
        self.n_corpus_ = n
        return self

    def scores(self, queries, corpus) -> np.ndarray:
        """(n_queries, n_corpus) re-scored similarities; `corpus` must be the fit corpus (same rows)."""
        check_is_fitted(self)
        similarity = score_matrix(np.asarray(queries, dtype=np.float32), np.asarray(corpus, dtype=np.float32))
        if similarity.shape[1] != self.n_corpus_:
            raise ValueError(f"the corpus has {similarity.shape[1]} rows; fit saw {self.n_corpus_}")
        distance = (1 - similarity).astype(np.float64)
        if self.method == "csls":
            k = min(self.k, similarity.shape[1])
            r_query = -np.sort(-similarity, axis=1)[:, :k].mean(axis=1)
            return 2 * similarity - r_query[:, None] - self.neighbourhood_[None, :]
        if self.method in ("ls", "nicdm"):
            k = min(self.k, distance.shape[1])
            nearest = np.sort(distance, axis=1)[:, :k]
            query_scale = nearest[:, -1] if self.method == "ls" else nearest.mean(axis=1)
            scale = np.maximum(np.outer(query_scale, self.scale_), 1e-12)
            if self.method == "ls":
                return np.exp(-(distance**2) / scale)  # 1 - local-scaling distance
            return -distance / np.sqrt(scale)
        if self.method == "mp_gauss":
            q_mean, q_std = distance.mean(axis=1), distance.std(axis=1) + 1e-12
            p_query = norm.sf(distance, loc=q_mean[:, None], scale=q_std[:, None])
            p_doc = norm.sf(distance, loc=self.mean_[None, :], scale=self.std_[None, :])
            return p_query * p_doc
        # empiric: P(query's distance to another document > d) * P(document's distance to another > d)
        order = np.sort(distance, axis=1)
        p_query = np.empty_like(distance)
        for i in range(len(distance)):
            p_query[i] = 1 - np.searchsorted(order[i], distance[i], side="right") / distance.shape[1]
        p_doc = np.empty_like(distance)
        m = self.sorted_distances_.shape[1]
        for j in range(distance.shape[1]):
            p_doc[:, j] = 1 - np.searchsorted(self.sorted_distances_[j], distance[:, j], side="right") / m
        return p_query * p_doc
