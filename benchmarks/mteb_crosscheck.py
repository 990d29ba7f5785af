"""Cross-check: the mteb package's own evaluators (mteb 2.26.24) against emberta's on the same local data.

One task of each type is built as a custom, in-memory mteb task (a subclass of the matching mteb AbsTask whose
load_data() fills self.dataset from the files under the data directory) and run with mteb.evaluate (no results
cache), then the same registered task is run with emberta.evaluate (cache=False). Both use the default model
(all-MiniLM-L6-v2) with batch size 32; mteb gets it as a sentence-transformers model. The table compares the main
scores (x100) within a tolerance per task type; exit status 1 when any task is off by more than its tolerance.

    .venv/bin/python benchmarks/mteb_crosscheck.py [--data-dir DIR] [--tasks STSBenchmark,TrecQA,...]

Tasks: STSBenchmark, TwitterSemEval2015-OfficialTest, TweetEvalEmotion, Banking77Clustering, Cranfield, TrecQA,
Tatoeba (the deu-eng pair only). Nothing is downloaded: the Hugging Face hub and datasets are put offline below.
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TQDM_DISABLE", "1")  # mteb's bitext evaluator and model loading draw bars regardless

import dataclasses
import logging
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datasets import Dataset, DatasetDict
from mteb.abstasks.classification import AbsTaskClassification
from mteb.abstasks.clustering import AbsTaskClustering
from mteb.abstasks.pair_classification import AbsTaskPairClassification
from mteb.abstasks.retrieval import AbsTaskRetrieval
from mteb.abstasks.retrieval_dataset_loaders import RetrievalSplitData
from mteb.abstasks.sts import AbsTaskSTS
from mteb.abstasks.task_metadata import TaskMetadata
from mteb.abstasks.text import reranking as mteb_reranking
from mteb.abstasks.text.bitext_mining import AbsTaskBitextMining

from common import parser as benchmark_parser
from emberta.io import datasets as readers
from emberta.io.lines import LineSource
from emberta.tasks.registry import TASKS, TaskSpec

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # subclassing the deprecated old-format reranking task

    class _RerankingBase(mteb_reranking.AbsTaskReranking):
        pass


BATCH_SIZE = 32
# what mteb.evaluate itself uses with show_progress_bar=False and no encode_kwargs of the caller
MTEB_ENCODE_KWARGS = {"batch_size": BATCH_SIZE, "show_progress_bar": False}


def _metadata(name: str, task_type: str, main_score: str, eval_langs: Any = ("eng-Latn",)) -> TaskMetadata:
    """Metadata of a local task; mteb needs a dataset path and revision, which are dummies here (never loaded)."""
    return TaskMetadata(
        name=f"Local{name}",
        dataset={"path": f"local/{name}", "revision": "local"},
        description=f"{name} read from the local data directory (emberta cross-check).",
        reference=None,
        type=task_type,
        category="t2c" if task_type in ("Classification", "Clustering") else "t2t",
        modalities=["text"],
        eval_splits=["test"],
        eval_langs=list(eval_langs) if not isinstance(eval_langs, dict) else eval_langs,
        main_score=main_score,
        date=None,
        domains=None,
        task_subtypes=None,
        license=None,
        annotations_creators=None,
        dialect=None,
        sample_creation=None,
        bibtex_citation=None,
    )


class _Local:
    """Mixin: the task reads its files from `data_dir` (the folder of the emberta task spec)."""

    folder = ""

    def __init__(self, data_dir: Path, **kwargs: Any) -> None:
        self.data_dir = Path(data_dir)
        super().__init__(**kwargs)

    @property
    def path(self) -> Path:
        return self.data_dir / self.folder


class LocalSTSBenchmark(_Local, AbsTaskSTS):
    folder = "stsbenchmark"
    min_score = 0
    max_score = 5
    metadata = _metadata("STSBenchmark", "STS", "cosine_spearman")

    def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
        data = readers.read_sts(self.path / "test.jsonl")
        rows = {"sentence1": data.sentences1, "sentence2": data.sentences2, "score": data.values}
        self.dataset = DatasetDict({"test": Dataset.from_dict(rows)})
        self.data_loaded = True


class LocalTwitterSemEval2015(_Local, AbsTaskPairClassification):
    folder = "twitter_semeval2015"
    metadata = _metadata("TwitterSemEval2015-OfficialTest", "PairClassification", "max_ap")

    def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
        data = readers.read_pairs(self.path / "test.jsonl")
        rows = {"sentence1": data.sentences1, "sentence2": data.sentences2, "labels": [int(v) for v in data.values]}
        self.dataset = DatasetDict({"test": Dataset.from_dict(rows)})
        self.data_loaded = True


class LocalTweetEvalEmotion(_Local, AbsTaskClassification):
    folder = "tweeteval_emotion"
    samples_per_label = 8
    n_experiments = 10
    metadata = _metadata("TweetEvalEmotion", "Classification", "accuracy")

    def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
        splits = {}
        for split, file in (("train", "train.jsonl"), ("test", "test.jsonl")):
            data = readers.read_labelled(self.path / file)
            splits[split] = Dataset.from_dict({"text": data.texts, "label": data.labels})
        self.dataset = DatasetDict(splits)
        self.data_loaded = True


class LocalBanking77Clustering(_Local, AbsTaskClustering):
    """mteb's current (fast) clustering protocol: 4% of the documents embedded, 10 bootstrapped k-means runs."""

    folder = "banking77_clustering"
    metadata = _metadata("Banking77Clustering", "Clustering", "v_measure")

    def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
        data = readers.read_labelled(self.path / "test.jsonl")
        self.dataset = DatasetDict({"test": Dataset.from_dict({"sentences": data.texts, "labels": data.labels})})
        self.data_loaded = True


