"""emberta.index: adding, upserting, deleting, dense/BM25/hybrid search with filters, quantized and factory
ANN structures, locking, readers following a writer, damage detection and repair."""

from __future__ import annotations

import json

import numpy as np
import pytest

from emberta.errors import EmbertaError, InputError, OptionError
from emberta.index import DuplicateIdError, FilterError, Index, IndexLockedError
from emberta.index.maintenance import check_index, repair_index

DIM = 32
FP = "f" * 64
LANGS = ["en", "de", "fr", "nl", "sv"]


def corpus(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(20, DIM))
    vectors = (centers[rng.integers(0, 20, n)] + 0.7 * rng.normal(size=(n, DIM))).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [f"d{i}" for i in range(n)]
    words = ["apple", "banana", "cherry", "delta", "echo", "foxtrot", "golf", "hotel"]
    texts = [f"{words[i % 8]} {words[(i * 3) % 8]} number {i}" for i in range(n)]
    meta = [{"lang": LANGS[i % 5], "year": 1990 + i % 37, "rare": i % 200 == 0, "group": i % 1000} for i in range(n)]
    return vectors, ids, texts, meta


def make_index(path, n=3000, **create):
    vectors, ids, texts, meta = corpus(n)
    index = Index.create(path, model=None, dim=DIM, fingerprint=FP, **create)
    index.add(texts, ids, meta, vectors=vectors, fingerprint=FP)
    return index, vectors


def exact_top(vectors, query, k, mask=None):
    scores = vectors @ query
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    order = np.argsort(-scores, kind="stable")[:k]
    return [f"d{i}" for i in order if np.isfinite(scores[i])]


def test_flat_search_is_exact_and_scores_are_cosines(tmp_path):
    index, vectors = make_index(tmp_path / "idx", n=500, ann="flat")
    query = vectors[17]
    hits = index.search(query, 5)
    assert [h.id for h in hits] == exact_top(vectors, query, 5)
    assert hits[0].id == "d17" and hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert hits[0].metadata == {"lang": "fr", "year": 2007, "rare": False, "group": 17}


def test_hnsw_recall_against_exact(tmp_path):
    index, vectors = make_index(tmp_path / "idx", n=3000, ann_params={"flat_below": 0})
    assert index.info()["ann"]["structure"] == "IndexHNSWFlat"
    rng = np.random.default_rng(5)
    recall = []
    for q in rng.integers(0, 3000, 40):
        query = vectors[q] + 0.3 * rng.normal(size=DIM).astype(np.float32)
        query /= np.linalg.norm(query)
        truth = set(exact_top(vectors, query, 10))
        recall.append(len(truth & {h.id for h in index.search(query, 10)}) / 10)
    assert np.mean(recall) >= 0.95


@pytest.mark.parametrize("expr", ["lang = 'de'", "year >= 2020 and lang in ('en', 'fr')", "rare = true", "group = 7"])
def test_filtered_search_returns_k_exact_hits_whenever_k_pass(tmp_path, expr):
    index, vectors = make_index(tmp_path / "idx", n=3000, ann_params={"flat_below": 0, "ef_search": 16})
    from emberta.index.filters import evaluate, parse_filter

    mask = evaluate(parse_filter(expr, index.store.fields()), index.snapshot().columns)
    passing = int(mask.sum())
    for q in (0, 1234, 2999):
        hits = index.search(vectors[q], 10, filter=expr)
        assert len(hits) == min(10, passing)
        for hit in hits:
            assert mask[int(hit.id[1:])]
        # with every filter the result is (nearly) the exact filtered top-k
        truth = exact_top(vectors, vectors[q], 10, mask)
        assert len(set(truth) & {h.id for h in hits}) >= 0.9 * len(truth)


def test_filter_with_no_match_and_filter_errors(tmp_path):
    index, vectors = make_index(tmp_path / "idx", n=300)
    assert index.search(vectors[0], 5, filter="lang = 'xx'") == []
    with pytest.raises(FilterError, match="unknown field 'colour'"):
        index.search(vectors[0], 5, filter="colour = 'red'")
    with pytest.raises(FilterError, match="column 6"):
        index.search(vectors[0], 5, filter="lang ! 'en'")


