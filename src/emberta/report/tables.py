"""Rich tables for the terminal. Each function takes library results and returns a Table to print."""

from __future__ import annotations

from pathlib import Path

from rich import box
from rich.table import Table

from emberta.tasks.references import PEER
from emberta.tasks.registry import SUITES, TASKS
from emberta.tasks.results import TaskResult, averages, summary_rows

_MODEL_FIELDS = {
    "format": "format",
    "architecture": "architecture",
    "model_type": "model type",
    "layers": "layers",
    "hidden_size": "hidden size",
    "vocab_size": "vocabulary",
    "parameters": "parameters",
    "dim": "output dim",
    "max_length": "max length (tokens)",
    "position_limit": "position limit",
    "pooling": "pooling",
    "normalize": "normalized",
    "similarity": "similarity",
    "modules": "modules",
    "path": "path",
    "fingerprint": "fingerprint",
}


def model_table(details: dict) -> Table:
    """`emberta info`: one row per field of Encoder.describe()."""
    table = Table(title=details["name"], show_header=False, title_justify="left")
    table.add_column("field", no_wrap=True)
    table.add_column("value", overflow="fold")
    for key, label in _MODEL_FIELDS.items():
        value = details[key]
        if key == "parameters":
            value = f"{value:,} ({value / 1e6:.1f} M)"
        elif isinstance(value, list):
            value = " -> ".join(value)
        table.add_row(label, str(value))
    prompts = {k: v for k, v in details["prompts"].items() if v}
    shown = ", ".join(f"{k}={v!r}" for k, v in prompts.items()) or "none"
    if details["default_prompt_name"]:
        shown += f" (default: {details['default_prompt_name']})"
    table.add_row("prompts", shown)
    return table


def summary_table(results: list[TaskResult], model_name: str) -> Table:
    """`emberta eval`: main score x100 per task (and subset), the published score and the difference
    ("!" beyond tolerance; "*" marks values mteb computed on local sets that differ from MTEB's), then averages
    per task type."""
    table = Table(
        title=f"{model_name}: main scores (x100)", title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 1),
        caption=f"published: MTEB's results; * {PEER} (the local set differs from MTEB's)", caption_justify="left",
    )  # fmt: skip
    for column in ("task", "metric", "score", "published", "diff"):
        numeric = column in ("score", "published", "diff")
        table.add_column(column, justify="right" if numeric else "left", no_wrap=True, min_width=len(column) + 1)
    for row in summary_rows(results, model_name):
        ref = row.reference
        published = "" if ref is None else f"{ref.value:.2f}" + ("*" if ref.source == PEER else "")
        diff = "" if ref is None else f"{row.difference:+.2f}" + ("" if row.within_tolerance else " !")
        label = f"  {row.subset}" if row.subset else row.task
        table.add_row(label, "" if row.subset else row.metric, f"{row.score:.2f}", published, diff)
    table.add_section()
    for task_type, mean in averages(results).items():
        table.add_row(f"average {task_type}", "", f"{mean:.2f}", "", "")
    return table


def tasks_table(root: Path | None) -> Table:
    """`emberta tasks`: registered tasks, their type and subsets, MTEB data, quick suite, missing data."""
    table = Table(
        title="tasks (suite full = all; quick = marked)", title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 1)
    )
    for column in ("task", "type", "subsets", "notes"):
        table.add_column(column, no_wrap=column != "notes")
    for spec in TASKS.values():
        notes = ["MTEB data" if spec.mteb else "", "quick" if spec.name in SUITES["quick"] else ""]
        if root is not None and not (root / spec.folder).is_dir():
            notes.append(f"missing {spec.folder}/")
        table.add_row(spec.name, spec.type, str(len(spec.subsets)), " ".join(n for n in notes if n))
    return table


def geometry_table(report: dict) -> Table:
    """`emberta analyze`: one row per measure."""
    table = Table(title=f"{report['model']}: {report['source']} ({report['rows']} texts)", show_header=False,
                  title_justify="left", box=box.SIMPLE_HEAD)  # fmt: skip
    table.add_column("measure", no_wrap=True)
    table.add_column("value", overflow="fold")
    for label, value in geometry_rows(report):
        table.add_row(label, value)
    return table


