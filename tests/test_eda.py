"""Tests for helpers.eda on a 12-line fixture whose answers are worked out by hand.

Fixture (5 customers, 3 months, 7 purchase orders, 2 return lines):

    line invoice cust date              product desc   country  qty   amount  return
    1    INV1    A    2011-01-03 10:15  P1      MUG    UK       2     10      no
    2    INV1    A    2011-01-03 10:15  P2      BAG    UK       1     20      no
    3    INV2    B    2011-01-05 14:30  P1      MUG    France   4     20      no
    4    INV3    C    2011-01-10 10:45  P3      ""     UK       10    10      no
    5    C1      A    2011-02-01 09:00  P2      BAG    UK       -1   -20      yes
    6    INV4    A    2011-02-07 10:20  P1      MUG    UK       3     15      no
    7    INV5    B    2011-02-01 11:00  P2      BAG    France   2     40      no
    8    INV5    B    2011-02-01 11:00  P3      null   France   5      5      no
    9    C2      D    2011-02-07 16:00  P1      MUG    null     -1    -5      yes
    10   INV6    E    2011-03-07 10:30  P2      BAG    UK       3     60      no (outlier)
    11   INV7    A    2011-03-10 14:05  P3      ""     UK       20    20      no
    12   INV7    A    2011-03-10 14:05  P1      MUG    UK       2     10      no

UK is "United Kingdom" in the data. Total net revenue 185. D has only a return.
"""

from __future__ import annotations

import math

import duckdb
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from helpers import eda  # noqa: E402
from helpers.errors import UserError  # noqa: E402

UK = "United Kingdom"
# invoice, customer, date, product, description, country, quantity, unit_price, amount, return, outlier
LINES = [
    ("INV1", "A", "2011-01-03 10:15", "P1", "MUG", UK, 2, 5.0, 10.0, False, False),
    ("INV1", "A", "2011-01-03 10:15", "P2", "BAG", UK, 1, 20.0, 20.0, False, False),
    ("INV2", "B", "2011-01-05 14:30", "P1", "MUG", "France", 4, 5.0, 20.0, False, False),
    ("INV3", "C", "2011-01-10 10:45", "P3", "", UK, 10, 1.0, 10.0, False, False),
    ("C1", "A", "2011-02-01 09:00", "P2", "BAG", UK, -1, 20.0, -20.0, True, False),
    ("INV4", "A", "2011-02-07 10:20", "P1", "MUG", UK, 3, 5.0, 15.0, False, False),
    ("INV5", "B", "2011-02-01 11:00", "P2", "BAG", "France", 2, 20.0, 40.0, False, False),
    ("INV5", "B", "2011-02-01 11:00", "P3", None, "France", 5, 1.0, 5.0, False, False),
    ("C2", "D", "2011-02-07 16:00", "P1", "MUG", None, -1, 5.0, -5.0, True, False),
    ("INV6", "E", "2011-03-07 10:30", "P2", "BAG", UK, 3, 20.0, 60.0, False, True),
    ("INV7", "A", "2011-03-10 14:05", "P3", "", UK, 20, 1.0, 20.0, False, False),
    ("INV7", "A", "2011-03-10 14:05", "P1", "MUG", UK, 2, 5.0, 10.0, False, False),
]
COLUMNS = [
    "invoice_id",
    "customer_id",
    "invoice_date",
    "product_id",
    "description",
    "country",
    "quantity",
    "unit_price",
    "amount",
    "is_return",
    "is_outlier",
]


def _transactions(lines: list[tuple]) -> pd.DataFrame:
    """Build a frame typed like 01_clean's output."""
    frame = pd.DataFrame(lines, columns=COLUMNS)
    frame["invoice_date"] = pd.to_datetime(frame["invoice_date"]).astype("datetime64[us]")
    for column in ("quantity", "unit_price", "amount"):
        frame[column] = frame[column].astype("float64")
    for column in ("is_return", "is_outlier"):
        frame[column] = frame[column].astype("bool")
    return frame[list(eda.TRANSACTION_COLUMNS)]


