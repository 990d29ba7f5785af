"""The README's screenshot of the `emberta serve` web page (docs/images/serve-page.png): a small but real index
(the first 400 AG News items, with topic, news agency and length as metadata) on the default model, a reports
folder, and the page after a hybrid search filtered through the filter builder, in headless chromium.

    .venv/bin/python benchmarks/serve_page_screenshot.py [--data-dir DIR] [--reports DIR] [--out PNG]
(needs chromium and chromedriver: apt-get install chromium chromium-driver; loopback only)
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

from common import parser as benchmark_parser

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = 400
QUERY = "private rocket launch into space"
EXAMPLE_REPORT = """<!doctype html><html><head><meta charset="utf-8"><title>Example report</title></head>
<body><h1>Example report</h1><p>Write real ones with <code>emberta report RESULTS --out DIR/report.html</code>.</p>
</body></html>"""


def news(data_dir: Path, count: int) -> tuple[list[str], list[dict]]:
    """(texts, metadata) of the first `count` AG News items: title and description, with the topic, the news
    agency named at the end of the title (when there is one) and the number of words."""
    texts, metadata = [], []
    with gzip.open(data_dir / "agnews_clustering" / "test.jsonl.gz", "rt", encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            text = re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), row["text_p2p"])  # the corpus's "#36;" is "$"
            meta = {"topic": row["label"], "words": len(text.split())}
            agency = re.search(r"\(([A-Za-z][\w .&-]{1,20})\)\s*$", row["text"])
            if agency:
                meta["agency"] = agency.group(1)
            texts.append(text)
            metadata.append(meta)
            if len(texts) == count:
                break
    return texts, metadata


def serve(app) -> str:
    """Run `app` under uvicorn on a free loopback port in a thread; its base URL."""
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    for _ in range(400):
        if server.started:
            return f"http://127.0.0.1:{port}/"
        time.sleep(0.05)
    raise SystemExit("the server did not start within 20 s")


def wait_for(condition, seconds: float = 60.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.1)
    raise SystemExit("the page did not update in time")


def screenshot(url: str, out: Path) -> None:
    """Open the page, filter on the Sci/Tech topic through its value chip, run a hybrid search, save the page."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1200,1000", "--hide-scrollbars"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=shutil.which("chromedriver")), options=options)
    try:
        driver.get(url)
        chip = wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, '#fields .chip[title="topic = Sci/Tech"]'))
        chip[0].click()
        driver.find_element(By.ID, "query").send_keys(QUERY)
        Select(driver.find_element(By.ID, "mode")).select_by_visible_text("hybrid")
        driver.find_element(By.ID, "k").clear()
        driver.find_element(By.ID, "k").send_keys("4")
        driver.find_element(By.ID, "search-button").click()
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#results mark"))
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#report-list li"))
        driver.execute_script("window.scrollTo(0, 0); document.activeElement.blur()")
        bottom = driver.execute_script(
            "return document.querySelector('#reports-section').getBoundingClientRect().bottom"
        )
        metrics = {"width": 1200, "height": int(bottom) + 24, "deviceScaleFactor": 1, "mobile": False}
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)  # the page down to the reports
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(driver.get_screenshot_as_png())
    finally:
        driver.quit()


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--reports", type=Path, help="a folder of HTML reports (default: one example report)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "serve-page.png")
    args = parser.parse_args()

    import emberta
    from emberta.index import Index
    from emberta.serve import create_app

    texts, metadata = news(args.data_dir, DOCUMENTS)
    encoder = emberta.load_encoder("default")
    with tempfile.TemporaryDirectory() as scratch:
        index = Index.create(Path(scratch) / "news", model="default", encoder=encoder)
        index.add(texts, [f"agnews-{i}" for i in range(len(texts))], metadata)
        index.close()
        reports = args.reports
        if reports is None:
            reports = Path(scratch) / "reports"
            reports.mkdir()
            (reports / "example.html").write_text(EXAMPLE_REPORT, encoding="utf-8")
        index = Index.open(Path(scratch) / "news", encoder=encoder)
        screenshot(serve(create_app(encoder, index=index, reports=reports)), args.out)
        index.close()
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
