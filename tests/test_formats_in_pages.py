"""Money and numbers on every page written by Babel through `Formats` (issue #17), CSVs left numeric.

Each presentation function that shows money takes ``formats``; None keeps today's text
(checked against the old strings), a Formats writes the shop's currency and locale. The
expected strings are written out by hand from CLDR's en_GB and de_DE conventions: en_GB
groups with "," and puts "£" first; de_DE groups with "." and writes "1.234,50 €".
"""

from __future__ import annotations

import matplotlib
import pandas as pd
import pytest

from helpers import (
    clean_report,
    cluster_tables,
    clv_report,
    eda,
    eda_customer_plots,
    eda_histograms,
    eda_plots,
    eda_tables,
    exports,
    personas_report,
    rfm_plots,
    rfm_report,
)
from helpers.formatting import Formats
from helpers.page_formats import localise_table

matplotlib.use("Agg")

GBP = Formats("GBP", "en_GB")
EUR_DE = Formats("EUR", "de_DE")
NBSP = "\xa0"


# ----------------------------------------------------------------------------- 01_clean


def test_clean_tables_write_the_currency():
    summary = {"rows": 10, "customers": 3, "orders": 4, "net_revenue": 1234.5,
               "first_date": "2011-01-03", "last_date": "2011-03-07"}
    assert clean_report.summary_table(summary)["value"].tolist()[3] == "1,234.50"
    assert clean_report.summary_table(summary, EUR_DE)["value"].tolist()[3] == f"1.234,50{NBSP}€"
    log = pd.DataFrame({"rule": ["exact_duplicate"], "action": ["removed"], "rows": [5268], "revenue": [-12345.678]})
    assert clean_report.log_table(log) is log  # None: the notebook's LOG_FORMATS do the work
    assert clean_report.log_table(log, GBP).iloc[0].tolist() == ["exact_duplicate", "removed", "5,268", "-£12,345.68"]
    lines = pd.DataFrame({"customer_id": ["12346"], "quantity": [74215.0], "unit_price": [1.04], "amount": [77183.6]})
    assert clean_report.flagged_table(lines, GBP).iloc[0].tolist() == ["12346", "74,215", "£1.04", "£77,183.60"]


# ----------------------------------------------------------------------------- 02_eda


def test_overview_and_customer_summary_tables(con, data):
    overview = eda.overview(con, data["main"])
    old = eda_tables.overview_table(overview).set_index("figure")["value"]
    new = eda_tables.overview_table(overview, formats=GBP).set_index("figure")["value"]
    # Net revenue 185 (tests/eda_fixture.py); 12 lines.
    assert (old["net revenue"], new["net revenue"]) == ("185.00", "£185.00")
    assert (old["lines"], new["lines"]) == ("12", "12")
    customers = eda.customer_summary(con, data["main"])
    table = eda_tables.customer_table_summary(customers, EUR_DE).set_index("metric")
    # Net revenue per customer A 55, B 65, C 10, D -5, E 60: median 55.
    assert table.loc["net revenue", "median"] == f"55,00{NBSP}€"
    assert eda_tables.customer_table_summary(customers).set_index("metric").loc["net revenue", "median"] == "55.00"


def test_money_charts_name_the_currency(con, data):
    fig, takeaway = eda_plots.plot_histogram(eda_histograms.order_value_histogram(con, data["main"]),
                                             "order value", "purchase orders", formats=GBP)
    assert fig.axes[0].get_xlabel() == "Order value (GBP)"
    assert takeaway == "The median order value is £30 across 7 purchase orders."
    fig, takeaway = eda_plots.plot_top_countries(eda.country_summary(con, data["main"]), formats=GBP)
    assert fig.axes[0].get_xlabel() == "Net revenue (GBP)"
    # United Kingdom, lines 1 2 4 5 6 10 11 12: 10 + 20 + 10 - 20 + 15 + 60 + 20 + 10 = 125.
    assert takeaway.startswith("United Kingdom is the top country with £125 net revenue")
    assert "£125" in [t.get_text() for t in fig.axes[0].texts]
    fig, takeaway = eda_plots.plot_top_products(eda.top_products(con, data["main"]), formats=GBP)
    assert "£" in takeaway and fig.axes[0].get_xlabel() == "Net revenue (GBP)"
    fig, _ = eda_customer_plots.plot_revenue_vs_orders(eda.customer_summary(con, data["main"]), formats=GBP)
    assert fig.axes[0].get_ylabel() == "Net revenue (GBP)"


