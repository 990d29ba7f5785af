"""Vocabulary expansion into German (each --init, pseudo-perplexity at step 0 and after a small MLM budget) and
the score-mlm sanity check (share of sentences whose PLL beats a word-shuffled copy of themselves).

Phases (pick with --phases, default both):
  expand   the base model (--base) gets --add new tokens from a tokenizer trained on German (stsb_multi_mt de
           dev, both sentences) with each init (mean, subword-mean, sampled, random), and, as the reference,
           none added ("none"). Each is scored on held-out German (german_text dev, the first --heldout
           sentences) at step 0 and, for the inits (and "none" with --train-none), again after
           `train mlm --from` for --steps steps
           (--train-batch blocks of 64 tokens) on the same German training texts. Pseudo-perplexity is
           per token of the model's own tokenizer, so it compares inits (same tokenizer); PLL per word
           compares against "none" (a different tokenizer).
  sanity   --sanity-model (the tweet-adapted default model) scores --sanity-n tweets (tweeteval_sentiment
           validation, at least 4 words) and a word-shuffled copy of each (seeded); the share whose original
           scores higher.

Training and validation splits only: the test splits stay unseen. Results go to --out (JSON: machine, versions,
command, numbers) and a table on stdout.

    nice -n 5 .venv/bin/python benchmarks/pretraining_vocab.py [--phases expand,sanity] [--steps 15]
"""

from __future__ import annotations

import json
import math
import random
import sys
import tempfile
import time
from pathlib import Path

from common import parser as benchmark_parser

ROOT = Path(__file__).resolve().parents[1]
ADAPTED = ROOT / "build" / "pretrain" / "minilm-tweets"
INITS = ("mean", "subword-mean", "sampled", "random")


def read_jsonl(path: Path, fields: tuple[str, ...]) -> list[str]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [row[f] for row in rows for f in fields if isinstance(row.get(f), str) and row[f].strip()]


def pll_row(model, texts: list[str], batch_size: int) -> dict:
    """Corpus pseudo-perplexity, PLL per word, tokens per text and the scoring time of `texts`."""
    from emberta.pretrain.pll import score_mlm

    started = time.perf_counter()
    scores = score_mlm(model, texts, batch_size=batch_size)
    words = sum(len(text.split()) for text in texts)
    return {"pppl": scores.pseudo_perplexity, "pll_per_word": sum(s.pll for s in scores.texts) / words,
            "tokens_per_text": scores.total_tokens / len(texts), "seconds": time.perf_counter() - started}  # fmt: skip


def scored_or_none(model: str, texts: list[str], batch_size: int) -> dict | None:
    """pll_row, or None for a model without a trained MLM head (the default model, before `train mlm`)."""
    from emberta.errors import ModelError

    try:
        return pll_row(model, texts, batch_size)
    except ModelError as exc:
        print(f"{model}: not scored ({exc})", file=sys.stderr)
        return None


def train_budget(model: str, corpus: Path, out: Path, steps: int, batch: int, seed: int) -> float:
    """Continue `model` with MLM (`train mlm --from`) for `steps` steps of `batch` blocks of 64 tokens on
    `corpus`; returns the seconds taken."""
    from emberta.pretrain.mlm import MlmOptions, train_mlm

    options = MlmOptions(from_model=model, max_steps=steps, batch_size=batch, max_length=64, eval_blocks=8,
                         eval_steps=steps, held_out=0.02, save_steps=10 * steps, seed=seed, overwrite=True)  # fmt: skip
    started = time.perf_counter()
    train_mlm([corpus], out, options)
    return time.perf_counter() - started


def expand_phase(args, work: Path) -> dict:
    from emberta.pretrain.vocab import expand_vocab

    german = read_jsonl(args.data_dir / "stsb_multi_mt" / "de" / "dev.jsonl", ("sentence1", "sentence2"))
    corpus = work / "german-train.txt"
    corpus.write_text("\n".join(german) + "\n", encoding="utf-8")
    heldout = read_jsonl(args.data_dir / "german_text" / "dev.jsonl", ("text",))[: args.heldout]
    rows = {}
    for init in args.inits.split(","):
        folder = args.base
        summary = None
        if init != "none":
            folder = str(work / f"expanded-{init}")
            summary = expand_vocab(args.base, [corpus], add=args.add, init=init, out=folder, seed=args.seed)
        row = {"added": summary["added"] if summary else 0, "step0": scored_or_none(folder, heldout, args.batch_size)}
        if args.steps > 0 and (init != "none" or args.train_none):
            trained = work / f"trained-{init}"
            row["train_seconds"] = train_budget(folder, corpus, trained, args.steps, args.train_batch, args.seed)
            row["after"] = pll_row(str(trained), heldout, args.batch_size)
        rows[init] = row
        print(f"{init:13s} {json.dumps(row)}", file=sys.stderr, flush=True)
    return {"base": args.base, "add": args.add, "steps": args.steps, "train_batch": args.train_batch,
            "train_texts": len(german),
            "heldout_texts": len(heldout), "rows": rows}  # fmt: skip


