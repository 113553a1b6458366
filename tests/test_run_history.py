"""The run history page (reports/index.html) on hand-made run folders.

The fixture builders (`make_manifest`, `write_run`) are also used by test_summary.py,
test_pdf.py and test_index_browser.py.
"""

from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from helpers.formatting import Formats
from helpers.run_history import (
    history_context,
    history_html,
    mapping_key,
    read_runs,
    run_summary,
    size_chart,
    write_history,
)

COLUMNS = {"customer_id": "CustomerID", "invoice_id": "InvoiceNo", "invoice_date": "InvoiceDate",
           "amount": None, "country": "Country"}
PERSONAS = [("Loyal high-value", 60), ("New / first-time buyers", 30), ("Dormant low-value", 10)]
SEGMENTS = [("Champions", 40), ("Lost", 60)]
CSV_FIELDS = ("persona", "rule", "cluster", "customers", "customer_share", "revenue", "revenue_share",
              "share_likely_lapsed", "predicted_value", "predicted_value_share", "churn_high_share",
              "description", "action_1", "action_2", "action_3")


def make_manifest(root: Path, run_id: str, *, input_name: str = "orders.csv", columns: dict | None = None,
                  personas: list[tuple[str, int]] | None = None, segments: list[tuple[str, int]] | None = None,
                  currency: str | None = "GBP", locale: str = "en_GB", stable: bool | None = True) -> dict[str, Any]:
    """Return a manifest like the runner's, with absolute paths under `root` (the project)."""
    personas = PERSONAS if personas is None else personas
    segments = SEGMENTS if segments is None else segments
    total = sum(n for _, n in personas) or 1
    metrics: dict[str, Any] = {
        "01_clean": {"raw_rows": 1200, "kept_rows": 1000, "customers": 100, "orders": 250,
                     "net_revenue": 12345.5, "first_date": "2011-01-03 10:00:00", "last_date": "2011-06-30 12:00:00"},
        "03_rfm": {"segments": [{"segment": s, "customers": n, "customer_share": n / 100, "revenue_share": n / 100,
                                 "action": f"Act on {s}"} for s, n in segments]},
        "04_clustering": {"chosen_k": len(personas), "k_reason": "K = 3 has the best silhouette (0.41).",
                          "silhouette": 0.4123, "stability_mean_ari": 0.9111, "stable": stable,
                          "model": str(root / "reports" / run_id / "cluster_model.joblib")},
        "05_personas": {"personas": [{"persona": p, "customers": n, "customer_share": n / total,
                                      "revenue_share": n / total, "action": f"First action for {p}",
                                      "predicted_value_share": n / total, "churn_high_share": 0.1}
                                     for p, n in personas]},
    }
    return {
        "run_id": run_id, "started": "2026-11-27T08:00:00", "finished": "2026-11-27T08:00:31",
        "params_sources": [str(root / "params.yaml"), str(root / "params" / "shop.yaml")],
        "params": {"report": {"currency": currency, "locale": locale}, "clv": {"horizon_days": 365},
                   "paths": {"reports_dir": str(root / "reports")},
                   "input": {"level": "transactions", "columns": columns or COLUMNS}},
        "input": {"path": str(root / "data" / "raw" / input_name), "bytes": 123456, "sha256": "ab" * 32},
        "packages": {"python": "3.11.9", "pandas": "3.1.1"},
        "steps": [{"notebook": n, "seconds": 2.5, "peak_memory_mib": 300}
                  for n in ("01_clean", "02_eda", "03_rfm", "04_clustering", "05_personas")],
        "metrics": metrics, "model": {"sha256": "cd" * 32}, "total_seconds": 31.2,
    }


def persona_csv_rows(personas: list[tuple[str, int]] = PERSONAS) -> list[dict[str, str]]:
    """Rows of a personas.csv as 05_personas writes them (text, shares with 4 decimals)."""
    total = sum(n for _, n in personas)
    return [{"persona": name, "rule": "loyal_high_value" if i == 0 else "", "cluster": str(i),
             "customers": str(n), "customer_share": f"{n / total:.4f}", "revenue": f"{n * 100:.2f}",
             "revenue_share": f"{n / total:.4f}", "share_likely_lapsed": "0.0500",
             "predicted_value": f"{n * 1000.5:.2f}", "predicted_value_share": f"{n / total:.4f}",
             "churn_high_share": "0.0290", "description": f"{name}: who they are.",
             "action_1": f"First action for {name}", "action_2": f"Second action for {name}", "action_3": ""}
            for i, (name, n) in enumerate(personas)]


def write_run(reports_dir: Path, manifest: dict[str, Any], personas_csv: list[dict[str, str]] | None = None) -> Path:
    """Write a run folder: manifest.json, params.yaml and, when given, personas.csv."""
    run_dir = reports_dir / manifest["run_id"]
    run_dir.mkdir(parents=True)
    (run_dir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (run_dir / "params.yaml").write_text("input: {}\n", encoding="utf-8")
    if personas_csv is not None:
        with (run_dir / "personas.csv").open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS)
            writer.writeheader()
            writer.writerows(personas_csv)
    return run_dir


