"""Cut texts that exceed a token budget, using the character offsets of their tokens.

Windows are substrings of the original text, so any tokenizer (WordPiece, BPE, SentencePiece) re-reads them
the way it would read the text itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

Offsets = Sequence[tuple[int, int]]


class LongTextWarning(UserWarning):
    """Some inputs were longer than max_length tokens and were truncated. `count` says how many."""

    def __init__(self, count: int, total: int, max_length: int):
        self.count, self.total, self.max_length = count, total, max_length
        super().__init__(
            f"{count} of {total} texts are longer than max_length={max_length} tokens and were truncated; "
            "use long_text='chunk' (CLI: --long-text chunk) to embed them whole"
        )


def split_windows(text: str, offsets: Offsets, budget: int, overlap: int) -> list[str]:
    """Split `text` into substrings of at most `budget` tokens; consecutive windows share about `overlap`
    tokens. Windows begin and end at word boundaries unless a single word is longer than the budget.

    offsets: (start, end) character span of each token of `text`, special tokens excluded.
    """
    n = len(offsets)
    if n == 0:
        return [text]
    overlap = min(overlap, budget // 2)
    word_start = [_starts_word(text, offsets, i) for i in range(n)] + [True]
    windows = []
    start = 0
    while True:
        end = min(start + budget, n)
        while end > start + 1 and not word_start[end]:
            end -= 1
        if not word_start[end]:  # one word longer than the budget: cut inside it
            end = min(start + budget, n)
        windows.append(text[offsets[start][0] : offsets[end - 1][1]])
        if end == n:
            return windows
        candidate = next_start = max(end - overlap, start + 1)
        while next_start < end and not word_start[next_start]:
            next_start += 1
        start = next_start if word_start[next_start] else candidate


def _starts_word(text: str, offsets: Offsets, i: int) -> bool:
    begin = offsets[i][0]
    return i == 0 or begin > offsets[i - 1][1] or text[begin].isspace() or text[begin - 1].isspace()


def cut_to_budget(text: str, offsets: Offsets, budget: int) -> str:
    """The prefix of `text` that holds its first `budget` tokens."""
    if len(offsets) <= budget:
        return text
    return text[: offsets[budget - 1][1]]


def fit(
    cut: Callable[[int], list[str]], measure: Callable[[list[str]], list[int]], budget: int, max_length: int
) -> list[str]:
    """Call `cut(budget)` with smaller budgets until every piece measures <= max_length tokens.

    Re-tokenizing a substring can take a token or two more than its span did inside the whole text (a word
    cut in the middle); shrinking by the excess converges in a step or two.
    """
    while True:
        pieces = cut(budget)
        excess = max(measure(pieces)) - max_length
        if excess <= 0 or budget <= 1:
            return pieces
        budget = max(1, budget - excess)
