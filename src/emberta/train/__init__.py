"""Training recipes on the sentence-transformers trainer: `train_embed` (embed.py), `mine_negatives` /
`mine_file` (mining.py)."""

from emberta.train.config import TrainConfig
from emberta.train.embed import train_embed
from emberta.train.losses import LOSSES
from emberta.train.mining import MiningOptions, mine_file, mine_negatives

__all__ = ["LOSSES", "MiningOptions", "TrainConfig", "mine_file", "mine_negatives", "train_embed"]
