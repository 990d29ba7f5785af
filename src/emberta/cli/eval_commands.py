"""Evaluate stage: `emberta eval` and `emberta tasks`. Parsing and printing only."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import typer

from emberta.cli.common import DATA_DIR, data_dir_or_none, echo_err, encoder_options, handle_errors, progress_enabled
from emberta.cli.encode_commands import BACKEND, MODEL, QUANTIZE

PANEL = "Evaluate"
TASK_TYPE_HELP = (
    "Ad-hoc task on your files: sts, pair-classification, classification, clustering, retrieval, reranking, bitext."
)


def register(app: typer.Typer) -> None:
    app.command("eval", rich_help_panel=PANEL)(eval_command)
    app.command("tasks", rich_help_panel=PANEL)(tasks_command)


@handle_errors
def eval_command(
    model: str = MODEL,
    tasks: str | None = typer.Option(None, help="Comma-separated task names (see `emberta tasks`)."),
    suite: str | None = typer.Option(None, help="quick (one task per type, minutes) or full (every task)."),
    task_type: str | None = typer.Option(None, help=TASK_TYPE_HELP),
    file: Path | None = typer.Option(None, help="Ad-hoc task data: a .jsonl file (retrieval: a BEIR folder)."),
    train: Path | None = typer.Option(None, help="Ad-hoc classification: training .jsonl."),
    test: Path | None = typer.Option(None, help="Ad-hoc classification: test .jsonl."),
    name: str | None = typer.Option(None, help="Name of the ad-hoc task's result."),
    samples_per_label: int | None = typer.Option(None, help="Classification: training rows per label (8)."),
    n_experiments: int | None = typer.Option(None, help="Classification: repeated experiments (10)."),
    output_dir: Path = typer.Option(Path("results"), help="Result JSON goes to DIR/<model>/<fingerprint>/."),
    data_dir: Path | None = DATA_DIR,
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not read or write the embedding cache."),
    batch_size: int = typer.Option(32, min=1, help="Texts per forward pass."),
    backend: str = BACKEND,
    quantize: str | None = QUANTIZE,
    index_backend: str | None = typer.Option(
        None,
        help="Retrieval through an emberta index instead of exact search: hnsw, flat, int8, binary or a FAISS "
        "factory string (measures ANN quality; runs keep each query's top 100).",
    ),
    search_mode: str = typer.Option("dense", help="With --index-backend: dense, bm25 or hybrid."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only the summary table."),
) -> None:
    """Evaluate a model on MTEB-style tasks (offline, local data); print scores beside published ones."""
    from emberta.encoders import load_encoder
    from emberta.errors import OptionError
    from emberta.evaluation import evaluate
    from emberta.tasks.registry import adhoc_task, resolve_tasks

    adhoc = task_type is not None or file is not None or train is not None or test is not None
    if sum(x is not None for x in (tasks, suite)) + adhoc > 1:
        raise OptionError("choose one of --tasks, --suite or an ad-hoc task (--task-type with --file/--train/--test)")
    if adhoc:
        if task_type is None:
            raise OptionError("an ad-hoc task needs --task-type (sts, pair-classification, classification, ...)")
        specs = [
            adhoc_task(task_type, file=file, train=train, test=test, name=name,
                       samples_per_label=samples_per_label or 8, n_experiments=n_experiments or 10)
        ]  # fmt: skip
    else:
        specs = resolve_tasks(tasks or suite or "quick")
        overrides = {
            k: v for k, v in {"samples_per_label": samples_per_label, "n_experiments": n_experiments}.items() if v
        }
        specs = [dataclasses.replace(s, **overrides) if s.type == "Classification" else s for s in specs]

    encoder = load_encoder(model, **encoder_options(backend=backend, quantize=quantize))

    def progress(result) -> None:
        if not quiet:
            echo_err(f"{result.task_name}: {100 * result.main_score:.2f} ({result.evaluation_time:.1f} s)")

    results = evaluate(
        encoder, specs, data_dir=data_dir, output_dir=output_dir, cache=not no_cache, batch_size=batch_size,
        show_progress=progress_enabled(quiet), on_result=progress, index_backend=index_backend,
        search_mode=search_mode,
    )  # fmt: skip
    _print_summary(results, encoder.name)
    if not quiet and results and "result_file" in results[0].info:
        echo_err(f"results: {Path(results[0].info['result_file']).parent}")


def _print_summary(results, model_name: str) -> None:
    from rich.console import Console

    from emberta.report.tables import summary_table
    from emberta.tasks.results import summary_rows

    Console(highlight=False).print(summary_table(results, model_name))
    if any(r.reference is not None and not r.within_tolerance for r in summary_rows(results, model_name)):
        echo_err("! = further from the published score than the tolerance stated in docs/evaluation.md")


@handle_errors
def tasks_command(
    data_dir: Path | None = DATA_DIR,
) -> None:
    """List the registered tasks and suites, and whether their data is found."""
    from rich.console import Console

    from emberta.report.tables import tasks_table

    root = data_dir_or_none(data_dir)
    Console(highlight=False).print(tasks_table(root))
    if root is None:
        echo_err("set --data-dir or EMBERTA_DATA to see which datasets are found")
