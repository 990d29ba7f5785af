"""Choosing the tasks of an evaluation (emberta.tasks.registry.select_tasks): one source, registry defaults,
classification overrides."""

from __future__ import annotations

import json

import pytest

from emberta.errors import OptionError
from emberta.tasks.registry import (
    CLASSIFICATION,
    DEFAULT_N_EXPERIMENTS,
    DEFAULT_SAMPLES_PER_LABEL,
    SUITES,
    resolve_tasks,
    select_tasks,
)


def test_default_is_the_quick_suite_with_registry_settings():
    specs = select_tasks()
    assert [s.name for s in specs] == SUITES["quick"] and specs == resolve_tasks("quick")
    (classification,) = [s for s in specs if s.type == CLASSIFICATION]
    assert classification.samples_per_label == DEFAULT_SAMPLES_PER_LABEL
    assert classification.n_experiments == DEFAULT_N_EXPERIMENTS


def test_overrides_apply_to_classification_tasks_only():
    specs = select_tasks("STSBenchmark,Banking77Classification", samples_per_label=4, n_experiments=2)
    sts, banking = specs
    assert (banking.samples_per_label, banking.n_experiments) == (4, 2)
    assert sts == resolve_tasks("STSBenchmark")[0]
    assert select_tasks(suite="full", n_experiments=3)[0].n_experiments == DEFAULT_N_EXPERIMENTS  # not classification


def test_adhoc_classification_takes_defaults_and_overrides(tmp_path):
    rows = "".join(json.dumps({"text": f"t{i}", "label": i % 2}) + "\n" for i in range(8))
    for name in ("train.jsonl", "test.jsonl"):
        (tmp_path / name).write_text(rows)
    train, test = tmp_path / "train.jsonl", tmp_path / "test.jsonl"
    (spec,) = select_tasks(task_type="classification", train=train, test=test, name="mine")
    assert spec.name == "mine" and spec.type == CLASSIFICATION
    assert (spec.samples_per_label, spec.n_experiments) == (DEFAULT_SAMPLES_PER_LABEL, DEFAULT_N_EXPERIMENTS)
    (spec,) = select_tasks(task_type="classification", train=train, test=test, samples_per_label=2)
    assert (spec.samples_per_label, spec.n_experiments) == (2, DEFAULT_N_EXPERIMENTS)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tasks": "STSBenchmark", "suite": "quick"}, "choose one of --tasks, --suite"),
        ({"suite": "quick", "task_type": "sts"}, "choose one of --tasks, --suite"),
        ({"file": "x.jsonl"}, "needs --task-type"),
        ({"suite": "everything"}, "unknown suite 'everything'"),
        ({"tasks": ""}, "no task given"),
        ({"tasks": "STSBenchmark", "name": "x"}, "--name names an ad-hoc task's result"),
        ({"samples_per_label": 0}, "--samples-per-label must be at least 1, got 0"),
        ({"n_experiments": -2}, "--n-experiments must be at least 1, got -2"),
    ],
)
def test_conflicts_and_bad_values(kwargs, message):
    with pytest.raises(OptionError, match=message):
        select_tasks(**kwargs)