def _write(directory, name: str, lines: list[tuple]) -> str:
    path = directory / f"{name}.parquet"
    _transactions(lines).to_parquet(path, index=False)
    return str(path)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    directory = tmp_path_factory.mktemp("eda")
    return {
        "main": _write(directory, "main", LINES),
        "empty": _write(directory, "empty", []),
        "one": _write(directory, "one", [LINES[0]]),
        "directory": directory,
    }


@pytest.fixture()
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# ----------------------------------------------------------------------------- input checks


def test_missing_file_raises_user_error_with_fix(con, tmp_path):
    with pytest.raises(UserError, match="run notebooks/01_clean.ipynb"):
        eda.monthly_summary(con, tmp_path / "nope.parquet")


def test_missing_column_is_named(con, tmp_path):
    path = tmp_path / "no_return.parquet"
    _transactions(LINES).drop(columns="is_return").to_parquet(path, index=False)
    with pytest.raises(UserError, match="column 'is_return' is missing"):
        eda.customer_summary(con, path)


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
    path = _write(tmp_path, "gap", [LINES[0], LINES[9]])  # January and March only
    monthly = eda.monthly_summary(con, path)
    assert monthly["net_revenue"].tolist() == [10.0, 0.0, 60.0]
    assert monthly["orders"].tolist() == [1, 0, 1]


def test_monthly_summary_of_empty_parquet_is_empty(con, data):
    monthly = eda.monthly_summary(con, data["empty"])
    assert monthly.empty
    assert list(monthly.columns) == ["month", "net_revenue", "orders", "active_customers"]


def test_plot_monthly_names_top_month_and_share(con, data):
    fig, takeaway = eda.plot_monthly(eda.monthly_summary(con, data["main"]))
    assert isinstance(fig, Figure)
    # 90 / 185 = 48.6%
    assert takeaway == "March 2011 was the top month with 90 net revenue (49% of the total)."
    assert fig.axes[0].get_title()
    assert fig.axes[-1].get_xlabel() == "Month"


def test_plot_monthly_of_empty_frame_says_so(con, data):
    fig, takeaway = eda.plot_monthly(eda.monthly_summary(con, data["empty"]))
    assert fig is None  # nothing to draw: the report shows only the sentence
    assert "no transactions" in takeaway


# ----------------------------------------------------------------------------- histograms


def test_order_value_histogram_hand_binned(con, data):
    # Order values 30, 20, 10, 15, 45, 60, 30: whole numbers, span 6x -> linear bins
    # centred on integers: round(linspace(10, 61, 6)) = 10, 20, 30, 41, 51, 61, minus 0.5.
    hist = eda.order_value_histogram(con, data["main"], bins=5)
    assert hist["bin_left"].tolist() == [9.5, 19.5, 29.5, 40.5, 50.5]
    assert hist["bin_right"].tolist() == [19.5, 29.5, 40.5, 50.5, 60.5]
    assert hist["count"].tolist() == [2, 1, 2, 1, 1]
    # Sorted values 10 15 20 30 30 45 60: the exact median is 30.
    assert hist.attrs == {"log_scale": False, "integer": True, "median": 30.0}


def test_items_per_order_histogram_counts_every_order(con, data):
    # Items per order: 3, 4, 10, 3, 7, 3, 22; forced log bins still hold all 7 orders.
    hist = eda.items_per_order_histogram(con, data["main"], bins=4, log=True)
    assert hist["count"].sum() == 7
    assert hist.attrs["log_scale"] is True
    assert hist["bin_left"].iloc[0] == 2.5  # lowest value 3, integer bins
    assert (hist["bin_left"] > 0).all()


