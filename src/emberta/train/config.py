"""TrainConfig: everything a `train embed` run depends on. Written into the output folder (and the checkpoint
folder) as `emberta-train.json`; `--config FILE` (JSON or YAML) reads one back and reproduces the run."""

from __future__ import annotations

import types
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from emberta.errors import InputError, OptionError
from emberta.io.jsontext import parse_json
from emberta.train.mining import MiningCriteria, MiningOptions
from emberta.train.names import HARDNESS_MODES, LAYER_MODES, LOSSES

CONFIG_FILE = "emberta-train.json"


@dataclass
class TrainConfig(MiningCriteria):
    """Model and data, loss and its options, schedule, evaluation and checkpoints of one training run; the
    hard-negative mining fields (range_min, range_max, margin, relative_margin) come from MiningCriteria, and
    to_dict() is flat, one key per field."""

    model: str = "default"
    data: list[str] = field(default_factory=list)  # JSONL / .txt files or BEIR folders
    loss: str = "mnrl"
    out: str = ""
    # loss options
    matryoshka_dims: list[int] = field(default_factory=list)
    layers: str = ""  # "", "2d" (2D Matryoshka) or "starbucks"
    starbucks_pairs: list[list[int]] = field(default_factory=list)  # [[layers, dims], ...]; empty: the default ladder
    teacher: str = ""  # mse-distill teacher, gist guide (default: a frozen copy of the starting model)
    student_layers: int = 0  # keep this many of the model's layers before training (0: all)
    scale: float = 20.0  # 1 / temperature of the in-batch losses
    hardness_strength: float = 0.0  # hardness-weighted InfoNCE (0: off)
    hardness_mode: str = "in_batch_negatives"
    mini_batch_size: int = 32  # cached-mnrl
    # data
    beir_split: str = "train"
    hard_negatives: int = 0
    negatives_from: str = ""  # corpus to mine from (default: the BEIR folder's corpus); filters: MiningCriteria
    max_length: int | None = None
    # schedule
    epochs: float = 1.0
    batch_size: int = 16
    lr: float = 2e-5
    warmup: float = 0.1  # fraction of the steps
    max_steps: int = -1
    seed: int = 0
    logging_steps: int = 10
    # evaluation and checkpoints
    eval_tasks: list[str] = field(default_factory=list)
    eval_steps: int = 0  # 0: five evaluations over the run
    data_dir: str | None = None
    save_steps: int = 500  # without evaluation; with it, a checkpoint at each evaluation
    checkpoint_dir: str = ""  # default: <out>.checkpoints
    keep_checkpoints: bool = False

    @classmethod
    def for_run(cls, *, resume: str | Path | None = None, config: str | Path | None = None,
                **options) -> TrainConfig:  # fmt: skip
        """The config of one `train embed` run. resume: a stopped run's checkpoints folder; its config
        (emberta-train.json) with checkpoint_dir pointed at the folder, other options ignored. config: a config
        file (JSON or YAML), its out replaced by options["out"] when given. Neither: from_options(**options)."""
        if resume is not None:
            settings = cls.from_file(Path(resume) / CONFIG_FILE)
            settings.checkpoint_dir = str(resume)
            return settings
        if config is not None:
            settings = cls.from_file(config)
            if options.get("out") is not None:
                settings.out = str(options["out"])
            return settings
        return cls.from_options(**options)

    @classmethod
    def from_options(cls, *, starbucks: bool = False, **options) -> TrainConfig:
        """A TrainConfig from command-line values given by field name: None keeps the field's default, paths
        become strings, and text lists are parsed: matryoshka_dims "384,256", eval_tasks "STS12,STS13",
        starbucks_pairs "2:64,4:128" (LAYERS:DIMS). starbucks=True means layers="starbucks"."""
        hints = typing.get_type_hints(cls)
        values = {}
        for name, value in options.items():
            if value is None and name in hints and not _fits(None, hints[name]):  # None: the default
                continue
            if isinstance(value, (list, tuple)):
                value = [str(v) if isinstance(v, Path) else v for v in value]
            values[name] = str(value) if isinstance(value, Path) else value
        if isinstance(values.get("matryoshka_dims"), str):
            values["matryoshka_dims"] = _numbers("--matryoshka", values["matryoshka_dims"])
        if isinstance(values.get("starbucks_pairs"), str):
            values["starbucks_pairs"] = _pairs(values["starbucks_pairs"])
        if isinstance(values.get("eval_tasks"), str):
            values["eval_tasks"] = [task for task in values["eval_tasks"].split(",") if task]
        if starbucks:
            values["layers"] = "starbucks"
        return cls(**values)

    @classmethod
    def from_file(cls, path: str | Path) -> TrainConfig:
        """Read a config written by an earlier run (its "config" part) or by hand, in JSON or YAML."""
        import yaml

        path = Path(path)
        if not path.is_file():
            raise InputError("no such config file; give an emberta-train.json or a YAML file", path=path)
        try:
            text = path.read_text(encoding="utf-8")
            is_yaml = path.suffix.lower() in (".yaml", ".yml")
            values = yaml.safe_load(text) if is_yaml else parse_json(text, path=path)
        except (OSError, UnicodeDecodeError, ValueError, RecursionError, yaml.YAMLError) as exc:
            raise InputError(f"not a readable JSON or YAML config ({_reason(exc)})", path=path) from None
        values = values.get("config", values) if isinstance(values, dict) else values
        known = {f.name for f in fields(cls)}
        if not isinstance(values, dict):
            raise InputError("expected a mapping of config fields", path=path)
        if set(values) - known:  # (YAML keys may be numbers or dates: sorted as text)
            unknown = sorted(map(str, set(values) - known))
            raise InputError(f"unknown config fields {unknown}; known: {', '.join(sorted(known))}", path=path)
        hints = typing.get_type_hints(cls)
        for item in fields(cls):
            if item.name in values and not _fits(values[item.name], hints[item.name]):
                given, expected = values[item.name], _type_name(hints[item.name])
                raise InputError(f"config field {item.name!r} is {given!r}; expected {expected}", path=path)
        return cls(**values)

    @property
    def checkpoints(self) -> Path:
        return Path(self.checkpoint_dir or f"{self.out}.checkpoints")

    def to_dict(self) -> dict:
        return asdict(self)

    def mining_options(self) -> MiningOptions:
        """The MiningOptions of --hard-negatives: hard_negatives per pair under this config's MiningCriteria."""
        criteria = {item.name: getattr(self, item.name) for item in fields(MiningCriteria)}
        return MiningOptions(num_negatives=self.hard_negatives, **criteria)

    def check(self) -> None:
        """OptionError naming the first option that cannot work (before any model is loaded)."""
        if self.loss not in LOSSES:
            raise OptionError(f"unknown --loss {self.loss!r}; choose one of {', '.join(LOSSES)}")
        if not self.data:
            raise OptionError("no training data: give --data FILE (JSONL pairs, triplets, scored pairs, texts) or a "
                              "BEIR folder")  # fmt: skip
        if not self.out:
            raise OptionError("no output folder: give --out DIR")
        if Path(self.out).exists():
            raise OptionError(f"--out {self.out} already exists; choose a new folder")
        if not Path(self.out).parent.is_dir():
            raise OptionError(f"--out {self.out}: folder {Path(self.out).parent} does not exist; create it first")
        if any(d < 1 for d in self.matryoshka_dims):
            raise OptionError(f"--matryoshka dimensions must be positive, got {self.matryoshka_dims}")
        if self.layers not in LAYER_MODES:
            raise OptionError(f"unknown --layers {self.layers!r}; choose 2d or starbucks")
        if self.layers == "2d" and not self.matryoshka_dims:
            raise OptionError("--layers 2d needs --matryoshka DIMS (the dimensions to train at every depth)")
        if self.layers == "starbucks" and self.matryoshka_dims:
            raise OptionError("--starbucks trains fixed (layers, dims) pairs; give --starbucks-pairs, not --matryoshka")
        if any(len(p) != 2 or min(p) < 1 for p in self.starbucks_pairs):
            raise OptionError("--starbucks-pairs: give LAYERS:DIMS pairs of positive numbers, e.g. 2:64,4:128,6:384")
        if self.loss == "mse-distill" and not self.teacher:
            raise OptionError("--loss mse-distill needs --teacher MODEL (the model whose embeddings are the targets)")
        if self.loss == "mse-distill" and (self.matryoshka_dims or self.layers):
            raise OptionError("--loss mse-distill matches the teacher's full vectors; drop --matryoshka / --layers")
        if self.loss == "cached-mnrl" and self.layers:
            raise OptionError("--loss cached-mnrl cannot be combined with --layers (its gradient cache runs one "
                              "depth); use mnrl")  # fmt: skip
        if self.hardness_strength < 0 or self.hardness_mode not in HARDNESS_MODES:
            modes = ", ".join(HARDNESS_MODES)
            raise OptionError(f"--hardness-strength must be >= 0 and --hardness-mode one of {modes}")
        if self.hardness_strength and self.loss not in ("mnrl", "cached-mnrl"):
            raise OptionError("--hardness-strength weights the negatives of mnrl / cached-mnrl only")
        if self.hard_negatives < 0:
            raise OptionError("--hard-negatives must be >= 0")
        if self.hard_negatives and self.loss not in ("mnrl", "cached-mnrl", "gist", "triplet"):
            raise OptionError(f"--hard-negatives feeds contrastive losses (mnrl, cached-mnrl, gist, triplet), not "
                              f"{self.loss}")  # fmt: skip
        if self.hard_negatives:
            self.mining_options().check()  # before any model is loaded
        if self.student_layers < 0:
            raise OptionError("--student-layers must be >= 0")
        for name in ("batch_size", "logging_steps", "mini_batch_size", "save_steps"):
            if getattr(self, name) < 1:
                raise OptionError(f"{name} must be at least 1")
        if self.epochs <= 0 or self.lr <= 0 or self.scale <= 0 or not 0 <= self.warmup < 1:
            raise OptionError("epochs, lr and scale must be positive and warmup a fraction in [0, 1)")