def test_bm25_and_hybrid(tmp_path):
    index, vectors = make_index(tmp_path / "idx", n=400)
    hits = index.search("cherry", 50, mode="bm25")
    assert hits and all("cherry" in h.text for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    filtered = index.search("cherry", 50, mode="bm25", filter="lang = 'fr'")
    assert filtered and all(h.metadata["lang"] == "fr" and "cherry" in h.text for h in filtered)
    assert index.search("zzzz", 5, mode="bm25") == []
    assert index.search("number 17", 1, mode="bm25")[0].id == "d17"
    with pytest.raises(OptionError, match="needs a text query"):
        index.search(vectors[0], 5, mode="hybrid")
    with pytest.raises(OptionError, match="unknown search mode"):
        index.search("x", 5, mode="sparse")


def test_hybrid_fuses_both_rankings(tmp_path, tiny_models):
    index = Index.create(tmp_path / "idx", model=str(tiny_models["bert-st"]))
    texts = ["the cat sat on the mat", "dogs bark loudly", "a kitten sleeps", "stock markets fell", "cat food prices"]
    index.add(texts, [f"t{i}" for i in range(5)])
    hybrid = index.search("cat", 5, mode="hybrid")
    bm25 = [h.id for h in index.search("cat", 5, mode="bm25")]
    dense = [h.id for h in index.search("cat", 5, mode="dense")]
    assert set(bm25) <= {h.id for h in hybrid}
    assert {h.id for h in hybrid} <= set(bm25) | set(dense)
    only_dense = [h.id for h in index.search("cat", 5, mode="hybrid", weights=(1.0, 0.0))]
    assert only_dense == dense


def test_duplicates_upsert_and_delete(tmp_path):
    index, vectors = make_index(tmp_path / "idx", n=100, ann="flat")
    with pytest.raises(DuplicateIdError, match="'d5' is already in the index"):
        index.add(["new"], ["d5"], vectors=vectors[:1], fingerprint=FP)
    with pytest.raises(DuplicateIdError, match="twice in one batch"):
        index.add(["a", "b"], ["x", "x"], vectors=vectors[:2], fingerprint=FP, where=["f.jsonl:1", "f.jsonl:2"])
    assert len(index) == 100
    result = index.add(["replaced"], ["d5"], [{"lang": "xx"}], vectors=vectors[50:51], fingerprint=FP, upsert=True)
    assert result == {"added": 0, "replaced": 1}
    assert index.get("d5").text == "replaced" and len(index) == 100
    assert [h.id for h in index.search(vectors[50], 2)] in (["d50", "d5"], ["d5", "d50"])
    assert [h.id for h in index.search(vectors[5], 1, filter="lang = 'xx'")] == ["d5"]
    assert index.delete(["d50", "d51"]) == 2
    assert "d50" not in {h.id for h in index.search(vectors[50], 10)}
    assert index.search("number 51", 5, mode="bm25")[0].id != "d51"
    with pytest.raises(InputError, match="no document with id 'nope'"):
        index.delete(["nope"])
    assert index.delete(["nope"], missing_ok=True) == 0


def test_vectors_of_the_wrong_width_or_encoder_are_refused(tmp_path):
    index, vectors = make_index(tmp_path / "idx", n=50)
    with pytest.raises(InputError, match="another encoder"):
        index.add(["x"], ["new"], vectors=vectors[:1], fingerprint="0" * 64)
    with pytest.raises(InputError, match=r"shape \(1, 16\)"):
        index.add(["x"], ["new"], vectors=vectors[:1, :16], fingerprint=FP)
    with pytest.raises(OptionError, match="fingerprint"):
        index.add(["x"], ["new"], vectors=vectors[:1])
    with pytest.raises(OptionError, match="width 32"):
        index.search(np.zeros(8, dtype=np.float32), 3)
    with pytest.raises(InputError, match="metadata field 'year' is text here but number"):
        index.add(["x"], ["new"], [{"year": "1999"}], vectors=vectors[:1], fingerprint=FP)
    assert len(index) == 50 and index.get("new") is None


def test_one_writer_many_readers(tmp_path):
    index, vectors = make_index(tmp_path / "idx", n=200, ann="flat")
    with pytest.raises(IndexLockedError, match="index is locked"):
        Index.open(tmp_path / "idx", writable=True)
    reader = Index.open(tmp_path / "idx")
    with pytest.raises(OptionError, match="open for reading"):
        reader.add(["x"], ["y"], vectors=vectors[:1], fingerprint=FP)
    assert reader.get("late") is None
    seen = reader.snapshot().generation
    index.add(["late"], ["late"], [{"lang": "zz"}], vectors=vectors[7:8] * -1, fingerprint=FP)
    assert reader.snapshot(max_age=3600).generation == seen  # a reader looks for new writes at most every max_age
    assert reader.snapshot(max_age=0).generation > seen
    assert [h.id for h in reader.search(-vectors[7], 1)] == ["late"]  # the reader follows committed writes
    assert [h.id for h in reader.search(vectors[0], 3, filter="lang = 'zz'")] == ["late"]
    index.close()
    Index.open(tmp_path / "idx", writable=True).close()  # the lock is released on close


@pytest.mark.parametrize("quantize", ["int8", "binary"])
def test_quantized_indexes_rescore_with_float_vectors(tmp_path, quantize):
    index, vectors = make_index(tmp_path / "idx", n=3000, quantize=quantize, ann_params={"flat_below": 0})
    rng = np.random.default_rng(3)
    recall = []
    for q in rng.integers(0, 3000, 30):
        hits = index.search(vectors[q], 10)
        truth = exact_top(vectors, vectors[q], 10)
        recall.append(len(set(truth) & {h.id for h in hits}) / 10)
        assert hits[0].score == pytest.approx(float(vectors[q] @ vectors[int(hits[0].id[1:])]), abs=1e-5)
    assert np.mean(recall) >= 0.8
    hits = index.search(vectors[0], 10, filter="lang = 'de' and year < 2000")
    assert len(hits) == 10 and all(h.metadata["lang"] == "de" and h.metadata["year"] < 2000 for h in hits)


def test_factory_string_and_bad_ann_options(tmp_path):
    index, vectors = make_index(tmp_path / "ivf", n=3000, ann="IVF16,Flat")
    assert index.info()["ann"]["structure"] == "IndexIVFFlat"
    assert index.search(vectors[3], 1)[0].id == "d3"
    with pytest.raises(OptionError, match="not a FAISS factory string"):
        Index.create(tmp_path / "bad", model=None, dim=DIM, fingerprint=FP, ann="IVFxx,Nope")
    with pytest.raises(OptionError, match="unknown --quantize"):
        Index.create(tmp_path / "bad", model=None, dim=DIM, fingerprint=FP, quantize="int4")
    small = Index.create(tmp_path / "pq", model=None, dim=DIM, fingerprint=FP, ann="IVF64,Flat")
    with pytest.raises(EmbertaError, match="must be trained"):
        small.add(["a"], ["a"], vectors=vectors[:1], fingerprint=FP)
    with pytest.raises(OptionError, match="already exists"):
        Index.create(tmp_path / "ivf", model=None, dim=DIM, fingerprint=FP)


def test_damage_is_detected_on_open_and_repaired(tmp_path):
    path = tmp_path / "idx"
    index, vectors = make_index(path, n=3000, ann_params={"flat_below": 0})
    index.close()
    assert check_index(path) == []
    # a truncated ANN file
    ann = path / "ann.faiss"
    ann.write_bytes(ann.read_bytes()[:1000])
    with pytest.raises(EmbertaError, match=r"ANN file is unreadable.*emberta index repair"):
        Index.open(path)
    assert any("unreadable" in p for p in check_index(path))
    assert repair_index(path) == ["rebuilt ann.faiss from 3000 vectors"]
    assert Index.open(path).search(vectors[9], 1)[0].id == "d9"
    # a deleted ANN file
    ann.unlink()
    with pytest.raises(EmbertaError, match="ANN file is missing"):
        Index.open(path)
    repair_index(path)
    # a missing index.json
    (path / "index.json").unlink()
    with pytest.raises(InputError, match=r"index\.json is missing"):
        Index.open(path)
    assert repair_index(path) == ["restored index.json from docs.sqlite"]
    assert json.loads((path / "index.json").read_text())["counts"]["documents"] == 3000
    # a truncated vector file, without a model to re-encode with
    vec = path / "vectors.f32"
    vec.write_bytes(vec.read_bytes()[: 4 * DIM * 100])
    with pytest.raises(EmbertaError, match="truncated: it holds 100 of 3000"):
        Index.open(path)
    with pytest.raises(InputError, match="without a model"):
        repair_index(path)
    # docs.sqlite gone: nothing to repair from
    (path / "docs.sqlite").unlink()
    with pytest.raises(InputError, match="documents are lost"):
        Index.open(path)


def test_missing_vectors_are_reencoded_from_the_texts(tmp_path, tiny_models):
    path = tmp_path / "idx"
    index = Index.create(path, model=str(tiny_models["roberta-st"]))
    texts = [f"sentence number {i} about topic {i % 7}" for i in range(40)]
    index.add(texts, [f"s{i}" for i in range(40)])
    before = index.search("sentence number 3 about topic 3", 5)
    index.close()
    (path / "vectors.f32").unlink()
    assert any("vectors.f32 is missing" in p for p in check_index(path))
    actions = repair_index(path)
    assert actions[0] == "re-encoded 40 documents whose vectors were missing"
    after = Index.open(path).search("sentence number 3 about topic 3", 5)
    assert [h.id for h in after] == [h.id for h in before]
    assert [h.score for h in after] == pytest.approx([h.score for h in before], abs=1e-5)


def test_text_index_with_a_transform(tmp_path, tiny_models):
    from emberta.encoders import load_encoder
    from emberta.transforms.linear import PCA
    from emberta.transforms.pipeline import save_transforms

    encoder = load_encoder(tiny_models["bert-st"])
    texts = [f"words {i} and more words {i * 7 % 13}" for i in range(60)]
    pca = PCA(n_components=8).fit(encoder.encode(texts, show_progress=False))
    save_transforms([pca], tmp_path / "pca")
    index = Index.create(tmp_path / "idx", model=str(tiny_models["bert-st"]), transform=tmp_path / "pca")
    index.add(texts, metadata=[{"n": i} for i in range(60)])
    assert index.dim == 8 and index.info()["transform"] == "transform"
    stored = np.asarray(index.vectors.view(60))
    expected = pca.transform(encoder.encode(texts, prompt_name="document", show_progress=False))
    np.testing.assert_allclose(stored, expected / np.linalg.norm(expected, axis=1, keepdims=True), atol=1e-5)
    query = index.embed([texts[4]], query=True)[0]
    best = str(int(np.argmax(stored @ query)))
    assert index.search(texts[4], 1)[0].id == best
    assert Index.open(tmp_path / "idx").search(texts[4], 1, filter="n >= 0")[0].id == best


def test_csls_hubness_rescoring_matches_brute_force(tmp_path):
    index, vectors = make_index(tmp_path / "idx", n=400, ann="flat")
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -np.inf)
    r = np.sort(sims, axis=1)[:, -10:].mean(axis=1)
    query = vectors[3] + vectors[200]
    query /= np.linalg.norm(query)
    csls = 2 * (vectors @ query) - r
    hits = index.search(query, 5, hubness="csls")
    shortlist = set(np.argsort(-(vectors @ query))[:50].tolist())
    expected = sorted(shortlist, key=lambda i: -csls[i])[:5]
    assert [h.id for h in hits] == [f"d{i}" for i in expected]
    assert [h.score for h in hits] == pytest.approx([csls[i] for i in expected], abs=1e-4)
    with pytest.raises(OptionError, match="applies to dense"):
        index.search("apple", 5, mode="bm25", hubness="csls")
    with pytest.raises(OptionError, match="unknown hubness"):
        index.search(query, 5, hubness="mp")