def test_items_per_order_without_quantities_says_the_export_has_none(con, tmp_path):
    lines = [(*line[:6], None, None, *line[8:]) for line in LINES]
    path = _write(tmp_path, "amounts_only", lines)
    hist = eda.items_per_order_histogram(con, path)
    assert hist.empty
    fig, takeaway = eda.plot_histogram(hist, "number of items", "purchase orders")
    assert fig is None  # no empty frame in the report, only the sentence
    assert takeaway == (
        "The export has no quantities, so items per order cannot be counted "
        "(its 7 purchase orders carry amounts only)."
    )


def test_items_per_order_of_empty_data_has_no_reason(con, data):
    hist = eda.items_per_order_histogram(con, data["empty"])
    assert "empty_reason" not in hist.attrs
    assert eda.plot_histogram(hist, "items", "orders") == (None, "There are no orders to show.")


def test_sql_histogram_rejects_zero_bins_and_empty_data_gives_empty_frame(con, data):
    with pytest.raises(ValueError, match="bins"):
        eda.order_value_histogram(con, data["main"], bins=0)
    assert eda.order_value_histogram(con, data["empty"]).empty


def test_customer_histogram_keeps_nonpositive_customers_in_leading_row(con, data):
    customers = eda.customer_summary(con, data["main"])
    # Net revenue 55, 65, 10, -5, 60: on a log scale D (-5) goes to the (-inf, 0] row.
    hist = eda.customer_histogram(customers, "net_revenue", bins=3, log=True)
    assert hist["bin_left"].iloc[0] == -np.inf
    assert hist["bin_right"].iloc[0] == 0.0
    assert hist["count"].iloc[0] == 1
    assert hist["count"].sum() == 5


def test_customer_histogram_of_orders_hand_binned(con, data):
    customers = eda.customer_summary(con, data["main"])
    # Orders 3, 2, 1, 0, 1 -> integer bins 0..3.
    hist = eda.customer_histogram(customers, "orders")
    assert hist["bin_left"].tolist() == [-0.5, 0.5, 1.5, 2.5]
    assert hist["count"].tolist() == [1, 2, 1, 1]


def test_customer_histogram_rejects_unknown_column():
    with pytest.raises(ValueError, match="column 'spend'"):
        eda.customer_histogram(pd.DataFrame({"orders": [1]}), "spend")


def test_plot_histogram_states_the_exact_median(con, data):
    hist = eda.order_value_histogram(con, data["main"], bins=5)
    fig, takeaway = eda.plot_histogram(hist, "order value", "orders")
    # Sorted values 10 15 20 30 30 45 60: the median is 30 (its bin is 29.5..40.5).
    assert takeaway == "The median order value is 30 across 7 orders."
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Order value"
    assert ax.get_ylabel() == "Number of orders"
    assert ax.get_title() == "Distribution of order value"
    assert sum(patch.get_height() for patch in ax.patches) == 7


def test_histogram_median_of_an_even_count_matches_the_summary_table():
    # Four customers: the median is the mean of the middle two, not a bin.
    customers = pd.DataFrame(
        {"orders": [1, 2, 3, 4], "net_revenue": [100.0, 550.25, 600.25, 1000.0]}
    )
    hist = eda.customer_histogram(customers, "orders")
    _, orders = eda.plot_histogram(hist, "number of orders", "customers")
    assert orders == "The median number of orders is 2.5 across 4 customers."
    hist = eda.customer_histogram(customers, "net_revenue")
    _, revenue = eda.plot_histogram(hist, "net revenue", "customers")
    assert revenue == "The median net revenue is 575.25 across 4 customers."
    table = eda.summary_table(
        customers, {"orders": ("orders", "count"), "net_revenue": ("net revenue", "money")}
    )
    assert table["median"].tolist() == ["2.5", "575.25"]


def test_plot_histogram_without_a_median_falls_back_to_its_bin():
    hist = pd.DataFrame({"bin_left": [0.5, 1.5], "bin_right": [1.5, 3.5], "count": [1, 3]})
    hist.attrs = {"log_scale": False, "integer": True}
    _, takeaway = eda.plot_histogram(hist, "orders", "customers")
    assert takeaway == "The median orders lies in the bin 2 to 3 across 4 customers."


