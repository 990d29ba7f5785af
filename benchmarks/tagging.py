"""Named-entity recognition on WNUT 2017 (tweets and other user text, six entity types): `emberta tag train` on
the train split, early stopping on the validation split, entity-level micro F1 (exact type and span, the CoNLL
convention) on the test split, for each model and seed; merged run by run into docs/tagging.json.

Models are NAME=SPEC pairs (SPEC: "default" or a model folder); the anchor is BERTweet's published 56.5
(Nguyen et al. 2020, 135M parameters pretrained on 850M tweets). Each run records its time per epoch on this
machine with the load average before and after (the numbers mean little on a shared machine without it).

With --probe, each model is scored instead by `emberta eval`'s WNUT17 task: a linear probe on frozen token
vectors (no fine-tuning; see docs/tagging.md).

    .venv/bin/python benchmarks/tagging.py --models default=default --seeds 0,1,2 --epochs 3
    .venv/bin/python benchmarks/tagging.py --probe --models default=default,tweets=build/pretrain/minilm-tweets
    .venv/bin/python benchmarks/tagging.py --render   # print the table of the runs recorded so far
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import parser as benchmark_parser

ANCHOR = {"model": "BERTweet (Nguyen et al. 2020)", "f1": 56.5}
OUT = Path(__file__).resolve().parents[1] / "docs" / "tagging.json"


def run_one(name: str, spec: str, seed: int, data: Path, args) -> dict:
    """Train one tagger in a temporary folder; its test metrics, training record and the load around it."""
    from emberta.classify.tagging import train_tagger

    load_before = os.getloadavg()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="emberta-tag-bench-") as tmp:
        tagger = train_tagger(
            data / "train.jsonl", model=spec, dev=data / "validation.jsonl", test=data / "test.jsonl",
            out=Path(tmp) / "tagger", epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
            max_length=args.max_length, seed=seed, loss=args.loss,
        )  # fmt: skip
        metrics = json.loads((Path(tmp) / "tagger" / "metrics.json").read_text(encoding="utf-8"))
    return {
        "model": name, "spec": spec, "seed": seed, "epochs": args.epochs, "lr": args.lr, "loss": args.loss,
        "batch_size": args.batch_size, "max_length": args.max_length, "test_f1": metrics["f1"],
        "test_precision": metrics["precision"], "test_recall": metrics["recall"], "test_macro_f1": metrics["macro_f1"],
        "per_type_f1": {k: v["f1"] for k, v in metrics["per_type"].items()},
        "dev": tagger.meta.get("dev_metrics"), "training": tagger.meta["training"],
        "seconds_total": round(time.perf_counter() - started, 1),
        "load_before": [round(x, 2) for x in load_before], "load_after": [round(x, 2) for x in os.getloadavg()],
    }  # fmt: skip


def run_probe(name: str, spec: str, data_dir: Path) -> dict:
    """`emberta eval`'s WNUT17 task (a linear probe on frozen token vectors) for one model."""
    import emberta

    load_before = os.getloadavg()
    started = time.perf_counter()
    result = emberta.evaluate(spec, "WNUT17", data_dir=data_dir, cache=False)[0]
    scores = result.subsets[0].metrics
    return {"phase": "probe", "model": name, "spec": spec, "test_f1": scores["f1"], "test_precision":
            scores["precision"], "test_recall": scores["recall"], "test_macro_f1": scores["macro_f1"],
            "per_type_f1": scores["per_type_f1"], "seconds_total": round(time.perf_counter() - started, 1),
            "load_before": [round(x, 2) for x in load_before],
            "load_after": [round(x, 2) for x in os.getloadavg()]}  # fmt: skip


def record(run: dict, command: str) -> None:
    """Merge `run` into docs/tagging.json (a run of the same model, seed and settings is replaced)."""
    from emberta.io.atomic import write_text_atomic
    from emberta.machine import machine, versions

    document = json.loads(OUT.read_text(encoding="utf-8")) if OUT.is_file() else {"runs": []}
    key = ("phase", "model", "seed", "epochs", "lr", "loss", "batch_size", "max_length")
    document["runs"] = [r for r in document["runs"] if any(r.get(k) != run.get(k) for k in key)] + [run]
    document.update(anchor=ANCHOR, machine=machine(), versions=versions())
    document.setdefault("commands", [])
    if command not in document["commands"]:
        document["commands"].append(command)
    write_text_atomic(OUT, json.dumps(document, indent=2) + "\n")