def test_without_formats_the_charts_read_as_before(con, data):
    fig, takeaway = eda_plots.plot_top_countries(eda.country_summary(con, data["main"]))
    assert fig.axes[0].get_xlabel() == "Net revenue"
    assert takeaway.startswith("United Kingdom is the top country with 125 net revenue")
    fig, takeaway = eda_plots.plot_histogram(eda_histograms.order_value_histogram(con, data["main"]),
                                             "order value", "purchase orders")
    assert takeaway == "The median order value is 30 across 7 purchase orders."


def test_locale_ticks_use_its_grouping():
    monthly = pd.DataFrame({"month": pd.to_datetime(["2011-01-01", "2011-02-01"]),
                            "net_revenue": [1_000_000.0, 2_500_000.0], "orders": [1, 2], "active_customers": [1, 2]})
    fig, takeaway = eda_plots.plot_monthly(monthly, EUR_DE)
    fig.canvas.draw()
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels() if t.get_text()]
    assert "2.000.000" in ticks and fig.axes[0].get_ylabel() == "Net revenue (EUR)"
    # Where de_DE puts "€" with whole amounts is Formats' business (helpers.formatting); the grouping is ours.
    assert takeaway.startswith("February 2011 was the top month with ") and "2.500.000" in takeaway
    assert "€" in takeaway and takeaway.endswith(" net revenue (71% of the total).")


# ----------------------------------------------------------------------------- 03_rfm


SUMMARY = pd.DataFrame(
    {"customers": [1234, 10], "customer_share": [0.99, 0.01], "revenue": [98765.4, -5.0],
     "revenue_share": [1.0, 0.0], "mean_r": [4.2, 1.0], "mean_f": [3.0, 1.0], "mean_m": [3.5, 1.0],
     "median_recency_days": [12.0, 300.0]},
    index=pd.Index(["Champions", "Lost"], name="segment"),
)


def test_segment_table_with_and_without_formats():
    plain = rfm_report.segment_table(SUMMARY)
    assert plain["net revenue"].tolist() == [98765.4, -5.0]  # numbers for SEGMENT_TABLE_FORMATS
    shown = rfm_report.segment_table(SUMMARY, GBP)
    assert shown.iloc[0].tolist() == ["Champions", "1,234", "99.0%", "£98,765.40", "100.0%", "4.20", "3.00", "3.50", "12"]
    assert shown.loc[1, "net revenue"] == "-£5.00"
    assert rfm_report.segment_table(SUMMARY, EUR_DE).loc[0, "net revenue"] == f"98.765,40{NBSP}€"


def test_scoring_notes_write_monetary_cuts_with_the_currency():
    scored = pd.DataFrame({"frequency": [1, 2], "r_score": [5, 4], "f_score": [1, 2], "m_score": [1, 5],
                           "recency_days": [1.0, 2.0], "monetary": [50.0, 5000.0]})
    cuts = {"recency": [1, 2, 3, 4], "frequency": [1, 2, 3, 4], "monetary": [100, 300, 1000, 3000]}
    notes = rfm_report.describe_scoring(scored, method="cuts", cuts=cuts, formats=GBP)
    assert "<= £100.00: 1" in notes["monetary"] and "> £3,000.00: 5" in notes["monetary"]
    assert "<= 100.00: 1" in rfm_report.describe_scoring(scored, method="cuts", cuts=cuts)["monetary"]


def test_rf_grid_revenue_cells_carry_the_currency():
    segmented = pd.DataFrame({"customer_id": ["a", "b"], "r_score": [5, 1], "f_score": [5, 1],
                              "monetary": [1500.0, 3_900_000.0], "segment": ["Champions", "Lost"]})
    segment_map = pd.DataFrame({"r_score": [r for r in range(1, 6) for _ in range(5)],
                                "f_score": [f for _ in range(5) for f in range(1, 6)],
                                "segment": ["Lost"] * 24 + ["Champions"]})
    fig = rfm_plots.plot_rf_grid(segmented, segment_map, GBP)
    revenue = fig.axes[2] if fig.axes[1].get_label() == "<colorbar>" else fig.axes[1]
    assert revenue.get_title() == "Revenue (GBP) by R and F score"
    texts = [t.get_text() for t in revenue.texts]
    assert "£1.5k\nChampions" in texts and "£3.9m\nLost" in texts


