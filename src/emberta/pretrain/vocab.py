"""Vocabulary expansion: add a new corpus's most useful tokens to a pretrained masked language model.

`expand_vocab` trains a tokenizer of the old one's kind (same normalizer and pre-tokenizer, tokenizers
library) on the new corpus, proposes its tokens that the old vocabulary lacks, ranks them by usefulness, adds
the best N to the old tokenizer's vocabulary (WordPiece and Unigram: as vocabulary entries; byte-level BPE: as
a chain of merges from the token's old pieces, whose intermediate pieces count among the N), resizes the
embeddings, fills the new rows with an init recipe (`vocab_init`) and keeps the masked-LM output layer tied to
them. The output folder is a transformers masked-LM model with a sentence-transformers mean-pooling config,
written like `emberta train mlm`'s (pretrain.models), so `emberta encode`, `score-mlm` and `train mlm --from` take it.

Usefulness of a new token t = its frequency in the new corpus (tokenized by the new tokenizer) times the
old pieces it saves (the old tokenizer's pieces of t less one, plus one if those pieces include the unknown
token, which t makes representable).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from emberta.errors import ModelError, OptionError

BLOCK = 1024


@dataclass(frozen=True)
class NewToken:
    """A proposed token: its string in the tokenizer's vocabulary form (e.g. "##ung", "Ġword"), its frequency in
    the new corpus, and its pieces under the old tokenizer (ids)."""

    token: str
    frequency: int
    pieces: list[int]
    saved_per_use: int

    @property
    def usefulness(self) -> int:
        return self.frequency * self.saved_per_use


def propose_tokens(tokenizer, corpus: Iterable[str], *, vocab_size: int | None = None) -> list[NewToken]:
    """Train a tokenizer of `tokenizer`'s kind on `corpus` (iterated twice: a pretrain.corpus.Corpus streams
    its files) and return its tokens missing from `tokenizer`'s vocabulary that occur in the corpus, most
    useful first (ties: more frequent, then alphabetical)."""
    new = tokenizer.train_new_from_iterator(_blocks(iter(corpus)), vocab_size or len(tokenizer))
    old_vocab = tokenizer.get_vocab()
    special = set(tokenizer.all_special_tokens)
    counts: Counter[str] = Counter()
    for block in _blocks(iter(corpus)):
        for encoding in new.backend_tokenizer.encode_batch(block, add_special_tokens=False):
            counts.update(token for token in encoding.tokens if token not in old_vocab and token not in special)
    old_model, unk = tokenizer.backend_tokenizer.model, tokenizer.unk_token_id
    proposals = []
    for token, frequency in counts.items():
        pieces = [piece.id for piece in old_model.tokenize(token)]
        saved = len(pieces) - 1 + (unk is not None and unk in pieces)
        if pieces and saved > 0:
            proposals.append(NewToken(token, frequency, pieces, saved))
    return sorted(proposals, key=lambda t: (-t.usefulness, -t.frequency, t.token))


def _blocks(texts: Iterator[str]) -> Iterator[list[str]]:
    while block := list(islice(texts, BLOCK)):
        yield block


def add_tokens(tokenizer_json: dict, tokens: list[NewToken], first_id: int, add: int,
               pieces_of: Callable[[str], list[int]]) -> tuple[dict, list[NewToken]]:  # fmt: skip
    """A copy of the tokenizer.json content with new tokens from `tokens` (in order) until `add` ids are used,
    ids from `first_id` on; returns it and the added entries (BPE: the chains' intermediate pieces included,
    each with its old pieces, `pieces_of(token)`)."""
    data = json.loads(json.dumps(tokenizer_json))
    model, kind = data["model"], data["model"]["type"]
    if kind == "WordPiece":
        vocab = model["vocab"]
        added = tokens[:add]
        for offset, token in enumerate(added):
            vocab[token.token] = first_id + offset
        return data, added
    if kind == "Unigram":
        if first_id != len(model["vocab"]):
            raise ModelError("the Unigram vocabulary and the embedding matrix differ in size; cannot add tokens")
        floor = min(score for _, score in model["vocab"])
        model["vocab"].extend([token.token, floor] for token in tokens[:add])
        return data, tokens[:add]
    if kind == "BPE":
        return data, _add_bpe_merges(model, tokens, first_id, add, pieces_of)
    raise ModelError(f"vocabulary expansion supports WordPiece, Unigram and BPE tokenizers, not {kind}")


def _add_bpe_merges(model: dict, tokens: list[NewToken], first_id: int, add: int,
                    pieces_of: Callable[[str], list[int]]) -> list[NewToken]:  # fmt: skip
    """Append, per token, the merges joining its old pieces left to right (p1+p2, then p1p2+p3, ...), skipping
    a token whose new pieces would pass `add`."""
    vocab, merges = model["vocab"], model["merges"]
    as_list = bool(merges) and isinstance(merges[0], list)
    known = {tuple(m) if as_list else tuple(m.split(" ", 1)) for m in merges}
    names = {index: name for name, index in vocab.items()}
    added: list[NewToken] = []
    for token in tokens:
        chain, left = [], names[token.pieces[0]]
        for piece in token.pieces[1:]:
            chain.append((left, names[piece]))
            left += names[piece]
        if len(added) + sum(a + b not in vocab for a, b in chain) > add:
            continue
        for a, b in chain:
            if (a, b) not in known:
                merges.append([a, b] if as_list else f"{a} {b}")
                known.add((a, b))
            if a + b not in vocab:
                vocab[a + b] = first_id + len(added)
                names[vocab[a + b]] = a + b
                pieces = pieces_of(a + b)
                added.append(NewToken(a + b, token.frequency, pieces, len(pieces) - 1))
        if len(added) == add:
            break
    return added


def check_add(add: int, offered: int) -> None:
    if add <= 0:
        raise OptionError(f"--add {add}: give a positive number of tokens to add")
    if add > offered:
        raise OptionError(f"--add {add}: the tokenizer trained on the corpus offers only {offered} new tokens; use "
                          f"--add {offered} or less, or a bigger corpus")  # fmt: skip


def expand_vocab(from_spec: str | Path, corpus_files: Iterable[str | Path], *, add: int, out: str | Path,
                 init: str = "subword-mean", field: str = "text", vocab_size: int | None = None, seed: int = 0,
                 overwrite: bool = False, errors: str = "strict") -> dict:  # fmt: skip
    """Add the `add` most useful tokens of the corpus to the model `from_spec` and write the expanded model to the
    folder `out` (atomically). init: mean, subword-mean, sampled or random (see `vocab_init`). vocab_size: of
    the tokenizer trained on the corpus (default: the old one's). Returns a summary: out, from, init, added,
    offered (new tokens the corpus offered), vocab_size (now) and tokens (the first 20 added)."""
    from emberta.io.atomic import staged_dir
    from emberta.pretrain.corpus import Corpus
    from emberta.pretrain.mlm import check_out
    from emberta.pretrain.models import load_for_mlm, save_encoder_folder
    from emberta.pretrain.pll import model_positions
    from emberta.pretrain.vocab_init import init_recipe

    recipe = init_recipe(init)
    if add <= 0:
        check_add(add, 0)
    out = check_out(Path(out), overwrite)
    corpus = Corpus(list(corpus_files), field=field, errors=errors, dedup=False)
    corpus.require_text()
    model, tokenizer, folder = load_for_mlm(str(from_spec))
    proposals = propose_tokens(tokenizer, corpus, vocab_size=vocab_size)
    check_add(add, len(proposals))
    first_id = max(model.get_input_embeddings().weight.shape[0], len(tokenizer))
    old_model = tokenizer.backend_tokenizer.model
    tokenizer_json, added = add_tokens(json.loads(tokenizer.backend_tokenizer.to_str()), proposals, first_id, add,
                                       lambda token: [piece.id for piece in old_model.tokenize(token)])  # fmt: skip
    expanded = _expanded_tokenizer(tokenizer, tokenizer_json)
    resize_and_init(model, added, recipe, seed=seed)
    with staged_dir(out, "expand-vocab") as staging:
        save_encoder_folder(model, expanded, staging, max_length=model_positions(model.config, tokenizer),
                            source=folder)  # fmt: skip
    return {"out": str(out), "from": folder.spec, "init": recipe.name, "added": len(added), "offered": len(proposals),
            "vocab_size": model.get_input_embeddings().weight.shape[0],
            "tokens": [t.token for t in added[:20]]}  # fmt: skip


def _expanded_tokenizer(tokenizer, tokenizer_json: dict):
    """`tokenizer` with its tokenizer.json content replaced (saved, rewritten and loaded back)."""
    import tempfile

    from transformers import AutoTokenizer

    with tempfile.TemporaryDirectory(prefix="emberta-vocab-") as folder:
        tokenizer.save_pretrained(folder)
        for stale in ("vocab.txt", "vocab.json", "merges.txt"):  # a slow tokenizer's files would be out of date
            (Path(folder) / stale).unlink(missing_ok=True)
        text = json.dumps(tokenizer_json, ensure_ascii=False)
        (Path(folder) / "tokenizer.json").write_text(text, encoding="utf-8")
        return AutoTokenizer.from_pretrained(folder, local_files_only=True)


def resize_and_init(model, added: list[NewToken], recipe, *, seed: int = 0) -> None:
    """Grow the word embeddings by len(added) rows, fill them with `recipe`, set the new output biases, and
    check the output layer is still tied to the embeddings."""
    import torch

    old = model.get_input_embeddings().weight.detach().clone()
    output = model.get_output_embeddings()
    old_bias = None if getattr(output, "bias", None) is None else output.bias.detach().clone()
    pieces = [token.pieces for token in added]
    generator = torch.Generator().manual_seed(seed)
    init_std = float(getattr(model.config, "initializer_range", 0.02))
    rows = recipe.rows(old, pieces, generator=generator, init_std=init_std)
    model.resize_token_embeddings(len(old) + len(added), mean_resizing=False)
    with torch.no_grad():
        model.get_input_embeddings().weight[len(old) :] = rows
        output = model.get_output_embeddings()
        if old_bias is not None and getattr(output, "bias", None) is not None:
            output.bias[len(old) :] = recipe.bias(old_bias, pieces)
    if output.weight.data_ptr() != model.get_input_embeddings().weight.data_ptr():
        raise ModelError("the masked-LM output layer is not tied to the word embeddings after resizing")
