"""Int8 post-training quantization of an OpenVINO graph with NNCF, calibrated on real sentences.

NNCF runs the fp32 graph on the calibration texts, records the range of every activation that feeds a MatMul,
migrates activation outliers into the weights (SmoothQuant) and inserts int8 quantize/dequantize pairs that
OpenVINO's CPU plugin fuses into int8 kernels. The recipe follows NNCF's transformer preset, with one
exception found by measurement (docs/fast-inference.md): the inputs of the two MatMuls that write back into the
residual stream of each layer (the attention output projection and the second feed-forward MatMul) carry
activation outliers that one int8 scale per tensor cannot hold (short sentences came out at cosine 0.70 to
fp32), so those MatMuls stay fp32; the query, key, value and first feed-forward projections and the attention
products run in int8.

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
# the attention output and second feed-forward MatMuls of each layer, by module name: BERT, RoBERTa, XLM-R
# (attention.output.dense, output.dense), MPNet (attention.attn.o, output.dense), DistilBERT (out_lin, ffn.lin2)
FP32_MATMULS = (
    r".*layer\.\d+/output/dense/MatMul.*",
    r".*attention/output/dense/MatMul.*",
    r".*attention/attn/o/MatMul.*",
    r".*attention/out_lin/MatMul.*",
    r".*ffn/lin2/MatMul.*",
)


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
    """sha256 of the calibration texts of `path` (None: the built-in sample), so that a changed file makes a new
    int8 export."""
    return texts_digest(calibration_texts(path))


def texts_digest(texts: list[str]) -> str:
    """sha256 of calibration texts already read."""
    return hashlib.sha256("\n".join(texts).encode()).hexdigest()


def quantize_int8(model, encoder, texts: list[str]):
    """An int8 copy of the OpenVINO model `model` (openvino.Model of `encoder`'s graph), calibrated on `texts`
    tokenized by `encoder` (an ExportedEncoder of the same export), one text per calibration step."""
    import contextlib
    import logging
    import sys

    import nncf

    nncf.set_log_level(logging.ERROR)
    dataset = nncf.Dataset(encoder.tokenize(texts), lambda e: encoder.batch_feeds([e], len(e.ids)))
    with contextlib.redirect_stdout(sys.stderr):  # NNCF's progress bars: stdout may carry a command's output
        return nncf.quantize(
            model,
            dataset,
            model_type=nncf.ModelType.TRANSFORMER,
            preset=nncf.QuantizationPreset.MIXED,
            subset_size=len(texts),
            ignored_scope=nncf.IgnoredScope(patterns=list(FP32_MATMULS), validate=False),
        )
