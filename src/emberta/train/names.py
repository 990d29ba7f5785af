"""The names `emberta train embed` accepts, kept free of torch so that reading and checking a TrainConfig
stays fast (train/losses.py builds the losses they name)."""

from __future__ import annotations

# loss name -> data formats it trains on
LOSSES = {
    "mnrl": ("pairs", "triplets"),
    "cached-mnrl": ("pairs", "triplets"),
    "gist": ("pairs", "triplets"),
    "cosent": ("scored",),
    "triplet": ("triplets",),
    "mse-distill": ("texts", "pairs", "triplets", "scored"),
    "simcse": ("texts",),
}
IN_BATCH_LOSSES = ("mnrl", "cached-mnrl", "gist", "simcse")  # batches must not hold a text twice
HARDNESS_MODES = ("in_batch_negatives", "hard_negatives", "all_negatives")
LAYER_MODES = ("", "2d", "starbucks")
