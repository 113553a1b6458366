"""Tests for the charts, takeaways and tables of 02_eda (eda_plots, eda_customer_plots, eda_tables).

The fixture (tests/eda_fixture.py): 5 customers, 3 months, 7 purchase orders, 2 return
lines, total net revenue 185; D has only a return. Each sentence is compared in full.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from eda_fixture import LINES, UK, write  # noqa: E402
from helpers import eda, eda_cohorts, eda_customer_plots, eda_histograms, eda_plots, eda_tables  # noqa: E402

# ----------------------------------------------------------------------------- monthly


def test_plot_monthly_names_top_month_and_share(con, data):
    fig, takeaway = eda_plots.plot_monthly(eda.monthly_summary(con, data["main"]))
    assert isinstance(fig, Figure)
    # January (from the 3rd) and March (to the 10th) are partial: February is the top full month, 35 / 185 = 18.9%
    assert takeaway == ("February 2011 was the top full month with 35 net revenue (19% of the total); the comparison "
                        "leaves out the partial months January 2011 (29 of 31 days of data) and March 2011 "
                        "(10 of 31 days of data).")
    assert fig.axes[0].get_title()
    assert fig.axes[-1].get_xlabel() == "Month"


def test_plot_monthly_of_empty_frame_says_so(con, data):
    fig, takeaway = eda_plots.plot_monthly(eda.monthly_summary(con, data["empty"]))
    assert fig is None  # nothing to draw: the report shows only the sentence
    assert "no transactions" in takeaway


# ----------------------------------------------------------------------------- histograms


def test_items_per_order_without_quantities_says_the_export_has_none(con, tmp_path):
    lines = [(*line[:6], None, None, *line[8:]) for line in LINES]
    path = write(tmp_path, "amounts_only", lines)
    hist = eda_histograms.items_per_order_histogram(con, path)
    assert hist.empty
    fig, takeaway = eda_plots.plot_histogram(hist, "number of items", "purchase orders")
    assert fig is None  # no empty frame in the report, only the sentence
    assert takeaway == (
        "The export has no quantities, so items per order cannot be counted "
        "(its 7 purchase orders carry amounts only)."
    )


def test_items_per_order_of_empty_data_has_no_reason(con, data):
    hist = eda_histograms.items_per_order_histogram(con, data["empty"])
    assert "missing" not in hist.attrs
    assert eda_plots.plot_histogram(hist, "items", "orders") == (None, "There are no orders to show.")


def test_plot_histogram_states_the_exact_median(con, data):
    hist = eda_histograms.order_value_histogram(con, data["main"], bins=5)
    fig, takeaway = eda_plots.plot_histogram(hist, "order value", "orders")
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
    hist = eda_histograms.customer_histogram(customers, "orders")
    _, orders = eda_plots.plot_histogram(hist, "number of orders", "customers")
    assert orders == "The median number of orders is 2.5 across 4 customers."
    hist = eda_histograms.customer_histogram(customers, "net_revenue")
    _, revenue = eda_plots.plot_histogram(hist, "net revenue", "customers")
    assert revenue == "The median net revenue is 575.25 across 4 customers."
    table = eda_tables.summary_table(
        customers, {"orders": ("orders", "count"), "net_revenue": ("net revenue", "money")}
    )
    assert table["median"].tolist() == ["2.5", "575.25"]


def test_plot_histogram_without_a_median_falls_back_to_its_bin():
    hist = pd.DataFrame({"bin_left": [0.5, 1.5], "bin_right": [1.5, 3.5], "count": [1, 3]})
    hist.attrs = {"log_scale": False, "integer": True}
    _, takeaway = eda_plots.plot_histogram(hist, "orders", "customers")
    assert takeaway == "The median orders lies in the bin 2 to 3 across 4 customers."


def test_plot_histogram_reports_values_left_off_the_log_axis(con, data):
    customers = eda.customer_summary(con, data["main"])
    hist = eda_histograms.customer_histogram(customers, "net_revenue", bins=3, log=True)
    fig, takeaway = eda_plots.plot_histogram(hist, "net revenue", "customers")
    assert fig.axes[0].get_xscale() == "log"
    assert "across 5 customers" in takeaway
    assert "1 at 0 or less are not shown on the log axis" in takeaway


def test_plot_histogram_of_empty_frame_says_so(con, data):
    _, takeaway = eda_plots.plot_histogram(
        eda_histograms.order_value_histogram(con, data["empty"]), "order value", "orders"
    )
    assert takeaway == "There are no orders to show."


# ----------------------------------------------------------------------------- countries


def test_plot_top_countries_names_top_country(con, data):
    fig, takeaway = eda_plots.plot_top_countries(eda.country_summary(con, data["main"]), n=2)
    assert takeaway == (
        "United Kingdom is the top country with 125 net revenue (68% of the total) "
        "and 3 customers (60%)."
    )
    revenue_ax, customers_ax = fig.axes
    assert [t.get_text() for t in revenue_ax.get_yticklabels()] == [UK, "France"]
    assert customers_ax.get_xlabel() == "Customers"


def test_all_revenue_in_one_country_is_100_percent(con, data):
    _, takeaway = eda_plots.plot_top_countries(eda.country_summary(con, data["one"]))
    assert (
        takeaway
        == "United Kingdom is the top country with 10 net revenue (100% of the total) and 1 customer (100%)."
    )


def test_country_summary_of_empty_parquet_is_empty(con, data):
    countries = eda.country_summary(con, data["empty"])
    assert countries.empty
    assert "no countries" in eda_plots.plot_top_countries(countries)[1]


def test_plot_top_countries_rejects_zero_bars(con, data):
    with pytest.raises(ValueError, match="n must be"):
        eda_plots.plot_top_countries(eda.country_summary(con, data["main"]), n=0)


# ----------------------------------------------------------------------------- products


def test_product_with_only_blank_descriptions_is_labelled_by_id(con, data):
    products = eda.top_products(con, data["main"], n=10)
    p3 = products.set_index("product_id").loc["P3"]
    assert pd.isna(p3["description"])  # "", null, "" -> missing
    assert p3["net_revenue"] == 35.0
    fig, takeaway = eda_plots.plot_top_products(products)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["BAG", "MUG", "P3"]
    assert takeaway == (
        "The top product is 'BAG' with 100 net revenue (54%); "
        "the top 3 together bring 100% of net revenue."
    )


def test_export_without_product_ids_says_so(con, tmp_path):
    lines = [(*line[:3], None, None, *line[5:]) for line in LINES]
    products = eda.top_products(con, write(tmp_path, "no_products", lines))
    assert products.empty
    fig, takeaway = eda_plots.plot_top_products(products)
    assert fig is None
    assert takeaway == (
        "The export has no product ids (nor descriptions), so products cannot be ranked."
    )


def test_top_products_rejects_zero_and_empty_data_gives_message(con, data):
    with pytest.raises(ValueError, match="n must be"):
        eda.top_products(con, data["main"], n=0)
    products = eda.top_products(con, data["empty"])
    assert products.empty
    _, takeaway = eda_plots.plot_top_products(products)
    assert takeaway == "There are no products to rank."


# ----------------------------------------------------------------------------- order timing


def test_orders_by_weekday_hand_counted(con, data):
    weekday = eda.orders_by_weekday(con, data["main"])
    assert weekday["day_name"].tolist() == list(eda.WEEKDAY_NAMES)
    # Mon: INV1 INV3 INV4 INV6; Tue: INV5; Wed: INV2; Thu: INV7.
    assert weekday["orders"].tolist() == [4, 1, 1, 1, 0, 0, 0]
    _, takeaway = eda_plots.plot_orders_by_weekday(weekday)
    assert takeaway == "Monday has the most purchase orders (4, 57% of all), Friday the fewest (0)."


def test_orders_by_hour_hand_counted(con, data):
    hourly = eda.orders_by_hour(con, data["main"])
    assert len(hourly) == 24
    counts = dict(zip(hourly["hour"], hourly["orders"], strict=True))
    assert {h: c for h, c in counts.items() if c} == {10: 4, 11: 1, 14: 2}
    _, takeaway = eda_plots.plot_orders_by_hour(hourly)
    assert takeaway == "Orders peak between 10:00 and 10:59 with 4 purchase orders (57% of all)."


def test_order_timing_of_empty_parquet_is_all_zero(con, data):
    weekday = eda.orders_by_weekday(con, data["empty"])
    hourly = eda.orders_by_hour(con, data["empty"])
    assert weekday["orders"].tolist() == [0] * 7
    assert hourly["orders"].sum() == 0
    assert "no purchase orders" in eda_plots.plot_orders_by_weekday(weekday)[1]
    assert "no purchase orders" in eda_plots.plot_orders_by_hour(hourly)[1]


def test_dates_without_time_are_called_out(con, tmp_path):
    path = write(tmp_path, "dates", [(*LINES[0][:2], "2011-01-03", *LINES[0][3:])])
    _, takeaway = eda_plots.plot_orders_by_hour(eda.orders_by_hour(con, path))
    assert "dates without times" in takeaway


# ----------------------------------------------------------------------------- customers


def test_customer_table_summary_hand_computed(con, data):
    table = eda_tables.customer_table_summary(eda.customer_summary(con, data["main"]))
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
        eda_tables.summary_table(frame, {"spend": ("spend", "money")})
    with pytest.raises(ValueError, match="kind 'euros'"):
        eda_tables.summary_table(frame, {"orders": ("orders", "euros")})
    empty = eda_tables.summary_table(frame.iloc[0:0], {"orders": ("orders", "count")})
    assert empty.iloc[0].tolist() == ["orders", "0", "", "", "", "", ""]


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
    fig, takeaway = eda_customer_plots.plot_correlations(corr)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["orders", "net_revenue"]
    assert takeaway == (
        "The strongest link is between orders and net revenue (Spearman 0.80); distinct "
        "products and return share are left out because every customer has the same value."
    )


def test_plot_correlations_names_strongest_pair():
    customers = pd.DataFrame({"a": [1, 2, 3, 4], "b": [10, 20, 30, 40], "c": [4, 1, 3, 2]})
    fig, takeaway = eda_customer_plots.plot_correlations(eda.customer_correlations(customers))
    assert takeaway == "The strongest link is between a and b (Spearman 1.00)."
    assert fig.axes[0].get_title()


def test_correlations_of_one_customer_are_undefined_without_crash():
    corr = eda.customer_correlations(pd.DataFrame({"orders": [1], "net_revenue": [5.0]}))
    assert corr.empty and corr.attrs["constant"] == ["orders", "net_revenue"]
    fig, takeaway = eda_customer_plots.plot_correlations(corr)
    assert fig is None
    assert takeaway == (
        "Fewer than two customer features vary, so there is nothing to correlate; orders and "
        "net revenue are left out because every customer has the same value."
    )


def test_correlations_without_shared_customers_say_too_few():
    customers = pd.DataFrame({"a": [1.0, 2.0, None, None], "b": [None, None, 3.0, 4.0]})
    fig, takeaway = eda_customer_plots.plot_correlations(eda.customer_correlations(customers))
    assert isinstance(fig, Figure)
    assert takeaway == "Too few customers to measure any correlation."


def test_revenue_vs_orders_samples_max_points(con, data):
    customers = eda.customer_summary(con, data["main"])
    fig, takeaway = eda_customer_plots.plot_revenue_vs_orders(customers, max_points=2, seed=0)
    points = fig.axes[0].collections[0].get_offsets()
    assert len(points) == 2
    again = eda_customer_plots.plot_revenue_vs_orders(customers, max_points=2, seed=0)[0]
    assert np.array_equal(again.axes[0].collections[0].get_offsets(), points)
    # Buyers A, B, C, E: orders (3, 2, 1, 1) vs revenue (55, 65, 10, 60).
    rho = pd.DataFrame({"o": [3, 2, 1, 1], "r": [55, 65, 10, 60]}).corr("spearman").iloc[0, 1]
    assert f"Spearman {rho:.2f} over 4 customers" in takeaway


def test_revenue_vs_orders_hides_nonpositive_on_log_axis():
    customers = pd.DataFrame({"orders": [1, 2, 300, 1], "net_revenue": [1.0, 50.0, 1000.0, -3.0]})
    fig, takeaway = eda_customer_plots.plot_revenue_vs_orders(customers)
    assert fig.axes[0].get_yscale() == "log"
    assert len(fig.axes[0].collections[0].get_offsets()) == 3
    assert takeaway.endswith("; 1 customer with net revenue of 0 or less not shown.")


def test_revenue_vs_orders_without_buyers_says_so():
    customers = pd.DataFrame({"orders": [0], "net_revenue": [-5.0]})
    _, takeaway = eda_customer_plots.plot_revenue_vs_orders(customers)
    assert "No customer has a purchase order" in takeaway
    with pytest.raises(ValueError, match="max_points"):
        eda_customer_plots.plot_revenue_vs_orders(customers, max_points=0)


# ----------------------------------------------------------------------------- cohorts


def test_plot_cohort_retention_reports_month_one(con, data):
    fig, takeaway = eda_customer_plots.plot_cohort_retention(eda_cohorts.cohort_retention(con, data["main"]))
    assert takeaway == (
        "On average 67% of new customers buy again in the month after their first purchase "
        "(1 cohort with a following month)."
    )
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["2011-01 (n=3)", "2011-03 (n=1)"]
    assert ax.get_xlabel() == "Months since first purchase"


def test_cohort_retention_of_empty_and_single_month_data(con, data):
    assert eda_cohorts.cohort_retention(con, data["empty"]).empty
    assert "no purchases" in eda_customer_plots.plot_cohort_retention(eda_cohorts.cohort_retention(con, data["empty"]))[1]
    one = eda_cohorts.cohort_retention(con, data["one"])
    assert one["retention"].tolist() == [1.0]
    assert "cannot be measured yet" in eda_customer_plots.plot_cohort_retention(one)[1]


# ----------------------------------------------------------------------------- edge cases


def test_every_plot_works_for_one_customer_in_one_month(con, data):
    path = data["one"]
    customers = eda.customer_summary(con, path)
    results = [
        eda_plots.plot_monthly(eda.monthly_summary(con, path)),
        eda_plots.plot_histogram(eda_histograms.order_value_histogram(con, path), "order value", "orders"),
        eda_plots.plot_histogram(eda_histograms.items_per_order_histogram(con, path), "items per order", "orders"),
        eda_plots.plot_histogram(
            eda_histograms.customer_histogram(customers, "net_revenue"), "net revenue", "customers"
        ),
        eda_plots.plot_histogram(eda_histograms.customer_histogram(customers, "orders"), "orders", "customers"),
        eda_plots.plot_top_countries(eda.country_summary(con, path)),
        eda_plots.plot_top_products(eda.top_products(con, path)),
        eda_plots.plot_orders_by_weekday(eda.orders_by_weekday(con, path)),
        eda_plots.plot_orders_by_hour(eda.orders_by_hour(con, path)),
        eda_customer_plots.plot_revenue_vs_orders(customers),
        eda_customer_plots.plot_correlations(eda.customer_correlations(customers)),
        eda_customer_plots.plot_cohort_retention(eda_cohorts.cohort_retention(con, path)),
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
    table = eda_tables.overview_table(frame)
    assert table["figure"].tolist() == ["lines", "first date", "net revenue"]
    assert table["value"].tolist() == ["1,200", "2011-01-03 10:00:00", "1,234.50"]
    assert eda_tables.overview_table(frame.iloc[0:0]).empty
