"""The self-contained HTML report of `emberta report` and `emberta eval --report`: one file with its styles,
script and images inlined (SVG charts, PNG plots as data: URIs), so it opens anywhere with no network. The
comparison tables sort on a click; each figure has its numbers in a table beside it. Every name from a result
file is HTML-escaped."""

from __future__ import annotations

import time
from html import escape
from importlib import resources
from pathlib import Path

from emberta.report import html_sections as sections
from emberta.report.collect import ReportInputs, collect
from emberta.tasks.comparison import Comparison, column_from_results, compare_results
from emberta.version import __version__


def write_report(paths: list[str | Path], out: str | Path, *, published: bool = False) -> Path:
    """Collect the result folders under `paths` (see report.collect) and write the report to `out` atomically;
    published: add MTEB's published scores as columns. Returns the path written."""
    from emberta.errors import OutputError
    from emberta.io.atomic import check_writable_dir, write_text_atomic

    if Path(out).is_dir():
        raise OutputError(f"--out {out} is a folder; give a file name such as {Path(out) / 'report.html'}")
    out = check_writable_dir(out, "--out")
    html = render_report(collect(paths), published=published, sources=[str(p) for p in paths])
    write_text_atomic(out, html)
    return out


def comparison_of(inputs: ReportInputs, *, published: bool = False) -> Comparison | None:
    """The comparison of the evaluated runs (None without any), with MTEB's published columns when asked."""
    if not inputs.runs:
        return None
    columns = [column_from_results(r.label, r.results, costs=r.meta.get("costs"), name=r.name) for r in inputs.runs]
    return compare_results(columns, [res for r in inputs.runs for res in r.results], published=published)


def render_report(inputs: ReportInputs, *, published: bool = False, sources: list[str] | None = None) -> str:
    """The report as one HTML document."""
    comparison = comparison_of(inputs, published=published)
    body: list[tuple[str, str, str]] = []  # (id, heading, html)
    if comparison is not None:
        body.append(("models", "Models", leaderboard(comparison)))
        body.append(("speed", "Quality and speed", sections.speed_scatter(comparison)))
        body.append(("tasks", "Scores per task", comparison_html(comparison)))
        body.append(("task-types", "By task type", sections.type_charts(comparison)))
    if inputs.sweeps:
        body.append(("sweep", "Post-processing sweep", "".join(sections.sweep(f, rows) for f, rows in inputs.sweeps)))
    if inputs.geometry:
        body.append(("geometry", "Geometry", "".join(sections.geometry(f, rep) for f, rep in inputs.geometry)))
    if inputs.training:
        body.append(("training", "Training", "".join(sections.training(*t) for t in inputs.training)))
    return _document(body, inputs, sources or [])


def _document(body: list[tuple[str, str, str]], inputs: ReportInputs, sources: list[str]) -> str:
    assets = resources.files("emberta.report").joinpath("assets")
    css = assets.joinpath("report.css").read_text(encoding="utf-8")
    script = assets.joinpath("report.js").read_text(encoding="utf-8")
    nav = "".join(f'<a href="#{key}">{escape(title)}</a>' for key, title, _ in body)
    main = "".join(f'<section id="{key}"><h2>{escape(title)}</h2>{html}</section>' for key, title, html in body)
    written = time.strftime("%Y-%m-%d %H:%M")
    shown = ", ".join(escape(s) for s in sources)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>emberta report</title><style>{css}</style></head><body>"
        f"<header><h1>emberta report</h1><p>{written} &middot; emberta {escape(__version__)}"
        f"{' &middot; from ' + shown if shown else ''}</p></header>"
        f"<nav>{nav}</nav><main>{main}</main>{_footer(inputs)}<script>{script}</script></body></html>\n"
    )


def _footer(inputs: ReportInputs) -> str:
    metas = [r.meta for r in inputs.runs if r.meta.get("machine")]
    if not metas:
        return "<footer><p>No machine recorded (result folders without model_meta.json).</p></footer>"
    machine, found = metas[0]["machine"], metas[0].get("versions") or {}
    memory = machine.get("memory_bytes")
    memory_text = f"memory {memory / 2**30:.1f} GiB" if isinstance(memory, (int, float)) else ""
    parts = [f"CPU: {machine.get('cpu')}", f"{machine.get('usable_cores')} of {machine.get('cores')} cores usable",
             memory_text, machine.get("os", "")]  # fmt: skip
    libraries = ", ".join(f"{k} {v}" for k, v in found.items() if v)
    return (f"<footer><p>Costs measured on: {escape('; '.join(str(p) for p in parts if p))}</p>"
            f"<p>Versions: {escape(libraries)}</p></footer>")  # fmt: skip


