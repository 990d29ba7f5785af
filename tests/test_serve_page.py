"""The web page of `emberta serve`, in a real headless browser (Debian's chromium driven by Selenium through
chromedriver; the test starts the server and the browser itself): type a query and see results, apply a
filter, use the similarity widget. `.ci/run` installs chromium and sets EMBERTA_REQUIRE_BROWSER=1, so there the
test runs or fails; elsewhere it is skipped when no chromium is installed."""

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


@pytest.fixture(scope="module")
def server(tiny_models, tmp_path_factory, start_server):
    from emberta.index import Index

    encoder = emberta.load_encoder(tiny_models["bert-st"])
    path = tmp_path_factory.mktemp("page") / "idx"
    index = Index.create(path, model=str(tiny_models["bert-st"]), encoder=encoder)
    index.add(TEXTS, [f"t{i}" for i in range(4)], [{"lang": "en" if i % 2 else "de", "n": i} for i in range(4)])
    index.close()
    return start_server(create_app(encoder, index=Index.open(path, encoder=encoder))) + "/"


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
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
    assert all('"lang":"en"' in m for m in metas)

    browser.find_element(By.ID, "filter").send_keys(" and")  # now malformed: the parser's message shows
    browser.find_element(By.ID, "search-button").click()
    error = wait_for(lambda: browser.find_element(By.ID, "search-error").text)
    assert "filter, column" in error

    browser.find_element(By.ID, "text-a").send_keys("a kitten sleeps")
    browser.find_element(By.ID, "text-b").send_keys("a kitten sleeps")
    browser.find_element(By.ID, "compare-button").click()
    score = wait_for(lambda: browser.find_element(By.ID, "similarity").text)
    assert score == "cosine 1.0000"