def test_compaction_drops_dead_slots_and_keeps_everything_else(tmp_path, tiny_models):
    from emberta.index.maintenance import compact_index

    path = tmp_path / "idx"
    index, vectors = make_index(path, n=300, ann="flat")
    index.delete([f"d{i}" for i in range(0, 300, 3)])
    index.add(["moved"], ["d1"], [{"lang": "xx", "year": 1}], vectors=vectors[2:3], fingerprint=FP, upsert=True)
    before = {h.id: h for h in index.search(vectors[5], 20)}
    filtered = [h.id for h in index.search(vectors[5], 5, filter="lang = 'de'")]
    index.close()
    assert compact_index(path) == {"documents": 200, "slots_before": 301}
    compacted = Index.open(path)
    assert compacted.slots == 200 and len(compacted) == 200 and check_index(path) == []
    after = {h.id: h for h in compacted.search(vectors[5], 20)}
    assert list(after) == list(before)
    assert [h.score for h in after.values()] == pytest.approx([h.score for h in before.values()], abs=1e-6)
    assert [h.id for h in compacted.search(vectors[5], 5, filter="lang = 'de'")] == filtered
    assert compacted.get("d1").text == "moved" and compacted.get("d1").metadata == {"lang": "xx", "year": 1}
    assert compacted.search("moved", 1, mode="bm25")[0].id == "d1"
    assert not any(p.name.startswith(".idx") for p in tmp_path.iterdir())


