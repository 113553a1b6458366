"""index.html and the run history in a real headless Chromium, at a phone and a laptop width.

Hand-made run folders (no notebook runs), so this stays in the fast tier. Each page must
fit the window at 390 px and 1280 px, with every ``<details>`` closed and opened: no
sideways scrolling of the page or of any box in it, no console or JavaScript error.
Chromium is driven like tests/test_browser.py does it: Debian's ``/usr/bin/chromium`` through
Playwright, never a downloaded browser; skipped without it, failed in CI.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.run_history import write_history
from helpers.summary import write_index
from test_run_history import make_manifest, persona_csv_rows, write_run

WIDTHS = (390, 1280)
LONG_NAME = "Occasional high-value wholesale buyers from the Channel Islands"
LONG_INPUT = "orders_export_all_shops_all_regions_2010-12-01_to_2011-12-09_final_v2.csv"

_MEASURE_JS = """
(openDetails) => {
  if (openDetails) document.querySelectorAll('details').forEach(d => { d.open = true; });
  const root = document.documentElement;
  const wide = Array.from(document.querySelectorAll('body *')).filter(el => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.right > window.innerWidth + 1;
  }).map(el => el.tagName + '.' + (el.className || '').toString().slice(0, 40));
  return {scrollWidth: root.scrollWidth, innerWidth: window.innerWidth, wide: wide.slice(0, 5)};
}
"""



@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, Path]:
    """A run's index.html (long names, 11 segments) and the history of three runs."""
    root = tmp_path_factory.mktemp("index_browser")
    reports = root / "reports"
    personas = [(LONG_NAME, 40), ("Loyal high-value", 30), ("New / first-time buyers", 20), ("No kept order", 10)]
    segments = [(name, 9) for name in ("Champions", "Loyal", "Potential Loyalist", "New Customers", "Promising",
                                       "Need Attention", "About to Sleep", "At Risk", "Can't Lose Them",
                                       "Hibernating", "Lost")]
    runs = []
    for i, run_id in enumerate(("20261127-080000", "20261128-080000", "20261129-080000")):
        manifest = make_manifest(root, run_id, input_name=LONG_INPUT, personas=personas[: 4 - i % 2],
                                 segments=segments, stable=i != 2)
        rows = persona_csv_rows(personas[: 4 - i % 2])
        rows[0]["action_1"] = "Invite them to a loyalty or VIP programme with early access to new ranges " * 2
        runs.append((write_run(reports, manifest, rows), manifest))
    (reports / "latest").symlink_to(runs[-1][0].name)
    return {"index": write_index(runs[-1][0], runs[-1][1], root=root), "history": write_history(reports, root=root)}


def _measure(browser, url: str, width: int, open_details: bool) -> dict:
    page = browser.new_page(viewport={"width": width, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url, wait_until="load")
    found = page.evaluate(_MEASURE_JS, open_details)
    page.close()
    return {**found, "errors": errors}


@pytest.mark.parametrize("name", ["index", "history"])
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("open_details", [False, True], ids=["closed", "opened"])
def test_page_fits_the_window_without_sideways_scrolling(browser, pages, name, width, open_details):
    found = _measure(browser, pages[name].as_uri(), width, open_details)
    assert not found["errors"], found["errors"]
    assert found["scrollWidth"] <= found["innerWidth"], (
        f"{name}.html is {found['scrollWidth']} px wide in a {width} px window; widest boxes: {found['wide']}")
    assert not found["wide"], f"{name}.html at {width} px: boxes past the right edge: {found['wide']}"


def test_personas_come_first_on_a_phone(browser, pages):
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(pages["index"].as_uri(), wait_until="load")
    first_card = page.locator("article.card").first.bounding_box()
    about = page.locator("details.about").bounding_box()
    page.close()
    assert first_card["y"] < 844, "the first persona card is below the first screen"
    assert about["y"] > first_card["y"]
