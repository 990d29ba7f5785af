"""Few-shot sampling and the label checks every head needs before training."""

from __future__ import annotations

import warnings

import numpy as np

from emberta.classify.data import Examples
from emberta.errors import InputError


def check_classes(train: Examples, multi_label: bool) -> list[str]:
    """The label set of the training file; InputError when it has fewer than two classes."""
    labels = train.label_set()
    if len(labels) < 2 and not (multi_label and labels):
        found = repr(labels[0]) if labels else "none"
        raise InputError(f"one class only ({found}) in the training file; a classifier needs examples of two or more "
                         "labels", path=train.name)  # fmt: skip
    return labels


def sample_per_label(train: Examples, n: int, seed: int) -> Examples:
    """n examples of each label, drawn with `seed` (file order kept); InputError naming the labels with fewer."""
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(train.labels):
        by_label.setdefault(label, []).append(i)
    short = {label: len(rows) for label, rows in by_label.items() if len(rows) < n}
    if short:
        listed = ", ".join(f"{label!r} has {count}" for label, count in sorted(short.items()))
        raise InputError(f"--samples-per-label {n}: too few examples ({listed}); lower --samples-per-label or add "
                         "examples", path=train.name)  # fmt: skip
    rows = sorted(int(i) for label in sorted(by_label) for i in rng.choice(by_label[label], n, replace=False))
    return train.subset(rows)


def known_rows(examples: Examples, labels: list[str], multi_label: bool, role: str) -> Examples:
    """The rows of a dev file whose labels the training file has; the others are dropped with a warning."""
    known = set(labels)
    if multi_label:
        keep = [i for i, row in enumerate(examples.labels) if set(row) <= known]
    else:
        keep = [i for i, label in enumerate(examples.labels) if label in known]
    if len(keep) < len(examples):
        unseen = sorted(set(examples.label_set()) - known)
        warnings.warn(f"{examples.name}: {len(examples) - len(keep)} {role} rows have labels not in the training "
                      f"file ({', '.join(map(repr, unseen))}); they are left out of {role}", stacklevel=2)  # fmt: skip
    return examples.subset(keep)
