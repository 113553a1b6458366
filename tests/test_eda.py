"""Tests for the computation of 02_eda (helpers.eda, helpers.eda_histograms), no plotting.

The fixture (tests/eda_fixture.py): 5 customers, 3 months, 7 purchase orders, 2 return
lines, total net revenue 185; D has only a return. Takeaways and charts: test_eda_plots.py.
"""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eda_fixture import LINES, UK, transactions, write
from helpers import catalog, eda, eda_cohorts, eda_histograms
from helpers.errors import UserError

# ----------------------------------------------------------------------------- input checks


def test_the_catalog_checks_the_input_before_any_query(tmp_path):
    # eda's functions query the file as given; 02_eda calls catalog.require first.
    params = {"paths": {"interim_dir": str(tmp_path), "processed_dir": str(tmp_path)}}
    with pytest.raises(UserError, match="run notebook 01_clean first"):
        catalog.require(params, "transactions")
    transactions(LINES).drop(columns="is_return").to_parquet(tmp_path / "transactions.parquet", index=False)
    with pytest.raises(UserError, match=r"column 'is_return' is missing \(transactions\)"):
        catalog.require(params, "transactions")


# ----------------------------------------------------------------------------- overview


def test_overview_counts(con, data):
    row = eda.overview(con, data["main"]).iloc[0]
    assert row["lines"] == 12
    assert row["customers"] == 5
    assert row["purchase_orders"] == 7
    assert row["products"] == 3
    assert row["countries"] == 2  # the null country is not counted
    assert row["first_date"] == pd.Timestamp("2011-01-03 10:15")
    assert row["last_date"] == pd.Timestamp("2011-03-10 14:05")
    assert row["net_revenue"] == 185.0
    assert row["return_lines"] == 2
    assert row["outlier_lines"] == 1


def test_overview_of_empty_parquet_counts_zero(con, data):
    row = eda.overview(con, data["empty"]).iloc[0]
    assert row["lines"] == 0
    assert row["customers"] == 0
    assert row["net_revenue"] == 0


# ----------------------------------------------------------------------------- monthly


def test_monthly_summary_hand_computed(con, data):
    monthly = eda.monthly_summary(con, data["main"])
    assert list(monthly["month"]) == list(
        pd.to_datetime(["2011-01-01", "2011-02-01", "2011-03-01"])
    )
    # Feb: -20 + 15 + 40 + 5 - 5; the returns count in revenue but not as orders.
    assert monthly["net_revenue"].tolist() == [60.0, 35.0, 90.0]
    assert monthly["orders"].tolist() == [3, 2, 2]
    assert monthly["active_customers"].tolist() == [3, 2, 2]


def test_monthly_summary_fills_gap_months_with_zero(con, tmp_path):
    path = write(tmp_path, "gap", [LINES[0], LINES[9]])  # January and March only
    monthly = eda.monthly_summary(con, path)
    assert monthly["net_revenue"].tolist() == [10.0, 0.0, 60.0]
    assert monthly["orders"].tolist() == [1, 0, 1]


def test_monthly_summary_of_empty_parquet_is_empty(con, data):
    monthly = eda.monthly_summary(con, data["empty"])
    assert monthly.empty
    assert list(monthly.columns) == ["month", "net_revenue", "orders", "active_customers", "days_in_month",
                                     "days_covered", "partial"]


# ----------------------------------------------------------------------------- histograms


def test_order_value_histogram_hand_binned(con, data):
    # Order values 30, 20, 10, 15, 45, 60, 30: whole numbers, span 6x -> linear bins
    # centred on integers: round(linspace(10, 61, 6)) = 10, 20, 30, 41, 51, 61, minus 0.5.
    hist = eda_histograms.order_value_histogram(con, data["main"], bins=5)
    assert hist["bin_left"].tolist() == [9.5, 19.5, 29.5, 40.5, 50.5]
    assert hist["bin_right"].tolist() == [19.5, 29.5, 40.5, 50.5, 60.5]
    assert hist["count"].tolist() == [2, 1, 2, 1, 1]
    # Sorted values 10 15 20 30 30 45 60: the exact median is 30.
    assert hist.attrs == {"log_scale": False, "integer": True, "median": 30.0}


