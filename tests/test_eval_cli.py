"""`emberta eval` and `emberta tasks` on a tiny model: results, summary table, errors with exit status 2."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from emberta.cli.main import app

runner = CliRunner()


def run(*args, env=None):
    return runner.invoke(app, [str(a) for a in args], env=env)


def sts_file(tmp_path):
    path = tmp_path / "mysts.jsonl"
    rows = [{"sentence1": f"a {w} here", "sentence2": f"the {w} there", "score": float(i % 5)}
            for i, w in enumerate(["fox", "dog", "cat", "book", "street", "guitar", "weather"])]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_eval_adhoc_task_writes_results_and_prints_summary(tiny_models, tmp_path):
    out = tmp_path / "results"
    result = run("eval", "-m", tiny_models["bert"], "--task-type", "sts", "--file", sts_file(tmp_path),
                 "--output-dir", out, "--no-cache")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "main scores (x100)" in result.stdout and "average overall" in result.stdout
    assert result.stderr.startswith("mysts: ")
    (saved,) = out.rglob("mysts.json")
    assert json.loads(saved.read_text())["scores"]["test"][0]["hf_subset"] == "default"


def test_eval_bad_input_exits_2(tiny_models, tmp_path):
    cases = [
        (["--tasks", "STSBenchmrk"], "unknown task 'STSBenchmrk'; did you mean STSBenchmark"),
        (["--tasks", "STSBenchmark", "--suite", "quick"], "choose one of --tasks, --suite"),
        (["--tasks", "STSBenchmark", "--data-dir", tmp_path], "dataset folder of task STSBenchmark not found"),
        (["--task-type", "sts"], "a sts task takes --file"),
        (["--task-type", "classification", "--train", sts_file(tmp_path)], "takes --train FILE and --test FILE"),
        (["--file", sts_file(tmp_path)], "needs --task-type"),
        (["--suite", "STSBenchmark"], "unknown suite 'STSBenchmark'; choose one of quick, full"),
        (["--tasks", ""], "no task given"),
        (["--tasks", "STSBenchmark", "--name", "mine"], "--name names an ad-hoc task's result"),
        (["--suite", "quick", "--samples-per-label", "0"], "--samples-per-label must be at least 1, got 0"),
        (["--task-type", "sts", "--file", sts_file(tmp_path), "--n-experiments", "-1"], "--n-experiments must be"),
    ]
    for args, message in cases:
        result = run("eval", "-m", tiny_models["bert"], "--no-cache", "--output-dir", tmp_path / "r", *args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "r").exists()


def test_tasks_lists_registry(tmp_path):
    result = run("tasks", "--data-dir", tmp_path)
    assert result.exit_code == 0
    for name in ("STSBenchmark", "SciFact", "Tatoeba", "TrecQA", "Banking77Classification"):
        assert name in result.stdout
