"""Train stage: `emberta train embed`. Parsing and printing only."""

from __future__ import annotations

from pathlib import Path

import typer

from emberta.cli.common import echo_err, handle_errors, progress_enabled

PANEL = "Train"
train_app = typer.Typer(help="Fine-tune sentence encoders (sentence-transformers trainer).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(train_app, name="train", rich_help_panel=PANEL)


@train_app.command("embed")
@handle_errors
def embed(
    model: str = typer.Option("default", "--model", "-m", help="'default' or a local model folder to start from."),
    data: list[Path] = typer.Option(
        [], "--data", help="JSONL training file (repeatable): pairs, triplets or scored pairs."
    ),
    loss: str = typer.Option("mnrl", help="mnrl (pairs/triplets), cosent (scored pairs) or triplet (triplets)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="The new model folder."),
    matryoshka: str | None = typer.Option(None, help="Matryoshka dimensions, e.g. 384,256,128,64."),
    epochs: float = typer.Option(1.0, help="Passes over the data."),
    batch_size: int = typer.Option(16, help="Examples per step (mnrl: in-batch negatives)."),
    lr: float = typer.Option(2e-5, help="Peak learning rate."),
    warmup: float = typer.Option(0.1, help="Warm-up, as a fraction of the steps."),
    max_steps: int = typer.Option(-1, help="Stop after N steps (-1: run the epochs)."),
    seed: int = typer.Option(0, help="Seed of shuffling and initialisation."),
    config: Path | None = typer.Option(None, help="Re-run the emberta-train.json of an earlier run (with --out)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or summary."),
) -> None:
    """Fine-tune a sentence encoder; the output folder loads with emberta and sentence-transformers."""
    from emberta.errors import OptionError
    from emberta.train import TrainConfig, train_embed

    if config is not None:
        settings = TrainConfig.from_file(config)
        if out is not None:
            settings.out = str(out)
    else:
        try:
            dims = [int(d) for d in matryoshka.split(",")] if matryoshka else []
        except ValueError:
            raise OptionError(f"--matryoshka {matryoshka!r}: give whole numbers separated by commas") from None
        settings = TrainConfig(model=model, data=[str(d) for d in data], loss=loss, out=str(out or ""),
                               matryoshka_dims=dims, epochs=epochs, batch_size=batch_size, lr=lr, warmup=warmup,
                               max_steps=max_steps, seed=seed)  # fmt: skip
    summary = train_embed(settings, show_progress=progress_enabled(quiet))
    if not quiet:
        echo_err(f"trained {summary['steps']} steps on {summary['examples']} examples (loss {summary['first_loss']} "
                 f"-> {summary['last_loss']}); model in {summary['out']}")  # fmt: skip
