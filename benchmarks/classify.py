"""Classification on TweetEval with the default model (all-MiniLM-L6-v2): emberta's heads against the SetFit
package and the published TweetEval baselines; results merged into docs/classification.json (by phase).

Phases (pick with --phases, default all, run in this order):
  frozen    logreg and mlp heads on frozen embeddings at 8/16/64 examples per class (--seeds seeds) and on the
            full training split; regularisation chosen on the validation split, temperature scaling on it, ECE
            before and after
  setfit    emberta's setfit head against the SetFit package (the peer, `pip install setfit`) at 8/16/64 per
            class on the same samples and seeds, both without a dev split; macro-F1 and training time
  finetune  --head finetune on the full training split (--epochs, --finetune-seeds), loss ce on every set and
            weighted-ce / focal on the imbalanced sets named by --loss-sets

Metrics are TweetEval's: macro-F1 (emotion, hate, offensive), F1 of the ironic class (irony), on the test split.

    .venv/bin/python benchmarks/classify.py [--phases frozen,setfit,finetune] [--seeds 3] [--data-dir DIR]
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

SETS = ("emotion", "hate", "irony", "offensive")
POSITIVE = {"irony": "irony"}  # TweetEval scores irony by the F1 of the ironic class
SHOTS = (8, 16, 64)
BASELINES = {  # TweetEval (Barbieri et al. 2020), test set, same metrics
    "SVM": {"emotion": 64.7, "hate": 36.7, "irony": 61.7, "offensive": 52.3},
    "FastText": {"emotion": 65.2, "hate": 50.6, "irony": 63.1, "offensive": 73.4},
    "RoBERTa-base": {"emotion": 76.1, "hate": 46.6, "irony": 59.7, "offensive": 79.5},
}
OUT = Path(__file__).resolve().parents[1] / "docs" / "classification.json"


def files(data: Path, name: str) -> dict[str, Path]:
    folder = data / f"tweeteval_{name}"
    return {split: folder / f"{split}.jsonl" for split in ("train", "validation", "test")}


def official(metrics: dict, name: str) -> float:
    from emberta.classify.metrics import main_score

    return 100 * main_score(metrics, POSITIVE.get(name))


def run_emberta(name: str, paths: dict, *, dev: bool, **options) -> dict:
    import emberta.classify as classify

    started = time.perf_counter()
    clf = classify.train(paths["train"], dev=paths["validation"] if dev else None, **options)
    seconds = time.perf_counter() - started
    metrics = classify.evaluate(clf, paths["test"], write=False)
    return {"score": official(metrics, name), "macro_f1": 100 * metrics["macro_f1"], "ece": metrics["ece"],
            "ece_uncalibrated": metrics["ece_uncalibrated"], "train_seconds": seconds,
            "temperature": clf.temperature}  # fmt: skip


def phase_frozen(data: Path, seeds: int, full_sets: list[str], save) -> dict:
    from emberta.classify.heads import FROZEN_HEADS

    results = {}
    for name in SETS:
        paths = files(data, name)
        for head in FROZEN_HEADS:
            for shots in SHOTS:
                runs = [run_emberta(name, paths, dev=True, head=head, samples_per_label=shots, seed=seed)
                        for seed in range(seeds)]  # fmt: skip
                results[f"{name}/{head}/{shots}"] = summarise(runs)
                print(name, head, shots, results[f"{name}/{head}/{shots}"]["mean"], flush=True)
                save(results)
            for weight in ("none", "balanced") if name in full_sets else ():
                run = run_emberta(name, paths, dev=True, head=head, class_weight=weight)
                results[f"{name}/{head}/full/{weight}"] = summarise([run])
                print(name, head, "full", weight, run["score"], flush=True)
                save(results)
    return results


def phase_setfit(data: Path, seeds: int, iterations: int, sets: list[str], shot_list: list[int], save) -> dict:
    results = {}
    for name in sets:
        paths = files(data, name)
        for shots in shot_list:
            ours, peer = [], []
            for seed in range(seeds):
                ours.append(run_emberta(name, paths, dev=False, head="setfit", samples_per_label=shots, seed=seed,
                                        setfit_iterations=iterations))  # fmt: skip
                peer.append(run_setfit_package(name, paths, shots, seed, iterations))
                results[f"{name}/setfit/{shots}"] = summarise(ours)  # saved after each seed
                results[f"{name}/setfit-package/{shots}"] = summarise(peer)
                print(name, shots, seed, "emberta", ours[-1]["score"], "SetFit", peer[-1]["score"], flush=True)
                save(results)
    return results


def run_setfit_package(name: str, paths: dict, shots: int, seed: int, iterations: int) -> dict:
    """The SetFit package on the same sample (emberta's sampler) and seed, with SetFit's defaults but for
    num_iterations."""
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments

    from emberta.classify import Fields, read_examples
    from emberta.classify.metrics import classification_metrics
    from emberta.classify.sampling import sample_per_label
    from emberta.encoders.model_folder import default_model_path

    train = sample_per_label(read_examples(paths["train"], Fields()), shots, seed)
    test = read_examples(paths["test"], Fields())
    labels = train.label_set()
    started = time.perf_counter()
    model = SetFitModel.from_pretrained(str(default_model_path()), labels=labels)
    with tempfile.TemporaryDirectory() as scratch:  # SetFit checkpoints into ./checkpoints unless told
        args = TrainingArguments(output_dir=scratch, batch_size=16, num_epochs=1, num_iterations=iterations, seed=seed,
                                 show_progress_bar=False)  # fmt: skip
        dataset = Dataset.from_dict({"text": train.texts, "label": train.labels})
        Trainer(model=model, args=args, train_dataset=dataset).train()
    seconds = time.perf_counter() - started
    proba = model.predict_proba(test.texts, as_numpy=True)
    metrics = classification_metrics(proba, labels, test.labels)
    return {"score": official(metrics, name), "macro_f1": 100 * metrics["macro_f1"], "ece": metrics["ece"],
            "train_seconds": seconds}  # fmt: skip


def phase_finetune(data: Path, args, save) -> dict:
    """--head finetune on the full training splits: for each set, pooling and loss, --finetune-seeds seeds. Keys:
    SET/finetune/LOSS ([CLS] pooler), SET/finetune-mean/LOSS (mean pooling, LP-FT); @TAG when --model-tag."""
    results = {}
    for name in args.finetune_sets.split(","):
        paths = files(data, name)
        for pooling in args.pooling.split(","):
            for loss in ("ce", "weighted-ce", "focal"):
                if (loss != "ce" and name not in args.loss_sets.split(",")) or loss not in args.losses.split(","):
                    continue
                runs = [run_emberta(name, paths, dev=True, model=args.model, head="finetune", pooling=pooling,
                                    loss=loss, epochs=args.epochs, seed=seed, batch_size=32, lr=args.lr,
                                    max_length=args.max_length) for seed in range(args.finetune_seeds)]  # fmt: skip
                head = "finetune" if pooling == "cls" else f"finetune-{pooling}"
                key = f"{name}/{head}{'@' + args.model_tag if args.model_tag else ''}/{loss}"
                results[key] = summarise(runs)
                print(key, results[key]["mean"], flush=True)
                save(results)
    return results


def summarise(runs: list[dict]) -> dict:
    scores = [r["score"] for r in runs]
    out = {"mean": statistics.mean(scores), "stdev": statistics.stdev(scores) if len(scores) > 1 else 0.0,
           "scores": scores, "train_seconds": statistics.mean(r["train_seconds"] for r in runs)}  # fmt: skip
    for key in ("ece", "ece_uncalibrated", "macro_f1"):
        if all(key in r for r in runs):
            out[key] = statistics.mean(r[key] for r in runs)
    return out


def machine() -> dict:
    """emberta's machine record (CPU, cores, memory, OS) with the library versions, SetFit's (the peer) added."""
    from importlib.metadata import PackageNotFoundError, version

    from emberta.machine import machine as machine_record
    from emberta.machine import versions

    try:
        setfit = version("setfit")
    except PackageNotFoundError:
        setfit = None
    return dict(machine_record(), versions=dict(versions(), setfit=setfit))


def record(phase: str, results: dict, settings: dict) -> None:
    """Merge `results` (each with the settings it ran under) into docs/classification.json's `phase`."""
    from emberta.io.atomic import write_text_atomic

    document = json.loads(OUT.read_text(encoding="utf-8")) if OUT.is_file() else {}
    document.setdefault("baselines", BASELINES)
    document["machine"] = machine()
    merged = dict(document.get(phase, {}).get("results", {}))
    merged.update({key: dict(value, settings=settings) for key, value in results.items()})
    document[phase] = {"settings": settings, "results": merged,
                       "recorded": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}  # fmt: skip
    write_text_atomic(OUT, json.dumps(document, indent=2) + "\n")


def cell(results: dict, key: str, digits: int = 1) -> str:
    """ "mean ± stdev (n)" of a result, or "–" when it was not run."""
    if key not in results:
        return "–"
    r = results[key]
    n = len(r["scores"])
    return f"{r['mean']:.{digits}f} ± {r['stdev']:.{digits}f} ({n})" if n > 1 else f"{r['mean']:.{digits}f} (1)"


def render() -> str:
    """The markdown tables of docs/classification.md, from docs/classification.json."""
    doc = json.loads(OUT.read_text(encoding="utf-8"))
    results = {
        k: v for phase in ("frozen", "setfit", "finetune") for k, v in doc.get(phase, {}).get("results", {}).items()
    }
    lines = ["| set | shots | logreg | mlp | setfit (emberta) | SetFit package |", "|---|---:|---:|---:|---:|---:|"]
    for name in SETS:
        for shots in SHOTS:
            keys = [f"{name}/{head}/{shots}" for head in ("logreg", "mlp", "setfit", "setfit-package")]
            lines.append(f"| {name} | {shots} | " + " | ".join(cell(results, k) for k in keys) + " |")
    heads = ["logreg/full/none", "logreg/full/balanced", "mlp/full/none", "mlp/full/balanced", "finetune/ce",
             "finetune/weighted-ce", "finetune/focal", "finetune-mean/ce", "finetune-mean@tweets/ce"]  # fmt: skip
    lines += ["", "| set | logreg | logreg balanced | mlp | mlp balanced | finetune ce | finetune weighted-ce | "
              "finetune focal | finetune mean ce | finetune mean ce, tweet-adapted | SVM | FastText | "
              "RoBERTa-base |", "|---|" + "---:|" * 12]  # fmt: skip
    for name in SETS:
        base = [f"{BASELINES[b][name]:.1f}" for b in BASELINES]
        lines.append(f"| {name} | " + " | ".join([*(cell(results, f"{name}/{h}") for h in heads), *base]) + " |")
    means = [_four_task_mean(results, h) for h in heads]
    base = [f"{statistics.mean(BASELINES[b].values()):.1f}" for b in BASELINES]
    lines.append("| mean of the four | " + " | ".join([*means, *base]) + " |")
    lines += ["", "| fine-tuning run | epochs | tokens | seconds | score |", "|---|---:|---:|---:|---:|"]
    for key, r in results.items():
        if "/finetune" in key and "settings" in r:
            opts = r["settings"]
            lines.append(f"| {key} | {opts.get('epochs')} | {opts.get('max_length', 128)} | "
                         f"{r['train_seconds']:.0f} | {cell(results, key)} |")  # fmt: skip
    lines += ["", "| run | ECE at T = 1 | ECE after temperature scaling |", "|---|---:|---:|"]
    for key, r in results.items():
        if "ece_uncalibrated" in r and ("/64" in key or "/full/none" in key or "/finetune/" in key):
            lines.append(f"| {key} | {r['ece_uncalibrated']:.3f} | {r['ece']:.3f} |")
    lines += ["", "| set | shots | emberta setfit | SetFit | difference | emberta train s | SetFit train s | "
              "speed ratio |", "|---|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for key, r in results.items():
        if "/setfit/" in key and key.replace("/setfit/", "/setfit-package/") in results:
            peer_key = key.replace("/setfit/", "/setfit-package/")
            peer = results[peer_key]
            name, _, shots = key.split("/")
            lines.append(f"| {name} | {shots} | {cell(results, key)} | {cell(results, peer_key)} | "
                         f"{r['mean'] - peer['mean']:+.1f} | {r['train_seconds']:.0f} | {peer['train_seconds']:.0f} | "
                         f"{peer['train_seconds'] / r['train_seconds']:.2f}x |")  # fmt: skip
    return "\n".join(lines)


def _four_task_mean(results: dict, head: str) -> str:
    """The mean over the four sets of one head's mean score, "–" unless all four were run."""
    keys = [f"{name}/{head}" for name in SETS]
    if not all(k in results for k in keys):
        return "–"
    return f"{statistics.mean(results[k]['mean'] for k in keys):.1f}"


def main() -> None:
    p = benchmark_parser(__doc__)
    p.add_argument("--phases", default="frozen,setfit,finetune")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--full-sets", default=",".join(SETS), help="sets whose full training split the frozen heads use")
    p.add_argument("--setfit-sets", default=",".join(SETS))
    p.add_argument("--setfit-shots", default=",".join(map(str, SHOTS)))
    p.add_argument("--setfit-iterations", type=int, default=20)
    p.add_argument("--epochs", type=float, default=3.0)
    p.add_argument("--finetune-seeds", type=int, default=3)
    p.add_argument("--finetune-sets", default=",".join(SETS))
    p.add_argument("--loss-sets", default="hate,irony,offensive")
    p.add_argument("--losses", default="ce,weighted-ce,focal")
    p.add_argument("--pooling", default="cls", help="finetune: cls, mean or cls,mean")
    p.add_argument("--lr", type=float, default=None, help="finetune: learning rate (default: the head's)")
    p.add_argument("--max-length", type=int, default=128, help="finetune: tokens per text")
    p.add_argument("--model", default="default", help="finetune: the encoder to tune")
    p.add_argument("--model-tag", default="", help="finetune: a name for --model in the result keys")
    p.add_argument("--render", action="store_true", help="print docs/classification.md's tables from the JSON")
    p.add_argument("--threads", type=int, default=None, help="torch threads (1 is faster on a busy machine)")
    args = p.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.render:
        print(render())
        return
    os.environ.setdefault("EMBERTA_CACHE", tempfile.mkdtemp(prefix="emberta-bench-cache-"))
    for phase in args.phases.split(","):
        started = time.perf_counter()
        settings = {"seeds": args.seeds, "command": "benchmarks/classify.py " + " ".join(sys.argv[1:]),
                    "torch_threads": args.threads}  # fmt: skip
        if phase == "frozen":
            settings.update(shots=SHOTS, full_sets=args.full_sets)
        elif phase == "setfit":
            settings.update(sets=args.setfit_sets, shots=args.setfit_shots, iterations=args.setfit_iterations, dev=None)
        else:
            settings.update(epochs=args.epochs, seeds=args.finetune_seeds, sets=args.finetune_sets,
                            loss_sets=args.loss_sets, batch_size=32, lr=args.lr, max_length=args.max_length,
                            model=args.model)  # fmt: skip

        def save(results, phase=phase, settings=settings, started=started):
            record(phase, results, dict(settings, seconds=round(time.perf_counter() - started, 1)))

        if phase == "frozen":
            phase_frozen(args.data_dir, args.seeds, args.full_sets.split(","), save)
        elif phase == "setfit":
            shots = [int(n) for n in args.setfit_shots.split(",")]
            phase_setfit(args.data_dir, args.seeds, args.setfit_iterations, args.setfit_sets.split(","), shots, save)
        else:
            phase_finetune(args.data_dir, args, save)


if __name__ == "__main__":
    main()
