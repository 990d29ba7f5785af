"""Evaluate stage: `emberta eval` and `emberta tasks`. Parsing and printing only."""

from __future__ import annotations

from pathlib import Path

import typer

from emberta.cli.common import DATA_DIR, data_dir_or_none, echo_err, encoder_options, handle_errors, progress_enabled
from emberta.cli.encode_commands import BACKEND, QUANTIZE, RAY_ADDRESS, WORKERS
from emberta.tasks.registry import DEFAULT_N_EXPERIMENTS, DEFAULT_SAMPLES_PER_LABEL

PANEL = "Evaluate"
TASKS = typer.Option(None, help="Comma-separated task names (see `emberta tasks`).")
SUITE = typer.Option(None, help="quick (one task per type, minutes; the default) or full (every task).")
TASK_TYPE = typer.Option(
    None,
    help="Ad-hoc task on your files: sts, pair-classification, classification, clustering, retrieval, reranking, "
    "bitext, token-classification (--train and --test).",
)
FILE = typer.Option(None, help="Ad-hoc task data: a .jsonl file (retrieval: a BEIR folder).")
TRAIN = typer.Option(None, help="Ad-hoc classification or token classification: training .jsonl.")
TEST = typer.Option(None, help="Ad-hoc classification or token classification: test .jsonl.")
NAME = typer.Option(None, help="Name of the ad-hoc task's result.")
SAMPLES_PER_LABEL = typer.Option(
    None, help=f"Classification: training rows per label (default {DEFAULT_SAMPLES_PER_LABEL})."
)
N_EXPERIMENTS = typer.Option(None, help=f"Classification: repeated experiments (default {DEFAULT_N_EXPERIMENTS}).")
OUTPUT_DIR = typer.Option(Path("results"), help="Result JSON goes to DIR/<model>/<fingerprint>/.")
NO_CACHE = typer.Option(False, "--no-cache", help="Do not read or write the embedding cache.")
BATCH_SIZE = typer.Option(32, min=1, help="Texts per forward pass.")
INDEX_BACKEND = typer.Option(
    None,
    help="Retrieval through an emberta index instead of exact search: hnsw, flat, int8, binary or a FAISS "
    "factory string (measures ANN quality; runs keep each query's top 100).",
)
SEARCH_MODE = typer.Option("dense", help="With --index-backend: dense, bm25 or hybrid.")
MODELS = typer.Option(
    None, "--model", "-m",
    help="'default' or a local model folder; MODEL@VARIANT picks a backend: @onnx, @onnx-int8, @openvino, "
    "@openvino-int8 (e.g. default@onnx-int8); static:DIR for a distilled model. Repeat to compare models: one "
    "table with quality and cost figures measured on this machine.",
)  # fmt: skip
COMPARE_PUBLISHED = typer.Option(
    False, "--compare-published", help="Add MTEB's published scores of popular small models as columns."
)
REPORT = typer.Option(None, "--report", help="Also write a self-contained HTML report of the run to this file.")
ENGINE = typer.Option(
    "local", help="local, or ray: the texts the cache lacks are encoded on a Ray cluster (--ray-address; without it "
    "Ray starts on this machine), scored here.",
)  # fmt: skip
COSTS = typer.Option(
    True, "--costs/--no-costs",
    help="When comparing, measure each model's speed, time to first vector and peak memory in a fresh process.",
)  # fmt: skip


def register(app: typer.Typer) -> None:
    app.command("eval", rich_help_panel=PANEL)(eval_command)
    app.command("tasks", rich_help_panel=PANEL)(tasks_command)


