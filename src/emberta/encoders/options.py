"""Encoder options: names, defaults and validation, shared by every backend."""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, fields

from emberta.errors import OptionError

POOLING_MODES = ("cls", "mean", "max", "weightedmean", "lasttoken")
PROMPT_POOLING_PREFIX = "prompt:"
MASK_PLACEHOLDERS = ("[MASK]", "<mask>", "{mask}")
LONG_TEXT_MODES = ("warn", "chunk")
BACKENDS = ("torch", "onnx", "openvino", "static")
QUANTIZING_BACKENDS = ("onnx", "openvino")
QUANTIZATIONS = ("int8",)


@dataclass(frozen=True)
class EncoderOptions:
    """Options of `load_encoder`. `None` means "the model's own setting".

    pooling: cls | mean | max | weightedmean | lasttoken | prompt:<template> (PromptBERT: the template holds
        "{text}" and one mask placeholder, [MASK], <mask> or {mask}, replaced by the model's own mask token;
        the vector is the hidden state at that token).
    layer: take token states from hidden layer L (0 = embeddings, negative counts from the last) before pooling.
    truncate_dim: keep the first d dimensions (then renormalize when normalizing).
    normalize: L2-normalize vectors (default: as the model folder says; plain HF folders do not).
    max_length: tokens per input, special tokens included.
    prompt / prompt_name: default prefix, literal or named in the model's prompts, for every encode call (one, not
        both: giving both is an OptionError).
    long_text: "warn" (truncate and warn with a count) or "chunk" (windows of max_length tokens with
        `chunk_overlap` tokens of overlap, window vectors mean-pooled).
    threads: CPU threads of torch or ONNX Runtime (speed only; never changes vectors).
    backend: "torch" (sentence-transformers), "onnx" (ONNX Runtime) or "openvino" (OpenVINO; both export the
        model on first use and cache the export under EMBERTA_CACHE) or "static" (a model2vec static model; spec
        "static:DIR").
    quantize: "int8": with backend "onnx", dynamic int8 quantization with per-channel weights; with "openvino",
        static int8 (NNCF post-training quantization calibrated on real sentences).
    calibration: a text file (one text per line, or any file emberta reads with a "text" field) whose texts
        calibrate OpenVINO int8 quantization instead of the built-in sample.
    """

    pooling: str | None = None
    layer: int | None = None
    truncate_dim: int | None = None
    normalize: bool | None = None
    max_length: int | None = None
    prompt: str | None = None
    prompt_name: str | None = None
    long_text: str = "warn"
    chunk_overlap: int = 32
    threads: int | None = None
    backend: str = "torch"
    quantize: str | None = None
    calibration: str | None = None

    @classmethod
    def from_kwargs(cls, **kwargs) -> EncoderOptions:
        """Build and validate options; unknown names raise OptionError with close matches."""
        known = [f.name for f in fields(cls)]
        for key in kwargs:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise OptionError(f"unknown encoder option {key!r}{hint} (options: {', '.join(known)})")
        options = cls(**kwargs)
        options.validate()
        return options

    @property
    def prompt_template(self) -> str | None:
        """The PromptBERT template when pooling is prompt:<template>, else None."""
        if self.pooling and self.pooling.startswith(PROMPT_POOLING_PREFIX):
            return self.pooling[len(PROMPT_POOLING_PREFIX) :]
        return None

    def validate(self) -> None:
        """Raise OptionError for a value that no model accepts (model-dependent limits are checked on load)."""
        if self.pooling is not None:
            template = self.prompt_template
            if template is not None:
                validate_template(template)
            elif self.pooling not in POOLING_MODES:
                close = difflib.get_close_matches(self.pooling, POOLING_MODES, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise OptionError(
                    f"unknown pooling {self.pooling!r}{hint}; choose one of {', '.join(POOLING_MODES)} "
                    f"or {PROMPT_POOLING_PREFIX}<template>"
                )
        _check_int("layer", self.layer, minimum=None)
        _check_int("truncate_dim", self.truncate_dim, minimum=1)
        _check_int("max_length", self.max_length, minimum=2)
        _check_int("chunk_overlap", self.chunk_overlap, minimum=0)
        _check_int("threads", self.threads, minimum=1)
        if self.normalize is not None and not isinstance(self.normalize, bool):
            raise OptionError(f"normalize must be true or false, got {self.normalize!r}")
        if self.long_text not in LONG_TEXT_MODES:
            raise OptionError(f"unknown long_text mode {self.long_text!r}; choose one of {', '.join(LONG_TEXT_MODES)}")
        if self.backend not in BACKENDS:
            raise OptionError(f"unknown backend {self.backend!r}; choose one of {', '.join(BACKENDS)}")
        if self.quantize is not None and self.quantize not in QUANTIZATIONS:
            raise OptionError(f"unknown quantization {self.quantize!r}; choose one of {', '.join(QUANTIZATIONS)}")
        if self.quantize is not None and self.backend not in QUANTIZING_BACKENDS:
            raise OptionError(
                "quantize='int8' needs the ONNX or OpenVINO backend (backend='onnx' or 'openvino', CLI: --backend)"
            )
        if self.calibration is not None and (self.quantize is None or self.backend != "openvino"):
            raise OptionError(
                "calibration calibrates OpenVINO int8 quantization: use it with backend='openvino' and quantize='int8'"
            )
        if self.prompt is not None and self.prompt_name is not None:
            raise OptionError("give either prompt (a literal prefix) or prompt_name (a named prompt), not both")

    def as_dict(self) -> dict:
        return asdict(self)


def validate_template(template: str) -> None:
    """A PromptBERT template needs "{text}" once and exactly one mask placeholder."""
    if template.count("{text}") != 1:
        raise OptionError(
            f"pooling template {template!r} must contain {{text}} exactly once, "
            'e.g. prompt:This sentence : "{text}" means [MASK] .'
        )
    masks = sum(template.count(p) for p in MASK_PLACEHOLDERS)
    if masks != 1:
        raise OptionError(
            f"pooling template {template!r} must contain exactly one mask placeholder "
            f"({' or '.join(MASK_PLACEHOLDERS)}); it has {masks}"
        )


def _check_int(name: str, value, *, minimum: int | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise OptionError(f"{name} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise OptionError(f"{name} must be at least {minimum}, got {value}")
