"""Model variants in a spec: `MODEL@VARIANT` names a backend (and quantization) with the model, so one string
says "this model on that runtime" wherever a model is given (`--model default@onnx-int8`, `load_encoder(...)`,
several `emberta eval --model` options side by side).

Grammar (the part after the last "@"; a spec without "@", or whose tail is an existing path, has no variant):

    spec     := model [ "@" variant ]
    model    := "default" | PATH | "onnx:" DIR | "openvino:" DIR | "static:" DIR
    variant  := "torch" | "onnx" | "onnx-int8" | "openvino" | "openvino-int8"

`default@onnx-int8` is `load_encoder("default", backend="onnx", quantize="int8")`: exported on first use, the
export cached under EMBERTA_CACHE. A variant and a --backend / --quantize option that disagree are an error.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from emberta.errors import OptionError

# variant -> (backend, quantize)
VARIANTS: dict[str, tuple[str, str | None]] = {
    "torch": ("torch", None),
    "onnx": ("onnx", None),
    "onnx-int8": ("onnx", "int8"),
    "openvino": ("openvino", None),
    "openvino-int8": ("openvino", "int8"),
}
SEPARATOR = "@"


def split_variant(spec: str | Path) -> tuple[str, str | None]:
    """(model, variant) of `spec`; variant is None when the spec names none. An unknown variant after "@"
    raises OptionError, unless the whole spec is an existing path (a folder may have "@" in its name)."""
    text = str(spec)
    model, sep, tail = text.rpartition(SEPARATOR)
    if not sep or not model:
        return text, None
    if tail in VARIANTS:
        return model, tail
    if Path(text).expanduser().exists() or "/" in tail:
        return text, None
    raise OptionError(
        f"model {text!r}: unknown variant {tail!r} after '@'; choose one of {', '.join(VARIANTS)} "
        "(e.g. default@onnx-int8)"
    )


def apply_variant(spec: str | Path, options):
    """(model spec, EncoderOptions) with the variant of `spec` moved into the options' backend and quantize.
    A variant that contradicts a backend or quantize option already set (other than the default torch backend)
    raises OptionError."""
    model, variant = split_variant(spec)
    if variant is None:
        return spec, options
    backend, quantize = VARIANTS[variant]
    if options.backend not in ("torch", backend):
        raise OptionError(
            f"model {str(spec)!r} names the {backend} backend but the backend option says {options.backend!r}: "
            "drop one of them"
        )
    if options.quantize is not None and options.quantize != quantize:
        raise OptionError(
            f"model {str(spec)!r} names {quantize or 'no quantization'} but the quantize option says "
            f"{options.quantize!r}: drop one of them"
        )
    merged = replace(options, backend=backend, quantize=quantize)
    merged.validate()
    return model, merged


def short_label(spec: str | Path) -> str:
    """A short name for a spec in tables: folder paths cut to their last part, kind prefix and variant kept
    ("static:/models/minilm-static" -> "static:minilm-static", "default@onnx-int8" unchanged)."""
    model, variant = split_variant(spec)
    kind, sep, path = model.partition(":")
    if kind not in ("onnx", "openvino", "static") or not sep:
        kind, sep, path = "", "", model
    name = Path(path).name or path
    return kind + sep + name + (SEPARATOR + variant if variant else "")
