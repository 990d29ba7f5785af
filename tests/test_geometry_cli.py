"""`emberta analyze` and `emberta sweep` on a tiny model."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from emberta.cli.main import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_analyze_texts_with_labels_writes_report_and_plots(tiny_models, tmp_path):
    path = tmp_path / "texts.jsonl"
    words = ["fox", "dog", "guitar", "weather", "book", "search", "cats", "numbers"]
    path.write_text("".join(json.dumps({"text": f"the {w} number {i}", "topic": w[:1]}) + "\n"
                            for w in words for i in range(8)))  # fmt: skip
    out = tmp_path / "report"
    result = run("analyze", "-m", tiny_models["bert"], "--texts", path, "--labels", "topic", "--out", out, "--no-cache")
    assert result.exit_code == 0, result.output
    assert "hubness after MP" in result.stdout and "intrinsic dimension" in result.stdout
    report = json.loads((out / "report.json").read_text())
    assert report["rows"] == 64 and report["dim"] == 32
    assert {"isotropy", "rogue_dimensions", "hubness", "hubness_mp", "hubness_ls", "spectrum"} <= set(report)
    for name in ("spectrum.png", "dimensions.png", "k_occurrence.png", "pca.png"):
        assert (out / name).stat().st_size > 1000


def test_analyze_multilingual_dataset_reports_language_separability(tiny_models, data_dir, tmp_path):
    result = run("analyze", "-m", tiny_models["bert"], "--dataset", "Tatoeba", "--data-dir", data_dir, "--no-cache")
    assert result.exit_code == 0, result.output
    assert "language separability" in result.stdout


def test_analyze_and_sweep_bad_input(tiny_models, tmp_path):
    result = run("analyze", "-m", tiny_models["bert"])
    assert result.exit_code == 2 and "give either --texts FILE or --dataset TASK" in result.stderr
    result = run("sweep", "-m", tiny_models["bert"], "--transforms", "none; shrink")
    assert result.exit_code == 2 and "unknown transform 'shrink'" in result.stderr


def test_sweep_on_a_registered_task(tiny_models, data_dir, tmp_path):
    result = run("sweep", "-m", tiny_models["bert"], "--tasks", "STSBenchmark", "--data-dir", data_dir, "--transforms",
                 "none; center; trunc:8; binary; mp", "--out", tmp_path, "--no-cache")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "n/a" in result.stdout and "texts encoded: 2552" in result.stderr
    lines = (tmp_path / "sweep.csv").read_text().splitlines()
    assert len(lines) == 6 and lines[3].startswith("trunc:8,STSBenchmark,STS,cosine_spearman,")


def test_bias_tests_with_and_without_debiasing(tiny_models, data_dir, tmp_path):
    result = run("bias", "-m", tiny_models["bert"], "--data-dir", data_dir, "--tests", "weat6,sent-weat7", "--debias",
                 "--permutations", "200")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "weat6" in result.stdout and "sent-weat7" in result.stdout and "debiased" in result.stdout


def test_bias_bad_test_file(tiny_models, tmp_path):
    from emberta.errors import InputError
    from emberta.io.datasets import read_weat

    (tmp_path / "weat_seat").mkdir()
    (tmp_path / "weat_seat" / "broken.jsonl").write_text('{"targ1": {"examples": []}}')
    result = run("bias", "-m", tiny_models["bert"], "--data-dir", tmp_path, "--tests", "broken,missing")
    assert result.exit_code == 2 and "'targ1' must be" in result.stderr
    import pytest

    with pytest.raises(InputError, match="no such file"):
        read_weat(tmp_path / "weat_seat" / "missing.jsonl")
