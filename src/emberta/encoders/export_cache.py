"""Exports made on first use: `load_encoder(MODEL, backend="onnx"|"openvino")` keeps them under
EMBERTA_CACHE, found again by a key over the model files' content and every setting that goes into the graph,
so a changed model or option makes a new export and an unchanged one is never exported twice."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from emberta.encoders.export_folder import ONNX_EXPORT, OPENVINO_EXPORT
from emberta.encoders.model_folder import resolve_model_folder
from emberta.encoders.options import EncoderOptions

# options that go into an ONNX graph (the rest stay free at load time)
GRAPH_OPTIONS = ("pooling", "layer", "normalize", "max_length")
# bump when the int8 recipe of calibration.py changes, so old cached exports are not reused
OPENVINO_RECIPE = 1


def cached_onnx_export(spec: str, options: EncoderOptions, *, fp32: bool = False) -> Path:
    """The ONNX export of `spec` with the graph options of `options` (and its quantization, unless `fp32`),
    under EMBERTA_CACHE/onnx/; exported (with torch) the first time."""
    from emberta.cache import cache_dir

    folder = resolve_model_folder(spec)
    baked = {name: getattr(options, name) for name in GRAPH_OPTIONS}
    baked["quantize"] = None if fp32 else options.quantize
    path = cache_dir() / "onnx" / _key(ONNX_EXPORT.format, folder.identity(), baked)
    if not (path / ONNX_EXPORT.config_name).is_file():
        from emberta.encoders.onnx_export import export_onnx

        path.parent.mkdir(parents=True, exist_ok=True)
        quantize_with = baked.pop("quantize")
        export_onnx(spec, path, quantize=quantize_with, **baked)
    return path


def cached_openvino_export(spec: str, options: EncoderOptions) -> Path:
    """The OpenVINO export of `spec` (fp32, or int8 calibrated on options.calibration or the built-in
    sample), made from the cached fp32 ONNX export, under EMBERTA_CACHE/openvino/."""
    from emberta.cache import cache_dir
    from emberta.encoders.calibration import calibration_digest

    folder = resolve_model_folder(spec)
    baked = {name: getattr(options, name) for name in GRAPH_OPTIONS}
    baked["quantize"] = options.quantize
    if options.quantize is not None:
        baked["calibration"] = calibration_digest(options.calibration)
        baked["recipe"] = OPENVINO_RECIPE
    path = cache_dir() / "openvino" / _key(OPENVINO_EXPORT.format, folder.identity(), baked)
    if not (path / OPENVINO_EXPORT.config_name).is_file():
        from emberta.encoders.openvino_export import convert_onnx_export

        path.parent.mkdir(parents=True, exist_ok=True)
        source = cached_onnx_export(spec, options, fp32=True)
        convert_onnx_export(source, path, quantize=options.quantize, calibration=options.calibration)
    return path


def _key(*parts) -> str:
    return hashlib.sha256(json.dumps(list(parts), sort_keys=True).encode()).hexdigest()[:24]
