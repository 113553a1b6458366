"""Tests for helpers.clv, helpers.clv_validation and helpers.synth_btyd.

Hand-worked fixture for `btyd_inputs` (analysis date 2024-04-01; 2024 is a leap year):

======== ================================================== ==== ==== ==== ======
customer lines                                              freq rec. T    mon.
======== ================================================== ==== ==== ==== ======
A        Jan 1: 20 (10:00) + 10 (15:00, second invoice)     2    60   91   45
         = one day of 30; Feb 1: 50; Feb 10: return -5
         (ignored); Mar 1: 15 + 25 on one invoice = 40
B        Mar 15: 12.5; Apr 1 09:00: 99 (on the analysis     0    0    17   0
         date: ignored)
C        only a return, Feb 10: -15                         (absent)
D        Jan 10: 100, cancelled in full Jan 12 (-100,       1    81   82   8
         ignored); Mar 31: 8
E        Feb 5: a zero-amount line (not a purchase day);    0    0    41   0
         Feb 20: 30
======== ================================================== ==== ==== ==== ======

A: days Jan 1, Feb 1, Mar 1 -> frequency 3 - 1 = 2; recency Jan 1 -> Mar 1 = 31 + 29 = 60;
T Jan 1 -> Apr 1 = 31 + 29 + 31 = 91; monetary_value = (50 + 40) / 2 = 45 (first day left
out). D: recency Jan 10 -> Mar 31 = 21 + 29 + 31 = 81, T = 82. E: T Feb 20 -> Apr 1 =
9 + 1 + 31 = 41. B: T Mar 15 -> Apr 1 = 17.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import catalog, clv, clv_report, clv_validation, engine, rfm
from helpers.catalog import TRANSACTION_COLUMNS
from helpers.errors import UserError
from helpers.synth_btyd import simulate_btyd

AS_OF = pd.Timestamp("2024-04-01")
LINES = [
    # customer, invoice, timestamp, amount, is_return
    ("A", "1", "2024-01-01 10:00", 20.0, False),
    ("A", "2", "2024-01-01 15:00", 10.0, False),
    ("A", "3", "2024-02-01 10:00", 50.0, False),
    ("A", "C3", "2024-02-10 10:00", -5.0, True),
    ("A", "4", "2024-03-01 10:00", 15.0, False),
    ("A", "4", "2024-03-01 10:00", 25.0, False),
    ("B", "5", "2024-03-15 12:00", 12.5, False),
    ("B", "6", "2024-04-01 09:00", 99.0, False),
    ("C", "C7", "2024-02-10 15:00", -15.0, True),
    ("D", "8", "2024-01-10 11:00", 100.0, False),
    ("D", "C8", "2024-01-12 11:00", -100.0, True),
    ("D", "9", "2024-03-31 11:00", 8.0, False),
    ("E", "10", "2024-02-05 11:00", 0.0, False),
    ("E", "11", "2024-02-20 11:00", 30.0, False),
]
EXPECTED = pd.DataFrame({
    "customer_id": ["A", "B", "D", "E"],
    "frequency": [2, 0, 1, 0],
    "recency": [60.0, 0.0, 81.0, 0.0],
    "T": [91.0, 17.0, 82.0, 41.0],
    "monetary_value": [45.0, 0.0, 8.0, 0.0],
    "first_purchase": pd.to_datetime(["2024-01-01", "2024-03-15", "2024-01-10", "2024-02-20"]),
})
# The CDNOW estimates (Fader, Hardie & Lee 2005) as daily truths, and a Gamma-Gamma truth.
TRUE = {"r": 0.24, "alpha": 4.4, "a": 0.79, "b": 2.4, "p": 6.25, "q": 3.74, "v": 15.44}
MODEL = clv.BgNbd(r=0.24, alpha=4.4, a=0.79, b=2.4)
SPEND = clv.GammaGamma(p=6.0, q=4.0, v=15.0)


def write_lines(lines: list[tuple], path: Path) -> Path:
    """Write lines in the 01_clean contract (`TRANSACTION_COLUMNS`) to Parquet."""
    frame = pd.DataFrame(lines, columns=["customer_id", "invoice_id", "invoice_date", "amount",
                                         "is_return"])
    frame["invoice_date"] = pd.to_datetime(frame["invoice_date"])
    frame = frame.assign(product_id="P1", description="ITEM", country="United Kingdom",
                         quantity=np.sign(frame["amount"]), unit_price=frame["amount"].abs(),
                         is_outlier=False)
    frame.loc[:, list(TRANSACTION_COLUMNS)].to_parquet(path, index=False)
    return path


@pytest.fixture(scope="module")
def con():
    return engine.connect(engine.EngineSettings(memory_limit="1GB", threads=1))


@pytest.fixture
def transactions(tmp_path: Path) -> Path:
    return write_lines(LINES, tmp_path / "transactions.parquet")


@pytest.fixture(scope="module")
def simulated() -> tuple[pd.DataFrame, object]:
    return simulate_btyd(10_000, **TRUE, seed=11, holdout_days=180)


# ------------------------------------------------------------------------------ inputs


def test_btyd_inputs_match_the_hand_worked_fixture(con, transactions: Path) -> None:
    inputs = clv.btyd_inputs(con, transactions, AS_OF)
    assert list(inputs.columns) == list(clv.INPUT_COLUMNS)
    pd.testing.assert_frame_equal(inputs, EXPECTED, check_dtype=False)


def test_btyd_inputs_sit_beside_rfm_as_documented(con, transactions: Path) -> None:
    inputs = clv.btyd_inputs(con, transactions, AS_OF).set_index("customer_id")
    metrics = rfm.customer_metrics(con, transactions, AS_OF).set_index("customer_id")
    # A: same first and last day, so RFM recency = T - recency and tenure = T
    assert metrics.loc["A", "recency_days"] == inputs.loc["A", "T"] - inputs.loc["A", "recency"] == 31
    assert metrics.loc["A", "tenure_days"] == inputs.loc["A", "T"]
    # A has 4 RFM orders on 3 days: frequency counts repeat days here
    assert metrics.loc["A", "frequency"] == 4 and inputs.loc["A", "frequency"] == 2
    # D's cancelled Jan 10 order is dropped by RFM but is a purchase day here
    assert metrics.loc["D", "tenure_days"] == 1 and inputs.loc["D", "T"] == 82
    # C (returns only) is in RFM with frequency 0, not here
    assert metrics.loc["C", "frequency"] == 0 and "C" not in inputs.index


def test_btyd_inputs_before_any_line_are_empty(con, transactions: Path) -> None:
    assert clv.btyd_inputs(con, transactions, "2023-12-01").empty


# ------------------------------------------------------------------------------ fits


def test_fit_bgnbd_needs_a_repeat_buyer() -> None:
    one_timers = EXPECTED.assign(frequency=0, recency=0.0)
    with pytest.raises(UserError, match="no customer has a repeat purchase"):
        clv.fit_bgnbd(one_timers)


def test_fit_rejects_recency_beyond_t() -> None:
    with pytest.raises(UserError, match="column 'recency'"):
        clv.fit_bgnbd(EXPECTED.assign(recency=[100.0, 0.0, 81.0, 0.0]))


def test_gamma_gamma_needs_two_repeat_buyers() -> None:
    with pytest.raises(UserError, match="fewer than two repeat buyers"):
        clv.fit_gamma_gamma(EXPECTED.assign(frequency=[2, 0, 0, 0]))


def test_frequency_spend_correlation_uses_repeat_buyers_only() -> None:
    frame = pd.DataFrame({"frequency": [0, 1, 2, 3, 4], "monetary_value": [0.0, 40, 30, 20, 10]})
    assert clv.frequency_spend_correlation(frame) == pytest.approx(-1.0)
    assert math.isnan(clv.frequency_spend_correlation(frame.head(2)))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_parameters_are_recovered_from_simulated_customers(seed: int) -> None:
    # 50,000 customers per seed: every estimate within 15% of the truth (seeds 1-10 measured
    # within 10%: worst p -6.6%, v +9.6%, b +5.5%).
    inputs, _ = simulate_btyd(50_000, **TRUE, T_days=(200, 400), seed=seed)
    bgnbd, gg = clv.fit_bgnbd(inputs), clv.fit_gamma_gamma(inputs)
    assert bgnbd.converged and gg.converged
    fitted = {**bgnbd.params(), **gg.params()}
    errors = {name: fitted[name] / TRUE[name] - 1 for name in TRUE}
    assert all(abs(e) < 0.15 for e in errors.values()), errors


# ------------------------------------------------------------------------------ predictions


def test_p_alive_and_p_no_order_by_hand() -> None:
    inputs = pd.DataFrame({"customer_id": ["new", "lapsing"], "frequency": [0, 2],
                           "recency": [0.0, 30.0], "T": [100.0, 100.0],
                           "monetary_value": [0.0, 40.0]})
    out = clv.predict(inputs, MODEL, SPEND, churn_days=90, analysis_date=AS_OF)
    # lapsing: odds = 0.79 / 3.4 * (104.4 / 34.4) ** 2.24 = 0.232353 * 12.0226 = 2.79349
    assert out["p_alive"].tolist() == pytest.approx([1.0, 1 / (1 + 2.79349)], abs=1e-5)
    # new: p_alive 1, so p_no_order = (104.4 / 194.4) ** 0.24 = 0.86139
    assert out.loc[0, "p_no_order"] == pytest.approx(0.86139, abs=1e-5)
    # lapsing: 1 - 0.26361 + 0.26361 * (104.4 / 194.4) ** 2.24 = 0.73639 + 0.26361 * 0.24843
    assert out.loc[1, "p_no_order"] == pytest.approx(0.80188, abs=1e-4)
    assert out["churn_risk"].tolist() == ["High", "High"]
    # spend: new = 6 * 15 / 3 = 30; lapsing = 6 * (15 + 80) / (12 + 3) = 38
    assert out["expected_spend"].tolist() == pytest.approx([30.0, 38.0])
    # new: median wait 104.4 * (2 ** (1 / 0.24) - 1) = 1770.6 days; lapsing: p_alive < 0.5
    assert out.loc[0, "next_order_date"] == AS_OF + pd.Timedelta(days=1771)
    assert pd.isna(out.loc[1, "next_order_date"])


def test_prediction_invariants(simulated) -> None:
    inputs, _ = simulated
    bgnbd, gg = clv.fit_bgnbd(inputs), clv.fit_gamma_gamma(inputs)
    out = clv.predict(inputs, bgnbd, gg)
    assert list(out.columns) == list(clv.PREDICTION_COLUMNS)
    assert (out.loc[out["frequency"] == 0, "p_alive"] == 1).all()  # BG/NBD: no dropout before a repeat
    assert out["p_alive"].between(0, 1).all() and out["p_no_order"].between(0, 1).all()
    assert (out["predicted_clv"] >= 0).all() and (out["expected_orders"] >= 0).all()
    ranked = out.sort_values("p_no_order")
    assert ranked["churn_risk"].cat.codes.is_monotonic_increasing
    assert out.loc[out["p_alive"] < 0.5, "next_order_date"].isna().all()
    assert (out["next_order_date"].dropna() > inputs["first_purchase"].max()).all()
    # undiscounted CLV is spend x orders
    np.testing.assert_allclose(out["predicted_clv"], out["expected_spend"] * out["expected_orders"])


def test_discounting_by_30_day_periods(simulated) -> None:
    inputs = simulated[0].head(200)
    x, t_x, big_t = (inputs[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    out = clv.predict(inputs, MODEL, SPEND, horizon_days=45, discount_rate=0.12)
    # two periods: days 0-30 discounted by 1.12 ** (-1/12), days 30-45 by 1.12 ** (-2/12)
    cumulative = clv.expected_orders(MODEL, x, t_x, big_t, [30, 45])
    orders = cumulative[:, 0] * 1.12 ** (-1 / 12) + (cumulative[:, 1] - cumulative[:, 0]) * 1.12 ** (-2 / 12)
    np.testing.assert_allclose(out["predicted_clv"], out["expected_spend"] * orders)
    np.testing.assert_allclose(out["expected_orders"], cumulative[:, 1])
    assert (out["predicted_clv"] <= out["expected_spend"] * out["expected_orders"]).all()


def test_expected_orders_agree_with_the_simulated_holdout(simulated) -> None:
    # with the true parameters, predicted holdout orders total what the simulation drew
    inputs, truth = simulated
    x, t_x, big_t = (inputs[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    predicted = clv.expected_orders(truth.bgnbd, x, t_x, big_t, [180])[:, 0].sum()
    assert predicted == pytest.approx(len(truth.holdout_orders), rel=0.05)


def test_churn_bands_edges_belong_to_the_band_above() -> None:
    assert list(clv.churn_band(np.array([0.29, 0.3, 0.7]))) == ["Low", "Medium", "High"]


def test_spend_needs_q_above_one() -> None:
    with pytest.raises(UserError, match="q = 0.9"):
        clv.expected_spend(clv.GammaGamma(p=1.0, q=0.9, v=1.0), np.array([1.0]), np.array([5.0]))


# ------------------------------------------------------------------------------ validation


def test_validate_beats_naive_when_the_model_is_right(simulated) -> None:
    inputs, truth = simulated
    result = clv_validation.validate(inputs, truth.holdout_orders, 180)
    assert result["beats_naive"] and result["mae_model"] < result["mae_naive"]
    assert result["verdict"].startswith("The model beats the naive baseline")
    tracking = result["tracking"]
    assert tracking["day"].tolist() == list(range(1, 181))
    assert tracking["actual"].iloc[-1] == len(truth.holdout_orders) == result["orders_actual"]
    assert tracking["predicted"].iloc[-1] == pytest.approx(result["orders_predicted"])
    assert tracking["predicted"].iloc[-1] == pytest.approx(tracking["actual"].iloc[-1], rel=0.05)
    conditional = result["conditional"]
    assert conditional["frequency"].astype(str).tolist() == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert conditional["customers"].sum() == len(inputs)
    assert set(result["params"]) == set(TRUE)


def _regular_buyers(n: int, holdout_days: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Customers who never leave and buy every `gap` days like clockwork (gap 5-60)."""
    rng = np.random.default_rng(seed)
    gap = rng.integers(5, 61, n).astype(float)
    big_t = rng.integers(200, 401, n).astype(float)
    x = np.floor((big_t - 1) / gap)  # purchases at 0, gap, 2 gap, ... before T
    inputs = pd.DataFrame({"customer_id": [f"R{i}" for i in range(n)], "frequency": x.astype(int),
                           "recency": x * gap, "T": big_t, "monetary_value": 20.0,
                           "first_purchase": AS_OF - pd.to_timedelta(big_t, unit="D")})
    # holdout purchases: (x + k) * gap - T for k = 1, 2, ... while inside the holdout
    k = np.arange(1, holdout_days // 5 + 2)
    times = (x[:, None] + k[None, :]) * gap[:, None] - big_t[:, None]
    customer, step = np.nonzero(times < holdout_days)
    holdout = pd.DataFrame({"customer_id": inputs["customer_id"].to_numpy()[customer],
                            "day": times[customer, step].astype(int)})
    return inputs, holdout


def test_validate_says_plainly_when_the_naive_rate_wins() -> None:
    inputs, holdout = _regular_buyers(4000, 180)
    result = clv_validation.validate(inputs, holdout, 180)
    assert not result["beats_naive"] and result["mae_naive"] < result["mae_model"]
    assert result["verdict"].startswith("The model does not beat the naive baseline")
    assert "unvalidated" in result["verdict"]


def test_calibration_holdout_on_the_fixture(con, transactions: Path) -> None:
    # cut = Apr 1 - 31 days = Mar 1: calibration sees A (Jan 1, Feb 1), D (Jan 10), E (Feb 20)
    calibration, holdout = clv_validation.calibration_holdout(con, transactions, AS_OF, 31)
    assert calibration["customer_id"].tolist() == ["A", "D", "E"]
    assert calibration["frequency"].tolist() == [1, 0, 0]
    assert calibration["T"].tolist() == [60.0, 51.0, 10.0]  # Jan 1, Jan 10, Feb 20 -> Mar 1
    # holdout: A on Mar 1 (day 0, 40), D on Mar 31 (day 30, 8); B bought first after the cut
    assert holdout["customer_id"].tolist() == ["A", "D"]
    assert holdout["day"].tolist() == [0, 30] and holdout["spend"].tolist() == [40.0, 8.0]
    assert clv_validation.holdout_counts(calibration, holdout).tolist() == [1, 1, 0]


def test_calibration_holdout_rejects_a_holdout_before_any_purchase(con, transactions: Path) -> None:
    with pytest.raises(UserError, match="no purchase before 2023-12-03"):
        clv_validation.calibration_holdout(con, transactions, AS_OF, 120)
    with pytest.raises(UserError, match="positive number of days"):
        clv_validation.calibration_holdout(con, transactions, AS_OF, 0)


def test_validation_end_to_end_on_simulated_lines(con, tmp_path: Path) -> None:
    # lines -> Parquet -> calibration/holdout by SQL -> validate (same-day purchases merge)
    _, truth = simulate_btyd(3000, **TRUE, seed=5, holdout_days=120, lines=True,
                             analysis_date="2024-01-01")
    path = tmp_path / "lines.parquet"
    truth.lines.to_parquet(path, index=False)
    calibration, holdout = clv_validation.calibration_holdout(con, path, "2024-04-30", 120)
    assert len(calibration) == 3000 and holdout["day"].between(0, 119).all()
    result = clv_validation.validate(calibration, holdout, 120)
    assert result["beats_naive"]
    assert result["spend_actual"] == pytest.approx(holdout["spend"].sum())


# ------------------------------------------------------------------------------ simulation


def test_simulation_routes_agree() -> None:
    # closed form (counts) and event draws (every purchase) give the same mean frequency
    closed, _ = simulate_btyd(40_000, **TRUE, seed=21)
    events, truth = simulate_btyd(40_000, **TRUE, seed=22, holdout_days=30)
    assert closed["frequency"].mean() == pytest.approx(events["frequency"].mean(), rel=0.05)
    assert (events["recency"] <= events["T"]).all() and (closed["recency"] <= closed["T"]).all()
    # every holdout purchase is by a customer still alive at T
    alive = truth.customers.set_index("customer_id")["alive"]
    assert alive.loc[truth.holdout_orders["customer_id"].unique()].all()


# ------------------------------------------------------------------------------ future_value (03_rfm)

CLV_PARAMS = {"horizon_days": 365, "churn_days": 90, "holdout_days": 180, "discount_rate": 0.1}


def test_future_value_fits_predicts_and_validates(con, tmp_path: Path) -> None:
    _, truth = simulate_btyd(3000, **TRUE, seed=5, holdout_days=120, lines=True,
                             analysis_date="2024-01-01")
    path = tmp_path / "lines.parquet"
    truth.lines.to_parquet(path, index=False)
    predictions, info = clv_validation.future_value(con, path, "2024-04-30",
                                                    {**CLV_PARAMS, "holdout_days": 120})
    assert list(predictions.columns) == list(catalog.CLV_COLUMNS) and len(predictions) == 3000
    assert predictions["p_alive"].between(0, 1).all() and predictions["predicted_clv"].notna().all()
    assert info["fit_skipped"] is None and info["validation_skipped"] is None
    assert info["validation"]["beats_naive"] and info["validation"]["holdout_days"] == 120
    metrics = clv_validation.future_value_metrics(predictions, info)
    assert json.loads(json.dumps(metrics)) == metrics  # plain JSON types only
    assert set(metrics["bg_nbd"]) == {"r", "alpha", "a", "b"} and metrics["time_unit"] == "days"
    assert sum(metrics["churn_risk"].values()) == 3000
    assert metrics["validation"]["beats_naive"] is True


def test_future_value_without_repeat_buyers_writes_unknown_predictions(con, tmp_path: Path) -> None:
    lines = [(c, str(i), f"2024-0{1 + i % 3}-1{i} 10:00", 10.0 + i, False)
             for i, c in enumerate("PQRS")]
    path = write_lines(lines, tmp_path / "once.parquet")
    predictions, info = clv_validation.future_value(con, path, AS_OF, CLV_PARAMS)
    assert list(predictions.columns) == list(catalog.CLV_COLUMNS) and len(predictions) == 4
    assert predictions["p_alive"].isna().all() and predictions["predicted_clv"].isna().all()
    assert (predictions["churn_risk"] == "unknown").all()
    assert "nobody bought on two different days" in info["fit_skipped"]
    assert info["bgnbd"] is None and info["validation"] is None
    metrics = clv_validation.future_value_metrics(predictions, info)
    assert metrics["bg_nbd"] is None and metrics["validation"] is None
    assert metrics["predicted_value"] is None and metrics["churn_risk"] == {"unknown": 4}
    catalog.write({"paths": {"processed_dir": str(tmp_path)}}, "clv", predictions)  # contract holds


def test_future_value_skips_validation_on_a_short_window(con, transactions: Path) -> None:
    # the fixture spans Jan 1 -> Apr 1 = 91 days: a 180-day holdout needs 360; at most 45 fits
    predictions, info = clv_validation.future_value(con, transactions, AS_OF, CLV_PARAMS)
    assert info["validation"] is None and info["bgnbd"] is not None
    assert info["validation_skipped"] == (
        "The out-of-time check is skipped: the data spans 91 days, less than twice the 180-day "
        "holdout; fix: set clv.holdout_days to at most 45.")
    assert predictions["p_alive"].notna().all()
    assert set(predictions["churn_risk"].cat.categories) == {"Low", "Medium", "High", "unknown"}
    _, ok = clv_validation.future_value(con, transactions, AS_OF, {**CLV_PARAMS, "holdout_days": 45})
    assert ok["validation_skipped"] is None or "nobody bought twice" in ok["validation_skipped"]


# F ordered on two days and cancelled both orders in full: RFM frequency 0 ("No kept order").
FULLY_CANCELLED = [
    ("F", "12", "2024-01-05 10:00", 40.0, False),
    ("F", "C12", "2024-01-06 10:00", -40.0, True),
    ("F", "13", "2024-02-05 10:00", 40.0, False),
    ("F", "C13", "2024-02-06 10:00", -40.0, True),
]


def test_future_value_gives_no_forecast_to_customers_without_a_kept_order(con, tmp_path: Path) -> None:
    path = write_lines(LINES + FULLY_CANCELLED, tmp_path / "cancelled.parquet")
    metrics = rfm.customer_metrics(con, path, AS_OF).set_index("customer_id")
    assert metrics.loc["F", "frequency"] == 0 and metrics.loc["F", "cancelled_orders"] == 2
    without_kept_order = metrics.index[metrics["frequency"] == 0]
    assert list(without_kept_order) == ["C", "F"]  # C has only a return, so no purchase day either

    # without the list, F's two purchase days make them a repeat buyer worth a positive CLV
    everyone, plain = clv_validation.future_value(con, path, AS_OF, {**CLV_PARAMS, "holdout_days": 45})
    f_row = everyone.set_index("customer_id").loc["F"]
    assert f_row["frequency"] == 1 and f_row["p_alive"] > 0 and f_row["predicted_clv"] > 0
    assert plain["forecast_skipped"] is None

    predictions, info = clv_validation.future_value(con, path, AS_OF, {**CLV_PARAMS, "holdout_days": 45},
                                                    no_kept_order=without_kept_order)
    assert predictions["customer_id"].tolist() == ["A", "B", "D", "E"]
    assert info["forecast_skipped"].startswith(
        "1 customer whose every order was cancelled (RFM 'No kept order') gets no forecast")
    assert info["forecast_skipped"] in clv_report.skip_notes(info)
    # the fit and the other customers' forecasts are unchanged: F's days still count in the fit
    assert info["bgnbd"].params() == plain["bgnbd"].params()
    pd.testing.assert_frame_equal(predictions, everyone[everyone["customer_id"] != "F"].reset_index(drop=True))
    assert sum(clv_validation.future_value_metrics(predictions, info)["churn_risk"].values()) == 4


def test_future_value_leaves_out_customers_without_a_kept_order_when_unfitted(con, tmp_path: Path) -> None:
    lines = [("P", "1", "2024-01-10 10:00", 10.0, False), ("Q", "2", "2024-02-10 10:00", 20.0, False),
             ("Q", "C2", "2024-02-11 10:00", -20.0, True)]
    path = write_lines(lines, tmp_path / "unfitted.parquet")
    predictions, info = clv_validation.future_value(con, path, AS_OF, CLV_PARAMS, no_kept_order=["Q"])
    assert info["bgnbd"] is None and predictions["customer_id"].tolist() == ["P"]
    assert info["forecast_skipped"].startswith("1 customer whose every order was cancelled")


def test_max_holdout_days_is_half_the_window() -> None:
    frame = pd.DataFrame({"first_purchase": pd.to_datetime(["2024-01-01"])})
    assert clv_validation.max_holdout_days(frame, "2024-01-11 15:00") == 5
    assert clv_validation.max_holdout_days(frame.iloc[:0], "2024-01-11") == 0