def test_a_writer_sees_its_own_deletions_at_once(tmp_path):
    index, vectors = make_index(tmp_path / "idx", n=50, ann="flat")
    assert index.search(vectors[3], 1, include=())[0].id == "d3"
    index.delete(["d3"])
    mask = np.arange(50) != 3
    for include in ((), ("text", "metadata")):  # ids from the snapshot, or documents read from SQLite
        assert [h.id for h in index.search(vectors[3], 3, include=include)] == exact_top(vectors, vectors[3], 3, mask)


@pytest.mark.parametrize("expr", [None, "lang = 'en'"])
def test_a_held_snapshot_answers_for_its_own_generation(tmp_path, expr):
    from emberta.index.filters import evaluate, parse_filter
    from emberta.index.search import SearchRequest, hits, rank

    index, vectors = make_index(tmp_path / "idx", n=600, ann_params={"flat_below": 0})
    held = index.snapshot()
    tree = parse_filter(expr, index.store.fields()) if expr else None
    mask = evaluate(tree, held.columns) if tree else None
    query = vectors[5]
    index.add([f"new {i}" for i in range(4)], [f"n{i}" for i in range(4)], [{"lang": "en"}] * 4,
              vectors=np.repeat(query[None], 4, axis=0), fingerprint=FP)  # fmt: skip
    assert held.ann.ntotal == 604 and held.slots == 600  # the structure grew under the held snapshot
    for exact in (False, True):
        request = SearchRequest(k=5, exact=exact, exact_below=0, exact_fraction=0.0)
        scored = rank(held, index.store, request, tree, None, query)
        assert [h.id for h in hits(held, index.store, scored, ())] == exact_top(vectors, query, 5, mask)
    assert LANGS[5 % len(LANGS)] == "en"  # the query is d5's vector as well, and d5 passes the filter
    assert {h.id for h in index.search(query, 5, filter=expr)} == {"d5", "n0", "n1", "n2", "n3"}  # a new snapshot