@handle_errors
def eval_command(
    model: list[str] | None = MODELS,
    tasks: str | None = TASKS,
    suite: str | None = SUITE,
    task_type: str | None = TASK_TYPE,
    file: Path | None = FILE,
    train: Path | None = TRAIN,
    test: Path | None = TEST,
    name: str | None = NAME,
    samples_per_label: int | None = SAMPLES_PER_LABEL,
    n_experiments: int | None = N_EXPERIMENTS,
    output_dir: Path = OUTPUT_DIR,
    data_dir: Path | None = DATA_DIR,
    no_cache: bool = NO_CACHE,
    batch_size: int = BATCH_SIZE,
    backend: str = BACKEND,
    quantize: str | None = QUANTIZE,
    index_backend: str | None = INDEX_BACKEND,
    search_mode: str = SEARCH_MODE,
    compare_published: bool = COMPARE_PUBLISHED,
    report: Path | None = REPORT,
    costs: bool = COSTS,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only the summary table."),
    engine: str = ENGINE,
    ray_address: str | None = RAY_ADDRESS,
    workers: int = WORKERS,
) -> None:
    """Evaluate models on MTEB-style tasks (offline, local data); repeat --model to compare them.

    One model: scores beside MTEB's published ones. Several (MODEL@onnx-int8 etc. count as models): one table of
    scores, means per type and cost figures measured on this machine; --report writes it as an HTML page.
    """
    from emberta.tasks.registry import select_tasks

    specs = select_tasks(tasks, suite, task_type, file=file, train=train, test=test, name=name,
                         samples_per_label=samples_per_label, n_experiments=n_experiments)  # fmt: skip
    models = model or ["default"]
    run = dict(output_dir=output_dir, data_dir=data_dir, cache=not no_cache, batch_size=batch_size,
               show_progress=progress_enabled(quiet), index_backend=index_backend, search_mode=search_mode)  # fmt: skip
    options = encoder_options(backend=backend, quantize=quantize)
    ray = _ray_engine(engine, ray_address, workers, several=len(models) > 1 or compare_published or report is not None)
    if ray is not None:
        _evaluate_one(models[0], specs, options, run, quiet=quiet, ray=ray)
    elif len(models) > 1 or compare_published or report is not None:
        _compare(models, specs, options, run, published=compare_published, report=report, costs=costs, quiet=quiet)
    else:
        _evaluate_one(models[0], specs, options, run, quiet=quiet)


def _ray_engine(engine: str, address: str | None, workers: int, *, several: bool) -> dict | None:
    """The Ray settings of --engine ray (None for a local run), checked."""
    from emberta.errors import OptionError

    if engine not in ("local", "ray"):
        raise OptionError(f"unknown --engine {engine!r}; use local or ray")
    if engine == "local":
        if address is not None:
            raise OptionError("--ray-address needs --engine ray")
        return None
    if several:
        raise OptionError("--engine ray evaluates one model; drop the extra --model, --compare-published and --report")
    return {"address": address, "workers": workers}


def _evaluate_one(model: str, specs, options: dict, run: dict, *, quiet: bool, ray: dict | None = None) -> None:
    """One model, as `emberta eval` has always run it: the summary table beside published scores."""
    from contextlib import nullcontext

    from emberta.encoders import load_encoder
    from emberta.evaluation import evaluate

    encoder = load_encoder(model, **options)

    def progress(result) -> None:
        if not quiet:
            echo_err(f"{result.task_name}: {100 * result.main_score:.2f} ({result.evaluation_time:.1f} s)")

    if ray is not None:
        from emberta.scale import RayEncoder

        engine = RayEncoder.start(encoder, model, options, **ray)
    else:
        engine = nullcontext(None)
    with engine as remote:
        results = evaluate(encoder, specs, on_result=progress, engine=remote, **run)
    _print_summary(results, encoder.name)
    if not quiet and results and "result_file" in results[0].info:
        echo_err(f"results: {Path(results[0].info['result_file']).parent}")


def _compare(models: list[str], specs, options: dict, run: dict, *, published: bool, report: Path | None,
             costs: bool, quiet: bool) -> None:  # fmt: skip
    """Several models (or one with --compare-published / --report): the comparison table, then the report."""
    from rich.console import Console

    from emberta.compare import compare_models, comparison
    from emberta.io.atomic import check_writable_dir
    from emberta.report.tables import comparison_table
    from emberta.tasks.comparison import COST_FIELDS

    if report is not None and report.parent.resolve() != Path(run["output_dir"]).resolve():
        check_writable_dir(report, "--report")  # (the output folder itself is made by the run)

    def progress(label: str, result) -> None:
        if not quiet:
            echo_err(f"{label} / {result.task_name}: {100 * result.main_score:.2f} ({result.evaluation_time:.1f} s)")

    def duplicate(spec: str, first: str) -> None:
        echo_err(f"{spec}: same fingerprint as {first} (same model files, options and backend); evaluated once")

    def measured(label: str, figures: dict) -> None:
        if not quiet:
            shown = ", ".join(f"{f.label} {f.show(figures.get(f.key)) or '?'}" for f in COST_FIELDS[:3])
            echo_err(f"{label} / costs: {shown}")  # a figure the probe could not read is None

    runs = compare_models(models, specs, options=options, measure=costs, on_result=progress, on_duplicate=duplicate,
                          on_costs=measured, **run)  # fmt: skip
    Console(highlight=False).print(comparison_table(comparison(runs, published=published)))
    folders = [str(r.folder) for r in runs if r.folder is not None]
    if not quiet and folders:
        echo_err("results: " + ", ".join(folders))
    if report is not None:
        from emberta.report.html import write_report

        echo_err(f"report: {write_report(folders, report, published=published)}")


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
