"""`emberta train embed`: fine-tune a sentence encoder on the sentence-transformers trainer.

The recipe around the trainer: training data read and checked (train/data.py), hard negatives mined before
training (train/mining.py), the loss chosen and wrapped (train/losses.py), emberta tasks scored during training
with the best checkpoint kept (train/monitor.py), checkpoints to resume from, and the output folder — a standard
sentence-transformers model plus `emberta-train.json` (config + summary), `metrics.jsonl` and
`training-curve.png` — written whole or not at all.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import sys
from pathlib import Path

from emberta.errors import InputError, OptionError
from emberta.io.atomic import staged_dir, write_text_atomic
from emberta.train.config import CONFIG_FILE, TrainConfig
from emberta.train.data import read_corpus, read_training_data
from emberta.train.mining import mine_negatives
from emberta.train.names import IN_BATCH_LOSSES, LOSSES


def train_embed(config: TrainConfig, *, show_progress: bool = False, resume: bool = False,
                callbacks: tuple = ()) -> dict:  # fmt: skip
    """Train, then write the model to config.out (complete or not at all).

    resume: continue from the last checkpoint in config.checkpoints (a run that stopped). callbacks: extra
    transformers TrainerCallbacks. Returns the summary written to emberta-train.json: out, steps, examples,
    first_loss, last_loss, and with evaluation eval_before, eval_best, eval_best_step."""
    config.check()
    checkpoints = config.checkpoints
    _check_checkpoints(checkpoints, resume)
    kind, columns = _load_data(config)
    if config.eval_tasks:
        from emberta.evaluation import prepare_tasks

        prepare_tasks(config.eval_tasks, config.data_dir)  # a wrong name or data folder fails before any work

    from emberta.encoders import load_encoder
    from emberta.train.losses import build_loss  # torch

    options = {"max_length": config.max_length} if config.max_length else {}
    encoder = load_encoder(config.model, backend="torch", **options)
    model = _shape_model(config, encoder)
    guide = None
    if config.loss in ("gist", "mse-distill"):
        guide = load_encoder(config.teacher or config.model, backend="torch", **options).sentence_transformer
    if config.hard_negatives:
        columns = _mine(config, kind, columns, model, show_progress)
    dataset = _dataset(config, kind, columns, model, guide)
    loss = build_loss(config, model, guide)
    evaluator = None
    if config.eval_tasks:
        from emberta.train.monitor import TaskEvaluator

        evaluator = TaskEvaluator(encoder, config.eval_tasks, config.data_dir)

    checkpoints.mkdir(parents=True, exist_ok=True)
    write_text_atomic(checkpoints / CONFIG_FILE, json.dumps({"config": config.to_dict()}, indent=2) + "\n")
    out = Path(config.out)
    try:
        with staged_dir(out, "training") as staging:
            summary = _run(config, model, dataset, loss, evaluator, checkpoints, staging, show_progress, resume,
                           callbacks)  # fmt: skip
    except BaseException:
        if any(checkpoints.glob("checkpoint-*")):
            print(f"training stopped; checkpoints are kept in {checkpoints}: resume with "
                  f"`emberta train embed --resume {checkpoints}`", file=sys.stderr)  # fmt: skip
        else:  # nothing to resume from: leave no trace
            _remove_checkpoints(checkpoints)
        raise
    if not config.keep_checkpoints:
        _remove_checkpoints(checkpoints)
    return summary


def _shape_model(config: TrainConfig, encoder):
    """The encoder's SentenceTransformer cut to config.student_layers, with the Matryoshka dimensions checked
    against its width and Starbucks' default ladder filled into config.starbucks_pairs."""
    from emberta.train.losses import starbucks_pairs

    model = encoder.sentence_transformer
    if config.student_layers:
        from emberta.train.student import keep_layers

        keep_layers(model, config.student_layers)
    if any(d > encoder.model_dim for d in config.matryoshka_dims):
        raise OptionError(f"--matryoshka dimensions must be at most the model's {encoder.model_dim}")
    if config.layers == "starbucks" and not config.starbucks_pairs:
        config.starbucks_pairs = starbucks_pairs(model[0].auto_model.config.num_hidden_layers, encoder.model_dim)
    return model


