"""What every command shares: error reporting (one line, exit 2), progress bars, warnings on stderr."""

from __future__ import annotations

import functools
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from emberta.errors import EmbertaError

EXIT_USER_ERROR = 2


def echo_err(message: str) -> None:
    typer.echo(message, err=True)


def handle_errors(command: Callable) -> Callable:
    """Turn an EmbertaError into its one-line message on stderr and exit status 2 (no traceback), and show
    library warnings as one line each."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        def show_warning(message, category, filename, lineno, file=None, line=None):
            echo_err(f"warning: {message}")

        previous = warnings.showwarning
        warnings.showwarning = show_warning
        try:
            return command(*args, **kwargs)
        except EmbertaError as exc:
            echo_err(f"error: {exc}")
            raise typer.Exit(EXIT_USER_ERROR) from None
        except KeyboardInterrupt:
            echo_err("interrupted; no output was written")
            raise typer.Exit(130) from None
        finally:
            warnings.showwarning = previous

    return wrapper


def progress_enabled(quiet: bool) -> bool:
    """Progress bars show on a terminal, unless --quiet."""
    return not quiet and sys.stderr.isatty()


@contextmanager
def progress_bar(
    label: str, *, quiet: bool, total: Callable[[], int | None] | None = None
) -> Iterator[Callable[[int], None] | None]:
    """A transient progress bar on stderr when progress_enabled(quiet): yields advance(k), which moves it on by k
    items, else None. total: called only when the bar shows (counting the lines of a big file takes a while)."""
    if not progress_enabled(quiet):
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=None if total is None else total())
        yield lambda k: bar.advance(task, k)


DATA_DIR = typer.Option(None, help="Folder holding the datasets (default: $EMBERTA_DATA).")


def encoder_options(**flags) -> dict:
    """The load_encoder options the user set (None means the model's own)."""
    return {k: v for k, v in flags.items() if v is not None}


def data_dir_or_none(data_dir: Path | None) -> Path | None:
    """--data-dir, else EMBERTA_DATA, else None (for commands that work without datasets)."""
    from emberta.errors import OptionError
    from emberta.io.datasets import data_root

    try:
        return data_root(data_dir)
    except OptionError:
        return None
