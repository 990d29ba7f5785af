"""The web page of `emberta serve`, in a real headless browser (Debian's chromium driven by Selenium through
chromedriver; the test starts the server and the browser itself): type a query and see results, apply a
filter, use the similarity widget; see the index's overview, build a filter from its fields and values, see the
words BM25 matched marked, open a report from the reports folder, and take a screenshot. Metadata and report
names that are HTML show as text and never run. `.ci/run` installs chromium and sets EMBERTA_REQUIRE_BROWSER=1,
so there the test runs or fails; elsewhere it is skipped when no chromium is installed.

EMBERTA_SCREENSHOT=FILE.png saves the screenshot (the README's comes from benchmarks/serve_page_screenshot.py,
on a realistic index and the default model)."""

from __future__ import annotations

import os
import shutil
import time

import pytest

import emberta
from emberta.serve import create_app

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
if not (CHROMIUM and CHROMEDRIVER) and os.environ.get("EMBERTA_REQUIRE_BROWSER") != "1":
    pytest.skip("chromium and chromedriver are not installed (apt-get install chromium chromium-driver)",
                allow_module_level=True)  # fmt: skip

TEXTS = ["the cat sat on the mat", "dogs bark loudly at night", "a kitten sleeps", "stock markets fell today"]
UNSAFE = "<img src=x onerror=\"window.pwned='1'\">"  # HTML, and quotes the filter language must escape
SHOWN_IDS = "return [...document.querySelectorAll('#results li.hit .id')].map((e) => e.textContent)"
REPORT = """<!doctype html><html><head><title>Model comparison</title></head><body><h1>Comparison</h1>
<table id="scores"><tr><td>a</td></tr></table><script>document.getElementById("scores").dataset.sorted = "yes";
</script></body></html>"""


