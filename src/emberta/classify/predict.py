"""Predicting a file (streamed, like `emberta encode`) and evaluating a classifier folder on a labelled file."""

from __future__ import annotations

import json
from collections.abc import Callable
from itertools import islice
from pathlib import Path

from emberta.classify.classifier import Classifier
from emberta.classify.data import Fields, read_examples
from emberta.classify.evaluate import score, write_report
from emberta.errors import InputError

BLOCK = 2048


def predict_file(classifier: Classifier, input: str | Path, out: str | Path, *, text_field: str = "text",
                 text_pair_field: str | None = None, id_field: str | None = None, input_format: str | None = None,
                 cache=True, on_progress: Callable[[int], None] | None = None) -> int:  # fmt: skip
    """Write one JSON line per input row to `out`: {"id", "label", "probabilities": {label: p}} (labels a list
    when multi-label), reading and predicting `BLOCK` rows at a time; `out` appears only when complete. Returns the
    number of rows."""
    from emberta.cache import open_store
    from emberta.io.atomic import atomic_writer, check_writable_dir
    from emberta.io.readers import TextReader

    out = check_writable_dir(out)
    if classifier.meta.get("fields", {}).get("text_pair") and text_pair_field is None:
        text_pair_field = classifier.meta["fields"]["text_pair"]
    meta = [text_pair_field] if text_pair_field else None
    count = 0
    with TextReader(input, format=input_format, field=text_field, id_field=id_field, meta_fields=meta) as reader:
        reader.check_first()
        with atomic_writer(out) as handle, open_store(cache) as store:
            records = iter(reader)
            while block := list(islice(records, BLOCK)):
                pairs = _pairs(block, text_pair_field, reader.name)
                proba = classifier.predict_proba([r.text for r in block], pairs, cache=store)
                for record, label, row in zip(block, classifier.labels_of(proba), proba, strict=True):
                    probabilities = {name: round(float(p), 6) for name, p in zip(classifier.labels, row, strict=True)}
                    line = {"id": record.id, "label": label, "probabilities": probabilities}
                    handle.write(json.dumps(line, ensure_ascii=False) + "\n")
                count += len(block)
                if on_progress is not None:
                    on_progress(len(block))
    return count


def _pairs(block, field: str | None, name: str) -> list[str] | None:
    if field is None:
        return None
    pairs = []
    for record in block:
        value = (record.meta or {}).get(field)
        if not isinstance(value, str):
            raise InputError(f"field {field!r} (the second text of a pair) is missing", path=name, line=record.line)
        pairs.append(value)
    return pairs


def evaluate(classifier: Classifier | str | Path, test: str | Path, *, text_field: str | None = None,
             label_field: str | None = None, write: bool = True, cache=True) -> dict:  # fmt: skip
    """Metrics of a classifier (or classifier folder) on a labelled file; with `write`, also
    `DIR/metrics.json` and `DIR/confusion.png`. Fields default to those the classifier was trained with."""
    if not isinstance(classifier, Classifier):
        classifier = Classifier.load(classifier)
    trained = classifier.meta.get("fields", {})
    fields = Fields(text_field or trained.get("text", "text"), label_field or trained.get("label", "label"),
                    trained.get("text_pair"), None, classifier.multi_label)  # fmt: skip
    metrics = score(classifier, read_examples(test, fields), cache=cache)
    if write and classifier.folder is not None:
        write_report(metrics, classifier.folder)
    return metrics
