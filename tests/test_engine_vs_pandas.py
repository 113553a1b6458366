"""The engine path and a plain-pandas baseline give the same customer tables.

A small synthetic export (`bench.generate`, the benchmark's generator: returns, full
cancellations, missing customers, duplicates, postage lines) goes through 01_clean's
functions. 03_rfm's metrics (`rfm.customer_metrics`, DuckDB SQL with LIFO cancellation
matching) are then checked against `bench.baseline.pandas_customer_metrics`, which does the
same work in vectorised pandas: every column, kept frequency, recency and cancelled orders
exactly, money to the cent; also on a hand-made set of lines whose matching is worked out
below. 02_eda's whole customer table is checked against
`bench.baseline.pandas_customer_summary`, column by column, on that export and on a
hand-made one with the awkward cases (blank text, missing product ids, returns only).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `bench` lives next to `tests`, outside the installed package
    sys.path.insert(0, str(ROOT))

from bench.baseline import (  # noqa: E402
    compare_customer_metrics,
    compare_customer_summary,
    mismatches,
    pandas_customer_metrics,
    pandas_customer_summary,
)
from bench.generate import generate  # noqa: E402

from helpers import clean, eda, io, rfm  # noqa: E402
from helpers.catalog import TRANSACTION_COLUMNS  # noqa: E402
from helpers.config import load_params  # noqa: E402
from helpers.engine import EngineSettings, connect  # noqa: E402

ROWS = 30_000


@pytest.fixture(scope="module")
def cleaned(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    folder = tmp_path_factory.mktemp("engine_vs_pandas")
    raw = generate(ROWS, folder, formats=("csv",), seed=7)["csv"]
    params = load_params()
    params["input"]["path"] = str(raw)
    con = connect(EngineSettings.from_params(params))
    source = io.load_transactions(con, params["input"])
    log = clean.apply_cleaning(con, params["cleaning"])
    clean.row_arithmetic(log, source["rows"], clean.clean_summary(con)["rows"])
    return io.write_cleaned(con, folder / "transactions.parquet"), log.set_index("rule")


def test_synthetic_export_exercises_the_rules_that_matter(cleaned):
    _, log = cleaned
    for rule in ("missing_customer_id", "exact_duplicate", "non_product_code", "return_netted"):
        assert log.loc[rule, "rows"] > 0, f"{rule}: the generator should produce such lines"


def test_rfm_metrics_match_pandas_in_every_column(cleaned):
    path, _ = cleaned
    con = connect()
    metrics = rfm.customer_metrics(con, path, rfm.day_after_last_line(con, path))
    baseline = pandas_customer_metrics(path)
    assert list(baseline.columns) == list(rfm.METRIC_COLUMNS)
    comparison = compare_customer_metrics(metrics, baseline)
    assert comparison["customers"] > 100
    assert mismatches(comparison) == 0, comparison
    # The export exercises the matching: fully cancelled orders leave frequency.
    assert baseline["cancelled_orders"].sum() > 20
    assert (baseline["frequency"] < baseline["purchase_invoices"]).sum() > 20


# Lines whose cancellation matching is worked out by hand (analysis date 2024-04-01):
# P: two orders of 10 on Jan 1 and Feb 1, one cancellation of 10 on Feb 2: LIFO cancels
#    Feb 1, so frequency 1, recency from Jan 1 (91 days), 1 cancelled order.
# Q: a cancellation (Jan 1) before any order of that total: it cancels nothing; the
#    order of 7.25 on Jan 5 is kept (frequency 1, recency 87).
# R: order and its cancellation at the same minute: the order comes first, so it is
#    cancelled (frequency 0, no recency); the other order (5 on Mar 1) stays.
#    -> frequency 1, recency 31, 1 cancelled.
# S: two orders of 4 on Mar 10 and Mar 20, two cancellations of 4 (Mar 21, Mar 22):
#    both cancelled, frequency 0, no recency, monetary 0.
# T: lines without an invoice id at one timestamp form one order (3 + 2 = 5), cancelled
#    by C9 of -5 the next day: frequency 0; a partial return (-1) of order 10 cancels nothing.
#    -> frequency 1 (order 10), cancelled 1.
MATCHING_LINES = [
    ("P", "1", "2024-01-01 10:00", 10.0, False),
    ("P", "2", "2024-02-01 10:00", 10.0, False),
    ("P", "C2", "2024-02-02 10:00", -10.0, True),
    ("Q", "C0", "2024-01-01 10:00", -7.25, True),
    ("Q", "3", "2024-01-05 10:00", 7.25, False),
    ("R", "4", "2024-03-01 10:00", 5.0, False),
    ("R", "5", "2024-03-15 10:00", 6.0, False),
    ("R", "C5", "2024-03-15 10:00", -6.0, True),
    ("S", "6", "2024-03-10 10:00", 4.0, False),
    ("S", "7", "2024-03-20 10:00", 4.0, False),
    ("S", "C6", "2024-03-21 10:00", -4.0, True),
    ("S", "C7", "2024-03-22 10:00", -4.0, True),
    ("T", None, "2024-03-01 09:00", 3.0, False),
    ("T", None, "2024-03-01 09:00", 2.0, False),
    ("T", "C9", "2024-03-02 09:00", -5.0, True),
    ("T", "10", "2024-03-30 09:00", 8.0, False),
    ("T", "C10", "2024-03-31 09:00", -1.0, True),
]


def _matching_file(tmp_path: Path) -> Path:
    frame = pd.DataFrame(MATCHING_LINES, columns=["customer_id", "invoice_id", "invoice_date", "amount", "is_return"])
    frame["invoice_date"] = pd.to_datetime(frame["invoice_date"])
    frame["product_id"], frame["description"], frame["country"] = "P1", "mug", "UK"
    frame["quantity"], frame["unit_price"], frame["is_outlier"] = np.sign(frame["amount"]), frame["amount"].abs(), False
    path = tmp_path / "matching.parquet"
    frame.loc[:, list(TRANSACTION_COLUMNS)].to_parquet(path, index=False)
    return path


def test_cancellation_matching_in_pandas_matches_hand_count_and_engine(tmp_path):
    path = _matching_file(tmp_path)
    baseline = pandas_customer_metrics(path)
    table = baseline.set_index("customer_id")
    assert table["frequency"].tolist() == [1, 1, 1, 0, 1]
    assert table["cancelled_orders"].tolist() == [1, 0, 1, 2, 1]
    assert table["purchase_invoices"].tolist() == [2, 1, 2, 2, 2]
    assert table["recency_days"].tolist()[:3] == [91, 87, 31] and np.isnan(table.loc["S", "recency_days"])
    assert table.loc["T", "recency_days"] == 2 and table.loc["T", "monetary"] == 7.0
    con = connect()
    comparison = compare_customer_metrics(rfm.customer_metrics(con, path, rfm.day_after_last_line(con, path)), baseline)
    assert comparison["customers"] == 5
    assert mismatches(comparison) == 0, comparison


def test_metrics_comparison_catches_each_kind_of_difference(tmp_path):
    baseline = pandas_customer_metrics(_matching_file(tmp_path))
    tampered = baseline.copy()
    tampered.loc[0, "monetary"] += 0.01
    tampered.loc[1, "frequency"] += 1
    tampered.loc[2, "recency_days"] += 1
    tampered.loc[3, "cancelled_orders"] -= 1
    comparison = compare_customer_metrics(baseline, tampered.drop(index=4))
    for column in ("monetary", "frequency", "recency_days", "cancelled_orders"):
        assert comparison[f"{column}_differs"] == 1, column
    assert comparison["customers_only_engine"] == 1
    assert mismatches(comparison) == 5


def test_eda_customer_table_matches_pandas_column_by_column(cleaned):
    path, _ = cleaned
    with connect() as con:
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
    frame.loc[:, list(TRANSACTION_COLUMNS)].to_parquet(path, index=False)
    return path


def test_customer_table_edge_cases_match_pandas_and_hand_count(tmp_path):
    path = _edge_lines(tmp_path)
    with connect() as con:
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