def _breakable(text: str) -> str:
    """`text` escaped, with line-break opportunities before "@" and after ":" (default@onnx-int8)."""
    return escape(text).replace("@", "<wbr>@").replace(":", ":<wbr>")


def _header_cell(column) -> str:
    badge = '<span class="badge published">published</span>' if column.published else ""
    title = escape(column.name + (" — MTEB's published score" if column.published else ""), quote=True)
    return f'<th class="num" title="{title}">{_breakable(column.label)}{badge}</th>'


def _value_cell(value, best: bool, shown: str) -> str:
    cls = "num best" if best else "num"
    data = "" if value is None else f"{value:.6g}" if isinstance(value, float) else str(value)
    return f'<td class="{cls}" data-value="{data}">{escape(shown)}</td>'


def comparison_html(comparison: Comparison) -> str:
    """Tasks as rows, models as columns (sortable by any column); means and cost figures in the footer."""
    head = "<th>task</th><th>type</th><th>metric</th>" + "".join(_header_cell(c) for c in comparison.columns)
    rows = []
    for row in comparison.task_rows:
        cells = "".join(
            _value_cell(v, i in row.best, "" if v is None else f"{v:.2f}") for i, v in enumerate(row.values)
        )
        rows.append(f"<tr><td>{escape(row.label)}</td><td>{escape(row.task_type)}</td><td>{escape(row.metric)}</td>"
                    f"{cells}</tr>")  # fmt: skip
    foot = []
    for n, row in enumerate(comparison.mean_rows):
        cells = "".join(
            _value_cell(v, i in row.best, "" if v is None else f"{v:.2f}") for i, v in enumerate(row.values)
        )
        css = ' class="section"' if n == 0 else ""
        foot.append(f'<tr{css}><td colspan="3">{escape(row.label)}</td>{cells}</tr>')
    for n, (cost, values, best) in enumerate(comparison.cost_rows()):
        cells = "".join(_value_cell(v, i in best, cost.show(v)) for i, v in enumerate(values))
        css = ' class="section"' if n == 0 else ""
        foot.append(f'<tr{css}><td colspan="3">{escape(cost.label)}</td>{cells}</tr>')
    return (
        '<p class="note">Main score x100 per task; click a header to sort. &#9650; marks the best of each row. '
        "Averages count a model only when it has every task they cover.</p>"
        f'<div class="scroll"><table class="sortable" id="comparison"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody><tfoot>{''.join(foot)}</tfoot></table></div>"
    )


def leaderboard(comparison: Comparison) -> str:
    """One row per model: the overall mean, then the cost figures (sortable by any column; the means per task
    type are in the task table's footer)."""
    means = [r for r in comparison.mean_rows if r.kind == "overall"]
    costs = comparison.cost_rows()
    head = '<th>model</th><th>source</th><th class="num">overall mean</th>'
    head += "".join(f'<th class="num">{escape(cost.label)}</th>' for cost, _, _ in costs)
    rows = []
    for i, column in enumerate(comparison.columns):
        source = '<span class="badge published">published</span>' if column.published else "this machine"
        cells = "".join(_value_cell(r.values[i], i in r.best, "" if r.values[i] is None else f"{r.values[i]:.2f}")
                        for r in means)  # fmt: skip
        cells += "".join(_value_cell(values[i], i in best, cost.show(values[i])) for cost, values, best in costs)
        rows.append(f'<tr><td title="{escape(column.name, quote=True)}">{escape(column.label)}</td><td>{source}</td>'
                    f"{cells}</tr>")  # fmt: skip
    note = (
        '<p class="note">Overall mean main score x100 (over every task; per type below) and the cost figures, '
        "measured in the same run on this machine (see docs/evaluation.md). Published models are MTEB's numbers: "
        "no costs. Click a header to sort.</p>"
    )
    table = f'<table class="sortable" id="leaderboard"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody>'
    return f'{note}<div class="scroll">{table}</table></div>'
