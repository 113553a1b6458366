"""Out-of-time validation of the BTYD models: fit on the past, score on the held-out months.

The last ``holdout_days`` before the analysis date are held out. The models are fitted on
the customers who bought before the cut (the *calibration* period, `helpers.clv.btyd_inputs`
as of the cut) and asked how many orders each will place in the holdout; those predictions
are compared with what the customers did:

- ``tracking``: cumulative repeat orders per holdout day, actual and predicted (the classic
  BTYD tracking plot, here for the calibration customers only);
- ``conditional``: mean actual and predicted holdout orders by calibration frequency 0..7+;
- ``mae_model`` vs ``mae_naive``: the mean absolute error per customer of the model and of
  the naive baseline that carries each customer's calibration repeat rate (frequency / T)
  forward over the holdout. The model earns its complexity only if it beats the baseline,
  and ``verdict`` says plainly when it does not.

Orders are purchase days, as in `helpers.clv`: a customer's holdout orders are the days in
[cut, analysis date) on which they had a positive purchase spend.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from helpers.clv import (
    CHURN_BANDS,
    PREDICTION_COLUMNS,
    BgNbd,
    GammaGamma,
    btyd_inputs,
    expected_if_alive,
    expected_orders,
    expected_spend,
    fit_bgnbd,
    fit_gamma_gamma,
    frequency_spend_correlation,
    p_alive,
    predict,
    purchase_days,
)
from helpers.clv_sql import PURCHASE_DAYS_CTE
from helpers.errors import UserError
from helpers.matching import is_in

HOLDOUT_COLUMNS: tuple[str, ...] = ("customer_id", "day", "purchase_date", "spend")
FREQUENCY_BUCKETS = 7  # conditional table: calibration frequency 0, 1, ..., 6, "7+"

_HOLDOUT_SQL = "WITH " + PURCHASE_DAYS_CTE + """,
calibration AS (SELECT DISTINCT customer_id FROM days WHERE day < $cut::DATE)
SELECT customer_id,
       date_diff('day', $cut::DATE, day)::BIGINT AS day,
       day AS purchase_date,
       spend::DOUBLE AS spend
FROM days
WHERE day >= $cut::DATE AND customer_id IN (SELECT customer_id FROM calibration)
ORDER BY customer_id, day
"""


def calibration_holdout(
    con: duckdb.DuckDBPyConnection,
    transactions: str | Path,
    analysis_date: pd.Timestamp | str,
    holdout_days: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split the lines at ``analysis_date - holdout_days`` into calibration and holdout.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        From `helpers.engine.connect`.
    transactions : str or Path
        Cleaned lines (01_clean's contract).
    analysis_date : Timestamp or str
        End of the holdout (lines before it count).
    holdout_days : int
        Length of the holdout; the cut is ``analysis_date - holdout_days`` (midnight).

    Returns
    -------
    calibration_inputs : pandas.DataFrame
        `helpers.clv.btyd_inputs` as of the cut.
    holdout_orders : pandas.DataFrame
        One row per holdout purchase day of a calibration customer (`HOLDOUT_COLUMNS`):
        ``day`` counts days since the cut (0 .. holdout_days - 1), ``spend`` is that day's
        purchase spend. A customer's holdout orders are their number of rows
        (`holdout_counts`); the daily totals give the tracking curve.

    Raises
    ------
    UserError
        ``holdout_days`` is not positive, or no customer bought before the cut.
    """
    if holdout_days <= 0:
        raise UserError(f"holdout of {holdout_days} days; fix: give a positive number of days")
    as_of = pd.Timestamp(analysis_date).normalize()
    cut = as_of - pd.Timedelta(days=int(holdout_days))
    calibration = btyd_inputs(con, transactions, cut)
    if calibration.empty:
        raise UserError(f"{transactions}: no purchase before {cut:%Y-%m-%d}, the start of a "
                        f"{holdout_days}-day holdout; fix: use a shorter holdout")
    purchase_days(con, transactions, as_of)
    holdout = con.execute(_HOLDOUT_SQL, {"cut": cut.to_pydatetime(), "analysis_date": as_of.to_pydatetime()}).df()
    holdout["purchase_date"] = pd.to_datetime(holdout["purchase_date"])
    return calibration, holdout.loc[:, list(HOLDOUT_COLUMNS)].reset_index(drop=True)


