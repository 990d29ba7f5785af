"""The `Classifier`: a trained text classifier that predicts, saves and loads.

A classifier folder is self-describing: `classifier.json` (format version, labels, head kind, encoder spec and
fingerprint, calibration temperature, multi-label thresholds, training options, dev and test metrics), the
head's weights as .npy files under `head/` (never pickle), the optional LEACE eraser under `eraser/`, and for
`finetune` and `setfit` the trained encoder itself (finetune: the folder is a Hugging Face
sequence-classification model that `transformers.pipeline("text-classification", model=DIR)` loads, plus
modules.json so `emberta.load_encoder(DIR)` loads its encoder; setfit: a sentence-transformers folder in
`encoder/`).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from emberta.classify.calibration import sigmoid, softmax
from emberta.classify.erase import Eraser
from emberta.classify.heads import MODEL_FILES_HEADS, DenseHead
from emberta.errors import ModelError, OutputError

FORMAT_VERSION = 1
META_FILE = "classifier.json"


class Classifier:
    """A trained classifier. Build one with `emberta.classify.train(...)` or `Classifier.load(DIR)`.

    `labels`: the class names, in the order of predict_proba's columns. `meta`: what classifier.json holds.
    """

    def __init__(self, meta: dict, head: DenseHead | None, *, folder: Path | None = None,
                 eraser: Eraser | None = None):  # fmt: skip
        self.meta, self.head, self.folder, self.eraser = meta, head, folder, eraser
        self._encoder = None
        self._model = None

    # ---- what it is ------------------------------------------------------------------------------------
    @property
    def labels(self) -> list[str]:
        return list(self.meta["labels"])

    @property
    def head_kind(self) -> str:
        return self.meta["head"]

    @property
    def multi_label(self) -> bool:
        return bool(self.meta.get("multi_label"))

    @property
    def temperature(self) -> float:
        return float(self.meta.get("temperature") or 1.0)

    @property
    def thresholds(self) -> np.ndarray:
        values = self.meta.get("thresholds") or [0.5] * len(self.labels)
        return np.asarray(values, dtype=np.float64)

    def encoder_spec(self) -> str:
        """The spec `load_encoder` takes for this classifier's encoder (a path inside the folder for heads that
        trained it)."""
        spec = self.meta["encoder"]["spec"]
        if self.head_kind in MODEL_FILES_HEADS and self.folder is not None:
            return str((self.folder / spec).resolve())
        return spec

    def encoder(self):
        """The encoder of the frozen heads and setfit (loaded once); ModelError when it is not the one the head
        was trained on (its fingerprint changed)."""
        if self._encoder is None:
            from emberta.encoders import load_encoder

            encoder = load_encoder(self.encoder_spec(), **self.meta["encoder"].get("options", {}))
            expected = self.meta["encoder"].get("fingerprint")
            if expected and encoder.fingerprint != expected:
                raise ModelError(f"classifier {self.folder}: its encoder {self.encoder_spec()!r} is not the one the "
                                 "head was trained on (fingerprint differs); train the classifier again")  # fmt: skip
            self._encoder = encoder
        return self._encoder

    # ---- predicting ------------------------------------------------------------------------------------
    def features(self, texts: list[str], pairs: list[str] | None = None, *, cache=True) -> np.ndarray:
        """The head's input for `texts`: embeddings (through the embedding cache; `cache` is True for the
        on-disk cache, False for memory only, or an EmbeddingStore), [u, v, |u-v|, u*v] for pairs, erased when
        the classifier was trained with --erase-subspace."""
        from emberta.cache import open_store

        with open_store(cache) as store:
            x = store.encode(self.encoder(), list(texts), show_progress=False)
            if pairs is not None:
                v = store.encode(self.encoder(), list(pairs), show_progress=False)
                x = np.concatenate([x, v, np.abs(x - v), x * v], axis=1)
        return x if self.eraser is None else self.eraser.apply(x)

    def logits_from_embeddings(self, vectors: np.ndarray) -> np.ndarray:
        """Uncalibrated logits of the head on embeddings of this classifier's encoder (erased first when trained
        with --erase-subspace); heads on frozen embeddings of single texts only."""
        return self.head.logits(vectors if self.eraser is None else self.eraser.apply(vectors))

    def logits(self, texts: list[str], pairs: list[str] | None = None, *, cache=True, batch_size: int = 32):
        """Uncalibrated (n, k) logits."""
        if self.head_kind == "finetune" and self.head is None:  # --pooling cls: a sequence-classification model
            from emberta.classify.finetune_model import sequence_logits

            if self._model is None:
                from emberta.classify.finetune_model import load_sequence_model

                self._model = load_sequence_model(self.folder)
            max_length = self.meta.get("options", {}).get("max_length", 128)  # as trained (None: the model's own)
            return sequence_logits(self._model, list(texts), pairs, batch_size=batch_size, max_length=max_length)
        return self.head.logits(self.features(texts, pairs, cache=cache))

    def proba_from_logits(self, logits: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of logits (softmax, or sigmoid per label, of logits / temperature)."""
        scaled = np.asarray(logits, dtype=np.float64) / self.temperature
        return sigmoid(scaled) if self.multi_label else softmax(scaled)

    def predict_proba(self, texts: list[str], pairs: list[str] | None = None, *, cache=True) -> np.ndarray:
        """(n, len(labels)) calibrated probabilities, float64; columns follow `labels`."""
        return self.proba_from_logits(self.logits(texts, pairs, cache=cache))

    def labels_of(self, proba: np.ndarray) -> list:
        """The predicted label of each row (a list of labels per row when multi-label)."""
        if self.multi_label:
            return [[self.labels[j] for j in np.flatnonzero(row >= self.thresholds)] for row in proba]
        return [self.labels[j] for j in proba.argmax(axis=1)]

    def predict(self, texts: list[str], pairs: list[str] | None = None, *, cache=True) -> list:
        """The predicted label of each text."""
        return self.labels_of(self.predict_proba(texts, pairs, cache=cache))

    # ---- files -----------------------------------------------------------------------------------------
    def save(self, out: str | Path, *, overwrite: bool = False) -> Path:
        """Write the classifier folder `out` (atomically: a staging folder renamed at the end); OutputError when
        `out` exists and not `overwrite`."""
        from emberta.io.atomic import staged_dir

        out = check_out_dir(out, overwrite)
        with staged_dir(out, "classifier") as staging:
            if self.head_kind in MODEL_FILES_HEADS and self.folder is not None and self.folder != staging:
                shutil.copytree(self.folder, staging, dirs_exist_ok=True)
            self.write_into(staging)
        self.folder = out
        return out

    def write_into(self, folder: Path) -> None:
        """Write classifier.json, the head and the eraser into `folder` (model files are the trainer's job)."""
        folder = Path(folder)
        if self.head is not None:
            (folder / "head").mkdir(exist_ok=True)
            for i, (w, b) in enumerate(zip(self.head.weights, self.head.biases, strict=True)):
                np.save(folder / "head" / f"layer{i}.weight.npy", w)
                np.save(folder / "head" / f"layer{i}.bias.npy", b)
        if self.eraser is not None:
            (folder / "eraser").mkdir(exist_ok=True)
            for name in ("left", "right", "bias"):
                np.save(folder / "eraser" / f"{name}.npy", getattr(self.eraser, name))
        meta = dict(self.meta, format_version=FORMAT_VERSION)
        if self.head is not None:
            meta["head_layers"], meta["head_output"] = len(self.head.weights), self.head.output
        (folder / META_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: str | Path) -> Classifier:
        """Open a classifier folder; ModelError when it is not one, is damaged, or comes from a newer emberta."""
        folder = Path(folder)
        meta = read_meta(folder)
        head = None
        try:
            if "head_layers" in meta:
                layers = range(int(meta["head_layers"]))
                head = DenseHead([_array(folder / "head" / f"layer{i}.weight.npy") for i in layers],
                                 [_array(folder / "head" / f"layer{i}.bias.npy") for i in layers],
                                 meta["head_output"])  # fmt: skip
            eraser = None
            if meta.get("erase"):
                eraser = Eraser(*(_array(folder / "eraser" / f"{n}.npy") for n in ("left", "right", "bias")))
        except (OSError, ValueError) as exc:
            raise ModelError(f"classifier {folder}: damaged head or eraser file ({exc}); train it again") from None
        return cls(meta, head, folder=folder, eraser=eraser)