class LocalCranfield(_Local, AbsTaskRetrieval):
    """Built the way mteb's RetrievalDatasetLoader builds a BEIR split (raw files, mteb's own title joining,
    query filtering and qrels), so that emberta's reader is checked as well."""

    folder = "cranfield"
    metadata = _metadata("Cranfield", "Retrieval", "ndcg_at_10")

    def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
        self.dataset = {"default": {"test": beir_split(self.path, "test")}}
        self.data_loaded = True


class LocalTrecQA(_Local, _RerankingBase):
    """mteb's old reranking format ({query, positive, negative} rows), converted by mteb's own
    AbsTaskReranking.transform_old_dataset_format into retrieval over each query's candidates (top_ranked)."""

    folder = "trecqa"
    metadata = _metadata("TrecQA", "Reranking", "map_at_1000")

    def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
        if self.metadata.name not in mteb_reranking.OLD_FORMAT_RERANKING_TASKS:
            mteb_reranking.OLD_FORMAT_RERANKING_TASKS.append(self.metadata.name)
        rows = [obj for _, obj in LineSource(self.path / "test.jsonl").json_objects()]
        columns = {key: [row[key] for row in rows] for key in ("query", "positive", "negative")}
        self.transform_old_dataset_format(DatasetDict({"test": Dataset.from_dict(columns)}))


TATOEBA_PAIR = "deu-eng"
TATOEBA_LANGS = {TATOEBA_PAIR: ["deu-Latn", "eng-Latn"]}


class LocalTatoeba(_Local, AbsTaskBitextMining):
    folder = "tatoeba"
    metadata = _metadata("Tatoeba", "BitextMining", "f1", eval_langs=TATOEBA_LANGS)

    def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
        self.dataset = {}
        for pair in self.hf_subsets:
            data = readers.read_bitext(self.path / f"{pair}.jsonl")
            rows = {"sentence1": data.sentences1, "sentence2": data.sentences2}
            self.dataset[pair] = DatasetDict({"test": Dataset.from_dict(rows)})
        self.data_loaded = True


