"""The evaluation runner on a tiny model and small files: every task type end to end, the cache, result JSON,
and each kind of bad input."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

import emberta
from emberta.cache import EmbeddingStore
from emberta.errors import InputError, OptionError
from emberta.evaluation import evaluate
from emberta.io.datasets import DataWarning, read_beir, read_sts
from emberta.tasks.registry import adhoc_task, get_task, resolve_tasks

WORDS = ["fox", "dog", "guitar", "weather", "book", "search", "cats", "numbers", "street", "breeze"]


def write_jsonl(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def files(tmp_path):
    sts = write_jsonl(tmp_path / "sts.jsonl", [
        {"sentence1": f"the {w} is here", "sentence2": f"the {WORDS[(i + k) % 10]} is there", "score": 5.0 - k}
        for i, w in enumerate(WORDS) for k in range(3)
    ])  # fmt: skip
    pairs = write_jsonl(tmp_path / "pairs.jsonl", [
        {"sentence1": f"a {w}", "sentence2": f"a {WORDS[(i + k) % 10]}", "label": int(k == 0)}
        for i, w in enumerate(WORDS) for k in range(2)
    ])  # fmt: skip
    labelled = [{"text": f"{w} number {j}", "label": w[:1]} for w in WORDS for j in range(6)]
    train = write_jsonl(tmp_path / "train.jsonl", labelled)
    test = write_jsonl(tmp_path / "test.jsonl", labelled[::3])
    clusters = write_jsonl(
        tmp_path / "clusters.jsonl", [{"text": f"{w} {j}", "label": w} for w in WORDS for j in range(10)]
    )
    rerank = write_jsonl(tmp_path / "rerank.jsonl", [
        {"query": f"where is the {w}", "positive": [f"the {w} is in the street"], "negative": ["cats sleep", "numbers"]}
        for w in WORDS
    ])  # fmt: skip
    bitext = write_jsonl(
        tmp_path / "deu-eng.jsonl", [{"sentence1": f"der {w}", "sentence2": f"the {w}"} for w in WORDS]
    )
    beir = tmp_path / "beir"
    write_jsonl(
        beir / "corpus.jsonl", [{"_id": f"d{i}", "title": w, "text": f"all about the {w}"} for i, w in enumerate(WORDS)]
    )
    write_jsonl(beir / "queries.jsonl", [{"_id": f"q{i}", "text": f"tell me about {w}"} for i, w in enumerate(WORDS)])
    (beir / "qrels").mkdir()
    (beir / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"q{i}\td{i}\t1\n" for i in range(10))
    )
    return {"sts": sts, "pairs": pairs, "train": train, "test": test, "clusters": clusters, "rerank": rerank,
            "bitext": bitext, "beir": beir}  # fmt: skip


def adhoc_specs(files):
    return [
        adhoc_task("sts", file=files["sts"]),
        adhoc_task("pair-classification", file=files["pairs"]),
        adhoc_task("classification", train=files["train"], test=files["test"], samples_per_label=2, n_experiments=3),
        adhoc_task("clustering", file=files["clusters"]),
        adhoc_task("retrieval", file=files["beir"]),
        adhoc_task("reranking", file=files["rerank"]),
        adhoc_task("bitext", file=files["bitext"], name="my-bitext"),
    ]


def rows_of(path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]


def independent_main_scores(encoder, files) -> list[float]:
    """The main score of each task of `adhoc_specs`, computed here from the encoder's own vectors with numpy,
    scipy, scikit-learn and pytrec_eval (MTEB's protocol as the task modules document it), in the same order."""
    import random

    import numpy as np
    import pytrec_eval
    from scipy.stats import spearmanr
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score

    from emberta.tasks.classification import SEED, undersample_experiments
    from emberta.tasks.clustering import SEED as CLUSTERING_SEED
    from emberta.tasks.clustering import sample_documents

    def encode(texts, role=None):
        return encoder.encode(texts, prompt_name=role).astype(np.float64)

    def cosines(a, b):
        return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)

    scores = []
    sts = rows_of(files["sts"])  # STS: Spearman of the cosine similarities
    a, b = encode([r["sentence1"] for r in sts]), encode([r["sentence2"] for r in sts])
    scores.append(spearmanr([r["score"] for r in sts], cosines(a, b)).statistic)

    pairs = rows_of(files["pairs"])  # pair classification: the best average precision over similarity functions
    a, b = encode([r["sentence1"] for r in pairs]), encode([r["sentence2"] for r in pairs])
    labels = [r["label"] for r in pairs]
    similar = [cosines(a, b), (a * b).sum(1), -np.linalg.norm(a - b, axis=1), -np.abs(a - b).sum(1)]
    scores.append(max(average_precision_score(labels, s) for s in similar))

    train, test = rows_of(files["train"]), rows_of(files["test"])  # classification: mean accuracy of logistic
    x_train, y_train = encode([r["text"] for r in train]), np.array([r["label"] for r in train])  # regressions
    x_test, y_test = encode([r["text"] for r in test]), np.array([r["label"] for r in test])
    accuracies = []
    for rows in undersample_experiments(list(y_train), samples_per_label=2, n_experiments=3):
        model = LogisticRegression(max_iter=100, random_state=SEED).fit(x_train[rows], y_train[rows])
        accuracies.append((model.predict(x_test) == y_test).mean())
    scores.append(np.mean(accuracies))

    # clustering embeds a 4% sample: 4 of the 100 documents, here of 4 different labels, so k-means with k = 4
    # finds them exactly and the V-measure is 1
    clusters = rows_of(files["clusters"])
    sample = sample_documents(len(clusters), random.Random(CLUSTERING_SEED))
    assert len({clusters[i]["label"] for i in sample}) == len(sample) == 4
    scores.append(1.0)

    corpus = {r["_id"]: f"{r['title']} {r['text']}" for r in rows_of(files["beir"] / "corpus.jsonl")}
    queries = {r["_id"]: r["text"] for r in rows_of(files["beir"] / "queries.jsonl")}  # retrieval: nDCG@10
    qrels = {f"q{i}": {f"d{i}": 1} for i in range(10)}
    similarity = encode(list(queries.values()), "query") @ encode(list(corpus.values()), "document").T
    run = {q: dict(zip(corpus, map(float, row), strict=True)) for q, row in zip(queries, similarity, strict=True)}
    per_query = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut_10"}).evaluate(run)
    scores.append(np.mean([m["ndcg_cut_10"] for m in per_query.values()]))

    rerank = rows_of(files["rerank"])  # reranking: MAP over each query's candidates
    run, qrels = {}, {}
    for i, item in enumerate(rerank):
        candidates = item["positive"] + item["negative"]
        sims = cosines(np.repeat(encode([item["query"]], "query"), len(candidates), 0), encode(candidates, "document"))
        run[f"q{i}"] = {f"c{j}": float(s) for j, s in enumerate(sims)}
        qrels[f"q{i}"] = {f"c{j}": int(j < len(item["positive"])) for j in range(len(candidates))}
    per_query = pytrec_eval.RelevanceEvaluator(qrels, {"map"}).evaluate(run)
    scores.append(np.mean([m["map"] for m in per_query.values()]))

    bitext = rows_of(files["bitext"])  # bitext mining: weighted F1 of nearest-neighbour matching
    a, b = encode([r["sentence1"] for r in bitext]), encode([r["sentence2"] for r in bitext])
    a, b = a / np.linalg.norm(a, axis=1, keepdims=True), b / np.linalg.norm(b, axis=1, keepdims=True)
    predicted = (a @ b.T).argmax(1)
    f1 = []  # every gold class (row i matches row i) has support 1, so the weighted F1 is the plain mean
    for i in range(len(bitext)):
        correct = float(predicted[i] == i)
        precision = correct / max(1, (predicted == i).sum())
        f1.append(2 * precision * correct / (precision + correct) if correct else 0.0)
    scores.append(np.mean(f1))
    return [float(s) for s in scores]


