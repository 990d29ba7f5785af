"""Initialisations of the embedding rows of tokens added to a pretrained model's vocabulary.

Each recipe maps the old embedding matrix E (V x d), the new tokens' pieces under the old tokenizer and a
seeded generator to the new rows (N x d). The masked-LM output layer is tied to E, so a row is also the new
token's output vector; `bias` gives the output bias of the new tokens (where the model has one).

| recipe | new row of token t | paper |
|---|---|---|
| `MeanInit` ("mean") | mean of all old rows | Hewitt (2021) |
| `SubwordMeanInit` ("subword-mean") | mean of the old rows of t's old-tokenizer pieces | Gee et al. (2022) |
| `SampledInit` ("sampled") | a draw from N(mean, covariance) of the old rows | Hewitt (2021) |
| `RandomInit` ("random") | the model's own init: N(0, initializer_range^2) per entry | (baseline) |
"""

from __future__ import annotations

from emberta.errors import OptionError


class MeanInit:
    """Every new row is the mean of all old embedding rows.

    Hewitt (2021), "Initializing new word embeddings for pretrained language models" (blog post, Stanford NLP):
    a new row far from the old ones gets a large logit and wrecks the model's predictions before any training;
    the mean keeps the KL divergence from the old model's output distribution small.

    Inputs: the old rows only (the pieces are ignored). Output bias: the mean of the old biases.

    Example:
        >>> rows = MeanInit().rows(old, pieces, generator=torch.Generator().manual_seed(0), init_std=0.02)
        >>> torch.allclose(rows[0], old.mean(0))
        True
    """

    name = "mean"

    def rows(self, old, pieces: list[list[int]], *, generator, init_std: float):
        return old.mean(dim=0, keepdim=True).expand(len(pieces), -1).clone()

    def bias(self, old_bias, pieces: list[list[int]]):
        return old_bias.mean().expand(len(pieces)).clone()


class SubwordMeanInit:
    """The new row of token t is the mean of the old rows of the pieces the old tokenizer cuts t into, so the
    new token starts near what the model made of those pieces ("Gutachten" -> gut, ##ach, ##ten).

    Gee, Zugarini, Rigutini and Torroni (2022), "Fast Vocabulary Transfer for Language Model Compression"
    (EMNLP industry track); the same idea as FVT in Minixhofer et al.'s line of work (WECHSEL, FOCUS) without
    an auxiliary embedding space.

    Inputs: the old rows and, per new token, the ids of its old pieces (at least one). Output bias: the mean
    of the pieces' biases.

    Example:
        >>> rows = SubwordMeanInit().rows(old, [[7, 12]], generator=g, init_std=0.02)
        >>> torch.allclose(rows[0], old[[7, 12]].mean(0))
        True
    """

    name = "subword-mean"

    def rows(self, old, pieces: list[list[int]], *, generator, init_std: float):
        import torch

        return torch.stack([old[ids].mean(dim=0) for ids in _checked(pieces)])

    def bias(self, old_bias, pieces: list[list[int]]):
        import torch

        return torch.stack([old_bias[ids].mean() for ids in _checked(pieces)])


class SampledInit:
    """Each new row is drawn from a normal with the mean and covariance of the old rows (a full d x d
    covariance, estimated from all V rows), so new tokens look like typical old ones without all being equal.

    Hewitt (2021), "Initializing new word embeddings for pretrained language models". (transformers'
    `resize_token_embeddings(mean_resizing=True)` draws from the same normal with the covariance scaled by 1e-9,
    i.e. nearly `MeanInit`.)

    Inputs: the old rows and a seeded generator. Output bias: the mean of the old biases.

    Example:
        >>> rows = SampledInit().rows(old, pieces, generator=torch.Generator().manual_seed(0), init_std=0.02)
        >>> rows.mean(0)  # close to old.mean(0) for many new tokens
    """

    name = "sampled"

    def rows(self, old, pieces: list[list[int]], *, generator, init_std: float):
        import torch

        data = old.double()
        mean = data.mean(dim=0)
        centered = data - mean
        covariance = centered.T @ centered / max(len(data) - 1, 1)
        jitter = 1e-8 * covariance.diagonal().mean().clamp_min(1e-12) * torch.eye(len(mean), dtype=torch.float64)
        factor = torch.linalg.cholesky(covariance + jitter)
        noise = torch.randn(len(pieces), len(mean), generator=generator, dtype=torch.float64)
        return (mean + noise @ factor.T).to(old.dtype)

    def bias(self, old_bias, pieces: list[list[int]]):
        return old_bias.mean().expand(len(pieces)).clone()


class RandomInit:
    """New rows as the model initialises embeddings before pretraining: each entry from N(0, s^2) with
    s = the config's initializer_range (0.02 for BERT and RoBERTa). The baseline the other recipes are measured
    against: such rows are unlike any trained row.

    Inputs: a seeded generator and initializer_range. Output bias: zero (the model's own init of a bias).

    Example:
        >>> rows = RandomInit().rows(old, pieces, generator=torch.Generator().manual_seed(0), init_std=0.02)
        >>> float(rows.std())  # about 0.02
    """

    name = "random"

    def rows(self, old, pieces: list[list[int]], *, generator, init_std: float):
        import torch

        shape = (len(pieces), old.shape[1])
        return (torch.randn(shape, generator=generator, dtype=torch.float32) * init_std).to(old.dtype)

    def bias(self, old_bias, pieces: list[list[int]]):
        import torch

        return torch.zeros(len(pieces), dtype=old_bias.dtype)


INIT_METHODS = {recipe.name: recipe for recipe in (MeanInit, SubwordMeanInit, SampledInit, RandomInit)}


def init_recipe(name: str):
    """The recipe called `name` (mean, subword-mean, sampled, random); OptionError otherwise."""
    if name not in INIT_METHODS:
        raise OptionError(f"unknown --init {name!r}; choose one of {', '.join(INIT_METHODS)}")
    return INIT_METHODS[name]()


def _checked(pieces: list[list[int]]) -> list[list[int]]:
    if any(not ids for ids in pieces):
        raise ValueError("every new token needs at least one old piece for subword-mean")
    return pieces