def beir_split(folder: Path, split: str) -> RetrievalSplitData:
    """A BEIR folder as mteb's RetrievalDatasetLoader returns it: corpus (id, title, text), the queries that have
    qrels, and every qrels row (query id -> {document id: int score})."""
    corpus_path = next(p for p in (folder / "corpus.jsonl", folder / "corpus.jsonl.gz") if p.is_file())
    queries_path = next(p for p in (folder / "queries.jsonl", folder / "queries.jsonl.gz") if p.is_file())
    corpus = [
        {"id": str(obj["_id"]), "title": obj.get("title") or "", "text": obj["text"]}
        for _, obj in LineSource(corpus_path).json_objects()
    ]
    qrels: dict[str, dict[str, int]] = {}
    for number, line in LineSource(folder / "qrels" / f"{split}.tsv").lines():
        if number == 1 or not line.strip():  # header
            continue
        query_id, doc_id, score = line.split("\t")[:3]
        qrels.setdefault(query_id, {})[doc_id] = int(float(score))
    queries = [
        {"id": str(obj["_id"]), "text": obj["text"]}
        for _, obj in LineSource(queries_path).json_objects()
        if str(obj["_id"]) in qrels
    ]
    return RetrievalSplitData(
        corpus=Dataset.from_list(corpus), queries=Dataset.from_list(queries), relevant_docs=qrels, top_ranked=None
    )


@dataclass(frozen=True)
class Check:
    """One cross-checked task: the mteb task class, the emberta spec, the tolerance on main score x100."""

    name: str
    label: str
    task_class: Callable[..., Any]
    tolerance: float
    other_metrics: tuple[str, ...]

    def mteb_task(self, data_dir: Path) -> Any:
        return self.task_class(data_dir)

    def emberta_spec(self) -> TaskSpec:
        spec = TASKS[self.name]
        if self.name == "Tatoeba":
            spec = dataclasses.replace(
                spec, subsets={TATOEBA_PAIR: (f"{TATOEBA_PAIR}.jsonl",)}, languages=TATOEBA_LANGS
            )
        return spec


CHECKS: dict[str, Check] = {
    c.name: c
    for c in [
        Check("STSBenchmark", "STSBenchmark", LocalSTSBenchmark, 0.1,
              ("cosine_pearson", "euclidean_spearman", "manhattan_spearman")),
        Check("TwitterSemEval2015-OfficialTest", "TwitterSemEval2015-OfficialTest", LocalTwitterSemEval2015, 0.1,
              ("cosine_ap", "cosine_f1", "cosine_accuracy")),
        Check("TweetEvalEmotion", "TweetEvalEmotion", LocalTweetEvalEmotion, 1.0, ("f1", "f1_weighted")),
        Check("Banking77Clustering", "Banking77Clustering", LocalBanking77Clustering, 3.0, ("v_measure_std", "ami")),
        Check("Cranfield", "Cranfield", LocalCranfield, 0.2, ("map_at_10", "mrr_at_10", "recall_at_100")),
        Check("TrecQA", "TrecQA", LocalTrecQA, 0.2, ("mrr_at_10", "ndcg_at_10")),
        Check("Tatoeba", f"Tatoeba ({TATOEBA_PAIR})", LocalTatoeba, 0.3, ("accuracy", "precision", "recall")),
    ]
}  # fmt: skip


def select_checks(names: str | None, default: list[str] | None = None) -> list[Check]:
    """Checks named in a comma-separated string (case-insensitive), or `default` (all seven when None)."""
    if not names:
        return [CHECKS[n] for n in (default or list(CHECKS))]
    lowered = {n.lower(): c for n, c in CHECKS.items()}
    chosen = []
    for name in (n.strip() for n in names.split(",")):
        if name and name.lower() not in lowered:
            raise SystemExit(f"unknown task {name!r}; choose from {', '.join(CHECKS)}")
        if name:
            chosen.append(lowered[name.lower()])
    return chosen


def quiet_libraries() -> None:
    """mteb logs each step at INFO/WARNING and warns about deprecated pieces it uses itself; keep the output to
    the tables."""
    logging.getLogger("mteb").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*is currently in beta.*")
    warnings.filterwarnings("ignore", message="To copy construct from a tensor")  # mteb's bitext evaluator
    from datasets.utils.logging import disable_progress_bar

    disable_progress_bar()


