"""Distil an encoder into a model2vec static model (needs torch and model2vec's `distill` extra)."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

from emberta.encoders.model_folder import resolve_model_folder
from emberta.encoders.offline import force_offline
from emberta.encoders.static_backend import CONFIG_NAME
from emberta.errors import OptionError
from emberta.io.atomic import staged_dir
from emberta.version import __version__


def distill_static(spec: str | Path, out: str | Path, *, dims: int | None = 256, show_progress: bool = False) -> Path:
    """Distil `spec` with model2vec (a forward pass over the vocabulary, PCA to `dims`, SIF weights) into the
    folder `out`, written atomically. show_progress: let model2vec draw its progress bar on stderr (off: stderr
    stays clean, as in logs). Returns `out`."""
    out = Path(out)
    if not out.parent.is_dir():
        raise OptionError(f"--out {out}: directory {out.parent} does not exist; create it first")
    if dims is not None and dims < 1:
        raise OptionError(f"dims must be at least 1, got {dims}")
    folder = resolve_model_folder(spec)
    force_offline()
    try:
        from model2vec.distill import distill
    except ImportError as exc:
        raise OptionError(
            f"distilling needs model2vec's distill extra: pip install 'emberta[distill]' ({exc})"
        ) from None
    # model2vec's tqdm bar (and its log lines) go to sys.stderr with no switch to turn them off
    quiet = contextlib.nullcontext() if show_progress else contextlib.redirect_stderr(io.StringIO())
    with quiet:
        model = distill(model_name=str(folder.transformer_path), pca_dims=dims)
    with staged_dir(out, "distilling") as staging:
        model.save_pretrained(str(staging))
        meta = {"name": f"{folder.name} (static, {model.dim} dims)", "source": str(folder.path), "dims": model.dim,
                "emberta_version": __version__}  # fmt: skip
        (staging / CONFIG_NAME).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return out
