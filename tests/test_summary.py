"""index.html: the personas and actions first, the analyst's details closed, no machine paths."""

from __future__ import annotations

import re

import pytest

from helpers.summary import display_path, index_html, persona_rows, write_index
from test_run_history import make_manifest, persona_csv_rows, write_run


@pytest.fixture
def manifest(tmp_path):
    return make_manifest(tmp_path, "20261127-080000")


def _first_screen(page: str) -> str:
    return page.split('<details class="about">')[0]


def test_first_screen_shows_personas_with_value_churn_and_actions(manifest, tmp_path):
    page = index_html(manifest, persona_csv_rows(), root=tmp_path)
    first = _first_screen(page)
    assert "Personas at a glance" in first
    assert "Loyal high-value" in first and "60 customers · 60.0% of all" in first
    assert "Predicted value, next 365 days</dt><dd>£60,030</dd>" in first  # 60 x 1000.5, whole pounds
    assert "Predicted value share</dt><dd>60.0%</dd>" in first
    assert "Churn risk</dt><dd>2.9% high</dd>" in first
    assert "<li>First action for Loyal high-value</li><li>Second action for Loyal high-value</li></ol>" in first
    assert "border-left-color:#009e73" in first  # the rule's colour, as on the 05 cards
    assert first.index("Personas at a glance") < first.index("RFM segments at a glance")


def test_first_screen_links_the_marketing_files_and_every_step(manifest, tmp_path):
    first = _first_screen(index_html(manifest, persona_csv_rows(), root=tmp_path))
    for href in ("segments.csv", "personas.csv", "05_personas.html", "../index.html",
                 "01_clean.html", "02_eda.html", "03_rfm.html", "04_clustering.html"):
        assert f'href="{href}"' in first, href


def test_technical_details_sit_in_a_closed_about_section(manifest, tmp_path):
    page = index_html(manifest, persona_csv_rows(), root=tmp_path)
    first, about = page.split('<details class="about">')
    for technical in ("abababab", "Silhouette", "Rand index", "2.5 s", "K = 3 has the best silhouette", "cdcdcd"):
        assert technical not in first, technical
        assert technical in about, technical
    assert page.count("<details") == page.count("<details>") + 1  # the about section, without `open`
    assert "<script" not in page


def test_index_has_no_absolute_paths(manifest, tmp_path):
    manifest["params_sources"].append("/somewhere/else/shop.yaml")
    page = index_html(manifest, persona_csv_rows(), root=tmp_path).replace("<wbr>", "")  # break hints in paths
    assert str(tmp_path) not in page and "/somewhere" not in page
    assert "data/raw/orders.csv" in page and "params/shop.yaml + shop.yaml" in page
    assert "make report PARAMS=reports/20261127-080000/params.yaml" in page
    hrefs = re.findall(r'href="([^"]+)"', page)
    assert hrefs and not [h for h in hrefs if h.startswith(("/", "file:", "http"))]


def test_display_path_shows_only_the_name_outside_the_project(tmp_path):
    assert display_path(tmp_path / "data" / "x.csv", tmp_path) == "data/x.csv"
    assert display_path("/mnt/exports/x.csv", tmp_path) == "x.csv"


def test_money_uses_the_runs_currency_and_locale(tmp_path):
    page = index_html(make_manifest(tmp_path, "r", currency="EUR", locale="de_DE"), persona_csv_rows(), root=tmp_path)
    assert "12.345,50\xa0€" in page and "60.030\xa0€" in page and "60,0%" in page
    plain = index_html(make_manifest(tmp_path, "r", currency=None), persona_csv_rows(), root=tmp_path)
    assert "Net revenue <b>12,345.50</b>" in plain and "£" not in plain


