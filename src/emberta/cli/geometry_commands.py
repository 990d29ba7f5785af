"""Diagnose and improve: `emberta analyze`, `emberta sweep` and `emberta bias`. Parsing and printing only."""

from __future__ import annotations

from pathlib import Path

import typer

from emberta.cli.common import DATA_DIR, echo_err, handle_errors
from emberta.cli.encode_commands import INPUT_FORMAT, MODEL
from emberta.tasks.registry import DEFAULT_BIAS_TESTS

PANEL = "Diagnose & improve"
DEFAULT_CONFIGS = "none; center; whiten; abtt:3; clip; pca:128; trunc:128; int8; binary; mp"


def register(app: typer.Typer) -> None:
    app.command("analyze", rich_help_panel=PANEL)(analyze_command)
    app.command("sweep", rich_help_panel=PANEL)(sweep_command)
    app.command("bias", rich_help_panel=PANEL)(bias_command)


@handle_errors
def analyze_command(
    model: str = MODEL,
    texts: Path | None = typer.Option(
        None, help="Texts to embed (.txt, .jsonl, .csv, .tsv, .parquet); '-' reads standard input (with --format)."
    ),
    field: str = typer.Option("text", help="Text field or column of --texts."),
    labels: str | None = typer.Option(None, help="Field of --texts holding a label per text (colours the PCA plot)."),
    input_format: str | None = INPUT_FORMAT,
    dataset: str | None = typer.Option(None, help="A registered task whose texts to embed (see `emberta tasks`)."),
    data_dir: Path | None = DATA_DIR,
    out: Path | None = typer.Option(None, help="Folder for report.json and the PNG plots."),
    k: int = typer.Option(10, min=1, help="Neighbours for hubness."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not use the embedding cache."),
) -> None:
    """Measure an embedding space: isotropy, rogue dimensions, hubness (and after MP/LS), intrinsic dimension,
    spectrum, uniformity, language separability."""
    from rich.console import Console

    from emberta.analyze import analyze
    from emberta.report.tables import geometry_table

    report = analyze(model, texts_file=texts, field=field, labels_field=labels, format=input_format, dataset=dataset,
                     data_dir=data_dir, out=out, k=k, cache=not no_cache)  # fmt: skip
    Console(highlight=False).print(geometry_table(report))
    if out is not None:
        echo_err(f"report and plots: {out}")


@handle_errors
def sweep_command(
    model: str = MODEL,
    tasks: str = typer.Option("STSBenchmark,SciFact,Banking77Classification", help="Comma-separated task names."),
    transforms: str = typer.Option(DEFAULT_CONFIGS, help="Configurations separated by ';', steps by '+'."),
    data_dir: Path | None = DATA_DIR,
    out: Path | None = typer.Option(None, help="Folder for sweep.csv and sweep.png."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Keep embeddings in memory for this run only."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only the table."),
) -> None:
    """Evaluate post-processing configurations on tasks from cached embeddings (each text encoded once)."""
    from rich.console import Console

    from emberta.report.tables import sweep_table
    from emberta.sweep import sweep

    def progress(config: str, task: str, score) -> None:
        if not quiet:
            echo_err(f"{config} / {task}: {'n/a' if score is None else f'{score:.2f}'}")

    result = sweep(model, tasks, transforms, data_dir=data_dir, cache=not no_cache, output_dir=out, on_row=progress)
    Console(highlight=False).print(sweep_table(result))
    if not quiet:
        echo_err(f"texts encoded: {result.encoded}, cache hits: {result.cache_hits}")
        if out is not None:
            echo_err(f"results: {out / 'sweep.csv'}, {out / 'sweep.png'}")


@handle_errors
def bias_command(
    model: str = MODEL,
    tests: str = typer.Option(",".join(DEFAULT_BIAS_TESTS), help="Test names (files of weat_seat/)."),
    data_dir: Path | None = DATA_DIR,
    debias: bool = typer.Option(False, help="Also report effect sizes after hard debiasing (gender direction)."),
    permutations: int = typer.Option(10_000, min=100, help="Permutations of the p-value test."),
) -> None:
    """WEAT/SEAT bias tests: effect size and permutation p-value per test, optionally after hard debiasing."""
    from rich.console import Console

    from emberta.analyze import bias_tests
    from emberta.report.tables import bias_table

    rows = bias_tests(model, tests, data_dir=data_dir, debias=debias, permutations=permutations)
    Console(highlight=False).print(bias_table(rows))