def holdout_counts(calibration_inputs: pd.DataFrame, holdout_orders: pd.DataFrame) -> np.ndarray:
    """Return each calibration customer's number of holdout orders, in the inputs' order.

    >>> calibration = pd.DataFrame({"customer_id": ["A", "B", "C"]})
    >>> holdout_counts(calibration, pd.DataFrame({"customer_id": ["C", "A", "C", "Z"]})).tolist()
    [1, 0, 2]
    """
    counts = holdout_orders["customer_id"].value_counts()
    return counts.reindex(calibration_inputs["customer_id"]).fillna(0).to_numpy(dtype="int64")


def _tracking(model: BgNbd, calibration_inputs: pd.DataFrame, holdout_orders: pd.DataFrame,
              holdout_days: int) -> pd.DataFrame:
    """Return cumulative actual and predicted repeat orders at the end of each holdout day.

    Predictions are summed per distinct (frequency, T), weighted by the customers' P(alive),
    so the cost is days x distinct pairs, not days x customers.
    """
    x = calibration_inputs["frequency"].to_numpy(dtype=float)
    t_x = calibration_inputs["recency"].to_numpy(dtype=float)
    big_t = calibration_inputs["T"].to_numpy(dtype=float)
    inverse, pairs = pd.factorize(x + 1j * big_t)
    weights = np.bincount(inverse, weights=p_alive(model, x, t_x, big_t), minlength=len(pairs))
    days = np.arange(1, holdout_days + 1)
    predicted = [weights @ expected_if_alive(model, pairs.real, pairs.imag, float(d)) for d in days]
    known = is_in(holdout_orders["customer_id"], calibration_inputs["customer_id"])
    day = holdout_orders.loc[known, "day"].to_numpy(dtype="int64")
    day = day[(day >= 0) & (day < holdout_days)]
    actual = np.bincount(day, minlength=holdout_days).cumsum()
    return pd.DataFrame({"day": days, "actual": actual, "predicted": np.asarray(predicted)})


def _conditional(x: np.ndarray, actual: np.ndarray, predicted: np.ndarray,
                 naive: np.ndarray) -> pd.DataFrame:
    """Return mean actual, predicted and naive holdout orders by calibration frequency."""
    bucket = np.minimum(x, FREQUENCY_BUCKETS).astype(int)
    labels = [str(k) for k in range(FREQUENCY_BUCKETS)] + [f"{FREQUENCY_BUCKETS}+"]
    frame = pd.DataFrame({"frequency": pd.Categorical.from_codes(bucket, labels, ordered=True),
                          "actual": actual, "predicted": predicted, "naive": naive})
    table = frame.groupby("frequency", observed=False).agg(
        customers=("actual", "size"), actual=("actual", "mean"),
        predicted=("predicted", "mean"), naive=("naive", "mean"))
    return table.reset_index()


def verdict_sentence(mae_model: float, mae_naive: float, holdout_days: int) -> str:
    """Return the one-sentence verdict of the model against the naive baseline.

    >>> verdict_sentence(0.5, 0.4, 90)[:62]
    'The model does not beat the naive baseline over the 90-day hol'
    """
    errors = f"mean absolute error {mae_model:.2f} vs {mae_naive:.2f} orders per customer"
    if mae_model < mae_naive:
        return (f"The model beats the naive baseline over the {holdout_days}-day holdout "
                f"({errors} for carrying each customer's past repeat rate forward), so its "
                f"P(alive), churn risk and CLV can be used to rank customers.")
    return (f"The model does not beat the naive baseline over the {holdout_days}-day holdout "
            f"({errors} for carrying each customer's past repeat rate forward), so treat its "
            f"P(alive), churn risk and CLV as unvalidated for this data.")


def _spend_totals(calibration_inputs, holdout_orders, predicted) -> tuple[Any, float, float]:
    """Fit Gamma-Gamma if possible; return it with actual and predicted holdout spend."""
    known = is_in(holdout_orders["customer_id"], calibration_inputs["customer_id"])
    actual = float(holdout_orders.loc[known, "spend"].sum()) if "spend" in holdout_orders else math.nan
    try:
        gg = fit_gamma_gamma(calibration_inputs)
        per_order = expected_spend(gg, calibration_inputs["frequency"].to_numpy(dtype=float),
                                   calibration_inputs["monetary_value"].to_numpy(dtype=float))
    except UserError:  # too few repeat buyers, or q <= 1: orders are still validated
        return None, actual, math.nan
    return gg, actual, float(per_order @ predicted)


