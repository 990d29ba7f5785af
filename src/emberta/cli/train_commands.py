"""Train stage: `emberta train embed`, `emberta mine-negatives`. Parsing and printing only."""

from __future__ import annotations

from pathlib import Path

import typer

from emberta.cli.common import DATA_DIR, echo_err, handle_errors, progress_enabled

PANEL = "Train"
train_app = typer.Typer(
    help="Train encoders: fine-tune sentence encoders (embed), train tokenizers and masked LMs, expand vocabularies.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(train_app, name="train", rich_help_panel=PANEL)
    app.command("mine-negatives", rich_help_panel=PANEL)(mine_negatives)


# shared by `train embed --hard-negatives` and `mine-negatives`
RANGE_MIN = typer.Option(0, help="Hard-negative mining: skip the top N candidates (likely unlabelled positives).")
RANGE_MAX = typer.Option(None, help="Hard-negative mining: consider candidates up to this rank.")
MARGIN = typer.Option(None, help="Hard-negative mining: a negative scores at least this much below the positive.")
RELATIVE_MARGIN = typer.Option(
    None, help="Hard-negative mining: a negative scores at least this fraction below the positive (e.g. 0.05)."
)

MODEL = typer.Option("default", "--model", "-m", help="'default' or a local model folder to start from.")
DATA = typer.Option(
    [], "--data", help="Training data (repeatable): JSONL pairs/triplets/scored/texts, .txt, or a BEIR folder."
)
LOSS = typer.Option(
    "mnrl", help="mnrl, cached-mnrl, gist (pairs/triplets), cosent (scored), triplet, mse-distill, simcse (texts)."
)
OUT = typer.Option(None, "--out", "-o", help="The new model folder.")
MATRYOSHKA = typer.Option(None, "--matryoshka", help="Matryoshka dimensions, e.g. 384,256,128,64.")
LAYERS = typer.Option("", help="'2d': 2D Matryoshka (also trains shallower depths); 'starbucks'.")
STARBUCKS = typer.Option(False, "--starbucks", help="Starbucks: fixed (layers, dims) ladder.")
STARBUCKS_PAIRS = typer.Option(None, help="Starbucks ladder LAYERS:DIMS,... (default: scaled).")
TEACHER = typer.Option(None, help="Teacher (mse-distill targets) or guide model (gist).")
STUDENT_LAYERS = typer.Option(0, help="Keep only N of the model's layers (a smaller student).")
HARD_NEGATIVES = typer.Option(0, help="Mine N hard negatives per pair before training.")
NEGATIVES_FROM = typer.Option(None, help="Corpus to mine from (default: the BEIR folder's).")
HARDNESS_STRENGTH = typer.Option(0.0, help="Hardness-weighted InfoNCE strength (mnrl; e.g. 5-9).")
HARDNESS_MODE = typer.Option("in_batch_negatives", help="in_batch_negatives, hard_negatives, all_negatives.")
SCALE = typer.Option(20.0, help="In-batch losses: 1 / temperature.")
MINI_BATCH_SIZE = typer.Option(32, help="cached-mnrl: texts per forward pass.")
SPLIT = typer.Option("train", "--split", help="BEIR folders: the qrels split that becomes pairs.")
MAX_LENGTH = typer.Option(None, help="Truncate texts to N tokens (faster on long documents).")
EVAL = typer.Option(None, "--eval", help="emberta tasks scored during training, e.g. STSBenchmark.")
EVAL_STEPS = typer.Option(0, help="Evaluate every N steps (0: five times).")
EPOCHS = typer.Option(1.0, help="Passes over the data.")
BATCH_SIZE = typer.Option(16, help="Examples per step (in-batch losses: more negatives).")
LR = typer.Option(2e-5, help="Peak learning rate.")
WARMUP = typer.Option(0.1, help="Warm-up, as a fraction of the steps.")
MAX_STEPS = typer.Option(-1, help="Stop after N steps (-1: run the epochs).")
SEED = typer.Option(0, help="Seed of shuffling and initialisation.")
SAVE_STEPS = typer.Option(500, help="Checkpoint every N steps (with --eval: at each evaluation).")
CHECKPOINT_DIR = typer.Option(None, help="Checkpoints folder (default: OUT.checkpoints).")
KEEP_CHECKPOINTS = typer.Option(False, help="Keep the checkpoints after a finished run.")
CONFIG = typer.Option(None, help="Re-run a config (emberta-train.json, or YAML), with --out.")
RESUME = typer.Option(None, help="Continue a stopped run from its checkpoints folder.")


@train_app.command("embed")
@handle_errors
def embed(
    model: str = MODEL,
    data: list[Path] = DATA,
    loss: str = LOSS,
    out: Path | None = OUT,
    matryoshka_dims: str | None = MATRYOSHKA,
    layers: str = LAYERS,
    starbucks: bool = STARBUCKS,
    starbucks_pairs: str | None = STARBUCKS_PAIRS,
    teacher: str | None = TEACHER,
    student_layers: int = STUDENT_LAYERS,
    hard_negatives: int = HARD_NEGATIVES,
    negatives_from: Path | None = NEGATIVES_FROM,
    range_min: int = RANGE_MIN,
    range_max: int | None = RANGE_MAX,
    margin: float | None = MARGIN,
    relative_margin: float | None = RELATIVE_MARGIN,
    hardness_strength: float = HARDNESS_STRENGTH,
    hardness_mode: str = HARDNESS_MODE,
    scale: float = SCALE,
    mini_batch_size: int = MINI_BATCH_SIZE,
    beir_split: str = SPLIT,
    max_length: int | None = MAX_LENGTH,
    eval_tasks: str | None = EVAL,
    eval_steps: int = EVAL_STEPS,
    data_dir: Path | None = DATA_DIR,
    epochs: float = EPOCHS,
    batch_size: int = BATCH_SIZE,
    lr: float = LR,
    warmup: float = WARMUP,
    max_steps: int = MAX_STEPS,
    seed: int = SEED,
    save_steps: int = SAVE_STEPS,
    checkpoint_dir: Path | None = CHECKPOINT_DIR,
    keep_checkpoints: bool = KEEP_CHECKPOINTS,
    config: Path | None = CONFIG,
    resume: Path | None = RESUME,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or summary."),
) -> None:
    """Fine-tune a sentence encoder; the output folder loads with emberta and sentence-transformers."""
    from emberta.train import TrainConfig, train_embed

    settings = TrainConfig.for_run(
        resume=resume, config=config, model=model, data=data, loss=loss, out=out, matryoshka_dims=matryoshka_dims,
        layers=layers, starbucks=starbucks, starbucks_pairs=starbucks_pairs, teacher=teacher,
        student_layers=student_layers, hard_negatives=hard_negatives, negatives_from=negatives_from,
        range_min=range_min, range_max=range_max, margin=margin, relative_margin=relative_margin,
        hardness_strength=hardness_strength, hardness_mode=hardness_mode, scale=scale, mini_batch_size=mini_batch_size,
        beir_split=beir_split, max_length=max_length, eval_tasks=eval_tasks, eval_steps=eval_steps, data_dir=data_dir,
        epochs=epochs, batch_size=batch_size, lr=lr, warmup=warmup, max_steps=max_steps, seed=seed,
        save_steps=save_steps, checkpoint_dir=checkpoint_dir, keep_checkpoints=keep_checkpoints,
    )  # fmt: skip
    summary = train_embed(settings, show_progress=progress_enabled(quiet), resume=resume is not None)
    if not quiet:
        _print_summary(summary, settings.eval_tasks)


def _print_summary(summary: dict, eval_tasks: list[str]) -> None:
    echo_err(f"trained {summary['steps']} steps on {summary['examples']} examples (loss {summary['first_loss']} "
             f"-> {summary['last_loss']}); model in {summary['out']}")  # fmt: skip
    if summary.get("eval_best") is not None:
        echo_err(f"eval {','.join(eval_tasks)}: {summary['eval_before']['mean']:.2f} before, best "
                 f"{summary['eval_best']:.2f} at step {summary['eval_best_step']} (kept)")  # fmt: skip


@handle_errors
def mine_negatives(
    model: str = typer.Option("default", "--model", "-m", help="Model that ranks the corpus."),
    data: Path = typer.Option(..., "--data", help="Pairs JSONL {anchor, positive} or a BEIR folder (train split)."),
    corpus: Path = typer.Option(..., "--corpus", help="Candidate texts: JSONL (text[, title]), .txt or BEIR folder."),
    out: Path = typer.Option(..., "--out", "-o", help="Triplets JSONL {anchor, positive, negative}."),
    num_negatives: int = typer.Option(1, "--num-negatives", "-n", help="Negatives per pair (one line each)."),
    range_min: int = RANGE_MIN,
    range_max: int | None = RANGE_MAX,
    margin: float | None = MARGIN,
    relative_margin: float | None = RELATIVE_MARGIN,
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
