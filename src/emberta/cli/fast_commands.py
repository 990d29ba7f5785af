"""Fast inference: `emberta export onnx|openvino` and `emberta distill static`. Parsing and printing only."""

from __future__ import annotations

from pathlib import Path

import typer

from emberta.cli.common import echo_err, handle_errors
from emberta.cli.encode_commands import LAYER, MAX_LENGTH, NORMALIZE, POOLING, PROMPT, PROMPT_NAME

PANEL = "Fast inference"

export_app = typer.Typer(help="Export a model for fast CPU inference.", no_args_is_help=True)
distill_app = typer.Typer(help="Distil a model into a static (token-vector) model.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(export_app, name="export", rich_help_panel=PANEL)
    app.add_typer(distill_app, name="distill", rich_help_panel=PANEL)


@export_app.command("onnx")
@handle_errors
def export_onnx_command(
    model: str = typer.Argument(..., help="'default' or a local model folder."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder to create (model.onnx, tokenizer.json, config)."),
    quantize: str | None = typer.Option(None, help="int8: dynamic quantization with per-channel weights."),
    pooling: str | None = POOLING,
    layer: int | None = LAYER,
    normalize: bool | None = NORMALIZE,
    max_length: int | None = MAX_LENGTH,
    prompt: str | None = PROMPT,
    prompt_name: str | None = PROMPT_NAME,
) -> None:
    """Export to ONNX with pooling and normalization inside the graph; load it with --model onnx:DIR."""
    from emberta.encoders.onnx_export import export_onnx

    options = dict(pooling=pooling, layer=layer, normalize=normalize, max_length=max_length, prompt=prompt,
                   prompt_name=prompt_name)  # fmt: skip
    path = export_onnx(model, out, quantize=quantize, **options)
    echo_err(f"exported {model} to {path} ({'int8' if quantize else 'fp32'}); use it with --model onnx:{path}")


@export_app.command("openvino")
@handle_errors
def export_openvino_command(
    model: str = typer.Argument(..., help="'default', a local model folder, or onnx:DIR (an fp32 ONNX export)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder to create (model.xml, model.bin, tokenizer.json)."),
    quantize: str | None = typer.Option(None, help="int8: static int8 by NNCF, calibrated on real sentences."),
    calibration: Path | None = typer.Option(
        None, help="Texts to calibrate int8 on (one per line, or a .jsonl/.csv 'text' field). Default: built-in."
    ),
    pooling: str | None = POOLING,
    layer: int | None = LAYER,
    normalize: bool | None = NORMALIZE,
    max_length: int | None = MAX_LENGTH,
) -> None:
    """Export to OpenVINO IR with pooling and normalization inside the graph; load it with --model openvino:DIR."""
    from emberta.encoders.openvino_export import export_openvino

    options = dict(pooling=pooling, layer=layer, normalize=normalize, max_length=max_length)
    path = export_openvino(model, out, quantize=quantize, calibration=calibration, **options)
    echo_err(f"exported {model} to {path} ({quantize or 'fp32'}); use it with --model openvino:{path}")


@distill_app.command("static")
@handle_errors
def distill_static_command(
    model: str = typer.Argument(..., help="'default' or a local model folder."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder to create (a model2vec model)."),
    dims: int = typer.Option(256, min=1, help="Dimensions kept by PCA."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or summary."),
) -> None:
    """Distil into a model2vec static model (tens of times faster, lower quality); use it with --model static:DIR."""
    from emberta.cli.common import progress_enabled
    from emberta.encoders.static_distill import distill_static

    path = distill_static(model, out, dims=dims, show_progress=progress_enabled(quiet))
    if not quiet:
        echo_err(f"distilled {model} into {path}; use it with --model static:{path}")
