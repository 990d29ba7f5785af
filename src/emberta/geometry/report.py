"""All measures of one embedding matrix in one report (a JSON-ready dict)."""

from __future__ import annotations

import dataclasses

import numpy as np

from emberta.geometry._common import as_matrix, sample_rows
from emberta.geometry.alignment import alignment_uniformity
from emberta.geometry.hubness import hubness
from emberta.geometry.intrinsic import intrinsic_dimension
from emberta.geometry.isotropy import isotropy
from emberta.geometry.language import language_separability
from emberta.geometry.rogue import rogue_dimensions
from emberta.geometry.spectrum import spectrum

MAX_ROWS = 5_000


def measure_all(x, *, positives=None, languages=None, k: int = 10, seed: int = 0) -> dict:
    """Every measure of `x` (at most MAX_ROWS rows, sampled with `seed`); hubness also after mutual proximity
    and local scaling. positives: row-aligned partner vectors (alignment); languages: a label per row."""
    from emberta.transforms.hubness import HubnessReduction

    x = as_matrix(x)
    rows = sample_rows(len(x), MAX_ROWS, seed)
    sample = x[rows]
    report = {"rows": len(x), "rows_measured": len(sample), "dim": int(x.shape[1])}
    report["isotropy"] = _plain(isotropy(sample))
    rogue = rogue_dimensions(sample)
    report["rogue_dimensions"] = {
        "expected_cosine": rogue.expected_cosine, "rogue": rogue.rogue, "threshold": rogue.threshold,
        "top": [{"dim": d, "share": float(rogue.shares[d])} for d in rogue.top],
    }  # fmt: skip
    report["hubness"] = _plain(hubness(sample, k=k))
    for method in ("mp", "ls"):
        reducer = HubnessReduction(method=method, k=k).fit(sample)
        report[f"hubness_{method}"] = _plain(hubness(scores=reducer.scores(sample, sample), k=k))
    report["intrinsic_dimension"] = _plain(intrinsic_dimension(sample))
    spec = spectrum(sample)
    report["spectrum"] = {
        "effective_rank": spec.effective_rank,
        "dims_for_variance": {str(p): d for p, d in spec.dims_for.items()},
        "explained_variance_top10": [float(v) for v in spec.explained_variance[:10]],
    }
    paired = None if positives is None else as_matrix(positives, "positives")[rows]
    report["alignment_uniformity"] = _plain(alignment_uniformity(sample, paired))
    if languages is not None:
        report["language_separability"] = _plain(language_separability(sample, np.asarray(languages)[rows]))
    return report


def _plain(result) -> dict:
    return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in dataclasses.asdict(result).items()}
