"""Partial first and last months (issue #17): marked in the data, drawn apart, left out of takeaways.

The answers are counted by hand from calendar days. The 12-line fixture (tests/eda_fixture.py)
runs from Monday 3 January 2011 to 10 March 2011: January has 29 of its 31 days
(3..31), February all 28, March 10 of 31 (1..10).
"""

from __future__ import annotations

import matplotlib
import pandas as pd

from eda_fixture import write
from helpers import eda, eda_cohorts, eda_customer_plots, eda_plots
from helpers.formatting import Formats

matplotlib.use("Agg")


def _months(*starts: str) -> pd.Series:
    return pd.Series(pd.to_datetime(list(starts)))


# ----------------------------------------------------------------------------- month_coverage


def test_online_retail_shape_full_first_month_and_nine_days_of_december():
    # Online Retail: 2010-12-01 08:26 .. 2011-12-09 12:50. Dec 2010 from day 1 (full),
    # Nov 2011 in the middle (30 days), Dec 2011 days 1..9.
    cover = eda.month_coverage(_months("2010-12-01", "2011-11-01", "2011-12-01"),
                               pd.Timestamp("2010-12-01 08:26"), pd.Timestamp("2011-12-09 12:50"))
    assert cover["days_in_month"].tolist() == [31, 30, 31]
    assert cover["days_covered"].tolist() == [31, 30, 9]
    assert cover["partial"].tolist() == [False, False, True]


def test_first_month_starting_after_day_one_and_a_single_month():
    # 15 Jan .. 31 Jan = 17 days; 1 Feb .. 10 Feb 2012 (a leap year: 29 days) = 10.
    cover = eda.month_coverage(_months("2012-01-01", "2012-02-01"),
                               pd.Timestamp("2012-01-15 23:59"), pd.Timestamp("2012-02-10"))
    assert cover["days_covered"].tolist() == [17, 10]
    assert cover["days_in_month"].tolist() == [31, 29]
    assert cover["partial"].tolist() == [True, True]
    # One month, 10th to 20th: 11 of 28 days.
    one = eda.month_coverage(_months("2011-02-01"), pd.Timestamp("2011-02-10"), pd.Timestamp("2011-02-20"))
    assert one.iloc[0].tolist() == [28, 11, True]


def test_last_day_of_the_month_counts_as_covered_and_no_dates_cover_nothing():
    cover = eda.month_coverage(_months("2011-01-01", "2011-02-01"),
                               pd.Timestamp("2011-01-01 00:00"), pd.Timestamp("2011-02-28 00:05"))
    assert cover["partial"].tolist() == [False, False]
    # A month outside the data, and data without dates: nothing covered, so partial.
    outside = eda.month_coverage(_months("2011-05-01"), pd.Timestamp("2011-01-01"), pd.Timestamp("2011-02-28"))
    assert outside.iloc[0].tolist() == [31, 0, True]
    empty = eda.month_coverage(_months("2011-05-01"), pd.NaT, pd.NaT)
    assert empty["days_covered"].tolist() == [0]


# ----------------------------------------------------------------------------- the frames


def test_monthly_summary_marks_the_fixture_first_and_last_month(con, data):
    monthly = eda.monthly_summary(con, data["main"])
    assert monthly["days_covered"].tolist() == [29, 28, 10]
    assert monthly["days_in_month"].tolist() == [31, 28, 31]
    assert monthly["partial"].tolist() == [True, False, True]
    # The figures themselves are unchanged.
    assert monthly["net_revenue"].tolist() == [60.0, 35.0, 90.0]


def test_monthly_summary_of_whole_months_has_none_partial(con, tmp_path):
    first = ("INV1", "A", "2011-01-01 09:00", "P1", "MUG", "UK", 1, 5.0, 5.0, False, False)
    last = ("INV2", "A", "2011-02-28 17:00", "P1", "MUG", "UK", 1, 5.0, 5.0, False, False)
    monthly = eda.monthly_summary(con, write(tmp_path, "whole", [first, last]))
    assert monthly["partial"].tolist() == [False, False]
    assert monthly["days_covered"].tolist() == [31, 28]


def test_cohort_cells_know_their_calendar_month(con, data):
    retention = eda_cohorts.cohort_retention(con, data["main"])
    # Jan cohort: months 0, 1, 2 = Jan (29/31), Feb (full), Mar (10/31); Mar cohort: Mar.
    assert retention["month"].dt.strftime("%Y-%m").tolist() == ["2011-01", "2011-02", "2011-03", "2011-03"]
    assert retention["partial"].tolist() == [True, False, True, True]
    assert retention["days_covered"].tolist() == [29, 28, 10, 10]


# ----------------------------------------------------------------------------- the monthly chart


def test_monthly_takeaway_compares_full_months_and_says_so(con, data):
    fig, takeaway = eda_plots.plot_monthly(eda.monthly_summary(con, data["main"]))
    # Only February is full: 35 of 185 = 18.9%.
    assert takeaway == (
        "February 2011 was the top full month with 35 net revenue (19% of the total); the comparison "
        "leaves out the partial months January 2011 (29 of 31 days of data) and March 2011 "
        "(10 of 31 days of data)."
    )
    legend = fig.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == [
        "full month", "partial months (Jan 2011: 29 of 31 days, Mar 2011: 10 of 31 days)"]


def test_partial_months_are_drawn_hollow_and_dashed(con, data):
    fig, _ = eda_plots.plot_monthly(eda.monthly_summary(con, data["main"]))
    ax = fig.axes[0]
    hollow = [line for line in ax.get_lines() if line.get_markerfacecolor() == "white"]
    assert len(hollow) == 1 and list(hollow[0].get_ydata()) == [60.0, 90.0]
    assert any(line.get_linestyle() == "--" for line in ax.get_lines())


