"""`emberta analyze` and `emberta sweep` on a tiny model."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
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


def effect_size(x, y, a, b) -> float:
    """WEAT's effect size (Caliskan et al. 2017), by hand: s(w) = mean cos(w, A) - mean cos(w, B);
    (mean s over X - mean s over Y) / sample std of s over X and Y."""
    x, y, a, b = (v / np.linalg.norm(v, axis=1, keepdims=True) for v in (x, y, a, b))
    s_x = (x @ a.T).mean(1) - (x @ b.T).mean(1)
    s_y = (y @ a.T).mean(1) - (y @ b.T).mean(1)
    return float((s_x.mean() - s_y.mean()) / np.concatenate([s_x, s_y]).std(ddof=1))


def without_gender_direction(encoder, vectors):
    """Hard debiasing's neutralize step, by hand: remove the top eigenvector of the covariance of the gender
    pairs' vectors, each centred on its pair (Bolukbasi et al. 2016)."""
    from emberta.analyze import GENDER_PAIRS

    words = encoder.encode([w for pair in GENDER_PAIRS for w in pair]).astype(np.float64)
    centred = words - np.repeat((words[0::2] + words[1::2]) / 2, 2, axis=0)
    direction = np.linalg.eigh(centred.T @ centred)[1][:, -1]
    return vectors - np.outer(vectors @ direction, direction)


def test_bias_tests_with_and_without_debiasing(tiny_models, data_dir, tmp_path):
    import emberta
    from emberta.geometry.bias import weat
    from emberta.io.datasets import read_weat

    args = ["bias", "-m", tiny_models["bert"], "--data-dir", data_dir, "--tests", "weat6,sent-weat7", "--debias"]
    result = runner.invoke(app, [str(a) for a in [*args, "--permutations", "200"]], env={"COLUMNS": "240"})
    assert result.exit_code == 0, result.output
    printed = {}
    for line in result.stdout.splitlines():
        if match := re.match(r"\s*(\S+)\s.*\s([+-]\d+\.\d\d)\s+(\d\.\d{3})\s+([+-]\d+\.\d\d)\s+(\d\.\d{3})\s*$", line):
            printed[match[1]] = [float(v) for v in match.groups()[1:]]
    assert set(printed) == {"weat6", "sent-weat7"}, result.stdout

    encoder = emberta.load_encoder(tiny_models["bert"])
    for name, (effect, p, effect_debiased, p_debiased) in printed.items():
        test = read_weat(data_dir / "weat_seat" / f"{name}.jsonl")
        sets = [encoder.encode(examples) for _, examples in (*test.targets, *test.attributes)]
        debiased = [without_gender_direction(encoder, v.astype(np.float64)) for v in sets]
        assert effect == pytest.approx(effect_size(*(v.astype(np.float64) for v in sets)), abs=0.005 + 1e-6)
        assert effect_debiased == pytest.approx(effect_size(*debiased), abs=0.005 + 1e-6)  # printed to 2 decimals
        # the permutation p-values: emberta's weat on the same vectors, with the CLI's permutations (3 decimals)
        assert p == pytest.approx(weat(*sets, permutations=200).p_value, abs=0.0005 + 1e-9)
        p_after = weat(*(v.astype(np.float32) for v in debiased), permutations=200).p_value
        assert p_debiased == pytest.approx(p_after, abs=0.0005 + 1e-9)


def test_bias_bad_test_file(tiny_models, tmp_path):
    (tmp_path / "weat_seat").mkdir()
    (tmp_path / "weat_seat" / "broken.jsonl").write_text('{"targ1": {"examples": []}}')
    result = run("bias", "-m", tiny_models["bert"], "--data-dir", tmp_path, "--tests", "broken")
    assert result.exit_code == 2 and "'targ1' must be" in result.stderr and "broken.jsonl" in result.stderr
    result = run("bias", "-m", tiny_models["bert"], "--data-dir", tmp_path, "--tests", "missing")
    assert result.exit_code == 2, result.output
    assert "missing.jsonl" in result.stderr.replace("\n", "")