def test_every_task_type_end_to_end_with_cache_and_json(tiny_models, files, tmp_path):
    # the mean-pooled tiny RoBERTa: its similarities differ by far more than float rounding (the CLS-pooled tiny
    # BERT's agree to 6 digits, so float32 and float64 rank its documents differently)
    encoder = emberta.load_encoder(tiny_models["roberta-st"])
    store = EmbeddingStore(tmp_path / "cache.sqlite")
    results = evaluate(encoder, adhoc_specs(files), output_dir=tmp_path / "out", cache=store)
    assert [r.task_type for r in results] == [
        "STS", "PairClassification", "Classification", "Clustering", "Retrieval", "Reranking", "BitextMining"
    ]  # fmt: skip
    assert [r.main_score for r in results] == pytest.approx(independent_main_scores(encoder, files), abs=1e-6)
    for result in results:
        saved = json.loads(Path(result.info["result_file"]).read_text())
        assert saved["task_name"] == result.task_name
        (subset,) = saved["scores"]["test"]
        assert subset["hf_subset"] == "default" and subset["main_score"] == subset[result.main_score_name]
        assert subset["main_score"] == pytest.approx(result.main_score, abs=1e-12)
        assert saved["emberta"]["fingerprint"] == encoder.fingerprint
    assert results[-1].task_name == "my-bitext"
    encoded_once, looked_up = store.encoded, store.encoded + store.hits
    assert encoded_once > 0 and store.cached_count() == encoded_once  # each distinct (prompt, text) held once
    store.close()

    warm = EmbeddingStore(tmp_path / "cache.sqlite")
    again = evaluate(encoder, adhoc_specs(files), cache=warm)
    assert warm.encoded == 0 and warm.hits == looked_up  # a second run re-encodes nothing: every lookup hits
    assert warm.cached_count() == encoded_once  # each distinct (prompt, text) was encoded exactly once
    assert [r.main_score for r in again] == pytest.approx([r.main_score for r in results], abs=1e-6)