def test_plot_histogram_reports_values_left_off_the_log_axis(con, data):
    customers = eda.customer_summary(con, data["main"])
    hist = eda.customer_histogram(customers, "net_revenue", bins=3, log=True)
    fig, takeaway = eda.plot_histogram(hist, "net revenue", "customers")
    assert fig.axes[0].get_xscale() == "log"
    assert "across 5 customers" in takeaway
    assert "1 at 0 or less are not shown on the log axis" in takeaway


def test_plot_histogram_of_empty_frame_says_so(con, data):
    _, takeaway = eda.plot_histogram(
        eda.order_value_histogram(con, data["empty"]), "order value", "orders"
    )
    assert takeaway == "There are no orders to show."


# ----------------------------------------------------------------------------- countries


def test_country_summary_hand_computed(con, data):
    countries = eda.country_summary(con, data["main"]).set_index("country")
    assert list(countries.index) == [UK, "France", "Unknown"]
    assert countries["net_revenue"].tolist() == [125.0, 65.0, -5.0]
    assert countries["customers"].tolist() == [3, 1, 1]
    assert countries["orders"].tolist() == [5, 2, 0]
    assert countries.loc[UK, "revenue_share"] == pytest.approx(125 / 185)
    assert countries.loc[UK, "customer_share"] == pytest.approx(3 / 5)


def test_plot_top_countries_names_top_country(con, data):
    fig, takeaway = eda.plot_top_countries(eda.country_summary(con, data["main"]), n=2)
    assert takeaway == (
        "United Kingdom is the top country with 125 net revenue (68% of the total) "
        "and 3 customers (60%)."
    )
    revenue_ax, customers_ax = fig.axes
    assert [t.get_text() for t in revenue_ax.get_yticklabels()] == [UK, "France"]
    assert customers_ax.get_xlabel() == "Customers"


def test_all_revenue_in_one_country_is_100_percent(con, data):
    _, takeaway = eda.plot_top_countries(eda.country_summary(con, data["one"]))
    assert (
        takeaway
        == "United Kingdom is the top country with 10 net revenue (100% of the total) and 1 customer (100%)."
    )


def test_country_summary_of_empty_parquet_is_empty(con, data):
    countries = eda.country_summary(con, data["empty"])
    assert countries.empty
    assert "no countries" in eda.plot_top_countries(countries)[1]


def test_plot_top_countries_rejects_zero_bars(con, data):
    with pytest.raises(ValueError, match="n must be"):
        eda.plot_top_countries(eda.country_summary(con, data["main"]), n=0)


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


def test_product_with_only_blank_descriptions_is_labelled_by_id(con, data):
    products = eda.top_products(con, data["main"], n=10)
    p3 = products.set_index("product_id").loc["P3"]
    assert pd.isna(p3["description"])  # "", null, "" -> missing
    assert p3["net_revenue"] == 35.0
    fig, takeaway = eda.plot_top_products(products)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["BAG", "MUG", "P3"]
    assert takeaway == (
        "The top product is 'BAG' with 100 net revenue (54%); "
        "the top 3 together bring 100% of net revenue."
    )


def test_export_without_product_ids_says_so(con, tmp_path):
    lines = [(*line[:3], None, None, *line[5:]) for line in LINES]
    products = eda.top_products(con, _write(tmp_path, "no_products", lines))
    assert products.empty
    fig, takeaway = eda.plot_top_products(products)
    assert fig is None
    assert takeaway == (
        "The export has no product ids (nor descriptions), so products cannot be ranked."
    )


def test_top_products_rejects_zero_and_empty_data_gives_message(con, data):
    with pytest.raises(ValueError, match="n must be"):
        eda.top_products(con, data["main"], n=0)
    products = eda.top_products(con, data["empty"])
    assert products.empty
    _, takeaway = eda.plot_top_products(products)
    assert takeaway == "There are no products to rank."


# ----------------------------------------------------------------------------- order timing