def geometry_rows(report: dict) -> list[tuple[str, str]]:
    """(measure, value as shown) for each measure of an `emberta analyze` report."""
    iso, rogue, spec = report["isotropy"], report["rogue_dimensions"], report["spectrum"]
    rows = [
        ("average cosine", f"{iso['average_cosine']:.3f}"),
        ("partition isotropy", f"{iso['partition_isotropy']:.3g}"),
        ("rogue dimensions", ", ".join(f"{r['dim']} ({100 * r['share']:.0f}%)" for r in rogue["top"][:3])
         + ("" if rogue["rogue"] else "  (none above 10%)")),
    ]  # fmt: skip
    for key, label in (("hubness", "hubness"), ("hubness_mp", "hubness after MP"), ("hubness_ls", "after LS")):
        h = report[key]
        rows.append((f"{label} (k={h['k']})", f"skewness {h['k_skewness']:.2f}, Robin Hood {h['robin_hood']:.2f}, "
                     f"hubs {h['hub_occurrence']:.2f}, antihubs {h['antihub_occurrence']:.2f}"))  # fmt: skip
    intrinsic = report["intrinsic_dimension"]
    rows += [
        ("intrinsic dimension", f"TwoNN {intrinsic['twonn']:.1f}, MLE {intrinsic['mle']:.1f}"),
        ("effective rank", f"{spec['effective_rank']:.1f} of {report['dim']}"),
        ("dims for 90/95/99% variance", " / ".join(str(v) for v in spec["dims_for_variance"].values())),
        ("uniformity", f"{report['alignment_uniformity']['uniformity']:.3f}"),
        ("alignment (positive pairs)", _alignment(report["alignment_uniformity"])),
    ]
    if "language_separability" in report:
        lang = report["language_separability"]
        rows.append(("language separability", f"{lang['accuracy']:.3f} (chance {lang['chance']:.3f})"))
    return rows


def _alignment(measures: dict) -> str:
    if measures["alignment"] is None:
        return "n/a (no positive pairs)"
    return f"{measures['alignment']:.3f} ({measures['positive_pairs']} pairs)"


def sweep_table(result) -> Table:
    """`emberta sweep`: score per configuration and task, bytes per vector, change against "none"."""
    tasks = list(dict.fromkeys(r.task for r in result.rows))
    table = Table(title="sweep: main score x100 (change vs none)", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("config", no_wrap=True)
    table.add_column("bytes", justify="right")
    for task in tasks:
        table.add_column(task, justify="right")
    for config in dict.fromkeys(r.config for r in result.rows):
        cells = {r.task: r for r in result.rows if r.config == config}
        values = []
        for task in tasks:
            r = cells[task]
            change = "" if r.relative_change is None or config == "none" else f" ({r.relative_change:+.1f}%)"
            values.append("n/a" if r.score is None else f"{r.score:.2f}{change}")
        table.add_row(config, str(next(iter(cells.values())).bytes_per_vector), *values)
    return table


def bias_table(rows: list[dict]) -> Table:
    """`emberta bias`: effect size and p-value per test (and after debiasing when computed)."""
    table = Table(title="WEAT / SEAT", title_justify="left", box=box.SIMPLE_HEAD)
    debiased = "effect_size_debiased" in rows[0] if rows else False
    columns = ["test", "targets / attributes", "effect size", "p"] + (["debiased", "p"] if debiased else [])
    for column in columns:
        table.add_column(column, justify="right" if column in ("effect size", "p", "debiased") else "left")
    for r in rows:
        cells = [r["test"], f"{r['targets']} / {r['attributes']}", f"{r['effect_size']:+.2f}", f"{r['p_value']:.3f}"]
        if debiased:
            cells += [f"{r['effect_size_debiased']:+.2f}", f"{r['p_value_debiased']:.3f}"]
        table.add_row(*cells)
    return table


def comparison_table(comparison) -> Table:
    """`emberta eval` with several models: main score x100 per task (rows) and model (columns), then the means
    per task type and overall, then the cost figures of local models. `*` marks the best of each row; published
    columns (MTEB's numbers, no costs) are marked in their header."""
    table = Table(title="comparison: main scores (x100)", title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 1),
                  caption="* best in row; (published) = MTEB's published score, measured elsewhere, no cost figures",
                  caption_justify="left")  # fmt: skip
    table.add_column("task", no_wrap=True)
    for column in comparison.columns:
        header = column.label if len(column.label) <= 14 else column.label.replace("@", "\n@").replace(":", ":\n", 1)
        table.add_column(header + ("\n(published)" if column.published else ""), justify="right", overflow="fold")

    def cells(values, best, show=lambda v: f"{v:.2f}"):
        return [("" if v is None else show(v) + ("*" if i in best else " ")) for i, v in enumerate(values)]

    for row in comparison.task_rows:
        table.add_row(row.label, *cells(row.values, row.best))
    table.add_section()
    for row in comparison.mean_rows:
        table.add_row(row.label, *cells(row.values, row.best))
    cost_rows = comparison.cost_rows()
    if cost_rows:
        table.add_section()
    for cost, values, best in cost_rows:
        table.add_row(cost.label, *cells(values, best, cost.show))
    return table
