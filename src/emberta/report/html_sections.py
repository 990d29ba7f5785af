"""The figure sections of the HTML report, each figure with the numbers it draws in a table beside it: a bar
chart per task type, quality against speed, the sweep's quality against bytes per vector, the geometry plots
of `emberta analyze` and the training curves of `emberta train`."""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path

import numpy as np

from emberta.report import svg
from emberta.report.collect import GEOMETRY_PLOTS
from emberta.tasks.comparison import Comparison


def figure(kind: str, plot: str, numbers: str, caption: str) -> str:
    """A figure: the plot (SVG or <img>), its numbers table beside it, a caption under both."""
    return (f'<figure class="figure" data-kind="{escape(kind, quote=True)}"><div class="plot">{plot}</div>'
            f"{numbers}<figcaption>{escape(caption)}</figcaption></figure>")  # fmt: skip


def numbers_table(header: list[str], rows: list[list[str]]) -> str:
    """A small table of the numbers a figure shows (every cell escaped)."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    cell = ("<td>{}</td>", '<td class="num">{}</td>')
    body = "".join(
        "<tr>" + "".join(cell[n > 0].format(escape(str(c))) for n, c in enumerate(row)) + "</tr>" for row in rows
    )
    return f'<table class="numbers"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def type_charts(comparison: Comparison) -> str:
    """A grouped bar chart per task type: its tasks, one bar per model."""
    out = []
    for task_type in dict.fromkeys(r.task_type for r in comparison.task_rows):
        rows = [r for r in comparison.task_rows if r.task_type == task_type]
        series = [(c.label, [r.values[i] for r in rows]) for i, c in enumerate(comparison.columns)]
        series = [s for s in series if any(v is not None for v in s[1])]
        chart = svg.bar_chart(f"{task_type}: main score (x100)", [r.label for r in rows], series, "main score x100")
        table = numbers_table(
            ["model", *[r.label for r in rows]],
            [[label, *("" if v is None else f"{v:.2f}" for v in values)] for label, values in series],
        )
        out.append(figure("task-type", chart, table, f"{task_type}: {', '.join(r.metric for r in rows[:1])} x100"))
    return f'<div class="figures">{"".join(out)}</div>'


def speed_scatter(comparison: Comparison) -> str:
    """Mean main score over the tasks every measured model has against texts per second (log scale), one point
    per model with measured costs."""
    measured = [c for c in comparison.columns if (c.costs or {}).get("texts_per_second")]
    shared = set.intersection(*(set(c.scores) for c in measured)) if measured else set()
    points = [(c.label, float(c.costs["texts_per_second"]), float(np.mean([c.scores[t] for t in shared])))
              for c in measured if shared]  # fmt: skip
    if not points:
        return ('<p class="note">No cost figures in these results (runs evaluated one model at a time, or with '
                "--no-costs): run <code>emberta eval --model A --model B</code> to measure them.</p>")  # fmt: skip
    label = f"mean main score x100 ({len(shared)} tasks)"
    chart = svg.scatter("quality vs speed", points, "texts per second (log scale)", label, log_x=True)
    table = numbers_table(["model", "texts/s", "mean"], [[p[0], f"{p[1]:,.1f}", f"{p[2]:.2f}"] for p in points])
    caption = f"Up and to the right is better. Mean over the tasks every model here has: {', '.join(sorted(shared))}."
    return f'<div class="figures">{figure("speed", chart, table, caption)}</div>'


def sweep(folder: Path, rows: list[dict]) -> str:
    """The sweep's main score against bytes per vector (log 2), one line per task, points named by config."""
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    series = [(t, [(r["bytes_per_vector"], r["score"], r["config"]) for r in rows if r["task"] == t and r["score"]
                   is not None]) for t in tasks]  # fmt: skip
    chart = svg.line_chart("quality vs bytes per vector", series, "bytes per vector (log 2)", "main score x100",
                           log_x=True)  # fmt: skip
    configs = list(dict.fromkeys(r["config"] for r in rows))
    cells = {(r["config"], r["task"]): r for r in rows}
    table = numbers_table(["config", "bytes", *tasks], [
        [c, str(next(r for r in rows if r["config"] == c)["bytes_per_vector"]),
         *("n/a" if cells[c, t]["score"] is None else f"{cells[c, t]['score']:.2f}" for t in tasks if (c, t) in cells)]
        for c in configs])  # fmt: skip
    return f"<h3>{escape(str(folder))}</h3>" + figure("sweep", chart, table, "Configurations of `emberta sweep`.")


def geometry(folder: Path, report: dict) -> str:
    """The measures of an `emberta analyze` report and its PNG plots (embedded)."""
    from emberta.report.tables import geometry_rows

    try:
        rows = [[label, value] for label, value in geometry_rows(report)]
    except (KeyError, TypeError, ValueError, IndexError):
        rows = [[key, str(value)] for key, value in report.items() if not isinstance(value, (dict, list))]
    table = numbers_table(["measure", "value"], rows)
    title = f"{report.get('model', '')}: {report.get('source', '')} ({report.get('rows', '?')} texts)"
    plots = [(name, folder / name) for name in GEOMETRY_PLOTS if (folder / name).is_file()]
    out = [f"<h3>{escape(title)}</h3>"]
    for n, (name, path) in enumerate(plots or [("", None)]):
        image = "" if path is None else (f'<img alt="{escape(name, quote=True)}" src="data:image/png;base64,'
                                         f'{base64.b64encode(path.read_bytes()).decode()}">')  # fmt: skip
        out.append(figure("geometry", image, table if n == 0 else "", name.removesuffix(".png").replace("_", " ")))
    return out[0] + f'<div class="figures">{"".join(out[1:])}</div>'


def training(folder: Path, summary: dict, history: list[dict]) -> str:
    """Training loss and evaluation score per step, from metrics.jsonl."""
    losses = [(float(e["step"]), float(e["loss"]), "") for e in history if "loss" in e and "step" in e]
    scores = [(float(e["step"]), float(e["eval_mean"]), "") for e in history if "eval_mean" in e and "step" in e]
    out = []
    if losses:
        chart = svg.line_chart("training loss", [("loss", losses)], "step", "loss")
        table = numbers_table(["step", "loss"], [[f"{s:g}", f"{v:.4f}"] for s, v, _ in _thin(losses)])
        out.append(figure("training", chart, table, f"{len(losses)} logged steps"))
    if scores:
        chart = svg.line_chart("evaluation score", [("mean main score", scores)], "step", "mean main score x100")
        table = numbers_table(["step", "score"], [[f"{s:g}", f"{v:.2f}"] for s, v, _ in scores])
        out.append(figure("training", chart, table, "Mean main score x100 of the --eval tasks"))
    return (f"<h3>{escape(str(folder))}</h3>" + numbers_table(["setting", "value"], _training_facts(summary)) +
            f'<div class="figures">{"".join(out)}</div>')  # fmt: skip


def _training_facts(document: dict, limit: int = 20) -> list[list[str]]:
    """The scalar entries of emberta-train.json's "summary" and then "config" (or of the file itself)."""
    blocks = [document[k] for k in ("summary", "config") if isinstance(document.get(k), dict)] or [document]
    facts = [[k, str(v)] for block in blocks for k, v in block.items() if isinstance(v, (str, int, float, bool))]
    return facts[:limit]


def _thin(points: list, limit: int = 12) -> list:
    """At most `limit` evenly spaced points (the last kept) for a numbers table."""
    if len(points) <= limit:
        return points
    step = len(points) / limit
    return [points[int(i * step)] for i in range(limit - 1)] + [points[-1]]
