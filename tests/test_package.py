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
