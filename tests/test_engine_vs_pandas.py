"""The engine path and a plain-pandas baseline give the same customers and the same R/F/M.

A small synthetic export (`bench.generate`, the benchmark's generator: returns, missing
customers, duplicates, postage lines) goes through 01_clean's functions; the customer
tables of 02_eda (`eda.customer_summary`) and 03_rfm (`rfm.customer_metrics`) are then
checked against `bench.baseline.pandas_rfm` on the same cleaned file: recency and
frequency exactly, monetary to the cent. 02_eda's whole customer table is also checked
against `bench.baseline.pandas_customer_summary`, column by column, on that export and on a
hand-made one with the awkward cases (blank text, missing product ids, returns only).
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `bench` lives next to `tests`, outside the installed package
    sys.path.insert(0, str(ROOT))

from bench.baseline import (  # noqa: E402
    analysis_date_of,
    compare_customer_summary,
    compare_rfm,
    engine_rfm,
    mismatches,
    pandas_customer_summary,
    pandas_rfm,
)
from bench.generate import generate  # noqa: E402

from helpers import clean, eda, io, rfm  # noqa: E402
from helpers.config import load_params  # noqa: E402

ROWS = 30_000


@pytest.fixture(scope="module")
def cleaned(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    folder = tmp_path_factory.mktemp("engine_vs_pandas")
    raw = generate(ROWS, folder, formats=("csv",), seed=7)["csv"]
    params = load_params()
    params["input"]["path"] = str(raw)
    con = duckdb.connect()
    source = io.load_transactions(con, params["input"])
    log = clean.apply_cleaning(con, params["cleaning"])
    clean.row_arithmetic(log, source["rows"], clean.clean_summary(con)["rows"])
    paths = {"transactions": folder / "transactions.parquet", "cleaning_log": folder / "cleaning_log.csv"}
    clean.write_outputs(con, log, paths)
    return paths["transactions"], log.set_index("rule")


def test_synthetic_export_exercises_the_rules_that_matter(cleaned):
    _, log = cleaned
    for rule in ("missing_customer_id", "exact_duplicate", "non_product_code", "return_netted"):
        assert log.loc[rule, "rows"] > 0, f"{rule}: the generator should produce such lines"


def test_eda_customer_table_matches_pandas(cleaned):
    path, _ = cleaned
    with duckdb.connect() as con:
        engine = engine_rfm(eda.customer_summary(con, path), analysis_date_of(path))
    comparison = compare_rfm(engine, pandas_rfm(path))
    assert comparison["customers"] > 100
    assert mismatches(comparison) == 0, comparison


def test_rfm_metrics_match_pandas_frequency_and_monetary(cleaned):
    path, _ = cleaned
    metrics = rfm.customer_metrics(path)
    baseline = pandas_rfm(path)
    merged = metrics.merge(baseline, on="customer_id", how="outer", indicator=True, suffixes=("", "_pandas"))
    assert (merged["_merge"] == "both").all(), "engine and pandas disagree on the customers"
    assert (merged["purchase_invoices"] == merged["frequency_pandas"]).all()
    cents = np.round(merged["monetary"] * 100), np.round(merged["monetary_pandas"] * 100)
    assert (cents[0] == cents[1]).all()


def test_comparison_catches_one_cent_and_one_missing_customer(cleaned):
    path, _ = cleaned
    baseline = pandas_rfm(path)
    tampered = baseline.copy()
    tampered.loc[0, "monetary"] += 0.01
    tampered = tampered.drop(index=1)
    comparison = compare_rfm(baseline, tampered)
    assert comparison["monetary_differs"] == 1
    assert comparison["customers_only_engine"] == 1


def test_eda_customer_table_matches_pandas_column_by_column(cleaned):
    path, _ = cleaned
    with duckdb.connect() as con:
        engine = eda.customer_summary(con, path)
    comparison = compare_customer_summary(engine, pandas_customer_summary(path))
    assert comparison["customers"] > 100
    assert mismatches(comparison) == 0, comparison


def _edge_lines(tmp_path: Path) -> Path:
    """Cleaned lines with blank countries, missing product ids and a returns-only customer."""
    rows = [
        # customer, invoice, date, product_id, description, country, amount, is_return
        ("A", "1", "2024-01-02 10:00", "P1", "mug", "France", 10.0, False),
        ("A", "1", "2024-01-02 10:00", None, " tea towel ", "  ", 5.0, False),
        ("A", "2", "2024-02-01 09:00", None, "tea towel", "Spain", 7.5, False),
        ("A", "C2", "2024-02-03 09:00", "P1", "mug", "Spain", -10.0, True),
        ("A", "3", "2024-03-01 09:00", None, "  ", None, 2.25, False),
        ("B", "4", "2024-01-05 12:00", "P2", "bag", "", 3.0, False),
        ("C", "C9", "2024-01-06 12:00", "P2", "bag", "Italy", -3.0, True),
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "invoice_id", "invoice_date", "product_id",
                                        "description", "country", "amount", "is_return"])
    frame["invoice_date"] = pd.to_datetime(frame["invoice_date"])
    frame["quantity"], frame["unit_price"], frame["is_outlier"] = 1.0, frame["amount"].abs(), False
    path = tmp_path / "edge.parquet"
    frame.loc[:, list(clean.OUTPUT_COLUMNS)].to_parquet(path, index=False)
    return path


def test_customer_table_edge_cases_match_pandas_and_hand_count(tmp_path):
    path = _edge_lines(tmp_path)
    with duckdb.connect() as con:
        engine = eda.customer_summary(con, path)
    baseline = pandas_customer_summary(path)
    assert mismatches(compare_customer_summary(engine, baseline)) == 0
    table = baseline.set_index("customer_id")
    # A: orders 1, 2, 3; products P1 and "tea towel" (the blank description is no product);
    # countries France 1, Spain 2 (the blank and the missing one do not count).
    assert table["orders"].tolist() == [3, 1, 0]
    assert table["distinct_products"].tolist() == [2, 1, 0]
    assert table["lines"].tolist() == [5, 1, 1]
    assert table["net_revenue"].tolist() == [14.75, 3.0, -3.0]
    assert table.loc["A", "country"] == "Spain"
    assert pd.isna(table.loc["B", "country"]) and table.loc["C", "country"] == "Italy"
    assert table.loc["A", "return_share"] == pytest.approx(0.2)
    assert pd.isna(table.loc["C", "avg_order_value"]) and pd.isna(table.loc["C", "last_purchase"])


def test_customer_table_comparison_catches_each_kind_of_difference(tmp_path):
    baseline = pandas_customer_summary(_edge_lines(tmp_path))
    tampered = baseline.copy()
    tampered.loc[0, "distinct_products"] += 1
    tampered.loc[1, "country"] = "Spain"
    tampered.loc[0, "net_revenue"] += 0.01
    tampered.loc[0, "last_purchase"] += pd.Timedelta(seconds=1)
    comparison = compare_customer_summary(baseline, tampered.drop(index=2))
    assert comparison["distinct_products_differs"] == 1
    assert comparison["country_differs"] == 1
    assert comparison["net_revenue_differs"] == 1
    assert comparison["last_purchase_differs"] == 1
    assert comparison["customers_only_engine"] == 1
    assert mismatches(comparison) == 5
