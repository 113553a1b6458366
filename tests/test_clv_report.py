"""Tests for helpers.clv_report: tables and charts of 03_rfm's "Future value" on tiny frames.

Each takeaway is worked out by hand from the frame above it and compared in full.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from helpers import clv_report  # noqa: E402
from helpers.clv import BgNbd, GammaGamma, churn_band  # noqa: E402
from helpers.clv_validation import unfitted_predictions  # noqa: E402


def test_parameter_table_names_the_time_unit_and_means() -> None:
    # r / alpha = 0.5 / 50 = 0.01 a day; a / (a + b) = 1 / 4; p v / (q - 1) = 6 * 15 / 3 = 30
    table = clv_report.parameter_table(BgNbd(r=0.5, alpha=50.0, a=1.0, b=3.0),
                                       GammaGamma(p=6.0, q=4.0, v=15.0))
    assert table["parameter"].tolist() == ["r", "alpha", "a", "b", "p", "q", "v"]
    assert "in days" in table.loc[1, "meaning"] and "one every 100 days" in table.loc[1, "meaning"]
    assert table.loc[3, "meaning"] == "mean dropout chance a / (a + b) = 25.0%"
    assert table.loc[6, "meaning"].endswith("p v / (q - 1) = 30.00")


def test_parameter_table_without_gamma_gamma_has_four_rows() -> None:
    table = clv_report.parameter_table(BgNbd(r=0.5, alpha=50.0, a=1.0, b=3.0), None)
    assert table["model"].unique().tolist() == ["BG/NBD"]


def test_correlation_sentence_warns_only_beyond_the_limit() -> None:
    assert clv_report.correlation_sentence(0.3).endswith("small, as Gamma-Gamma assumes.")
    warning = clv_report.correlation_sentence(0.31)
    assert "beyond +-0.3" in warning and "rank customers by expected orders" in warning
    assert "cannot be computed" in clv_report.correlation_sentence(float("nan"))


def test_churn_risk_table_shares_by_hand() -> None:
    # Low: 2 customers, 30 + 60 = 90 of 100; High: 1 customer, 10 of 100; no Medium row
    frame = pd.DataFrame({"churn_risk": churn_band(np.array([0.1, 0.9, 0.2])),
                          "p_alive": [1.0, 0.2, 0.8], "predicted_clv": [30.0, 10.0, 60.0]})
    table = clv_report.churn_risk_table(frame)
    assert table["churn risk"].tolist() == ["Low", "High"]
    assert table["customers"].tolist() == [2, 1]
    assert table["share"].tolist() == pytest.approx([2 / 3, 1 / 3])
    assert table["predicted value share"].tolist() == pytest.approx([0.9, 0.1])
    assert table["mean P(alive)"].tolist() == pytest.approx([0.9, 0.2])


def test_churn_risk_table_of_unfitted_predictions_is_one_unknown_row() -> None:
    inputs = pd.DataFrame({"customer_id": ["A", "B"], "frequency": [0, 0], "recency": [0.0, 0.0],
                           "T": [5.0, 9.0]})
    table = clv_report.churn_risk_table(unfitted_predictions(inputs))
    assert table["churn risk"].tolist() == ["unknown"] and table["customers"].tolist() == [2]
    assert np.isnan(table["predicted value share"]).all()


def test_validation_table_rows() -> None:
    table = clv_report.validation_table({"mae_model": 0.4, "mae_naive": 0.6, "orders_actual": 12,
                                         "orders_predicted": 11.5, "naive_orders": 20.0})
    assert table["mean absolute error"].tolist()[:2] == [0.4, 0.6]
    assert table["holdout orders"].tolist() == [11.5, 20.0, 12.0]


def test_plot_tracking_takeaway_by_hand() -> None:
    # last day: predicted 11, actual 10 -> 10% more
    tracking = pd.DataFrame({"day": [1, 2, 3], "actual": [2, 6, 10], "predicted": [3.0, 7.0, 11.0]})
    fig, takeaway = clv_report.plot_tracking(tracking)
    assert isinstance(fig, Figure)
    assert takeaway == ("Over the 3-day holdout the model predicted 11 repeat orders, 10% more "
                        "than the 10 that happened.")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Days since the start of the holdout" and ax.get_title()
    assert len(ax.lines) == 2


def test_plot_tracking_fewer_and_equal() -> None:
    fewer = pd.DataFrame({"day": [1, 2], "actual": [4, 8], "predicted": [2.0, 6.0]})
    assert "25% fewer than the 8" in clv_report.plot_tracking(fewer)[1]
    equal = pd.DataFrame({"day": [1], "actual": [8], "predicted": [8.01]})
    assert "about as many as the 8" in clv_report.plot_tracking(equal)[1]


def test_plot_conditional_counts_groups_where_the_model_is_closer() -> None:
    # group 0: |0.2-0.25| < |0-0.25| model closer; group 1: |0.9-0.5| > |0.6-0.5| naive closer;
    # group 2 has no customers and is not drawn
    conditional = pd.DataFrame({"frequency": ["0", "1", "2"], "customers": [10, 4, 0],
                                "actual": [0.25, 0.5, np.nan], "predicted": [0.2, 0.9, np.nan],
                                "naive": [0.0, 0.6, np.nan]})
    fig, takeaway = clv_report.plot_conditional(conditional)
    assert takeaway == "The model is closer to the actual mean than the naive rate in 1 of 2 frequency groups."
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1"]
    assert ax.get_ylabel() == "Mean orders per customer in the holdout"


def test_skip_notes_keeps_only_sentences() -> None:
    assert clv_report.skip_notes({"fit_skipped": None, "validation_skipped": None}) == []
    assert clv_report.skip_notes({"fit_skipped": "a.", "validation_skipped": "b."}) == ["a.", "b."]
