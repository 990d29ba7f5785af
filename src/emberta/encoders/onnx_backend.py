"""The ONNX backend: an export folder (see onnx_export.py) run with onnxruntime, tokenizers and numpy only —
no torch, no transformers. Texts are tokenized in batches, sorted by length and grouped under a token budget
so that little compute goes to padding."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from emberta.encoders.base import Encoder
from emberta.encoders.model_folder import ModelFolder, file_sha256
from emberta.encoders.options import EncoderOptions
from emberta.errors import ModelError, OptionError

CONFIG_NAME = "emberta-onnx.json"
FORMAT = "emberta.onnx/1"
TOKENS_PER_TEXT = 128  # token budget of a batch = batch_size * TOKENS_PER_TEXT padded tokens
MAX_BATCH = 512


def resolve_onnx_folder(path: str | Path) -> tuple[ModelFolder, dict]:
    """Check an export folder: its config, and that model.onnx and tokenizer.json are the files the export
    wrote (size and sha256). Returns the folder and its config."""
    path = Path(path).expanduser()
    config_file = path / CONFIG_NAME
    if not config_file.is_file():
        raise ModelError(
            f"{path} is not an ONNX export of emberta ({CONFIG_NAME} is missing); create one with "
            "`emberta export onnx MODEL --out DIR`"
        )
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ModelError(f"{config_file}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    if config.get("format") != FORMAT:
        raise ModelError(f"{config_file}: format {config.get('format')!r} is not {FORMAT!r}; export the model again")
    for name, record in config["files"].items():
        file = path / name
        if not file.is_file():
            raise ModelError(f"{file} is missing from the export; export the model again")
        size = file.stat().st_size
        if size != record["bytes"] or file_sha256(file) != record["sha256"]:
            raise ModelError(
                f"{file} is corrupt or truncated ({size} bytes; the export wrote {record['bytes']} bytes with another "
                "checksum); export the model again with `emberta export onnx`"
            )
    folder = ModelFolder(spec=f"onnx:{path}", path=path, kind="onnx", transformer_path=path, name=config["name"])
    return folder, config


class OnnxEncoder(Encoder):
    """An Encoder running an ONNX export on the CPU with ONNX Runtime."""

    backend = "onnx"

    def __init__(self, folder: ModelFolder, options: EncoderOptions, config: dict):
        for name in ("pooling", "layer", "normalize"):
            wanted = getattr(options, name)
            if wanted is not None and wanted != config[name]:
                raise OptionError(
                    f"this ONNX export has {name}={config[name]!r} in its graph; export again with the {name} you want "
                    f"(emberta export onnx ... --{name.replace('_', '-')} ...)"
                )
        if options.quantize is not None and options.quantize != config["quantize"]:
            raise OptionError(f"this ONNX export is quantized={config['quantize']!r}, not {options.quantize!r}")
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
        self._tokenizer, self._counter = _load_tokenizers(folder.path / "tokenizer.json", max_length)
        self._session = _load_session(folder.path / "model.onnx", options.threads)
        if options.prompt_name is not None:
            self.resolve_prompt(None, None)

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
                out[rows] = self._run([encodings[i] for i in rows], longest)
                start += size
                progress.update(len(rows))
        return out

    def _run(self, encodings, length: int) -> np.ndarray:
        feeds = {}
        for name in self.config["inputs"]:
            field = {"input_ids": "ids", "attention_mask": "attention_mask", "token_type_ids": "type_ids"}[name]
            fill = self.config.get("pad_token_id", 0) if name == "input_ids" else 0  # padding positions
            batch = np.full((len(encodings), length), fill, dtype=np.int64)
            for row, encoding in enumerate(encodings):
                values = getattr(encoding, field)
                batch[row, : len(values)] = values
            feeds[name] = batch
        return self._session.run(None, feeds)[0]

    def describe(self) -> dict:
        config = self.config
        return {
            "name": self.name,
            "path": str(self.folder.path),
            "format": "onnx export" + (f" ({config['quantize']})" if config.get("quantize") else ""),
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
            "modules": ["onnx graph: transformer, pooling" + (", normalize" if config["normalize"] else "")],
            "fingerprint": self.fingerprint,
        }


def _load_tokenizers(path: Path, max_length: int):
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


def _load_session(path: Path, threads: int | None):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads or 0
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ModelError(f"{path}: not a valid ONNX model ({exc}); export the model again") from None
