"""Smaller students for distillation: keep some of a model's transformer layers."""

from __future__ import annotations

import numpy as np
from torch import nn

from emberta.errors import ModelError, OptionError


def keep_layers(model, count: int) -> list[int]:
    """Shrink a SentenceTransformer in place to `count` of its transformer layers, evenly spaced from the first
    to the last (e.g. 3 of 6 keeps layers 0, 2 and 5), as in DistilBERT-style student initialisation. Returns
    the kept layer indices."""
    auto_model = model[0].auto_model
    encoder = getattr(auto_model, "encoder", None)
    layers = getattr(encoder, "layer", None)
    if not isinstance(layers, nn.ModuleList):
        raise ModelError(f"cannot drop layers of a {type(auto_model).__name__}: it has no encoder.layer list")
    total = len(layers)
    if not 1 <= count <= total:
        raise OptionError(f"--student-layers {count}: the model has {total} layers; give 1..{total}")
    kept = sorted({int(i) for i in np.linspace(0, total - 1, count).round()})
    encoder.layer = nn.ModuleList(layers[i] for i in kept)
    auto_model.config.num_hidden_layers = len(kept)
    return kept