def test_orders_by_weekday_hand_counted(con, data):
    weekday = eda.orders_by_weekday(con, data["main"])
    assert weekday["day_name"].tolist() == list(eda.WEEKDAY_NAMES)
    # Mon: INV1 INV3 INV4 INV6; Tue: INV5; Wed: INV2; Thu: INV7.
    assert weekday["orders"].tolist() == [4, 1, 1, 1, 0, 0, 0]
    _, takeaway = eda.plot_orders_by_weekday(weekday)
    assert takeaway == "Monday has the most purchase orders (4, 57% of all), Friday the fewest (0)."


def test_orders_by_hour_hand_counted(con, data):
    hourly = eda.orders_by_hour(con, data["main"])
    assert len(hourly) == 24
    counts = dict(zip(hourly["hour"], hourly["orders"], strict=True))
    assert {h: c for h, c in counts.items() if c} == {10: 4, 11: 1, 14: 2}
    _, takeaway = eda.plot_orders_by_hour(hourly)
    assert takeaway == "Orders peak between 10:00 and 10:59 with 4 purchase orders (57% of all)."


def test_order_timing_of_empty_parquet_is_all_zero(con, data):
    weekday = eda.orders_by_weekday(con, data["empty"])
    hourly = eda.orders_by_hour(con, data["empty"])
    assert weekday["orders"].tolist() == [0] * 7
    assert hourly["orders"].sum() == 0
    assert "no purchase orders" in eda.plot_orders_by_weekday(weekday)[1]
    assert "no purchase orders" in eda.plot_orders_by_hour(hourly)[1]


def test_dates_without_time_are_called_out(con, tmp_path):
    path = _write(tmp_path, "dates", [(*LINES[0][:2], "2011-01-03", *LINES[0][3:])])
    _, takeaway = eda.plot_orders_by_hour(eda.orders_by_hour(con, path))
    assert "dates without times" in takeaway


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
    path = _write(tmp_path, "countries", lines)
    table = eda.customer_summary(con, path).set_index("customer_id")
    assert table["country"].tolist() == ["Germany", "Austria"]


def test_net_revenue_that_cancels_out_is_exactly_zero(con, tmp_path):
    # 0.1 + 0.2 - 0.3 is 5.6e-17 in floating point; a log axis would show it as revenue.
    lines = [
        ("INV1", "X", "2011-01-03 10:15", "P1", "MUG", UK, 1, 0.1, 0.1, False, False),
        ("INV1", "X", "2011-01-03 10:15", "P2", "BAG", UK, 1, 0.2, 0.2, False, False),
        ("C1", "X", "2011-01-04 10:15", "P3", "PEN", UK, -1, 0.3, -0.3, True, False),
    ]
    path = _write(tmp_path, "cancel", lines)
    assert eda.customer_summary(con, path)["net_revenue"].tolist() == [0.0]
    assert eda.monthly_summary(con, path)["net_revenue"].tolist() == [0.0]


def test_customer_table_summary_hand_computed(con, data):
    table = eda.customer_table_summary(eda.customer_summary(con, data["main"]))
    assert list(table.columns) == [
        "metric", "customers with a value", "min", "P25", "median", "P75", "max"
    ]
    rows = {row[0]: row[1:] for row in table.itertuples(index=False)}
    # Orders 3, 2, 1, 0, 1; net revenue 55, 65, 10, -5, 60.
    assert rows["purchase orders"] == ("5", "0", "1", "1", "2", "3")
    assert rows["net revenue"] == ("5", "-5.00", "10.00", "55.00", "60.00", "65.00")
    # Average order value 10, 18.33, 32.5, 60 (D has no order): P25 16.25, median 25.42.
    assert rows["average order value"] == ("4", "10.00", "16.25", "25.42", "39.38", "60.00")
    assert rows["share of lines that are returns"] == (
        "5", "0.0%", "0.0%", "0.0%", "16.7%", "100.0%"
    )
    # Dates: only the first and the last, no mean or median date.
    assert rows["first purchase"] == ("4", "2011-01-03", "", "", "", "2011-03-07")


