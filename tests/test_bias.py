"""`emberta.analyze.bias_tests` and `emberta bias` take WEAT/SEAT test names and find the files themselves;
bias_tests also takes pathlib.Path test files as they are."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from emberta.analyze import bias_tests
from emberta.cli.main import app
from emberta.errors import InputError, OptionError


def test_bias_tests_by_name_in_the_data_dir(tiny_models, data_dir):
    rows = bias_tests(tiny_models["bert"], "weat6, sent-weat7", data_dir=data_dir, permutations=100)
    assert [r["test"] for r in rows] == ["weat6", "sent-weat7"]
    assert all(-2 <= r["effect_size"] <= 2 and 0 <= r["p_value"] <= 1 for r in rows)
    assert [r["test"] for r in bias_tests(tiny_models["bert"], ["weat7"], data_dir=data_dir, permutations=100)] == [
        "weat7"
    ]


def test_test_files_are_checked_before_the_model_loads(tmp_path):
    (tmp_path / "weat_seat").mkdir()
    with pytest.raises(InputError, match="no such file"):
        bias_tests(tmp_path / "no-model", "missing", data_dir=tmp_path)


def test_no_test_named(tiny_models, tmp_path):
    with pytest.raises(OptionError, match="no bias test named"):
        bias_tests(tiny_models["bert"], " , ", data_dir=tmp_path)
    result = CliRunner().invoke(
        app, ["bias", "-m", str(tiny_models["bert"]), "--data-dir", str(tmp_path), "--tests", ","]
    )
    assert result.exit_code == 2 and result.stderr.startswith("error: no bias test named")


def test_path_entries_are_test_files_used_as_they_are(tiny_models, data_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("EMBERTA_DATA", raising=False)
    mine = tmp_path / "my.jsonl"
    words = {"targ1": ["rose", "tulip"], "targ2": ["ant", "wasp"], "attr1": ["love", "peace"], "attr2": ["war", "hate"]}
    mine.write_text(json.dumps({key: {"category": key, "examples": examples} for key, examples in words.items()}))
    rows = bias_tests(tiny_models["bert"], [mine], permutations=100)
    assert [r["test"] for r in rows] == ["my"] and rows[0]["targets"] == "targ1 vs targ2"
    assert [r["test"] for r in bias_tests(tiny_models["bert"], mine, permutations=100)] == ["my"]
    mixed = bias_tests(tiny_models["bert"], ["weat6", mine, "weat7,weat8"], data_dir=data_dir, permutations=100)
    assert [r["test"] for r in mixed] == ["weat6", "my", "weat7", "weat8"]
    with pytest.raises(InputError, match=r"missing\.jsonl: no such file"):
        bias_tests(tmp_path / "no-model", [tmp_path / "missing.jsonl"])
