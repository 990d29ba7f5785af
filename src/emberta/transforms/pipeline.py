"""Post-processing configurations ("center+pca:128+int8", "whiten", "mp", ...) and saving fitted transforms
without pickle (JSON for parameters and scalars, .npy for arrays)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emberta.errors import InputError, OptionError
from emberta.io.jsontext import read_json_file
from emberta.similarity import score_matrix
from emberta.transforms import adapters, linear, quantize
from emberta.transforms.hubness import METHODS as HUBNESS_METHODS
from emberta.transforms.hubness import HubnessReduction

# config step name -> (class, name of the one integer argument or None)
STEPS = {
    "center": (linear.Center, None),
    "whiten": (linear.Whiten, "n_components"),
    "abtt": (linear.AllButTheTop, "n_components"),
    "clip": (linear.ClipRogueDims, None),
    "pca": (linear.PCA, "n_components"),
    "trunc": (linear.Truncate, "n_components"),
    "norm": (linear.Normalize, None),
    "int8": (quantize.Int8Quantizer, None),
    "binary": (quantize.BinaryQuantizer, None),
}
# class name -> class, of everything save_transforms writes
TRANSFORMS = {
    cls.__name__: cls
    for cls in (
        *(step for step, _ in STEPS.values()),
        linear.LanguageCenter,
        linear.RemoveLanguageDirections,
        linear.HardDebias,
        HubnessReduction,
        adapters.Procrustes,
        adapters.LowRankAffine,
        adapters.ResidualMLP,
    )
}
RESCORE_SHORTLIST = 100


@dataclass
class PostProcess:
    """One configuration: vector transforms in order, then at most one quantizer (with `rescore`: retrieval
    re-scores a shortlist of RESCORE_SHORTLIST documents with the float vectors), then at most one hubness
    reduction of query-corpus scores. Unfitted: `fit` returns a fitted copy for one task's data."""

    name: str
    transforms: list = field(default_factory=list)
    quantizer: object | None = None
    rescore: bool = False
    hubness: HubnessReduction | None = None

    def fit(self, vectors: np.ndarray) -> PostProcess:
        """A copy fitted on `vectors` (a task's corpus or training side, never test labels)."""
        from sklearn.base import clone

        fitted = PostProcess(self.name, [clone(t) for t in self.transforms], self.quantizer and clone(self.quantizer),
                             self.rescore, self.hubness and clone(self.hubness))  # fmt: skip
        x = np.asarray(vectors, dtype=np.float32)
        for transform in fitted.transforms:
            x = transform.fit(x).transform(x)
        if fitted.quantizer is not None:
            fitted.quantizer.fit(x)
            x = fitted.quantizer.quantize_dequantize(x)
        if fitted.hubness is not None:
            fitted.hubness.fit(x)
        return fitted

    def floats(self, vectors: np.ndarray) -> np.ndarray:
        """The transformed vectors before quantization."""
        x = np.asarray(vectors, dtype=np.float32)
        for transform in self.transforms:
            x = transform.transform(x)
        return x

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        """The vectors search and scoring see (dequantized codes when quantizing)."""
        x = self.floats(vectors)
        return self.quantizer.quantize_dequantize(x) if self.quantizer is not None else x

    def scores(self, queries: np.ndarray, corpus: np.ndarray, similarity_fn: str = "cosine") -> np.ndarray:
        """Query-corpus similarity matrix of raw vectors under this configuration."""
        q, d = self.apply(queries), self.apply(corpus)
        if self.hubness is not None:
            return self.hubness.scores(q, d)
        scores = score_matrix(q, d, similarity_fn)
        if self.quantizer is not None and self.rescore:
            fq, fd = self.floats(queries), self.floats(corpus)
            k = min(RESCORE_SHORTLIST, scores.shape[1])
            shortlist = np.argpartition(-scores, k - 1, axis=1)[:, :k]
            rows = np.arange(len(scores))[:, None]
            exact = (score_matrix(fq, fd, similarity_fn)[rows, shortlist]).astype(np.float64)
            rescored = scores.astype(np.float64) - (np.abs(scores).max() + np.abs(exact).max() + 1)
            rescored[rows, shortlist] = exact  # the shortlist, re-scored, ranks above everything else
            return rescored
        return scores

    def bytes_per_vector(self, dim: int) -> int:
        """Storage of one vector of a `dim`-wide model: float32 of the output width, 1 byte a dimension for
        int8, 1 bit for binary."""
        width = dim
        for transform in self.transforms:
            width = _output_width(transform, width)
        if isinstance(self.quantizer, quantize.Int8Quantizer):
            return width
        if isinstance(self.quantizer, quantize.BinaryQuantizer):
            return (width + 7) // 8
        return 4 * width


def _output_width(transform, width: int) -> int:
    """Width after `transform`: PCA, Truncate and Whiten(k) keep n_components dimensions; the rest keep all."""
    if isinstance(transform, (linear.PCA, linear.Truncate, linear.Whiten)) and transform.n_components:
        return min(transform.n_components, width)
    return width


