"""Masked-language-model training on the transformers Trainer: from scratch or continuing a model."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from emberta.errors import InputError, OptionError
from emberta.io.atomic import staged_dir

RUN_FILE = "emberta-mlm-run.json"
META_FILE = "emberta-mlm.json"
CURVE_FILE = "loss-curve.png"


@dataclass
class MlmOptions:
    """Options of `train_mlm`. Start: from_model (a model spec to continue; with tokenizer, its body with new
    token embeddings for that tokenizer: language transfer) or tokenizer + size|config (a new RoBERTa).
    Data: field (JSONL), errors, eval_corpus (held-out files; else the held_out share of the corpus, chosen by
    text hash), eval_blocks (held-out blocks scored). Masking: mask_rate, whole_word. Training:
    max_length (tokens per packed block), batch_size, lr (None: 5e-4 from scratch, 1e-4 continuing), warmup
    (share of steps), weight_decay, max_steps (-1: run `epochs`), eval_steps (0: ten evaluations), forget_every
    (active forgetting period, 0: off), freeze_body, seed, save_steps, checkpoint_dir (None: OUT.checkpoints),
    resume (a checkpoints folder of this same run), keep_checkpoints, overwrite."""

    from_model: str | None = None
    tokenizer: Path | None = None
    size: str | None = None
    config: Path | None = None
    field: str = "text"
    errors: str = "strict"
    eval_corpus: list[Path] = dataclasses.field(default_factory=list)
    held_out: float = 0.05
    eval_blocks: int = 200
    mask_rate: float = 0.15
    whole_word: bool = False
    max_length: int = 128
    batch_size: int = 32
    lr: float | None = None
    warmup: float = 0.06
    weight_decay: float = 0.01
    max_steps: int = -1
    epochs: float = 1.0
    eval_steps: int = 0
    forget_every: int = 0
    freeze_body: bool = False
    seed: int = 0
    save_steps: int = 500
    checkpoint_dir: Path | None = None
    resume: Path | None = None
    keep_checkpoints: bool = False
    overwrite: bool = False


@dataclass
class MlmResult:
    """What a run did: held-out history [{"step", "eval_loss", "eval_perplexity"}], training-loss history
    [{"step", "loss"}], steps, trainable parameters, texts and tokens seen, forgetting resets."""

    out: Path
    history: list[dict]
    train_loss: list[dict]
    steps: int
    trainable: int
    texts: int
    tokens: int
    resets: int = 0

    @property
    def perplexity_before(self) -> float | None:
        return self.history[0]["eval_perplexity"] if self.history else None

    @property
    def perplexity_after(self) -> float | None:
        return self.history[-1]["eval_perplexity"] if self.history else None


def check_options(options: MlmOptions) -> None:
    """Raise OptionError for contradictory or out-of-range options, before anything heavy loads."""
    from emberta.pretrain.masking import check_mask_rate
    from emberta.pretrain.sizes import check_size

    check_mask_rate(options.mask_rate)
    if options.from_model is None and options.tokenizer is None:
        raise OptionError("give --from MODEL to continue a model, or --tokenizer DIR (with --size) to start anew")
    if options.from_model is not None and (options.config or options.size):
        raise OptionError("--from continues a model's architecture; drop --size and --config")
    if options.from_model is None and options.config is None:
        check_size(options.size or "tiny")
    for name in ("batch_size", "max_length", "eval_blocks", "save_steps"):
        if getattr(options, name) < 1:
            raise OptionError(f"--{name.replace('_', '-')} must be at least 1")
    if options.max_length < 8:
        raise OptionError("--max-length must be at least 8 tokens")
    if options.forget_every < 0 or options.eval_steps < 0:
        raise OptionError("--forget-every and --eval-steps must be >= 0")
    if not 0.0 <= options.held_out < 1.0:
        raise OptionError(f"--held-out {options.held_out}: give a fraction in [0, 1)")
    if options.max_steps < 1 and options.epochs <= 0:
        raise OptionError("give --max-steps N or --epochs > 0")


def run_fingerprint(corpus: list[Path], options: MlmOptions) -> dict:
    """What identifies a run for --resume: the corpus files (names and sizes) and every option that changes
    the model trained."""
    skip = {"checkpoint_dir", "resume", "keep_checkpoints", "overwrite"}
    chosen = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(options).items() if k not in skip}
    chosen["eval_corpus"] = [str(p) for p in options.eval_corpus]
    chosen["corpus"] = [[str(Path(p).resolve()), Path(p).stat().st_size] for p in corpus]
    digest = hashlib.sha256(json.dumps(chosen, sort_keys=True).encode()).hexdigest()[:16]
    return {"run": digest, "options": chosen}


def prepare_checkpoints(out: Path, corpus: list[Path], options: MlmOptions) -> tuple[Path, dict]:
    """The checkpoints folder and the run fingerprint; refuses a --resume folder of another run, and a fresh
    run into a folder that holds a stopped run's checkpoints."""
    fingerprint = run_fingerprint(corpus, options)
    folder = Path(options.resume or options.checkpoint_dir or out.with_name(out.name + ".checkpoints"))
    run_file = folder / RUN_FILE
    if options.resume is not None:
        if not run_file.is_file():
            raise InputError(f"--resume {folder}: not a checkpoints folder of `emberta train mlm` (no {RUN_FILE})")
        saved = json.loads(run_file.read_text(encoding="utf-8"))
        if saved.get("run") != fingerprint["run"]:
            differ = sorted(k for k in fingerprint["options"] if saved["options"].get(k) != fingerprint["options"][k])
            raise OptionError(
                f"--resume {folder} holds checkpoints of another run (differs in: {', '.join(differ)}); "
                "resume with the same corpus and options, or start a new run with another --checkpoint-dir"
            )
        return folder, fingerprint
    if run_file.is_file() and any(folder.glob("checkpoint-*")):
        raise OptionError(
            f"{folder} holds checkpoints of a stopped run; continue it with --resume {folder}, or remove it"
        )
    folder.mkdir(parents=True, exist_ok=True)
    run_file.write_text(json.dumps(fingerprint, indent=2), encoding="utf-8")
    return folder, fingerprint