def test_index_escapes_text_from_the_data(manifest, tmp_path):
    rows = persona_csv_rows([("<script>alert(1)</script>", 5), ("'=HYPERLINK(\"x\")", 5)])
    rows[0]["action_1"] = "<img src=x onerror=alert(1)>"
    page = index_html(manifest, rows, root=tmp_path)
    assert "<script>alert" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<h3>=HYPERLINK(&#34;x&#34;)</h3>" in page  # the CSV's formula guard is not shown


def test_without_personas_csv_the_manifest_metrics_are_shown(manifest, tmp_path):
    page = index_html(manifest, [], root=tmp_path)
    assert "<li>First action for Loyal high-value</li></ol>" in page  # one action from the metrics
    assert "Predicted value share</dt><dd>60.0%</dd>" in page and "Predicted value, next" not in page
    old = {**manifest, "metrics": {"05_personas": {"personas": [{"persona": "Lapsing", "customers": 200,
                                                                 "customer_share": 0.66, "revenue_share": 0.2}]}}}
    page = index_html(old, [], root=tmp_path)
    assert "Lapsing" in page and "predicted value" not in page.lower() and "churn" not in page.lower()


def test_blocks_of_steps_that_did_not_run_are_left_out(manifest, tmp_path):
    page = index_html({**manifest, "metrics": {}, "steps": manifest["steps"][:1]}, [], root=tmp_path)
    assert "Personas at a glance" not in page and "RFM segments" not in page and 'href="segments.csv"' not in page
    assert 'href="01_clean.html"' in page and "Step reports" in page
    odd = {**manifest, "metrics": {"03_rfm": {"segments": {"Champions": 598}}, "05_personas": {"personas": "x"}}}
    assert "RFM segments at a glance" not in index_html(odd, [], root=tmp_path)
    assert persona_rows([], {"A": 1}) == []


def test_unstable_personas_carry_a_caution(tmp_path):
    page = index_html(make_manifest(tmp_path, "r", stable=False), persona_csv_rows(), root=tmp_path)
    assert "not stable across resamples</b>" in _first_screen(page)
    assert "not stable" not in _first_screen(index_html(make_manifest(tmp_path, "r"), [], root=tmp_path))


def test_shares_below_a_tenth_of_a_percent_keep_two_decimals(manifest, tmp_path):
    rows = persona_csv_rows([("A", 99), ("No kept order", 1)])
    rows[1]["revenue_share"] = "-0.0005"  # personas.csv rounds to 4 decimals
    assert "Share of net revenue</dt><dd>-0.05%</dd>" in index_html(manifest, rows, root=tmp_path)


def test_write_index_reads_the_run_folders_personas_csv(manifest, tmp_path):
    run_dir = write_run(tmp_path / "reports", manifest, persona_csv_rows([("Only persona", 9)]))
    page = write_index(run_dir, manifest, root=tmp_path).read_text(encoding="utf-8")
    assert "Only persona" in page and "Second action for Only persona" in page


def test_steps_side_by_side_are_said_to_add_up_to_more_than_the_run(manifest, tmp_path):
    about = index_html(manifest, persona_csv_rows(), root=tmp_path).split('<details class="about">')[1]
    assert "side by side" not in about  # 5 x 2.5 s in a 31 s run: one after another
    manifest["total_seconds"] = 9.0
    about = index_html(manifest, persona_csv_rows(), root=tmp_path).split('<details class="about">')[1]
    assert "Some steps ran side by side, so their times add up to 12 s, more than the run&#39;s 9 s." in about


def test_about_this_run_names_the_engine(manifest, tmp_path):
    about = index_html(manifest, persona_csv_rows(), root=tmp_path).split('<details class="about">')[1]
    assert "<th>Engine</th><td>DuckDB, embedded</td>" in about
    manifest["params"] = {**manifest.get("params", {}), "engine": {"kind": "spark", "spark": {"master": "spark://h:7077"}}}
    about = index_html(manifest, persona_csv_rows(), root=tmp_path).split('<details class="about">')[1]
    assert "<th>Engine</th><td>Apache Spark, master spark://h:7077 (a step&#39;s peak memory" in about
