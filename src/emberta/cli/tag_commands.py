"""Tag stage: `emberta tag train | predict | eval` (named entities, parts of speech). Parsing and printing only."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from emberta.cli.common import echo_err, handle_errors, progress_bar

PANEL = "Classify"
tag_app = typer.Typer(
    help="Token classification: fine-tune an encoder to tag words (named entities, parts of speech).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(tag_app, name="tag", rich_help_panel=PANEL)


MODEL = typer.Option("default", "--model", "-m", help="'default' (all-MiniLM-L6-v2) or a local model folder.")
TRAIN = typer.Option(..., "--train", help='Tagged sentences: .jsonl rows {"tokens": [...], "tags": [...]} or CoNLL.')
DEV = typer.Option(None, "--dev", help="Tagged dev sentences: early stopping on entity F1.")
TEST = typer.Option(None, "--test", help="Tagged test sentences: scored into OUT/metrics.json.")
OUT = typer.Option(..., "--out", "-o", help="The tagger folder to create.")
EPOCHS = typer.Option(3.0, help="Passes over the training sentences.")
LR = typer.Option(5e-5, help="Peak learning rate.")
BATCH_SIZE = typer.Option(16, min=1, help="Windows per step.")
WARMUP = typer.Option(0.1, help="Warm-up, as a fraction of the steps.")
PATIENCE = typer.Option(2, help="Epochs without a better dev entity F1 before stopping.")
MAX_LENGTH = typer.Option(128, help="Tokens per window; longer sentences are split into overlapping windows.")
STRIDE = typer.Option(32, help="Sub-words shared by consecutive windows of a long sentence.")
LOSS = typer.Option("ce", help="ce | weighted-ce (class weights for rare tags) | focal.")
SCHEME = typer.Option("auto", help="auto | bio | bioes | none (plain tags such as parts of speech).")
STRICT = typer.Option(False, "--strict", help="Refuse tags that break the scheme (I-x after O) instead of repairing.")
SEED = typer.Option(0, help="Seed of shuffling and initialisation.")
OVERWRITE = typer.Option(False, "--overwrite", help="Replace --out when it exists.")
QUIET = typer.Option(False, "--quiet", "-q", help="No progress bar or summary.")


@tag_app.command("train")
@handle_errors
def train(
    train: Path = TRAIN, out: Path = OUT, model: str = MODEL, dev: Path | None = DEV, test: Path | None = TEST,
    epochs: float = EPOCHS, lr: float = LR, batch_size: int = BATCH_SIZE, warmup: float = WARMUP,
    patience: int = PATIENCE, max_length: int = MAX_LENGTH, stride: int = STRIDE, loss: str = LOSS,
    scheme: str = SCHEME, strict: bool = STRICT, seed: int = SEED, overwrite: bool = OVERWRITE, quiet: bool = QUIET,
) -> None:  # fmt: skip
    """Fine-tune a tagger into a new folder (written atomically; with --test also OUT/metrics.json)."""
    from emberta.classify.tagging import train_tagger

    tagger = train_tagger(
        train, model=model, dev=dev, test=test, out=out, overwrite=overwrite, epochs=epochs, lr=lr,
        batch_size=batch_size, warmup_ratio=warmup, patience=patience, max_length=max_length, stride=stride,
        loss=loss, scheme=scheme, strict=strict, seed=seed,
    )  # fmt: skip
    if not quiet:
        repaired = sum(tagger.meta.get("repaired_sentences", {}).values())
        echo_err(f"wrote {tagger.scheme} tagger ({len(tagger.tags)} tags) to {out}"
                 + (f"; repaired the tags of {repaired} sentences" if repaired else ""))  # fmt: skip
        for split in ("dev", "test"):
            if f"{split}_metrics" in tagger.meta:
                echo_err(f"{split}: {_line(tagger.meta[f'{split}_metrics'])}")


@tag_app.command("predict")
@handle_errors
def predict(
    tagger: Path = typer.Argument(..., help="A tagger folder (`emberta tag train --out`)."),
    input: Path = typer.Argument(..., help="Words (.jsonl rows with 'tokens', CoNLL) or texts (.txt, .jsonl, .csv)."),
    out: Path = typer.Option(..., "--out", "-o", help="Tags: JSONL, one row per input row."),
    text_field: str = typer.Option("text", help="Field holding the text (raw-text inputs)."),
    id_field: str | None = typer.Option(None, help="Field holding row ids (raw-text inputs; default row numbers)."),
    input_format: str | None = typer.Option(None, "--format", help="Input format of raw texts (needed for stdin)."),
    quiet: bool = QUIET,
) -> None:
    """Tag words, or raw texts cut into words with character offsets (streamed; written atomically)."""
    from emberta.classify.tagging import Tagger, predict_file

    loaded = Tagger.load(tagger)
    with progress_bar("tagging", quiet=quiet) as advance:
        count = predict_file(loaded, input, out, text_field=text_field, id_field=id_field, input_format=input_format,
                             on_progress=advance)  # fmt: skip
    if not quiet:
        echo_err(f"wrote the tags of {count} rows to {out}")


@tag_app.command("eval")
@handle_errors
def evaluate(
    tagger: Path = typer.Argument(..., help="A tagger folder."),
    test: Path = typer.Option(..., "--test", help="Tagged sentences to score."),
    strict: bool = STRICT,
    as_json: bool = typer.Option(False, "--json", help="Print all metrics as JSON."),
) -> None:
    """Score a tagger: entity P/R/F1 per type, micro and macro (exact type and span), token accuracy, a confusion
    table of types; writes DIR/metrics.json."""
    from emberta.classify.tagging import evaluate as evaluate_tagger

    metrics = evaluate_tagger(tagger, test, strict=strict)
    if as_json:
        typer.echo(json.dumps(metrics, indent=2, ensure_ascii=False))
        return
    typer.echo(_line(metrics))
    for kind, row in metrics.get("per_type", {}).items():
        typer.echo(f"  {kind}: precision {row['precision']:.4f}  recall {row['recall']:.4f}  f1 {row['f1']:.4f}  "
                   f"support {row['support']}")  # fmt: skip
    echo_err(f"wrote {tagger / 'metrics.json'}")


def _line(metrics: dict) -> str:
    entities = ""
    if "f1" in metrics:
        entities = (f"entity precision {metrics['precision']:.4f}  recall {metrics['recall']:.4f}  micro-F1 "
                    f"{metrics['f1']:.4f}  macro-F1 {metrics['macro_f1']:.4f}  ")  # fmt: skip
    return f"{entities}token accuracy {metrics['token_accuracy']:.4f}  sentences {metrics['n_sentences']}"