@pytest.fixture(scope="module")
def server(tiny_models, tmp_path_factory, start_server):
    from emberta.index import Index

    encoder = emberta.load_encoder(tiny_models["bert-st"])
    root = tmp_path_factory.mktemp("page")
    index = Index.create(root / "idx", model=str(tiny_models["bert-st"]), encoder=encoder)
    metadata = [{"lang": "en" if i % 2 else "de", "n": i, "my note": UNSAFE if i == 3 else "plain"} for i in range(4)]
    index.add(TEXTS, [f"t{i}" for i in range(4)], metadata)
    index.close()
    reports = root / "reports"
    reports.mkdir()
    (reports / "compare.html").write_text(REPORT, encoding="utf-8")
    (reports / f"{UNSAFE}.html").write_text("<p>a report with an odd name</p>", encoding="utf-8")
    app = create_app(encoder, index=Index.open(root / "idx", encoder=encoder), reports=reports)
    return start_server(app) + "/"


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the console: script errors, refused loads
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def wait_for(condition, seconds: float = 15.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("the page did not update in time")


def test_search_filter_and_similarity_in_a_browser(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(server)
    assert "emberta" in browser.title
    browser.find_element(By.ID, "query").send_keys("kitten")
    browser.find_element(By.ID, "search-button").click()
    hits = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#results li.hit"))
    assert len(hits) == 4
    assert {h.find_element(By.CSS_SELECTOR, ".id").text for h in hits} == {"t0", "t1", "t2", "t3"}

    browser.find_element(By.ID, "filter").send_keys("lang = 'en'")
    Select(browser.find_element(By.ID, "mode")).select_by_visible_text("hybrid")
    browser.find_element(By.ID, "search-button").click()
    wait_for(lambda: len(browser.find_elements(By.CSS_SELECTOR, "#results li.hit")) == 2)
    metas = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#results li.hit .meta")]
    assert all("lang: en" in m for m in metas)

    browser.find_element(By.ID, "filter").send_keys(" and")  # now malformed: the parser's message shows
    browser.find_element(By.ID, "search-button").click()
    error = wait_for(lambda: browser.find_element(By.ID, "search-error").text)
    assert "filter, column" in error

    browser.find_element(By.ID, "text-a").send_keys("a kitten sleeps")
    browser.find_element(By.ID, "text-b").send_keys("a kitten sleeps")
    browser.find_element(By.ID, "compare-button").click()
    score = wait_for(lambda: browser.find_element(By.ID, "similarity").text)
    assert score == "cosine 1.0000"


def test_overview_filter_builder_highlights_and_reports(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get_log("browser")  # drop what earlier tests logged (a refused filter, on purpose)
    browser.get(server)
    css = browser.find_elements
    stats = wait_for(lambda: [e.text for e in css(By.CSS_SELECTOR, "#overview .stat")])
    assert stats[0].splitlines() == ["4", "documents"] and "32" in stats[3]  # the tiny model's dimensions
    rows = {row.find_element(By.CSS_SELECTOR, ".name").text: row for row in css(By.CSS_SELECTOR, "#fields tr.field")}
    assert set(rows) == {"lang", "n", "my note"}
    assert rows["n"].find_element(By.CSS_SELECTOR, ".range").text == "0 … 3"
    chips = [[part.text for part in chip.find_elements(By.TAG_NAME, "span")]
             for chip in rows["my note"].find_elements(By.CSS_SELECTOR, ".chip")]  # fmt: skip
    assert chips == [["plain", "3"], [UNSAFE, "1"]]  # shown as text, not as an image

    browser.find_element(By.ID, "add-condition").click()  # the builder offers the fields and their values
    condition = browser.find_element(By.CSS_SELECTOR, "#conditions .condition")
    field = Select(condition.find_element(By.CSS_SELECTOR, ".cond-field"))
    assert [o.text for o in field.options] == ["lang", "n", "my note"]
    field.select_by_visible_text("lang")
    value = condition.find_element(By.CSS_SELECTOR, ".cond-value")
    offered = browser.find_elements(By.CSS_SELECTOR, f"#{value.get_attribute('list')} option")
    assert sorted(o.get_attribute("value") for o in offered) == ["de", "en"]
    value.send_keys("en")
    assert browser.find_element(By.ID, "filter").get_attribute("value") == "lang = 'en'"
    browser.find_element(By.ID, "add-condition").click()
    second = css(By.CSS_SELECTOR, "#conditions .condition")[1]
    Select(second.find_element(By.CSS_SELECTOR, ".cond-field")).select_by_visible_text("n")
    Select(second.find_element(By.CSS_SELECTOR, ".cond-op")).select_by_visible_text("<=")
    second.find_element(By.CSS_SELECTOR, ".cond-value").send_keys("1")
    assert browser.find_element(By.ID, "filter").get_attribute("value") == "lang = 'en' and n <= 1"

    browser.find_element(By.ID, "query").send_keys("dogs barking")  # bm25: the matched words are marked
    Select(browser.find_element(By.ID, "mode")).select_by_visible_text("bm25")
    browser.find_element(By.ID, "search-button").click()
    hits = wait_for(lambda: css(By.CSS_SELECTOR, "#results li.hit"))
    assert [h.find_element(By.CSS_SELECTOR, ".id").text for h in hits] == ["t1"]  # the one en document with n <= 1
    assert [m.text for m in hits[0].find_elements(By.CSS_SELECTOR, "mark")] == ["dogs", "bark"]
    assert hits[0].find_element(By.CSS_SELECTOR, ".text").text == TEXTS[1]
    second.find_element(By.CSS_SELECTOR, ".cond-remove").click()
    condition.find_element(By.CSS_SELECTOR, ".cond-remove").click()
    assert browser.find_element(By.ID, "filter").get_attribute("value") == ""
    Select(browser.find_element(By.ID, "mode")).select_by_visible_text("dense")
    browser.find_element(By.ID, "search-button").click()
    wait_for(lambda: len(css(By.CSS_SELECTOR, "#results li.hit")) == 4 and not css(By.CSS_SELECTOR, "#results mark"))
    assert UNSAFE in browser.find_element(By.ID, "results").text
    rows["my note"].find_elements(By.CSS_SELECTOR, ".chip")[1].click()  # a value chip adds its condition
    assert browser.find_element(By.ID, "filter").get_attribute("value") == '"my note" = ' + "'" + \
        UNSAFE.replace("'", "''") + "'"  # fmt: skip
    browser.find_element(By.ID, "search-button").click()
    wait_for(lambda: browser.execute_script(SHOWN_IDS) == ["t3"])  # read in one go: the list is being replaced

    reports = wait_for(lambda: css(By.CSS_SELECTOR, "#report-list li.report .open-report"))
    assert sorted(r.text for r in reports) == sorted(["Model comparison", f"{UNSAFE}.html"])
    next(r for r in reports if r.text == "Model comparison").click()
    wait_for(lambda: browser.find_element(By.ID, "report-view").is_displayed())
    browser.switch_to.frame(browser.find_element(By.ID, "report-frame"))
    try:  # the report's own script ran, inside its sandbox
        table = wait_for(lambda: css(By.CSS_SELECTOR, "#scores[data-sorted='yes']"))
        assert table and browser.find_element(By.TAG_NAME, "h1").text == "Comparison"
    finally:
        browser.switch_to.default_content()
    assert browser.execute_script("return window.pwned === undefined && document.querySelectorAll('img').length")\
        == 0  # fmt: skip
    assert [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"] == []  # nor refused loads
    png = browser.get_screenshot_as_png()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    if os.environ.get("EMBERTA_SCREENSHOT"):
        with open(os.environ["EMBERTA_SCREENSHOT"], "wb") as handle:
            handle.write(png)
