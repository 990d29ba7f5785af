"""`emberta.classify.train`: read the labelled files, check them, train the chosen head, calibrate it on dev,
score it on dev and test, and write the classifier folder (atomically)."""

from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from emberta.classify.classifier import Classifier, check_out_dir
from emberta.classify.data import Examples, Fields, read_examples
from emberta.classify.evaluate import score, write_report
from emberta.classify.frozen import calibrate, erase_if_asked, train_frozen
from emberta.classify.heads import MODEL_FILES_HEADS
from emberta.classify.metrics import targets
from emberta.classify.options import TrainOptions
from emberta.classify.sampling import check_classes, known_rows, sample_per_label
from emberta.errors import OptionError


@dataclass
class Splits:
    """The labelled examples of one training run."""

    train: Examples
    dev: Examples | None = None
    test: Examples | None = None


def train(train: str | Path | Examples, *, model="default", dev: str | Path | Examples | None = None,
          test: str | Path | Examples | None = None, out: str | Path | None = None, overwrite: bool = False,
          text_field: str = "text", label_field: str = "label", text_pair_field: str | None = None,
          cache=True, **options) -> Classifier:  # fmt: skip
    """Train a text classifier and return it (saved to `out` when given; also `out/metrics.json` with `test`).

    train/dev/test: labelled files (.jsonl, .csv, .tsv, .parquet) or Examples. model: the encoder spec
    ("default" or a model folder; a loaded Encoder also does for the frozen heads). options: see TrainOptions
    (head="logreg" | "mlp" | "finetune" | "setfit", class_weight, loss, epochs, samples_per_label, multi_label,
    erase_field, seed, ...). cache: the embedding cache (True: on disk, False: memory, or an EmbeddingStore).

    Example:
        clf = emberta.classify.train("train.jsonl", dev="dev.jsonl", head="logreg", class_weight="balanced")
        clf.predict(["what a day"])
    """
    from emberta.cache import open_store

    opts = TrainOptions(**options)
    if opts.head in MODEL_FILES_HEADS and not isinstance(model, (str, Path)):
        model = model.folder.spec  # these heads train a copy of the model from its folder
    fields = Fields(text_field, label_field, text_pair_field, opts.erase_field, opts.multi_label)
    splits = read_splits(train, dev, test, fields)
    labels = check_classes(splits.train, opts.multi_label)
    if opts.samples_per_label:
        splits.train = sample_per_label(splits.train, opts.samples_per_label, opts.seed)
    if splits.dev is not None:
        splits.dev = known_rows(splits.dev, labels, opts.multi_label, "dev")
    target = None if out is None else check_out_dir(out, overwrite)
    # one store for every split; the heads that train an encoder keep its vectors in memory only (of no use to
    # later runs; finetune does not encode through it at all)
    keep = opts.head in MODEL_FILES_HEADS
    with open_store(False if keep else cache) as store, _work_folder(target, keep=keep) as folder:
        checkpoints = _checkpoint_folder(target, folder)
        classifier = _fit(model, splits, labels, opts, folder, store, fields, checkpoints)
        classifier.folder = folder
        _finish(classifier, splits, folder, store)
    classifier.folder = target or (folder if folder.exists() else None)
    return classifier


def read_splits(train, dev, test, fields: Fields) -> Splits:
    """The three files read (those given as Examples kept); train must not be empty."""

    def read(source):
        if source is None or isinstance(source, Examples):
            return source
        return read_examples(source, fields)

    return Splits(read(train), read(dev), read(test))


@contextmanager
def _work_folder(target: Path | None, *, keep: bool):
    """The folder the classifier is built in: a staging folder renamed to `target`; without a target, a temporary
    folder, kept when the classifier needs its model files (`keep`: finetune, setfit), else removed."""
    if target is None:
        folder = Path(tempfile.mkdtemp(prefix="emberta-classifier-"))
        try:
            yield folder
        finally:
            if not keep:
                shutil.rmtree(folder, ignore_errors=True)
        return
    from emberta.io.atomic import staged_dir

    with staged_dir(target, "classifier") as staging:
        yield staging


def _checkpoint_folder(target: Path | None, folder: Path) -> Path:
    """Where finetune keeps its checkpoints: .OUT.checkpoints beside the output (so --resume finds them after an
    interrupted run), or inside the temporary work folder."""
    if target is None:
        return folder / ".checkpoints"
    return target.with_name(f".{target.name}.checkpoints")


