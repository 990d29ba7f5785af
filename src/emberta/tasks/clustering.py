"""Clustering (MTEB's fast protocol): embed a 4% sample of the documents, then 10 times cluster a bootstrap
draw of them with MiniBatchKMeans (k = number of labels) and score the V-measure against the labels."""

from __future__ import annotations

import os
import random
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from sklearn.cluster import MiniBatchKMeans
from sklearn.metrics.cluster import adjusted_mutual_info_score, v_measure_score
from threadpoolctl import threadpool_limits

MAIN_SCORE = "v_measure"
SEED = 42
FRACTION_TO_EMBED = 0.04
N_BOOTSTRAPS = 10
DOCUMENTS_PER_BOOTSTRAP = 16_384
KMEANS_BATCH_SIZE = 512


def sample_documents(n: int, rng: random.Random, fraction: float | None = FRACTION_TO_EMBED) -> list[int]:
    """Indices of the documents to embed: `fraction` of `n`, drawn without replacement (all when None)."""
    if fraction is None:
        return list(range(n))
    k = min(n, int(fraction * n))
    return rng.sample(range(n), k=k)


def evaluate_clustering(
    vectors: np.ndarray,
    labels,
    rng: random.Random,
    *,
    n_bootstraps: int = N_BOOTSTRAPS,
    documents_per_bootstrap: int = DOCUMENTS_PER_BOOTSTRAP,
    seed: int = SEED,
) -> dict:
    """Mean and std of V-measure and adjusted mutual information over `n_bootstraps` k-means runs, each on
    `documents_per_bootstrap` rows drawn with replacement by `rng` (continue the rng that sampled the rows)."""
    labels = np.asarray(labels)
    if len(labels) < 2:
        raise ValueError("clustering needs at least two documents")
    n_clusters = np.unique(labels).size
    draws = [rng.choices(range(len(vectors)), k=documents_per_bootstrap) for _ in range(n_bootstraps)]

    def score(rows: list[int]) -> tuple[float, float]:
        model = MiniBatchKMeans(
            n_clusters=n_clusters, batch_size=KMEANS_BATCH_SIZE, init="k-means++", n_init=1, random_state=seed
        )
        assignment = model.fit_predict(vectors[rows])
        return float(v_measure_score(labels[rows], assignment)), float(
            adjusted_mutual_info_score(labels[rows], assignment)
        )

    # Each fit is deterministic given its rows, so running them side by side changes no result. Single-threaded
    # fits in a pool are faster than OpenMP-threaded fits one after another on these small mini-batches.
    with threadpool_limits(1), ThreadPoolExecutor(max_workers=min(n_bootstraps, os.cpu_count() or 1)) as pool:
        scores = list(pool.map(score, draws))
    v_measures, amis = [s[0] for s in scores], [s[1] for s in scores]
    return {
        "v_measure": float(np.mean(v_measures)),
        "v_measure_std": float(np.std(v_measures)),
        "ami": float(np.mean(amis)),
        "ami_std": float(np.std(amis)),
        "v_measures": {"Level 0": v_measures},
    }
