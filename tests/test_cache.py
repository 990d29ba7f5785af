"""The embedding cache: a file of the old schema (key column `text`) keeps its vectors, whether it is opened as
the cache itself (renamed in place) or found beside the default cache (copied in, left unchanged for older
emberta versions)."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

import emberta
from emberta.cache import CACHE_FILE, LEGACY_CACHE_FILE, EmbeddingStore

TEXTS = ["the cat sat on the mat", "dogs bark loudly"]


@pytest.fixture(scope="module")
def encoder(tiny_models):
    return emberta.load_encoder(tiny_models["bert-st"])


def legacy_cache(path, encoder) -> np.ndarray:
    """A cache file as emberta wrote it before the key column was renamed; returns the vectors it holds."""
    with EmbeddingStore(path) as store:
        vectors = store.encode(encoder, TEXTS)
    with sqlite3.connect(path) as db:
        db.execute("ALTER TABLE vectors RENAME COLUMN text_sha256 TO text")
        db.execute("PRAGMA user_version = 0")
    return vectors


def columns(path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {row[1] for row in db.execute("PRAGMA table_info(vectors)")}


def test_an_old_cache_file_opened_as_the_cache_is_renamed_in_place(encoder, tmp_path):
    expected = legacy_cache(tmp_path / "old.sqlite", encoder)
    with EmbeddingStore(tmp_path / "old.sqlite") as store:
        np.testing.assert_array_equal(store.encode(encoder, TEXTS), expected)
        assert (store.encoded, store.hits) == (0, 2)
    assert "text_sha256" in columns(tmp_path / "old.sqlite")


def test_the_default_cache_copies_an_old_file_once_and_leaves_it_unchanged(encoder, tmp_path, monkeypatch):
    monkeypatch.setenv("EMBERTA_CACHE", str(tmp_path))
    expected = legacy_cache(tmp_path / LEGACY_CACHE_FILE, encoder)
    for _ in range(2):  # the second open finds the file set up and copies nothing again
        with EmbeddingStore.default() as store:
            np.testing.assert_array_equal(store.encode(encoder, TEXTS), expected)
            assert (store.encoded, store.hits) == (0, 2)
    assert store.path == tmp_path / CACHE_FILE
    assert "text" in columns(tmp_path / LEGACY_CACHE_FILE)  # older versions still read their file
