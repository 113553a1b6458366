"""The rendered 05_personas report and index.html, looked at in a real headless Chromium.

The notebook runs (papermill, the project kernel) on the fixture run of test_exports.py,
is rendered like the runner renders it, and each page is opened in Debian's Chromium
driven by Playwright (never ``playwright install``: the system browser is used). A page
fails on an image that did not load, a console error, an uncaught JavaScript error or a
dialog (escaped data such as ``<img src=x onerror=alert(1)>`` must stay text), and on
anything wider than a 1280 px laptop screen.

Without Chromium the tests are skipped on a developer machine and fail in CI (CI=true),
where `.ci/run` installs it with apt.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import sync_playwright

from helpers.config import load_params
from helpers.runner import execute_step, render_html
from helpers.summary import write_index
from test_exports import write_fixture_run

pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 900}

# Everything a reader would notice: broken images, horizontal scrolling (of the page or
# of any box inside it), plus the number of persona cards.
_INSPECT_JS = """
() => {
  const images = Array.from(document.images).map(i => ({
    src: (i.getAttribute('src') || '').slice(0, 60), ok: i.complete && i.naturalWidth > 0}));
  const root = document.documentElement;
  const scrollers = Array.from(document.querySelectorAll('*')).filter(el => {
    const o = getComputedStyle(el).overflowX;
    return (o === 'auto' || o === 'scroll') && el.scrollWidth > el.clientWidth + 1;
  }).map(el => el.tagName + '.' + (el.className || '').toString().slice(0, 60));
  return {images, pageWidth: root.scrollWidth, viewWidth: root.clientWidth, scrollers,
          cards: document.querySelectorAll('.persona-card').length};
}
"""


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        message = f"Chromium not found at {CHROMIUM}; fix: apt-get install chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def inspect_page(browser, url: str, screenshot: Path | None = None, selector: str = ".persona-cards") -> dict:
    """Open `url` at 1280 px and return what a reader would notice, plus every error seen."""
    page = browser.new_page(viewport=VIEWPORT)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    page.on("dialog", lambda d: (errors.append(f"dialog: {d.message}"), d.dismiss()))
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url[:80]}"))
    page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")
    found = page.evaluate(_INSPECT_JS)
    if screenshot is not None and found["cards"]:
        page.locator(selector).screenshot(path=str(screenshot))
    page.close()
    found["errors"] = errors
    return found


def assert_readable(found: dict, name: str) -> None:
    assert not found["errors"], (name, found["errors"])
    broken = [i["src"] for i in found["images"] if not i["ok"]]
    assert not broken, f"{name}: images that did not load: {broken}"
    assert found["pageWidth"] <= found["viewWidth"], (
        f"{name}: page is {found['pageWidth']} px wide at a {found['viewWidth']} px window"
    )
    assert not found["scrollers"], f"{name}: boxes that scroll sideways: {found['scrollers']}"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, Path]:
    """Run 05_personas on the fixture data into a run folder, render it and write index.html."""
    root = tmp_path_factory.mktemp("personas_report")
    paths = write_fixture_run(root / "data")
    params_file = root / "params.yaml"
    params_file.write_text(yaml.safe_dump({
        "input": {"path": str(paths["transactions"])},
        "paths": {"interim_dir": str(paths["interim_dir"]), "processed_dir": str(paths["processed_dir"]),
                  "reports_dir": str(root / "reports")},
    }), encoding="utf-8")
    run_dir = root / "run"
    run_dir.mkdir()
    kernel = load_params(params_file)["run"]["kernel"]
    executed = execute_step("05_personas", run_dir, str(params_file), kernel)
    page = render_html(executed, "05_personas - Personas, actions and exports")
    metrics = json.loads((run_dir / "metrics" / "05_personas.json").read_text(encoding="utf-8"))
    manifest = {"run_id": "test", "input": {"path": str(paths["transactions"]), "sha256": "0" * 64},
                "steps": [{"notebook": "05_personas", "seconds": 1.0}], "metrics": {"05_personas": metrics},
                "total_seconds": 1.0}
    return {"page": page, "index": write_index(run_dir, manifest), "run_dir": run_dir, "root": root}


def test_persona_report_loads_cleanly_at_laptop_width(browser, rendered):
    shot = rendered["root"] / "persona_cards.png"
    found = inspect_page(browser, rendered["page"].as_uri(), screenshot=shot)
    assert_readable(found, "05_personas.html")
    assert len(found["images"]) >= 2  # heatmap and segment composition
    metrics = json.loads((rendered["run_dir"] / "metrics" / "05_personas.json").read_text(encoding="utf-8"))
    assert found["cards"] == len(metrics["personas"]) == 4
    assert shot.stat().st_size > 10_000
    if os.environ.get("ECOMSEG_SCREENSHOT_DIR"):  # keep a copy to look at
        shutil.copy(shot, Path(os.environ["ECOMSEG_SCREENSHOT_DIR"]) / shot.name)
    html = rendered["page"].read_text(encoding="utf-8")
    assert "&lt;img src=x onerror=alert(1)&gt;" in html or "&lt;b&gt;Utopia&lt;/b&gt;" in html
    assert "Traceback" not in html and "Warning" not in html
    assert (rendered["run_dir"] / "segments.csv").is_file() and (rendered["run_dir"] / "personas.csv").is_file()


def test_index_with_personas_loads_cleanly(browser, rendered):
    found = inspect_page(browser, rendered["index"].as_uri())
    assert_readable(found, "index.html")
    assert "Personas at a glance" in rendered["index"].read_text(encoding="utf-8")


def test_the_checks_catch_a_broken_page(browser, tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<html><body><img src='missing.png'><div style='width:2000px'>wide</div>"
        "<div style='overflow-x:auto;width:200px'><div style='width:900px'>x</div></div>"
        "<script>undefinedFunction()</script></body></html>",
        encoding="utf-8",
    )
    found = inspect_page(browser, bad.as_uri())
    assert any("undefinedFunction" in e for e in found["errors"])
    assert [i["ok"] for i in found["images"]] == [False]
    assert found["pageWidth"] > found["viewWidth"]
    assert found["scrollers"] == ["DIV."]
    with pytest.raises(AssertionError):
        assert_readable(found, "bad.html")