def test_churn_risk_table_predicted_value_in_the_currency():
    frame = pd.DataFrame({"churn_risk": ["Low", "High", "Low"], "p_alive": [1.0, 0.2, 0.8],
                          "predicted_clv": [30.0, 10.0, 60.0]})
    table = clv_report.churn_risk_table(frame, GBP)
    # Low: 2 customers, 67%, mean P(alive) 0.9, value 90 (90%); High: 1, 33%, 0.2, 10.
    assert table.iloc[0].tolist() == ["Low", "2", "66.7%", "0.90", "£90", "90.0%"]
    assert clv_report.churn_risk_table(frame)["predicted value"].tolist() == [90.0, 10.0]


# ----------------------------------------------------------------------------- 04 and 05


def test_cluster_tables_money_medians():
    summary = pd.DataFrame({"cluster": ["0", "no kept order"], "customers": [1703, 28], "customer_share": [0.39, 0.01],
                            "median_recency_days": [24.0, float("nan")], "median_monetary": [1910.4, -20.0],
                            "revenue_share": [0.85, 0.0]})
    shown = cluster_tables.summary_table(summary, ["recency_days", "monetary"], GBP)
    assert shown.iloc[0].tolist() == ["0", "1,703", "39.0%", "24", "£1,910", "85.0%"]
    assert shown.iloc[1].tolist() == ["no kept order", "28", "1.0%", "", "-£20", "0.0%"]
    assert "median_monetary" not in cluster_tables.summary_table(summary, ["monetary"]).columns


def _persona_row() -> tuple[pd.Series, dict]:
    row = pd.Series({"persona": "Loyal high-value", "rule": "loyal_high_value", "customers": 1703,
                     "customer_share": 0.39, "revenue": 7000000.0, "revenue_share": 0.848,
                     "median_recency_days": 20.0, "median_frequency": 6.0, "median_monetary": 2000.0,
                     "median_avg_order_value": 330.0, "median_tenure_days": 300.0,
                     "single_order_share": 0.1, "description": "d", "actions": ("a", "b")})
    overall = {"median_recency_days": 50.0, "median_frequency": 2.0, "median_monetary": 642.55,
               "median_avg_order_value": 300.0, "median_tenure_days": 240.0}
    return row, overall


def test_persona_cards_write_money_with_the_currency():
    row, overall = _persona_row()
    plain = personas_report.card_fields(row, overall)
    assert plain["figures"][2] == ("Net revenue", "2,000", "643")
    card = personas_report.card_fields(row, overall, formats=GBP)
    assert card["figures"][2] == ("Net revenue", "£2,000", "£643")
    assert card["figures"][3] == ("Average order value", "£330", "£300")
    assert card["figures"][0] == ("Days since last order", "20", "50")
    assert (card["customers"], card["revenue"]) == ("1,703", "84.8% of net revenue")
    page = personas_report.persona_cards_html(pd.DataFrame([row], index=pd.Index([0], name="cluster")),
                                              overall, formats=EUR_DE)
    assert f"2.000{NBSP}€" in page or "€2.000" in page


def test_persona_profile_table_in_the_currency():
    row, overall = _persona_row()
    personas = pd.DataFrame([row], index=pd.Index([0], name="cluster"))
    overall_row = pd.Series({**overall, "customers": 4362, "customer_share": 1.0, "revenue": 8265476.93,
                             "revenue_share": 1.0, "single_order_share": 0.35})
    table = personas_report.profile_table(personas, overall_row, GBP)
    assert table["net revenue"].tolist() == ["£7,000,000", "£8,265,477"]
    assert table["net revenue per customer"].tolist() == ["£2,000", "£643"]
    assert table["customers"].tolist() == ["1,703", "4,362"]
    assert personas_report.profile_table(personas, overall_row)["net revenue"].tolist() == [7000000.0, 8265476.93]


# ----------------------------------------------------------------------------- CSV and failures


def test_csv_cells_stay_plain_numbers(tmp_path):
    segments = pd.DataFrame({"customer_id": ["1"], "monetary": [1234.5], "predicted_clv": [99.999]})
    path = exports.write_csv(segments, tmp_path / "segments.csv")
    text = path.read_text(encoding="utf-8")
    assert "£" not in text and "€" not in text
    assert pd.read_csv(path)["monetary"].tolist() == [1234.5]


def test_an_unsupported_format_string_is_refused_by_name():
    with pytest.raises(ValueError, match=r"format '\{:\.4g\}' is not one of"):
        localise_table(pd.DataFrame({"value": [0.5]}), {"value": "{:.4g}"}, GBP)