def validate(calibration_inputs: pd.DataFrame, holdout_orders: pd.DataFrame,
             holdout_days: int) -> dict[str, Any]:
    """Fit on the calibration period and score the holdout predictions against the naive rate.

    Parameters
    ----------
    calibration_inputs, holdout_orders : pandas.DataFrame
        From `calibration_holdout` (holdout_orders needs customer_id and day; spend is used
        when present).
    holdout_days : int
        Length of the holdout.

    Returns
    -------
    dict
        ``bgnbd``, ``gamma_gamma`` (None when it cannot be fitted) and ``params`` (all seven
        fitted values); ``tracking`` (day, cumulative actual and predicted repeat orders);
        ``conditional`` (frequency 0..7+, customers, mean actual, predicted and naive
        holdout orders); ``mae_model``, ``mae_naive``, ``beats_naive`` (model MAE strictly
        lower); ``orders_actual``, ``orders_predicted``, ``naive_orders``, ``spend_actual``,
        ``spend_predicted`` (holdout totals); ``customers``, ``holdout_days``; ``verdict``.
    """
    bgnbd = fit_bgnbd(calibration_inputs)
    x = calibration_inputs["frequency"].to_numpy(dtype=float)
    t_x = calibration_inputs["recency"].to_numpy(dtype=float)
    big_t = calibration_inputs["T"].to_numpy(dtype=float)
    actual = holdout_counts(calibration_inputs, holdout_orders)
    predicted = expected_orders(bgnbd, x, t_x, big_t, [holdout_days])[:, 0]
    naive = np.divide(x, big_t, out=np.zeros_like(x), where=big_t > 0) * holdout_days
    mae_model = float(np.mean(np.abs(actual - predicted)))
    mae_naive = float(np.mean(np.abs(actual - naive)))
    gg, spend_actual, spend_predicted = _spend_totals(calibration_inputs, holdout_orders, predicted)
    return {
        "bgnbd": bgnbd, "gamma_gamma": gg,
        "params": {**bgnbd.params(), **(gg.params() if gg else {})},
        "tracking": _tracking(bgnbd, calibration_inputs, holdout_orders, holdout_days),
        "conditional": _conditional(x, actual, predicted, naive),
        "mae_model": mae_model, "mae_naive": mae_naive, "beats_naive": mae_model < mae_naive,
        "orders_actual": int(actual.sum()), "orders_predicted": float(predicted.sum()),
        "naive_orders": float(naive.sum()),
        "spend_actual": spend_actual, "spend_predicted": spend_predicted,
        "customers": len(x), "holdout_days": int(holdout_days),
        "verdict": verdict_sentence(mae_model, mae_naive, holdout_days),
    }


# --------------------------------------------------------------------------------------
# The step's decision: fit, predict and validate, or skip with a reason (03_rfm)
# --------------------------------------------------------------------------------------
# Kept here rather than in helpers.clv, which is near the ~600-line mark; this is the only
# place that needs both the fit of helpers.clv and the validation above.

UNKNOWN_RISK = "unknown"  # churn_risk when the models could not be fitted


def unfitted_predictions(inputs: pd.DataFrame) -> pd.DataFrame:
    """Return `PREDICTION_COLUMNS` with NaN predictions and churn_risk "unknown".

    Written when BG/NBD cannot be fitted, so later steps see every customer and know that
    no prediction was made.

    >>> frame = pd.DataFrame({"customer_id": ["A"], "frequency": [0], "recency": [0.0], "T": [9.0]})
    >>> row = unfitted_predictions(frame).iloc[0]
    >>> bool(np.isnan(row["p_alive"])), row["churn_risk"]
    (True, 'unknown')
    """
    n = len(inputs)
    labels = [label for _, label in CHURN_BANDS]
    frame = pd.DataFrame({c: inputs[c].to_numpy() for c in ("customer_id", "frequency", "recency", "T")})
    for column in ("p_alive", "expected_orders", "expected_spend", "predicted_clv", "p_no_order"):
        frame[column] = np.full(n, np.nan)
    frame["next_order_date"] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    frame["churn_risk"] = pd.Categorical([UNKNOWN_RISK] * n, categories=[*labels, UNKNOWN_RISK],
                                         ordered=True)
    return frame.loc[:, list(PREDICTION_COLUMNS)]


