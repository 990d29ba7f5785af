"""Reading result folders back: MTEB-layout task files (`<task>.json`) into TaskResults, and the run's sidecar
`model_meta.json` (MTEB's own name for it: MTEB's loader reads its "name" and "revision" and skips it as a task
file; emberta keeps its run facts — spec, cost figures, versions, machine — under its "emberta" key)."""

from __future__ import annotations

import json
from pathlib import Path

from emberta.errors import InputError
from emberta.io.atomic import write_text_atomic
from emberta.tasks.results import SubsetScores, TaskResult

RUN_META_FILE = "model_meta.json"
RUN_META_FORMAT = "emberta.run/1"


def is_task_file(data) -> bool:
    """Whether a parsed JSON document has the shape of an MTEB task result (task_name and scores)."""
    return isinstance(data, dict) and "task_name" in data and "scores" in data


def task_result_from_dict(data: dict, path: Path) -> TaskResult:
    """The TaskResult held by a parsed `<task>.json` (as TaskResult.to_mteb_dict writes it); InputError naming
    `path` when a part is missing or of the wrong type."""
    try:
        block = data.get("emberta") or {}
        splits = data["scores"]
        split, rows = next(iter(splits.items()))
        subsets = [SubsetScores(r["hf_subset"], list(r.get("languages") or []),
                                {k: v for k, v in r.items() if k not in ("hf_subset", "languages")})
                   for r in rows]  # fmt: skip
        if not subsets or any(not isinstance(s.metrics["main_score"], (int, float)) for s in subsets):
            raise ValueError("no numeric main_score")
        info = {k: v for k, v in block.items() if k not in ("task_type", "main_score")}
        info["dataset_revision"] = data.get("dataset_revision")
        return TaskResult(str(data["task_name"]), str(block.get("task_type", "unknown")),
                          str(block.get("main_score", "main_score")), str(split), subsets,
                          float(data.get("evaluation_time") or 0.0), info)  # fmt: skip
    except (KeyError, TypeError, ValueError, AttributeError, StopIteration) as exc:
        raise InputError(f"not an MTEB task result ({type(exc).__name__}: {exc})", path=path) from None


def task_version(result: TaskResult) -> tuple:
    """What must agree for two results of a task to be comparable: the data (dataset_revision), the split, the
    main metric and the subsets."""
    return (result.info.get("dataset_revision"), result.split, result.main_score_name,
            tuple(sorted(s.hf_subset for s in result.subsets)))  # fmt: skip


def write_run_meta(folder: Path, *, name: str, revision: str, emberta: dict, **mteb_fields) -> Path:
    """Write `<folder>/model_meta.json`: MTEB's fields (name, revision, and any of n_parameters, embed_dim,
    max_tokens, similarity_fn_name, framework) and emberta's run facts under "emberta"."""
    folder.mkdir(parents=True, exist_ok=True)
    payload = {"name": name, "revision": revision, **mteb_fields,
               "emberta": {"format": RUN_META_FORMAT, **emberta}}  # fmt: skip
    path = folder / RUN_META_FILE
    write_text_atomic(path, json.dumps(payload, indent=2, default=str) + "\n")
    return path
