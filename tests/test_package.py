"""The package's public surface: `emberta.evaluate` is the function and `emberta.evaluation` the module it
lives in, so modules can be imported and patched by name."""

from __future__ import annotations

import importlib
import types
from unittest import mock

import pytest

import emberta


def test_evaluate_is_the_function_and_its_module_imports_and_patches_by_name():
    module = importlib.import_module("emberta.evaluation")
    assert isinstance(module, types.ModuleType) and emberta.evaluate is module.evaluate
    patch = mock.patch("emberta.evaluation.prepare_tasks", side_effect=RuntimeError("patched"))
    with patch as patched, pytest.raises(RuntimeError, match="patched"):
        emberta.evaluate(mock.Mock(spec=emberta.Encoder), "STSBenchmark")
    assert patched.call_count == 1


def test_the_import_contracts_cover_every_top_level_module():
    """`make lint`'s contracts name modules one by one: a new package (classify/, pretrain/, ...) must be added to
    the contracts that list all the others, or the rule would silently not apply to it."""
    from pathlib import Path

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    root = Path(emberta.__file__).parent
    modules = {p.stem for p in root.glob("*.py") if p.stem != "__init__"} | {
        p.name for p in root.iterdir() if (p / "__init__.py").is_file()
    }
    config = tomllib.loads((root.parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = {c["name"]: c for c in config["tool"]["importlinter"]["contracts"]}

    def names(listed: list[str]) -> set[str]:
        return {name.removeprefix("emberta.") for name in listed}

    io_rule = contracts["io reads and writes files and imports nothing of ours but errors"]
    assert names(io_rule["forbidden_modules"]) == modules - {"io", "errors"}
    cli_rule = contracts["the CLI imports the library, never the reverse"]
    assert names(cli_rule["source_modules"]) == modules - {"cli"}