def test_store_returns_what_the_encoder_returns(tiny_models):
    import numpy as np

    encoder = emberta.load_encoder(tiny_models["roberta-st"])
    texts = ["a", "b", "a", "c"]
    store = EmbeddingStore(None)
    np.testing.assert_allclose(store.encode(encoder, texts), encoder.encode(texts), atol=1e-6)
    assert store.encoded == 3
    np.testing.assert_allclose(
        store.encode(encoder, texts, prompt_name="query"), encoder.encode(texts, prompt_name="query"), atol=1e-6
    )
    assert store.encoded == 6  # another prompt is another key


def test_unknown_task_lists_close_matches():
    with pytest.raises(OptionError, match="unknown task 'STSBenchmrk'; did you mean STSBenchmark"):
        get_task("STSBenchmrk")
    assert [t.name for t in resolve_tasks("stsbenchmark, sts12")] == ["STSBenchmark", "STS12"]
    assert len(resolve_tasks("quick")) == 7 and len({t.type for t in resolve_tasks("quick")}) == 7


def test_missing_dataset_folder_says_where_and_how(tiny_models, tmp_path):
    with pytest.raises(InputError, match=r"looked for .*stsbenchmark\); pass --data-dir \(or set EMBERTA_DATA\)"):
        evaluate(tiny_models["bert"], "STSBenchmark", data_dir=tmp_path, cache=False)


def test_malformed_rows_name_file_and_line(tmp_path):
    path = tmp_path / "sts.jsonl"
    path.write_text('{"sentence1": "a", "sentence2": "b", "score": 1}\n{"sentence1": "a", "score": 2}\n')
    with pytest.raises(InputError, match=r"sts\.jsonl:2: no field 'sentence2'"):
        read_sts(path)


