"""Where a query's words occur in found documents, as BM25 matched them: FTS5's own `highlight()` over the
same MATCH expression the BM25 search runs (the same tokenizer, Porter stemming and diacritics folding), so
"running" in a document is marked for the query "runs", and a stop word of the query is not.

Spans are [start, end) offsets in characters (code points) of the document's text, in order, never
overlapping. A web page marks them; an API client can cut the text with them.
"""

from __future__ import annotations

from collections.abc import Sequence

from emberta.index.documents import match_expression

_PRIVATE_USE = range(0xE000, 0xF900)  # marker characters: a text holding them all cannot be marked at all


def matched_spans(store, query: str, hits: Sequence) -> list[list[tuple[int, int]]]:
    """For each of `hits` (with `.id` and `.text`, as `Index.search` returns them) the spans of the words of
    `query` that BM25 matches in its text; [] for a hit with no match (or one changed since it was found).
    `store` is the index's DocumentStore; callers sharing its connection between threads hold their lock."""
    match = match_expression(query)
    texts = [hit.text or "" for hit in hits]
    markers = _markers(texts)
    if match is None or not hits or markers is None:
        return [[] for _ in hits]
    opening, closing = markers
    ids = [hit.id for hit in hits]
    marked: dict[str, str] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        sql = (
            "SELECT documents.id, highlight(fts, 0, ?, ?) FROM fts JOIN documents ON documents.slot = fts.rowid "
            f"WHERE fts MATCH ? AND documents.id IN ({', '.join('?' * len(chunk))})"
        )
        marked.update(store.conn.execute(sql, [opening, closing, match, *chunk]).fetchall())
    spans = []
    for doc_id, text in zip(ids, texts, strict=True):
        found = _spans(marked.get(doc_id, ""), opening, closing)
        spans.append(found[0] if found is not None and found[1] == text else [])
    return spans


def _markers(texts: Sequence[str]) -> tuple[str, str] | None:
    """Two characters that occur in none of `texts`, to mark the start and end of a match."""
    used = set().union(*map(set, texts)) if texts else set()
    free = (chr(code) for code in _PRIVATE_USE if chr(code) not in used)
    opening, closing = next(free, None), next(free, None)
    return None if closing is None else (opening, closing)


def _spans(marked: str, opening: str, closing: str) -> tuple[list[tuple[int, int]], str] | None:
    """(spans, plain text) of a text marked with `opening` ... `closing`; None when it carries no marks."""
    spans, plain, start = [], [], None
    for char in marked:
        if char == opening:
            start = len(plain)
        elif char == closing and start is not None:
            if len(plain) > start:
                spans.append((start, len(plain)))
            start = None
        else:
            plain.append(char)
    return (spans, "".join(plain)) if spans else None
