"""The OpenVINO backend: an `emberta export openvino` folder (OpenVINO IR of the graph emberta exports, pooling
and normalization inside, fp32 or int8) run with openvino, tokenizers and numpy only — no torch. Tokenization
and batching are the shared policy of exported.py."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from emberta.encoders.export_folder import OPENVINO_EXPORT, resolve_export_folder
from emberta.encoders.exported import ExportedEncoder
from emberta.encoders.model_folder import ModelFolder
from emberta.errors import ModelError, OptionError

MODEL_NAME = "model.xml"


def resolve_openvino_folder(path: str | Path) -> tuple[ModelFolder, dict]:
    """Check an OpenVINO export folder (config, and model.xml, model.bin and tokenizer.json as the export wrote
    them). Returns the folder and its config."""
    return resolve_export_folder(path, OPENVINO_EXPORT)


def compile_config(threads: int | None) -> dict:
    """OpenVINO CPU settings: one request uses all `threads` (latency mode), and fp32 stays fp32 (on CPUs with
    bf16 units OpenVINO would otherwise run fp32 graphs in bf16 and change the vectors)."""
    config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}
    if threads:
        config["INFERENCE_NUM_THREADS"] = threads
    return config


class OpenVinoEncoder(ExportedEncoder):
    """An Encoder running an OpenVINO export on the CPU."""

    backend = "openvino"
    export_label = "openvino export"

    def _load_runtime(self, path: Path, threads: int | None) -> None:
        try:
            import openvino as ov
        except ImportError:
            raise OptionError(
                "the OpenVINO backend needs the openvino package: pip install 'emberta[openvino]'"
            ) from None
        model = path / MODEL_NAME
        try:
            core = ov.Core()
            self._compiled = core.compile_model(core.read_model(str(model)), "CPU", compile_config(threads))
        except Exception as exc:
            raise ModelError(f"{model}: OpenVINO cannot load this model ({exc}); export the model again") from None
        self._requests = threading.local()  # one infer request per thread: a request runs one batch at a time

    def _infer(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        request = getattr(self._requests, "request", None)
        if request is None:
            request = self._requests.request = self._compiled.create_infer_request()
        # the output tensor is the request's own buffer, overwritten by its next batch
        return np.array(request.infer(feeds)[0], dtype=np.float32, copy=True)
