"""Hard-negative mining: sentence-transformers' `mine_hard_negatives` over a corpus, FAISS when it is large.
`emberta mine-negatives` and `emberta train embed --hard-negatives N --negatives-from CORPUS` use it."""

from __future__ import annotations

import contextlib
import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from emberta.errors import InputError, OptionError
from emberta.io.atomic import check_writable_dir, write_text_atomic
from emberta.train.data import read_corpus, read_training_data

FAISS_FROM = 20_000  # corpus size from which candidates are searched with FAISS instead of a dense matmul


@dataclass(kw_only=True)
class MiningCriteria:
    """Which corpus texts may become a pair's hard negatives, shared by `emberta mine-negatives` (MiningOptions)
    and `train embed --hard-negatives` (TrainConfig): the candidates ranked range_min..range_max by the model
    (range_max None: enough for the negatives asked for); a candidate is dropped when its score is within
    `margin` (absolute) or `relative_margin` (fraction of the positive's score) of the positive's.
    Keyword-only, so a subclass's own fields keep their positions (MiningOptions(3): 3 negatives)."""

    range_min: int = 0
    range_max: int | None = None
    margin: float | None = None
    relative_margin: float | None = None


@dataclass
class MiningOptions(MiningCriteria):
    """num_negatives per pair, chosen under the MiningCriteria; a candidate scoring above max_score is dropped
    too; sampling "top" takes the best-ranked valid candidates, "random" any valid ones. Every text paired with
    the same anchor counts as a positive, so it is never mined as a negative."""

    num_negatives: int = 1
    max_score: float | None = None
    sampling: str = "top"

    def check(self) -> None:
        if self.num_negatives < 1:
            raise OptionError("the number of hard negatives must be at least 1")
        if self.range_min < 0 or (self.range_max is not None and self.range_max < self.range_min + self.num_negatives):
            raise OptionError("--range-min must be >= 0 and --range-max >= range-min + the number of negatives")
        if self.sampling not in ("top", "random"):
            raise OptionError(f"unknown sampling {self.sampling!r}; choose top or random")


def mine_negatives(model, anchors: list[str], positives: list[str], corpus: list[str], options: MiningOptions, *,
                   output: str = "n-tuple", show_progress: bool = False) -> tuple[dict[str, list], dict]:  # fmt: skip
    """Mine hard negatives for (anchor, positive) pairs with a SentenceTransformer `model`.

    output "n-tuple": columns anchor, positive, negative_1..negative_N (pairs without N valid negatives are
    dropped); "triplet": one (anchor, positive, negative) row per negative. Returns (columns, stats) where stats
    counts pairs in and rows out."""
    from datasets import Dataset
    from sentence_transformers.util import mine_hard_negatives

    options.check()
    if not anchors:
        raise InputError("no (anchor, positive) pairs to mine negatives for")
    dataset = Dataset.from_dict({"anchor": anchors, "positive": positives})
    logger = logging.getLogger("sentence_transformers.util.hard_negatives")
    previous = logger.level
    quiet = contextlib.nullcontext() if show_progress else contextlib.redirect_stderr(io.StringIO())
    if not show_progress:
        logger.setLevel(logging.WARNING)
    try:
        with quiet:
            mined = mine_hard_negatives(
                dataset, model, anchor_column_name="anchor", positive_column_name="positive", corpus=corpus,
                num_negatives=options.num_negatives, range_min=options.range_min, range_max=options.range_max,
                absolute_margin=options.margin, relative_margin=options.relative_margin, max_score=options.max_score,
                sampling_strategy=options.sampling, output_format=output, use_faiss=len(corpus) >= FAISS_FROM,
                verbose=show_progress, batch_size=32,
            )  # fmt: skip
    finally:
        logger.setLevel(previous)
    columns = {name: list(mined[name]) for name in mined.column_names}
    return columns, {"pairs": len(anchors), "rows": len(mined), "corpus": len(corpus)}


def mine_file(model_spec: str, data: str | Path, corpus_path: str | Path, out: str | Path, options: MiningOptions,
              *, show_progress: bool = False) -> dict:  # fmt: skip
    """`emberta mine-negatives`: pairs (JSONL or a BEIR folder's train split) + a corpus -> triplets JSONL
    {"anchor", "positive", "negative"}, one line per mined negative, written atomically."""
    from emberta.encoders import load_encoder

    out = check_writable_dir(out)
    kind, columns = read_training_data(data)
    if kind not in ("pairs", "triplets"):
        raise InputError(f"a {kind} file; mining needs pairs {{'anchor', 'positive'}}", path=data)
    corpus = read_corpus(corpus_path)
    model = load_encoder(model_spec, backend="torch").sentence_transformer
    mined, stats = mine_negatives(model, columns["anchor"], columns["positive"], corpus, options, output="triplet",
                                  show_progress=show_progress)  # fmt: skip
    rows = zip(mined["anchor"], mined["positive"], mined["negative"], strict=True)
    write_text_atomic(out, "".join(json.dumps({"anchor": a, "positive": p, "negative": n}) + "\n" for a, p, n in rows))
    return {**stats, "out": str(out)}