def test_the_shipped_shape_one_partial_last_month():
    monthly = pd.DataFrame({
        "month": pd.to_datetime(["2011-10-01", "2011-11-01", "2011-12-01"]),
        "net_revenue": [1000.0, 1500.0, 300.0], "orders": [10, 15, 3], "active_customers": [5, 7, 2],
        "days_in_month": [31, 30, 31], "days_covered": [31, 30, 9], "partial": [False, False, True],
    })
    fig, takeaway = eda_plots.plot_monthly(monthly)
    # 1,500 of 2,800 = 53.6%; December (300) would have read as a crash.
    assert takeaway == ("November 2011 was the top full month with 1,500 net revenue (54% of the total); the "
                        "comparison leaves out the partial month December 2011 (9 of 31 days of data).")
    assert fig.axes[0].get_legend().get_texts()[1].get_text() == "partial month (9 of 31 days)"


def test_when_every_month_is_partial_they_are_compared_as_they_are():
    monthly = pd.DataFrame({
        "month": pd.to_datetime(["2011-01-01", "2011-02-01"]), "net_revenue": [40.0, 60.0],
        "orders": [1, 2], "active_customers": [1, 2],
        "days_in_month": [31, 28], "days_covered": [17, 10], "partial": [True, True],
    })
    assert eda_plots.monthly_takeaway(monthly) == (
        "February 2011 was the top month with 60 net revenue (60% of the total), though no month is covered "
        "in full: January 2011 (17 of 31 days of data) and February 2011 (10 of 28 days of data).")


def test_one_month_or_a_frame_without_coverage_reads_as_before():
    one = pd.DataFrame({"month": pd.to_datetime(["2011-01-01"]), "net_revenue": [10.0],
                        "days_in_month": [31], "days_covered": [1], "partial": [True]})
    assert eda_plots.monthly_takeaway(one) == "January 2011 was the top month with 10 net revenue (100% of the total)."
    old = pd.DataFrame({"month": pd.to_datetime(["2011-01-01", "2011-02-01"]), "net_revenue": [10.0, 30.0]})
    assert eda_plots.monthly_takeaway(old) == "February 2011 was the top month with 30 net revenue (75% of the total)."


# ----------------------------------------------------------------------------- the cohort heatmap


def test_cohort_heatmap_hatches_the_partial_cells(con, data):
    fig, takeaway = eda_customer_plots.plot_cohort_retention(eda_cohorts.cohort_retention(con, data["main"]))
    ax = fig.axes[0]
    hatched = [(p.get_x(), p.get_y()) for p in ax.patches if p.get_hatch() == eda_customer_plots.PARTIAL_HATCH]
    # (column, row): Jan cohort months 0 and 2, Mar cohort month 0.
    assert sorted(hatched) == [(0, 0), (0, 1), (2, 0)]
    assert fig.legends[0].get_texts()[0].get_text() == (
        "partial month, fewer days of data (Jan 2011: 29 of 31 days; Mar 2011: 10 of 31 days)")
    # Month 1 of the Jan cohort is February, a full month: kept (2 of 3).
    assert takeaway.startswith("On average 67% of new customers")


def _cohorts(month_one_partial: bool) -> pd.DataFrame:
    """Two cohorts of 10: Jan keeps 4 in Feb (full); Feb keeps 1 in Mar (9 of 31 days when partial)."""
    return pd.DataFrame({
        "cohort": pd.to_datetime(["2011-01-01", "2011-01-01", "2011-02-01", "2011-02-01"]),
        "months_since_first": [0, 1, 0, 1], "cohort_size": [10, 10, 10, 10],
        "active_customers": [10, 4, 10, 1], "retention": [1.0, 0.4, 1.0, 0.1],
        "month": pd.to_datetime(["2011-01-01", "2011-02-01", "2011-02-01", "2011-03-01"]),
        "days_in_month": [31, 28, 28, 31], "days_covered": [31, 28, 28, 9 if month_one_partial else 31],
        "partial": [False, False, False, month_one_partial],
    })


def test_cohort_takeaway_leaves_out_a_partial_following_month():
    # Full months only: 4 / 10 = 40%; with the 9-day March it would read (4 + 1) / 20 = 25%.
    assert eda_customer_plots.cohort_takeaway(_cohorts(True)) == (
        "On average 40% of new customers buy again in the month after their first purchase (1 cohort with a "
        "following month; left out: 1 cohort whose following month, March 2011, has 9 of 31 days of data).")
    assert eda_customer_plots.cohort_takeaway(_cohorts(False)) == (
        "On average 25% of new customers buy again in the month after their first purchase "
        "(2 cohorts with a following month).")


def test_cohort_takeaway_when_the_only_following_month_is_partial():
    cohorts = _cohorts(True).iloc[2:]
    assert eda_customer_plots.cohort_takeaway(cohorts) == (
        "Retention cannot be measured yet: the only month after a first purchase month, March 2011, "
        "has 9 of 31 days of data.")


def test_monthly_chart_names_the_currency_with_formats(con, data):
    fig, takeaway = eda_plots.plot_monthly(eda.monthly_summary(con, data["main"]), Formats("GBP", "en_GB"))
    assert fig.axes[0].get_ylabel() == "Net revenue (GBP)"
    assert takeaway.startswith("February 2011 was the top full month with £35 net revenue")
