"""Tests for 03_rfm's modules on a hand-worked 10-customer fixture, plus property tests.

helpers.rfm (metrics, scores, segments), helpers.rfm_segment_map, helpers.rfm_movement,
helpers.rfm_report (tables and text) and helpers.rfm_plots.

Fixture (analysis date = 2024-04-01, the day after the last line):

======== ==================================================== ===== ==== ====== ==========
customer lines                                                 rec.  freq monet. segment
======== ==================================================== ===== ==== ====== ==========
A        orders Jan 1 (50), Mar 1 (50), Mar 31 (100)           1     3    200    Champions
B        one order Mar 30 (30)                                 2     1    30     Promising
C        Feb 1 (40), Mar 1 (25 + 15 on two lines)              31    2    80     Loyal
D        Jan 15 (60) fully cancelled Jan 20, Feb 15 (20)       46    1    20     Hibernating
E        only a return (-15) of an order before the data       NaN   0    -15    Lost
F        Jan 10 (25) fully cancelled Jan 12: no kept order     NaN   0    0      Lost
G        one order Dec 1 2023 (500)                            122   1    500    Lost
H        Mar 10 (20), Mar 20 (20), partial return Mar 25 (-5)  12    2    35     Loyal
I        one order Dec 1 2023 (30): ties G on R, B on M        122   1    30     Lost
J        Feb 1 (10), Mar 5 (10) cancelled Mar 6 (LIFO)         60    1    10     Hibernating
======== ==================================================== ===== ==== ====== ==========
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import catalog, engine, rfm, rfm_movement, rfm_plots, rfm_report, rfm_segment_map
from helpers.errors import UserError

matplotlib.use("Agg")

LINES = [
    # customer, invoice, timestamp, amount, is_return
    ("A", "1001", "2024-01-01 10:00", 50.0, False),
    ("A", "1002", "2024-03-01 10:00", 50.0, False),
    ("A", "1003", "2024-03-31 09:00", 100.0, False),
    ("B", "1004", "2024-03-30 12:00", 30.0, False),
    ("C", "1005", "2024-02-01 08:00", 40.0, False),
    ("C", "1006", "2024-03-01 08:00", 25.0, False),
    ("C", "1006", "2024-03-01 08:00", 15.0, False),
    ("D", "1007", "2024-01-15 11:00", 60.0, False),
    ("D", "C1007", "2024-01-20 11:00", -60.0, True),
    ("D", "1008", "2024-02-15 11:00", 20.0, False),
    ("E", "C0999", "2024-02-10 15:00", -15.0, True),
    ("F", "1009", "2024-01-10 09:00", 25.0, False),
    ("F", "C1009", "2024-01-12 09:00", -25.0, True),
    ("G", "1000", "2023-12-01 10:00", 500.0, False),
    ("H", "1010", "2024-03-10 10:00", 20.0, False),
    ("H", "1011", "2024-03-20 10:00", 20.0, False),
    ("H", "C1011", "2024-03-25 10:00", -5.0, True),
    ("I", "0998", "2023-12-01 14:00", 30.0, False),
    ("J", "1012", "2024-02-01 10:00", 10.0, False),
    ("J", "1013", "2024-03-05 10:00", 10.0, False),
    ("J", "C1013", "2024-03-06 10:00", -10.0, True),
]
IDS = list("ABCDEFGHIJ")
NAN = np.nan
AS_OF = pd.Timestamp("2024-04-01")  # the day after the last line
FACTS = {"first_date": "2023-12-01 10:00:00", "last_date": "2024-03-31 09:00:00"}  # 01_clean's, of LINES


def _write_lines(lines: list[tuple], path: Path) -> Path:
    """Write transaction lines in the 01_clean contract to a Parquet file."""
    frame = pd.DataFrame(
        lines, columns=["customer_id", "invoice_id", "invoice_date", "amount", "is_return"]
    )
    frame["invoice_date"] = pd.to_datetime(frame["invoice_date"])
    frame["product_id"] = "P1"
    frame["description"] = "ITEM"
    frame["country"] = "United Kingdom"
    frame["quantity"] = np.sign(frame["amount"])
    frame["unit_price"] = frame["amount"].abs()
    frame["is_outlier"] = False
    frame.to_parquet(path, index=False)
    return path


@pytest.fixture
def transactions(tmp_path: Path) -> Path:
    return _write_lines(LINES, tmp_path / "transactions.parquet")


@pytest.fixture(scope="module")
def con():
    return engine.connect(engine.EngineSettings(memory_limit="1GB", threads=1))


@pytest.fixture(scope="module")
def segment_map() -> pd.DataFrame:
    return rfm_segment_map.load_segment_map()


def _params(tmp_path: Path, analysis_date: str = "auto") -> dict:
    return {"paths": {"interim_dir": str(tmp_path), "processed_dir": str(tmp_path / "processed")},
            "rfm": {"analysis_date": analysis_date}}


def _by_id(frame: pd.DataFrame, column: str) -> list:
    return frame.set_index("customer_id").loc[IDS, column].tolist()


# ---------------------------------------------------------------------------- metrics


def test_analysis_date_defaults_to_day_after_last_line(con, transactions: Path, tmp_path: Path) -> None:
    assert rfm.day_after_last_line(con, transactions) == AS_OF
    # 03_rfm reads it from 01_clean's facts: the same day
    catalog.write(_params(tmp_path), "facts", FACTS)
    for setting, expected in (("auto", AS_OF), ("2024-03-02 17:30", pd.Timestamp("2024-03-02"))):
        assert catalog.analysis_date(_params(tmp_path, setting)) == expected


def test_a_file_without_dated_lines_has_no_default_analysis_date(con, tmp_path: Path) -> None:
    path = _write_lines([], tmp_path / "empty.parquet")
    with pytest.raises(UserError, match="empty.parquet: no transactions with an invoice_date"):
        rfm.day_after_last_line(con, path)


def test_analysis_date_before_all_data_is_a_user_error_with_the_range(tmp_path: Path) -> None:
    catalog.write(_params(tmp_path), "facts", FACTS)
    # The first line is 2023-12-01 10:00, so that day itself still leaves no line before it.
    for too_early in ("2000-01-01", "2023-12-01"):
        with pytest.raises(UserError) as caught:
            catalog.analysis_date(_params(tmp_path, too_early))
        message = str(caught.value)
        assert message.startswith(f"key 'rfm.analysis_date': {too_early} is not after")
        assert "the data runs from 2023-12-01 to 2024-03-31" in message
        assert "fix: set rfm.analysis_date to a date after 2023-12-01" in message
        assert "\n" not in message
    assert catalog.analysis_date(_params(tmp_path, "2023-12-02")) == pd.Timestamp("2023-12-02")


def test_metrics_at_a_cutoff_before_the_data_are_empty_not_an_error(con, transactions: Path) -> None:
    # The movement cut-off may precede the data: then every customer is new.
    assert rfm.customer_metrics(con, transactions, "2000-01-01").empty


def test_analysis_date_that_is_not_a_date_is_a_user_error(tmp_path: Path) -> None:
    catalog.write(_params(tmp_path), "facts", FACTS)
    with pytest.raises(UserError, match="rfm.analysis_date.*'last tuesday'"):
        catalog.analysis_date(_params(tmp_path, "last tuesday"))


def test_customer_metrics_match_hand_computed_values(con, transactions: Path) -> None:
    metrics = rfm.customer_metrics(con, transactions, AS_OF)
    assert metrics["customer_id"].tolist() == IDS
    assert list(metrics.columns) == list(rfm.METRIC_COLUMNS)
    expected = {
        "recency_days": [1, 2, 31, 46, NAN, NAN, 122, 12, 122, 60],
        "frequency": [3, 1, 2, 1, 0, 0, 1, 2, 1, 1],
        "monetary": [200, 30, 80, 20, -15, 0, 500, 35, 30, 10],
        "tenure_days": [91, 2, 60, 46, NAN, NAN, 122, 22, 122, 60],
        "avg_order_value": [66.67, 30, 40, 20, NAN, NAN, 500, 17.5, 30, 10],  # in cents
        "avg_days_between_orders": [45, NAN, 29, NAN, NAN, NAN, NAN, 10, NAN, NAN],
        "purchase_invoices": [3, 1, 2, 2, 0, 1, 1, 2, 1, 2],
        "cancelled_orders": [0, 0, 0, 1, 0, 1, 0, 0, 0, 1],
    }
    for column, values in expected.items():
        np.testing.assert_allclose(_by_id(metrics, column), values, err_msg=column)
    # J's cancellation removes its latest open order (Mar 5), so J last ordered Feb 1
    assert metrics.set_index("customer_id").loc["J", "last_order_date"] == pd.Timestamp(
        "2024-02-01 10:00"
    )
    assert pd.isna(metrics.set_index("customer_id").loc["F", "last_order_date"])


def test_customer_metrics_at_an_earlier_date_ignore_later_lines(con, transactions: Path) -> None:
    metrics = rfm.customer_metrics(con, transactions, "2024-03-02").set_index("customer_id")
    assert list(metrics.index) == ["A", "C", "D", "E", "F", "G", "I", "J"]  # B and H came later
    np.testing.assert_allclose(metrics["recency_days"], [1, 1, 16, NAN, NAN, 92, 92, 30])
    np.testing.assert_allclose(metrics["frequency"], [2, 2, 1, 0, 0, 1, 1, 1])
    np.testing.assert_allclose(metrics["monetary"], [100, 80, 20, -15, 0, 500, 30, 10])


def test_missing_column_is_a_user_error_naming_it(tmp_path: Path) -> None:
    # 03_rfm checks its input with the catalog before any query.
    with pytest.raises(UserError, match="run notebook 01_clean"):
        catalog.require(_params(tmp_path), "transactions")
    path = tmp_path / "transactions.parquet"
    pd.DataFrame({"customer_id": ["A"], "invoice_date": pd.to_datetime(["2024-01-01"])}).to_parquet(
        path
    )
    with pytest.raises(UserError, match="column 'invoice_id' is missing"):
        catalog.require(_params(tmp_path), "transactions")


def test_metric_summary_is_tidy_and_hand_computed(con, transactions: Path) -> None:
    table = rfm_report.metric_summary(rfm.customer_metrics(con, transactions, AS_OF))
    assert list(table.columns) == [
        "metric", "customers with a value", "min", "P20", "median", "P80", "max"
    ]
    rows = {row[0]: row[1:] for row in table.itertuples(index=False)}
    # Recency of the 8 customers with a kept order: 1 2 12 31 46 60 122 122.
    assert rows["recency (days since last order)"] == ("8", "1", "6", "38.5", "97.2", "122")
    # Frequency 0 0 1 1 1 1 1 2 2 3.
    assert rows["frequency (kept orders)"] == ("10", "0", "0.8", "1", "2", "3")
    # Monetary -15 0 10 20 30 30 35 80 200 500.
    assert rows["monetary (net revenue)"] == (
        "10", "-15.00", "8.00", "30.00", "104.00", "500.00"
    )
    assert rows["last kept order"] == ("8", "2023-12-01", "", "", "", "2024-03-31")


def test_transaction_totals_count_customers_and_net_revenue(con, transactions: Path) -> None:
    assert rfm.transaction_totals(con, transactions, AS_OF) == {
        "customers": 10,
        "net_revenue": 890.0,
        "lines": 21,
    }
    assert rfm.transaction_totals(con, transactions, "2024-03-02")["net_revenue"] == 725.0


# ----------------------------------------------------------------------------- scores


def test_quintile_scores_match_hand_computed_values(con, transactions: Path) -> None:
    scored = rfm.score_customers(rfm.customer_metrics(con, transactions, AS_OF))
    assert _by_id(scored, "r_score") == [5, 4, 3, 2, 1, 1, 1, 4, 1, 2]
    assert _by_id(scored, "f_score") == [5, 1, 4, 1, 1, 1, 1, 4, 1, 1]
    assert _by_id(scored, "m_score") == [4, 2, 4, 1, 1, 1, 5, 3, 2, 1]
    assert _by_id(scored, "rfm_score")[:2] == ["554", "412"]


def test_quartile_scores_use_four_bands(con, transactions: Path) -> None:
    scored = rfm.score_customers(rfm.customer_metrics(con, transactions, AS_OF), method="quartiles")
    assert _by_id(scored, "r_score") == [4, 4, 3, 2, 1, 1, 1, 3, 1, 2]
    description = rfm_report.describe_scoring(scored, method="quartiles")["recency"]
    assert "quartiles" in description and "score 5 is never given" in description


def test_cut_point_scores_match_hand_computed_values(con, transactions: Path) -> None:
    cuts = {"recency": [7, 30, 60, 90], "frequency": [1, 2, 3, 5], "monetary": [20, 50, 100, 300]}
    scored = rfm.score_customers(rfm.customer_metrics(con, transactions, AS_OF), method="cuts", cuts=cuts)
    assert _by_id(scored, "r_score") == [5, 5, 3, 3, 1, 1, 1, 4, 1, 3]
    assert _by_id(scored, "f_score") == [3, 1, 2, 1, 1, 1, 1, 2, 1, 1]
    assert _by_id(scored, "m_score") == [4, 2, 3, 1, 1, 1, 5, 2, 2, 1]


def test_cut_points_for_one_metric_override_ranks_for_that_metric_only(con, transactions: Path) -> None:
    metrics = rfm.customer_metrics(con, transactions, AS_OF)
    scored = rfm.score_customers(metrics, cuts={"frequency": [1, 2, 3, 5], "monetary": []})
    assert _by_id(scored, "f_score") == [3, 1, 2, 1, 1, 1, 1, 2, 1, 1]
    assert _by_id(scored, "r_score") == [5, 4, 3, 2, 1, 1, 1, 4, 1, 2]


@pytest.mark.parametrize(
    ("method", "cuts", "message"),
    [
        ("deciles", None, "rfm.scoring"),
        ("quintiles", {"frequency": [1, 2, 2, 5]}, "rfm.cuts.frequency"),
        ("quintiles", {"frequency": [1, 2, 3]}, "rfm.cuts.frequency"),
        ("quintiles", {"loyalty": [1, 2, 3, 4]}, "rfm.cuts.loyalty"),
        ("cuts", {"frequency": [1, 2, 3, 5]}, "rfm.cuts.recency"),
    ],
)
def test_bad_scoring_params_are_user_errors(
    con, transactions: Path, method: str, cuts: dict | None, message: str
) -> None:
    with pytest.raises(UserError, match=message):
        rfm.score_customers(rfm.customer_metrics(con, transactions, AS_OF), method=method, cuts=cuts)


def test_describe_scoring_states_scores_left_unused_by_ties(con, transactions: Path) -> None:
    scored = rfm.score_customers(rfm.customer_metrics(con, transactions, AS_OF))
    described = rfm_report.describe_scoring(scored)
    assert "customers per score 1-5: 5 / 0 / 0 / 2 / 1" in described["frequency"]
    assert (
        "ties are never split: 62.5% of ranked customers share frequency = 1, so scores 2, 3 unused"
        in described["frequency"]
    )
    # G and I tie: 2 of 8 is more than one band of 1.6, so the recency bands are uneven
    assert (
        "25.0% of ranked customers share recency = 122, so the bands are uneven"
        in described["recency"]
    )
    assert "25.0% of ranked customers share monetary = 30.00" in described["monetary"]
    assert "5 = most recent" in described["recency"]
    assert "2 customers without a kept order score 1" in described["monetary"]


# ---------------------------------------------------------------------------- segments


def test_shipped_segment_map_covers_the_grid_with_eleven_segments(
    segment_map: pd.DataFrame,
) -> None:
    assert len(segment_map) == 25
    assert not segment_map.duplicated(["r_score", "f_score"]).any()
    assert list(segment_map["segment"].cat.categories) == [
        "Champions",
        "Loyal",
        "Potential Loyalist",
        "New Customers",
        "Promising",
        "Need Attention",
        "About to Sleep",
        "At Risk",
        "Can't Lose Them",
        "Hibernating",
        "Lost",
    ]
    info = rfm_segment_map.segment_info(segment_map)
    assert (info["description"].str.len() > 0).all() and (info["action"].str.len() > 0).all()


def _edited_map(
    tmp_path: Path, drop_segment: str | None = None, extra_row: str | None = None
) -> Path:
    lines = rfm_segment_map.DEFAULT_SEGMENT_MAP.read_text(encoding="utf-8").splitlines()
    if drop_segment:
        lines = [line for line in lines if f",{drop_segment}," not in line]
    if extra_row:
        lines.append(extra_row)
    path = tmp_path / "my_map.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_segment_map_with_a_pair_mapped_twice_is_rejected(tmp_path: Path) -> None:
    path = _edited_map(tmp_path, extra_row="4-5,5,VIP,,")
    with pytest.raises(UserError, match=r"my_map\.csv: score pair \(R=4, F=5\) is mapped twice"):
        rfm_segment_map.load_segment_map(path)


def test_segment_map_with_an_unmapped_pair_is_rejected(tmp_path: Path) -> None:
    path = _edited_map(tmp_path, drop_segment="Lost")
    with pytest.raises(UserError) as caught:
        rfm_segment_map.load_segment_map(path)
    assert "my_map.csv: score pairs (R=1, F=1), (R=1, F=2) are not mapped to a segment" in str(
        caught.value
    )
    assert str(caught.value).endswith("that covers them")


def test_segment_map_with_a_bad_score_cell_is_rejected(tmp_path: Path) -> None:
    path = _edited_map(tmp_path, extra_row="6,1,Ghosts,,")
    with pytest.raises(UserError, match="line 13, column 'r_score': '6'"):
        rfm_segment_map.load_segment_map(path)


def test_segments_match_hand_computed_values(con, transactions: Path, segment_map: pd.DataFrame) -> None:
    segmented = rfm.rfm_segments(con, transactions, segment_map, AS_OF)
    assert list(segmented.columns) == list(rfm.RFM_COLUMNS)
    assert _by_id(segmented, "segment") == [
        "Champions",
        "Promising",
        "Loyal",
        "Hibernating",
        "Lost",
        "Lost",
        "Lost",
        "Loyal",
        "Lost",
        "Hibernating",
    ]
    rfm.check_rfm(segmented)


def test_check_rfm_rejects_a_duplicate_customer(
    con, transactions: Path, segment_map: pd.DataFrame
) -> None:
    segmented = rfm.rfm_segments(con, transactions, segment_map, AS_OF)
    with pytest.raises(UserError, match="column 'customer_id'"):
        rfm.check_rfm(pd.concat([segmented, segmented.head(1)]))


def test_segment_summary_reconciles_and_keeps_empty_segments(
    con, transactions: Path, segment_map: pd.DataFrame
) -> None:
    summary = rfm.segment_summary(rfm.rfm_segments(con, transactions, segment_map, AS_OF), segment_map)
    assert len(summary) == 11
    assert summary.loc["Lost", "customers"] == 4
    assert summary.loc["Lost", "revenue"] == 515.0  # E -15, F 0, G 500, I 30
    assert summary.loc["Lost", "median_recency_days"] == 122.0  # E and F have no recency
    assert summary.loc["Loyal", "revenue_share"] == pytest.approx(115 / 890)
    assert summary.loc["Loyal", "mean_m"] == 3.5  # C 4, H 3
    assert summary.loc["New Customers", "customers"] == 0
    assert summary["customers"].sum() == 10
    assert summary["revenue"].sum() == pytest.approx(890.0)
    assert summary["customer_share"].sum() == pytest.approx(1.0)
    assert summary.loc["Champions", "action"].startswith("Reward them")


def test_segment_tables_split_numbers_from_actions(
    con, transactions: Path, segment_map: pd.DataFrame
) -> None:
    summary = rfm.segment_summary(rfm.rfm_segments(con, transactions, segment_map, AS_OF), segment_map)
    numbers = rfm_report.segment_table(summary)
    assert list(numbers.columns) == ["segment", *rfm_report.SEGMENT_TABLE_FORMATS]
    lost = numbers.set_index("segment").loc["Lost"]
    assert lost["customers"] == 4 and lost["net revenue"] == 515.0
    assert "description" not in numbers.columns and "action" not in numbers.columns
    actions = rfm_report.segment_actions(summary)
    assert list(actions.columns) == ["segment", "customers", "description", "suggested action"]
    assert actions["segment"].tolist() == list(segment_map["segment"].cat.categories)
    assert actions.iloc[0]["suggested action"].startswith("Reward them")


def test_notes_are_escaped_html_list_items() -> None:
    notes = rfm_report.notes_html({"monetary": "<b>bold</b> & more"})
    assert notes == "<ul><li><b>monetary</b>: &lt;b&gt;bold&lt;/b&gt; &amp; more</li></ul>"


def test_rf_grid_counts_and_sums_revenue(con, transactions: Path, segment_map: pd.DataFrame) -> None:
    segmented = rfm.rfm_segments(con, transactions, segment_map, AS_OF)
    counts = rfm.rf_grid(segmented)
    revenue = rfm.rf_grid(segmented, "revenue")
    assert list(counts.index) == [5, 4, 3, 2, 1] and list(counts.columns) == [1, 2, 3, 4, 5]
    assert counts.loc[1, 1] == 4 and counts.loc[4, 4] == 1 and counts.to_numpy().sum() == 10
    assert revenue.loc[1, 1] == 515.0 and revenue.loc[2, 1] == 30.0


# ---------------------------------------------------------------------------- movement


def test_movement_matrix_and_biggest_flows(con, transactions: Path, segment_map: pd.DataFrame) -> None:
    now = rfm.rfm_segments(con, transactions, segment_map, AS_OF).set_index("customer_id")["segment"]
    then = rfm.rfm_segments(con, transactions, segment_map, "2024-03-02").set_index("customer_id")[
        "segment"
    ]
    assert then.loc[["A", "C", "D", "J", "G", "E"]].tolist() == [
        "Loyal",
        "Loyal",
        "About to Sleep",
        "Hibernating",
        "Lost",
        "Lost",
    ]
    counts = rfm_movement.segment_movement(then, now)
    assert counts.index[-1] == rfm_movement.NEW_ORIGIN and rfm_movement.GONE_DESTINATION not in counts.columns
    nonzero = {(r, c): v for (r, c), v in counts.stack().items() if v}
    assert nonzero == {
        ("Loyal", "Champions"): 1,
        ("Loyal", "Loyal"): 1,
        ("About to Sleep", "Hibernating"): 1,
        ("Hibernating", "Hibernating"): 1,
        ("Lost", "Lost"): 4,
        ("(new)", "Loyal"): 1,
        ("(new)", "Promising"): 1,
    }
    assert rfm_movement.movement_shares(counts).loc["Loyal", "Champions"] == 0.5
    flows = rfm_report.biggest_flows(counts, n=3)
    assert flows["sentence"].tolist() == [
        "1 customer moved from About to Sleep to Hibernating (100% of About to Sleep at the cut-off).",
        "1 customer moved from Loyal to Champions (50% of Loyal at the cut-off).",
        "1 customer new since the cut-off now in Loyal (50% of new customers).",
    ]


def test_small_shares_of_a_movement_row_never_read_zero_percent() -> None:
    segments = pd.CategoricalDtype(["Loyal", "Lost"])
    ids = [f"c{i}" for i in range(300)]
    then = pd.Series(["Loyal"] * 300, index=ids, dtype=segments)
    now = pd.Series(["Loyal"] * 299 + ["Lost"], index=ids, dtype=segments)
    counts = rfm_movement.segment_movement(then, now)
    flows = rfm_report.biggest_flows(counts)
    assert flows["sentence"].tolist() == [
        "1 customer moved from Loyal to Lost (<1% of Loyal at the cut-off)."
    ]
    texts = [t.get_text() for t in rfm_plots.plot_movement(counts).axes[0].texts]
    assert "1\n<1%" in texts and "299\n>99%" in texts


def test_movement_cutoff_counts_back_whole_days() -> None:
    assert rfm_movement.movement_cutoff(pd.Timestamp("2024-04-01"), 30) == pd.Timestamp("2024-03-02")
    with pytest.raises(UserError, match="rfm.movement_days"):
        rfm_movement.movement_cutoff(pd.Timestamp("2024-04-01"), 0)


def test_movement_marks_customers_missing_now_as_gone() -> None:
    segments = pd.CategoricalDtype(["Loyal", "Lost"])
    then = pd.Series(["Loyal", "Lost"], index=["a", "b"], dtype=segments)
    now = pd.Series(["Lost", "Loyal"], index=["a", "c"], dtype=segments)
    counts = rfm_movement.segment_movement(then, now)
    assert counts.loc["Loyal", "Lost"] == 1
    assert counts.loc["Lost", rfm_movement.GONE_DESTINATION] == 1
    assert counts.loc[rfm_movement.NEW_ORIGIN, "Loyal"] == 1


# ------------------------------------------------------------------------------- plots


def test_plots_label_cells_with_data_and_escape_dollar_signs(
    con, transactions: Path, segment_map: pd.DataFrame
) -> None:
    import matplotlib.pyplot as plt

    segmented = rfm.rfm_segments(con, transactions, segment_map, AS_OF)
    grid_fig = rfm_plots.plot_rf_grid(segmented, segment_map)
    texts = [t.get_text() for t in grid_fig.axes[0].texts]
    assert "4\nLost" in texts and "1\nChampions" in texts
    # Colour bars speak like the cells: thousands separators and k/m, no 1e6 offset.
    customers_bar, revenue_bar = (ax.collections[0].colorbar for ax in grid_fig.axes[:2])
    assert customers_bar.formatter(1500, 0) == "1,500"
    assert revenue_bar.formatter(3_900_000, 0) == "3.9m"
    assert revenue_bar.formatter(500_000, 0) == "500k"
    # With at most 4 customers in a cell, the customer ticks are still whole numbers.
    assert all(float(tick).is_integer() for tick in customers_bar.get_ticks())
    summary = rfm.segment_summary(segmented, segment_map).rename(index={"Lost": "Lost $$"})
    bars_fig = rfm_plots.plot_segment_sizes(summary)
    assert r"Lost \$\$" in [t.get_text() for t in bars_fig.axes[0].get_yticklabels()]
    plt.close("all")


# ---------------------------------------------------------------------------- properties

SHIPPED_MAP = rfm_segment_map.load_segment_map()
_CUTS = {"recency": [5, 10, 20, 40], "frequency": [1, 2, 3, 5], "monetary": [0, 10, 50, 100]}


@st.composite
def customer_tables(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(1, 40))
    frequency = draw(st.lists(st.integers(0, 6), min_size=n, max_size=n))
    recency = draw(st.lists(st.integers(1, 60), min_size=n, max_size=n))
    monetary = draw(
        st.lists(
            st.sampled_from([-20.0, 0.0, 5.0, 10.0, 12.5, 80.0, 400.0]), min_size=n, max_size=n
        )
    )
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "recency_days": [
                float(r) if f > 0 else np.nan for r, f in zip(recency, frequency, strict=True)
            ],
            "frequency": frequency,
            "monetary": monetary,
        }
    )


@settings(max_examples=100, deadline=None)
@given(customers=customer_tables(), method=st.sampled_from(["quintiles", "quartiles", "cuts"]))
def test_every_customer_gets_one_segment_and_recency_order_is_kept(
    customers: pd.DataFrame, method: str
) -> None:
    segment_map = SHIPPED_MAP
    scored = rfm.score_customers(customers, method=method, cuts=_CUTS if method == "cuts" else None)
    segmented = rfm.assign_segments(scored, segment_map)
    assert len(segmented) == len(customers) and segmented["customer_id"].is_unique
    assert segmented["segment"].notna().all()
    assert segmented["segment"].isin(segment_map["segment"].cat.categories).all()
    for column in ("r_score", "f_score", "m_score"):
        assert segmented[column].between(1, 5).all()
    active = segmented[segmented["frequency"] > 0].sort_values("recency_days")
    # more recent (fewer days) never scores lower; equal recency scores equal
    assert (np.diff(active["r_score"].to_numpy()) <= 0).all()
    assert (active.groupby("recency_days")["r_score"].nunique() == 1).all()
    assert (
        (segmented.loc[segmented["frequency"] == 0, ["r_score", "f_score", "m_score"]] == 1)
        .all()
        .all()
    )
    summary = rfm.segment_summary(segmented, segment_map)
    assert summary["customers"].sum() == len(customers)
    assert summary["revenue"].sum() == pytest.approx(customers["monetary"].sum())


def _reference_orders(invoices: list[tuple[str, int, float, bool]]) -> tuple[int, int | None]:
    """Kept orders and the day of the last kept order, by an explicit LIFO stack per total."""
    ordered = sorted(invoices, key=lambda inv: (inv[1], inv[3], inv[0]))  # purchases first on ties
    open_orders: dict[float, list[str]] = {}
    cancelled: set[str] = set()
    for invoice_id, _day, total, is_cancellation in ordered:
        if not is_cancellation:
            open_orders.setdefault(total, []).append(invoice_id)
        elif open_orders.get(-total):
            cancelled.add(open_orders[-total].pop())
    kept = [inv for inv in invoices if not inv[3] and inv[0] not in cancelled]
    return len(kept), max((inv[1] for inv in kept), default=None)


invoice_lists = st.lists(
    st.tuples(
        st.integers(1, 6), st.sampled_from([5.0, 7.25, 10.0]), st.booleans(), st.integers(1, 2)
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(customers=st.lists(invoice_lists, min_size=1, max_size=4))
def test_cancellation_matching_agrees_with_a_stack_and_revenue_reconciles(
    con, customers: list[list[tuple[int, float, bool, int]]],
) -> None:
    lines, expected = [], {}
    for c, invoices in enumerate(customers):
        refs = []
        for k, (day, total, is_cancellation, n_lines) in enumerate(invoices):
            invoice_id = f"{'C' if is_cancellation else ''}{c}-{k:02d}"
            sign = -1.0 if is_cancellation else 1.0
            timestamp = f"2024-01-{day:02d} 10:00"
            for _ in range(n_lines):
                lines.append(
                    (f"cust{c}", invoice_id, timestamp, sign * total / n_lines, is_cancellation)
                )
            refs.append((invoice_id, day, sign * total, is_cancellation))
        expected[f"cust{c}"] = _reference_orders(refs)
    with tempfile.TemporaryDirectory() as folder:
        path = _write_lines(lines, Path(folder) / "t.parquet")
        metrics = rfm.customer_metrics(con, path, "2024-02-01")
    segmented = rfm.assign_segments(rfm.score_customers(metrics), SHIPPED_MAP)
    metrics = metrics.set_index("customer_id")
    assert sorted(metrics.index) == sorted(expected)
    for customer, (frequency, last_day) in expected.items():
        assert metrics.loc[customer, "frequency"] == frequency
        recency = metrics.loc[customer, "recency_days"]
        assert np.isnan(recency) if last_day is None else recency == 32 - last_day
    assert metrics["monetary"].sum() == pytest.approx(sum(line[3] for line in lines))
    assert segmented["customer_id"].is_unique and segmented["segment"].notna().all()


def test_money_columns_are_rounded_to_cents_half_away_from_zero(con, tmp_path: Path) -> None:
    # K: 0.1 + 0.2 is 0.30000000000000004 in floating point, stored as 0.3. L: 2.675 is an
    # exact half cent (stored as 2.67499999999999982, which Python's round takes to 2.67):
    # 2.68, away from zero, as is M's -1.005 (-1.01). N: 10.00 over 3 orders averages 3.33.
    lines = [
        ("K", "1", "2024-01-02 10:00", 0.1, False),
        ("K", "1", "2024-01-02 10:00", 0.2, False),
        ("L", "2", "2024-01-03 10:00", 2.675, False),
        ("M", "C4", "2024-01-05 10:00", -1.005, True),
        ("N", "5", "2024-01-06 10:00", 3.0, False),
        ("N", "6", "2024-01-07 10:00", 3.0, False),
        ("N", "7", "2024-01-08 10:00", 4.0, False),
    ]
    metrics = rfm.customer_metrics(con, _write_lines(lines, tmp_path / "t.parquet"), "2024-01-09")
    metrics = metrics.set_index("customer_id")
    assert metrics["monetary"].tolist() == [0.3, 2.68, -1.01, 10.0]
    assert metrics.loc[["K", "L", "N"], "avg_order_value"].tolist() == [0.3, 2.68, 3.33]
