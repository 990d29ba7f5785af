"""Tag schemes: reading entity spans out of tag sequences and writing them back.

Spans are read as the CoNLL-2000 scorer (`conlleval`) and seqeval's default mode read them, so a sequence that
breaks its scheme still gives the entities those scorers count: an entity starts at `B-x` or `S-x`, and at `I-x`
or `E-x` whose previous tag is `O`, ends an entity, or has another type; it ends before a `B`, `S` or `O`, after
an `E` or `S`, and where the type changes. `repair` writes those spans back in the scheme's correct form.
"""

from __future__ import annotations

SCHEMES = {"bio": ("B", "I"), "bioes": ("B", "I", "E", "S"), "none": ()}
OUTSIDE = "O"


def split_tag(tag: str) -> tuple[str, str]:
    """(prefix, type) of a tag: ("O", "") for O, ("B", "person") for B-person; a tag without a prefix and dash
    gives ("", tag)."""
    if tag == OUTSIDE:
        return OUTSIDE, ""
    if len(tag) > 2 and tag[1] in "-_" and tag[0] in "BIES":
        return tag[0], tag[2:]
    return "", tag


def tag_type(tag: str, scheme: str) -> str | None:
    """The entity type of `tag` ("" for O) when it is a tag of `scheme`, else None. With scheme "none", any
    non-empty tag is its own type."""
    if scheme == "none":
        return tag if tag else None
    prefix, kind = split_tag(tag)
    if prefix == OUTSIDE:
        return ""
    return kind if prefix in SCHEMES[scheme] else None


def detect_scheme(tags: list[str]) -> str:
    """ "bioes" when a tag has an E- or S- prefix, "bio" when one has a B- or I- prefix, else "none"."""
    prefixes = {split_tag(tag)[0] for tag in tags}
    if prefixes & {"E", "S"}:
        return "bioes"
    return "bio" if prefixes & {"B", "I"} else "none"


def entity_spans(tags: list[str]) -> list[tuple[str, int, int]]:
    """The entities of a tag sequence as (type, start, end) with `end` exclusive, read as conlleval reads them
    (see the module docstring). Tags without a prefix count as outside."""
    spans = []
    start, kind = None, ""
    previous = OUTSIDE
    for i, tag in enumerate([*tags, OUTSIDE]):
        prefix, current = split_tag(tag)
        if prefix == "":
            prefix, current = OUTSIDE, ""
        if start is not None and _ends(previous, prefix, kind, current):
            spans.append((kind, start, i))
            start = None
        if _starts(previous, prefix, kind, current):
            start = i
        previous, kind = prefix, current
    return spans


def _ends(previous: str, prefix: str, previous_type: str, current_type: str) -> bool:
    if previous in ("E", "S"):
        return True
    if previous in ("B", "I") and prefix in ("B", "S", OUTSIDE):
        return True
    return previous != OUTSIDE and previous_type != current_type


def _starts(previous: str, prefix: str, previous_type: str, current_type: str) -> bool:
    if prefix in ("B", "S"):
        return True
    if prefix in ("I", "E") and previous in ("E", "S", OUTSIDE):
        return True
    return prefix != OUTSIDE and previous_type != current_type


def spans_to_tags(spans: list[tuple[str, int, int]], length: int, scheme: str) -> list[str]:
    """A tag sequence of `length` tags holding `spans` in `scheme` (bio or bioes)."""
    tags = [OUTSIDE] * length
    for kind, start, end in spans:
        if scheme == "bioes" and end - start == 1:
            tags[start] = f"S-{kind}"
            continue
        tags[start] = f"B-{kind}"
        for i in range(start + 1, end):
            tags[i] = f"I-{kind}"
        if scheme == "bioes":
            tags[end - 1] = f"E-{kind}"
    return tags


def repair(tags: list[str], scheme: str) -> tuple[list[str], int | None]:
    """(the sequence in its scheme's correct form, the index of the first tag that changed or None when none
    did). Scheme "none" leaves tags as they are."""
    if scheme == "none":
        return tags, None
    fixed = spans_to_tags(entity_spans(tags), len(tags), scheme)
    for i, (a, b) in enumerate(zip(tags, fixed, strict=True)):
        if a != b:
            return fixed, i
    return tags, None