def load_st_model():
    """The default model as a sentence-transformers model on CPU (mteb's world)."""
    from sentence_transformers import SentenceTransformer

    from emberta.encoders.model_folder import default_model_path

    return SentenceTransformer(str(default_model_path()), device="cpu")


def run_mteb(model: Any, tasks: list[Any]) -> dict[str, Any]:
    """mteb.evaluate on the tasks, without a results cache; {local task name: mteb TaskResult}."""
    import mteb

    result = mteb.evaluate(
        model,
        tasks,
        cache=None,
        overwrite_strategy="always",
        co2_tracker=False,
        encode_kwargs=dict(MTEB_ENCODE_KWARGS),
        show_progress_bar=False,
    )
    if result.exceptions:
        raise RuntimeError(f"mteb failed: {result.exceptions}")
    return {r.task_name: r for r in result.task_results}


def mteb_metrics(task_result: Any) -> dict[str, float]:
    """Numeric metrics of an mteb TaskResult, averaged over its test subsets."""
    rows = task_result.scores["test"]
    keys = [k for k, v in rows[0].items() if isinstance(v, int | float) and not isinstance(v, bool)]
    return {k: sum(float(r[k]) for r in rows) / len(rows) for k in keys}


def emberta_metrics(task_result: Any) -> dict[str, float]:
    rows = [s.metrics for s in task_result.subsets]
    keys = [k for k, v in rows[0].items() if isinstance(v, int | float) and not isinstance(v, bool)]
    return {k: sum(float(r[k]) for r in rows) / len(rows) for k in keys}


def main() -> int:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--tasks", help=f"comma-separated, from: {', '.join(CHECKS)} (default: all)")
    args = parser.parse_args()
    checks = select_checks(args.tasks)
    quiet_libraries()

    import mteb
    import sentence_transformers

    import emberta

    print(
        f"mteb {mteb.__version__}, sentence-transformers {sentence_transformers.__version__}, "
        f"emberta {emberta.__version__}; data: {args.data_dir}",
        flush=True,
    )
    model = load_st_model()
    theirs = run_mteb(model, [c.mteb_task(args.data_dir) for c in checks])
    encoder = emberta.load_encoder("default")
    specs = [c.emberta_spec() for c in checks]
    ours = emberta.evaluate(
        encoder, specs, data_dir=args.data_dir, cache=False, batch_size=BATCH_SIZE, show_progress=False
    )

    header = f"{'task':34} {'type':18} {'metric':16} {'mteb':>8} {'emberta':>8} {'diff':>7} {'tol':>5}  result"
    print("\n" + header + "\n" + "-" * len(header))
    failed = []
    details = []
    for check, our in zip(checks, ours, strict=True):
        their = theirs[check.task_class.metadata.name]
        m_score, e_score = 100 * their.get_score(), 100 * our.main_score
        diff = e_score - m_score
        ok = abs(diff) <= check.tolerance
        if not ok:
            failed.append(check.name)
        print(
            f"{check.label:34} {our.task_type:18} {our.main_score_name:16} {m_score:8.2f} {e_score:8.2f} "
            f"{diff:+7.2f} {check.tolerance:5.1f}  {'OK' if ok else 'FAIL'}"
        )
        details.append((check, mteb_metrics(their), emberta_metrics(our)))

    print("\nmteb's exact values and other metrics (x100; informational, not gated)")
    for check, theirs_m, ours_m in details:
        main = check.emberta_spec().main_score
        parts = [f"{main} mteb={theirs_m[main] * 100:.4f} emberta={ours_m[main] * 100:.4f}"]
        for metric in check.other_metrics:
            t = f"{theirs_m[metric] * 100:.2f}" if metric in theirs_m else "-"
            o = f"{ours_m[metric] * 100:.2f}" if metric in ours_m else "-"
            parts.append(f"{metric} {t}/{o}")
        print(f"  {check.label}: " + "; ".join(parts))
    print(
        f"\n{len(checks) - len(failed)}/{len(checks)} within tolerance"
        + (f"; FAIL: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
