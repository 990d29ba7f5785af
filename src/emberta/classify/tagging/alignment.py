"""Words to model inputs and back: each word's label sits on its first sub-word (the others get -100, which the
loss ignores), and a sentence longer than the model's window is split into windows of whole words that
overlap by `stride` sub-words, so no word is ever silently cut off.

Each word belongs to one window (in an overlap, the half nearer each window's middle), and its prediction is
read there. A word the tokenizer maps to no sub-word at all (a zero-width character, an emoji some
vocabularies drop, an empty string) is given the tokenizer's unknown token instead, so it keeps its position
and its label.

    windows, stats = encode_words(tokenizer, [["Empire", "State", "Building"]], max_length=64, stride=16)
    windows[0].labels([[1, 2, 2]])  # -> [-100, 1, 2, 2, -100] for [CLS] empire state building [SEP]
"""

from __future__ import annotations

from dataclasses import dataclass

IGNORE = -100


@dataclass
class Window:
    """One model input: `input_ids`, the `word_ids` of its positions (None for special tokens), the sentence it
    comes from, and the words [own_start, own_end) whose predictions are read from it."""

    sentence: int
    input_ids: list[int]
    word_ids: list[int | None]
    own_start: int
    own_end: int

    def first_positions(self) -> dict[int, int]:
        """word -> position of its first sub-word, for the words this window owns."""
        positions: dict[int, int] = {}
        for position, word in enumerate(self.word_ids):
            if word is not None and self.own_start <= word < self.own_end and word not in positions:
                positions[word] = position
        return positions

    def labels(self, label_ids: list[list[int]]) -> list[int]:
        """The label of each position: the word's label id on its first sub-word (owned words only), else -100."""
        out = [IGNORE] * len(self.input_ids)
        row = label_ids[self.sentence]
        for word, position in self.first_positions().items():
            out[position] = row[word]
        return out


@dataclass
class AlignmentStats:
    """What aligning a set of sentences did: `windows` made, `split_sentences` (longer than one window),
    `unknown_words` (words given the unknown token because they had no sub-word)."""

    sentences: int = 0
    windows: int = 0
    split_sentences: int = 0
    unknown_words: int = 0


def encode_words(tokenizer, sentences: list[list[str]], *, max_length: int, stride: int,
                 stats: AlignmentStats | None = None) -> tuple[list[Window], AlignmentStats]:  # fmt: skip
    """The windows of `sentences` (lists of words) for a fast `tokenizer`, each at most `max_length` tokens
    with the special tokens; `stride`: sub-words shared by consecutive windows of a long sentence."""
    stats = stats or AlignmentStats()
    specials = tokenizer.num_special_tokens_to_add(pair=False)
    budget = max_length - specials
    if budget < 2:
        raise ValueError(f"max_length {max_length} leaves no room for words after {specials} special tokens")
    stride = max(0, min(stride, budget // 2))
    sentences = _fill_empty(tokenizer, sentences, stats)
    encoded = tokenizer(sentences, is_split_into_words=True, truncation=False, add_special_tokens=True)
    windows = []
    for index, words in enumerate(sentences):
        word_ids, input_ids = encoded.word_ids(index), list(encoded["input_ids"][index])
        if len(set(word_ids) - {None}) < len(words):
            words = sentences[index] = _with_unknown(tokenizer, words, word_ids, stats)
            again = tokenizer(words, is_split_into_words=True, truncation=False, add_special_tokens=True)
            word_ids, input_ids = again.word_ids(), list(again["input_ids"])
        if len(word_ids) <= max_length:
            windows.append(Window(index, input_ids, word_ids, 0, len(words)))
            continue
        stats.split_sentences += 1
        counts = [0] * len(words)
        for word in word_ids:
            if word is not None:
                counts[word] += 1
        windows += _split(tokenizer, index, words, counts, budget, stride, max_length)
    stats.sentences += len(sentences)
    stats.windows += len(windows)
    return windows, stats


def _fill_empty(tokenizer, sentences: list[list[str]], stats: AlignmentStats) -> list[list[str]]:
    """Empty or blank words replaced by the unknown token (the tokenizer would drop them)."""
    unknown = tokenizer.unk_token or "?"
    out = []
    for words in sentences:
        blank = [not w.strip() for w in words]
        stats.unknown_words += sum(blank)
        out.append([unknown if b else w for w, b in zip(words, blank, strict=True)] if any(blank) else words)
    return out


def _with_unknown(tokenizer, words: list[str], word_ids: list[int | None], stats: AlignmentStats) -> list[str]:
    """`words` with those that have no sub-word in `word_ids` replaced by the unknown token."""
    present = set(word_ids)
    unknown = tokenizer.unk_token or "?"
    stats.unknown_words += sum(i not in present for i in range(len(words)))
    return [w if i in present else unknown for i, w in enumerate(words)]


def _split(tokenizer, sentence: int, words: list[str], counts: list[int], budget: int, stride: int,
           max_length: int) -> list[Window]:  # fmt: skip
    """Windows of whole words of at most `budget` sub-words (a single longer word is cut after its first
    sub-words: only its first sub-word carries its label), each sharing its last words, `stride` sub-words or a
    little more, with the next (every window moves on by at least one word)."""
    spans = []
    start = 0
    while start < len(words):
        end, size = start, 0
        while end < len(words) and (end == start or size + counts[end] <= budget):
            size += counts[end]
            end += 1
        spans.append((start, end))
        if end == len(words):
            break
        back, shared = end, 0
        while back - 1 > start and shared < stride:  # step back whole words until `stride` sub-words are shared
            back -= 1
            shared += counts[back]
        start = back
    windows = []
    for k, (start, end) in enumerate(spans):
        own_start = 0 if k == 0 else (start + spans[k - 1][1] + 1) // 2
        own_end = len(words) if k == len(spans) - 1 else (spans[k + 1][0] + end + 1) // 2
        encoded = tokenizer(words[start:end], is_split_into_words=True, truncation=True, max_length=max_length)
        word_ids = [None if w is None else w + start for w in encoded.word_ids()]
        windows.append(Window(sentence, list(encoded["input_ids"]), word_ids, own_start, own_end))
    return windows


def word_predictions(windows: list[Window], logits: list, n_words: list[int]) -> list[list]:
    """Per sentence, the logits row of each word (read at its first sub-word in the window that owns it).
    `logits`: one (positions, k) array per window; `n_words`: the word count of each sentence."""
    out: list[list] = [[None] * n for n in n_words]
    for window, rows in zip(windows, logits, strict=True):
        for word, position in window.first_positions().items():
            out[window.sentence][word] = rows[position]
    return out
