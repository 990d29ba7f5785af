"""Tagging a file (streamed, `BLOCK` rows at a time, written atomically) and evaluating a tagger folder.

Input rows are either words (`.jsonl` rows with a `tokens` list, or a CoNLL column file) or raw texts (`.txt`,
or `.jsonl` / `.csv` / `.tsv` / `.parquet` rows with a text field), which the model's own pre-tokenizer cuts
into words with character offsets.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path

from emberta.classify.tagging.data import JSONL_SUFFIXES, iter_sentences, read_tagged
from emberta.classify.tagging.tagger import Tagger

BLOCK = 1024


def predict_file(tagger: Tagger, input: str | Path, out: str | Path, *, text_field: str = "text",
                 id_field: str | None = None, input_format: str | None = None,
                 on_progress: Callable[[int], None] | None = None) -> int:  # fmt: skip
    """Write one JSON line per input row to `out`: {"id", "tokens", "tags"} for rows of words, {"id", "text",
    "tokens": [{"text", "start", "end", "tag", "score"}], "entities": [...]} for raw texts. `out` appears
    only when complete. Returns the number of rows."""
    from emberta.io.atomic import atomic_writer, check_writable_dir

    out = check_writable_dir(out)
    words = _holds_words(input, input_format)
    count = 0
    with atomic_writer(out) as handle:
        blocks = _word_blocks(input) if words else _text_blocks(input, text_field, id_field, input_format)
        for block in blocks:
            for line in _tag_block(tagger, block, words=words):
                handle.write(json.dumps(line, ensure_ascii=False) + "\n")
            count += len(block)
            if on_progress is not None:
                on_progress(len(block))
    return count


def _holds_words(input: str | Path, input_format: str | None) -> bool:
    """Whether `input` holds words (a CoNLL file, or JSONL whose first row has a `tokens` list)."""
    if str(input) == "-" or input_format is not None:
        return False
    path = Path(input)
    suffix = path.suffix.lower()
    if suffix in (".conll", ".conllu", ".iob", ".bio"):
        return True
    if suffix not in JSONL_SUFFIXES or not path.is_file():
        return False
    with open(path, encoding="utf-8", errors="replace") as handle:
        for text in handle:
            if text.strip():
                try:
                    row = json.loads(text)
                except ValueError:
                    return False
                return isinstance(row, dict) and isinstance(row.get("tokens"), list)
    return False


def _word_blocks(input: str | Path) -> Iterator[list]:
    rows = ((str(number) if ident is None else ident, tokens) for number, (_, ident, tokens, _) in
            enumerate(iter_sentences(input, labelled=False)))  # fmt: skip
    while block := list(islice(rows, BLOCK)):
        yield block


def _text_blocks(input, text_field: str, id_field: str | None, input_format: str | None) -> Iterator[list]:
    from emberta.io.readers import TextReader

    with TextReader(input, format=input_format, field=text_field, id_field=id_field) as reader:
        reader.check_first()
        records = iter(reader)
        while block := list(islice(records, BLOCK)):
            yield [(r.id, r.text) for r in block]


def _tag_block(tagger: Tagger, block: list, *, words: bool) -> list[dict]:
    if words:
        tagged = tagger.predict_tokens([tokens for _, tokens in block])
        return [{"id": ident, "tokens": tokens, "tags": tags} for (ident, tokens), tags in zip(block, tagged,
                                                                                              strict=True)]  # fmt: skip
    results = tagger.predict_text([text for _, text in block])
    return [{"id": ident, "text": text, **result} for (ident, text), result in zip(block, results, strict=True)]


def evaluate(tagger: Tagger | str | Path, test: str | Path, *, strict: bool = False, write: bool = True) -> dict:
    """Metrics of a tagger (or tagger folder) on a tagged file (see tagging.metrics); with `write`, also
    `DIR/metrics.json` (written atomically)."""
    from emberta.classify.evaluate import write_report
    from emberta.classify.tagging.train import score

    if not isinstance(tagger, Tagger):
        tagger = Tagger.load(tagger)
    data = read_tagged(test, scheme=tagger.scheme, strict=strict)
    metrics = score(tagger, data)
    if write:
        write_report(metrics, tagger.folder, plot=False)
    return metrics
