"""Language-neutral embeddings (`emberta align languages`): fit transforms that take language identity out of a
multilingual model's vectors, and measure what they do to bitext mining and to how well a probe tells the
language.

Input: a file of texts with a language field and, for the bitext measure, a group field (rows in the same group
are translations of each other). Groups are split in two halves: the transforms are fitted on one and measured
on the other, so the score never sees the pairs it is judged on. Methods: "center" (LanguageCenter: subtract
each language's mean), "remove:K" (RemoveLanguageDirections: project out the top K directions of the
language means), or both, "center+remove:K".
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emberta.errors import InputError, OptionError
from emberta.similarity import unit_rows

METHODS = ("center", "remove:K", "center+remove:K")


@dataclass
class LanguageRows:
    """Texts with a language each and, when the file has one, a translation group each."""

    texts: list[str]
    languages: list[str]
    groups: list[str] | None


def read_language_rows(path: str | Path, *, field: str = "text", lang_field: str = "lang",
                       group_field: str | None = "group", format: str | None = None) -> LanguageRows:  # fmt: skip
    """The rows of a .jsonl/.csv/.tsv/.parquet file; every row needs a language (InputError naming file:line)."""
    from emberta.io.readers import TextReader

    wanted = [lang_field] + ([group_field] if group_field else [])
    texts, languages, groups = [], [], []
    with TextReader(path, format=format, field=field, meta_fields=wanted, meta_option="--lang-field") as reader:
        for record in reader:
            meta = record.meta or {}
            if meta.get(lang_field) in (None, ""):
                raise InputError(f"no {lang_field!r} field (the text's language); give every row one, or name the "
                                 "field with --lang-field", path=reader.name, line=record.line)  # fmt: skip
            texts.append(record.text)
            languages.append(str(meta[lang_field]))
            groups.append(None if meta.get(group_field) is None else str(meta[group_field]))
    if len(set(languages)) < 2:
        raise InputError(f"{len(set(languages))} language(s); language alignment needs at least two", path=path)
    has_groups = group_field is not None and any(g is not None for g in groups)
    return LanguageRows(texts, languages, groups if has_groups else None)


def parse_method(text: str) -> list:
    """The unfitted transforms of a method: center, remove:K or center+remove:K."""
    from emberta.transforms import LanguageCenter, RemoveLanguageDirections

    steps = []
    for step in text.split("+"):
        name, _, argument = step.strip().partition(":")
        if name == "center" and not argument:
            steps.append(LanguageCenter())
        elif name == "remove" and argument.isdigit() and int(argument) >= 1:
            steps.append(RemoveLanguageDirections(int(argument)))
        else:
            raise OptionError(f"unknown method {text!r}; choose one of {', '.join(METHODS)} (K a whole number)")
    return steps


def fit_transforms(steps: list, vectors: np.ndarray, languages: list[str]) -> list:
    """Fit `steps` in order on `vectors` with their languages."""
    x = np.asarray(vectors, dtype=np.float32)
    for step in steps:
        try:
            x = step.fit(x, languages).transform(x)
        except ValueError as exc:
            raise OptionError(str(exc)) from None
    return steps


def apply_transforms(steps: list, vectors: np.ndarray, languages: list[str]) -> np.ndarray:
    """`vectors` through fitted `steps`, telling LanguageCenter each row's language."""
    from emberta.transforms import LanguageCenter

    x = np.asarray(vectors, dtype=np.float32)
    for step in steps:
        x = step.transform(x, languages) if isinstance(step, LanguageCenter) else step.transform(x)
    return x


def measure(vectors: np.ndarray, languages: list[str], groups: list[str] | None) -> dict:
    """{"bitext_accuracy": {"a->b": share of a's rows whose nearest b row is their translation}, "bitext_mean",
    "language_probe": accuracy of a probe telling the language (chance: the largest language's share)}."""
    from emberta.geometry.language import language_separability

    x = unit_rows(np.asarray(vectors, dtype=np.float32))
    report: dict = {}
    if groups is not None:
        pairs = {}
        rows = {lang: {g: i for i, (lg, g) in enumerate(zip(languages, groups, strict=True)) if lg == lang
                       and g is not None} for lang in sorted(set(languages))}  # fmt: skip
        for a, b in itertools.permutations(sorted(rows), 2):
            shared = sorted(set(rows[a]) & set(rows[b]))
            if len(shared) >= 2:
                source, target = x[[rows[a][g] for g in shared]], x[[rows[b][g] for g in shared]]
                pairs[f"{a}->{b}"] = float(np.mean((source @ target.T).argmax(axis=1) == np.arange(len(shared))))
        report["bitext_accuracy"] = pairs
        report["bitext_mean"] = float(np.mean(list(pairs.values()))) if pairs else float("nan")
    probe = language_separability(x, languages)
    report["language_probe"] = {"accuracy": probe.accuracy, "chance": probe.chance}
    return report


def align_languages(model: str, rows: LanguageRows, method: str = "center", *, cache=True, seed: int = 0,
                    out: str | Path | None = None, batch_size: int = 32) -> dict:  # fmt: skip
    """Encode `rows` with `model` (through the embedding cache), fit `method` on half of the translation groups
    (or of the rows, without groups) and measure the other half before and after. With `out`, the fitted
    transforms (refitted on every row) go there, usable as an index's --transform, beside report.json.
    Returns the report."""
    from emberta.cache import open_store
    from emberta.encoders import load_encoder
    from emberta.io.atomic import staged_dir
    from emberta.transforms import save_transforms

    parse_method(method)  # a bad method fails before any encoding
    encoder = load_encoder(model)
    with open_store(cache) as store:
        vectors = store.encode(encoder, rows.texts, batch_size=batch_size)
    fit_rows, test_rows = _halves(rows, seed)
    pick = lambda items, chosen: None if items is None else [items[i] for i in chosen]  # noqa: E731
    steps = fit_transforms(parse_method(method), vectors[fit_rows], pick(rows.languages, fit_rows))
    languages, groups = pick(rows.languages, test_rows), pick(rows.groups, test_rows)
    report = {"model": encoder.name, "fingerprint": encoder.fingerprint, "method": method,
              "rows": {"fit": len(fit_rows), "measured": len(test_rows)},
              "before": measure(vectors[test_rows], languages, groups),
              "after": measure(apply_transforms(steps, vectors[test_rows], languages), languages, groups)}  # fmt: skip
    if out is not None:
        with staged_dir(Path(out), "languages") as staging:
            save_transforms(fit_transforms(parse_method(method), vectors, rows.languages), staging)
            (staging / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def _halves(rows: LanguageRows, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Row numbers of the fitting half and the measured half: split by translation group when there are groups
    (a group's translations stay together), else by row."""
    rng = np.random.default_rng(seed)
    if rows.groups is None:
        order = rng.permutation(len(rows.texts))
        return np.sort(order[: len(order) // 2]), np.sort(order[len(order) // 2 :])
    names = sorted({g for g in rows.groups if g is not None})
    fit_groups = set(rng.permutation(names)[: len(names) // 2].tolist())
    in_fit = np.array([g in fit_groups for g in rows.groups])
    return np.flatnonzero(in_fit), np.flatnonzero(~in_fit)
