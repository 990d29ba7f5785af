"""The torch backend: sentence-transformers underneath, so vectors equal ST's for the same model and options."""

from __future__ import annotations

import contextlib
import threading

from emberta.encoders.offline import force_offline

force_offline()  # before transformers / huggingface_hub are imported

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402
from sentence_transformers.base.modules import Normalize, Transformer  # noqa: E402
from sentence_transformers.sentence_transformer.modules import Pooling  # noqa: E402
from transformers.utils import logging as transformers_logging  # noqa: E402

from emberta.encoders.base import Encoder  # noqa: E402
from emberta.encoders.model_folder import ModelFolder  # noqa: E402
from emberta.encoders.options import MASK_PLACEHOLDERS, EncoderOptions  # noqa: E402
from emberta.encoders.torch_modules import LayerSelect, MaskTokenPooling  # noqa: E402
from emberta.errors import ModelError, OptionError  # noqa: E402

transformers_logging.disable_progress_bar()  # the weight-loading bar is noise on every load

# Models whose position ids start after the padding index, so two positions are never used.
_OFFSET_POSITION_MODELS = {"roberta", "xlm-roberta", "xlm-roberta-xl", "camembert", "mpnet", "data2vec-text"}


class TorchEncoder(Encoder):
    """An Encoder running a sentence-transformers model on the CPU with torch."""

    backend = "torch"

    def __init__(self, folder: ModelFolder, options: EncoderOptions):
        super().__init__(folder, options)
        model = _load_model(folder)
        self._default_prompt_name = model.default_prompt_name
        model.default_prompt_name = None  # emberta resolves prompts itself (Encoder.resolve_prompt)
        self._model = self._apply_options(model)
        self._model.eval()
        if self.options.prompt_name is not None:
            self.resolve_prompt(None, None)  # fail on load, not on first encode

    # ---- building ----------------------------------------------------------------------------------
    @property
    def sentence_transformer(self) -> SentenceTransformer:
        """The underlying sentence-transformers model (with the options applied), e.g. to fine-tune it."""
        return self._model

    def _apply_options(self, model: SentenceTransformer) -> SentenceTransformer:
        options = self.options
        transformer = _first(model, Transformer)
        if transformer is None:
            raise ModelError(f"model {self.name!r}: its first module is not a Hugging Face Transformer")
        self.transformer = transformer
        if options.max_length is not None:
            limit = self.position_limit
            if options.max_length > limit:
                raise OptionError(
                    f"max_length={options.max_length} exceeds what model {self.name!r} can read ({limit})"
                )
            model.max_seq_length = options.max_length

        modules = list(model)
        changed = False
        if options.layer is not None:
            layers = transformer.auto_model.config.num_hidden_layers
            if not -layers - 1 <= options.layer <= layers:
                raise OptionError(
                    f"layer={options.layer} is out of range for model {self.name!r}: it has {layers} layers "
                    f"(use 0..{layers}, or negative values counted from the last)"
                )
            transformer.auto_model.config.output_hidden_states = True
            modules.insert(modules.index(transformer) + 1, LayerSelect(options.layer))
            changed = True
        if options.pooling is not None:
            pooling_index = next((i for i, m in enumerate(modules) if isinstance(m, Pooling)), None)
            if pooling_index is None:
                raise OptionError(f"model {self.name!r} has no Pooling module, so its pooling cannot be changed")
            width = modules[pooling_index].embedding_dimension
            modules[pooling_index] = self._pooling_module(width, modules[pooling_index])
            changed = True
        if options.normalize is False and any(isinstance(m, Normalize) for m in modules):
            modules = [m for m in modules if not isinstance(m, Normalize)]
            changed = True
        if changed:
            model = SentenceTransformer(
                modules=modules, device="cpu", prompts=dict(model.prompts), similarity_fn_name=self.similarity_fn_name
            )
        if options.truncate_dim is not None and options.truncate_dim > self._width(model):
            raise OptionError(
                f"truncate_dim={options.truncate_dim} is larger than model {self.name!r}'s {self._width(model)} "
                "dimensions; choose a smaller value or leave it unset"
            )
        return model

    def _pooling_module(self, width: int, old: Pooling):
        template = self.options.prompt_template
        if template is None:
            return Pooling(width, pooling_mode=self.options.pooling, include_prompt=old.include_prompt)
        if self.mask_token is None:
            raise OptionError(f"pooling {self.options.pooling!r} needs a mask token; model {self.name!r} has none")
        mask_at = min(template.find(p) for p in MASK_PLACEHOLDERS if p in template)
        from_end = mask_at > template.find("{text}")
        return MaskTokenPooling(width, self.tokenizer.mask_token_id, from_end)

    @staticmethod
    def _width(model: SentenceTransformer) -> int:
        return int(model.get_embedding_dimension())

    # ---- Encoder hooks -----------------------------------------------------------------------------
    @property
    def tokenizer(self):
        """The model's Hugging Face tokenizer."""
        return self.transformer.tokenizer

    @property
    def model_dim(self) -> int:
        return self._width(self._model)

    @property
    def max_length(self) -> int:
        return int(self._model.max_seq_length)

    @property
    def position_limit(self) -> int:
        """The longest input the model's position embeddings allow."""
        config = self.transformer.auto_model.config
        limit = getattr(config, "max_position_embeddings", None) or 512
        if config.model_type in _OFFSET_POSITION_MODELS:
            limit -= (config.pad_token_id or 0) + 1
        return int(limit)

    @property
    def prompts(self) -> dict[str, str]:
        return {k: v for k, v in self._model.prompts.items() if v is not None}

    @property
    def default_prompt_name(self) -> str | None:
        return self._default_prompt_name

    @property
    def similarity_fn_name(self) -> str:
        return self.folder.st_config.get("similarity_fn_name") or "cosine"

    @property
    def model_normalizes(self) -> bool:
        return any(isinstance(m, Normalize) for m in self._model)

    @property
    def mask_token(self) -> str | None:
        return self.tokenizer.mask_token

    @property
    def pooling(self) -> str:
        if self.options.pooling is not None:
            return self.options.pooling
        pooling = _first(self._model, Pooling)
        if pooling is None:
            return "none"
        mode = pooling.pooling_mode
        return mode if isinstance(mode, str) else "+".join(mode)

    def token_lengths(self, texts: list[str]) -> list[int]:
        encoded = self.tokenizer(texts, add_special_tokens=True, truncation=False, verbose=False)
        return [len(ids) for ids in encoded["input_ids"]]

    def _token_offsets(self, text: str) -> list[tuple[int, int]]:
        encoded = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        return [tuple(span) for span in encoded["offset_mapping"]]

    def _embed(self, texts: list[str], prompt: str | None, batch_size: int, show_progress: bool) -> np.ndarray:
        with _torch_threads(self.options.threads):
            return self._model.encode(
                texts, prompt=prompt, batch_size=batch_size, show_progress_bar=show_progress, convert_to_numpy=True
            )

    def describe(self) -> dict:
        config = self.transformer.auto_model.config
        return {
            "name": self.name,
            "path": str(self.folder.path),
            "format": self.folder.kind,
            "backend": self.backend,
            "architecture": (config.architectures or [type(self.transformer.auto_model).__name__])[0],
            "model_type": config.model_type,
            "layers": getattr(config, "num_hidden_layers", None),
            "hidden_size": getattr(config, "hidden_size", None),
            "vocab_size": getattr(config, "vocab_size", None),
            "parameters": sum(p.numel() for p in self._model.parameters()),
            "dim": self.dim,
            "max_length": self.max_length,
            "position_limit": self.position_limit,
            "pooling": self.pooling,
            "layer": self.options.layer,
            "normalize": self.normalize,
            "prompts": self.prompts,
            "default_prompt_name": self.default_prompt_name,
            "similarity": self.similarity_fn_name,
            "modules": [type(m).__name__ for m in self._model],
            "fingerprint": self.fingerprint,
        }


