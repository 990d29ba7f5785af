"""The static backend: a model2vec static model (one vector per token, averaged), made from an encoder with
`emberta distill static`. Runs on numpy and tokenizers only: no torch, no attention, tens of times faster."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from emberta.encoders.base import Encoder
from emberta.encoders.model_folder import ModelFolder
from emberta.encoders.options import EncoderOptions
from emberta.errors import ModelError, OptionError

CONFIG_NAME = "emberta-static.json"
REQUIRED_FILES = ("model.safetensors", "tokenizer.json", "config.json")
DEFAULT_MAX_LENGTH = 512


def resolve_static_folder(path: str | Path) -> ModelFolder:
    """Check a model2vec folder (model.safetensors, tokenizer.json, config.json)."""
    path = Path(path).expanduser()
    if not path.is_dir():
        raise ModelError(
            f"static model {str(path)!r}: no such folder; create one with `emberta distill static MODEL --out DIR`"
        )
    for name in REQUIRED_FILES:
        if not (path / name).is_file():
            raise ModelError(
                f"static model {str(path)!r}: {name} is missing (a model2vec folder needs {', '.join(REQUIRED_FILES)})"
            )
    name = path.name
    if (path / CONFIG_NAME).is_file():
        name = json.loads((path / CONFIG_NAME).read_text(encoding="utf-8")).get("name", name)
    return ModelFolder(spec=f"static:{path}", path=path, kind="static", transformer_path=path, name=name)


class StaticEncoder(Encoder):
    """An Encoder over a model2vec StaticModel: the mean of (weighted) token vectors."""

    backend = "static"

    def __init__(self, folder: ModelFolder, options: EncoderOptions):
        for name in ("pooling", "layer"):
            if getattr(options, name) is not None:
                raise OptionError(
                    f"a static model has no {name} to choose (it averages token vectors); drop the option"
                )
        super().__init__(folder, options)
        from model2vec import StaticModel

        try:
            self._model = StaticModel.from_pretrained(folder.path, normalize=options.normalize)
        except Exception as exc:
            raise ModelError(f"static model {str(folder.path)!r} could not be loaded: {exc}") from None
        config = json.loads((folder.path / "config.json").read_text(encoding="utf-8"))
        self._normalizes = bool(config.get("normalize", True))
        self._max_length = options.max_length or DEFAULT_MAX_LENGTH
        if options.truncate_dim is not None and options.truncate_dim > self._model.dim:
            raise OptionError(
                f"truncate_dim={options.truncate_dim} is larger than the model's {self._model.dim} dimensions"
            )
        self._tokenizer = self._model.tokenizer

    @property
    def model_dim(self) -> int:
        return int(self._model.dim)

    @property
    def max_length(self) -> int:
        return self._max_length

    @property
    def prompts(self) -> dict[str, str]:
        return {}

    @property
    def model_normalizes(self) -> bool:
        return self._normalizes

    @property
    def mask_token(self) -> str | None:
        return None

    @property
    def pooling(self) -> str:
        return "mean (static token vectors)"

    # model2vec tokenizes without special tokens
    def token_lengths(self, texts: list[str]) -> list[int]:
        return [len(e.ids) for e in self._tokenizer.encode_batch(texts, add_special_tokens=False)]

    def _token_offsets(self, text: str) -> list[tuple[int, int]]:
        return list(self._tokenizer.encode(text, add_special_tokens=False).offsets)

    def _embed(self, texts: list[str], prompt: str | None, batch_size: int, show_progress: bool) -> np.ndarray:
        if prompt:
            texts = [prompt + t for t in texts]
        vectors = self._model.encode(
            texts, max_length=self.max_length, batch_size=max(batch_size, 1024), show_progress_bar=show_progress,
            use_multiprocessing=False,
        )  # fmt: skip
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.model_dim)

    def describe(self) -> dict:
        vocabulary = self._tokenizer.get_vocab_size()
        return {
            "name": self.name,
            "path": str(self.folder.path),
            "format": "model2vec static model",
            "backend": self.backend,
            "architecture": "StaticModel",
            "model_type": "model2vec",
            "layers": 0,
            "hidden_size": self.model_dim,
            "vocab_size": vocabulary,
            "parameters": vocabulary * self.model_dim,
            "dim": self.dim,
            "max_length": self.max_length,
            "position_limit": None,
            "pooling": self.pooling,
            "layer": None,
            "normalize": self.normalize,
            "similarity": self.similarity_fn_name,
            "prompts": {},
            "default_prompt_name": None,
            "modules": ["StaticEmbedding"],
            "fingerprint": self.fingerprint,
        }