def test_sts_score_that_is_not_a_number(tmp_path):
    path = tmp_path / "sts.jsonl"
    path.write_text('{"sentence1": "a", "sentence2": "b", "score": "high"}\n')
    with pytest.raises(InputError, match=r"sts\.jsonl:1: field 'score' must be a finite number, got 'high'"):
        read_sts(path)


def test_empty_dataset_file(tmp_path):
    path = tmp_path / "sts.jsonl"
    path.write_text("")
    with pytest.raises(InputError, match="no rows"):
        read_sts(path)


def test_qrels_with_unknown_documents_are_counted_and_skipped(files):
    qrels = files["beir"] / "qrels" / "test.tsv"
    qrels.write_text(qrels.read_text() + "q1\tmissing-doc\t1\nq2\tgone\t1\n")
    with pytest.warns(DataWarning, match="skipped 2 qrels naming documents absent"):
        data = read_beir(files["beir"])
    assert data.qrels["q1"] == {"d1": 1} and len(data.queries) == 10


def test_classification_test_label_absent_from_train(tiny_models, files):
    rows = files["test"].read_text() + json.dumps({"text": "brand new", "label": "unseen"}) + "\n"
    files["test"].write_text(rows)
    spec = adhoc_task("classification", train=files["train"], test=files["test"])
    with pytest.raises(InputError, match=r"test\.jsonl:21: label 'unseen' does not occur in the training file"):
        evaluate(tiny_models["bert"], [spec], cache=False)


def test_adhoc_task_errors(files, tmp_path):
    with pytest.raises(OptionError, match="unknown task type 'regression'"):
        adhoc_task("regression", file=files["sts"])
    with pytest.raises(OptionError, match="takes --train FILE and --test FILE"):
        adhoc_task("classification", file=files["train"])
    with pytest.raises(InputError, match="no such file"):
        adhoc_task("sts", file=tmp_path / "nope.jsonl")
    with pytest.raises(OptionError, match="BEIR folder"):
        adhoc_task("retrieval", file=files["sts"])


def test_no_data_dir(monkeypatch, tiny_models):
    monkeypatch.delenv("EMBERTA_DATA", raising=False)
    with pytest.raises(OptionError, match="pass --data-dir"):
        evaluate(tiny_models["bert"], "STSBenchmark", cache=False)


