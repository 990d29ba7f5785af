"""Sequence packing: tokenize a streamed corpus onto disk and serve it as fixed-length blocks."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from emberta.pretrain.corpus import held_out

BATCH_TEXTS = 1000


class TokenFile:
    """Token ids (int32) and word-start flags (uint8) of many texts, appended to two files in one folder."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.ids_path = self.folder / "ids.int32"
        self.starts_path = self.folder / "starts.uint8"
        self.ids_path.write_bytes(b"")
        self.starts_path.write_bytes(b"")
        self.tokens = 0
        self.texts = 0

    def append(self, ids: np.ndarray, starts: np.ndarray, texts: int) -> None:
        with self.ids_path.open("ab") as handle:
            ids.astype(np.int32).tofile(handle)
        with self.starts_path.open("ab") as handle:
            starts.astype(np.uint8).tofile(handle)
        self.tokens += len(ids)
        self.texts += texts


def tokenize_to_disk(texts: Iterable[str], tokenizer, train_dir: Path, eval_dir: Path | None, fraction: float):
    """Tokenize `texts` (each with the tokenizer's special tokens, e.g. <s> ... </s>) into TokenFiles: the held-out
    share `fraction` (chosen by text hash) into `eval_dir`, the rest into `train_dir`. Returns (train, eval)
    TokenFiles (eval None without eval_dir). Texts are read in batches of 1,000, never all at once."""
    train = TokenFile(train_dir)
    evaluation = TokenFile(eval_dir) if eval_dir is not None else None
    for batch in _batches(texts):
        if evaluation is None:
            groups = [(train, batch)]
        else:
            flags = [held_out(text, fraction) for text in batch]
            groups = [
                (train, [t for t, f in zip(batch, flags, strict=True) if not f]),
                (evaluation, [t for t, f in zip(batch, flags, strict=True) if f]),
            ]
        for target, chunk in groups:
            if chunk:
                ids, starts = encode_with_word_starts(tokenizer, chunk)
                target.append(ids, starts, len(chunk))
    return train, evaluation


def encode_with_word_starts(tokenizer, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """All `texts` encoded and concatenated: token ids, and 1 where a token starts a word (its word id differs
    from the previous token's; special tokens count as starts). Needs a fast tokenizer (word ids)."""
    encoded = tokenizer(texts, add_special_tokens=True, truncation=False, verbose=False)
    ids, starts = [], []
    for index in range(len(texts)):
        words = encoded.word_ids(index)
        ids.extend(encoded["input_ids"][index])
        previous = None
        for word in words:
            starts.append(1 if word is None or word != previous else 0)
            previous = word
    return np.asarray(ids, dtype=np.int64), np.asarray(starts, dtype=np.uint8)


class PackedBlocks:
    """A map-style dataset of `block_size`-token blocks cut from a TokenFile folder (memory-mapped; the last
    block padded with `pad_id`). Items: {"input_ids", "word_start", "length"}."""

    def __init__(self, folder: Path, block_size: int, pad_id: int):
        folder = Path(folder)
        self.block_size = block_size
        self.pad_id = pad_id
        size = (folder / "ids.int32").stat().st_size // 4
        self.tokens = size
        self.ids = np.memmap(folder / "ids.int32", dtype=np.int32, mode="r") if size else np.zeros(0, np.int32)
        self.starts = np.memmap(folder / "starts.uint8", dtype=np.uint8, mode="r") if size else np.zeros(0, np.uint8)

    def __len__(self) -> int:
        return -(-self.tokens // self.block_size)

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < len(self):
            raise IndexError(index)
        begin = index * self.block_size
        ids = np.asarray(self.ids[begin : begin + self.block_size], dtype=np.int64)
        starts = np.asarray(self.starts[begin : begin + self.block_size], dtype=np.uint8)
        length = len(ids)
        if length < self.block_size:
            ids = np.concatenate([ids, np.full(self.block_size - length, self.pad_id, dtype=np.int64)])
            starts = np.concatenate([starts, np.ones(self.block_size - length, dtype=np.uint8)])
        return {"input_ids": ids, "word_start": starts, "length": length}


def fixed_masked_set(blocks: PackedBlocks, collator, limit: int, seed: int) -> list[dict]:
    """The first `limit` blocks, masked once with a seeded copy of `collator`'s policy: a held-out set whose MLM
    loss is comparable from one evaluation (and one run) to the next."""
    import copy

    fixed = copy.copy(collator)
    fixed.rng = np.random.default_rng(seed)
    examples = [blocks[i] for i in range(min(limit, len(blocks)))]
    if not examples:
        return []
    ids = np.stack([e["input_ids"] for e in examples])
    lengths = np.array([e["length"] for e in examples])
    attention = np.arange(ids.shape[1])[None, :] < lengths[:, None]
    starts = np.stack([e["word_start"] for e in examples]).astype(bool) if collator.whole_word else None
    inputs, labels = fixed.mask(ids, attention, starts)
    return [{"input_ids": inputs[i], "labels": labels[i], "length": int(lengths[i])} for i in range(len(examples))]


def _batches(texts: Iterable[str]) -> Iterator[list[str]]:
    batch: list[str] = []
    for text in texts:
        batch.append(text)
        if len(batch) == BATCH_TEXTS:
            yield batch
            batch = []
    if batch:
        yield batch
