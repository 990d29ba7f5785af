"""`emberta.classify.tagging.train_tagger`: read the tagged files, check them, fine-tune the encoder with a token
classification head (`AutoModelForTokenClassification` from the model folder's transformer, on the
transformers Trainer), early-stop on dev entity F1, score dev and test, and write the tagger folder
(atomically: a staging folder renamed at the end).

The loss is one of `emberta.classify.losses` (ce, weighted-ce with class weights n / (k * count) for rare tags,
focal) over the words' first sub-words.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from emberta.classify.classifier import check_out_dir
from emberta.classify.tagging.alignment import IGNORE, AlignmentStats, encode_words, word_predictions
from emberta.classify.tagging.data import TaggedSentences, check_scheme, read_tagged
from emberta.classify.tagging.metrics import summary, tagging_metrics
from emberta.classify.tagging.options import TagOptions
from emberta.classify.tagging.schemes import repair
from emberta.classify.tagging.tagger import Tagger


@dataclass
class TagSplits:
    """The tagged sentences of one training run."""

    train: TaggedSentences
    dev: TaggedSentences | None = None
    test: TaggedSentences | None = None


def train_tagger(train: str | Path | TaggedSentences, *, model="default", dev=None, test=None,
                 out: str | Path | None = None, overwrite: bool = False, **options) -> Tagger:  # fmt: skip
    """Fine-tune a tagger and return it (saved to `out` when given, with `out/metrics.json` when `test` is).

    train/dev/test: .jsonl files of {"tokens", "tags"} rows, CoNLL column files, or TaggedSentences. model: the
    encoder spec ("default" or a model folder). options: see TagOptions (epochs, lr, batch_size, loss, scheme,
    strict, max_length, stride, seed, ...).

    Example:
        tagger = train_tagger("train.jsonl", dev="dev.jsonl", out="ner", epochs=3)
        tagger.predict_tokens([["I", "love", "Paris"]])
    """
    opts = TagOptions(**options)
    splits = read_splits(train, dev, test, opts)
    target = None if out is None else check_out_dir(out, overwrite)
    with _work_folder(target) as folder:
        meta = _meta(model, splits, opts)
        meta["training"], network, tokenizer = fine_tune(model, splits, meta["tags"], opts, folder)
        meta["window"] = meta["training"].pop("window")
        tagger = Tagger(meta, folder, model=network, tokenizer=tokenizer)
        _score_into(tagger, splits, folder)
        tagger.write_meta(folder)
    tagger.folder = target or folder
    return tagger


def read_splits(train, dev, test, opts: TagOptions) -> TagSplits:
    """The three files read (dev and test in the training file's scheme); TaggedSentences given in code are
    checked (and repaired) in place."""

    def read(source, scheme):
        if isinstance(source, TaggedSentences):
            check_scheme(source, scheme, opts.strict)
            return source
        return None if source is None else read_tagged(source, scheme=scheme, strict=opts.strict)

    first = read(train, opts.scheme)
    return TagSplits(first, read(dev, first.scheme), read(test, first.scheme))


@contextmanager
def _work_folder(target: Path | None):
    if target is None:
        yield Path(tempfile.mkdtemp(prefix="emberta-tagger-"))
        return
    from emberta.io.atomic import staged_dir

    with staged_dir(target, "tagger") as staging:
        yield staging


def _meta(model, splits: TagSplits, opts: TagOptions) -> dict:
    from emberta.version import __version__

    tags = splits.train.tag_set()
    if "O" in tags:  # outside first: id 0, as token-classification models usually have it
        tags = ["O"] + [t for t in tags if t != "O"]
    spec = model if str(model) == "default" else str(Path(model).resolve())
    repaired = {name: getattr(splits, name).repaired for name in ("train", "dev", "test") if getattr(splits, name)}
    return {"tags": tags, "scheme": splits.train.scheme, "encoder": {"spec": spec, "source": str(model)},
            "options": opts.record(), "repaired_sentences": repaired, "emberta_version": __version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}  # fmt: skip


def fine_tune(model, splits: TagSplits, tags: list[str], opts: TagOptions, folder: Path):
    """Train the token classifier and save it (model, tokenizer) into `folder`. Returns (what training did,
    the model, the tokenizer)."""
    from transformers import AutoModelForTokenClassification, AutoTokenizer, EarlyStoppingCallback, set_seed

    from emberta.classify.losses import build_loss, inverse_frequency_weights
    from emberta.encoders.model_folder import resolve_model_folder

    source = resolve_model_folder(model)
    set_seed(opts.seed)
    tokenizer = AutoTokenizer.from_pretrained(str(source.transformer_path))
    network = AutoModelForTokenClassification.from_pretrained(
        str(source.transformer_path), num_labels=len(tags), id2label=dict(enumerate(tags)),
        label2id={tag: i for i, tag in enumerate(tags)},
    )  # fmt: skip
    window = opts.window(tokenizer, network.config)
    stats = AlignmentStats()
    train_set, train_ids, _ = _dataset(tokenizer, splits.train, tags, window, opts.stride, stats)
    dev = splits.dev if splits.dev is not None and len(splits.dev) else None
    dev_set, _, dev_windows = (None, None, None) if dev is None else _dataset(tokenizer, dev, tags, window, opts.stride)
    counts = [i for row in train_ids for i in row if i != IGNORE]
    weights = inverse_frequency_weights(counts, len(tags)) if opts.loss != "ce" else None
    loss = build_loss(opts.loss, class_weights=weights, gamma=opts.focal_gamma)
    checkpoints = folder / ".checkpoints"
    trainer = _trainer_class()(
        model=network, args=_arguments(opts, checkpoints, dev_set is not None, len(train_set)),
        train_dataset=train_set, eval_dataset=dev_set, data_collator=_collator(tokenizer),
        compute_metrics=None if dev is None else _dev_metrics(dev, dev_windows, tags, splits.train.scheme),
        preprocess_logits_for_metrics=lambda logits, labels: logits.argmax(dim=-1),
        callbacks=[EarlyStoppingCallback(early_stopping_patience=opts.patience)] if dev is not None else [],
        loss_module=loss,
    )  # fmt: skip
    started = time.perf_counter()
    result = trainer.train()
    seconds = time.perf_counter() - started
    if trainer.state.best_model_checkpoint:
        network = AutoModelForTokenClassification.from_pretrained(trainer.state.best_model_checkpoint)
    network.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    shutil.rmtree(checkpoints, ignore_errors=True)
    epochs = float(trainer.state.epoch or 0)
    return {"seconds": round(seconds, 2), "seconds_per_epoch": round(seconds / epochs, 2) if epochs else None,
            "steps": int(result.global_step), "epochs_run": epochs, "best_dev_score": trainer.state.best_metric,
            "dev_history": [{"epoch": e["epoch"], "f1": e["eval_f1"], "token_accuracy": e["eval_token_accuracy"]}
                            for e in trainer.state.log_history if "eval_f1" in e],
            "window": window, "alignment": vars(stats), "class_weights": None if weights is None else
            [round(float(w), 4) for w in weights]}, network, tokenizer  # fmt: skip


def _label_ids(data: TaggedSentences, tags: list[str]) -> list[list[int]]:
    """Tag ids per word; a tag the training data lacks (dev only) is ignored by the loss."""
    index = {tag: i for i, tag in enumerate(tags)}
    return [[index.get(t, IGNORE) for t in row] for row in data.tags]


def _dataset(tokenizer, data: TaggedSentences, tags: list[str], window: int, stride: int, stats=None):
    """(the Trainer's dataset of `data`'s windows, the tag ids per word, the windows)."""
    from datasets import Dataset

    ids = _label_ids(data, tags)
    windows, _ = encode_words(tokenizer, data.tokens, max_length=window, stride=stride, stats=stats)
    rows = {"input_ids": [w.input_ids for w in windows], "attention_mask": [[1] * len(w.input_ids) for w in windows],
            "labels": [w.labels(ids) for w in windows]}  # fmt: skip
    return Dataset.from_dict(rows), ids, windows


def _dev_metrics(dev: TaggedSentences, windows, tags: list[str], scheme: str):
    """compute_metrics for the Trainer: dev entity F1 (token accuracy for plain tags), word by word."""

    def compute(prediction) -> dict:
        predicted = np.asarray(prediction.predictions)
        rows = word_predictions(windows, [predicted[i] for i in range(len(windows))], [len(s) for s in dev.tokens])
        guessed = [[tags[int(i)] if i is not None and 0 <= int(i) < len(tags) else "O" for i in row] for row in rows]
        guessed = [repair(row, scheme)[0] for row in guessed]  # as Tagger.predict_tokens gives them
        metrics = tagging_metrics(dev.tags, guessed, scheme)
        return {"f1": metrics.get("f1", metrics["token_accuracy"]), "token_accuracy": metrics["token_accuracy"]}

    return compute


def _collator(tokenizer):
    from transformers import DataCollatorForTokenClassification

    return DataCollatorForTokenClassification(tokenizer, label_pad_token_id=IGNORE)


def _arguments(opts: TagOptions, checkpoints: Path, with_dev: bool, windows: int):
    import torch
    from transformers import TrainingArguments

    steps = int(opts.epochs * max(1, -(-windows // opts.batch_size)))
    return TrainingArguments(
        output_dir=str(checkpoints), num_train_epochs=opts.epochs, learning_rate=opts.lr,
        per_device_train_batch_size=opts.batch_size, per_device_eval_batch_size=max(opts.batch_size, 32),
        warmup_steps=int(opts.warmup_ratio * steps), eval_strategy="epoch" if with_dev else "no",
        save_strategy="epoch" if with_dev else "no", load_best_model_at_end=with_dev,
        metric_for_best_model="f1" if with_dev else None, greater_is_better=True, save_total_limit=2,
        seed=opts.seed, data_seed=opts.seed, report_to="none", logging_strategy="epoch",
        train_sampling_strategy="group_by_length",  # windows of similar length together: less padding
        disable_tqdm=not sys.stderr.isatty(), use_cpu=not torch.cuda.is_available(), dataloader_pin_memory=False,
    )  # fmt: skip


def _trainer_class():
    from transformers import Trainer

    class TaggerTrainer(Trainer):
        """The Trainer with our loss module over the labelled positions (first sub-words) only."""

        def __init__(self, *args, loss_module=None, **kwargs):
            super().__init__(*args, **kwargs)
            self.loss_module = loss_module

        def _get_eval_sampler(self, eval_dataset):
            """Dev windows in their own order (the Trainer would group them by length, as it groups the training
            windows): compute_metrics maps predictions back to words by position."""
            from torch.utils.data import SequentialSampler

            return SequentialSampler(eval_dataset)

        def compute_loss(self, model, inputs, return_outputs=False, **kwargs):
            labels = inputs.pop("labels")
            outputs = model(**inputs)
            logits = outputs.logits.reshape(-1, outputs.logits.shape[-1])
            keep = labels.reshape(-1) != IGNORE
            loss = self.loss_module.to(logits.device)(logits[keep], labels.reshape(-1)[keep])
            return (loss, outputs) if return_outputs else loss

    return TaggerTrainer


def _score_into(tagger: Tagger, splits: TagSplits, folder: Path) -> None:
    """Score dev and test into tagger.meta; test's full metrics go to folder/metrics.json."""
    from emberta.classify.evaluate import write_report

    for name in ("dev", "test"):
        data = getattr(splits, name)
        if data is None or not len(data):
            continue
        metrics = score(tagger, data)
        tagger.meta[f"{name}_metrics"] = summary(metrics)
        if name == "test":
            write_report(metrics, folder, plot=False)


def score(tagger: Tagger, data: TaggedSentences) -> dict:
    """Metrics of `tagger` on tagged sentences (see metrics.tagging_metrics); tags only in `data` are listed in
    `unseen_tags` (and a warning) and their entities count as misses."""
    predicted = tagger.predict_tokens(data.tokens)
    metrics = tagging_metrics(data.tags, predicted, tagger.scheme, known_tags=tagger.tags)
    metrics["repaired_sentences"] = data.repaired
    if metrics["unseen_tags"]:
        unseen = ", ".join(map(repr, metrics["unseen_tags"]))
        warnings.warn(f"{data.name}: tags the tagger never saw in training: {unseen}; their entities count as "
                      "misses", stacklevel=2)  # fmt: skip
    return metrics