def parse_config(text: str) -> PostProcess:
    """ "none", or steps joined by "+": center, whiten[:k], abtt[:D], clip, pca:k, trunc:k, norm, int8, binary,
    rescore (with a quantizer), and one of mp, mp_gauss, ls, nicdm, csls (hubness reduction, optionally :k)."""
    name = text.strip()
    post = PostProcess(name=name)
    if name in ("", "none"):
        post.name = "none"
        return post
    for step in name.split("+"):
        key, _, argument = step.strip().partition(":")
        if key == "rescore":
            post.rescore = True
        elif key in HUBNESS_METHODS:
            post.hubness = HubnessReduction(method=key, k=_int(argument, step) if argument else 10)
        elif key in STEPS:
            cls, parameter = STEPS[key]
            if argument and parameter is None:
                raise OptionError(f"transform {key!r} takes no argument (in {step!r})")
            if cls in (linear.PCA, linear.Truncate) and not argument:
                raise OptionError(f"transform {key!r} needs a dimension, e.g. {key}:128")
            estimator = cls(**({parameter: _int(argument, step)} if argument else {}))
            if cls in (quantize.Int8Quantizer, quantize.BinaryQuantizer):
                if post.quantizer is not None:
                    raise OptionError(f"{name!r} has two quantizers; keep one")
                post.quantizer = estimator
            elif post.quantizer is not None:
                raise OptionError(f"in {name!r}, {key!r} comes after the quantizer; quantize last")
            else:
                post.transforms.append(estimator)
        else:
            known = ", ".join([*STEPS, "rescore", *HUBNESS_METHODS])
            raise OptionError(f"unknown transform {key!r} in {name!r}; choose from {known}")
    if post.rescore and post.quantizer is None:
        raise OptionError(f"{name!r}: rescore needs a quantizer (int8 or binary) before it")
    return post


def parse_configs(text: str) -> list[PostProcess]:
    """Configurations separated by ";"."""
    configs = [parse_config(part) for part in text.split(";") if part.strip()]
    if not configs:
        raise OptionError('no transform configuration given, e.g. "none; center; pca:128"')
    return configs


def _int(argument: str, step: str) -> int:
    try:
        value = int(argument)
    except ValueError:
        raise OptionError(f"{step!r}: {argument!r} is not an integer") from None
    if value < 1:
        raise OptionError(f"{step!r}: the number must be at least 1")
    return value


def save_transforms(transforms: list, folder: str | Path) -> Path:
    """Write fitted estimators to `folder`: transforms.json (class, parameters, scalar state) and one .npy per
    array attribute. No pickle."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for index, transform in enumerate(transforms):
        name = type(transform).__name__
        if name not in TRANSFORMS:
            raise OptionError(f"cannot save {name}: not an emberta transform")
        state, arrays = {}, {}
        for key, value in vars(transform).items():
            if not key.endswith("_") or key.startswith("_"):
                continue
            if isinstance(value, np.ndarray):
                file = f"{index}_{key}.npy"
                np.save(folder / file, value, allow_pickle=False)
                arrays[key] = file
            elif isinstance(value, (bool, int, float, str, np.integer, np.floating)) or value is None:
                state[key] = value.item() if isinstance(value, (np.integer, np.floating)) else value
            else:
                raise OptionError(f"cannot save {name}.{key} of type {type(value).__name__}")
        entries.append({"class": name, "params": _plain(transform.get_params()), "state": state, "arrays": arrays})
    (folder / "transforms.json").write_text(json.dumps({"format": "emberta.transforms/1", "steps": entries}, indent=2))
    return folder


def load_transforms(folder: str | Path) -> list:
    """The fitted estimators saved by save_transforms, in order; a transforms.json that is not JSON, or not of
    this layout, or names arrays that cannot be read, is an InputError naming it."""
    folder = Path(folder)
    file = folder / "transforms.json"
    spec = read_json_file(file)
    steps = spec.get("steps") if isinstance(spec, dict) else None
    if not isinstance(steps, list):
        raise InputError('expected {"format": "emberta.transforms/1", "steps": [...]}; save it again', path=file)
    return [_load_step(folder, file, number, entry) for number, entry in enumerate(steps, start=1)]


def _load_step(folder: Path, file: Path, number: int, entry: object):
    """Step `number` of transforms.json: {"class", "params", "state", "arrays"} -> the fitted estimator."""
    parts = entry if isinstance(entry, dict) else {}
    cls = TRANSFORMS.get(parts.get("class")) if isinstance(parts.get("class"), str) else None
    mappings = [parts.get(key) for key in ("params", "state", "arrays")]
    if cls is None or not all(isinstance(m, dict) and all(isinstance(k, str) for k in m) for m in mappings):
        known = ", ".join(sorted(TRANSFORMS))
        raise InputError(
            f'step {number} is not {{"class": one of {known}, "params": {{}}, "state": {{}}, "arrays": {{}}}}; '
            "save the pipeline again with emberta.transforms.save_transforms",
            path=file,
        )
    params, state, arrays = mappings
    for key in [*state, *arrays]:
        if not key.endswith("_") or key.startswith("_"):
            raise InputError(f"step {number}: {key!r} is not a fitted attribute (name_)", path=file)
    try:
        transform = cls(**params)
    except (TypeError, ValueError) as exc:
        raise InputError(f"step {number}: bad parameters for {cls.__name__} ({exc})", path=file) from None
    for key, value in state.items():
        setattr(transform, key, value)
    for key, name in arrays.items():
        array_file = folder / str(name)
        if not isinstance(name, str) or Path(name).name != name or not array_file.is_file():
            raise InputError(f"step {number}: array {key!r} names {name!r}, not a file in {folder}", path=file)
        try:
            setattr(transform, key, np.load(array_file, allow_pickle=False))
        except Exception as exc:  # numpy's header parser raises ValueError, SyntaxError, tokenize.TokenError, ...
            message = " ".join(str(exc).split())
            raise InputError(f"step {number}: array {key!r} cannot be read ({message})", path=array_file) from None
    return transform


def _plain(params: dict) -> dict:
    for key, value in params.items():
        if not (isinstance(value, (bool, int, float, str)) or value is None):
            raise OptionError(f"cannot save parameter {key} of type {type(value).__name__}")
    return params
