"""The options of `emberta tag train` / `emberta.classify.tagging.train_tagger`, checked once."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from emberta.classify.options import LOSSES
from emberta.classify.tagging.schemes import SCHEMES
from emberta.errors import OptionError

OFFSET_POSITION_MODELS = ("roberta", "xlm-roberta", "camembert", "longformer", "bertweet", "mpnet", "data2vec-text")


@dataclass(frozen=True)
class TagOptions:
    """epochs, lr (peak learning rate), batch_size (windows per step), warmup_ratio; patience: epochs without a
    better dev entity F1 (token accuracy for plain tags) before stopping. max_length: tokens per window (None:
    the model's own limit, at most 512); stride: sub-words shared by the windows of a longer sentence.
    loss: ce | weighted-ce (class weights n / (k * count), for rare tags) | focal, focal_gamma. scheme: auto |
    bio | bioes | none; strict: refuse tags that break the scheme instead of repairing them. seed."""

    epochs: float = 3.0
    lr: float = 5e-5
    batch_size: int = 16
    warmup_ratio: float = 0.1
    patience: int = 2
    max_length: int | None = 128
    stride: int = 32
    loss: str = "ce"
    focal_gamma: float = 2.0
    scheme: str = "auto"
    strict: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        checks = [
            (self.epochs > 0 and self.batch_size > 0, "--epochs and --batch-size must be positive"),
            (self.lr > 0, "--lr must be positive"),
            (self.max_length is None or self.max_length >= 8, "--max-length must be at least 8 tokens"),
            (self.stride >= 0, "--stride must be 0 or more"),
            (self.patience >= 1, "--patience must be at least 1"),
            (self.loss in LOSSES, f"unknown --loss {self.loss!r}; choose one of {', '.join(LOSSES)}"),
            (self.focal_gamma >= 0, "--focal-gamma must be 0 or more"),
            (self.scheme in ("auto", *SCHEMES), f"unknown --scheme {self.scheme!r}; choose auto, {', '.join(SCHEMES)}"),
        ]  # fmt: skip
        for ok, message in checks:
            if not ok:
                raise OptionError(message)

    def record(self) -> dict:
        """The options as JSON-ready data (for tagger.json)."""
        return asdict(self)

    def window(self, tokenizer, config) -> int:
        """Tokens per window: max_length, capped by what the model takes (model_positions)."""
        limit = model_positions(tokenizer, config)
        return min(self.max_length or limit, limit)


def model_positions(tokenizer, config) -> int:
    """The longest input the model takes, special tokens included: its position embeddings (less the offset of
    RoBERTa-style models, whose positions start after the padding id) and the tokenizer's model_max_length,
    whichever is smaller (512 when neither says)."""
    positions = int(getattr(config, "max_position_embeddings", 0) or 0)
    if positions and getattr(config, "model_type", "") in OFFSET_POSITION_MODELS:
        positions -= int(getattr(config, "pad_token_id", 1) or 0) + 1
    limit = int(getattr(tokenizer, "model_max_length", 0) or 0)
    limits = [n for n in (positions, limit if limit < 100_000 else 0) if n > 0]
    return min(limits) if limits else 512
