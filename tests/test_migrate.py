"""`emberta index migrate`: queries answered through the adapter from the start and by the new model after the
swap, readers following both; a migration killed with SIGKILL and resumed (no document lost or doubled); the
refusals (locked index, a second migration, an adapter of other models, writes and compaction while
migrating)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from typer.testing import CliRunner

import emberta
from emberta.align import Adapter, fit_pairs
from emberta.cli.main import app
from emberta.index import Index
from emberta.index.migrate import migrate_index

TOPICS = zip(["cats", "dogs", "rain", "maths", "music", "trains"] * 10, ["red", "blue", "green"] * 20, strict=True)
TEXTS = [f"document {i} is about {w} and {v}" for i, (w, v) in enumerate(TOPICS)]
runner = CliRunner()


@pytest.fixture
def old_index(tiny_models, tmp_path):
    encoder = emberta.load_encoder(tiny_models["bert-st"])
    path = tmp_path / "idx"
    with Index.create(path, model=str(tiny_models["bert-st"]), encoder=encoder, ann="flat") as index:
        index.add(TEXTS, [f"d{i}" for i in range(len(TEXTS))], [{"n": i} for i in range(len(TEXTS))])
    return path


def documents(path):
    with Index.open(path) as index:
        live = index.store.documents(np.sort(index.store.live_slots()))
        return sorted((doc_id, text, json.dumps(meta)) for doc_id, text, meta in live.values())


def test_migration_serves_queries_throughout_and_swaps_in(old_index, tiny_models):
    new_model = emberta.load_encoder(tiny_models["roberta-st"])
    before = documents(old_index)
    reader = Index.open(old_index)  # a long-running reader, opened before the migration
    assert len(reader.search("cats", 5)) == 5
    seen = []

    def search_now(*_):
        time.sleep(0.06)  # readers look for a replaced folder at most every 50 ms
        hits = reader.search("dogs and red", 5)
        seen.append((reader.migration is not None, len(hits)))

    final = migrate_index(old_index, str(tiny_models["roberta-st"]), encoder=new_model, fit_on=50, block=16,
                          on_start=search_now, on_progress=search_now)  # fmt: skip
    assert final["documents"] == len(TEXTS)
    assert seen and all(migrating and n == 5 for migrating, n in seen)  # the adapter answered every query
    search_now()
    assert seen[-1] == (False, 5) and reader.config["fingerprint"] == new_model.fingerprint
    reader.close()
    assert documents(old_index) == before
    with Index.open(old_index, writable=True) as index:
        assert index.info()["migration"] is None and index.config["migrated_from"]["encoder"]["spec"]
        stored = np.asarray(index.vectors.view(index.slots))  # the fitting sample's vectors reused, the rest encoded
        texts = [index.get(f"d{i}").text for i in range(len(TEXTS))]
        encoded = new_model.encode(texts, prompt_name=index.config["encoder"]["document_prompt_name"])
        order = [index.store.slot_of(f"d{i}") for i in range(len(TEXTS))]
        np.testing.assert_allclose(stored[order], index.prepare(encoded), atol=1e-5)
        query = new_model.encode(["cats"], prompt_name=index.config["encoder"]["query_prompt_name"])
        np.testing.assert_allclose(index.embed(["cats"], query=True), index.prepare(query), atol=1e-6)
        index.add(["a new document"], ["new"])  # writes work again
    assert not list(old_index.parent.glob(".idx.*"))


def test_killed_migration_resumes_without_losing_or_doubling(old_index, tiny_models):
    before = documents(old_index)
    env = {**os.environ, "EMBERTA_CRASH_POINT": "committed:3"}
    command = [sys.executable, "-m", "emberta.cli.main", "index", "migrate", str(old_index), "--to-model",
               str(tiny_models["roberta-st"]), "--fit-on", "40", "--block", "8", "-q"]  # fmt: skip
    killed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr
    info = json.loads(runner.invoke(app, ["index", "info", str(old_index)]).stdout)
    assert info["migration"]["re_encoded"] == 24 and info["migration"]["documents"] == len(TEXTS)
    result = runner.invoke(app, ["search", str(old_index), "cats", "-k", "3"])  # through the adapter
    assert result.exit_code == 0 and len(result.stdout.splitlines()) == 3, result.output
    extra = old_index.parent / "extra.jsonl"
    extra.write_text('{"id": "x", "text": "more"}\n')
    refused = runner.invoke(app, ["index", "add", str(old_index), str(extra)])
    assert refused.exit_code == 2 and "is migrating to" in refused.stderr
    compact = runner.invoke(app, ["index", "compact", str(old_index)])
    assert compact.exit_code == 2 and "is migrating to" in compact.stderr
    other = runner.invoke(app, ["index", "migrate", str(old_index), "--to-model", str(tiny_models["bert"])])
    assert other.exit_code == 2 and "already migrating" in other.stderr
    resumed = runner.invoke(app, ["index", "migrate", str(old_index), "--to-model", str(tiny_models["roberta-st"]),
                                  "-q"])  # fmt: skip
    assert resumed.exit_code == 0, resumed.output
    assert documents(old_index) == before  # every document once, with its metadata
    with Index.open(old_index) as index:
        assert index.slots == len(TEXTS) and index.info()["migration"] is None


def test_migration_refusals(old_index, tiny_models, tmp_path):
    target = str(tiny_models["roberta-st"])
    with Index.open(old_index, writable=True):
        locked = runner.invoke(app, ["index", "migrate", str(old_index), "--to-model", target])
    assert locked.exit_code == 2 and "index is locked" in locked.stderr
    same = runner.invoke(app, ["index", "migrate", str(old_index), "--to-model", str(tiny_models["bert-st"])])
    assert same.exit_code == 2 and "nothing to migrate" in same.stderr
    rng = np.random.default_rng(0)
    transform, _ = fit_pairs(rng.standard_normal((80, 32)), rng.standard_normal((80, 32)), held_out=0)
    side = {"name": "other", "spec": "other", "dim": 32}
    Adapter(transform, {**side, "fingerprint": "a" * 64}, {**side, "fingerprint": "b" * 64}, "procrustes").save(
        tmp_path / "adapter"
    )
    wrong = runner.invoke(app, ["index", "migrate", str(old_index), "--to-model", target, "--adapter",
                                str(tmp_path / "adapter")])  # fmt: skip
    assert wrong.exit_code == 2 and "not of the new model" in wrong.stderr
    assert not (old_index / "migration").exists()
    cancel = runner.invoke(app, ["index", "migrate", str(old_index), "--cancel"])
    assert cancel.exit_code == 0 and "no migration under way" in cancel.stdout
