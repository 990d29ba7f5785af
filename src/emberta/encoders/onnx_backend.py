"""The ONNX backend: an export folder (see onnx_export.py) run with onnxruntime, tokenizers and numpy only —
no torch, no transformers. Tokenization and batching are the shared policy of exported.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from emberta.encoders.export_folder import ONNX_EXPORT, resolve_export_folder
from emberta.encoders.exported import ExportedEncoder
from emberta.encoders.model_folder import ModelFolder
from emberta.errors import ModelError

CONFIG_NAME = ONNX_EXPORT.config_name
FORMAT = ONNX_EXPORT.format


def resolve_onnx_folder(path: str | Path) -> tuple[ModelFolder, dict]:
    """Check an ONNX export folder (config, and model.onnx and tokenizer.json as the export wrote them).
    Returns the folder and its config."""
    return resolve_export_folder(path, ONNX_EXPORT)


class OnnxEncoder(ExportedEncoder):
    """An Encoder running an ONNX export on the CPU with ONNX Runtime."""

    backend = "onnx"
    export_label = "onnx export"

    def _load_runtime(self, path: Path, threads: int | None) -> None:
        import onnxruntime as ort

        model = path / "model.onnx"
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or 0
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise ModelError(f"{model}: not a valid ONNX model ({exc}); export the model again") from None

    def _infer(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        return self._session.run(None, feeds)[0]