def test_reranking_items_without_negatives_are_skipped(tiny_models, files):
    path = files["rerank"]
    path.write_text(path.read_text() + json.dumps({"query": "q", "positive": ["p"], "negative": []}) + "\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        evaluate(tiny_models["bert"], [adhoc_task("reranking", file=path)], cache=False)
    assert any("skipped 1 queries" in str(w.message) for w in caught)


def test_task_prompt_follows_mteb_order():
    from emberta.evaluation import task_prompt

    spec = get_task("SciFact")
    prompts = {"query": "q: ", "passage": "p: ", "Retrieval-query": "rq: ", "SciFact": "sf: "}
    assert task_prompt(prompts, spec, "query") == "sf: "  # task name beats task type and role
    del prompts["SciFact"]
    assert task_prompt(prompts, spec, "query") == "rq: "
    assert task_prompt(prompts, spec, "document") == "p: "  # sentence-transformers' document -> passage fallback
    assert task_prompt({"query": "q: ", "document": ""}, get_task("STSBenchmark"), None) is None
    assert task_prompt({"STS": "sts: "}, get_task("STSBenchmark"), None) == "sts: "


def test_queries_judged_only_zero_are_kept(files):
    qrels = files["beir"] / "qrels" / "test.tsv"
    qrels.write_text(qrels.read_text().replace("q3\td3\t1", "q3\td3\t0"))
    data = read_beir(files["beir"])
    assert data.qrels["q3"] == {"d3": 0} and "q3" in data.queries


def test_model_similarity_function_is_used(tiny_models, files, tmp_path):
    import shutil

    folder = tmp_path / "dot-model"
    shutil.copytree(tiny_models["bert-st"], folder)
    config = json.loads((folder / "config_sentence_transformers.json").read_text())
    (folder / "config_sentence_transformers.json").write_text(json.dumps({**config, "similarity_fn_name": "dot"}))
    encoder = emberta.load_encoder(folder, normalize=False)
    assert encoder.similarity_fn_name == "dot"
    vectors = encoder.encode(["a fox", "a dog"])
    assert encoder.similarity(vectors[:1], vectors[1:])[0, 0] == pytest.approx(float(vectors[0] @ vectors[1]), rel=1e-5)
    (result,) = evaluate(encoder, [adhoc_task("sts", file=files["sts"])], cache=False)
    metrics = result.subsets[0].metrics
    data = read_sts(files["sts"])
    a, b = encoder.encode(data.sentences1), encoder.encode(data.sentences2)
    from scipy.stats import pearsonr

    dot = (a.astype("float64") * b.astype("float64")).sum(1)
    assert metrics["pearson"] == pytest.approx(pearsonr(data.values, dot)[0], abs=1e-6)
    assert metrics["pearson"] != pytest.approx(metrics["cosine_pearson"], abs=1e-6)


def test_retrieval_through_an_index_backend(tiny_models, files, tmp_path):
    encoder = emberta.load_encoder(tiny_models["roberta-st"])  # similarities far apart (see above)
    store = EmbeddingStore(None)
    spec = [adhoc_task("retrieval", file=files["beir"])]
    exact = evaluate(encoder, spec, cache=store)[0]
    flat = evaluate(encoder, spec, cache=store, index_backend="flat", output_dir=tmp_path / "out")[0]
    assert flat.subsets[0].metrics == pytest.approx(exact.subsets[0].metrics, abs=1e-9)  # a flat index is exact
    assert flat.info["index_backend"] == "flat" and "-index-flat-dense" in flat.info["result_file"]
    bm25 = evaluate(encoder, spec, cache=store, index_backend="hnsw", search_mode="bm25")[0]
    assert bm25.main_score == pytest.approx(1.0)  # every query names its document's only distinctive word
    with pytest.raises(OptionError, match="unknown --search-mode"):
        evaluate(encoder, spec, cache=store, index_backend="hnsw", search_mode="fuzzy")
    with pytest.raises(OptionError, match="do not combine"):
        from emberta.transforms import parse_config

        evaluate(encoder, spec, cache=store, index_backend="hnsw", postprocess=parse_config("center"))


def test_an_exact_index_ranks_like_exact_search():
    import numpy as np

    from emberta.index.evaluation import index_search_run
    from emberta.tasks.retrieval import search

    rng = np.random.default_rng(0)
    docs = rng.normal(size=(300, 16)).astype(np.float32)
    docs /= np.linalg.norm(docs, axis=1, keepdims=True)
    queries = rng.normal(size=(20, 16)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    doc_ids, query_ids = [f"d{i}" for i in range(300)], [f"q{i}" for i in range(20)]
    exact = search(queries, docs, doc_ids, query_ids, top_k=100)
    run = index_search_run(doc_ids, ["x"] * 300, docs, query_ids, ["y"] * 20, queries, backend="flat")
    for qid in query_ids:
        assert list(run[qid]) == sorted(exact[qid], key=lambda d: -exact[qid][d])
        assert [run[qid][d] for d in run[qid]] == pytest.approx([exact[qid][d] for d in run[qid]], abs=1e-5)


def test_task_texts_of_a_classification_task_read_only_its_test_file(data_dir, tmp_path):
    """Measuring a task's embedding space needs its texts, not a classifier: the training file is not read."""
    from emberta.analyze import task_texts
    from emberta.io.datasets import read_labelled

    (tmp_path / "banking77").mkdir()
    test_file = tmp_path / "banking77" / "test.jsonl"
    test_file.write_bytes((data_dir / "banking77" / "test.jsonl").read_bytes())  # and no train.jsonl
    found = task_texts("Banking77Classification", tmp_path)
    expected = read_labelled(test_file)
    assert (found.texts, found.labels, found.languages) == (expected.texts, expected.labels, None)
