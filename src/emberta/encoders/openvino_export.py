"""Export a model to an OpenVINO folder: the graph emberta exports to ONNX (pooling, Dense layers and
normalization inside) read by OpenVINO and saved as IR (`model.xml`, `model.bin`, fp32 weights), optionally
int8-quantized with NNCF (calibration.py), beside `tokenizer.json` and `emberta-openvino.json`. Exporting a
model folder needs torch (for the ONNX step); converting an existing ONNX export does not, and running the
folder needs only openvino, tokenizers and numpy (openvino_backend.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from emberta.encoders.export_folder import OPENVINO_EXPORT, TOKENIZER_NAME, file_record
from emberta.encoders.options import QUANTIZATIONS, EncoderOptions
from emberta.errors import OptionError
from emberta.io.atomic import staged_dir
from emberta.version import __version__


def export_openvino(
    spec: str | Path, out: str | Path, *, quantize: str | None = None, calibration: str | Path | None = None, **options
) -> Path:
    """Export `spec` ("default", a model folder, or "onnx:DIR" — an fp32 ONNX export, converted without torch)
    to the OpenVINO folder `out`, with `options` (pooling, layer, normalize, max_length) baked into the graph;
    quantize="int8" calibrates on `calibration` (a text file) or the built-in sample. Returns `out`; the folder
    appears complete or not at all."""
    from emberta.encoders import split_spec

    _check_out(Path(out))
    _check_quantize(quantize, calibration)
    kind, path = split_spec(spec)
    if kind == "onnx":
        if any(value is not None for value in options.values()):
            raise OptionError("an ONNX export has its options in its graph already; give the model folder instead")
        source = Path(path)
    elif kind is not None:
        raise OptionError(f"model {str(spec)!r}: export openvino converts a model folder or an onnx:DIR export")
    else:
        from emberta.encoders.export_cache import cached_onnx_export

        parsed = EncoderOptions.from_kwargs(**{k: v for k, v in options.items() if v is not None})
        source = cached_onnx_export(path, parsed, fp32=True)
    return convert_onnx_export(source, out, quantize=quantize, calibration=calibration)


def convert_onnx_export(
    source: str | Path, out: str | Path, *, quantize: str | None = None, calibration: str | Path | None = None
) -> Path:
    """Convert the fp32 ONNX export folder `source` into the OpenVINO folder `out` (int8 when `quantize`)."""
    import openvino as ov

    from emberta.encoders.onnx_backend import OnnxEncoder, resolve_onnx_folder

    out = Path(out)
    _check_out(out)
    _check_quantize(quantize, calibration)
    folder, onnx_config = resolve_onnx_folder(source)
    if onnx_config.get("quantize"):
        raise OptionError(f"{folder.path} is an int8 ONNX export; convert an fp32 export (OpenVINO quantizes it)")
    model = ov.Core().read_model(str(folder.path / "model.onnx"))
    calibrated = None
    if quantize is not None:
        from emberta.encoders.calibration import calibration_texts, quantize_int8, texts_digest

        texts = calibration_texts(calibration)
        reader = OnnxEncoder(folder, EncoderOptions(threads=1), onnx_config)  # its tokenizer and input names
        model = quantize_int8(model, reader, texts)
        calibrated = {
            "source": "built-in sample" if calibration is None else str(calibration),
            "texts": len(texts),
            "sha256": texts_digest(texts),
        }
    _stable_names(model)
    with staged_dir(out, "exporting") as staging:
        ov.save_model(model, str(staging / "model.xml"), compress_to_fp16=False)
        shutil.copyfile(folder.path / TOKENIZER_NAME, staging / TOKENIZER_NAME)
        names = (*OPENVINO_EXPORT.model_files, TOKENIZER_NAME)
        config = {
            **{key: value for key, value in onnx_config.items() if key != "files"},
            "format": OPENVINO_EXPORT.format,
            "emberta_version": __version__,
            "openvino_version": ov.__version__,
            "quantize": quantize,
            "calibration": calibrated,
            "files": {name: file_record(staging / name) for name in names},
        }
        (staging / OPENVINO_EXPORT.config_name).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return out


def _stable_names(model) -> None:
    """Rename the nodes OpenVINO named from a per-process counter ("Constant_1773") by their place in the graph
    instead, so that converting the same export twice writes the same files: the encoder's fingerprint hashes
    them, and an index built with one conversion must accept the next."""
    import re

    for position, node in enumerate(model.get_ordered_ops()):
        kind = node.get_type_name()
        if re.fullmatch(rf"{re.escape(kind)}(_\d+)+", node.get_friendly_name()):
            node.set_friendly_name(f"{kind}_{position}")


def _check_out(out: Path) -> None:
    if not out.parent.is_dir():
        raise OptionError(f"--out {out}: directory {out.parent} does not exist; create it first")


def _check_quantize(quantize: str | None, calibration) -> None:
    if quantize is not None and quantize not in QUANTIZATIONS:
        raise OptionError(f"unknown quantization {quantize!r}; choose one of {', '.join(QUANTIZATIONS)}")
    if calibration is not None and quantize is None:
        raise OptionError("--calibration calibrates int8 quantization: add --quantize int8")
