"""Measures of an embedding matrix: float32 (n, dim) in, a dataclass out. No torch, no encoders."""

from emberta.geometry.alignment import AlignmentUniformity, alignment_uniformity
from emberta.geometry.bias import WeatResult, weat
from emberta.geometry.hubness import HubnessReport, hubness, k_occurrence
from emberta.geometry.intrinsic import IntrinsicDimension, intrinsic_dimension, mle_levina_bickel, twonn
from emberta.geometry.isotropy import IsotropyReport, isotropy
from emberta.geometry.language import LanguageSeparability, language_separability
from emberta.geometry.rogue import RogueDimensions, rogue_dimensions
from emberta.geometry.spectrum import Spectrum, spectrum

__all__ = [
    "AlignmentUniformity",
    "HubnessReport",
    "IntrinsicDimension",
    "IsotropyReport",
    "LanguageSeparability",
    "RogueDimensions",
    "Spectrum",
    "WeatResult",
    "alignment_uniformity",
    "hubness",
    "intrinsic_dimension",
    "isotropy",
    "k_occurrence",
    "language_separability",
    "mle_levina_bickel",
    "rogue_dimensions",
    "spectrum",
    "twonn",
    "weat",
]
