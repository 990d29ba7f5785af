"""Scoring a classifier on labelled examples, and writing `metrics.json` and `confusion.png`."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np

from emberta.classify.data import Examples
from emberta.classify.frozen import uncalibrated_proba
from emberta.classify.metrics import classification_metrics, expected_calibration_error, multilabel_metrics, targets

METRICS_FILE = "metrics.json"
CONFUSION_FILE = "confusion.png"


def score(classifier, examples: Examples, *, cache=True, logits: np.ndarray | None = None) -> dict:
    """Metrics of `classifier` on `examples` (see metrics.classification_metrics), plus `ece_uncalibrated` (at
    temperature 1) and the `temperature` used. Labels only in `examples` are reported in `unseen_labels` (and a
    warning), and count as errors."""
    if logits is None:
        logits = classifier.logits(examples.texts, examples.pairs, cache=cache)
    proba = classifier.proba_from_logits(logits)
    labels = classifier.labels
    raw = uncalibrated_proba(np.asarray(logits, dtype=np.float64), classifier.multi_label)
    if classifier.multi_label:
        metrics = multilabel_metrics(proba, labels, examples.labels, classifier.thresholds)
        y = targets(examples.labels, labels, True)
        raw = raw.ravel()
        metrics["ece_uncalibrated"] = expected_calibration_error(np.stack([1 - raw, raw], axis=1), y.ravel())
    else:
        metrics = classification_metrics(proba, labels, examples.labels)
        metrics["ece_uncalibrated"] = expected_calibration_error(raw, targets(examples.labels, labels, False))
    metrics["temperature"] = classifier.temperature
    if metrics["unseen_labels"]:
        unseen = ", ".join(map(repr, metrics["unseen_labels"]))
        warnings.warn(f"{examples.name}: labels the classifier never saw in training: {unseen}; their rows count "
                      "as errors", stacklevel=2)  # fmt: skip
    return metrics


def write_report(metrics: dict, folder: Path, *, plot: bool = True) -> None:
    """`folder/metrics.json` (written atomically) and, for single-label metrics, `folder/confusion.png`."""
    from emberta.io.atomic import write_text_atomic

    folder = Path(folder)
    write_text_atomic(folder / METRICS_FILE, json.dumps(metrics, indent=2, ensure_ascii=False) + "\n")
    if plot and "confusion" in metrics:
        from emberta.report.plots import confusion_plot

        confusion = metrics["confusion"]
        confusion_plot(confusion["labels"], np.array(confusion["matrix"]), folder / CONFUSION_FILE)