def test_items_per_order_histogram_counts_every_order(con, data):
    # Items per order: 3, 4, 10, 3, 7, 3, 22; forced log bins still hold all 7 orders.
    hist = eda_histograms.items_per_order_histogram(con, data["main"], bins=4, log=True)
    assert hist["count"].sum() == 7
    assert hist.attrs["log_scale"] is True
    assert hist["bin_left"].iloc[0] == 2.5  # lowest value 3, integer bins
    assert (hist["bin_left"] > 0).all()


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.sampled_from([-3.0, 0.0, 0.5, 1.0, 2.0, 2.5, 7.0, 100.0, 1e6]), min_size=1, max_size=30)
       | st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=30),
       bins=st.integers(1, 6), log=st.sampled_from([None, True, False]))
def test_sql_histogram_bins_every_value_like_numpy(values, bins, log):
    # Right-closed bins (a value on an edge is in the bin it closes), the lowest value in the
    # first bin, and on a log scale every value <= 0 in the leading (-inf, 0] row.
    con = duckdb.connect()
    con.register("vals", pd.DataFrame({"v": values}))
    hist = eda_histograms._sql_histogram(con, "SELECT v FROM vals", {}, bins, log)
    v = np.array(values)
    log_scale = hist.attrs["log_scale"]
    drawn = v[v > 0] if log_scale else v
    body = hist[hist["bin_left"] > -np.inf]
    if len(body):
        right = body["bin_right"].to_numpy()
        expected = np.bincount(np.minimum(np.searchsorted(right, drawn, side="left"), len(right) - 1),
                               minlength=len(right))
        assert body["count"].tolist() == expected.tolist()
    head = hist.loc[hist["bin_left"] == -np.inf, "count"]
    assert int(head.sum()) == (int((v <= 0).sum()) if log_scale else 0)
    assert int(hist["count"].sum()) == len(values)


def test_sql_histogram_rejects_zero_bins_and_empty_data_gives_empty_frame(con, data):
    with pytest.raises(ValueError, match="bins"):
        eda_histograms.order_value_histogram(con, data["main"], bins=0)
    assert eda_histograms.order_value_histogram(con, data["empty"]).empty


def test_customer_histogram_keeps_nonpositive_customers_in_leading_row(con, data):
    customers = eda.customer_summary(con, data["main"])
    # Net revenue 55, 65, 10, -5, 60: on a log scale D (-5) goes to the (-inf, 0] row.
    hist = eda_histograms.customer_histogram(customers, "net_revenue", bins=3, log=True)
    assert hist["bin_left"].iloc[0] == -np.inf
    assert hist["bin_right"].iloc[0] == 0.0
    assert hist["count"].iloc[0] == 1
    assert hist["count"].sum() == 5


def test_customer_histogram_of_orders_hand_binned(con, data):
    customers = eda.customer_summary(con, data["main"])
    # Orders 3, 2, 1, 0, 1 -> integer bins 0..3.
    hist = eda_histograms.customer_histogram(customers, "orders")
    assert hist["bin_left"].tolist() == [-0.5, 0.5, 1.5, 2.5]
    assert hist["count"].tolist() == [1, 2, 1, 1]


def test_customer_histogram_rejects_unknown_column():
    with pytest.raises(ValueError, match="column 'spend'"):
        eda_histograms.customer_histogram(pd.DataFrame({"orders": [1]}), "spend")


# ----------------------------------------------------------------------------- countries


