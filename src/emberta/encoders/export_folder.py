"""The folders `emberta export` writes: one config file naming the format and recording the size and sha256 of
every model file, checked on load so that a truncated, edited or foreign folder is refused with a clear
message. Shared by the ONNX and the OpenVINO exports; nothing here imports a runtime."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from emberta.encoders.model_folder import ModelFolder, file_sha256
from emberta.errors import ModelError


@dataclass(frozen=True)
class ExportFormat:
    """One kind of export folder: `kind` is the backend and the spec prefix ("onnx", "openvino"), `label` its
    name in messages, `config_name` the config file, `format` the version string inside it, `model_files` the
    files the runtime reads besides tokenizer.json."""

    kind: str
    label: str
    config_name: str
    format: str
    model_files: tuple[str, ...]

    @property
    def command(self) -> str:
        return f"emberta export {self.kind} MODEL --out DIR"


ONNX_EXPORT = ExportFormat("onnx", "ONNX", "emberta-onnx.json", "emberta.onnx/1", ("model.onnx",))
OPENVINO_EXPORT = ExportFormat(
    "openvino", "OpenVINO", "emberta-openvino.json", "emberta.openvino/1", ("model.xml", "model.bin")
)
EXPORT_FORMATS = (ONNX_EXPORT, OPENVINO_EXPORT)
TOKENIZER_NAME = "tokenizer.json"


def file_record(path: Path) -> dict:
    """{"bytes", "sha256"} of a file, as the config records it."""
    return {"bytes": path.stat().st_size, "sha256": file_sha256(path)}


def resolve_export_folder(path: str | Path, export: ExportFormat) -> tuple[ModelFolder, dict]:
    """Check an export folder of kind `export`: its config, and that every file it lists is the file the export
    wrote (size and sha256). Returns the folder and its config; raises ModelError saying what is wrong and how
    to make a good folder."""
    path = Path(path).expanduser()
    if not path.is_dir():
        raise ModelError(f"{path}: no such folder; create an {export.label} export with `{export.command}`")
    config_file = path / export.config_name
    if not config_file.is_file():
        raise ModelError(_foreign_folder_message(path, export))
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, RecursionError) as exc:
        line = getattr(exc, "lineno", 1)
        raise ModelError(f"{config_file}:{line}: not valid JSON; export the model again") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"{config_file}: cannot read ({exc}); export the model again") from None
    if not isinstance(config, dict) or config.get("format") != export.format:
        found = config.get("format") if isinstance(config, dict) else type(config).__name__
        raise ModelError(f"{config_file}: format {found!r} is not {export.format!r}; export the model again")
    files = config.get("files")
    wanted = (*export.model_files, TOKENIZER_NAME)
    if not isinstance(files, dict) or any(name not in files for name in wanted):
        raise ModelError(f"{config_file}: the file list does not name {', '.join(wanted)}; export the model again")
    for name, record in files.items():
        _check_file(path / name, record, export)
    folder = ModelFolder(
        spec=f"{export.kind}:{path}", path=path, kind=export.kind, transformer_path=path, name=str(config["name"])
    )
    return folder, config


def _check_file(file: Path, record: dict, export: ExportFormat) -> None:
    if not file.is_file():
        raise ModelError(f"{file} is missing from the export; export the model again with `{export.command}`")
    size = file.stat().st_size
    if not isinstance(record, dict) or size != record.get("bytes") or file_sha256(file) != record.get("sha256"):
        raise ModelError(
            f"{file} is corrupt or truncated ({size} bytes; not the file the export wrote); export the model again "
            f"with `{export.command}`"
        )


def _foreign_folder_message(path: Path, export: ExportFormat) -> str:
    """Why a folder without this kind's config is refused, naming what it looks like instead."""
    for other in EXPORT_FORMATS:
        if other is not export and (path / other.config_name).is_file():
            return (
                f"{path} is an {other.label} export of emberta, not an {export.label} one: load it with "
                f"{other.kind}:{path}, or create an {export.label} export with `{export.command}`"
            )
    if any(path.glob("*.xml")) or any(path.glob("*.onnx")):
        return (
            f"{path} holds a model graph that emberta did not export ({export.config_name} is missing), so its "
            f"pooling, normalization and tokenizer are unknown; create one with `{export.command}`"
        )
    return f"{path} is not an {export.label} export of emberta ({export.config_name} is missing); " + (
        f"create one with `{export.command}`"
    )
