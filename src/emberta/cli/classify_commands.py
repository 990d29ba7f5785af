"""Classify stage: `emberta classify train | predict | eval`. Parsing and printing only."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from emberta.cli.common import echo_err, handle_errors, progress_bar

PANEL = "Classify"
classify_app = typer.Typer(
    help="Text classifiers: heads on frozen embeddings (logreg, mlp), fine-tuning (finetune), few-shot (setfit).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(classify_app, name="classify", rich_help_panel=PANEL)


MODEL = typer.Option("default", "--model", "-m", help="'default' (all-MiniLM-L6-v2) or a local model folder.")
TRAIN = typer.Option(..., "--train", help="Labelled examples: .jsonl, .csv, .tsv or .parquet.")
DEV = typer.Option(None, "--dev", help="Labelled dev examples: choose regularisation, calibrate, early-stop.")
TEST = typer.Option(None, "--test", help="Labelled test examples: scored into OUT/metrics.json.")
OUT = typer.Option(..., "--out", "-o", help="The classifier folder to create.")
HEAD = typer.Option("logreg", help="logreg | mlp (frozen embeddings), finetune (the whole encoder), setfit (few-shot).")
TEXT_FIELD = typer.Option("text", help="Field (or column) holding the text.")
LABEL_FIELD = typer.Option("label", help="Field holding the label (a list of labels with --multi-label).")
PAIR_FIELD = typer.Option(None, help="Field holding a second text, for pair tasks.")
CLASS_WEIGHT = typer.Option("none", help="balanced | none: weigh classes by inverse frequency (logreg, mlp, setfit).")
LOSS = typer.Option("ce", help="finetune: ce | weighted-ce | focal.")
FOCAL_GAMMA = typer.Option(2.0, help="Focal loss focusing parameter gamma.")
POOLING = typer.Option(
    "cls",
    help="finetune: cls (BERT's [CLS] pooler; loads with transformers.pipeline) | mean "
    "(the sentence embedding, head started from a linear probe).",
)
EPOCHS = typer.Option(3.0, help="finetune: passes over the data (setfit makes one pass over its pairs).")
LR = typer.Option(None, help="finetune / setfit: peak learning rate (default 5e-5 / 2e-5).")
BATCH_SIZE = typer.Option(16, min=1, help="finetune / setfit: examples per step.")
WARMUP = typer.Option(0.1, help="finetune: warm-up, as a fraction of the steps.")
PATIENCE = typer.Option(2, help="finetune: evaluations without a better dev macro-F1 before stopping.")
SAMPLES = typer.Option(None, help="Keep N examples per label (drawn with --seed): few-shot.")
ITERATIONS = typer.Option(20, help="setfit: contrastive pairs drawn per example.")
SEED = typer.Option(0, help="Seed of sampling, shuffling and initialisation.")
MULTI = typer.Option(False, "--multi-label", help="A list of labels per row; sigmoid outputs, thresholds on dev.")
ERASE = typer.Option(None, "--erase-subspace", help="Field of a nuisance attribute to erase (LEACE) before the head.")
RESUME = typer.Option(False, "--resume", help="finetune: continue from the last checkpoint of an interrupted run.")
OVERWRITE = typer.Option(False, "--overwrite", help="Replace --out when it exists.")
QUIET = typer.Option(False, "--quiet", "-q", help="No progress bar or summary.")


@classify_app.command("train")
@handle_errors
def train(
    train: Path = TRAIN, out: Path = OUT, model: str = MODEL, dev: Path | None = DEV, test: Path | None = TEST,
    head: str = HEAD, text_field: str = TEXT_FIELD, label_field: str = LABEL_FIELD,
    text_pair_field: str | None = PAIR_FIELD, class_weight: str = CLASS_WEIGHT, loss: str = LOSS,
    focal_gamma: float = FOCAL_GAMMA, pooling: str = POOLING, epochs: float = EPOCHS, lr: float | None = LR,
    batch_size: int = BATCH_SIZE,
    warmup: float = WARMUP, patience: int = PATIENCE, samples_per_label: int | None = SAMPLES,
    setfit_iterations: int = ITERATIONS, seed: int = SEED, multi_label: bool = MULTI,
    erase_subspace: str | None = ERASE, resume: bool = RESUME, overwrite: bool = OVERWRITE, quiet: bool = QUIET,
) -> None:  # fmt: skip
    """Train a classifier into a new folder (written atomically; with --test also OUT/metrics.json)."""
    from emberta.classify import train as train_classifier

    classifier = train_classifier(
        train, model=model, dev=dev, test=test, out=out, overwrite=overwrite, text_field=text_field,
        label_field=label_field, text_pair_field=text_pair_field, head=head, class_weight=class_weight, loss=loss,
        focal_gamma=focal_gamma, pooling=pooling, epochs=epochs, lr=lr, batch_size=batch_size, warmup_ratio=warmup,
        patience=patience,
        samples_per_label=samples_per_label, setfit_iterations=setfit_iterations, seed=seed,
        multi_label=multi_label, erase_field=erase_subspace, resume=resume,
    )  # fmt: skip
    if not quiet:
        echo_err(f"wrote {head} classifier ({len(classifier.labels)} labels) to {out}")
        for split in ("dev", "test"):
            if f"{split}_metrics" in classifier.meta:
                echo_err(f"{split}: {_line(classifier.meta[f'{split}_metrics'])}")


@classify_app.command("predict")
@handle_errors
def predict(
    classifier: Path = typer.Argument(..., help="A classifier folder (`emberta classify train --out`)."),
    input: Path = typer.Argument(..., help="Texts: .txt, .jsonl, .csv, .tsv (optionally .gz), .parquet; '-' stdin."),
    out: Path = typer.Option(..., "--out", "-o", help="Predictions: JSONL, one {id, label, probabilities} per row."),
    text_field: str = TEXT_FIELD,
    text_pair_field: str | None = PAIR_FIELD,
    id_field: str | None = typer.Option(None, help="Field holding row ids (default: row numbers)."),
    input_format: str | None = typer.Option(None, "--format", help="Input format (needed for standard input)."),
    quiet: bool = QUIET,
) -> None:
    """Predict labels and calibrated probabilities for a file of texts (streamed; written atomically)."""
    from emberta.classify import Classifier, predict_file
    from emberta.io.readers import TextReader

    loaded = Classifier.load(classifier)

    def total() -> int | None:
        return TextReader(input, format=input_format, field=text_field).count_hint() if str(input) != "-" else None

    with progress_bar("classifying", quiet=quiet, total=total) as advance:
        count = predict_file(loaded, input, out, text_field=text_field, text_pair_field=text_pair_field,
                             id_field=id_field, input_format=input_format, on_progress=advance)  # fmt: skip
    if not quiet:
        echo_err(f"wrote {count} predictions to {out}")


@classify_app.command("eval")
@handle_errors
def evaluate(
    classifier: Path = typer.Argument(..., help="A classifier folder."),
    test: Path = typer.Option(..., "--test", help="Labelled examples to score."),
    text_field: str | None = typer.Option(None, help="Field holding the text (default: as trained)."),
    label_field: str | None = typer.Option(None, help="Field holding the label (default: as trained)."),
    as_json: bool = typer.Option(False, "--json", help="Print all metrics as JSON."),
) -> None:
    """Score a classifier: accuracy, macro-F1, per-class P/R/F1, ECE; writes DIR/metrics.json and confusion.png."""
    from emberta.classify import evaluate as evaluate_classifier

    metrics = evaluate_classifier(classifier, test, text_field=text_field, label_field=label_field)
    if as_json:
        typer.echo(json.dumps(metrics, indent=2, ensure_ascii=False))
        return
    typer.echo(_line(metrics))
    for label, row in metrics["per_class"].items():
        typer.echo(f"  {label}: precision {row['precision']:.4f}  recall {row['recall']:.4f}  f1 {row['f1']:.4f}  "
                   f"support {row['support']}")  # fmt: skip
    echo_err(f"wrote {classifier / 'metrics.json'}")


def _line(metrics: dict) -> str:
    before = metrics.get("ece_uncalibrated", float("nan"))
    return (f"accuracy {metrics['accuracy']:.4f}  macro-F1 {metrics['macro_f1']:.4f}  ECE {metrics['ece']:.4f} "
            f"(before temperature scaling {before:.4f})  n {metrics['n']}")  # fmt: skip