def test_country_summary_hand_computed(con, data):
    countries = eda.country_summary(con, data["main"]).set_index("country")
    assert list(countries.index) == [UK, "France", "Unknown"]
    assert countries["net_revenue"].tolist() == [125.0, 65.0, -5.0]
    assert countries["customers"].tolist() == [3, 1, 1]
    assert countries["orders"].tolist() == [5, 2, 0]
    assert countries.loc[UK, "revenue_share"] == pytest.approx(125 / 185)
    assert countries.loc[UK, "customer_share"] == pytest.approx(3 / 5)


# ----------------------------------------------------------------------------- products


def test_top_products_hand_computed(con, data):
    products = eda.top_products(con, data["main"], n=2)
    assert products["product_id"].tolist() == ["P2", "P1"]
    assert products["description"].tolist() == ["BAG", "MUG"]
    assert products["net_revenue"].tolist() == [100.0, 50.0]  # P2: 20 - 20 + 40 + 60
    assert products["quantity"].tolist() == [5.0, 10.0]
    assert products["orders"].tolist() == [3, 4]
    assert products["customers"].tolist() == [3, 3]
    assert products["revenue_share"].iloc[0] == pytest.approx(100 / 185)


# ----------------------------------------------------------------------------- customers


def test_customer_summary_hand_computed(con, data):
    customers = eda.customer_summary(con, data["main"])
    assert list(customers.columns) == list(eda.CUSTOMER_COLUMNS)
    table = customers.set_index("customer_id")
    assert list(table.index) == ["A", "B", "C", "D", "E"]
    assert table["orders"].tolist() == [3, 2, 1, 0, 1]
    assert table["net_revenue"].tolist() == [55.0, 65.0, 10.0, -5.0, 60.0]
    assert table["lines"].tolist() == [6, 3, 1, 1, 1]
    assert table["distinct_products"].tolist() == [3, 3, 1, 0, 1]
    assert table["return_share"].tolist() == pytest.approx([1 / 6, 0, 0, 1, 0])
    assert table.loc["A", "avg_order_value"] == pytest.approx(55 / 3)
    assert table.loc["B", "avg_order_value"] == 32.5
    assert table.loc["A", "first_purchase"] == pd.Timestamp("2011-01-03 10:15")
    assert table.loc["A", "last_purchase"] == pd.Timestamp("2011-03-10 14:05")
    assert table.loc["B", "country"] == "France"
    assert table.loc["A", "country"] == UK


def test_customer_with_only_returns_has_no_purchase(con, data):
    d = eda.customer_summary(con, data["main"]).set_index("customer_id").loc["D"]
    assert d["orders"] == 0
    assert pd.isna(d["first_purchase"]) and pd.isna(d["last_purchase"])
    assert pd.isna(d["avg_order_value"])
    assert pd.isna(d["country"])


def test_customer_country_is_most_frequent_then_alphabetical(con, tmp_path):
    base = LINES[0]
    lines = [
        (base[0], "X", base[2], base[3], base[4], "Germany", *base[6:]),
        (base[0], "X", base[2], base[3], base[4], "France", *base[6:]),
        (base[0], "X", base[2], base[3], base[4], "Germany", *base[6:]),
        (base[0], "Y", base[2], base[3], base[4], "Spain", *base[6:]),
        (base[0], "Y", base[2], base[3], base[4], "Austria", *base[6:]),
    ]
    path = write(tmp_path, "countries", lines)
    table = eda.customer_summary(con, path).set_index("customer_id")
    assert table["country"].tolist() == ["Germany", "Austria"]


def test_net_revenue_that_cancels_out_is_exactly_zero(con, tmp_path):
    # 0.1 + 0.2 - 0.3 is 5.6e-17 in floating point; a log axis would show it as revenue.
    lines = [
        ("INV1", "X", "2011-01-03 10:15", "P1", "MUG", UK, 1, 0.1, 0.1, False, False),
        ("INV1", "X", "2011-01-03 10:15", "P2", "BAG", UK, 1, 0.2, 0.2, False, False),
        ("C1", "X", "2011-01-04 10:15", "P3", "PEN", UK, -1, 0.3, -0.3, True, False),
    ]
    path = write(tmp_path, "cancel", lines)
    assert eda.customer_summary(con, path)["net_revenue"].tolist() == [0.0]
    assert eda.monthly_summary(con, path)["net_revenue"].tolist() == [0.0]


