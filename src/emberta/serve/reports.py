"""The folder of HTML reports that `emberta serve --reports DIR` lists and serves, read-only.

A report is reached by its file name only, and only if that name is one the folder lists: a regular `*.html`
file directly in DIR (not hidden; a symbolic link only when it stays inside DIR). Nothing a client sends is ever
joined to a path, so `../`, absolute paths and their encodings name no report.
"""

from __future__ import annotations

import html
import re
from datetime import datetime, timezone
from pathlib import Path

from emberta.errors import InputError

TITLE_BYTES = 64 * 1024  # where a report's <title> is looked for
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
# what a report may do when opened: run its own inline scripts and styles, show inline (data:) images and fonts,
# and nothing else: no request leaves it, and in a sandbox it cannot reach the server's pages or their storage
REPORT_POLICY = (
    "sandbox allow-scripts; default-src 'none'; script-src 'unsafe-inline'; "
    "style-src 'unsafe-inline'; img-src data: blob:; font-src data:; base-uri 'none'; form-action 'none'"
)


class ReportFolder:
    """The reports folder `path`; InputError when it is not an existing folder."""

    def __init__(self, path: str | Path):
        given = Path(path).expanduser()
        if not given.is_dir():
            what = "does not exist" if not given.exists() else "is not a folder"
            raise InputError(f"the reports folder {what}; give --reports an existing folder of .html files "
                             "(for example the folder `emberta report --out` writes to)", path=given)  # fmt: skip
        self.path = given.resolve()

    def reports(self) -> dict[str, Path]:
        """name -> file of every report the folder holds now."""
        found = {}
        for entry in self.path.iterdir():
            if entry.name.startswith(".") or entry.suffix.lower() != ".html":
                continue
            try:
                target = entry.resolve(strict=True)
            except (OSError, RuntimeError):  # a dangling link or a loop
                continue
            if target.is_file() and target.is_relative_to(self.path):
                found[entry.name] = target
        return found

    def listing(self) -> list[dict]:
        """[{"name", "title", "bytes", "modified"}] of the reports, newest first (then by name); title is the
        report's <title> (or its name), modified an ISO 8601 time in UTC."""
        rows = []
        for name, target in self.reports().items():
            try:
                stat = target.stat()
                title = _title(target) or name
            except OSError:  # removed meanwhile
                continue
            modified = datetime.fromtimestamp(stat.st_mtime, timezone.utc).isoformat(timespec="seconds")
            rows.append({"name": name, "title": title, "bytes": stat.st_size, "modified": modified})
        rows.sort(key=lambda row: row["name"])
        return sorted(rows, key=lambda row: row["modified"], reverse=True)

    def read(self, name: str) -> bytes | None:
        """The bytes of the report called `name`, or None when the folder lists no report by that name."""
        target = self.reports().get(name)
        if target is None:
            return None
        try:
            return target.read_bytes()
        except OSError:
            return None


def _title(path: Path) -> str | None:
    """The text of the first <title> in the head of the HTML file `path`, whitespace collapsed."""
    with path.open("rb") as handle:
        found = _TITLE.search(handle.read(TITLE_BYTES))
    if found is None:
        return None
    text = html.unescape(found.group(1).decode("utf-8", errors="replace"))
    return " ".join(text.split())[:200] or None
