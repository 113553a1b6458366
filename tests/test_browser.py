"""Every step page of a report run, read in a real headless Chromium at 390 px and 1280 px.

One transaction-level run (the generated export of test_pipeline.py, with markup in its
product and country names) and one customer-level run (test_customer_level_pipeline.py's
table) are made once; each of their five step pages is opened in Debian's Chromium driven
by Playwright (never ``playwright install``: the system browser is used), as a phone
(390 px, mobile viewport) and as a laptop (1280 px). A page fails on:

- a console error, an uncaught JavaScript error, a dialog (escaped data such as
  ``<img src=x onerror=alert(1)>`` must stay text) or a failed request;
- an image that did not load, or without alt text, or with nbconvert's default text;
- sideways scrolling of the page, or of a box in it, except a chart kept at a legible
  width on a phone and a table that cannot wrap any narrower;
- a chart shrunk below the width at which its labels stay legible, a persona card wider
  than the page;
- an absolute path of the run or project folder in its HTML (the pages are shared).

index.html is checked by tests/test_index_browser.py. Without Chromium the tests are
skipped on a developer machine and fail in CI (CI=true), where `.ci/run` installs it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from conftest import write_params
from helpers.config import NOTEBOOKS, PROJECT_ROOT
from helpers.pages import DEFAULT_ALT, MAX_MIN_WIDTH
from helpers.runner import run_report
from test_customer_level_pipeline import customer_table
from test_pipeline import generated_export

pytestmark = pytest.mark.slow

SCREENS = {
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
    "laptop": {"viewport": {"width": 1280, "height": 900}},
}
LEGIBLE_SHARE = 0.7  # a chart is shown at no less than this share of its own width (10 pt labels >= ~10 px)
# Folders of the machine a page must not name, besides the run's and the project's own.
MACHINE_FOLDERS = re.compile(r"(?<![\w.~-])/(tmp|work|home|root)/")

# Everything a reader would notice. A box may scroll sideways only when it is a chart kept
# at its legible width, or holds a table already at its narrowest (it cannot wrap more).
_INSPECT_JS = """
() => {
  const root = document.documentElement;
  const images = Array.from(document.images).map(i => ({
    src: (i.getAttribute('src') || '').slice(0, 40), ok: i.complete && i.naturalWidth > 0,
    alt: i.getAttribute('alt'), shown: i.getBoundingClientRect().width, natural: i.naturalWidth}));
  const narrowest = table => {
    const saved = [table.style.width, table.style.tableLayout];
    const now = table.getBoundingClientRect().width;
    table.style.tableLayout = 'auto'; table.style.width = '1px';
    const least = table.getBoundingClientRect().width;
    [table.style.width, table.style.tableLayout] = saved;
    return now <= least + 1;
  };
  const scrollers = Array.from(document.querySelectorAll('*')).filter(el => {
    const o = getComputedStyle(el).overflowX;
    return (o === 'auto' || o === 'scroll') && el.scrollWidth > el.clientWidth + 1;
  }).map(el => {
    const tables = Array.from(el.querySelectorAll('table'));
    const kind = el.classList.contains('chart-box') ? 'chart'
      : (tables.length && tables.every(narrowest) ? 'narrowest table' : 'other');
    return {kind, name: el.tagName + '.' + (el.className || '').toString().slice(0, 60)};
  });
  const cards = Array.from(document.querySelectorAll('.persona-card')).map(c => ({
    right: c.getBoundingClientRect().right, overflow: c.scrollWidth > c.clientWidth + 1}));
  return {images, scrollers, cards, text: document.body.innerText, viewWidth: window.innerWidth,
          pageWidth: Math.max(root.scrollWidth, document.body.scrollWidth), layoutWidth: root.clientWidth};
}
"""



@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """A transaction-level and a customer-level report run, made once for every test here."""
    made = {}
    for level in ("transactions", "customers"):
        root = tmp_path_factory.mktemp(f"browser_{level}")
        paths = {key: str(root / key) for key in ("interim", "processed", "reports")}
        tree = {"paths": {"interim_dir": paths["interim"], "processed_dir": paths["processed"],
                          "reports_dir": paths["reports"]}}
        if level == "transactions":
            generated_export(root / "export.csv")
            tree["input"] = {"path": "export.csv"}
        else:
            customer_table(root / "crm.csv")
            tree |= {"input": {"path": "crm.csv", "level": "customers", "columns": {
                        "customer_id": "Client", "recency_days": "DaysSince", "frequency": "Orders",
                        "monetary": "Spend", "birth_year": "YearBirth", "gender": "Sex"}},
                     "rfm": {"analysis_date": "2024-01-01"},
                     "clustering": {"features": ["recency_days", "frequency", "monetary", "WebVisits", "gender"],
                                    "log_features": ["frequency", "monetary"], "k_max": 5, "bootstrap_resamples": 5}}
        made[level] = run_report(str(write_params(root / "params.yaml", tree)))
    return made


def inspect_page(browser, url: str, screen: str = "laptop") -> dict:
    """Open `url` on `screen` and return what a reader would notice, plus every error seen."""
    context = browser.new_context(**SCREENS[screen])
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    page.on("dialog", lambda d: (errors.append(f"dialog: {d.message}"), d.dismiss()))
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url[:80]}"))
    page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")
    found = page.evaluate(_INSPECT_JS)
    context.close()
    found["errors"] = errors
    found["screen"] = screen
    return found


def page_problems(found: dict, html: str, folders: list[Path]) -> list[str]:
    """Return everything wrong with an inspected page (empty when it reads well)."""
    problems = list(found["errors"])
    width = SCREENS[found["screen"]]["viewport"]["width"]
    if found["layoutWidth"] != width:
        problems.append(f"laid out {found['layoutWidth']} px wide on a {width} px screen (viewport meta?)")
    if found["pageWidth"] > found["layoutWidth"]:
        problems.append(f"page scrolls sideways: {found['pageWidth']} px in a {found['layoutWidth']} px window")
    for image in found["images"]:
        if not image["ok"]:
            problems.append(f"image did not load: {image['src']}")
        if not (image["alt"] or "").strip() or image["alt"] == DEFAULT_ALT:
            problems.append(f"image without alt text: {image['src']} alt={image['alt']!r}")
        least = min(LEGIBLE_SHARE * image["natural"], MAX_MIN_WIDTH - 10)  # any image: charts come in many wrappers
        if image["shown"] < least:
            problems.append(f"chart shrunk to {image['shown']:.0f} of {image['natural']} px: labels illegible")
    allowed = {"phone": {"chart", "narrowest table"}, "laptop": {"narrowest table"}}[found["screen"]]
    problems += [f"box scrolls sideways: {s['name']} ({s['kind']})" for s in found["scrollers"] if s["kind"] not in allowed]
    problems += [f"persona card cut: right edge {c['right']:.0f} px" for c in found["cards"]
                 if c["overflow"] or c["right"] > found["layoutWidth"]]
    problems += [f"absolute path {folder}" for folder in folders if str(folder) in html]
    problems += [f"machine folder in the text: {m.group(0)}" for m in MACHINE_FOLDERS.finditer(found["text"])]
    return problems


@pytest.mark.parametrize("screen", sorted(SCREENS))
@pytest.mark.parametrize("name", NOTEBOOKS)
@pytest.mark.parametrize("level", ["transactions", "customers"])
def test_step_page_reads_well(browser, runs, level, name, screen):
    run_dir = runs[level]
    page = run_dir / f"{name}.html"
    found = inspect_page(browser, page.as_uri(), screen)
    folders = [run_dir, run_dir.parent.parent, PROJECT_ROOT]
    assert page_problems(found, page.read_text(encoding="utf-8"), folders) == [], f"{level} {name} at {screen}"
    assert found["images"] or name in ("01_clean", "05_personas"), f"{name}: no chart"


def test_persona_cards_are_all_shown_and_the_data_stays_text(browser, runs):
    run_dir = runs["transactions"]
    found = inspect_page(browser, (run_dir / "05_personas.html").as_uri(), "phone")
    metrics = json.loads((run_dir / "metrics" / "05_personas.json").read_text(encoding="utf-8"))
    assert len(found["cards"]) == len(metrics["personas"]) >= 2
    html = (run_dir / "05_personas.html").read_text(encoding="utf-8")
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img src=x" not in html
    assert len(found["images"]) >= 2  # heatmap and segment composition
    if os.environ.get("ECOMSEG_SCREENSHOT_DIR"):  # keep the pages to look at
        for name in NOTEBOOKS:
            shutil.copy(run_dir / f"{name}.html", Path(os.environ["ECOMSEG_SCREENSHOT_DIR"]) / f"{name}.html")


def test_the_checks_catch_a_broken_page(browser, tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<html><head><meta name='viewport' content='width=device-width'></head><body>"
        "<img src='missing.png' alt='a chart'>"
        f"<img src='data:image/png;base64,{_PIXEL}'>"
        f"<img src='data:image/png;base64,{_PIXEL}' alt='{DEFAULT_ALT}'>"
        f"<figure class='chart'><div class='chart-box'><img src='data:image/png;base64,{_blank_png(900, 300)}'"
        " alt='Orders per month' style='max-width:100%'></div></figure>"  # no kept width: shrinks on a phone
        "<div style='width:2000px'>wide</div>"
        "<div style='overflow-x:auto;width:200px'><div style='width:900px'>x</div></div>"
        "<div class='persona-card' style='width:300px;overflow:hidden'><div style='width:900px'>cut</div></div>"
        f"<pre>wrote rfm.parquet to /home/ana/shop/data</pre><p>run folder {tmp_path}</p>"
        "<script>undefinedFunction()</script></body></html>",
        encoding="utf-8",
    )
    found = inspect_page(browser, bad.as_uri(), "phone")
    problems = "\n".join(page_problems(found, bad.read_text(encoding="utf-8"), [tmp_path]))
    for expected in ("undefinedFunction", "image did not load: missing.png", "alt=None", f"alt={DEFAULT_ALT!r}",
                     "chart shrunk to", "page scrolls sideways", "box scrolls sideways: DIV. (other)",
                     "persona card cut", f"absolute path {tmp_path}", "machine folder in the text: /home/"):
        assert expected in problems, expected
    assert problems.count("image without alt text") == 2 and problems.count("chart shrunk") == 1


def _blank_png(width: int, height: int) -> str:
    """A white PNG as base64: an image that loads, so the checks see only what they should."""
    import base64
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


_PIXEL = _blank_png(1, 1)