def _reason(exc: BaseException) -> str:
    """One line saying why a config file did not parse (YAML's own messages span several lines)."""
    mark = getattr(exc, "problem_mark", None)
    reason = getattr(exc, "problem", None) or str(exc)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return " ".join(f"{reason}{where}".split())


def _fits(value, annotation) -> bool:
    """Whether a config value matches its field's type (int, float | None, list[str], ...; an int fits float)."""
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    for option in typing.get_args(annotation) if union else (annotation,):
        if typing.get_origin(option) is list:
            if isinstance(value, list) and all(_fits(item, typing.get_args(option)[0]) for item in value):
                return True
        elif option is type(None):
            if value is None:
                return True
        elif isinstance(value, bool):
            if option is bool:
                return True
        elif isinstance(value, (int, float) if option is float else option):
            return True
    return False


def _type_name(annotation) -> str:
    return annotation.__name__ if isinstance(annotation, type) else str(annotation)


def _numbers(option: str, text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",")] if text else []
    except ValueError:
        raise OptionError(f"{option} {text!r}: give numbers separated by commas, e.g. 384,256,128,64") from None


def _pairs(text: str) -> list[list[int]]:
    if not text:
        return []
    try:
        return [[int(x) for x in part.split(":")] for part in text.split(",")]
    except ValueError:
        raise OptionError(f"--starbucks-pairs {text!r}: give LAYERS:DIMS pairs, e.g. 2:64,4:128,6:384") from None
