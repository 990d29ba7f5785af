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


def measure_all(x, *, languages=None, k: int = 10, seed: int = 0) -> dict:
    """Every measure of `x` (at most MAX_ROWS rows, sampled with `seed`: `sample_indices` gives them);
    languages: a label per row."""
    x = as_matrix(x)
    rows = sample_indices(len(x), seed)
    sample = x[rows]
    report = {"rows": len(x), "rows_measured": len(sample), "dim": int(x.shape[1])}
    report["isotropy"] = plain(isotropy(sample))
    rogue = rogue_dimensions(sample)
    report["rogue_dimensions"] = {
        "expected_cosine": rogue.expected_cosine, "rogue": rogue.rogue, "threshold": rogue.threshold,
        "top": [{"dim": d, "share": float(rogue.shares[d])} for d in rogue.top],
    }  # fmt: skip
    report["hubness"] = plain(hubness(sample, k=k))
    report["intrinsic_dimension"] = plain(intrinsic_dimension(sample))
    spec = spectrum(sample)
    report["spectrum"] = {
        "effective_rank": spec.effective_rank,
        "dims_for_variance": {str(p): d for p, d in spec.dims_for.items()},
        "explained_variance_top10": [float(v) for v in spec.explained_variance[:10]],
    }
    report["alignment_uniformity"] = plain(alignment_uniformity(sample))
    if languages is not None:
        report["language_separability"] = plain(language_separability(sample, np.asarray(languages)[rows]))
    return report


def sample_indices(n: int, seed: int = 0) -> np.ndarray:
    """The rows of an (n, dim) matrix that `measure_all` measures."""
    return sample_rows(n, MAX_ROWS, seed)


def plain(result) -> dict:
    """A measure's dataclass as a JSON-ready dict."""
    return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in dataclasses.asdict(result).items()}
