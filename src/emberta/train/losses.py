"""The losses `emberta train embed` offers, built on sentence-transformers' (plus StarbucksLoss, our own).

mnrl         MultipleNegativesRankingLoss (InfoNCE with in-batch and hard negatives; optional hardness
             weighting of negatives, Lan et al. 2025 / RzenEmbed: logit += strength * stop_grad(cos))
cached-mnrl  CachedMultipleNegativesRankingLoss (GradCache: large batches in small memory)
gist         GISTEmbedLoss (a guide model drops in-batch negatives it scores above the positive)
cosent       CoSENTLoss on scored pairs
triplet      TripletLoss
mse-distill  MSELoss against a teacher's embeddings
simcse       MultipleNegativesRankingLoss on (text, text): dropout makes the two views differ
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from torch import Tensor, nn

from emberta.train.names import HARDNESS_MODES, IN_BATCH_LOSSES, LAYER_MODES, LOSSES  # the names, re-exported

__all__ = ["HARDNESS_MODES", "IN_BATCH_LOSSES", "LAYER_MODES", "LOSSES", "StarbucksLoss", "build_loss",
           "starbucks_pairs"]  # fmt: skip


def build_loss(config, model, guide=None) -> nn.Module:
    """The loss module for a TrainConfig: the base loss, wrapped for Matryoshka, 2D Matryoshka or Starbucks.
    guide: the teacher / guide SentenceTransformer for "gist"."""
    from sentence_transformers.sentence_transformer import losses

    hardness = {}
    if config.hardness_strength:
        hardness = {"hardness_mode": config.hardness_mode, "hardness_strength": config.hardness_strength}
    name = config.loss
    if name in ("mnrl", "simcse"):
        loss = losses.MultipleNegativesRankingLoss(model, scale=config.scale, **hardness)
    elif name == "cached-mnrl":
        cached = losses.CachedMultipleNegativesRankingLoss
        loss = cached(model, scale=config.scale, mini_batch_size=config.mini_batch_size, **hardness)
    elif name == "gist":
        loss = losses.GISTEmbedLoss(model, guide, temperature=1.0 / config.scale)
    elif name == "cosent":
        loss = losses.CoSENTLoss(model)
    elif name == "triplet":
        loss = losses.TripletLoss(model)
    else:
        loss = losses.MSELoss(model)
    dims = sorted(config.matryoshka_dims, reverse=True)
    if config.layers == "2d":
        return losses.Matryoshka2dLoss(model, loss, dims)
    if config.layers == "starbucks":
        return StarbucksLoss(model, loss, config.starbucks_pairs)
    if dims:
        return losses.MatryoshkaLoss(model, loss, matryoshka_dims=dims)
    return loss


def starbucks_pairs(num_layers: int, dim: int) -> list[list[int]]:
    """Starbucks' fixed (layers, dims) ladder scaled to a model: six rungs from (L/6, D/24) to (L, D), as the
    paper's (2, 32) ... (12, 768) for BERT-base. For all-MiniLM-L6-v2: (1, 16), (2, 32), (3, 64), (4, 128),
    (5, 256), (6, 384). Fewer rungs when the model has fewer than six layers."""
    fractions = [1 / 24, 1 / 12, 1 / 6, 1 / 3, 2 / 3, 1]
    pairs = {}
    for rung, fraction in enumerate(fractions, start=1):
        layer = max(1, round(num_layers * rung / 6))
        pairs[layer] = max(1, round(dim * fraction))
    return [[layer, d] for layer, d in sorted(pairs.items())]


class StarbucksLoss(nn.Module):
    """Starbucks representation learning (Zhuang et al. 2024): the base loss computed on each fixed
    (layers, dims) pair — the first `dims` dimensions of the embedding pooled from the output of layer `layers`
    — and averaged, so that each smaller (layers, dims) model on the ladder works on its own. Unlike 2D
    Matryoshka it does not sample: every pair contributes at every step. One forward pass with all hidden
    states serves every pair."""

    def __init__(self, model, loss: nn.Module, pairs: Sequence[Sequence[int]]):
        super().__init__()
        self.model, self.loss = model, loss
        self.pairs = sorted((int(layer), int(dim)) for layer, dim in pairs)
        if not self.pairs:
            raise ValueError("StarbucksLoss needs at least one (layers, dims) pair")

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor) -> Tensor:
        from sentence_transformers.base.losses.merged_forward import column_merging_disabled
        from sentence_transformers.sentence_transformer.losses.adaptive_layer import TransformerDecorator

        model = self.model
        features = list(sentence_features)
        transformer_forward, model_forward = model[0].forward, model.forward
        layers = TransformerDecorator(model[0], transformer_forward)
        truncation = _Truncate(model_forward)
        model[0].forward, model.forward = layers, truncation
        try:
            with column_merging_disabled():
                deepest_layer, deepest_dim = self.pairs[-1]
                truncation.dim = deepest_dim
                total = self.loss(features, labels)  # full depth; caches every layer's token embeddings
                if deepest_layer != layers.num_layers - 1:
                    raise ValueError(f"the deepest Starbucks pair uses {deepest_layer} layers but the model has "
                                     f"{layers.num_layers - 1}")  # fmt: skip
                for layer, dim in self.pairs[:-1]:
                    layers.set_layer_idx(layer)
                    truncation.dim = dim
                    total = total + self.loss(features, labels)
        finally:
            model[0].forward, model.forward = transformer_forward, model_forward
        return total / len(self.pairs)

    def get_config_dict(self) -> dict:
        return {"loss": type(self.loss).__name__, "pairs": [list(p) for p in self.pairs]}


class _Truncate:
    """Replaces a SentenceTransformer's forward: keeps the first `dim` dimensions of the sentence embedding."""

    def __init__(self, forward):
        self.forward, self.dim = forward, None

    def __call__(self, features: dict[str, Tensor]) -> dict[str, Tensor]:
        output = self.forward(features)
        return {**output, "sentence_embedding": output["sentence_embedding"][..., : self.dim]}
