"""Training recipes on the sentence-transformers trainer: `train_embed` (embed.py), `mine_negatives` /
`mine_file` (mining.py)."""

from emberta.train.config import TrainConfig
from emberta.train.embed import train_embed
from emberta.train.mining import MiningCriteria, MiningOptions, mine_file, mine_negatives
from emberta.train.names import LOSSES

__all__ = ["LOSSES", "MiningCriteria", "MiningOptions", "TrainConfig", "mine_file", "mine_negatives", "train_embed"]