def _remove_checkpoints(checkpoints: Path) -> None:
    """Remove what a run wrote into its checkpoints folder, and the folder when nothing else is left in it."""
    for path in [*checkpoints.glob("checkpoint-*"), checkpoints / CONFIG_FILE, checkpoints / "eval-before.json"]:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        checkpoints.rmdir()


def _run(config, model, dataset, loss, evaluator, checkpoints: Path, staging: Path, show_progress: bool,
         resume: bool, callbacks) -> dict:  # fmt: skip
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.training_args import BatchSamplers

    total_steps = config.max_steps if config.max_steps > 0 else math.ceil(
        math.ceil(len(dataset) / config.batch_size) * config.epochs)  # fmt: skip
    evaluation = {"save_steps": config.save_steps}
    if evaluator is not None:
        every = config.eval_steps or max(1, total_steps // 5)
        evaluation = dict(eval_strategy="steps", eval_steps=every, save_steps=every, load_best_model_at_end=True,
                          metric_for_best_model="eval_mean", greater_is_better=True)  # fmt: skip
    args = SentenceTransformerTrainingArguments(
        output_dir=str(checkpoints), num_train_epochs=config.epochs, max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size, learning_rate=config.lr, warmup_steps=config.warmup,
        seed=config.seed, data_seed=config.seed, logging_steps=config.logging_steps, save_strategy="steps",
        save_total_limit=2, report_to=[], use_cpu=True, disable_tqdm=not show_progress,
        batch_sampler=BatchSamplers.NO_DUPLICATES if config.loss in IN_BATCH_LOSSES else BatchSamplers.BATCH_SAMPLER,
        **evaluation,
    )  # fmt: skip
    model.model_card_data.set_widget_examples = lambda dataset: None  # Hub widget samples; prints a bar
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=dataset, loss=loss,
                                         evaluator=evaluator, callbacks=list(callbacks))  # fmt: skip
    if not show_progress:  # without a progress bar transformers prints each log line; the log is in the file
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)
    before = _score_before(evaluator, model, checkpoints, resume)
    trainer.train(resume_from_checkpoint=True if resume else None)
    model.save(str(staging))
    history = trainer.state.log_history
    if before is not None:
        history = [{"step": 0, **{f"eval_{k}": v for k, v in before.items()}}, *history]
    losses = [entry for entry in history if "loss" in entry]
    write_text_atomic(staging / "metrics.jsonl", "".join(json.dumps(entry) + "\n" for entry in history))
    from emberta.train.monitor import write_curve

    write_curve(history, staging / "training-curve.png", f"{config.loss} on {Path(config.data[0]).name}")
    summary = {
        "out": config.out,
        "steps": trainer.state.global_step,
        "examples": len(dataset),
        "first_loss": losses[0]["loss"] if losses else None,
        "last_loss": losses[-1]["loss"] if losses else None,
    }
    if evaluator is not None:
        scored = [e for e in history if "eval_mean" in e and e.get("step", 0) > 0]
        best = max(scored, key=lambda e: e["eval_mean"]) if scored else None
        summary.update(eval_before=before, eval_best=best and best["eval_mean"], eval_best_step=best and best["step"])
    (staging / CONFIG_FILE).write_text(json.dumps({"config": config.to_dict(), "summary": summary}, indent=2))
    return summary


def _score_before(evaluator, model, checkpoints: Path, resume: bool) -> dict | None:
    """The evaluation scores of the model before training (kept beside the checkpoints for a resumed run)."""
    if evaluator is None:
        return None
    saved = checkpoints / "eval-before.json"
    if resume and saved.is_file():
        return json.loads(saved.read_text())
    before = evaluator(model)
    write_text_atomic(saved, json.dumps(before))
    return before


# What resuming reads from a checkpoint besides the weights; trainer_state.json is the last file the trainer writes.
CHECKPOINT_FILES = ("trainer_state.json", "optimizer.pt", "scheduler.pt")