def test_an_encoder_given_to_open_must_give_the_index_vectors_unless_the_index_may_load_its_own(tmp_path):
    from types import SimpleNamespace

    make_index(tmp_path / "idx", n=10)[0].close()
    other = SimpleNamespace(fingerprint="0" * 64, name="another model")
    with Index.open(tmp_path / "idx", encoder=other) as index, pytest.raises(OptionError, match="no longer gives"):
        index.search("apple", 3)
    fallback = Index.open(tmp_path / "idx", encoder=other, own_encoder_fallback=True)  # its own model: none here
    with fallback as index, pytest.raises(OptionError, match="built from vectors without a model"):
        index.search("apple", 3)


@pytest.fixture(scope="module", params=[None, "int8"])
def batch_index(request, tmp_path_factory):
    """An HNSW index (float or int8 codes) with two deleted documents."""
    path = tmp_path_factory.mktemp("batch") / "idx"
    index, vectors = make_index(path, n=2500, quantize=request.param, ann_params={"flat_below": 0})
    index.delete(["d1", "d7"])
    yield index, vectors
    index.close()


@pytest.mark.parametrize(
    "options",
    [{}, {"filter": "lang = 'de'"}, {"filter": "rare = true"}, {"exact": True}, {"hubness": "csls"},
     {"include": ()}, {"mode": "bm25"}, {"mode": "hybrid"}],
)  # fmt: skip
def test_search_many_answers_each_query_as_search_does(batch_index, options):
    index, vectors = batch_index
    rng = np.random.default_rng(3)
    queries = vectors[rng.integers(0, len(vectors), 12)] + 0.1 * rng.normal(size=(12, DIM)).astype(np.float32)
    texts = [f"banana cherry number {i}" for i in range(12)]
    if options.get("mode") in ("bm25", "hybrid"):
        many = index.search_many(texts, 7, vectors=queries, **options)
        one = [index.search(t, 7, vector=q, **options) for t, q in zip(texts, queries, strict=True)]
    else:
        many = index.search_many(queries, 7, **options)
        one = [index.search(q, 7, **options) for q in queries]
    assert [[h.id for h in hits] for hits in many] == [[h.id for h in hits] for hits in one]
    assert [[h.text for h in hits] for hits in many] == [[h.text for h in hits] for hits in one]
    for a, b in zip(many, one, strict=True):
        np.testing.assert_allclose([h.score for h in a], [h.score for h in b], rtol=1e-5, atol=1e-6)


