"""Masked-LM tools: `emberta train expand-vocab` and `emberta score-mlm`. Parsing and printing only."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from emberta.cli.common import echo_err, handle_errors, progress_bar
from emberta.cli.train_commands import train_app

PANEL = "Train"
INIT_HELP = (
    "Rows of the new tokens: mean (of all old rows), subword-mean (of the token's old pieces), sampled (normal "
    "with the old rows' mean and covariance) or random (the model's own init)."
)

LONG_TEXT_HELP = "Texts over the model's positions: 'window' (scored in overlapping windows) or 'refuse'."


def register(app: typer.Typer) -> None:
    app.command("score-mlm", rich_help_panel=PANEL)(score_mlm)


@train_app.command("expand-vocab")
@handle_errors
def expand_vocab(
    from_model: str = typer.Option(..., "--from", help="'default' or a local model folder to extend."),
    corpus: list[Path] = typer.Option(..., "--corpus", help="Texts of the new domain (repeatable): .txt, .jsonl, .gz."),
    add: int = typer.Option(..., "--add", help="How many new tokens to add (the most useful first)."),
    init: str = typer.Option("subword-mean", "--init", help=INIT_HELP),
    out: Path = typer.Option(..., "--out", "-o", help="The new model folder."),
    field: str = typer.Option("text", help="JSONL field holding the text."),
    vocab_size: int | None = typer.Option(None, help="Size of the tokenizer trained on the corpus (default: ours)."),
    seed: int = typer.Option(0, help="Seed of the sampled and random inits."),
    errors: str = typer.Option("strict", help="Lines that are not UTF-8: 'strict' (stop) or 'replace'."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT if it exists."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No summary."),
) -> None:
    """Add a corpus's most useful new tokens to a model's vocabulary, with initialised embeddings."""
    from emberta.pretrain.vocab import expand_vocab as expand

    summary = expand(from_model, corpus, add=add, init=init, out=out, field=field, vocab_size=vocab_size, seed=seed,
                     overwrite=overwrite, errors=errors)  # fmt: skip
    if not quiet:
        echo_err(f"added {summary['added']} of {summary['offered']} offered tokens ({summary['init']} init; "
                 f"vocabulary now {summary['vocab_size']}), e.g. {', '.join(summary['tokens'][:8])}; "
                 f"model in {summary['out']}")  # fmt: skip


@handle_errors
def score_mlm(
    model: str = typer.Argument(..., help="A model with a masked-LM head (e.g. a `train mlm` folder)."),
    input: Path = typer.Argument(
        ...,
        help="Texts: .txt (one per line), .jsonl, .csv, .tsv (optionally .gz); '-' for standard input (with --format).",
    ),
    out: Path | None = typer.Option(None, "--out", "-o", help="Per-text scores, JSONL {id, pll, tokens, ...}."),
    text_field: str = typer.Option("text", help="JSON field or CSV column holding the text."),
    id_field: str | None = typer.Option(None, help="Field holding row ids (default: row numbers)."),
    input_format: str | None = typer.Option(None, "--format", help="txt, jsonl, csv or tsv (needed for '-')."),
    batch_size: int = typer.Option(64, min=1, help="Masked copies per forward pass."),
    long_text: str = typer.Option("window", help=LONG_TEXT_HELP),
    max_length: int | None = typer.Option(None, help="Tokens per forward pass (default: the model's positions)."),
    errors: str = typer.Option("strict", help="Lines that are not UTF-8: 'strict' (stop) or 'replace'."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Pseudo-log-likelihood of each text under a masked LM; prints the corpus pseudo-perplexity (JSON)."""
    from emberta.io.readers import TextReader
    from emberta.pretrain.pll import check_long_text_mode, load_masked_lm, score_file

    check_long_text_mode(long_text)
    reader = TextReader(input, format=input_format, field=text_field, id_field=id_field, errors=errors)
    reader.check_first()
    lm = load_masked_lm(model, max_length=max_length)
    with progress_bar("scoring", quiet=quiet, total=reader.count_hint) as advance:
        summary = score_file(lm, reader, out, batch_size=batch_size, long_texts=long_text, on_progress=advance)
    if summary["windowed"] and not quiet:
        echo_err(f"note: {summary['windowed']} texts were longer than the model's positions; scored in windows")
    typer.echo(json.dumps({"model": lm.name, **summary}))