def checkpoint_complete(folder: Path) -> bool:
    """Whether the checkpoint folder `folder` (checkpoint-STEP) was written whole: the files resuming reads are
    there and trainer_state.json is readable and names STEP. The trainer writes checkpoints in place, so a run
    killed while saving one leaves it half-written (and one killed while removing an old one, half-removed)."""
    if not all((folder / name).is_file() for name in CHECKPOINT_FILES):
        return False
    if not (any(folder.glob("*.safetensors")) or any(folder.glob("*.bin"))):
        return False
    try:
        state = json.loads((folder / "trainer_state.json").read_text(encoding="utf-8"))
        return str(state["global_step"]) == folder.name.rsplit("-", 1)[-1]
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _drop_incomplete_checkpoints(checkpoints: Path) -> list[str]:
    """Remove the checkpoint folders a killed run left half-written (resuming from one fails); returns their names."""
    dropped = []
    for folder in sorted(checkpoints.glob("checkpoint-*")):
        if folder.is_dir() and not checkpoint_complete(folder):
            shutil.rmtree(folder, ignore_errors=True)
            dropped.append(folder.name)
    return dropped


def _check_checkpoints(checkpoints: Path, resume: bool) -> None:
    dropped = _drop_incomplete_checkpoints(checkpoints)
    if dropped:
        print(f"removed {', '.join(dropped)} from {checkpoints}: written only in part by a run that was stopped",
              file=sys.stderr)  # fmt: skip
    found = any(checkpoints.glob("checkpoint-*"))
    if resume and not found:
        raise OptionError(f"nothing to resume: no checkpoint-* folder in {checkpoints}")
    if not resume and found:
        raise OptionError(f"{checkpoints} holds checkpoints of an earlier run; continue it with "
                          f"`emberta train embed --resume {checkpoints}` or remove the folder")  # fmt: skip


def _load_data(config: TrainConfig) -> tuple[str, dict[str, list]]:
    kind, columns = None, {}
    for path in config.data:
        file_kind, file_columns = read_training_data(path, config.beir_split)
        if file_kind not in LOSSES[config.loss]:
            raise InputError(f"{file_kind} data, but --loss {config.loss} trains on "
                             f"{' or '.join(LOSSES[config.loss])}", path=path)  # fmt: skip
        if kind is not None and file_kind != kind:
            raise InputError(f"{file_kind} data after {kind} data; give sources of one format", path=path)
        kind = file_kind
        for name, values in file_columns.items():
            columns.setdefault(name, []).extend(values)
    return kind, columns


def _mine(config: TrainConfig, kind: str, columns: dict, model, show_progress: bool) -> dict:
    """Pairs + mined negatives -> columns anchor, positive, negative_1..negative_N (the model before training
    ranks the corpus)."""
    if kind != "pairs":
        raise InputError(f"--hard-negatives mines negatives for pairs; {config.data[0]} holds {kind}")
    source = config.negatives_from
    if not source:
        folders = [p for p in config.data if Path(p).is_dir()]
        if not folders:
            raise OptionError("--hard-negatives needs --negatives-from CORPUS (a JSONL/txt file or a BEIR folder)")
        source = folders[0]
    mined, stats = mine_negatives(model, columns["anchor"], columns["positive"], read_corpus(source),
                                  config.mining_options(), show_progress=show_progress)  # fmt: skip
    if not mined["anchor"]:
        raise OptionError(f"no pair got {config.hard_negatives} hard negatives from {source}; lower "
                          "--hard-negatives or --range-min, or relax the margins")  # fmt: skip
    if show_progress:
        print(f"mined negatives for {stats['rows']} of {stats['pairs']} pairs from {stats['corpus']} texts",
              file=sys.stderr)  # fmt: skip
    return mined


def _dataset(config: TrainConfig, kind: str, columns: dict, model, teacher):
    """The datasets.Dataset the trainer reads: its column order is what the loss sees."""
    from datasets import Dataset

    if config.loss == "simcse":
        return Dataset.from_dict({"anchor": columns["text"], "positive": columns["text"]})
    if config.loss == "mse-distill":
        texts = list(dict.fromkeys(t for values in columns.values() for t in values if isinstance(t, str)))
        if teacher.get_embedding_dimension() != model.get_embedding_dimension():
            raise OptionError(f"the teacher's vectors have {teacher.get_embedding_dimension()} dimensions, "
                              f"the student's {model.get_embedding_dimension()}; distill between models "
                              "of one width")  # fmt: skip
        targets = teacher.encode(texts, batch_size=64, convert_to_numpy=True, show_progress_bar=False)
        return Dataset.from_dict({"text": texts, "label": targets.tolist()})
    if kind == "scored":
        return Dataset.from_dict({name: columns[name] for name in ("sentence1", "sentence2", "score")})
    return Dataset.from_dict(columns)
