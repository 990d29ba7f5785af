"""Known evaluation tasks over the datasets in ../shared/datasets, and the suites built from them.

MTEB's task names are used where the local data is MTEB's own evaluation data; other sets get clear local
names. Paths are relative to the data directory (--data-dir / EMBERTA_DATA).
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from pathlib import Path

from emberta.errors import InputError, OptionError

STS = "STS"
PAIR_CLASSIFICATION = "PairClassification"
CLASSIFICATION = "Classification"
CLUSTERING = "Clustering"
RETRIEVAL = "Retrieval"
RERANKING = "Reranking"
BITEXT_MINING = "BitextMining"
TOKEN_CLASSIFICATION = "TokenClassification"
TASK_TYPES = (STS, PAIR_CLASSIFICATION, CLASSIFICATION, CLUSTERING, RETRIEVAL, RERANKING, BITEXT_MINING,
              TOKEN_CLASSIFICATION)  # fmt: skip
MAIN_SCORES = {
    STS: "cosine_spearman",
    PAIR_CLASSIFICATION: "max_ap",
    CLASSIFICATION: "accuracy",
    CLUSTERING: "v_measure",
    RETRIEVAL: "ndcg_at_10",
    RERANKING: "map_at_1000",
    BITEXT_MINING: "f1",
    TOKEN_CLASSIFICATION: "f1",  # entity-level micro F1 of a linear probe on frozen token vectors
}
DEFAULT_SUITE = "quick"
# classification, as in MTEB: training rows sampled per label, and experiments (samples) averaged
DEFAULT_SAMPLES_PER_LABEL = 8
DEFAULT_N_EXPERIMENTS = 10


@dataclass(frozen=True)
class TaskSpec:
    """One evaluation task.

    subsets: subset name ("default", a language, a language pair) -> the files of its evaluation split,
        relative to `folder` (retrieval: the BEIR folder itself, ".").
    train: classification only: subset -> training file.
    text_field: the text column of classification and clustering files.
    mteb: True when the data is identical to the MTEB task of the same name.
    """

    name: str
    type: str
    folder: str
    subsets: dict[str, tuple[str, ...]]
    languages: dict[str, list[str]]
    split: str = "test"
    train: dict[str, str] = field(default_factory=dict)
    samples_per_label: int = DEFAULT_SAMPLES_PER_LABEL
    n_experiments: int = DEFAULT_N_EXPERIMENTS
    text_field: str = "text"
    mteb: bool = False
    description: str = ""

    @property
    def main_score(self) -> str:
        return MAIN_SCORES[self.type]


def _one(name, type_, folder, files, lang, **kw) -> TaskSpec:
    return TaskSpec(name, type_, folder, {"default": tuple(files)}, {"default": [lang]}, **kw)


_STSB_LANGS = {
    "en": "eng-Latn", "de": "deu-Latn", "es": "spa-Latn", "fr": "fra-Latn", "it": "ita-Latn",
    "nl": "nld-Latn", "pl": "pol-Latn", "pt": "por-Latn", "ru": "rus-Cyrl", "zh": "cmn-Hans",
}  # fmt: skip
_TATOEBA_LANGS = {
    "amh": "amh-Ethi", "ara": "ara-Arab", "ces": "ces-Latn", "cmn": "cmn-Hans", "deu": "deu-Latn",
    "fra": "fra-Latn", "hin": "hin-Deva", "nld": "nld-Latn", "rus": "rus-Cyrl", "spa": "spa-Latn",
    "tha": "tha-Thai", "tur": "tur-Latn",
}  # fmt: skip
_TWEETEVAL = {"emotion": "train.jsonl", "hate": "train.jsonl", "irony": "train.jsonl", "offensive": "train.jsonl",
              "sentiment": "validation.jsonl"}  # fmt: skip

TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in [
        _one("STSBenchmark", STS, "stsbenchmark", ["test.jsonl"], "eng-Latn", mteb=True,
             description="STS Benchmark test set (1,379 pairs)"),
        _one("STS12", STS, "sts12", ["test.jsonl", "test_msrvid.jsonl"], "eng-Latn", mteb=True,
             description="SemEval-2012 STS, all five subsets (3,108 pairs; MSRvid lower-cased)"),
        TaskSpec("STSBenchmarkMultilingualSTS", STS, "stsb_multi_mt",
                 {lang: (f"{lang}/test.jsonl",) for lang in _STSB_LANGS},
                 {lang: [code] for lang, code in _STSB_LANGS.items()}, mteb=True,
                 description="STS Benchmark machine-translated into 10 languages"),
        _one("MRPC", PAIR_CLASSIFICATION, "mrpc", ["test.jsonl"], "eng-Latn",
             description="Microsoft Research Paraphrase Corpus, test split (1,725 pairs)"),
        _one("TwitterSemEval2015-OfficialTest", PAIR_CLASSIFICATION, "twitter_semeval2015", ["test.jsonl"],
             "eng-Latn", description="SemEval-2015 PIT official test set (838 pairs; MTEB uses a larger pool)"),
        _one("TwitterURLCorpus-OfficialTest", PAIR_CLASSIFICATION, "twitter_url_corpus", ["test.jsonl.gz"],
             "eng-Latn", description="Twitter URL corpus official test set (9,324 pairs; MTEB uses a larger pool)"),
        _one("Banking77Classification", CLASSIFICATION, "banking77", ["test.jsonl"], "eng-Latn",
             train={"default": "train.jsonl"}, mteb=True, description="Banking intents, 77 classes"),
        *[
            _one(f"TweetEval{task.capitalize()}", CLASSIFICATION, f"tweeteval_{task}", ["test.jsonl"], "eng-Latn",
                 train={"default": train}, description=f"TweetEval {task} (trained on {train})")
            for task, train in _TWEETEVAL.items()
        ],
        _one("AGNewsClustering", CLUSTERING, "agnews_clustering", ["test.jsonl.gz"], "eng-Latn",
             description="AG News test titles, 4 topics"),
        _one("AGNewsClusteringP2P", CLUSTERING, "agnews_clustering", ["test.jsonl.gz"], "eng-Latn",
             text_field="text_p2p", description="AG News test title + description, 4 topics"),
        _one("Banking77Clustering", CLUSTERING, "banking77_clustering", ["test.jsonl"], "eng-Latn",
             description="Banking77 test queries, 77 intents"),
        _one("SciFact", RETRIEVAL, "scifact", ["."], "eng-Latn", mteb=True,
             description="Scientific claims against 5,183 abstracts (BEIR)"),
        _one("CACM", RETRIEVAL, "cacm", ["."], "eng-Latn", description="Classic CACM collection (3,204 documents)"),
        _one("Cranfield", RETRIEVAL, "cranfield", ["."], "eng-Latn",
             description="Classic Cranfield collection (1,400 abstracts)"),
        _one("TrecQA", RERANKING, "trecqa", ["test.jsonl"], "eng-Latn",
             description="TREC QA answer sentence selection (68 questions)"),
        TaskSpec("Tatoeba", BITEXT_MINING, "tatoeba",
                 {f"{lang}-eng": (f"{lang}-eng.jsonl",) for lang in _TATOEBA_LANGS},
                 {f"{lang}-eng": [code, "eng-Latn"] for lang, code in _TATOEBA_LANGS.items()}, mteb=True,
                 description="Tatoeba bitext mining, 12 of MTEB's 112 language pairs"),
        _one("WNUT17", TOKEN_CLASSIFICATION, "wnut17", ["test.jsonl"], "eng-Latn", train={"default": "train.jsonl"},
             description="WNUT 2017 emerging entities in tweets: entity F1 of a linear probe on token vectors"),
    ]
}  # fmt: skip

SUITES: dict[str, list[str]] = {
    # one task per type, a few minutes on 2 CPU cores with the default model
    "quick": [
        "STSBenchmark",
        "TwitterSemEval2015-OfficialTest",
        "Banking77Classification",
        "Banking77Clustering",
        "Cranfield",
        "TrecQA",
        "Tatoeba",
    ],
    "full": list(TASKS),
}

# WEAT/SEAT bias tests (files of the data directory's weat_seat/) run unless others are named: the gender ones
DEFAULT_BIAS_TESTS = ("weat6", "weat7", "weat8", "sent-weat6", "sent-weat7", "sent-weat8")


def get_task(name: str) -> TaskSpec:
    """The registered task called `name`; an unknown name raises OptionError listing close matches."""
    if name in TASKS:
        return TASKS[name]
    lowered = {n.lower(): n for n in TASKS}
    if name.lower() in lowered:
        return TASKS[lowered[name.lower()]]
    close = difflib.get_close_matches(name, list(TASKS), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise OptionError(f"unknown task {name!r}{hint} (`emberta tasks` lists them)")


def resolve_tasks(tasks: str | list[str] | None) -> list[TaskSpec]:
    """Task specs from a suite name, a comma-separated string or a list of names (default: the quick suite)."""
    if tasks is None:
        tasks = DEFAULT_SUITE
    if isinstance(tasks, str):
        if tasks in SUITES:
            return [TASKS[n] for n in SUITES[tasks]]
        tasks = [t.strip() for t in tasks.split(",") if t.strip()]
    if not tasks:
        raise OptionError("no task given; name tasks (comma-separated) or a suite (quick, full)")
    return [get_task(t) for t in tasks]


ADHOC_TYPES = {
    "sts": STS,
    "pair-classification": PAIR_CLASSIFICATION,
    "classification": CLASSIFICATION,
    "clustering": CLUSTERING,
    "retrieval": RETRIEVAL,
    "reranking": RERANKING,
    "bitext": BITEXT_MINING,
    "token-classification": TOKEN_CLASSIFICATION,
}


def adhoc_task(
    task_type: str,
    *,
    file: str | Path | None = None,
    train: str | Path | None = None,
    test: str | Path | None = None,
    name: str | None = None,
    samples_per_label: int = DEFAULT_SAMPLES_PER_LABEL,
    n_experiments: int = DEFAULT_N_EXPERIMENTS,
) -> TaskSpec:
    """A task over the user's own files, with no registry entry. task_type: one of ADHOC_TYPES. `file` is a
    jsonl file (a BEIR folder for retrieval); classification takes `train` and `test` files instead."""
    if task_type not in ADHOC_TYPES:
        raise OptionError(f"unknown task type {task_type!r}; choose one of {', '.join(ADHOC_TYPES)}")
    kind = ADHOC_TYPES[task_type]
    if kind in (CLASSIFICATION, TOKEN_CLASSIFICATION):
        if train is None or test is None or file is not None:
            raise OptionError(f"a {task_type} task takes --train FILE and --test FILE (not --file)")
        _check_classification_settings(samples_per_label, n_experiments)
        train_path, test_path = _existing(train, "--train"), _existing(test, "--test")
        return TaskSpec(
            name or _stem(test_path), kind, str(test_path.parent), {"default": (test_path.name,)}, {"default": []},
            train={"default": str(train_path)}, samples_per_label=samples_per_label, n_experiments=n_experiments,
        )  # fmt: skip
    if file is None or train is not None or test is not None:
        raise OptionError(f"a {task_type} task takes --file (--train/--test are for classification)")
    path = _existing(file, "--file")
    if kind == RETRIEVAL:
        if not path.is_dir():
            raise OptionError(f"--file {path}: a retrieval task takes a BEIR folder (corpus, queries, qrels/)")
        return TaskSpec(name or path.name, kind, str(path), {"default": (".",)}, {"default": []})
    if path.is_dir():
        raise OptionError(f"--file {path} is a folder; a {task_type} task takes a .jsonl file")
    return TaskSpec(name or _stem(path), kind, str(path.parent), {"default": (path.name,)}, {"default": []})


def select_tasks(
    tasks: str | list[str] | None = None,
    suite: str | None = None,
    task_type: str | None = None,
    *,
    file: str | Path | None = None,
    train: str | Path | None = None,
    test: str | Path | None = None,
    name: str | None = None,
    samples_per_label: int | None = None,
    n_experiments: int | None = None,
) -> list[TaskSpec]:
    """The tasks of one evaluation, from one source: registered `tasks` (names, comma-separated or a list), a
    `suite` (quick, full), or an ad-hoc task over the user's files (`task_type` with `file`, or `train` and
    `test`; see adhoc_task); the quick suite when none is given. samples_per_label and n_experiments, when
    given, replace the settings of every classification task among them. Raises OptionError for a conflict."""
    adhoc = any(x is not None for x in (task_type, file, train, test))
    if (tasks is not None) + (suite is not None) + adhoc > 1:
        raise OptionError("choose one of --tasks, --suite or an ad-hoc task (--task-type with --file/--train/--test)")
    if name is not None and not adhoc:
        raise OptionError("--name names an ad-hoc task's result; registered tasks keep their own names")
    _check_classification_settings(samples_per_label, n_experiments)
    if adhoc:
        if task_type is None:
            raise OptionError("an ad-hoc task needs --task-type (sts, pair-classification, classification, ...)")
        specs = [adhoc_task(task_type, file=file, train=train, test=test, name=name)]
    elif suite is not None:
        if suite not in SUITES:
            raise OptionError(f"unknown suite {suite!r}; choose one of {', '.join(SUITES)}, or name tasks with --tasks")
        specs = resolve_tasks(suite)
    else:
        specs = resolve_tasks(DEFAULT_SUITE if tasks is None else tasks)
    given = {"samples_per_label": samples_per_label, "n_experiments": n_experiments}
    overrides = {key: value for key, value in given.items() if value is not None}
    return [dataclasses.replace(s, **overrides) if s.type == CLASSIFICATION else s for s in specs]


def _check_classification_settings(samples_per_label: int | None, n_experiments: int | None) -> None:
    for option, value in (("--samples-per-label", samples_per_label), ("--n-experiments", n_experiments)):
        if value is not None and value < 1:
            raise OptionError(f"{option} must be at least 1, got {value}")


def _existing(path: str | Path, option: str) -> Path:
    resolved = Path(path).expanduser().resolve()
    if not resolved.exists():
        raise InputError(f"{option}: no such file or folder", path=path)
    return resolved


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".jsonl"):
        name = name.removesuffix(suffix)
    return name
