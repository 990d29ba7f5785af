"""The Trainer run behind `train_mlm`: model set-up, packed data, callbacks, checkpoints."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from transformers import Trainer, TrainerCallback

from emberta.errors import InputError
from emberta.pretrain.heldout import HeldOutEvaluation, masked_lm_loss

HELDOUT_LOG = "heldout.jsonl"


def build_model(options):
    """(model, tokenizer, source folder or None) for the options: continue `from_model`, or a new RoBERTa for
    `tokenizer` at `size` / `config`. Seeds torch first so a new model's initialisation is reproducible."""
    import torch

    from emberta.pretrain import models
    from emberta.pretrain.sizes import roberta_config

    torch.manual_seed(options.seed)
    if options.from_model is not None:
        model, tokenizer, source = models.load_for_mlm(options.from_model)
        if options.tokenizer is not None:  # the body kept, a new vocabulary (language transfer)
            tokenizer = models.load_tokenizer(options.tokenizer)
            models.replace_vocabulary(model, tokenizer)
        return model, tokenizer, source
    tokenizer = models.load_tokenizer(options.tokenizer)
    config = roberta_config(tokenizer, size=options.size or "tiny", config_file=options.config,
                            max_length=options.max_length)  # fmt: skip
    return models.new_roberta(tokenizer, config), tokenizer, None


class MaskedLMTrainer(Trainer):
    """A Trainer whose loss runs the MLM head on the masked positions only (see heldout.masked_lm_loss)."""

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if model is self.model:
            loss, _ = masked_lm_loss(model, inputs)
        else:  # wrapped for several devices: the wrapper's forward keeps gradients in sync
            loss = model(**inputs).loss
        return (loss, {"loss": loss}) if return_outputs else loss


class LossLog(TrainerCallback):
    """Passes each logged training loss to `report` as {"step", "loss"}."""

    def __init__(self, report=None):
        self.report = report

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.report is not None and logs and "loss" in logs:
            self.report({"step": state.global_step, "loss": logs["loss"]})
        return control


class SavedHistory(TrainerCallback):
    """Appends each held-out evaluation to the checkpoints folder, so a resumed run keeps its curve."""

    def __init__(self, evaluation: HeldOutEvaluation, path: Path):
        self.evaluation = evaluation
        self.path = path
        self.written = len(evaluation.history)

    def on_step_end(self, args, state, control, **kwargs):
        with self.path.open("a", encoding="utf-8") as handle:
            for row in self.evaluation.history[self.written :]:
                handle.write(json.dumps(row) + "\n")
        self.written = len(self.evaluation.history)
        return control


def run_trainer(model, tokenizer, texts, eval_texts, work: Path, folder: Path, options, report=None):
    """Tokenize and pack the corpus into `work`, train `model` with checkpoints in `folder`, and return an
    MlmResult (out left unset)."""
    from emberta.pretrain.masking import MaskingCollator
    from emberta.pretrain.mlm import MlmResult
    from emberta.pretrain.models import freeze_body, quiet_transformers
    from emberta.pretrain.packing import PackedBlocks, fixed_masked_set, tokenize_to_disk

    if eval_texts is not None:
        train_file, _ = tokenize_to_disk(texts, tokenizer, work / "train", None, 0.0)
        eval_file, _ = tokenize_to_disk(eval_texts, tokenizer, work / "eval", None, 0.0)
    else:
        train_file, eval_file = tokenize_to_disk(texts, tokenizer, work / "train", work / "eval", options.held_out)
    if train_file.tokens == 0:
        raise InputError("every text was held out; lower --held-out or give --eval-corpus", path=texts.files[0])
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    blocks = PackedBlocks(work / "train", options.max_length, pad)
    collator = MaskingCollator(tokenizer, rate=options.mask_rate, whole_word=options.whole_word, seed=options.seed)
    eval_blocks = PackedBlocks(eval_file.folder, options.max_length, pad)
    eval_set = fixed_masked_set(eval_blocks, collator, options.eval_blocks, seed=options.seed + 1)
    steps = (
        options.max_steps
        if options.max_steps > 0
        else max(1, math.ceil(len(blocks) / options.batch_size * options.epochs))
    )
    every = options.eval_steps or max(1, steps // 10)
    trainable = freeze_body(model) if options.freeze_body else sum(p.numel() for p in model.parameters())
    trainer = MaskedLMTrainer(model=model, args=_arguments(options, folder, steps), train_dataset=blocks,
                              data_collator=collator)  # fmt: skip
    evaluation = HeldOutEvaluation(eval_set, collator, every, options.batch_size * 2, report=report)
    checkpoint, evaluation.history = _resume_point(folder, options)
    _add_callbacks(trainer, evaluation, folder, options, model, report)
    if checkpoint is None and eval_set:
        evaluation.measure(model, 0)
    with quiet_transformers():
        trainer.train(resume_from_checkpoint=checkpoint)
    forgetting = next((c for c in trainer.callback_handler.callbacks if hasattr(c, "resets")), None)
    train_loss = [{"step": r["step"], "loss": r["loss"]} for r in trainer.state.log_history if "loss" in r]
    return MlmResult(out=folder, history=evaluation.history, train_loss=train_loss, steps=trainer.state.global_step,
                     trainable=trainable, texts=train_file.texts, tokens=train_file.tokens,
                     resets=forgetting.resets if forgetting else 0)  # fmt: skip


def _add_callbacks(trainer, evaluation, folder: Path, options, model, report) -> None:
    from transformers import PrinterCallback

    from emberta.pretrain.forgetting import ActiveForgetting

    trainer.remove_callback(PrinterCallback)
    trainer.add_callback(evaluation)  # before forgetting: a step's evaluation sees the embeddings it trained
    trainer.add_callback(SavedHistory(evaluation, folder / HELDOUT_LOG))
    trainer.add_callback(LossLog(report))
    if options.forget_every:
        trainer.add_callback(ActiveForgetting(options.forget_every, std=model.config.initializer_range))


def _resume_point(folder: Path, options) -> tuple[str | None, list[dict]]:
    """The last checkpoint of `folder` and the held-out history up to it, when resuming; else (None, [])."""
    if options.resume is None:
        (folder / HELDOUT_LOG).unlink(missing_ok=True)
        return None, []
    checkpoints = sorted(folder.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
    if not checkpoints:
        raise InputError(f"--resume {folder}: no checkpoint-* folder yet; start the run again without --resume")
    step = int(checkpoints[-1].name.split("-")[-1])
    log = folder / HELDOUT_LOG
    rows = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.is_file() else []
    kept = [r for r in rows if r["step"] <= step]
    log.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")
    return str(checkpoints[-1]), kept


def _arguments(options, folder: Path, steps: int):
    import torch
    from transformers import TrainingArguments

    lr = options.lr if options.lr is not None else (1e-4 if options.from_model else 5e-4)
    return TrainingArguments(
        output_dir=str(folder), per_device_train_batch_size=options.batch_size, learning_rate=lr,
        warmup_steps=int(options.warmup * steps), weight_decay=options.weight_decay, max_steps=steps,
        lr_scheduler_type="linear", logging_steps=max(1, steps // 50), save_steps=options.save_steps,
        save_total_limit=2, seed=options.seed, report_to=[], remove_unused_columns=False,
        disable_tqdm=not sys.stderr.isatty(), dataloader_num_workers=0, dataloader_pin_memory=False, eval_strategy="no",
        bf16=bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported()),
    )  # fmt: skip