def test_customer_summary_of_empty_parquet_is_empty_with_columns(con, data):
    customers = eda.customer_summary(con, data["empty"])
    assert customers.empty
    assert list(customers.columns) == list(eda.CUSTOMER_COLUMNS)


def test_customer_correlations_hand_computed(con, data):
    corr = eda.customer_correlations(eda.customer_summary(con, data["main"]))
    expected = [
        "orders",
        "net_revenue",
        "lines",
        "distinct_products",
        "return_share",
        "avg_order_value",
    ]
    assert list(corr.columns) == expected
    assert corr.attrs["constant"] == []
    # Ranks of orders (5, 4, 2.5, 1, 2.5) and lines (5, 4, 2, 2, 2): r = 8 / sqrt(9.5 * 8).
    assert corr.loc["orders", "lines"] == pytest.approx(8 / math.sqrt(76))


# ----------------------------------------------------------------------------- cohorts


def test_cohort_retention_hand_computed(con, data):
    retention = eda_cohorts.cohort_retention(con, data["main"])
    # Jan cohort A, B, C (D has only a return): Feb A, B; Mar A. Mar cohort: E.
    # Feb has no new customer, so there is no Feb cohort; Mar is the last month.
    expected = pd.DataFrame(
        {
            "cohort": pd.to_datetime(["2011-01-01"] * 3 + ["2011-03-01"]),
            "months_since_first": [0, 1, 2, 0],
            "cohort_size": [3, 3, 3, 1],
            "active_customers": [3, 2, 1, 1],
        }
    )
    for column in expected.columns:
        assert retention[column].tolist() == expected[column].tolist(), column
    assert retention["retention"].tolist() == pytest.approx([1, 2 / 3, 1 / 3, 1])


def test_cohort_retention_stops_at_cohort_months(con, data):
    retention = eda_cohorts.cohort_retention(con, data["main"], cohort_months=2)
    assert retention["months_since_first"].tolist() == [0, 1, 0]
    with pytest.raises(ValueError, match="cohort_months"):
        eda_cohorts.cohort_retention(con, data["main"], cohort_months=0)


# ----------------------------------------------------------------------------- speed paths (issue 16)


def test_distinct_products_are_the_same_from_bitmaps_and_from_pairs(con, data, monkeypatch):
    """customer_summary counts with per-customer bitmaps when they fit its memory share, else DISTINCT pairs."""
    bitmaps = eda.customer_summary(con, data["main"])
    monkeypatch.setattr(eda, "PRODUCT_BITMAP_SHARE", 0.0)  # nothing fits: the pairs
    pairs = eda.customer_summary(con, data["main"])
    pd.testing.assert_frame_equal(bitmaps, pairs, check_exact=True)
    assert bitmaps["distinct_products"].sum() > 0
    temporary = {row[0] for row in con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()}
    assert not temporary & {eda.PRODUCT_CODES_TABLE, eda.CUSTOMER_PRODUCTS_TABLE}  # dropped after use
    assert temporary == {eda.ORDER_PARTS_TABLE, eda.PRODUCTS_TABLE}  # kept for the other aggregates


def test_purchase_orders_are_read_again_when_the_file_changes(con, tmp_path):
    path = tmp_path / "t.parquet"
    transactions(LINES).to_parquet(path, index=False)
    before = eda.orders_by_weekday(con, path)["orders"].sum()
    transactions(LINES[:3]).to_parquet(path, index=False)  # rewritten: other size
    after = eda.orders_by_weekday(con, path)["orders"].sum()
    assert before == 7 and 0 < after < before