def render() -> str:
    """The markdown table of the recorded runs: per model and settings, test micro F1 mean ± sd over seeds."""
    document = json.loads(OUT.read_text(encoding="utf-8"))
    groups: dict[tuple, list[dict]] = {}
    probes = [run for run in document["runs"] if run.get("phase") == "probe"]
    for run in document["runs"]:
        if run.get("phase") == "probe":
            continue
        key = (run["model"], run["epochs"], run["lr"], run["batch_size"], run["loss"], run["max_length"])
        groups.setdefault(key, []).append(run)
    lines = ["| model | epochs (run) | lr | batch | loss | seeds | test entity micro F1 | vs BERTweet 56.5 | "
             "s/epoch (load) |", "|---|---|---|---:|---|---|---:|---:|---|"]  # fmt: skip
    for (model, epochs, lr, batch_size, loss, _), runs in sorted(groups.items()):
        f1 = [100 * r["test_f1"] for r in runs]
        spread = f" ± {statistics.stdev(f1):.1f}" if len(f1) > 1 else ""
        ran = ", ".join(f"{r['training']['epochs_run']:g}" for r in runs)
        per_epoch = ", ".join(f"{r['training']['seconds_per_epoch']:.0f} ({r['load_before'][0]:.1f})" for r in runs)
        seeds = ",".join(str(r["seed"]) for r in runs)
        lines.append(f"| {model} | {epochs:g} ({ran}) | {lr:g} | {batch_size} | {loss} | {seeds} | "
                     f"{statistics.mean(f1):.1f}{spread} | {statistics.mean(f1) - ANCHOR['f1']:+.1f} | "
                     f"{per_epoch} |")  # fmt: skip
    if probes:
        lines += ["", "| model | WNUT17 probe (emberta eval): test entity micro F1 | P | R | seconds (load) |",
                  "|---|---:|---:|---:|---|"]  # fmt: skip
        for run in probes:
            lines.append(
                f"| {run['model']} | {100 * run['test_f1']:.1f} | {100 * run['test_precision']:.1f} | "
                f"{100 * run['test_recall']:.1f} | {run['seconds_total']:.0f} ({run['load_before'][0]:.1f}) |"
            )
    return "\n".join(lines)


def main() -> None:
    p = benchmark_parser(__doc__)
    p.add_argument("--models", default="default=default", help="comma-separated NAME=SPEC (default: %(default)s)")
    p.add_argument("--seeds", default="0", help="comma-separated seeds (default: %(default)s)")
    p.add_argument("--epochs", type=float, default=3.0)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--loss", default="ce", help="ce | weighted-ce | focal")
    p.add_argument("--probe", action="store_true", help="run emberta eval's WNUT17 probe instead of fine-tuning")
    p.add_argument("--render", action="store_true", help="only print the table of the recorded runs")
    args = p.parse_args()
    if args.render:
        print(render())
        return
    data = args.data_dir / "wnut17"
    command = "python benchmarks/tagging.py " + " ".join(sys.argv[1:])
    for pair in args.models.split(","):
        name, _, spec = pair.partition("=")
        if args.probe:
            run = run_probe(name, spec or name, args.data_dir)
            record(run, command)
            print(f"{name} probe: test F1 {100 * run['test_f1']:.1f}  {run['seconds_total']} s", flush=True)
            continue
        for seed in (int(s) for s in args.seeds.split(",")):
            run = run_one(name, spec or name, seed, data, args)
            record(run, command)
            print(f"{name} seed {seed}: test F1 {100 * run['test_f1']:.1f}  "
                  f"{run['training']['seconds_per_epoch']} s/epoch  load {run['load_before']}", flush=True)  # fmt: skip
    print(render())


if __name__ == "__main__":
    main()