def test_search_many_without_deletions_takes_one_faiss_call(tmp_path, monkeypatch):
    index, vectors = make_index(tmp_path / "idx", n=600, ann_params={"flat_below": 0})
    one = [index.search(q, 5) for q in vectors[:9]]
    ann = index.snapshot().ann
    calls = []
    search_batch = ann.search_batch
    monkeypatch.setattr(ann, "search_batch", lambda *a, **k: calls.append(1) or search_batch(*a, **k))
    many = index.search_many(vectors[:9], 5)
    assert len(calls) == 1 and [[h.id for h in hits] for hits in many] == [[h.id for h in hits] for hits in one]
    index.close()


def test_search_many_refuses_what_it_cannot_answer(tmp_path):
    index, vectors = make_index(tmp_path / "idx", n=300)
    assert index.search_many([], 3) == [] and index.search_many(vectors[:0], 3) == []
    with pytest.raises(OptionError, match="takes a list of queries"):
        index.search_many("one query", 3)
    with pytest.raises(OptionError, match="not a mix"):
        index.search_many([vectors[0], "text"], 3)
    with pytest.raises(OptionError, match=r"this index takes \(n, 32\) vectors"):
        index.search_many(vectors[:2, :5], 3)
    with pytest.raises(OptionError, match="bm25 search needs text queries"):
        index.search_many(vectors[:2], 3, mode="bm25")
    with pytest.raises(OptionError, match="2 query texts but 1 query vectors"):
        index.search_many(["a", "b"], 3, mode="hybrid", vectors=vectors[:1])
    with pytest.raises(OptionError, match="the query is empty"):
        index.search_many(["apple", " "], 3, mode="bm25")
    index.close()
