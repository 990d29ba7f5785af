"""Train stage: `emberta train embed`, `emberta mine-negatives`. Parsing and printing only."""

from __future__ import annotations

from pathlib import Path

import typer

from emberta.cli.common import DATA_DIR, echo_err, handle_errors, progress_enabled

PANEL = "Train"
train_app = typer.Typer(help="Fine-tune sentence encoders (sentence-transformers trainer).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(train_app, name="train", rich_help_panel=PANEL)
    app.command("mine-negatives", rich_help_panel=PANEL)(mine_negatives)


def _numbers(option: str, text: str | None, kind=int) -> list:
    from emberta.errors import OptionError

    try:
        return [kind(part) for part in text.split(",")] if text else []
    except ValueError:
        raise OptionError(f"{option} {text!r}: give numbers separated by commas, e.g. 384,256,128,64") from None


def _pairs(text: str | None) -> list[list[int]]:
    from emberta.errors import OptionError

    if not text:
        return []
    try:
        return [[int(x) for x in part.split(":")] for part in text.split(",")]
    except ValueError:
        raise OptionError(f"--starbucks-pairs {text!r}: give LAYERS:DIMS pairs, e.g. 2:64,4:128,6:384") from None


@train_app.command("embed")
@handle_errors
def embed(
    model: str = typer.Option("default", "--model", "-m", help="'default' or a local model folder to start from."),
    data: list[Path] = typer.Option(
        [], "--data", help="Training data (repeatable): JSONL pairs/triplets/scored/texts, .txt, or a BEIR folder."
    ),
    loss: str = typer.Option(
        "mnrl", help="mnrl, cached-mnrl, gist (pairs/triplets), cosent (scored), triplet, mse-distill, simcse (texts)."
    ),
    out: Path | None = typer.Option(None, "--out", "-o", help="The new model folder."),
    matryoshka: str | None = typer.Option(None, help="Matryoshka dimensions, e.g. 384,256,128,64."),
    layers: str = typer.Option("", help="'2d': 2D Matryoshka (also trains shallower depths); 'starbucks'."),
    starbucks: bool = typer.Option(False, "--starbucks", help="Starbucks: fixed (layers, dims) ladder."),
    starbucks_pairs: str | None = typer.Option(None, help="Starbucks ladder LAYERS:DIMS,... (default: scaled)."),
    teacher: str | None = typer.Option(None, help="Teacher (mse-distill targets) or guide model (gist)."),
    student_layers: int = typer.Option(0, help="Keep only N of the model's layers (a smaller student)."),
    hard_negatives: int = typer.Option(0, help="Mine N hard negatives per pair before training."),
    negatives_from: Path | None = typer.Option(None, help="Corpus to mine from (default: the BEIR folder's)."),
    range_min: int = typer.Option(0, help="Mining: skip the top N candidates (likely unlabelled positives)."),
    range_max: int | None = typer.Option(None, help="Mining: consider candidates up to this rank."),
    margin: float | None = typer.Option(None, help="Mining: a negative scores at least this much below the positive."),
    relative_margin: float | None = typer.Option(None, help="Mining: ... at least this fraction below (0.05)."),
    hardness_strength: float = typer.Option(0.0, help="Hardness-weighted InfoNCE strength (mnrl; e.g. 5-9)."),
    hardness_mode: str = typer.Option("in_batch_negatives", help="in_batch_negatives, hard_negatives, all_negatives."),
    scale: float = typer.Option(20.0, help="In-batch losses: 1 / temperature."),
    mini_batch_size: int = typer.Option(32, help="cached-mnrl: texts per forward pass."),
    split: str = typer.Option("train", help="BEIR folders: the qrels split that becomes pairs."),
    max_length: int | None = typer.Option(None, help="Truncate texts to N tokens (faster on long documents)."),
    eval: str | None = typer.Option(None, "--eval", help="emberta tasks scored during training, e.g. STSBenchmark."),
    eval_steps: int = typer.Option(0, help="Evaluate every N steps (0: five times)."),
    data_dir: Path | None = DATA_DIR,
    epochs: float = typer.Option(1.0, help="Passes over the data."),
    batch_size: int = typer.Option(16, help="Examples per step (in-batch losses: more negatives)."),
    lr: float = typer.Option(2e-5, help="Peak learning rate."),
    warmup: float = typer.Option(0.1, help="Warm-up, as a fraction of the steps."),
    max_steps: int = typer.Option(-1, help="Stop after N steps (-1: run the epochs)."),
    seed: int = typer.Option(0, help="Seed of shuffling and initialisation."),
    save_steps: int = typer.Option(500, help="Checkpoint every N steps (with --eval: at each evaluation)."),
    checkpoint_dir: Path | None = typer.Option(None, help="Checkpoints folder (default: OUT.checkpoints)."),
    keep_checkpoints: bool = typer.Option(False, help="Keep the checkpoints after a finished run."),
    config: Path | None = typer.Option(None, help="Re-run a config (emberta-train.json, or YAML), with --out."),
    resume: Path | None = typer.Option(None, help="Continue a stopped run from its checkpoints folder."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or summary."),
) -> None:
    """Fine-tune a sentence encoder; the output folder loads with emberta and sentence-transformers."""
    from emberta.train import TrainConfig, train_embed
    from emberta.train.config import CONFIG_FILE

    if resume is not None:
        settings = TrainConfig.from_file(resume / CONFIG_FILE)
        settings.checkpoint_dir = str(resume)
    elif config is not None:
        settings = TrainConfig.from_file(config)
        if out is not None:
            settings.out = str(out)
    else:
        settings = TrainConfig(
            model=model, data=[str(d) for d in data], loss=loss, out=str(out or ""),
            matryoshka_dims=_numbers("--matryoshka", matryoshka), layers="starbucks" if starbucks else layers,
            starbucks_pairs=_pairs(starbucks_pairs), teacher=teacher or "", student_layers=student_layers,
            scale=scale, hardness_strength=hardness_strength, hardness_mode=hardness_mode,
            mini_batch_size=mini_batch_size, beir_split=split, hard_negatives=hard_negatives,
            negatives_from=str(negatives_from or ""), range_min=range_min, range_max=range_max, margin=margin,
            relative_margin=relative_margin, max_length=max_length, epochs=epochs, batch_size=batch_size, lr=lr,
            warmup=warmup, max_steps=max_steps, seed=seed, eval_tasks=[t for t in (eval or "").split(",") if t],
            eval_steps=eval_steps, data_dir=str(data_dir) if data_dir else None, save_steps=save_steps,
            checkpoint_dir=str(checkpoint_dir or ""), keep_checkpoints=keep_checkpoints,
        )  # fmt: skip
    summary = train_embed(settings, show_progress=progress_enabled(quiet), resume=resume is not None)
    if not quiet:
        echo_err(f"trained {summary['steps']} steps on {summary['examples']} examples (loss {summary['first_loss']} "
                 f"-> {summary['last_loss']}); model in {summary['out']}")  # fmt: skip
        if summary.get("eval_best") is not None:
            echo_err(f"eval {','.join(settings.eval_tasks)}: {summary['eval_before']['mean']:.2f} before, best "
                     f"{summary['eval_best']:.2f} at step {summary['eval_best_step']} (kept)")  # fmt: skip


@handle_errors
def mine_negatives(
    model: str = typer.Option("default", "--model", "-m", help="Model that ranks the corpus."),
    data: Path = typer.Option(..., "--data", help="Pairs JSONL {anchor, positive} or a BEIR folder (train split)."),
    corpus: Path = typer.Option(..., "--corpus", help="Candidate texts: JSONL (text[, title]), .txt or BEIR folder."),
    out: Path = typer.Option(..., "--out", "-o", help="Triplets JSONL {anchor, positive, negative}."),
    num_negatives: int = typer.Option(1, "--num-negatives", "-n", help="Negatives per pair (one line each)."),
    range_min: int = typer.Option(0, help="Skip the top N candidates (likely unlabelled positives)."),
    range_max: int | None = typer.Option(None, help="Consider candidates up to this rank."),
    margin: float | None = typer.Option(None, help="A negative scores at least this much below the positive."),
    relative_margin: float | None = typer.Option(None, help="... at least this fraction of it below (e.g. 0.05)."),
    max_score: float | None = typer.Option(None, help="Drop candidates scoring above this (likely positives)."),
    sampling: str = typer.Option("top", help="top: the best-ranked valid candidates; random: any valid ones."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress or summary."),
) -> None:
    """Mine hard negatives for (anchor, positive) pairs from a corpus (sentence-transformers' miner)."""
    from emberta.train import MiningOptions, mine_file

    options = MiningOptions(num_negatives=num_negatives, range_min=range_min, range_max=range_max, margin=margin,
                            relative_margin=relative_margin, max_score=max_score, sampling=sampling)  # fmt: skip
    stats = mine_file(model, data, corpus, out, options, show_progress=progress_enabled(quiet))
    if not quiet:
        echo_err(f"{stats['rows']} triplets for {stats['pairs']} pairs from {stats['corpus']} texts -> {stats['out']}")
