"""Screenshot an HTML report in headless Chromium (the PNG of README.md, docs/images/report.png). The page is
opened from its file; the window grows to the page's height (capped), so one image shows it whole.

    emberta eval --model default --model default@onnx-int8 --model static:minilm-static --suite quick \\
        --report report.html
    .venv/bin/python benchmarks/report_screenshot.py report.html --out docs/images/report.png
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path


def main() -> None:
    summary, _, details = __doc__.strip().partition("\n\n")
    parser = argparse.ArgumentParser(description=summary, epilog=details,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("report", type=Path, help="the HTML report")
    parser.add_argument("--out", type=Path, required=True, help="the PNG to write")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--max-height", type=int, default=6000)
    args = parser.parse_args()

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars"):
        options.add_argument(flag)
    options.add_argument(f"--window-size={args.width},900")
    driver = webdriver.Chrome(service=Service(executable_path=shutil.which("chromedriver")), options=options)
    try:
        driver.get(args.report.resolve().as_uri())
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(args.width, min(height + 140, args.max_height))
        driver.save_screenshot(str(args.out))
    finally:
        driver.quit()
    print(f"wrote {args.out} ({args.width} px wide, page {height} px high)")


if __name__ == "__main__":
    main()
