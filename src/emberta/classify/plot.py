"""The confusion-matrix PNG of `emberta classify eval` (matplotlib, headless, written atomically)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def confusion_png(labels: list[str], matrix: np.ndarray, path: Path) -> None:
    """Draw `matrix` (rows: true label, columns: predicted), normalised per row with the counts written in the
    cells, to the PNG file `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from emberta.io.atomic import temp_path_for

    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, np.maximum(rows, 1))
    size = max(3.5, 0.6 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center", color="white" if share[i, j] > 0.5 else "black")
    fig.tight_layout()
    path = Path(path)
    tmp = temp_path_for(path)
    try:
        fig.savefig(tmp, format="png", dpi=100)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        tmp.unlink(missing_ok=True)
