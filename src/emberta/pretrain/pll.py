"""Pseudo-log-likelihood (PLL) scoring with a masked language model.

Salazar, Liang, Nguyen and Kirchhoff (2020), "Masked Language Model Scoring" (ACL): a text's PLL is the sum,
over its tokens t_i, of log P(t_i | the text with t_i replaced by the mask token); each token is masked in turn,
and all the masked copies of a text are scored in batches. The corpus pseudo-perplexity is
PPPL = exp(-sum of PLL / sum of tokens). Logarithms are natural; special tokens ([CLS], <s>, ...) are context,
never scored.

Texts longer than the model's positions are scored in windows (the default, `long_texts="window"`): the
text's tokens are covered by overlapping windows as long as the model takes (half-window stride), and each
token is scored in the window where it sits nearest the middle, so it keeps at least a quarter window of
context on each side where the text has it. `long_texts="refuse"` raises an InputError with the number of
such texts instead. A text is never cut silently.

Example:
    >>> scores = score_mlm("path/to/mlm-model", ["The cat sat on the mat.", "Mat the on sat cat the."])
    >>> scores.texts[0].pll > scores.texts[1].pll, scores.pseudo_perplexity
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from emberta.errors import InputError, ModelError, OptionError

LONG_TEXT_MODES = ("window", "refuse")
ROBERTA_LIKE = ("roberta", "xlm-roberta", "camembert", "longformer")  # position ids start after the pad id
BLOCK = 256  # texts tokenized and scored together (sorted by length to pad little)


@dataclass(frozen=True)
class TextScore:
    """The PLL of one text (natural log, summed over its `tokens` scored tokens) and the number of windows it
    was scored in (1 unless it is longer than the model's positions)."""

    pll: float
    tokens: int
    windows: int = 1

    @property
    def pseudo_perplexity(self) -> float:
        """exp(-PLL / tokens); nan for a text without tokens."""
        return math.exp(-self.pll / self.tokens) if self.tokens else math.nan


@dataclass(frozen=True)
class MlmScores:
    """Scores of a list of texts, in input order, and the corpus pseudo-perplexity."""

    texts: list[TextScore]

    @property
    def total_tokens(self) -> int:
        return sum(score.tokens for score in self.texts)

    @property
    def pseudo_perplexity(self) -> float:
        """exp(-sum PLL / sum tokens) over all texts (Salazar et al.'s corpus PPPL)."""
        return corpus_pseudo_perplexity(self.texts)

    @property
    def windowed(self) -> int:
        """How many texts were longer than the model's positions (scored in windows)."""
        return sum(score.windows > 1 for score in self.texts)


def corpus_pseudo_perplexity(scores: Iterable[TextScore]) -> float:
    """exp(-sum PLL / sum tokens); raise InputError when no text has a token."""
    total_pll, total_tokens = 0.0, 0
    for score in scores:
        total_pll, total_tokens = total_pll + score.pll, total_tokens + score.tokens
    if total_tokens == 0:
        raise InputError("no tokens to score: every text is empty")
    return math.exp(-total_pll / total_tokens)


class MaskedLM:
    """A loaded masked language model and its tokenizer. `window` is how many text tokens one forward pass takes
    (the model's positions less its special tokens)."""

    def __init__(self, model, tokenizer, name: str, *, max_length: int | None = None):
        self.model, self.tokenizer, self.name = model, tokenizer, name
        if tokenizer.mask_token_id is None:
            raise ModelError(f"model {name!r}: its tokenizer has no mask token, so it cannot score masked tokens")
        positions = model_positions(model.config, tokenizer)
        if max_length is not None:
            if max_length > positions:
                raise OptionError(f"max length {max_length} is over the model's {positions} positions")
            positions = max_length
        self.prefix, self.suffix = special_template(tokenizer)
        self.window = positions - len(self.prefix) - len(self.suffix)
        if self.window < 1:
            raise OptionError(f"max length {positions} leaves no room for text beside the special tokens")
        from emberta.pretrain.models import mlm_head

        self.head = mlm_head(model)


def special_template(tokenizer) -> tuple[list[int], list[int]]:
    """The special token ids a tokenizer puts before and after a single text (e.g. [CLS] and [SEP])."""
    probe = "hello"
    plain = tokenizer(probe, add_special_tokens=False)["input_ids"]
    full = tokenizer(probe)["input_ids"]
    for start in range(len(full) - len(plain) + 1):
        if full[start : start + len(plain)] == plain:
            return full[:start], full[start + len(plain) :]
    raise ModelError("the tokenizer adds special tokens inside a text; emberta scores BERT/RoBERTa-style models")


def model_positions(config, tokenizer) -> int:
    """Tokens one forward pass takes, special tokens included: the position embeddings (less RoBERTa's offset)
    and the tokenizer's model_max_length, whichever is smaller."""
    positions = int(getattr(config, "max_position_embeddings", 0) or 0)
    if getattr(config, "model_type", "") in ROBERTA_LIKE:
        positions -= int(getattr(config, "pad_token_id", 1) or 0) + 1
    limit = int(getattr(tokenizer, "model_max_length", 0) or 0)
    if 0 < limit < 1_000_000:
        positions = min(positions, limit) if positions > 0 else limit
    if positions <= 0:
        raise ModelError("the model's config.json gives no max_position_embeddings")
    return positions


def load_masked_lm(spec: str | Path, *, max_length: int | None = None, device: str | None = None) -> MaskedLM:
    """Load a model spec ('default', a Hugging Face or sentence-transformers folder) with its masked-LM head;
    ModelError when the checkpoint has no trained head (e.g. the default sentence-transformers model: train one
    with `emberta train mlm --from default`)."""
    import torch
    from transformers import AutoModelForMaskedLM, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    from emberta.encoders.model_folder import resolve_model_folder

    folder = resolve_model_folder(spec)
    verbosity = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()  # the weight-loading bar is noise on every load
    try:
        path = str(folder.transformer_path)
        model, info = AutoModelForMaskedLM.from_pretrained(path, local_files_only=True, output_loading_info=True)
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelError(f"model {folder.spec!r} in {folder.path} has no masked-LM form: {reason}") from None
    finally:
        transformers_logging.set_verbosity(verbosity)
    prefix = f"{model.base_model_prefix}."
    missing = sorted(k for k in info.get("missing_keys", ()) if not k.startswith(prefix))
    if missing:
        raise ModelError(
            f"model {folder.spec!r} has no masked-LM head (missing {', '.join(missing[:3])}"
            f"{', ...' if len(missing) > 3 else ''}); give a model trained with a masked-LM objective, e.g. the "
            f"folder of `emberta train mlm --from {folder.spec}`"
        )
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return MaskedLM(model.to(device).eval(), tokenizer, folder.name, max_length=max_length)


def score_mlm(model: str | Path | MaskedLM, texts: Iterable[str], *, batch_size: int = 64,
              long_texts: str = "window", max_length: int | None = None) -> MlmScores:  # fmt: skip
    """PLL of each text and the corpus pseudo-perplexity. model: a spec (see load_masked_lm) or a MaskedLM.
    batch_size: masked copies per forward pass. long_texts: "window" or "refuse" (see the module docstring).
    max_length: tokens per forward pass (default: the model's positions)."""
    check_long_text_mode(long_texts)
    lm = model if isinstance(model, MaskedLM) else load_masked_lm(model, max_length=max_length)
    texts = list(texts)
    if long_texts == "refuse":
        refuse_long_texts(lm, ((text, f"text {i + 1}") for i, text in enumerate(texts)))
    return MlmScores(list(iter_scores(lm, texts, batch_size=batch_size)))


def check_long_text_mode(long_texts: str) -> None:
    if long_texts not in LONG_TEXT_MODES:
        raise OptionError(f"unknown long-text mode {long_texts!r}; choose one of {', '.join(LONG_TEXT_MODES)}")


def refuse_long_texts(lm: MaskedLM, texts: Iterable[tuple[str, str]]) -> None:
    """Raise InputError with the number of texts longer than the model's window. texts: (text, where it is, e.g.
    file:line) pairs, streamed."""
    iterator = iter(texts)
    count, total, first = 0, 0, None
    while block := list(islice(iterator, BLOCK)):
        for (_, place), ids in zip(block, _token_ids(lm, [text for text, _ in block]), strict=True):
            total += 1
            if len(ids) > lm.window:
                count += 1
                first = first or (place, len(ids))
    if count:
        raise InputError(
            f"{count} of {total} texts are longer than the model's {lm.window} text tokens (the first: {first[0]}, "
            f"{first[1]} tokens); score them in windows (--long-text window) or shorten them"
        )


def score_file(lm: MaskedLM, reader, out: str | Path | None, *, batch_size: int = 64, long_texts: str = "window",
               on_progress: Callable[[int], None] | None = None) -> dict:  # fmt: skip
    """Score every record of a TextReader; with `out`, write one JSON line per record ({"id", "pll", "tokens",
    "pseudo_perplexity", "windows"}), the file appearing only when complete. Returns the corpus summary:
    texts, tokens, pseudo_perplexity, windowed (texts scored in windows)."""
    import json

    from emberta.io.atomic import atomic_writer, check_writable_dir

    check_long_text_mode(long_texts)
    out = check_writable_dir(out) if out is not None else None
    reader.check_first()
    if long_texts == "refuse":
        refuse_long_texts(lm, ((r.text, f"{reader.name}:{r.line}") for r in reader))
    totals = {"texts": 0, "tokens": 0, "pll": 0.0, "windowed": 0}
    with atomic_writer(out) as handle:
        records = iter(reader)
        while block := list(islice(records, BLOCK)):
            for record, score in zip(block, iter_scores(lm, [r.text for r in block], batch_size=batch_size),
                                     strict=True):  # fmt: skip
                _add(totals, score)
                line = {
                    "id": record.id,
                    "pll": round(score.pll, 6),
                    "tokens": score.tokens,
                    "pseudo_perplexity": _rounded(score.pseudo_perplexity),
                    "windows": score.windows,
                }
                handle.write(json.dumps(line) + "\n")
            if on_progress is not None:
                on_progress(len(block))
    total = TextScore(totals.pop("pll"), totals["tokens"])
    return dict(totals, pseudo_perplexity=corpus_pseudo_perplexity([total]))


def _add(totals: dict, score: TextScore) -> None:
    totals["texts"] += 1
    totals["tokens"] += score.tokens
    totals["pll"] += score.pll
    totals["windowed"] += score.windows > 1


def _rounded(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 6)


def iter_scores(lm: MaskedLM, texts: Iterable[str], *, batch_size: int = 64) -> Iterator[TextScore]:
    """TextScores of `texts` in order, BLOCK texts at a time (streams any number of texts); long texts are
    scored in windows."""
    if batch_size < 1:
        raise OptionError(f"batch size must be at least 1, not {batch_size}")
    iterator = iter(texts)
    while block := list(islice(iterator, BLOCK)):
        yield from _score_block(lm, block, batch_size)


def _token_ids(lm: MaskedLM, texts: list[str]) -> list[list[int]]:
    encoded = lm.tokenizer(texts, add_special_tokens=False, truncation=False, verbose=False)
    return encoded["input_ids"]


def windows(n: int, width: int) -> list[tuple[int, list[int]]]:
    """Cover positions 0..n-1 by windows of `width` (stride width // 2): [(start, positions scored in it)], each
    position in the window whose middle is nearest (ties to the earlier one)."""
    if n <= width:
        return [(0, list(range(n)))]
    stride = max(1, width // 2)
    starts = [*range(0, n - width, stride), n - width]
    owned: dict[int, list[int]] = {start: [] for start in starts}
    for i in range(n):
        best = min(starts, key=lambda s: (abs(i - (s + (width - 1) / 2)), s))
        owned[best].append(i)
    return [(start, owned[start]) for start in starts if owned[start]]


def _score_block(lm: MaskedLM, texts: list[str], batch_size: int) -> list[TextScore]:
    import torch

    ids = _token_ids(lm, texts)
    jobs = []  # (length of the input, text index, input ids, content positions to mask)
    for index, row in enumerate(ids):
        for start, scored in windows(len(row), lm.window):
            built = lm.prefix + row[start : start + lm.window] + lm.suffix
            jobs.append((len(built), index, built, [len(lm.prefix) + i - start for i in scored]))
    jobs.sort(key=lambda job: job[0])
    plls = [0.0] * len(texts)
    with torch.inference_mode():
        for batch in _batches(jobs, batch_size):
            for index, value in zip(batch[0], _masked_log_probs(lm, *batch[1:]), strict=True):
                plls[index] += value
    counts = [windows(len(row), lm.window) for row in ids]
    return [TextScore(plls[i], len(row), len(counts[i])) for i, row in enumerate(ids)]


def _batches(jobs: list, batch_size: int) -> Iterator[tuple[list[int], list[list[int]], list[int], list[int]]]:
    """Split the masked copies of the jobs into batches of at most batch_size rows: (text index per row, input
    ids per row, masked position per row, the true token id per row)."""
    rows: tuple[list, list, list, list] = ([], [], [], [])
    for _, index, built, positions in jobs:
        for position in positions:
            for target, value in zip(rows, (index, built, position, built[position]), strict=True):
                target.append(value)
            if len(rows[0]) == batch_size:
                yield rows
                rows = ([], [], [], [])
    if rows[0]:
        yield rows


def _masked_log_probs(lm: MaskedLM, inputs: list[list[int]], positions: list[int], targets: list[int]) -> list[float]:
    """log P(target | input with the target's position masked) for each row."""
    import torch

    device = next(lm.model.parameters()).device
    width = max(map(len, inputs))
    pad = lm.tokenizer.pad_token_id if lm.tokenizer.pad_token_id is not None else 0
    input_ids = torch.full((len(inputs), width), pad, dtype=torch.long)
    attention = torch.zeros((len(inputs), width), dtype=torch.long)
    for row, ids in enumerate(inputs):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        attention[row, : len(ids)] = 1
    rows = torch.arange(len(inputs))
    where = torch.tensor(positions)
    input_ids[rows, where] = lm.tokenizer.mask_token_id
    input_ids, attention = input_ids.to(device), attention.to(device)
    if lm.head is not None:  # the head on the masked positions only: no (batch, length, vocabulary) logits
        hidden = lm.model.base_model(input_ids=input_ids, attention_mask=attention).last_hidden_state
        logits = lm.head(hidden[rows.to(device), where.to(device)])
    else:
        logits = lm.model(input_ids=input_ids, attention_mask=attention).logits[rows.to(device), where.to(device)]
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    return log_probs[torch.arange(len(inputs), device=device), torch.tensor(targets, device=device)].tolist()
