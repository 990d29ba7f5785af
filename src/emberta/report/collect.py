"""What a report is drawn from: the result folders of `eval` (MTEB-layout task files and model_meta.json),
`sweep` (sweep.csv), `analyze` (report.json and its PNG plots) and `train` (emberta-train.json with
metrics.jsonl), found by walking the given paths. A corrupt file, or a task result scored on other data than
the rest, is skipped with a warning naming it; no results at all is an InputError."""

from __future__ import annotations

import contextlib
import csv
import os
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from emberta.encoders.model_spec import short_label
from emberta.errors import EmbertaError, InputError
from emberta.io.jsontext import parse_json, read_json_file
from emberta.tasks.result_files import RUN_META_FILE, is_task_file, task_result_from_dict, task_version
from emberta.tasks.results import TaskResult

# JSON files of model folders, checkpoints and other commands' outputs: never task results
NOT_RESULTS = {"config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "modules.json",
               "sentence_bert_config.json", "config_sentence_transformers.json", "data_config.json",
               "emberta-onnx.json", "emberta-openvino.json", "emberta-static.json", "emberta-train.json",
               "trainer_state.json", "eval-before.json", "report.json", "index.json", "transforms.json",
               "vocab.json", "added_tokens.json", RUN_META_FILE}  # fmt: skip
MAX_JSON_BYTES = 50_000_000
GEOMETRY_PLOTS = ("spectrum.png", "dimensions.png", "k_occurrence.png", "pca.png")


class ReportWarning(UserWarning):
    """A file left out of a report (corrupt, or not comparable with the rest)."""


@dataclass
class RunData:
    """One evaluated model: its folder, label, model name, task results and model_meta.json's emberta block."""

    folder: Path
    label: str
    name: str
    results: list[TaskResult]
    meta: dict = field(default_factory=dict)


@dataclass
class ReportInputs:
    runs: list[RunData] = field(default_factory=list)
    sweeps: list[tuple[Path, list[dict]]] = field(default_factory=list)
    geometry: list[tuple[Path, dict]] = field(default_factory=list)
    training: list[tuple[Path, dict, list[dict]]] = field(default_factory=list)

    def empty(self) -> bool:
        return not (self.runs or self.sweeps or self.geometry or self.training)


def collect(paths: list[str | Path]) -> ReportInputs:
    """Everything reportable under `paths` (folders, walked; a file stands for its folder). InputError for a
    missing path or when nothing reportable is found; ReportWarning for each file skipped."""
    inputs = ReportInputs()
    folders = []
    for path in map(Path, paths):
        if not path.exists():
            raise InputError("no such file or folder", path=path)
        folders.append(path if path.is_dir() else path.parent)
    seen: set[Path] = set()
    for top in folders:
        first_run = len(inputs.runs)
        for folder, dirs, files in os.walk(top):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            here = Path(folder).resolve()
            if here not in seen:
                seen.add(here)
                _collect_folder(Path(folder), set(files), inputs)
        # the runs under one path in the order they were written (model_meta.json's time), as `eval` ran them
        inputs.runs[first_run:] = sorted(inputs.runs[first_run:], key=lambda r: str(r.meta.get("written") or ""))
    _drop_mixed_versions(inputs.runs)
    _name_runs(inputs.runs)
    if inputs.empty():
        shown = ", ".join(str(p) for p in paths) or "(none given)"
        raise InputError(f"no results found in {shown}: give folders written by `emberta eval --output-dir`, "
                         "`emberta sweep --out`, `emberta analyze --out` or `emberta train embed --out`")  # fmt: skip
    return inputs


def _collect_folder(folder: Path, files: set[str], inputs: ReportInputs) -> None:
    results = []
    for name in sorted(f for f in files if f.endswith(".json") and f not in NOT_RESULTS):
        data = _load(folder / name)
        if is_task_file(data):
            try:
                results.append(task_result_from_dict(data, folder / name))
                results[-1].info["result_file"] = str(folder / name)
            except InputError as exc:
                _warn(f"skipped {exc}")
    if results:
        meta = _load(folder / RUN_META_FILE) if RUN_META_FILE in files else {}
        block = meta.get("emberta") if isinstance(meta, dict) else None
        inputs.runs.append(RunData(folder, "", _model_name(results, meta), results, _run_facts(block)))
    if "sweep.csv" in files:
        rows = _read_sweep(folder / "sweep.csv")
        if rows:
            inputs.sweeps.append((folder, rows))
    if "report.json" in files:
        report = _load(folder / "report.json")
        if isinstance(report, dict) and "isotropy" in report:
            inputs.geometry.append((folder, report))
    if "metrics.jsonl" in files and "emberta-train.json" in files:
        summary = _load(folder / "emberta-train.json")
        history = _read_jsonl(folder / "metrics.jsonl")
        if history is not None:
            inputs.training.append((folder, summary if isinstance(summary, dict) else {}, history))


