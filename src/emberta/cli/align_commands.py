"""Align stage: `emberta align fit` (an adapter between two models' spaces) and `emberta align languages`
(language-neutral vectors). Parsing and printing only."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from emberta.cli.common import echo_err, handle_errors, progress_enabled
from emberta.cli.encode_commands import INPUT_FORMAT

PANEL = "Diagnose & improve"

align_app = typer.Typer(help="Map one model's embedding space into another's.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(align_app, name="align", rich_help_panel=PANEL)


@align_app.command("fit")
@handle_errors
def fit(
    source: str | None = typer.Option(None, help="The model whose vectors get mapped (e.g. the new model)."),
    target: str | None = typer.Option(None, help="The model whose space they are mapped into (e.g. the old one)."),
    texts: Path | None = typer.Option(None, help="Texts to encode with both models (.txt, .jsonl, .csv, .parquet)."),
    field: str = typer.Option("text", help="Text field or column of --texts."),
    input_format: str | None = INPUT_FORMAT,
    source_vectors: Path | None = typer.Option(None, help="Instead of models: the source model's vector file."),
    target_vectors: Path | None = typer.Option(None, help="...and the target model's vectors of the same texts."),
    method: str = typer.Option("procrustes", help="procrustes (orthogonal), affine (low-rank affine) or mlp."),
    n: int = typer.Option(5000, "--n", min=2, help="Texts of --texts to use (the first N distinct ones)."),
    rank: int | None = typer.Option(None, min=1, help="affine: rank of the map (default: full)."),
    hidden: int = typer.Option(256, min=1, help="mlp: hidden units."),
    held_out: float = typer.Option(0.2, min=0.0, max=0.9, help="Share of pairs kept aside to measure the fit."),
    seed: int = typer.Option(0, help="Seed of the held-out split and the MLP."),
    out: Path = typer.Option(..., "--out", "-o", help="The adapter folder to write."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not read or write the embedding cache."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only the report."),
) -> None:
    """Fit an adapter that maps the source model's vectors into the target model's space, and report how well
    it does on held-out texts (mean cosine to the true vectors, nearest-neighbour agreement)."""
    from emberta.align import align_models, align_vector_files, sample_texts
    from emberta.errors import OptionError

    options = {"method": method, "held_out": held_out, "seed": seed, "rank": rank, "hidden": hidden}
    if source_vectors is not None or target_vectors is not None:
        if source_vectors is None or target_vectors is None or texts is not None:
            raise OptionError("give --source-vectors and --target-vectors together, without --texts")
        adapter = align_vector_files(source_vectors, target_vectors, **options)
    else:
        if source is None or target is None or texts is None:
            raise OptionError("give --source MODEL --target MODEL --texts FILE (or two vector files)")
        sample = sample_texts(texts, n, field=field, format=input_format)
        adapter = align_models(source, target, sample, cache=not no_cache, show_progress=progress_enabled(quiet),
                               **options)  # fmt: skip
    adapter.save(out)
    typer.echo(json.dumps(adapter.report, indent=2))
    if not quiet:
        echo_err(f"adapter: {out}")


@align_app.command("languages")
@handle_errors
def languages(
    model: str = typer.Option("default", help="The (multilingual) model to make language-neutral."),
    texts: Path = typer.Option(..., help="Texts with a language field (.jsonl, .csv, .tsv, .parquet)."),
    field: str = typer.Option("text", help="Text field or column."),
    lang_field: str = typer.Option("lang", help="Field holding each text's language."),
    group_field: str = typer.Option("group", help="Field naming each text's translation group (for bitext mining)."),
    input_format: str | None = INPUT_FORMAT,
    method: str = typer.Option("center", help="center, remove:K or center+remove:K."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Folder for the fitted transforms and report.json."),
    seed: int = typer.Option(0, help="Seed of the split into fitted and measured halves."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not read or write the embedding cache."),
) -> None:
    """Fit transforms that remove language identity from a multilingual model's vectors (language centering,
    removing the language directions) on half of the texts, and report bitext mining accuracy and a language
    probe's accuracy on the other half, before and after."""
    from emberta.language_alignment import align_languages, read_language_rows

    rows = read_language_rows(texts, field=field, lang_field=lang_field, group_field=group_field, format=input_format)
    report = align_languages(model, rows, method, cache=not no_cache, seed=seed, out=out)
    typer.echo(json.dumps(report, indent=2))
    if out is not None:
        echo_err(f"transforms (usable as `emberta index build --transform`): {out}")
