"""`emberta report`: one self-contained HTML page from result folders (eval, sweep, analyze, train). Its
comparison table holds the result files' numbers; names are escaped; corrupt or mixed folders are skipped with
a warning naming the file; no results is an error. In headless Chromium (as tests/test_serve_page.py drives it,
skipped when chromium is absent unless EMBERTA_REQUIRE_BROWSER=1): the table sorts on a click, every figure is
there, no request leaves the page, and a screenshot is taken."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from emberta.cli.main import app
from emberta.tasks.result_files import write_run_meta
from emberta.tasks.results import SubsetScores, TaskResult

runner = CliRunner()
EVIL_MODEL = "<script>alert('pwned')</script>"
EVIL_LABEL = "<img src=x onerror=alert(1)>"
EVIL_TASK = "<img src=y onerror=alert(2)>"
# a 1x1 PNG, standing in for the plots `emberta analyze` draws
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def write_run(folder: Path, model: str, scores: dict, *, revision: str = "local-1", costs: dict | None = None):
    """A result folder as `emberta eval` writes it: task files and model_meta.json."""
    for task, (task_type, value) in scores.items():
        subsets = [SubsetScores("default", [], {"main_score": value, "x": value})]
        TaskResult(task, task_type, "x", "test", subsets, 1.0, {"dataset_revision": revision, "model": model}).write(
            folder
        )
    machine = {"cpu": "test CPU", "cores": 2, "usable_cores": 2, "memory_bytes": 2**33, "os": "Linux"}
    facts = {"model": model, "costs": costs, "machine": machine, "versions": {"emberta": "x"}}
    write_run_meta(folder, name=model, revision=folder.name, emberta=facts)


def costs(speed: float, memory: float) -> dict:
    return {"texts_per_second": speed, "first_vector_seconds": 1.5, "peak_memory_bytes": memory,
            "parameters": 22_700_000, "dim": 384, "bytes_per_vector": 1536, "model_bytes": 9e7}  # fmt: skip


@pytest.fixture(scope="module")
def results_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("report")
    write_run(root / "eval" / "minilm" / "aaa", "org/minilm", {"STSBenchmark": ("STS", 0.8203), "Cranfield": (
        "Retrieval", 0.3736), "TrecQA": ("Reranking", 0.7616)}, costs=costs(350.0, 9e8))  # fmt: skip
    write_run(root / "eval" / "evil" / "bbb", EVIL_LABEL, {"STSBenchmark": ("STS", 0.7912), "Cranfield": (
        "Retrieval", 0.4012), "TrecQA": ("Reranking", 0.7011)}, costs=costs(9000.0, 2e8))  # fmt: skip
    write_run(root / "eval" / "worse" / "ccc", EVIL_MODEL, {EVIL_TASK: ("STS", 0.5), "STSBenchmark": ("STS", 0.61)})
    sweep = root / "sweep"
    sweep.mkdir()
    sweep.joinpath("sweep.csv").write_text(
        "config,task,type,metric,score,bytes_per_vector,relative_change_pct\n"
        "none,STSBenchmark,STS,cosine_spearman,82.0300,1536,\nint8,STSBenchmark,STS,cosine_spearman,81.9000,384,-0.16\n"
        "binary,STSBenchmark,STS,cosine_spearman,77.1000,48,-6.01\n"
    )
    geometry = root / "geometry"
    geometry.mkdir()
    hub = {"k": 10, "k_skewness": 1.2, "robin_hood": 0.3, "hub_occurrence": 0.1, "antihub_occurrence": 0.05}
    report = {"model": "org/minilm", "source": "SciFact", "rows": 500, "dim": 384,
              "isotropy": {"average_cosine": 0.12, "partition_isotropy": 0.01},
              "rogue_dimensions": {"top": [{"dim": 5, "share": 0.2}], "rogue": [5]},
              "spectrum": {"effective_rank": 210.0, "dims_for_variance": {"0.9": 150, "0.95": 200, "0.99": 300}},
              "hubness": hub, "hubness_mp": hub, "hubness_ls": hub,
              "intrinsic_dimension": {"twonn": 14.0, "mle": 12.0},
              "alignment_uniformity": {"uniformity": -3.2, "alignment": None}}  # fmt: skip
    geometry.joinpath("report.json").write_text(json.dumps(report))
    geometry.joinpath("spectrum.png").write_bytes(PIXEL)
    train = root / "train"
    train.mkdir()
    trained = {"config": {"loss": "cosent"}, "summary": {"steps": 30}}  # as emberta-train.json holds them
    train.joinpath("emberta-train.json").write_text(json.dumps(trained))
    history = [{"step": s, "loss": 1.0 / s} for s in (10, 20, 30)] + [{"step": 30, "eval_mean": 81.2}]
    train.joinpath("metrics.jsonl").write_text("".join(json.dumps(h) + "\n" for h in history))
    return root


@pytest.fixture(scope="module")
def report_file(results_root) -> Path:
    out = results_root / "report.html"
    result = runner.invoke(app, ["report", str(results_root), "--out", str(out), "--compare-published"])
    assert result.exit_code == 0, result.output
    return out


class Tables(HTMLParser):
    """The cells (text, data-value, title) of each table with an id, by section (thead, tbody, tfoot)."""

    def __init__(self):
        super().__init__()
        self.tables, self.current, self.part, self.cell = {}, None, None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id"):
            self.current = self.tables.setdefault(attrs["id"], {"thead": [], "tbody": [], "tfoot": []})
        elif self.current is not None and tag in ("thead", "tbody", "tfoot"):
            self.part = tag
        elif self.current is not None and tag == "tr":
            self.current[self.part].append([])
        elif self.current is not None and tag in ("td", "th"):
            self.cell = {"text": "", "value": attrs.get("data-value"), "title": attrs.get("title")}
            self.current[self.part][-1].append(self.cell)

    def handle_endtag(self, tag):
        if tag == "table":
            self.current = None
        elif tag in ("td", "th"):
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell["text"] += data


def test_report_table_holds_the_result_files_numbers(results_root, report_file):
    parser = Tables()
    parser.feed(report_file.read_text(encoding="utf-8"))
    table = parser.tables["comparison"]
    header = table["thead"][0]
    files = {}
    for path in results_root.rglob("*.json"):
        data = json.loads(path.read_text())
        if "task_name" in data:
            model = json.loads((path.parent / "model_meta.json").read_text())["name"]
            files[model, data["task_name"]] = 100 * data["scores"]["test"][0]["main_score"]
    checked = 0
    for row in table["tbody"]:
        task = row[0]["text"]
        for head, cell in zip(header[3:], row[3:], strict=True):
            if head["title"].endswith("published score"):
                continue
            model = head["title"]
            if (model, task) in files:
                assert float(cell["value"]) == pytest.approx(files[model, task], rel=1e-6)
                assert cell["text"] == f"{files[model, task]:.2f}"
                checked += 1
            else:
                assert cell["value"] == "" and cell["text"] == ""
    assert checked == len(files) == 8
    published = [h["text"] for h in header if (h["title"] or "").endswith("published score")]
    assert "all-MiniLM-L6-v2published" in published  # MTEB's columns, with their badge
    assert {r[0]["text"] for r in parser.tables["leaderboard"]["tbody"]} >= {"minilm", EVIL_LABEL}


def test_report_escapes_names_from_result_files(report_file):
    html = report_file.read_text(encoding="utf-8")
    assert "<script>alert" not in html and "<img src=x" not in html and "<img src=y" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "&lt;script&gt;alert(" in html
    assert html.count("<script>") == 1  # the page's own sort script
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html)  # nothing loads from elsewhere


def test_report_skips_corrupt_files_and_other_task_versions(tmp_path):
    write_run(tmp_path / "a" / "1", "model-a", {"STSBenchmark": ("STS", 0.8)})
    write_run(tmp_path / "b" / "2", "model-b", {"STSBenchmark": ("STS", 0.7)})
    write_run(tmp_path / "c" / "3", "model-c", {"STSBenchmark": ("STS", 0.9)}, revision="local-other")
    write_run(tmp_path / "c" / "3", "model-c", {"Cranfield": ("Retrieval", 0.3)})
    (tmp_path / "a" / "1" / "Broken.json").write_text('{"task_name": "Broken", "scores": ')
    (tmp_path / "b" / "2" / "Odd.json").write_text('{"task_name": "Odd", "scores": {"test": [{"x": 1}]}}')
    out = tmp_path / "r.html"
    result = runner.invoke(app, ["report", str(tmp_path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: skipped")]
    assert len(warnings) == 3, result.stderr
    assert any(str(tmp_path / "a" / "1" / "Broken.json") in w and "corrupt JSON" in w for w in warnings)
    assert any(str(tmp_path / "b" / "2" / "Odd.json") in w for w in warnings)
    assert any(str(tmp_path / "c" / "3" / "STSBenchmark.json") in w and "local-other" in w for w in warnings)
    parser = Tables()
    parser.feed(out.read_text(encoding="utf-8"))
    rows = {r[0]["text"]: [c["value"] for c in r[3:]] for r in parser.tables["comparison"]["tbody"]}
    assert rows == {"STSBenchmark": ["80", "70", ""], "Cranfield": ["", "", "30"]}


def test_report_over_no_results_exits_2(tmp_path):
    (tmp_path / "empty").mkdir()
    for args, message in (([str(tmp_path / "empty")], "no results found in"),
                          ([str(tmp_path / "missing")], "no such file or folder")):  # fmt: skip
        result = runner.invoke(app, ["report", *args, "--out", str(tmp_path / "r.html")])
        assert result.exit_code == 2, result.output
        assert message in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "r.html").exists()


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


NO_BROWSER = not (CHROMIUM and CHROMEDRIVER) and os.environ.get("EMBERTA_REQUIRE_BROWSER") != "1"


@pytest.mark.skipif(
    NO_BROWSER, reason="chromium and chromedriver are not installed (apt-get install chromium chromium-driver)"
)
def test_report_in_a_browser_sorts_shows_every_figure_and_stays_offline(report_file, tmp_path):
    from selenium import webdriver
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.add_argument("--window-size=1280,900")
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        driver.get(report_file.as_uri())
        assert driver.title == "emberta report"
        with pytest.raises(NoAlertPresentException):
            driver.switch_to.alert.text  # noqa: B018 - no injected script ran
        assert driver.execute_script("return document.scripts.length") == 1
        assert driver.execute_script("return performance.getEntriesByType('resource').length") == 0

        kinds = [f.get_attribute("data-kind") for f in driver.find_elements(By.CSS_SELECTOR, "figure.figure")]
        assert sorted(kinds) == sorted(["task-type"] * 3 + ["speed", "sweep", "geometry", "training", "training"])
        for figure in driver.find_elements(By.CSS_SELECTOR, "figure.figure"):
            assert figure.find_elements(By.CSS_SELECTOR, "svg.chart, img") and figure.find_elements(By.TAG_NAME, "td")
        image = driver.find_element(By.CSS_SELECTOR, "figure[data-kind=geometry] img")
        assert driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth", image) == 1

        header = driver.find_element(By.XPATH, "//table[@id='comparison']//th[@title='org/minilm']")
        column = int(header.get_attribute("cellIndex"))

        def values():
            rows = driver.find_elements(By.CSS_SELECTOR, "#comparison tbody tr")
            return [r.find_elements(By.TAG_NAME, "td")[column].get_attribute("data-value") for r in rows]

        header.click()
        assert header.get_attribute("aria-sort") == "descending"
        assert values() == ["82.03", "76.16", "37.36", ""]  # the empty cell goes last
        header.click()
        assert values() == ["37.36", "76.16", "82.03", ""]
        shot = tmp_path / "report.png"
        driver.save_screenshot(str(shot))
        assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 10_000
    finally:
        driver.quit()
