"""Post-hoc transforms of embeddings as scikit-learn estimators, quantizers, hubness-aware re-scoring, and
sweep configurations. Arrays in, arrays out; no torch, no encoders."""

from emberta.transforms.adapters import LowRankAffine, Procrustes, ResidualMLP
from emberta.transforms.hubness import HubnessReduction
from emberta.transforms.linear import (
    PCA,
    AllButTheTop,
    Center,
    ClipRogueDims,
    HardDebias,
    LanguageCenter,
    Normalize,
    RemoveLanguageDirections,
    Truncate,
    Whiten,
)
from emberta.transforms.pipeline import PostProcess, load_transforms, parse_config, parse_configs, save_transforms
from emberta.transforms.quantize import BinaryQuantizer, Int8Quantizer

__all__ = [
    "PCA",
    "AllButTheTop",
    "BinaryQuantizer",
    "Center",
    "ClipRogueDims",
    "HardDebias",
    "HubnessReduction",
    "Int8Quantizer",
    "LanguageCenter",
    "LowRankAffine",
    "Normalize",
    "PostProcess",
    "Procrustes",
    "RemoveLanguageDirections",
    "ResidualMLP",
    "Truncate",
    "Whiten",
    "load_transforms",
    "parse_config",
    "parse_configs",
    "save_transforms",
]
