"""Int8 post-training quantization of an OpenVINO graph with NNCF, calibrated on real sentences.

NNCF runs the fp32 graph on the calibration texts, records the range of every activation that feeds a MatMul,
migrates activation outliers into the weights (SmoothQuant) and inserts int8 quantize/dequantize pairs that
OpenVINO's CPU plugin fuses into int8 kernels. The recipe follows NNCF's transformer preset, with one
exception found by measurement (docs/fast-inference.md): the input of each layer's second feed-forward MatMul
carries activation outliers that one int8 scale per tensor cannot hold, so those MatMuls stay fp32.

The built-in sample (calibration.txt, written for emberta) mixes short queries, chat, reviews, code questions,
ten languages and paragraphs up to ~250 words, so that both short sentences and 256-token documents are
calibrated; `calibration=FILE` replaces it with the user's own texts.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from emberta.errors import InputError

BUILTIN_CALIBRATION = Path(__file__).with_name("calibration.txt")
MAX_CALIBRATION_TEXTS = 1000  # a fixed sample: the first texts of the file, in file order
# the second feed-forward MatMul of each layer (BERT, RoBERTa, XLM-R, MPNet names; DistilBERT's ffn.lin2)
FP32_MATMULS = (r".*layer\.\d+/output/dense/MatMul.*", r".*ffn/lin2/MatMul.*")


def calibration_texts(path: str | Path | None = None) -> list[str]:
    """The calibration texts: the built-in sample, or up to MAX_CALIBRATION_TEXTS distinct non-empty texts of
    `path` (any input file emberta reads, "text" field). Raises InputError for a file with no text."""
    from emberta.io.readers import read_texts

    source = BUILTIN_CALIBRATION if path is None else Path(path)
    seen: dict[str, None] = {}
    for text in read_texts(source):
        if text.strip():
            seen.setdefault(text)
        if len(seen) == MAX_CALIBRATION_TEXTS:
            break
    if not seen:
        raise InputError(f"{source}: no text to calibrate on; give a file with real texts, one per line")
    return list(seen)


def calibration_digest(path: str | Path | None = None) -> str:
    """sha256 of the calibration texts, so that a changed file makes a new int8 export."""
    return hashlib.sha256("\n".join(calibration_texts(path)).encode()).hexdigest()


def quantize_int8(model, encoder, texts: list[str]):
    """An int8 copy of the OpenVINO model `model` (openvino.Model of `encoder`'s graph), calibrated on `texts`
    tokenized by `encoder` (an ExportedEncoder of the same export), one text per calibration step."""
    import logging

    import nncf

    nncf.set_log_level(logging.ERROR)
    dataset = nncf.Dataset(encoder.tokenize(texts), lambda e: encoder.batch_feeds([e], len(e.ids)))
    return nncf.quantize(
        model,
        dataset,
        model_type=nncf.ModelType.TRANSFORMER,
        preset=nncf.QuantizationPreset.MIXED,
        subset_size=len(texts),
        ignored_scope=nncf.IgnoredScope(patterns=list(FP32_MATMULS), validate=False),
    )