@pytest.fixture
def reports(tmp_path) -> Path:
    """Three runs (two on orders.csv, one on other.csv), a failed, a partial and a broken folder."""
    reports_dir = tmp_path / "reports"
    write_run(reports_dir, make_manifest(tmp_path, "20261127-080000"))
    write_run(reports_dir, make_manifest(tmp_path, "20261128-080000", personas=[
        ("Loyal high-value", 80), ("<b>Wholesale</b>", 20)]))
    write_run(reports_dir, make_manifest(tmp_path, "20261129-080000", input_name="other.csv"))
    write_run(reports_dir, make_manifest(tmp_path, "20261130-080000.failed"))
    write_run(reports_dir, make_manifest(tmp_path, "20261130-090000.partial"))
    (reports_dir / "broken").mkdir()
    (reports_dir / "broken" / "manifest.json").write_text("{not json", encoding="utf-8")
    (reports_dir / "bench").mkdir()
    os.symlink("20261129-080000", reports_dir / "latest")
    return reports_dir


def test_read_runs_keeps_finished_runs_only(reports):
    runs, unreadable = read_runs(reports)
    assert [manifest["run_id"] for manifest, _ in runs] == ["20261127-080000", "20261128-080000", "20261129-080000"]
    assert unreadable == 1  # broken/; latest, bench, .failed and .partial are not runs


def test_read_runs_of_a_missing_folder_is_empty(tmp_path):
    assert read_runs(tmp_path / "nowhere") == ([], 0)


def test_history_lists_runs_newest_first_with_params_input_and_sizes(reports, tmp_path):
    page = write_history(reports, root=tmp_path).read_text(encoding="utf-8").replace("<wbr>", "")  # break hints
    order = [page.index(f'href="{run}/index.html"') for run in ("20261129-080000", "20261128-080000", "20261127-080000")]
    assert order == sorted(order)
    assert "20261130-080000" not in page and "20261130-090000" not in page  # failed and partial runs
    assert "3 finished runs" in page and "1 run folder could not be read" in page
    assert "(latest)" in page.split('href="20261128-080000')[0]  # the latest mark sits on 20261129
    assert "params/shop.yaml" in page and "data/raw/orders.csv" in page and "data/raw/other.csv" in page
    assert "Loyal high-value 80 &middot; &lt;b&gt;Wholesale&lt;/b&gt; 20" in page and "<b>Wholesale" not in page
    assert "1,200" in page and "(K = 2)" in page


def test_history_has_no_absolute_paths_and_no_script(reports, tmp_path):
    page = history_html(reports, root=tmp_path).replace("<wbr>", "")
    assert str(tmp_path) not in page and "<script" not in page
    assert re.findall(r'href="([^"]+)"', page) and all(not h.startswith(("/", "file:", "http"))
                                                       for h in re.findall(r'href="([^"]+)"', page))


def test_history_charts_sizes_per_input_mapping(reports, tmp_path):
    page = history_html(reports, root=tmp_path)
    assert page.count("<h2>Input") == 2 and "sizes across 2 runs" in page and "sizes across 1 run<" in page
    assert page.count("<svg") == 6  # orders.csv: 2 runs x (personas, segments); other.csv: 1 x 2
    # run 2 of orders.csv: 80 of the 100 customers are Loyal high-value, the largest run has 100
    assert '<rect x="0.0" y="0" width="80.0" height="10"' in page


def test_a_changed_column_mapping_is_another_input(tmp_path):
    a = make_manifest(tmp_path, "1")
    b = make_manifest(tmp_path, "2", columns={**COLUMNS, "country": None})
    assert mapping_key(a) == mapping_key(make_manifest(tmp_path, "3")) != mapping_key(b)


def test_run_summary_reads_personas_csv_when_the_metrics_have_none(tmp_path):
    manifest = make_manifest(tmp_path, "r1")
    del manifest["metrics"]["05_personas"]
    row = run_summary(manifest, persona_csv_rows([("A", 7), ("B", 3)]), root=tmp_path)
    assert row["personas"] == [("A", 7.0), ("B", 3.0)]
    assert row["params_file"] == "params/shop.yaml" and row["input"] == "data/raw/orders.csv"
    assert run_summary({"run_id": "r2"}, root=tmp_path)["personas"] == []  # nothing recorded: no sizes


def test_size_chart_widths_are_shares_of_the_largest_run():
    runs = [{"run_id": "1", "personas": [("A", 30.0), ("B", 10.0)]}, {"run_id": "2", "personas": [("B", 20.0)]},
            {"run_id": "3", "personas": []}]
    chart = size_chart(runs, "personas", Formats(None, "en_GB"))
    assert [row["run_id"] for row in chart["rows"]] == ["1", "2"]  # a run without personas has no bar
    assert [(b["x"], b["width"]) for b in chart["rows"][0]["bars"]] == [(0.0, 75.0), (75.0, 25.0)]
    assert chart["rows"][1]["bars"][0]["color"] == chart["rows"][0]["bars"][1]["color"]  # B keeps its colour
    assert chart["rows"][0]["total"] == "40"
    assert size_chart(runs, "segments", Formats(None, "en_GB")) is None


def test_history_context_numbers_inputs_in_order_of_first_run(tmp_path):
    rows = [run_summary(make_manifest(tmp_path, rid, input_name=name), root=tmp_path)
            for rid, name in (("3", "a.csv"), ("1", "b.csv"), ("2", "a.csv"))]
    context = history_context(rows, Formats("GBP", "en_GB"), latest="3")
    assert [(r["run_id"], r["group"]) for r in context["runs"]] == [("3", 2), ("2", 2), ("1", 1)]
    assert [g["runs"] for g in context["groups"]] == [1, 2]


def test_history_of_an_empty_reports_folder_says_so(tmp_path):
    (tmp_path / "reports").mkdir()
    page = write_history(tmp_path / "reports", root=tmp_path).read_text(encoding="utf-8")
    assert "0 finished runs" in page and "<table" not in page
    assert not list((tmp_path / "reports").glob(".*.tmp"))  # the temporary file was renamed