def test_summary_table_rejects_unknown_column_and_kind():
    frame = pd.DataFrame({"orders": [1, 2]})
    with pytest.raises(ValueError, match="column 'spend'"):
        eda.summary_table(frame, {"spend": ("spend", "money")})
    with pytest.raises(ValueError, match="kind 'euros'"):
        eda.summary_table(frame, {"orders": ("orders", "euros")})
    empty = eda.summary_table(frame.iloc[0:0], {"orders": ("orders", "count")})
    assert empty.iloc[0].tolist() == ["orders", "0", "", "", "", "", ""]


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


def test_constant_features_are_dropped_and_named():
    customers = pd.DataFrame(
        {
            "orders": [1, 2, 3, 4],
            "net_revenue": [10.0, 30.0, 20.0, 40.0],
            "distinct_products": [0, 0, 0, 0],
            "return_share": [0.0, 0.0, 0.0, 0.0],
        }
    )
    corr = eda.customer_correlations(customers)
    assert list(corr.columns) == ["orders", "net_revenue"]
    assert not corr.isna().any().any()
    fig, takeaway = eda.plot_correlations(corr)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["orders", "net_revenue"]
    assert takeaway == (
        "The strongest link is between orders and net revenue (Spearman 0.80); distinct "
        "products and return share are left out because every customer has the same value."
    )


def test_plot_correlations_names_strongest_pair():
    customers = pd.DataFrame({"a": [1, 2, 3, 4], "b": [10, 20, 30, 40], "c": [4, 1, 3, 2]})
    fig, takeaway = eda.plot_correlations(eda.customer_correlations(customers))
    assert takeaway == "The strongest link is between a and b (Spearman 1.00)."
    assert fig.axes[0].get_title()


def test_correlations_of_one_customer_are_undefined_without_crash():
    corr = eda.customer_correlations(pd.DataFrame({"orders": [1], "net_revenue": [5.0]}))
    assert corr.empty and corr.attrs["constant"] == ["orders", "net_revenue"]
    fig, takeaway = eda.plot_correlations(corr)
    assert fig is None
    assert takeaway == (
        "Fewer than two customer features vary, so there is nothing to correlate; orders and "
        "net revenue are left out because every customer has the same value."
    )


def test_correlations_without_shared_customers_say_too_few():
    customers = pd.DataFrame({"a": [1.0, 2.0, None, None], "b": [None, None, 3.0, 4.0]})
    fig, takeaway = eda.plot_correlations(eda.customer_correlations(customers))
    assert isinstance(fig, Figure)
    assert takeaway == "Too few customers to measure any correlation."


def test_revenue_vs_orders_samples_max_points(con, data):
    customers = eda.customer_summary(con, data["main"])
    fig, takeaway = eda.plot_revenue_vs_orders(customers, max_points=2, seed=0)
    points = fig.axes[0].collections[0].get_offsets()
    assert len(points) == 2
    again = eda.plot_revenue_vs_orders(customers, max_points=2, seed=0)[0]
    assert np.array_equal(again.axes[0].collections[0].get_offsets(), points)
    # Buyers A, B, C, E: orders (3, 2, 1, 1) vs revenue (55, 65, 10, 60).
    rho = pd.DataFrame({"o": [3, 2, 1, 1], "r": [55, 65, 10, 60]}).corr("spearman").iloc[0, 1]
    assert f"Spearman {rho:.2f} over 4 customers" in takeaway


def test_revenue_vs_orders_hides_nonpositive_on_log_axis():
    customers = pd.DataFrame({"orders": [1, 2, 300, 1], "net_revenue": [1.0, 50.0, 1000.0, -3.0]})
    fig, takeaway = eda.plot_revenue_vs_orders(customers)
    assert fig.axes[0].get_yscale() == "log"
    assert len(fig.axes[0].collections[0].get_offsets()) == 3
    assert takeaway.endswith("; 1 customer with net revenue of 0 or less not shown.")


