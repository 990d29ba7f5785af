"""Comparing models (`emberta eval --model A --model B`): model variants in a spec, two specs of one fingerprint
evaluated once, cost figures from a fresh process, result folders with model_meta.json, MTEB's published
columns read from the shared REFERENCE_MODELS.json."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import emberta
from emberta.cli.main import app
from emberta.encoders.model_spec import apply_variant, short_label, split_variant
from emberta.encoders.options import EncoderOptions
from emberta.errors import OptionError
from emberta.tasks.comparison import column_from_results, compare_results
from emberta.tasks.results import SubsetScores, TaskResult
from test_eval_cli import sts_file

runner = CliRunner()


@pytest.fixture(scope="module")
def static_models(tiny_models, tmp_path_factory):
    """Two model2vec static models over the tiny tokenizers (random token vectors): fast in a fresh process."""
    from model2vec import StaticModel
    from tokenizers import Tokenizer

    folders = []
    for n, name in enumerate(("bert", "roberta")):
        tokenizer = Tokenizer.from_file(str(tiny_models[name] / "tokenizer.json"))
        vectors = np.random.default_rng(n).normal(size=(tokenizer.get_vocab_size(), 8 + 8 * n)).astype(np.float32)
        folder = tmp_path_factory.mktemp("static") / f"static-{name}"
        StaticModel(vectors, tokenizer, normalize=True).save_pretrained(str(folder))
        folders.append(folder)
    return folders


def test_model_variants_in_a_spec(tiny_models, tmp_path):
    assert split_variant("default@onnx-int8") == ("default", "onnx-int8")
    assert split_variant("static:/m/x@torch") == ("static:/m/x", "torch")
    assert split_variant("default") == ("default", None)
    odd = tmp_path / "model@v2"
    odd.mkdir()
    assert split_variant(odd) == (str(odd), None)  # an existing folder with "@" in its name is a path
    with pytest.raises(OptionError, match="unknown variant 'onnx-int4'"):
        split_variant("default@onnx-int4")
    model, options = apply_variant("default@openvino-int8", EncoderOptions())
    assert (model, options.backend, options.quantize) == ("default", "openvino", "int8")
    with pytest.raises(OptionError, match="names the onnx backend but the backend option says 'openvino'"):
        apply_variant("default@onnx", EncoderOptions(backend="openvino"))
    assert short_label("static:/models/minilm-static@torch") == "static:minilm-static@torch"
    plain = emberta.load_encoder(tiny_models["bert-st"])
    assert emberta.load_encoder(f"{tiny_models['bert-st']}@torch").fingerprint == plain.fingerprint


def spearman_of_static_model(spec: str, sts) -> float:
    """The STS score of a model2vec folder computed with model2vec and scipy, not through emberta."""
    from model2vec import StaticModel
    from scipy.stats import spearmanr

    rows = [json.loads(line) for line in sts.read_text().splitlines()]
    model = StaticModel.from_pretrained(spec.removeprefix("static:").removesuffix("@torch"))
    a, b = (model.encode([r[k] for r in rows]) for k in ("sentence1", "sentence2"))
    cosines = (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return float(spearmanr(cosines, [r["score"] for r in rows]).statistic)


def test_eval_compares_models_dedupes_and_measures_costs(static_models, tmp_path):
    first, second = (f"static:{f}" for f in static_models)
    out = tmp_path / "results"
    result = runner.invoke(app, ["eval", "-m", first, "-m", f"{first}@torch", "-m", second, "--task-type", "sts",
                                 "--file", str(sts_file(tmp_path)), "--output-dir", str(out), "--no-cache",
                                 "--report", str(out / "report.html")])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"{first}@torch: same fingerprint as {first}" in result.stderr and "evaluated once" in result.stderr
    assert "comparison: main scores (x100)" in result.stdout and "texts/s" in result.stdout
    assert "static-bert" in result.stdout and "static-roberta" in result.stdout  # column headers
    metas = sorted(out.rglob("model_meta.json"))
    assert len(metas) == 2 and (out / "report.html").is_file()
    for meta_file in metas:
        meta = json.loads(meta_file.read_text())
        task = json.loads((meta_file.parent / "mysts.json").read_text())
        assert meta["revision"] == meta_file.parent.name and meta["name"]  # what MTEB's loader reads
        expected = spearman_of_static_model(meta["emberta"]["spec"], sts_file(tmp_path))  # computed here, apart
        assert task["scores"]["test"][0]["main_score"] == pytest.approx(expected, abs=1e-6)
        costs = meta["emberta"]["costs"]
        assert costs["dim"] in (8, 16) and costs["bytes_per_vector"] == 4 * costs["dim"]
        assert costs["texts_per_second"] > 0 and costs["first_vector_seconds"] > 0 and costs["peak_memory_bytes"] > 0
        assert costs["parameters"] > 0 and meta["emberta"]["versions"]["emberta"] == emberta.__version__
        assert meta["emberta"]["machine"]["cores"] >= 1


def test_eval_compares_torch_models_without_costs(tiny_models, tmp_path):
    out = tmp_path / "results"
    result = runner.invoke(app, ["eval", "-m", str(tiny_models["bert-st"]), "-m", str(tiny_models["roberta-st"]),
                                 "--task-type", "sts", "--file", str(sts_file(tmp_path)), "--output-dir", str(out),
                                 "--no-cache", "--no-costs", "--quiet"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "tiny-bert-st" in result.stdout and "tiny-roberta-st" in result.stdout and "texts/s" not in result.stdout
    metas = [json.loads(p.read_text()) for p in out.rglob("model_meta.json")]
    assert len(metas) == 2 and all(m["emberta"]["costs"] is None for m in metas)


def test_eval_compare_bad_input_exits_2(tiny_models, tmp_path):
    cases = [
        (["-m", "default@onnx-int4"], "unknown variant 'onnx-int4'"),
        (["-m", f"{tiny_models['bert-st']}@onnx", "--backend", "openvino"], "names the onnx backend"),
        (["--report", str(tmp_path / "missing" / "r.html")], "directory"),
        (["-m", str(tmp_path / "no-such-model")], "no such folder"),
    ]
    for args, message in cases:
        common = ["--task-type", "sts", "--file", str(sts_file(tmp_path)), "--output-dir", str(tmp_path / "r")]
        result = runner.invoke(app, ["eval", "-m", str(tiny_models["bert-st"]), *args, *common, "--no-cache"])
        assert result.exit_code == 2, (args, result.output)
        assert message in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "r").exists()


def _result(task: str, task_type: str, subsets: dict[str, float]) -> TaskResult:
    rows = [SubsetScores(name, [], {"main_score": value}) for name, value in subsets.items()]
    return TaskResult(task, task_type, "main_score", "test", rows, 0.0, {})


def test_published_columns_equal_the_reference_file(data_dir):
    reference = json.loads((data_dir / "REFERENCE_MODELS.json").read_text(encoding="utf-8"))
    from emberta.tasks.published import published_scores

    assert published_scores() == reference  # the package data is MTEB's file as it is
    minilm = reference["models"]["sentence-transformers/all-MiniLM-L6-v2"]
    local = [
        _result(task, reference["tasks"][task]["type"], {s: 0.5 for s in minilm[task]["main_score"]})
        for task in ("STSBenchmark", "STSBenchmarkMultilingualSTS", "Tatoeba", "Banking77Classification")
    ]
    local.append(_result("MyOwnTask", "STS", {"default": 0.4}))
    table = compare_results([column_from_results("mine", local)], local, published=True)
    published = {c.name: c for c in table.columns if c.published}
    assert set(published) == set(reference["models"]) and all(c.costs is None for c in published.values())
    for model, tasks in reference["models"].items():
        for row in table.task_rows:
            value = row.values[table.columns.index(published[model])]
            wanted = next(r for r in local if r.task_name == row.label)
            subsets = [s.hf_subset for s in wanted.subsets]
            scores = tasks.get(row.label, {}).get("main_score", {})
            if row.label in tasks and all(s in scores for s in subsets):
                assert value == pytest.approx(100 * np.mean([scores[s] for s in subsets]))
            else:  # a task MTEB has no number for, or only some of its subsets: no published score
                assert value is None
        assert table.rows[-1].values[table.columns.index(published[model])] is None  # not every task: no mean


def test_the_reference_table_agrees_with_the_published_package_data():
    """references.py (what `eval` prints beside scores) and mteb_published.json (--compare-published) hold the same
    MTEB numbers twice; each MTEB reference must be the package value rounded to 2 decimals."""
    from emberta.tasks.published import published_scores
    from emberta.tasks.references import MTEB, REFERENCES

    models = {name.rsplit("/", 1)[-1]: tasks for name, tasks in published_scores()["models"].items()}
    compared = 0
    for model, references in REFERENCES.items():
        for (task, subset), reference in references.items():
            published = models.get(model, {}).get(task, {}).get("main_score", {})
            if reference.source == MTEB and subset in published:
                rounded = pytest.approx(100 * published[subset], abs=0.005 + 1e-9)  # half a hundredth
                assert reference.value == rounded, (model, task, subset)
                compared += 1
    assert compared >= 30
