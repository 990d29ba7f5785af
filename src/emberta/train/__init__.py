"""Training recipes on the sentence-transformers trainer: `train_embed` (see embed.py)."""

from emberta.train.embed import LOSSES, TrainConfig, train_embed

__all__ = ["LOSSES", "TrainConfig", "train_embed"]
