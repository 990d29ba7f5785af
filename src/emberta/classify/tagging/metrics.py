"""Token classification metrics, all fractions in [0, 1].

Entities (bio, bioes): precision, recall and F1 per type and micro/macro over types, counting a predicted
entity correct only when its type and its span (first and last token) both match a true one: the CoNLL
convention (conlleval, seqeval's default mode). Both sequences are read as conlleval reads them, so a broken
prediction (`I-x` after `O`) is scored as that scorer would score it. Every scheme also gets token accuracy
(the score of part-of-speech style tags) and a confusion table of types, token by token (`O` for outside).

Tags found only in the truth (types the tagger never saw) are listed in `unseen_tags`; their entities count as
misses, so the numbers stay honest instead of crashing.
"""

from __future__ import annotations

from collections import Counter

from emberta.classify.tagging.schemes import OUTSIDE, entity_spans, split_tag


def tagging_metrics(truth: list[list[str]], predicted: list[list[str]], scheme: str,
                    known_tags: list[str] | None = None) -> dict:  # fmt: skip
    """{"n_sentences", "n_tokens", "token_accuracy", "confusion", "unseen_tags", and for bio/bioes "precision",
    "recall", "f1" (micro), "macro_f1", "per_type": {type: {precision, recall, f1, support}}} of `predicted`
    against `truth` (one tag list per sentence, equal lengths). known_tags: the tagger's tags (for
    unseen_tags)."""
    pairs = [(t, p) for row_t, row_p in zip(truth, predicted, strict=True) for t, p in zip(row_t, row_p, strict=True)]
    n_tokens = len(pairs)
    metrics: dict = {
        "n_sentences": len(truth),
        "n_tokens": n_tokens,
        "token_accuracy": sum(t == p for t, p in pairs) / n_tokens if n_tokens else 0.0,
        "scheme": scheme,
        "confusion": type_confusion(pairs, scheme),
        "unseen_tags": sorted({t for t, _ in pairs} - set(known_tags)) if known_tags is not None else [],
    }
    if scheme != "none":
        metrics.update(entity_metrics(truth, predicted))
    return metrics


def entity_metrics(truth: list[list[str]], predicted: list[list[str]]) -> dict:
    """Entity-level "precision", "recall", "f1" (micro over all entities), "macro_f1" (mean over the types in
    the truth or the prediction) and "per_type", with exact type-and-span matching."""
    true_count, pred_count, hits = Counter(), Counter(), Counter()
    for row, (t, p) in enumerate(zip(truth, predicted, strict=True)):
        gold = {(kind, row, start, end) for kind, start, end in entity_spans(t)}
        guess = {(kind, row, start, end) for kind, start, end in entity_spans(p)}
        true_count.update(e[0] for e in gold)
        pred_count.update(e[0] for e in guess)
        hits.update(e[0] for e in gold & guess)
    per_type = {}
    for kind in sorted(set(true_count) | set(pred_count)):
        per_type[kind] = _prf(hits[kind], pred_count[kind], true_count[kind])
    micro = _prf(sum(hits.values()), sum(pred_count.values()), sum(true_count.values()))
    macro = sum(v["f1"] for v in per_type.values()) / len(per_type) if per_type else 0.0
    return {"precision": micro["precision"], "recall": micro["recall"], "f1": micro["f1"], "macro_f1": macro,
            "n_entities": micro["support"], "n_predicted": sum(pred_count.values()), "per_type": per_type}  # fmt: skip


def _prf(hits: int, predicted: int, true: int) -> dict:
    precision = hits / predicted if predicted else 0.0
    recall = hits / true if true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "support": true}


def type_confusion(pairs: list[tuple[str, str]], scheme: str) -> dict:
    """{"labels", "matrix"}: matrix[i][j] counts tokens of true type labels[i] predicted as type labels[j]
    (entity types without their B/I/E/S prefix, O for outside; plain tags as they are with scheme none)."""

    def kind(tag: str) -> str:
        if scheme == "none":
            return tag
        prefix, name = split_tag(tag)
        return OUTSIDE if prefix in (OUTSIDE, "") else name

    counts = Counter((kind(t), kind(p)) for t, p in pairs)
    labels = sorted({k for pair in counts for k in pair}, key=lambda k: (k != OUTSIDE, k))
    return {"labels": labels, "matrix": [[counts[(a, b)] for b in labels] for a in labels]}


def summary(metrics: dict) -> dict:
    """The headline numbers of a metrics dict (for tagger.json)."""
    keys = ("n_sentences", "n_tokens", "token_accuracy", "precision", "recall", "f1", "macro_f1")
    return {key: metrics[key] for key in keys if key in metrics}