def read_meta(folder: Path) -> dict:
    """classifier.json of `folder`, checked: present, JSON, a format version this emberta reads."""
    return read_folder_meta(folder, META_FILE, kind="classifier", command="emberta classify train",
                            version=FORMAT_VERSION, required=("labels", "head", "encoder"))  # fmt: skip


def read_folder_meta(folder: Path, name: str, *, kind: str, command: str, version: int,
                     required: tuple[str, ...]) -> dict:  # fmt: skip
    """The JSON file `name` describing a trained `kind` folder (a classifier, a tagger), checked: present, JSON,
    a format version up to `version`, the `required` keys; ModelError naming the fix (`command` makes one)."""
    file = folder / name
    if not file.is_file():
        raise ModelError(f"{folder}: not a {kind} folder (no {name}); make one with `{command} --out DIR`")
    try:
        meta = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelError(f"{file}: not valid JSON ({exc}); train the {kind} again") from None
    found = meta.get("format_version") if isinstance(meta, dict) else None
    if not isinstance(found, int):
        raise ModelError(f"{file}: no format_version; it was not written by `{command}`")
    if found > version:
        from emberta.version import __version__

        raise ModelError(f"{file}: {kind} format version {found} is newer than this emberta ({__version__}) "
                         f"reads (up to {version}); upgrade emberta (pip install -U emberta)")  # fmt: skip
    for key in required:
        if key not in meta:
            raise ModelError(f"{file}: the key {key!r} is missing; train the {kind} again")
    return meta


def check_out_dir(out: str | Path, overwrite: bool) -> Path:
    """`out` as a Path when it may be written: its parent exists, and it does not exist unless `overwrite`."""
    out = Path(out)
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"--out {out}: directory {parent} does not exist; create it (mkdir -p {parent})")
    if out.exists() and not overwrite:
        raise OutputError(f"--out {out} already exists; choose another folder or pass --overwrite to replace it")
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out} is a file; give a folder")
    return out


def _array(path: Path) -> np.ndarray:
    return np.load(path, allow_pickle=False)