def check_out(out: Path, overwrite: bool) -> Path:
    """`out` when it may be written: its parent exists, and it does not exist unless `overwrite`."""
    from emberta.errors import OutputError

    out = Path(out)
    if not out.parent.is_dir():
        raise OutputError(f"--out {out}: directory {out.parent} does not exist; create it (mkdir -p {out.parent})")
    if out.exists() and not overwrite:
        raise OutputError(f"--out {out} already exists; choose another folder or pass --overwrite to replace it")
    return out


def train_mlm(corpus: list[Path], out: Path, options: MlmOptions, report=None) -> MlmResult:
    """Train a masked-language model on the texts of `corpus` (streamed, deduplicated) and write it to `out`
    (atomically): a transformers model with its MLM head, its tokenizer, a sentence-transformers config (mean
    pooling, or the source's modules), emberta-mlm.json (options, histories) and loss-curve.png.
    report: called with each held-out evaluation row and each logged training loss (for progress)."""
    from emberta.pretrain.corpus import Corpus
    from emberta.pretrain.training import build_model, run_trainer

    check_options(options)
    out = check_out(out, options.overwrite)
    texts = Corpus(corpus, field=options.field, errors=options.errors)
    texts.require_text()
    eval_texts = (
        Corpus(options.eval_corpus, field=options.field, errors=options.errors) if options.eval_corpus else None
    )
    if eval_texts is not None:
        eval_texts.require_text()
    model, tokenizer, source = build_model(options)
    folder, fingerprint = prepare_checkpoints(out, corpus, options)
    work = Path(tempfile.mkdtemp(prefix=".emberta-mlm-data.", dir=folder))
    try:
        result = run_trainer(model, tokenizer, texts, eval_texts, work, folder, options, report)
        with staged_dir(out) as staging:
            _save(model, tokenizer, staging, source, options, fingerprint, result)
    except BaseException:
        if not any(folder.glob("checkpoint-*")):  # nothing to resume from: leave nothing behind
            shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not options.keep_checkpoints:
        shutil.rmtree(folder, ignore_errors=True)
    result.out = out
    return result


def _save(model, tokenizer, staging: Path, source, options, fingerprint, result: MlmResult) -> None:
    from emberta.pretrain.models import save_encoder_folder
    from emberta.report.plots import loss_curve_plot

    max_length = options.max_length
    if source is not None and source.kind == "sentence-transformers":
        bert_config = source.transformer_path / "sentence_bert_config.json"
        if not bert_config.is_file():
            bert_config = source.path / "sentence_bert_config.json"
        if bert_config.is_file():
            max_length = json.loads(bert_config.read_text(encoding="utf-8")).get("max_seq_length", max_length)
    model = model.cpu()
    save_encoder_folder(model, tokenizer, staging, max_length=max_length, source=source)
    meta = {
        "fingerprint": fingerprint,
        "steps": result.steps,
        "trainable_parameters": result.trainable,
        "texts": result.texts,
        "tokens": result.tokens,
        "forgetting_resets": result.resets,
        "heldout": result.history,
        "train_loss": result.train_loss,
    }
    (staging / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    loss_curve_plot(result.train_loss, result.history, staging / CURVE_FILE)