def _load(path: Path):
    """Parsed JSON, or None: with a warning naming the file when it is corrupt; quietly for a file over
    MAX_JSON_BYTES (no result file is that large)."""
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            return None
        return read_json_file(path)
    except InputError as exc:
        _warn(f"skipped a corrupt JSON file: {exc}")
        return None


def _run_facts(block) -> dict:
    """model_meta.json's emberta block with the parts a report shows checked: costs keep their numbers only,
    machine and versions must be objects (a file edited by hand loses what does not fit, not the report)."""
    facts = dict(block) if isinstance(block, dict) else {}
    costs = facts.get("costs")
    number = (int, float)
    facts["costs"] = ({k: v for k, v in costs.items() if isinstance(v, number) and not isinstance(v, bool)}
                      if isinstance(costs, dict) else None)  # fmt: skip
    for key in ("machine", "versions"):
        if not isinstance(facts.get(key), dict):
            facts.pop(key, None)
    return facts


def _read_sweep(path: Path) -> list[dict]:
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        for row in rows:
            row["score"] = float(row["score"]) if row["score"] else None
            row["bytes_per_vector"] = int(row["bytes_per_vector"])
            if row["bytes_per_vector"] < 1:
                raise ValueError(f"bytes_per_vector {row['bytes_per_vector']} (must be positive)")
        return rows
    except (OSError, KeyError, ValueError, TypeError, csv.Error) as exc:
        _warn(f"skipped {path}: not a sweep.csv of `emberta sweep` ({type(exc).__name__}: {exc})")
        return []


def _read_jsonl(path: Path) -> list[dict] | None:
    entries = []
    try:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                entries.append(parse_json(line, path=path, line=number))
    except (OSError, UnicodeDecodeError) as exc:
        _warn(f"skipped {path}: corrupt training log ({exc})")
        return None
    except InputError as exc:
        _warn(f"skipped a corrupt training log: {exc}")
        return None
    return [e for e in entries if isinstance(e, dict)]


def _model_name(results: list[TaskResult], meta) -> str:
    if isinstance(meta, dict) and isinstance(meta.get("name"), str):
        return meta["name"]
    return str(results[0].info.get("model") or "unknown model")


def _drop_mixed_versions(runs: list[RunData]) -> None:
    """Keep, per task, the results of its most common version (data digest, split, metric, subsets; ties: the
    first seen); warn about and drop the others."""
    versions = Counter()
    first_seen: dict[str, tuple] = {}
    for run in runs:
        for result in run.results:
            versions[result.task_name, task_version(result)] += 1
            first_seen.setdefault(result.task_name, task_version(result))
    for run in runs:
        kept = []
        for result in run.results:
            name, version = result.task_name, task_version(result)
            best = max((v for (t, v) in versions if t == name),
                       key=lambda v, t=name: (versions[t, v], v == first_seen[t]))  # fmt: skip
            if version == best:
                kept.append(result)
            else:
                _warn(f"skipped {result.info['result_file']}: {name} there was scored on other data or settings "
                      f"(dataset_revision {version[0]}, split {version[1]}) than the other results "
                      f"(dataset_revision {best[0]}, split {best[1]}), so it cannot be compared")  # fmt: skip
        run.results = kept
    runs[:] = [r for r in runs if r.results]


def _name_runs(runs: list[RunData]) -> None:
    """Labels: the spec recorded in model_meta.json (shortened), else the model's name; repeats get the
    fingerprint's start."""
    for run in runs:
        spec = run.meta.get("spec")
        run.label = run.name.rsplit("/", 1)[-1]
        if isinstance(spec, str) and spec:
            with contextlib.suppress(EmbertaError):  # a spec edited by hand: the model's name will do
                run.label = short_label(spec)
    counts = Counter(r.label for r in runs)
    for run in runs:
        if counts[run.label] > 1:
            run.label = f"{run.label} ({run.folder.name[:8]})"


def _warn(message: str) -> None:
    warnings.warn(ReportWarning(message), stacklevel=3)
