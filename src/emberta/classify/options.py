"""The options of `emberta classify train` / `emberta.classify.train`, checked once."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from emberta.classify.heads import HEADS, MODEL_FILES_HEADS
from emberta.errors import OptionError

LOSSES = ("ce", "weighted-ce", "focal")
CLASS_WEIGHTS = ("balanced", "none")
POOLINGS = ("cls", "mean")


@dataclass(frozen=True)
class TrainOptions:
    """head: logreg | mlp | finetune | setfit. class_weight: balanced | none (frozen heads and setfit's head).
    strength: fix the regularisation (logreg C, mlp alpha) instead of choosing it on dev. loss: ce | weighted-ce |
    focal (finetune), focal_gamma. pooling: finetune's head reads BERT's [CLS] pooler (cls: a Hugging Face
    sequence-classification folder) or the sentence embedding, starting from a linear probe (mean). epochs,
    patience (evaluations without a better dev macro-F1 before stopping), max_length: finetune only (setfit tunes
    for one pass over its pairs). lr, batch_size, warmup_ratio: finetune and setfit. samples_per_label: keep N
    examples per class (seeded; few-shot). setfit_iterations: pairs drawn per example (SetFit's num_iterations).
    seed. multi_label. erase_field: the nuisance field for --erase-subspace. resume: continue an interrupted
    finetune."""

    head: str = "logreg"
    class_weight: str = "none"
    strength: float | None = None
    loss: str = "ce"
    focal_gamma: float = 2.0
    pooling: str = "cls"
    epochs: float = 3.0
    lr: float | None = None
    batch_size: int = 16
    warmup_ratio: float = 0.1
    patience: int = 2
    max_length: int | None = 128
    samples_per_label: int | None = None
    setfit_iterations: int = 20
    seed: int = 0
    multi_label: bool = False
    erase_field: str | None = None
    resume: bool = False

    def __post_init__(self) -> None:
        checks = [
            (self.head in HEADS, f"unknown --head {self.head!r}; choose one of {', '.join(HEADS)}"),
            (self.loss in LOSSES, f"unknown --loss {self.loss!r}; choose one of {', '.join(LOSSES)}"),
            (self.class_weight in CLASS_WEIGHTS, f"unknown --class-weight {self.class_weight!r}; use balanced or none"),
            (self.epochs > 0 and self.batch_size > 0, "--epochs and --batch-size must be positive"),
            (self.samples_per_label is None or self.samples_per_label > 0, "--samples-per-label must be positive"),
            (self.focal_gamma >= 0, "--focal-gamma must be 0 or more"),
            (self.pooling in POOLINGS, f"unknown --pooling {self.pooling!r}; use cls or mean"),
            (self.pooling == "cls" or self.head == "finetune", "--pooling applies to --head finetune only"),
            (self.loss == "ce" or self.head == "finetune", "--loss applies to --head finetune only"),
            (not (self.multi_label and self.head == "setfit"), "--multi-label works with logreg, mlp and finetune"),
            (not (self.erase_field and self.head in MODEL_FILES_HEADS),
             "--erase-subspace works with the heads on frozen embeddings (logreg, mlp)"),
            (not (self.multi_label and self.loss != "ce"), "--multi-label trains with a sigmoid loss; drop --loss"),
        ]  # fmt: skip
        for ok, message in checks:
            if not ok:
                raise OptionError(message)

    def record(self) -> dict:
        """The options as JSON-ready data (for classifier.json)."""
        return asdict(self)

    @property
    def learning_rate(self) -> float:
        """--lr, else the default of the head (finetune 5e-5, setfit 2e-5)."""
        if self.lr is not None:
            return self.lr
        return 2e-5 if self.head == "setfit" else 5e-5