def shuffled(text: str, rng: random.Random) -> str:
    """The words of `text` in a random order different from the original (when the words allow one)."""
    words = text.split()
    for _ in range(20):
        order = words[:]
        rng.shuffle(order)
        if order != words:
            return " ".join(order)
    return " ".join(words)


def sanity_phase(args) -> dict:
    from emberta.pretrain.pll import load_masked_lm, score_mlm

    tweets = [t for t in read_jsonl(args.data_dir / "tweeteval_sentiment" / "validation.jsonl", ("text",))
              if len(set(t.split())) >= 4][: args.sanity_n]  # fmt: skip
    rng = random.Random(args.seed)
    copies = [shuffled(text, rng) for text in tweets]
    lm = load_masked_lm(args.sanity_model)
    started = time.perf_counter()
    original = score_mlm(lm, tweets, batch_size=args.batch_size).texts
    scrambled = score_mlm(lm, copies, batch_size=args.batch_size).texts
    wins = sum(a.pll > b.pll for a, b in zip(original, scrambled, strict=True))
    return {"model": args.sanity_model, "texts": len(tweets), "original_wins": wins, "share": wins / len(tweets),
            "pppl_original": math.exp(-sum(s.pll for s in original) / sum(s.tokens for s in original)),
            "pppl_shuffled": math.exp(-sum(s.pll for s in scrambled) / sum(s.tokens for s in scrambled)),
            "seconds": time.perf_counter() - started}  # fmt: skip


def print_tables(result: dict) -> None:
    if "expand" in result:
        expand = result["expand"]
        print(f"\nexpansion of {expand['base']} into German: +{expand['add']} tokens, {expand['steps']} MLM steps")
        print("| init | added | tokens/text | PPPL step 0 | PPPL after | PLL/word step 0 | PLL/word after | train s |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        nan = {"pppl": math.nan, "pll_per_word": math.nan, "tokens_per_text": math.nan}
        for init, row in expand["rows"].items():
            step0, after = row["step0"] or nan, row.get("after") or nan
            tokens = after["tokens_per_text"] if math.isnan(step0["tokens_per_text"]) else step0["tokens_per_text"]
            print(
                f"| {init} | {row['added']} | {tokens:.1f} | {step0['pppl']:.1f} | {after['pppl']:.1f} | "
                f"{step0['pll_per_word']:.2f} | {after['pll_per_word']:.2f} | {row.get('train_seconds', 0):.0f} |"
            )
    if "sanity" in result:
        sanity = result["sanity"]
        share, wins, texts = 100 * sanity["share"], sanity["original_wins"], sanity["texts"]
        print(
            f"\nscore-mlm sanity ({sanity['model']}): {wins}/{texts} = {share:.1f}% of tweets beat their "
            f"word-shuffled copy (PPPL {sanity['pppl_original']:.1f} vs {sanity['pppl_shuffled']:.1f})"
        )


def main() -> None:
    p = benchmark_parser(__doc__)
    p.add_argument("--phases", default="expand,sanity")
    p.add_argument(
        "--base",
        default=str(ADAPTED) if ADAPTED.is_dir() else "default",
        help="model to expand (default: build/pretrain/minilm-tweets when present, else 'default')",
    )
    p.add_argument("--sanity-model", default=str(ADAPTED))
    p.add_argument("--add", type=int, default=1000)
    p.add_argument("--steps", type=int, default=15, help="MLM steps after expansion (0: step 0 only)")
    p.add_argument("--train-batch", type=int, default=8, help="blocks of 64 tokens per MLM step")
    p.add_argument("--inits", default="none," + ",".join(INITS), help="'none' (nothing added) and init methods")
    p.add_argument("--train-none", action="store_true", help="also train 'none' (the model as it is) --steps steps")
    p.add_argument("--heldout", type=int, default=30)
    p.add_argument("--sanity-n", type=int, default=80)
    p.add_argument("--batch-size", type=int, default=128, help="masked copies per forward pass")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch threads")
    p.add_argument("--out", type=Path, default=ROOT / "build" / "pretrain" / "vocab-bench.json")
    args = p.parse_args()
    import os

    import torch

    from emberta.machine import machine, versions

    if args.threads:
        torch.set_num_threads(args.threads)
    phases = args.phases.split(",")
    result = {"machine": dict(machine(), versions=versions()), "command": " ".join(sys.argv),
              "load_before": os.getloadavg()}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="emberta-vocab-bench-") as work:
        if "expand" in phases:
            result["expand"] = expand_phase(args, Path(work))
        if "sanity" in phases:
            result["sanity"] = sanity_phase(args)
    result["load_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print_tables(result)


if __name__ == "__main__":
    main()
