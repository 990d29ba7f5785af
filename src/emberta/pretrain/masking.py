"""Masking policies for masked-language-model training: a data collator that masks each batch anew."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from emberta.errors import OptionError


def check_mask_rate(rate: float) -> None:
    """Raise OptionError unless 0 < rate < 1."""
    if not 0.0 < rate < 1.0:
        raise OptionError(f"--mask-rate {rate}: give a fraction strictly between 0 and 1 (e.g. 0.15 or 0.4)")


class MaskingCollator:
    """Dynamic masking for masked-language-model training (BERT, Devlin et al. 2019; RoBERTa, Liu et al. 2019):
    each batch is masked anew, so every pass over the data sees a different mask.

    A share `rate` of the (non-special) tokens is chosen; of those, 80% become the mask token, 10% a random
    token and 10% stay as they are (`replace`); the loss is computed on the chosen tokens only (labels -100
    elsewhere). rate 0.15 is BERT's; 0.40 is "Should You Mask 15% in Masked Language Modeling?" (Wettig et
    al. 2023). With `whole_word`, words rather than tokens are chosen (each with probability `rate`) and all
    pieces of a chosen word are masked together (whole-word masking, BERT's 2019 release; Cui et al. 2021);
    the 80/10/10 decision stays per token, as in transformers' DataCollatorForWholeWordMask.

    Inputs: examples with "input_ids" (int array, one packed block), "word_start" (1 where a token begins a word,
    needed for whole_word) and "length" (tokens before padding). Examples that already carry "labels" (a fixed,
    pre-masked evaluation set) are only stacked. Output: a dict of tensors input_ids, attention_mask, labels.

    >>> collate = MaskingCollator(tokenizer, rate=0.4, whole_word=True, seed=0)
    >>> batch = collate([{"input_ids": ids, "word_start": starts, "length": len(ids)}])
    """

    def __init__(
        self,
        tokenizer,
        *,
        rate: float = 0.15,
        whole_word: bool = False,
        replace: tuple[float, float, float] = (0.8, 0.1, 0.1),
        seed: int | None = None,
    ):
        check_mask_rate(rate)
        if tokenizer.mask_token_id is None:
            raise OptionError("the tokenizer has no mask token; masked-language-model training needs one")
        if abs(sum(replace) - 1.0) > 1e-6 or min(replace) < 0:
            raise OptionError(f"replace shares {replace} must be non-negative and sum to 1")
        self.rate = rate
        self.whole_word = whole_word
        self.replace = replace
        self.mask_id = tokenizer.mask_token_id
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.special = np.array(sorted(set(tokenizer.all_special_ids)), dtype=np.int64)
        self.vocab_size = len(tokenizer)
        self.rng = np.random.default_rng(seed)

    def __call__(self, examples: Sequence[dict]) -> dict[str, torch.Tensor]:
        ids = np.stack([np.asarray(e["input_ids"], dtype=np.int64) for e in examples])
        lengths = np.array([int(e.get("length", ids.shape[1])) for e in examples])
        attention = (np.arange(ids.shape[1])[None, :] < lengths[:, None]).astype(np.int64)
        if "labels" in examples[0]:
            labels = np.stack([np.asarray(e["labels"], dtype=np.int64) for e in examples])
            return _tensors(ids, attention, labels)
        starts = np.stack([np.asarray(e["word_start"], dtype=bool) for e in examples]) if self.whole_word else None
        inputs, labels = self.mask(ids, attention.astype(bool), starts)
        return _tensors(inputs, attention, labels)

    def mask(self, ids: np.ndarray, attention: np.ndarray, word_start: np.ndarray | None = None):
        """Masked copy of `ids` (n, length) and the labels (original ids where chosen, -100 elsewhere)."""
        eligible = attention & ~np.isin(ids, self.special)
        if word_start is None:
            chosen = eligible & (self.rng.random(ids.shape) < self.rate)
        else:
            chosen = eligible & _whole_words(eligible, word_start, self.rate, self.rng)
        labels = np.where(chosen, ids, -100)
        draw = self.rng.random(ids.shape)
        to_mask = chosen & (draw < self.replace[0])
        to_random = chosen & (draw >= self.replace[0]) & (draw < self.replace[0] + self.replace[1])
        inputs = ids.copy()
        inputs[to_mask] = self.mask_id
        inputs[to_random] = self._random_tokens(int(to_random.sum()))
        return inputs, labels

    def _random_tokens(self, count: int) -> np.ndarray:
        drawn = self.rng.integers(0, self.vocab_size, size=count)
        clash = np.isin(drawn, self.special)
        while clash.any():  # never put a special token (<s>, <mask>, ...) in the text
            drawn[clash] = self.rng.integers(0, self.vocab_size, size=int(clash.sum()))
            clash = np.isin(drawn, self.special)
        return drawn


def _whole_words(eligible: np.ndarray, word_start: np.ndarray, rate: float, rng) -> np.ndarray:
    """Tokens of words chosen with probability `rate`; a word is a start token and the continuation tokens
    that follow it (a token after a non-eligible one also starts a word)."""
    previous_eligible = np.zeros_like(eligible)
    previous_eligible[:, 1:] = eligible[:, :-1]
    starts = eligible & (word_start | ~previous_eligible)
    word_index = np.cumsum(starts.ravel()) - 1  # index of the word each token belongs to
    picked = rng.random(int(starts.sum())) < rate
    chosen = np.zeros(eligible.size, dtype=bool)
    inside = eligible.ravel() & (word_index >= 0)
    chosen[inside] = picked[word_index[inside]]
    return chosen.reshape(eligible.shape)


def _tensors(ids: np.ndarray, attention: np.ndarray, labels: np.ndarray) -> dict[str, torch.Tensor]:
    return {
        "input_ids": torch.from_numpy(ids),
        "attention_mask": torch.from_numpy(attention),
        "labels": torch.from_numpy(labels),
    }
