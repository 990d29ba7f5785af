"""Clustering (MTEB's fast protocol): embed a 4% sample of the documents, then 10 times cluster a bootstrap
draw of them with MiniBatchKMeans (k = number of labels) and score the V-measure against the labels."""

from __future__ import annotations

import random

import numpy as np
from sklearn.cluster import MiniBatchKMeans
from sklearn.metrics.cluster import adjusted_mutual_info_score, v_measure_score

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
    model = MiniBatchKMeans(
        n_clusters=np.unique(labels).size, batch_size=KMEANS_BATCH_SIZE, init="k-means++", n_init=1, random_state=seed
    )
    v_measures, amis = [], []
    for _ in range(n_bootstraps):
        rows = rng.choices(range(len(vectors)), k=documents_per_bootstrap)
        assignment = model.fit_predict(vectors[rows])
        v_measures.append(float(v_measure_score(labels[rows], assignment)))
        amis.append(float(adjusted_mutual_info_score(labels[rows], assignment)))
    return {
        "v_measure": float(np.mean(v_measures)),
        "v_measure_std": float(np.std(v_measures)),
        "ami": float(np.mean(amis)),
        "ami_std": float(np.std(amis)),
        "v_measures": {"Level 0": v_measures},
    }
