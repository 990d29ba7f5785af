"""`emberta align languages` on Tatoeba: the first --pairs sentence pairs of each of --languages with English
become rows {"text", "lang", "group"} (a pair is one group), and each method is fitted on half of the groups and
measured on the other half: bitext mining accuracy (mean over the ordered language pairs) and the accuracy of a
probe telling the language, before and after.

    .venv/bin/python benchmarks/align_languages.py [--model default] [--languages deu,fra,spa,rus,nld,tur]
"""

from __future__ import annotations

import json

from common import parser as benchmark_parser
from emberta.language_alignment import LanguageRows, align_languages

METHODS = ("center", "remove:1", "remove:3", "center+remove:3")


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--model", default="default")
    parser.add_argument("--languages", default="deu,fra,spa,rus,nld,tur")
    parser.add_argument("--pairs", type=int, default=500)
    args = parser.parse_args()
    texts, languages, groups = [], [], []
    for lang in args.languages.split(","):
        lines = (args.data_dir / "tatoeba" / f"{lang}-eng.jsonl").read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines[: args.pairs]):
            row = json.loads(line)
            for text, language in ((row["sentence1"], lang), (row["sentence2"], "eng")):
                texts.append(text)
                languages.append(language)
                groups.append(f"{lang}-{number}")
    rows = LanguageRows(texts, languages, groups)
    print(f"model {args.model}; {len(texts)} rows, languages {sorted(set(languages))}")
    print("method            | bitext before | bitext after | probe before | probe after | chance")
    for method in METHODS:
        report = align_languages(args.model, rows, method)
        before, after = report["before"], report["after"]
        print(f"{method:17} | {100 * before['bitext_mean']:13.1f} | {100 * after['bitext_mean']:12.1f} | "
              f"{100 * before['language_probe']['accuracy']:12.1f} | {100 * after['language_probe']['accuracy']:11.1f}"
              f" | {100 * after['language_probe']['chance']:.1f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
