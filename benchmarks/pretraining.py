"""Pretraining from scratch on this CPU: a tiny RoBERTa (2 layers, 128 wide) and its byte-level BPE tokenizer
trained on the English texts of the shared datasets (training splits; validation splits held out), for
docs/pretraining.md.

Runs, all on one fixed budget (--steps optimizer steps of --batch blocks of 64 tokens):
  mask15      15% token masking (the baseline)
  mask40      40% token masking (Wettig et al. 2023)
  wwm15       15% whole-word masking
  forget      15% token masking with active forgetting every --forget-every steps (Chen et al. 2023)
Then: held-out MLM perplexity over steps and pseudo-perplexity (emberta.pretrain.pll.score_mlm) at the end;
SimCSE (`emberta train embed --loss simcse`) on the STS Benchmark training sentences for mask15, mask40, wwm15
and a randomly initialised copy -> STSBenchmark test Spearman; and German adaptation of mask15 and forget:
a new German tokenizer, new token embeddings, body frozen (--freeze-body), on the stsb_multi_mt de dev
sentences, German held-out perplexity (german_text dev) over --adapt-steps steps.

    nice -n 5 .venv/bin/python benchmarks/pretraining.py [--steps 400] [--work DIR] [--json FILE]
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import time
from pathlib import Path

import emberta
from common import parser as benchmark_parser
from emberta.pretrain.mlm import MlmOptions, train_mlm
from emberta.pretrain.tokenizer_training import TokenizerOptions, train_tokenizer
from emberta.report.plots import curves_plot

EN_TRAIN = {  # folder: (file, fields)
    "stsbenchmark": ("train.jsonl", ("sentence1", "sentence2")),
    "mrpc": ("train.jsonl", ("sentence1", "sentence2")),
    "banking77": ("train.jsonl", ("text",)),
    "tweeteval_emotion": ("train.jsonl", ("text",)),
    "tweeteval_hate": ("train.jsonl", ("text",)),
    "tweeteval_irony": ("train.jsonl", ("text",)),
    "tweeteval_offensive": ("train.jsonl", ("text",)),
}
EN_VALID = {
    "stsbenchmark": ("dev.jsonl", ("sentence1", "sentence2")),
    "mrpc": ("validation.jsonl", ("sentence1", "sentence2")),
    "tweeteval_irony": ("validation.jsonl", ("text",)),
}
RUNS = {"mask15": {}, "mask40": {"mask_rate": 0.4}, "wwm15": {"whole_word": True}, "forget": {}}


def write_texts(data: Path, spec: dict, path: Path) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for folder, (name, fields) in spec.items():
            for line in (data / folder / name).read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                for key in fields:
                    out.write(" ".join(row[key].split()) + "\n")
    return path


def pll(model: Path, texts: list[str]) -> float:
    from emberta.pretrain.pll import score_mlm

    return score_mlm(str(model), texts).pseudo_perplexity


def sts(model: Path, data: Path) -> float:
    encoder = emberta.load_encoder(str(model))
    return (
        100 * emberta.evaluate(encoder, ["STSBenchmark"], data_dir=data, cache=False, show_progress=False)[0].main_score
    )


def simcse(model: Path, sentences: Path, work: Path, name: str) -> Path:
    from emberta.train import TrainConfig, train_embed

    out = work / f"simcse-{name}"
    shutil.rmtree(out, ignore_errors=True)
    train_embed(TrainConfig(model=str(model), data=[str(sentences)], loss="simcse", out=str(out), batch_size=64,
                            lr=5e-5, epochs=1.0, max_length=64))  # fmt: skip
    return out


def random_copy(tokenizer_dir: Path, out: Path) -> Path:
    """The same tiny RoBERTa, randomly initialised, saved like a trained one."""
    import torch

    from emberta.io.atomic import staged_dir
    from emberta.pretrain.models import load_tokenizer, new_roberta, save_encoder_folder
    from emberta.pretrain.sizes import roberta_config

    torch.manual_seed(0)
    tokenizer = load_tokenizer(tokenizer_dir)
    model = new_roberta(tokenizer, roberta_config(tokenizer, size="tiny", max_length=64))
    with staged_dir(out) as staging:
        save_encoder_folder(model, tokenizer, staging, max_length=64)
    return out


def pretrain(args, work: Path, corpus: Path, valid: Path, tokenizer: Path) -> dict:
    results = {}
    for name, extra in RUNS.items():
        options = MlmOptions(tokenizer=tokenizer, size="tiny", max_length=64, batch_size=args.batch,
                             max_steps=args.steps, eval_corpus=[valid], eval_blocks=100, eval_steps=args.steps // 8,
                             lr=1e-3, seed=0, overwrite=True,
                             forget_every=args.forget_every if name == "forget" else 0, **extra)  # fmt: skip
        start = time.perf_counter()
        result = train_mlm([corpus], work / name, options)
        results[name] = {"seconds": time.perf_counter() - start, "heldout": result.history,
                         "final_loss": result.history[-1]["eval_loss"], "resets": result.resets,
                         "load": os.getloadavg()[0]}  # fmt: skip
        print(
            f"{name}: held-out loss {result.history[-1]['eval_loss']:.3f} "
            f"(ppl {result.history[-1]['eval_perplexity']:.1f}), {results[name]['seconds']:.0f} s",
            flush=True,
        )
    return results


def adapt_german(args, work: Path, data: Path) -> dict:
    """Tokenizer on the German adaptation texts, then each model's body with new embeddings, frozen."""
    de_train = work / "de-train.txt"
    with de_train.open("w", encoding="utf-8") as out:
        for line in (data / "stsb_multi_mt" / "de" / "dev.jsonl").read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            out.write(row["sentence1"] + "\n" + row["sentence2"] + "\n")
    de_tok = work / "tok-de"
    train_tokenizer([de_train], de_tok, TokenizerOptions(vocab_size=4000, overwrite=True))
    results = {}
    for name in ("mask15", "forget"):
        options = MlmOptions(from_model=str(work / name), tokenizer=de_tok, freeze_body=True, max_length=64,
                             batch_size=args.batch, max_steps=args.adapt_steps, lr=2e-3, eval_blocks=100,
                             eval_corpus=[data / "german_text" / "dev.jsonl"], eval_steps=max(1, args.adapt_steps // 8),
                             seed=0, overwrite=True)  # fmt: skip
        result = train_mlm([de_train], work / f"de-{name}", options)
        results[name] = {"heldout": result.history}
        print(f"German adaptation of {name}: held-out ppl {result.perplexity_after:.1f}", flush=True)
    return results


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--steps", type=int, default=400, help="Pretraining steps per run.")
    parser.add_argument("--batch", type=int, default=32, help="Blocks of 64 tokens per step.")
    parser.add_argument("--forget-every", type=int, default=50)
    parser.add_argument("--adapt-steps", type=int, default=150)
    parser.add_argument("--simcse-texts", type=int, default=3000, help="STS Benchmark train sentences for SimCSE.")
    parser.add_argument("--work", type=Path, default=Path("build/pretrain/bench"))
    parser.add_argument("--images", type=Path, default=Path("docs/images"))
    parser.add_argument("--json", type=Path, default=Path("docs/pretraining.json"))
    parser.add_argument("--keep-scratch", type=Path, default=Path("build/pretrain/scratch-tiny"))
    args = parser.parse_args()
    data, work = args.data_dir, args.work
    work.mkdir(parents=True, exist_ok=True)
    started = time.time()
    corpus = write_texts(data, EN_TRAIN, work / "en-train.txt")
    valid = write_texts(data, EN_VALID, work / "en-valid.txt")
    tokenizer = work / "tok-en"
    tok = train_tokenizer([corpus], tokenizer, TokenizerOptions(vocab_size=8000, compare=["default"], overwrite=True))
    print(f"tokenizer: {tok['vocab_size']} tokens, fertility {tok['fertility']}", flush=True)
    runs = pretrain(args, work, corpus, valid, tokenizer)
    random_copy(tokenizer, work / "random")
    valid_texts = list(dict.fromkeys(valid.read_text(encoding="utf-8").splitlines()))[:200]
    for name in [*RUNS, "random"]:
        runs.setdefault(name, {})["pll"] = pll(work / name, valid_texts)
    sentences = work / "stsb-train-sentences.txt"
    stsb = [json.loads(x) for x in (data / "stsbenchmark" / "train.jsonl").read_text(encoding="utf-8").splitlines()]
    distinct = list(dict.fromkeys(t for r in stsb for t in (r["sentence1"], r["sentence2"])))
    sentences.write_text("\n".join(distinct[: args.simcse_texts]) + "\n", encoding="utf-8")
    for name in ("random", "mask15", "mask40", "wwm15"):
        runs[name]["sts_before"] = sts(work / name, data)
        runs[name]["sts_simcse"] = sts(simcse(work / name, sentences, work, name), data)
        print(
            f"{name}: STSBenchmark {runs[name]['sts_before']:.2f} -> SimCSE {runs[name]['sts_simcse']:.2f}", flush=True
        )
    german = adapt_german(args, work, data)
    de_texts = [json.loads(x)["text"] for x in (data / "german_text" / "dev.jsonl").read_text().splitlines()][:200]
    for name in german:
        german[name]["pll"] = pll(work / f"de-{name}", de_texts)
    if args.keep_scratch:
        shutil.rmtree(args.keep_scratch, ignore_errors=True)
        shutil.copytree(work / "mask15", args.keep_scratch)
    write_outputs(args, tok, runs, german, started)


def write_outputs(args, tok: dict, runs: dict, german: dict, started: float) -> None:
    import tokenizers
    import torch
    import transformers

    args.images.mkdir(parents=True, exist_ok=True)
    series = {n: [(r["step"], r["eval_perplexity"]) for r in runs[n]["heldout"]] for n in RUNS}
    curves_plot(series, args.images / "pretraining-heldout.png", xlabel="step", ylabel="held-out MLM perplexity",
                title="tiny RoBERTa from scratch (English)", log_y=True)  # fmt: skip
    de = {f"{n} + German": [(r["step"], r["eval_perplexity"]) for r in german[n]["heldout"]] for n in german}
    curves_plot(de, args.images / "pretraining-german.png", xlabel="adaptation step", log_y=True,
                ylabel="German held-out MLM perplexity", title="German adaptation, body frozen")  # fmt: skip
    report = {
        "command": "nice -n 5 .venv/bin/python benchmarks/pretraining.py "
        + " ".join(f"--{k.replace('_', '-')} {getattr(args, k)}" for k in ("steps", "batch", "forget_every",
                                                                            "adapt_steps", "simcse_texts")),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "load_end": os.getloadavg()},
        "versions": {"emberta": emberta.__version__, "torch": torch.__version__,
                     "transformers": transformers.__version__, "tokenizers": tokenizers.__version__},
        "minutes": (time.time() - started) / 60, "tokenizer": tok, "runs": runs, "german": german,
    }  # fmt: skip
    args.json.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"{'run':8} {'val loss':>9} {'val ppl':>9} {'PLL ppl':>9} {'STS raw':>8} {'STS SimCSE':>10}")
    for name, row in runs.items():
        loss = row.get("final_loss", float("nan"))
        print(
            f"{name:8} {loss:9.3f} {math.exp(loss):9.1f} {row['pll']:9.1f} {row.get('sts_before', float('nan')):8.2f} "
            f"{row.get('sts_simcse', float('nan')):10.2f}"
        )


if __name__ == "__main__":
    main()