def _with_unknown(predictions: pd.DataFrame) -> pd.DataFrame:
    """Give churn_risk the "unknown" category too, so fitted and unfitted files share a type."""
    risk = predictions["churn_risk"].cat.add_categories([UNKNOWN_RISK])
    return predictions.assign(churn_risk=risk)


def _fit_and_predict(inputs: pd.DataFrame, analysis_date: pd.Timestamp,
                     clv_params: Mapping[str, Any]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Fit both models on all customers and predict; spend columns are NaN without Gamma-Gamma."""
    bgnbd = fit_bgnbd(inputs)
    info: dict[str, Any] = {"bgnbd": bgnbd, "gamma_gamma": None, "spend_skipped": None}
    try:
        gg = fit_gamma_gamma(inputs)
        expected_spend(gg, np.zeros(1), np.zeros(1))  # raises when q <= 1
    except UserError as error:
        gg, info["spend_skipped"] = None, (f"Spend is not predicted: {error}")
    predictions = predict(inputs, bgnbd, gg or GammaGamma(p=1.0, q=2.0, v=1.0),
                          horizon_days=clv_params["horizon_days"],
                          churn_days=clv_params["churn_days"],
                          discount_rate=clv_params["discount_rate"], analysis_date=analysis_date)
    if gg is None:
        predictions[["expected_spend", "predicted_clv"]] = np.nan
    info["gamma_gamma"] = gg
    return _with_unknown(predictions), info


def max_holdout_days(inputs: pd.DataFrame, analysis_date: pd.Timestamp | str) -> int:
    """Return the longest holdout the data allows: half the days from the first purchase.

    >>> frame = pd.DataFrame({"first_purchase": pd.to_datetime(["2024-01-01", "2024-02-01"])})
    >>> max_holdout_days(frame, "2024-03-01")
    30
    """
    return max(_window_days(inputs, analysis_date) // 2, 0)


def _window_days(inputs: pd.DataFrame, analysis_date: Any) -> int:
    """Days from the first purchase of any customer to the analysis date (0 without customers)."""
    if inputs.empty:
        return 0
    return int((pd.Timestamp(analysis_date).normalize() - inputs["first_purchase"].min()).days)


def _validation(con, transactions, analysis_date, inputs, holdout_days: int) -> tuple[Any, str | None]:
    """Run the out-of-time check, or return the sentence saying why it was skipped."""
    longest = max_holdout_days(inputs, analysis_date)
    if holdout_days > longest:
        return None, (f"The out-of-time check is skipped: the data spans {_window_days(inputs, analysis_date)} days, less "
                      f"than twice the {holdout_days}-day holdout; fix: set clv.holdout_days "
                      f"to at most {longest}.")
    calibration, holdout = calibration_holdout(con, transactions, analysis_date, holdout_days)
    if not (calibration["frequency"] > 0).any():
        return None, ("The out-of-time check is skipped: nobody bought twice before the start of "
                      f"the {holdout_days}-day holdout; fix: set clv.holdout_days lower.")
    return validate(calibration, holdout, holdout_days), None


def future_value(
    con: duckdb.DuckDBPyConnection,
    transactions: str | Path,
    analysis_date: pd.Timestamp | str,
    clv_params: Mapping[str, Any],
    no_kept_order: Iterable[Any] = (),
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Fit, predict and validate the BTYD models for 03_rfm, skipping what the data cannot support.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
    transactions : str or Path
        Cleaned lines (01_clean's contract).
    analysis_date : Timestamp or str
    clv_params : mapping
        The ``clv`` section of the params: horizon_days, churn_days, holdout_days,
        discount_rate.
    no_kept_order : iterable, optional
        Ids of the customers whose every order was cancelled (RFM frequency 0,
        `helpers.rfm.customer_metrics`). Their purchase days still count in the fit, as
        for everyone (`helpers.clv`), but they get no forecast: with no order kept there is
        no revenue to project (BG/NBD would forecast orders for them, and call those with
        one purchase day alive for certain).

    Returns
    -------
    predictions : pandas.DataFrame
        `PREDICTION_COLUMNS` for every customer with a purchase day but those in
        `no_kept_order`; NaN predictions and churn_risk "unknown" when BG/NBD cannot be
        fitted (nobody bought twice).
    fit_info : dict
        ``inputs``; ``bgnbd`` and ``gamma_gamma`` (None when not fitted);
        ``frequency_spend_correlation``; ``fit_skipped``, ``spend_skipped`` and
        ``forecast_skipped`` (a sentence or None); ``validation`` (`validate`'s dict or
        None) and ``validation_skipped`` (a sentence or None); ``max_holdout_days``.
    """
    inputs = btyd_inputs(con, transactions, analysis_date)
    info: dict[str, Any] = {
        "inputs": inputs, "bgnbd": None, "gamma_gamma": None, "spend_skipped": None,
        "frequency_spend_correlation": frequency_spend_correlation(inputs),
        "fit_skipped": None, "validation": None, "validation_skipped": None,
        "max_holdout_days": max_holdout_days(inputs, analysis_date),
    }
    if not (inputs["frequency"] > 0).any():
        info["fit_skipped"] = ("Future value is not predicted: nobody bought on two different "
                               "days, so BG/NBD cannot estimate how customers drop out; fix: "
                               "use a longer period of transactions.")
        info["validation_skipped"] = "The out-of-time check is skipped as well."
        predictions = unfitted_predictions(inputs)
    else:
        predictions, fitted = _fit_and_predict(inputs, pd.Timestamp(analysis_date), clv_params)
        info.update(fitted)
        info["validation"], info["validation_skipped"] = _validation(
            con, transactions, analysis_date, inputs, int(clv_params["holdout_days"]))
    predictions, info["forecast_skipped"] = without_forecast(predictions, no_kept_order)
    return predictions, info


def without_forecast(predictions: pd.DataFrame, no_kept_order: Iterable[Any]) -> tuple[pd.DataFrame, str | None]:
    """Drop the customers in `no_kept_order` from `predictions`; say how many, if any.

    >>> frame = pd.DataFrame({"customer_id": ["A", "B"], "p_alive": [1.0, 0.4]})
    >>> kept, note = without_forecast(frame, ["A", "Z"])
    >>> kept["customer_id"].tolist(), note.split(":")[0]
    (['B'], "1 customer whose every order was cancelled (RFM 'No kept order') gets no forecast")
    """
    ids = pd.Index(no_kept_order, dtype=object).astype(str)
    left_out = predictions["customer_id"].astype(str).isin(ids).to_numpy()
    n = int(left_out.sum())
    if not n:
        return predictions, None
    who = "customer whose every order was cancelled (RFM 'No kept order') gets" if n == 1 else \
        "customers whose every order was cancelled (RFM 'No kept order') get"
    note = (f"{n:,} {who} no forecast: their purchase days count in the fit, but with no order kept "
            f"there is no revenue to project.")
    return predictions.loc[~left_out].reset_index(drop=True), note


def _number(value: Any) -> float | None:
    """Return a JSON-safe float: None for NaN or missing."""
    return None if value is None or not math.isfinite(float(value)) else float(value)


def future_value_metrics(predictions: pd.DataFrame, fit_info: Mapping[str, Any]) -> dict[str, Any]:
    """Return the headline figures of `future_value` for `helpers.metrics.record_metrics`.

    Skipped parts are None; every number is a plain float or int.
    """
    bgnbd, gg, validation = fit_info["bgnbd"], fit_info["gamma_gamma"], fit_info["validation"]
    risk = predictions["churn_risk"].astype(str).value_counts()
    return {
        "time_unit": "days",
        "bg_nbd": {k: float(v) for k, v in bgnbd.params().items()} if bgnbd else None,
        "gamma_gamma": {k: float(v) for k, v in gg.params().items()} if gg else None,
        "frequency_spend_correlation": _number(fit_info["frequency_spend_correlation"]),
        "validation": None if validation is None else {
            "holdout_days": int(validation["holdout_days"]),
            "mae_model": _number(validation["mae_model"]),
            "mae_naive": _number(validation["mae_naive"]),
            "beats_naive": bool(validation["beats_naive"])},
        "predicted_value": _number(predictions["predicted_clv"].sum(min_count=1)),
        "churn_risk": {str(k): int(v) for k, v in risk.items()},
    }
