"""`emberta train embed`: fine-tune a sentence encoder on the sentence-transformers trainer.

Losses: "mnrl" (MultipleNegativesRankingLoss: in-batch negatives, plus the triplet's negative as a hard
negative; batches without duplicate texts so no in-batch false negatives), "cosent" (CoSENTLoss on scored
pairs), "triplet" (TripletLoss). `matryoshka_dims` wraps the loss in MatryoshkaLoss so that the first 64, 128,
... dimensions work on their own. The output folder is a standard sentence-transformers model, with the full
config (`emberta-train.json`, which `--config` reproduces) and the trainer's log (`metrics.jsonl`).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from emberta.errors import InputError, OptionError
from emberta.io.atomic import staged_dir
from emberta.train.data import read_training_file

LOSSES = {"mnrl": ("pairs", "triplets"), "cosent": ("scored",), "triplet": ("triplets",)}
CONFIG_FILE = "emberta-train.json"


@dataclass
class TrainConfig:
    """Everything a training run depends on; written to the output folder and readable back."""

    model: str = "default"
    data: list[str] = field(default_factory=list)
    loss: str = "mnrl"
    out: str = ""
    matryoshka_dims: list[int] = field(default_factory=list)
    epochs: float = 1.0
    batch_size: int = 16
    lr: float = 2e-5
    warmup: float = 0.1  # fraction of the steps
    max_steps: int = -1
    seed: int = 0
    logging_steps: int = 10

    @classmethod
    def from_file(cls, path: str | Path) -> TrainConfig:
        path = Path(path)
        try:
            values = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"not a readable JSON config ({exc})", path=path) from None
        values = values.get("config", values) if isinstance(values, dict) else values
        known = {f.name for f in fields(cls)}
        if not isinstance(values, dict) or set(values) - known:
            extra = sorted(set(values) - known) if isinstance(values, dict) else []
            raise InputError(f"unknown config fields {extra}; known: {', '.join(sorted(known))}", path=path)
        return cls(**values)

    def check(self) -> None:
        if self.loss not in LOSSES:
            raise OptionError(f"unknown --loss {self.loss!r}; choose one of {', '.join(LOSSES)}")
        if not self.data:
            raise OptionError("no training data: give --data FILE (JSONL pairs, triplets or scored pairs)")
        if not self.out:
            raise OptionError("no output folder: give --out DIR")
        if Path(self.out).exists():
            raise OptionError(f"--out {self.out} already exists; choose a new folder")
        if any(d < 1 for d in self.matryoshka_dims):
            raise OptionError(f"--matryoshka dimensions must be positive, got {self.matryoshka_dims}")
        for name in ("batch_size", "logging_steps"):
            if getattr(self, name) < 1:
                raise OptionError(f"{name} must be at least 1")
        if self.epochs <= 0 or self.lr <= 0 or not 0 <= self.warmup < 1:
            raise OptionError("epochs and lr must be positive and warmup a fraction in [0, 1)")


def train_embed(config: TrainConfig, *, show_progress: bool = False) -> dict:
    """Train, then write the model to config.out (complete or not at all). Returns {"out", "steps",
    "first_loss", "last_loss", "examples"}."""
    config.check()
    columns, kind = _load_data(config)
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
        losses,
    )
    from sentence_transformers.sentence_transformer.training_args import BatchSamplers

    from emberta.encoders import load_encoder

    encoder = load_encoder(config.model, backend="torch")
    model = encoder.sentence_transformer
    if any(d > encoder.model_dim for d in config.matryoshka_dims):
        raise OptionError(f"--matryoshka dimensions must be at most the model's {encoder.model_dim}")
    if kind == "scored":
        dataset = Dataset.from_dict({"sentence1": columns["sentence1"], "sentence2": columns["sentence2"],
                                     "score": columns["score"]})  # fmt: skip
    else:
        dataset = Dataset.from_dict(columns)
    loss = {"mnrl": losses.MultipleNegativesRankingLoss, "cosent": losses.CoSENTLoss,
            "triplet": losses.TripletLoss}[config.loss](model)  # fmt: skip
    if config.matryoshka_dims:
        loss = losses.MatryoshkaLoss(model, loss, matryoshka_dims=sorted(config.matryoshka_dims, reverse=True))
    out = Path(config.out)
    if not out.parent.is_dir():
        raise OptionError(f"--out {out}: folder {out.parent} does not exist; create it first")
    with tempfile.TemporaryDirectory(prefix="emberta-train-") as scratch, staged_dir(out, "training") as staging:
        args = SentenceTransformerTrainingArguments(
            output_dir=scratch, num_train_epochs=config.epochs, max_steps=config.max_steps,
            per_device_train_batch_size=config.batch_size, learning_rate=config.lr, warmup_steps=config.warmup,
            seed=config.seed, data_seed=config.seed, logging_steps=config.logging_steps, save_strategy="no",
            report_to=[], use_cpu=True, disable_tqdm=not show_progress,
            batch_sampler=BatchSamplers.NO_DUPLICATES if config.loss == "mnrl" else BatchSamplers.BATCH_SAMPLER,
        )  # fmt: skip
        trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=dataset, loss=loss)
        if not show_progress:  # without a progress bar transformers prints each log line; the log is in the file
            from transformers.trainer_callback import PrinterCallback

            trainer.remove_callback(PrinterCallback)
        trainer.train()
        model.save(str(staging))
        history = [entry for entry in trainer.state.log_history if "loss" in entry]
        with open(staging / "metrics.jsonl", "w", encoding="utf-8") as handle:
            for entry in trainer.state.log_history:
                handle.write(json.dumps(entry) + "\n")
        summary = {
            "out": str(out),
            "steps": trainer.state.global_step,
            "examples": len(dataset),
            "first_loss": history[0]["loss"] if history else None,
            "last_loss": history[-1]["loss"] if history else None,
        }
        (staging / CONFIG_FILE).write_text(json.dumps({"config": asdict(config), "summary": summary}, indent=2))
    return summary


def _load_data(config: TrainConfig) -> tuple[dict[str, list], str]:
    kind, columns = None, {}
    for path in config.data:
        file_kind, file_columns = read_training_file(path)
        if file_kind not in LOSSES[config.loss]:
            raise InputError(f"a {file_kind} file, but --loss {config.loss} trains on "
                             f"{' or '.join(LOSSES[config.loss])}", path=path)  # fmt: skip
        if kind is not None and file_kind != kind:
            raise InputError(f"a {file_kind} file after a {kind} file; give files of one format", path=path)
        kind = file_kind
        for name, values in file_columns.items():
            columns.setdefault(name, []).extend(values)
    return columns, kind
