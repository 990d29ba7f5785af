"""Export a model to a self-contained ONNX folder: `model.onnx` with pooling, Dense layers and normalization
inside the graph, `tokenizer.json`, and `emberta-onnx.json`. Exporting needs torch; running the folder needs
only onnxruntime, tokenizers and numpy (see onnx_backend.py).
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path

from emberta.encoders.export_folder import ONNX_EXPORT, TOKENIZER_NAME, file_record
from emberta.encoders.model_folder import ModelFolder, resolve_model_folder
from emberta.encoders.options import EncoderOptions
from emberta.errors import ModelError, OptionError
from emberta.io.atomic import staged_dir
from emberta.version import __version__

CONFIG_NAME = ONNX_EXPORT.config_name
MODEL_NAME = "model.onnx"
FORMAT = ONNX_EXPORT.format
OPSET = 17
# sentence-transformers module types the export can put into the graph
EXPORTABLE_MODULES = ("Transformer", "Pooling", "Dense", "Normalize")
# options fixed in the graph or the config at export time; the rest stay free at load time
BAKED_OPTIONS = ("pooling", "layer", "normalize", "max_length", "prompt", "prompt_name")


def check_exportable(folder: ModelFolder) -> None:
    """Raise ModelError naming the first module of modules.json that cannot go into an ONNX graph."""
    modules_file = folder.path / "modules.json"
    if folder.kind != "sentence-transformers":
        return
    for module in json.loads(modules_file.read_text(encoding="utf-8")):
        kind = str(module.get("type", "")).rsplit(".", 1)[-1]
        if kind not in EXPORTABLE_MODULES:
            raise ModelError(
                f"{modules_file}: module {module.get('name', '?')!r} of type {module.get('type')!r} cannot be exported "
                f"to ONNX (exportable: {', '.join(EXPORTABLE_MODULES)}); use the torch backend for this model"
            )


def export_onnx(spec: str | Path, out: str | Path, *, quantize: str | None = None, **options) -> Path:
    """Export `spec` ("default" or a model folder) with `options` (pooling, layer, normalize, max_length,
    prompt, prompt_name) to the folder `out`, optionally int8-quantized. Returns `out`. The folder appears
    complete or not at all."""
    out = Path(out)
    if not out.parent.is_dir():
        raise OptionError(f"--out {out}: directory {out.parent} does not exist; create it first")
    folder = resolve_model_folder(spec)
    check_exportable(folder)
    parsed = EncoderOptions.from_kwargs(**{k: v for k, v in options.items() if v is not None})
    unsupported = [k for k in ("truncate_dim", "threads") if getattr(parsed, k) is not None]
    if parsed.long_text != "warn" or unsupported:
        raise OptionError("truncate_dim, long_text and threads are chosen when loading an export, not when exporting")
    from emberta.encoders.torch_backend import TorchEncoder

    encoder = TorchEncoder(folder, parsed)
    if any(getattr(m, "include_prompt", True) is False for m in encoder.sentence_transformer):
        raise ModelError(f"model {folder.spec!r} pools without its prompt tokens; the ONNX export cannot do that")
    with staged_dir(out, "exporting") as staging:
        inputs = _export_graph(encoder, staging / MODEL_NAME)
        if quantize is not None:
            _quantize(staging / MODEL_NAME, quantize)
        _write_tokenizer(encoder, staging / TOKENIZER_NAME)
        config = {
            "format": FORMAT,
            "emberta_version": __version__,
            "name": encoder.name,
            "source": str(folder.path),
            "source_fingerprint": encoder.fingerprint,
            "inputs": inputs,
            "dim": encoder.model_dim,
            "max_length": encoder.max_length,
            "position_limit": encoder.position_limit,
            "pooling": encoder.pooling,
            "layer": parsed.layer,
            "normalize": encoder.normalize,
            "prompts": encoder.prompts,
            "default_prompt_name": encoder.default_prompt_name,
            "default_prompt": encoder.resolve_prompt(None, None),
            "similarity_fn_name": encoder.similarity_fn_name,
            "mask_token": encoder.mask_token,
            "quantize": quantize,
            **_model_facts(encoder),
            "files": {name: file_record(staging / name) for name in (MODEL_NAME, TOKENIZER_NAME)},
        }
        (staging / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return out


def _export_graph(encoder, path: Path) -> list[str]:
    """Trace the configured sentence-transformers pipeline into ONNX; returns the graph's input names."""
    import torch

    model = encoder.sentence_transformer
    transformer = encoder.transformer
    _use_eager_attention(transformer.auto_model)
    tokenizer = encoder.tokenizer
    inputs = [name for name in ("input_ids", "attention_mask", "token_type_ids") if name in tokenizer.model_input_names]

    class Pipeline(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, *tensors):
            return self.model(dict(zip(inputs, tensors, strict=True)))["sentence_embedding"]

    examples = [encoder.apply_template(t) for t in ("an example sentence", "a second, longer example sentence")]
    sample = tokenizer(examples, padding=True, return_tensors="pt")
    axes = {name: {0: "batch", 1: "sequence"} for name in inputs} | {"sentence_embedding": {0: "batch"}}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about Python control flow in the modules
        torch.onnx.export(
            Pipeline().eval(),
            tuple(sample[name] for name in inputs),
            str(path),
            input_names=inputs,
            output_names=["sentence_embedding"],
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )
    return inputs


def _model_facts(encoder) -> dict:
    details = encoder.describe()
    facts = {key: details[key] for key in ("architecture", "model_type", "layers", "hidden_size", "parameters")}
    facts["pad_token_id"] = encoder.tokenizer.pad_token_id or 0
    return facts


def _use_eager_attention(auto_model) -> None:
    """Plain attention ops trace into ONNX everywhere; fused SDPA kernels do not always."""
    if hasattr(auto_model, "set_attn_implementation"):
        try:
            auto_model.set_attn_implementation("eager")
            return
        except (ValueError, NotImplementedError):
            pass
    auto_model.config._attn_implementation = "eager"


def _quantize(path: Path, method: str) -> None:
    """Dynamic int8: per-channel int8 weights for MatMul/Gemm, activations quantized at run time."""
    if method != "int8":
        raise OptionError(f"unknown quantization {method!r}; the export supports int8")
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantized = path.with_suffix(".int8.onnx")
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # onnxruntime advises pre-processing on the root logger; it does not apply here
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quantize_dynamic(path, quantized, per_channel=True, weight_type=QuantType.QInt8)
    finally:
        root.setLevel(level)
    os.replace(quantized, path)


def _write_tokenizer(encoder, path: Path) -> None:
    """The tokenizer as the model uses it (including sentence-transformers' lower-casing, if configured),
    without padding or truncation: the runtime sets those."""
    backend = encoder.tokenizer.backend_tokenizer
    state = json.loads(backend.to_str())
    state["padding"] = None
    state["truncation"] = None
    path.write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")
