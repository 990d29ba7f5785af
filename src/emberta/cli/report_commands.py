"""Report: `emberta report`, one self-contained HTML page from result folders. Parsing and printing only."""

from __future__ import annotations

from pathlib import Path

import typer

from emberta.cli.common import echo_err, handle_errors

PANEL = "Evaluate"
RESULTS = typer.Argument(
    ..., help="Result folders (walked): `eval --output-dir`, `sweep --out`, `analyze --out`, `train embed --out`."
)
OUT = typer.Option(Path("report.html"), "--out", "-o", help="The HTML file to write (styles, script, images inlined).")
COMPARE_PUBLISHED = typer.Option(
    False, "--compare-published", help="Add MTEB's published scores of popular small models as columns."
)


def register(app: typer.Typer) -> None:
    app.command("report", rich_help_panel=PANEL)(report_command)


@handle_errors
def report_command(
    results: list[Path] = RESULTS,
    out: Path = OUT,
    compare_published: bool = COMPARE_PUBLISHED,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but warnings and errors."),
) -> None:
    """Write one self-contained HTML report from result folders of eval, sweep, analyze and train.

    No network needed to view it: sortable comparison tables, a chart per task type, quality vs speed, sweep
    curves, geometry plots and training curves, each with its numbers.
    """
    from emberta.report.html import write_report

    path = write_report(results, out, published=compare_published)
    if not quiet:
        echo_err(f"report: {path}")