def test_revenue_vs_orders_without_buyers_says_so():
    customers = pd.DataFrame({"orders": [0], "net_revenue": [-5.0]})
    _, takeaway = eda.plot_revenue_vs_orders(customers)
    assert "No customer has a purchase order" in takeaway
    with pytest.raises(ValueError, match="max_points"):
        eda.plot_revenue_vs_orders(customers, max_points=0)


# ----------------------------------------------------------------------------- cohorts


def test_cohort_retention_hand_computed(con, data):
    retention = eda.cohort_retention(con, data["main"])
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
    retention = eda.cohort_retention(con, data["main"], cohort_months=2)
    assert retention["months_since_first"].tolist() == [0, 1, 0]
    with pytest.raises(ValueError, match="cohort_months"):
        eda.cohort_retention(con, data["main"], cohort_months=0)


def test_plot_cohort_retention_reports_month_one(con, data):
    fig, takeaway = eda.plot_cohort_retention(eda.cohort_retention(con, data["main"]))
    assert takeaway == (
        "On average 67% of new customers buy again in the month after their first purchase "
        "(1 cohort with a following month)."
    )
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["2011-01 (n=3)", "2011-03 (n=1)"]
    assert ax.get_xlabel() == "Months since first purchase"


def test_cohort_retention_of_empty_and_single_month_data(con, data):
    assert eda.cohort_retention(con, data["empty"]).empty
    assert "no purchases" in eda.plot_cohort_retention(eda.cohort_retention(con, data["empty"]))[1]
    one = eda.cohort_retention(con, data["one"])
    assert one["retention"].tolist() == [1.0]
    assert "cannot be measured yet" in eda.plot_cohort_retention(one)[1]


# ----------------------------------------------------------------------------- edge cases


def test_every_plot_works_for_one_customer_in_one_month(con, data):
    path = data["one"]
    customers = eda.customer_summary(con, path)
    results = [
        eda.plot_monthly(eda.monthly_summary(con, path)),
        eda.plot_histogram(eda.order_value_histogram(con, path), "order value", "orders"),
        eda.plot_histogram(eda.items_per_order_histogram(con, path), "items per order", "orders"),
        eda.plot_histogram(
            eda.customer_histogram(customers, "net_revenue"), "net revenue", "customers"
        ),
        eda.plot_histogram(eda.customer_histogram(customers, "orders"), "orders", "customers"),
        eda.plot_top_countries(eda.country_summary(con, path)),
        eda.plot_top_products(eda.top_products(con, path)),
        eda.plot_orders_by_weekday(eda.orders_by_weekday(con, path)),
        eda.plot_orders_by_hour(eda.orders_by_hour(con, path)),
        eda.plot_revenue_vs_orders(customers),
        eda.plot_correlations(eda.customer_correlations(customers)),
        eda.plot_cohort_retention(eda.cohort_retention(con, path)),
    ]
    for position, (fig, takeaway) in enumerate(results):
        # One customer: every feature is constant, so only the correlations have no chart.
        if position == 10:
            assert fig is None
        else:
            assert isinstance(fig, Figure)
        assert takeaway.endswith(".") and takeaway.count(". ") == 0
    assert (
        results[0][1] == "January 2011 was the top month with 10 net revenue (100% of the total)."
    )
    assert results[1][1] == "The median order value is 10 across 1 order."


def test_overview_table_formats_each_figure():
    frame = pd.DataFrame({
        "lines": [1200], "first_date": [pd.Timestamp("2011-01-03 10:00")], "net_revenue": [1234.5],
    })
    table = eda.overview_table(frame)
    assert table["figure"].tolist() == ["lines", "first date", "net revenue"]
    assert table["value"].tolist() == ["1,200", "2011-01-03 10:00:00", "1,234.50"]
    assert eda.overview_table(frame.iloc[0:0]).empty
