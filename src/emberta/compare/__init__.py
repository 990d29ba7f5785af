"""Compare models on the same tasks with quality and cost side by side: `compare_models` (what
`emberta eval --model A --model B` runs) and `comparison` (the table of its runs)."""

from __future__ import annotations

from emberta.compare.run import ModelRun, compare_models, comparison

__all__ = ["ModelRun", "compare_models", "comparison"]
