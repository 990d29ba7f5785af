"""What the ONNX Runtime and OpenVINO backends share: an export folder whose graph holds pooling and
normalization, its config, and the batching policy. Texts are tokenized with the `tokenizers` library, sorted
by length and grouped under a token budget so that little compute goes to padding; a backend only compiles the
graph and runs one padded batch (`_load_runtime`, `_infer`). No torch, no transformers."""

from __future__ import annotations

import dataclasses
from abc import abstractmethod
from pathlib import Path

import numpy as np

from emberta.encoders.base import Encoder
from emberta.encoders.export_folder import TOKENIZER_NAME
from emberta.encoders.model_folder import ModelFolder
from emberta.encoders.options import EncoderOptions
from emberta.errors import ModelError, OptionError

TOKENS_PER_TEXT = 128  # token budget of a batch = batch_size * TOKENS_PER_TEXT padded tokens
MAX_BATCH = 512
_TOKENIZER_FIELDS = {"input_ids": "ids", "attention_mask": "attention_mask", "token_type_ids": "type_ids"}


class ExportedEncoder(Encoder):
    """An Encoder running an `emberta export` folder; subclasses bring the runtime."""

    export_label = "export"

    def __init__(self, folder: ModelFolder, options: EncoderOptions, config: dict):
        _check_baked_options(options, config, self.backend)
        if options.prompt is None and options.prompt_name is None and config.get("default_prompt"):
            options = dataclasses.replace(options, prompt=config["default_prompt"])
        super().__init__(folder, options)
        self.config = config
        max_length = options.max_length or config["max_length"]
        if max_length > config["position_limit"]:
            raise OptionError(
                f"max_length={max_length} exceeds what model {self.name!r} can read ({config['position_limit']})"
            )
        self._max_length = max_length
        if options.truncate_dim is not None and options.truncate_dim > config["dim"]:
            raise OptionError(
                f"truncate_dim={options.truncate_dim} is larger than model {self.name!r}'s {config['dim']} dimensions"
            )
        self._tokenizer, self._counter = load_tokenizers(folder.path / TOKENIZER_NAME, max_length)
        self._load_runtime(folder.path, options.threads)
        if options.prompt_name is not None:
            self.resolve_prompt(None, None)

    # ---- what a runtime provides --------------------------------------------------------------------
    @abstractmethod
    def _load_runtime(self, path: Path, threads: int | None) -> None:
        """Load and compile the folder's graph for `threads` CPU threads (None: the runtime's default)."""

    @abstractmethod
    def _infer(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """Run one padded batch: int64 (batch, length) inputs by name -> float32 (batch, dim) vectors."""

    # ---- the Encoder primitives ---------------------------------------------------------------------
    @property
    def model_dim(self) -> int:
        return int(self.config["dim"])

    @property
    def max_length(self) -> int:
        return self._max_length

    @property
    def prompts(self) -> dict[str, str]:
        return dict(self.config.get("prompts") or {})

    @property
    def default_prompt_name(self) -> str | None:
        return self.config.get("default_prompt_name")

    @property
    def model_normalizes(self) -> bool:
        return bool(self.config["normalize"])

    @property
    def mask_token(self) -> str | None:
        return self.config.get("mask_token")

    @property
    def pooling(self) -> str:
        return self.config["pooling"]

    @property
    def similarity_fn_name(self) -> str:
        return self.config.get("similarity_fn_name") or "cosine"

    def token_lengths(self, texts: list[str]) -> list[int]:
        return [len(e.ids) for e in self._counter.encode_batch(texts)]

    def _token_offsets(self, text: str) -> list[tuple[int, int]]:
        return list(self._counter.encode(text, add_special_tokens=False).offsets)

    def _embed(self, texts: list[str], prompt: str | None, batch_size: int, show_progress: bool) -> np.ndarray:
        from tqdm import tqdm  # here, not at import: `import emberta` stays fast

        if prompt:
            texts = [prompt + t for t in texts]
        encodings = self._tokenizer.encode_batch(texts)
        order = np.argsort([-len(e.ids) for e in encodings], kind="stable")
        out = np.empty((len(texts), self.model_dim), dtype=np.float32)
        budget = batch_size * TOKENS_PER_TEXT
        start = 0
        # batch sizes follow the token budget, so the bar counts texts and moves once per batch
        with tqdm(total=len(texts), desc="Batches", unit=" texts", disable=not show_progress) as progress:
            while start < len(order):
                longest = len(encodings[order[start]].ids)
                size = max(1, min(MAX_BATCH, budget // max(longest, 1)))
                rows = order[start : start + size]
                out[rows] = self._infer(self.batch_feeds([encodings[i] for i in rows], longest))
                start += size
                progress.update(len(rows))
        return out

    def batch_feeds(self, encodings, length: int) -> dict[str, np.ndarray]:
        """The graph's inputs for `encodings` (tokenizers Encodings) padded to `length` tokens."""
        feeds = {}
        for name in self.config["inputs"]:
            fill = self.config.get("pad_token_id", 0) if name == "input_ids" else 0  # padding positions
            batch = np.full((len(encodings), length), fill, dtype=np.int64)
            for row, encoding in enumerate(encodings):
                values = getattr(encoding, _TOKENIZER_FIELDS[name])
                batch[row, : len(values)] = values
            feeds[name] = batch
        return feeds

    def tokenize(self, texts: list[str]):
        """tokenizers Encodings of `texts`, truncated at max_length (for calibration and tests)."""
        return self._tokenizer.encode_batch(texts)

    def describe(self) -> dict:
        config = self.config
        return {
            "name": self.name,
            "path": str(self.folder.path),
            "format": self.export_label + (f" ({config['quantize']})" if config.get("quantize") else ""),
            "backend": self.backend,
            "architecture": config.get("architecture"),
            "model_type": config.get("model_type"),
            "layers": config.get("layers"),
            "hidden_size": config.get("hidden_size"),
            "vocab_size": self._tokenizer.get_vocab_size(),
            "parameters": config.get("parameters"),
            "dim": self.dim,
            "max_length": self.max_length,
            "position_limit": config["position_limit"],
            "pooling": self.pooling,
            "layer": config.get("layer"),
            "normalize": self.normalize,
            "similarity": self.similarity_fn_name,
            "prompts": self.prompts,
            "default_prompt_name": self.default_prompt_name,
            "modules": [f"{self.backend} graph: transformer, pooling" + (", normalize" if config["normalize"] else "")],
            "fingerprint": self.fingerprint,
        }


def _check_baked_options(options: EncoderOptions, config: dict, kind: str) -> None:
    """Options fixed in the graph at export time must match the export (or be left unset)."""
    for name in ("pooling", "layer", "normalize"):
        wanted = getattr(options, name)
        if wanted is not None and wanted != config[name]:
            raise OptionError(
                f"this {kind} export has {name}={config[name]!r} in its graph; export again with the {name} you want "
                f"(emberta export {kind} ... --{name.replace('_', '-')} ...)"
            )
    if options.quantize is not None and options.quantize != config["quantize"]:
        raise OptionError(f"this {kind} export is quantized={config['quantize']!r}, not {options.quantize!r}")


def load_tokenizers(path: Path, max_length: int):
    """Two tokenizers from one file: one truncating at max_length (for the model), one not (for counting)."""
    from tokenizers import Tokenizer

    try:
        tokenizer = Tokenizer.from_file(str(path))
        counter = Tokenizer.from_file(str(path))
    except Exception as exc:
        raise ModelError(f"{path}: cannot load the tokenizer ({exc}); export the model again") from None
    tokenizer.enable_truncation(max_length)
    tokenizer.no_padding()
    counter.no_truncation()
    counter.no_padding()
    return tokenizer, counter
