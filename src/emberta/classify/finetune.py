"""`--head finetune`: the whole encoder plus a classification head, trained with the transformers Trainer
(`AutoModelForSequenceClassification` from the model folder's transformer). Losses ce / weighted-ce / focal,
warm-up, early stopping and the best checkpoint on dev macro-F1, a seed, resume, the GPU when there is one.

The folder it writes is a Hugging Face sequence-classification model (`transformers.pipeline(
"text-classification", model=DIR)` loads it) that also carries the sentence-transformers modules of the model it
started from, so `emberta.load_encoder(DIR)` loads its (fine-tuned) encoder with the same pooling.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from emberta.classify.heads import DenseHead
from emberta.classify.losses import build_loss, inverse_frequency_weights
from emberta.classify.metrics import targets
from emberta.classify.options import TrainOptions

ST_FILES = ("config_sentence_transformers.json", "sentence_bert_config.json")


def train_finetune(model: str, splits, labels: list[str], opts: TrainOptions, folder: Path,
                   checkpoints: Path) -> tuple[dict, DenseHead | None]:  # fmt: skip
    """Fine-tune `model` on splits.train (early stopping on splits.dev) and save it into `folder`; checkpoints
    go to `checkpoints` (resumed from with opts.resume, removed at the end). Returns (what training did, the
    linear head of `--pooling mean`, None for `cls` whose head is in the model files)."""
    from transformers import AutoTokenizer, EarlyStoppingCallback, set_seed

    from emberta.encoders.model_folder import resolve_model_folder

    source = resolve_model_folder(model)
    set_seed(opts.seed)
    tokenizer = AutoTokenizer.from_pretrained(str(source.transformer_path))
    network = _network(source, model, splits, labels, opts)
    train_set = _dataset(tokenizer, splits.train, labels, opts)
    dev_set = _dataset(tokenizer, splits.dev, labels, opts) if splits.dev is not None and len(splits.dev) else None
    y = targets(splits.train.labels, labels, opts.multi_label)
    weights = None if opts.multi_label else inverse_frequency_weights(list(y), len(labels))
    loss = build_loss(opts.loss, class_weights=weights, gamma=opts.focal_gamma, multi_label=opts.multi_label)
    args = _arguments(opts, checkpoints, with_dev=dev_set is not None, steps=len(train_set))
    callbacks = [EarlyStoppingCallback(early_stopping_patience=opts.patience)] if dev_set is not None else []
    trainer = _trainer_class()(model=network, args=args, train_dataset=train_set, eval_dataset=dev_set,
                               processing_class=tokenizer, compute_metrics=_metrics(opts.multi_label),
                               callbacks=callbacks, loss_module=loss)  # fmt: skip
    resume = opts.resume and any(checkpoints.glob("checkpoint-*"))
    if opts.resume and not resume:
        warnings.warn(f"--resume: no checkpoint in {checkpoints}; training from the start", stacklevel=2)
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=True if resume else None)
    seconds = time.perf_counter() - started
    head = _save(trainer, tokenizer, source, folder, opts)
    shutil.rmtree(checkpoints, ignore_errors=True)
    record = {"seconds": round(seconds, 2), "steps": int(result.global_step), "pooling": opts.pooling,
              "best_dev_macro_f1": trainer.state.best_metric, "epochs_run": trainer.state.epoch,
              "resumed": bool(resume)}  # fmt: skip
    return record, head


def _network(source, model: str, splits, labels: list[str], opts: TrainOptions):
    """The network to train: the sequence-classification model of the transformer ([CLS] pooler, new head), or
    the sentence encoder with a linear head started from a linear probe (`--pooling mean`)."""
    if opts.pooling == "mean":
        from emberta.classify.finetune_mean import linear_probe, mean_pooled_network

        return mean_pooled_network(source.path, linear_probe(model, splits, labels, opts))
    from transformers import AutoModelForSequenceClassification

    problem = "multi_label_classification" if opts.multi_label else "single_label_classification"
    return AutoModelForSequenceClassification.from_pretrained(
        str(source.transformer_path), num_labels=len(labels), id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)}, problem_type=problem,
    )  # fmt: skip


def _save(trainer, tokenizer, source, folder: Path, opts: TrainOptions) -> DenseHead | None:
    """Write the trained (best on dev) model into `folder`; the mean-pooling head is returned, not written."""
    if opts.pooling == "mean":  # load_best_model_at_end has put the best weights into trainer.model
        from emberta.classify.finetune_mean import save_mean_pooled

        return save_mean_pooled(trainer.model, tokenizer, folder / "encoder", opts.multi_label)
    best_checkpoint = trainer.state.best_model_checkpoint
    if best_checkpoint:  # from_pretrained maps legacy weight names the Trainer's own reload would miss
        from transformers import AutoModelForSequenceClassification

        trainer.model = AutoModelForSequenceClassification.from_pretrained(best_checkpoint)
    trainer.save_model(str(folder))
    (folder / "training_args.bin").unlink(missing_ok=True)  # a pickle; classifier.json records the options
    tokenizer.save_pretrained(str(folder))
    _copy_sentence_modules(source, folder)
    return None


def _dataset(tokenizer, examples, labels: list[str], opts: TrainOptions):
    from datasets import Dataset

    y = targets(examples.labels, labels, opts.multi_label)
    encoded = tokenizer(examples.texts, examples.pairs, truncation=True, max_length=opts.max_length)
    rows = dict(encoded)
    rows["labels"] = y.astype(np.float32).tolist() if opts.multi_label else y.tolist()
    return Dataset.from_dict(rows)


def _arguments(opts: TrainOptions, checkpoints: Path, *, with_dev: bool, steps: int):
    import torch
    from transformers import TrainingArguments

    strategy = "epoch" if with_dev else "no"
    return TrainingArguments(
        output_dir=str(checkpoints), num_train_epochs=opts.epochs, learning_rate=opts.learning_rate,
        per_device_train_batch_size=opts.batch_size, per_device_eval_batch_size=max(opts.batch_size, 32),
        warmup_steps=int(opts.warmup_ratio * opts.epochs * max(1, steps // opts.batch_size)),
        eval_strategy=strategy, save_strategy="epoch" if with_dev else "no", load_best_model_at_end=with_dev,
        metric_for_best_model="macro_f1" if with_dev else None, greater_is_better=True, save_total_limit=2,
        seed=opts.seed, data_seed=opts.seed, report_to="none", logging_strategy="epoch",
        disable_tqdm=not sys.stderr.isatty(), use_cpu=not torch.cuda.is_available(), save_only_model=False,
        dataloader_pin_memory=False,
    )  # fmt: skip


def _metrics(multi_label: bool):
    def compute(prediction) -> dict:
        from emberta.classify.frozen import macro_f1

        logits, y = prediction.predictions, prediction.label_ids
        return {"macro_f1": macro_f1(np.asarray(logits), np.asarray(y).astype(int), multi_label)}

    return compute


def _trainer_class():
    from transformers import Trainer

    class ClassifierTrainer(Trainer):
        """The Trainer with our loss module in place of the model's own."""

        def __init__(self, *args, loss_module=None, **kwargs):
            super().__init__(*args, **kwargs)
            self.loss_module = loss_module

        def compute_loss(self, model, inputs, return_outputs=False, **kwargs):
            labels = inputs.pop("labels")
            outputs = model(**inputs)
            loss = self.loss_module.to(outputs.logits.device)(outputs.logits, labels)
            return (loss, outputs) if return_outputs else loss

    return ClassifierTrainer


def _copy_sentence_modules(source, folder: Path) -> None:
    """Give `folder` the sentence-transformers modules of the model it was tuned from (pooling, normalize), with
    the Transformer at the folder's root, so that `load_encoder(folder)` pools as the original did."""
    if source.kind != "sentence-transformers":
        return
    modules = json.loads((source.path / "modules.json").read_text(encoding="utf-8"))
    for module in modules:
        if str(module.get("type", "")).endswith(".Transformer"):
            module["path"] = ""
        elif module.get("path") and (source.path / module["path"]).is_dir():
            shutil.copytree(source.path / module["path"], folder / module["path"], dirs_exist_ok=True)
    (folder / "modules.json").write_text(json.dumps(modules, indent=2) + "\n", encoding="utf-8")
    for name in ST_FILES:
        if (source.path / name).is_file():
            shutil.copy2(source.path / name, folder / name)
