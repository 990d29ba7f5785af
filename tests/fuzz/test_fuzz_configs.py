"""Configs emberta reads back: training configs (JSON and YAML, TrainConfig.from_file and its check), saved
transform pipelines (transforms.json and its arrays, load_transforms) and an index's index.json (read_config).
Valid files with values replaced by random JSON, keys added or dropped, bytes damaged, load or raise an
EmbertaError naming the file (TrainConfig.check's option errors name the option); never another exception."""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import yaml
from fuzz_support import budget, damaged, tried
from hypothesis import given
from hypothesis import strategies as st

from emberta.errors import EmbertaError, OptionError

words = st.text(max_size=6) | st.sampled_from(["", "mnrl", "2d", "STS12", "\x00"])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | words,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(words, inner, max_size=3),
    max_leaves=6,
)


@st.composite
def mutated(draw, document: dict) -> dict:
    """`document` with a few values replaced by random JSON (nested keys included), keys added or dropped."""
    document = json.loads(json.dumps(document))
    for _ in range(draw(st.integers(0, 3))):
        target = document
        while isinstance(target, dict) and target and draw(st.booleans()):
            inner = target[draw(st.sampled_from(sorted(target)))]
            if not isinstance(inner, dict):
                break
            target = inner
        if not isinstance(target, dict):
            continue
        kind = draw(st.sampled_from(["replace", "add", "drop"]))
        if kind == "add" or not target:
            target[draw(words)] = draw(json_values)
        elif kind == "replace":
            target[draw(st.sampled_from(sorted(target)))] = draw(json_values)
        else:
            del target[draw(st.sampled_from(sorted(target)))]
    return document


def file_bytes(document: object, draw, as_yaml: bool = False) -> bytes:
    data = (yaml.safe_dump(document) if as_yaml else json.dumps(document)).encode()
    return draw(damaged(data)) if draw(st.booleans()) else data


def check_named(call, where: Path):
    try:
        return call()
    except EmbertaError as exc:
        message = str(exc)
        assert message.startswith(str(where)) and "\n" not in message, message
        return None


# ---- training configs ---------------------------------------------------------------------------------------
@budget(0.5)
@given(st.booleans(), st.booleans(), st.data())
def test_train_config_loads_or_names_the_file(as_yaml, wrapped, data):
    from emberta.train.config import TrainConfig

    tried("configs.train" + (".yaml" if as_yaml else ".json"))
    values = TrainConfig(data=["pairs.jsonl"], out="run", matryoshka_dims=[64, 32]).to_dict()
    document = data.draw(mutated({"config": values, "summary": {}} if wrapped else values))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ("config.yaml" if as_yaml else "emberta-train.json")
        path.write_bytes(file_bytes(document, data.draw, as_yaml))
        config = check_named(lambda: TrainConfig.from_file(path), path)
        if config is not None:
            with contextlib.suppress(OptionError):
                config.check()


# ---- saved transform pipelines --------------------------------------------------------------------------------
@cache
def saved_pipeline() -> Path:
    """A fitted center + whiten + int8 pipeline saved once in a temporary folder."""
    from emberta.transforms import parse_config, save_transforms

    vectors = np.random.default_rng(0).normal(size=(40, 6)).astype(np.float32)
    fitted = parse_config("center+whiten:4+int8").fit(vectors)
    return save_transforms([*fitted.transforms, fitted.quantizer], Path(tempfile.mkdtemp(prefix="emberta-fuzz-")) / "t")


@budget(0.5)
@given(st.data())
def test_transforms_folder_loads_or_names_the_file(data):
    from emberta.transforms.pipeline import load_transforms

    tried("configs.transforms")
    source = saved_pipeline()
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "transform"
        shutil.copytree(source, target)
        spec = json.loads((target / "transforms.json").read_text())
        (target / "transforms.json").write_bytes(file_bytes(data.draw(mutated(spec)), data.draw))
        arrays = sorted(p for p in target.iterdir() if p.suffix == ".npy")
        if data.draw(st.booleans()):
            array = data.draw(st.sampled_from(arrays))
            array.write_bytes(data.draw(damaged(array.read_bytes())))
        check_named(lambda: load_transforms(target), target)


# ---- index.json -----------------------------------------------------------------------------------------------
def new_index_config() -> dict:
    from emberta.index.layout import new_config

    ann = {"kind": "hnsw", "m": 32, "ef_construction": 200, "ef_search": 64}
    return new_config({"spec": "default", "options": {}}, "fingerprint", 384, ann, transform=False)


@budget(0.5)
@given(st.data())
def test_index_json_reads_or_names_the_file(data):
    from emberta.index.layout import read_config

    tried("configs.index_json")
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "index.json").write_bytes(file_bytes(data.draw(mutated(new_index_config())), data.draw))
        check_named(lambda: read_config(Path(folder)), Path(folder))


@pytest.mark.parametrize("content", ["[" * 5000 + "]" * 5000, '{"format_version": ' + "1" * 5000 + "}"])
def test_index_json_nested_too_deeply_or_overlong_number(tmp_path, content):
    from emberta.index.layout import read_config

    (tmp_path / "index.json").write_text(content)
    with pytest.raises(EmbertaError, match=r"index\.json"):
        read_config(tmp_path)
