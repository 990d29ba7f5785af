"""Cross-model adapters (scikit-learn checks, planted maps recovered, exact save/load), `emberta.align` (held-out
quality, fingerprints) and `emberta align fit` on tiny models and on vector files, with its bad inputs."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks
from typer.testing import CliRunner

from emberta.align import Adapter, fit_pairs, mapping_quality
from emberta.cli.main import app
from emberta.errors import OptionError
from emberta.io.vectors import write_vectors
from emberta.transforms import LowRankAffine, Procrustes, ResidualMLP, load_transforms, save_transforms

RNG = np.random.default_rng(0)
SOURCE = RNG.standard_normal((300, 12)).astype(np.float32)
ROTATION = np.linalg.qr(RNG.standard_normal((12, 12)))[0]
TARGET = (SOURCE @ ROTATION + 0.5).astype(np.float32)
TEXTS = [f"text number {i} about {w}" for i, w in enumerate(["cats", "dogs", "rain", "maths", "music"] * 12)]
runner = CliRunner()


@parametrize_with_checks([Procrustes(), Procrustes(dims="pca"), LowRankAffine(rank=2), ResidualMLP(8, max_iter=20)])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_procrustes_and_affine_recover_a_planted_map():
    for adapter in (Procrustes(), LowRankAffine(rank=None), ResidualMLP(hidden=16)):
        mapped = adapter.fit(SOURCE, TARGET).transform(SOURCE)
        assert mapped.dtype == np.float32
        np.testing.assert_allclose(mapped, TARGET, atol=0.05 if isinstance(adapter, ResidualMLP) else 1e-3)
    scaled = Procrustes(scale=True).fit(SOURCE, 3 * SOURCE @ ROTATION)
    assert scaled.scale_ == pytest.approx(3, rel=1e-4)


def test_different_widths_by_padding_and_by_pca():
    wide = np.hstack([TARGET, RNG.standard_normal((300, 4)).astype(np.float32) * 0.01])
    assert Procrustes().fit(SOURCE, wide).transform(SOURCE).shape == (300, 16)
    narrow = Procrustes(dims="pca").fit(wide, SOURCE).transform(wide)
    assert narrow.shape == (300, 12) and mapping_quality(narrow, SOURCE)["top1"] > 0.9


def test_too_few_pairs_are_refused_with_the_number_needed():
    with pytest.raises(ValueError, match=r"needs at least 12 pairs here, got 8.*LowRankAffine"):
        Procrustes().fit(SOURCE[:8], TARGET[:8])
    with pytest.raises(OptionError, match="needs at least 13 pairs"):
        fit_pairs(SOURCE[:10], TARGET[:10], "affine", held_out=0)
    assert LowRankAffine(rank=4).fit(SOURCE[:8], TARGET[:8]).matrix_.shape == (12, 12)


def test_save_and_load_give_the_same_map(tmp_path):
    for number, adapter in enumerate((Procrustes(), LowRankAffine(rank=3), ResidualMLP(hidden=8, max_iter=20))):
        fitted = adapter.fit(SOURCE, TARGET)
        loaded = load_transforms(save_transforms([fitted], tmp_path / str(number)))[0]
        np.testing.assert_array_equal(loaded.transform(SOURCE), fitted.transform(SOURCE))


def test_fit_pairs_reports_held_out_quality_and_cost():
    _, report = fit_pairs(SOURCE, TARGET, "procrustes")
    assert report["held_out"] == 60 and report["quality"]["mean_cosine"] > 0.999
    assert report["quality"]["top1"] == 1.0 and report["quality"]["neighbour_overlap"] > 0.99
    assert report["without_adapter"]["mean_cosine"] < 0.9  # the rotation matters
    assert report["microseconds_per_query"]["single"] > 0


def test_adapter_refuses_vectors_of_another_model(tmp_path):
    transform, _ = fit_pairs(SOURCE, TARGET, "procrustes")
    side = {"name": "m", "spec": "m", "dim": 12}
    adapter = Adapter(transform, {**side, "fingerprint": "a" * 64}, {**side, "fingerprint": "b" * 64}, "procrustes")
    loaded = Adapter.load(adapter.save(tmp_path / "adapter"))
    np.testing.assert_array_equal(loaded.map(SOURCE, "a" * 64), adapter.map(SOURCE))
    with pytest.raises(OptionError, match="fit an adapter for that model"):
        loaded.map(SOURCE, "c" * 64)
    with pytest.raises(OptionError, match=r"takes \(n, 12\)"):
        loaded.map(SOURCE[:, :5])


def test_align_fit_on_two_tiny_models(tiny_models, tmp_path):
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(TEXTS) + "\n")
    out = tmp_path / "adapter"
    result = runner.invoke(app, ["align", "fit", "--source", str(tiny_models["roberta-st"]), "--target",
                                 str(tiny_models["bert-st"]), "--texts", str(texts), "--method", "affine",
                                 "--rank", "8", "--out", str(out), "--no-cache", "-q"])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["pairs"] == 60 and report["held_out"] == 12 and 0 < report["quality"]["mean_cosine"] <= 1
    adapter = Adapter.load(out)
    assert adapter.source["spec"] == str(tiny_models["roberta-st"]) and adapter.target["dim"] == 32


def test_align_fit_on_vector_files_pairs_rows_by_id(tmp_path):
    ids = [f"d{i}" for i in range(300)]
    write_vectors(tmp_path / "new.npy", SOURCE, ids, metadata={"fingerprint": "a" * 64, "model": "new"})
    order = RNG.permutation(300)
    write_vectors(tmp_path / "old.npy", TARGET[order], [ids[i] for i in order], metadata={"fingerprint": "b" * 64})
    result = runner.invoke(app, ["align", "fit", "--source-vectors", str(tmp_path / "new.npy"), "--target-vectors",
                                 str(tmp_path / "old.npy"), "--out", str(tmp_path / "adapter")])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["quality"]["mean_cosine"] > 0.999  # paired by id despite the other order


@pytest.mark.parametrize(
    ("source_ids", "target_rows", "message"),
    [
        (None, 250, "300 vectors in .* but 250 in"),
        ("ids", 300, "has no ids but the other file has"),
        ("other", 300, "id 'x0' is missing from"),
    ],
)
def test_align_fit_refuses_unpaired_vector_files(tmp_path, source_ids, target_rows, message):
    ids = {"ids": [f"d{i}" for i in range(300)], "other": [f"x{i}" for i in range(300)], None: None}[source_ids]
    write_vectors(tmp_path / "new.npy", SOURCE, ids, metadata={"fingerprint": "a" * 64})
    target_ids = None if source_ids is None or source_ids == "ids" else [f"d{i}" for i in range(target_rows)]
    write_vectors(tmp_path / "old.npy", TARGET[:target_rows], target_ids, metadata={"fingerprint": "b" * 64})
    result = runner.invoke(app, ["align", "fit", "--source-vectors", str(tmp_path / "new.npy"), "--target-vectors",
                                 str(tmp_path / "old.npy"), "--out", str(tmp_path / "adapter")])  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and re.search(message, result.stderr), result.stderr
    assert not (tmp_path / "adapter").exists()


def test_remove_language_directions_takes_out_the_language_means():
    from emberta.transforms import RemoveLanguageDirections

    languages = np.array(["de", "en", "fr"] * 100)
    shift = {"de": 4.0, "en": -4.0, "fr": 0.0}
    x = SOURCE + np.array([shift[g] for g in languages])[:, None] * ROTATION[0]
    removed = RemoveLanguageDirections(1).fit(x, languages).transform(x)
    means = np.stack([removed[languages == g].mean(axis=0) for g in ("de", "en", "fr")])
    assert np.abs(means - means.mean(axis=0)).max() < 0.3  # the three languages' means now coincide
    with pytest.raises(ValueError, match=r"must lie in 1\.\.2 for 3 languages"):
        RemoveLanguageDirections(3).fit(x, languages)


def multilingual_file(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_align_languages_reports_before_and_after_and_saves_transforms(tiny_models, tmp_path):
    rows = [{"text": f"{w} {i}", "lang": lang, "group": str(i)}
            for i in range(20) for lang, w in (("en", "cat dog"), ("de", "Katze Hund"))]  # fmt: skip
    texts = multilingual_file(tmp_path / "multi.jsonl", rows)
    out = tmp_path / "neutral"
    result = runner.invoke(app, ["align", "languages", "--model", str(tiny_models["bert-st"]), "--texts", str(texts),
                                 "--method", "center+remove:1", "--out", str(out), "--no-cache"])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["rows"] == {"fit": 20, "measured": 20}
    assert set(report["before"]["bitext_accuracy"]) == {"de->en", "en->de"}
    assert report["after"]["language_probe"]["chance"] == 0.5
    assert [type(t).__name__ for t in load_transforms(out)] == ["LanguageCenter", "RemoveLanguageDirections"]


@pytest.mark.parametrize(
    ("rows", "option", "message"),
    [
        ([{"text": "a", "lang": "en"}, {"text": "b"}], [], r"multi\.jsonl:2: no 'lang' field"),
        ([{"text": "a", "lang": "en"}, {"text": "b", "lang": "en"}], [], "1 language.*at least two"),
        ([{"text": "a", "lang": "en"}, {"text": "b", "lang": "de"}], ["--method", "remove:x"], "unknown method"),
    ],
)
def test_align_languages_bad_input(tmp_path, rows, option, message):
    texts = multilingual_file(tmp_path / "multi.jsonl", rows)
    result = runner.invoke(app, ["align", "languages", "--texts", str(texts), "--out", str(tmp_path / "o"), *option])
    assert result.exit_code == 2 and re.search(message, result.stderr), result.stderr
    assert not (tmp_path / "o").exists()