def _meta(model: str, labels: list[str], opts: TrainOptions, fields: dict) -> dict:
    from emberta.version import __version__

    if not isinstance(model, (str, Path)):  # a loaded Encoder
        model = model.folder.spec
    spec = model if str(model) == "default" else str(Path(model).resolve())
    return {"labels": labels, "head": opts.head, "multi_label": opts.multi_label,
            "encoder": {"spec": spec, "source": str(model), "options": {}}, "options": opts.record(),
            "fields": fields, "emberta_version": __version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}  # fmt: skip


def _fit(model: str, splits: Splits, labels: list[str], opts: TrainOptions, folder: Path, store,
         fields: Fields, checkpoints: Path) -> Classifier:  # fmt: skip
    """The trained classifier (not yet calibrated); `store`: the EmbeddingStore the frozen head encodes through."""
    from dataclasses import asdict

    meta = _meta(model, labels, opts, asdict(fields))
    if opts.head == "finetune":
        from emberta.classify.finetune import train_finetune

        if opts.pooling == "mean" and splits.train.pairs is not None:
            raise OptionError(
                "--pooling mean classifies single texts; pair tasks (--text-pair-field) use --pooling cls"
            )
        meta["training"], head = train_finetune(model, splits, labels, opts, folder, checkpoints)
        meta["encoder"]["spec"] = "." if head is None else "encoder"
        classifier = Classifier(meta, head, folder=folder)
        if head is not None:  # --pooling mean: the tuned encoder's embeddings through the head
            meta["encoder"]["fingerprint"] = classifier.encoder().fingerprint
        return classifier
    if opts.head == "setfit":
        from emberta.classify.setfit import train_setfit_encoder

        meta["training"] = train_setfit_encoder(model, splits.train, opts, folder / "encoder")
        meta["encoder"]["spec"] = "encoder"
        classifier = Classifier(meta, None, folder=folder)
    else:
        from emberta.encoders import load_encoder

        classifier = Classifier(meta, None, folder=folder)
        classifier._encoder = load_encoder(model) if isinstance(model, (str, Path)) else model
    meta["encoder"]["fingerprint"] = classifier.encoder().fingerprint
    _fit_head(classifier, splits, opts, store)
    return classifier


def _fit_head(classifier: Classifier, splits: Splits, opts: TrainOptions, store) -> None:
    """Fit the frozen head (setfit: a logreg head on the tuned encoder) of `classifier` in place."""
    kind = "logreg" if opts.head == "setfit" else opts.head
    raw = classifier.features(splits.train.texts, splits.train.pairs, cache=store)  # no eraser yet
    eraser, x = erase_if_asked(raw, splits.train.nuisance)
    classifier.eraser = eraser
    y = targets(splits.train.labels, classifier.labels, opts.multi_label)
    dev = None
    if splits.dev is not None and len(splits.dev):
        x_dev = classifier.features(splits.dev.texts, splits.dev.pairs, cache=store)
        dev = (x_dev, targets(splits.dev.labels, classifier.labels, opts.multi_label))
    head, record = train_frozen(kind, x, y, dev, class_weight=opts.class_weight, seed=opts.seed,
                                multi_label=opts.multi_label, strength=opts.strength)  # fmt: skip
    classifier.head = head
    classifier.meta["regularisation"] = record
    if eraser is not None:
        from emberta.classify.erase import linear_leakage

        classifier.meta["erase"] = {"field": opts.erase_field,
                                    "leakage_before": linear_leakage(raw, splits.train.nuisance, opts.seed),
                                    "leakage_after": linear_leakage(x, splits.train.nuisance, opts.seed)}  # fmt: skip


def _finish(classifier: Classifier, splits: Splits, folder: Path, store) -> None:
    """Calibrate on dev, score dev and test (encoding through `store`), write the folder's files."""
    multi = classifier.multi_label
    if splits.dev is not None and len(splits.dev):
        logits = classifier.logits(splits.dev.texts, splits.dev.pairs, cache=store)
        temperature, thresholds = calibrate(logits, targets(splits.dev.labels, classifier.labels, multi), multi)
        classifier.meta.update(temperature=temperature, thresholds=thresholds)
        classifier.meta["dev_metrics"] = _summary(score(classifier, splits.dev, cache=store, logits=logits))
    metrics = None
    if splits.test is not None:
        metrics = score(classifier, splits.test, cache=store)
        classifier.meta["test_metrics"] = _summary(metrics)
    classifier.write_into(folder)
    if metrics is not None:
        write_report(metrics, folder)


def _summary(metrics: dict) -> dict:
    keys = ("n", "accuracy", "macro_f1", "micro_f1", "ece", "ece_uncalibrated")
    return {key: metrics[key] for key in keys if key in metrics}