_THREADS_LOCK = threading.Lock()


@contextlib.contextmanager
def _torch_threads(threads: int | None):
    """torch's thread count is per process: set it for one encode call only, so that an encoder loaded with
    `threads` does not slow down every other encoder of the process. Calls that set it take turns (a server
    encodes from more than one thread), so the count they restore is never another call's."""
    if threads is None:
        yield
        return
    with _THREADS_LOCK:
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            yield
        finally:
            torch.set_num_threads(before)


def _first(model, cls):
    return next((m for m in model if isinstance(m, cls)), None)


def _load_model(folder: ModelFolder) -> SentenceTransformer:
    """Load a sentence-transformers folder as is, or a plain Hugging Face folder with mean pooling."""
    verbosity = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()  # no load reports about unused checkpoint keys
    try:
        if folder.kind == "sentence-transformers":
            return SentenceTransformer(str(folder.path), device="cpu", local_files_only=True)
        transformer = Transformer(
            str(folder.path),
            model_kwargs={"local_files_only": True},
            processor_kwargs={"local_files_only": True},
            config_kwargs={"local_files_only": True},
        )
        pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
        return SentenceTransformer(modules=[transformer, pooling], device="cpu")
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"model {folder.spec!r} in {folder.path} could not be loaded: {exc}") from exc
    finally:
        transformers_logging.set_verbosity(verbosity)
