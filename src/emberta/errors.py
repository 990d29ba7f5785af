"""Errors a user can cause. Each message says what went wrong, where (file:line when there is one) and how to
fix it; the CLI prints the message alone and exits with status 2."""

from __future__ import annotations

from pathlib import Path


class EmbertaError(Exception):
    """Base class of every error caused by user input (files, options, models)."""


class InputError(EmbertaError):
    """A user's input file is missing, unreadable, empty or malformed."""

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None):
        self.path = None if path is None else str(path)
        self.line = line
        where = ""
        if self.path is not None:
            where = f"{self.path}:{line}: " if line is not None else f"{self.path}: "
        super().__init__(where + message)


class OptionError(EmbertaError):
    """An option has an unknown name or a value out of range."""


class ModelError(EmbertaError):
    """A model spec does not name a loadable local model (missing folder, weights or tokenizer)."""


class OutputError(EmbertaError):
    """An output path cannot be written (missing directory, unsupported format)."""


class NotApplicable(EmbertaError):
    """A transform configuration that does not apply to a task type (e.g. hubness reduction of STS pairs)."""
