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
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from helpers.clv import (
    PURCHASE_DAYS_CTE,
    BgNbd,
    btyd_inputs,
    expected_if_alive,
    expected_orders,
    expected_spend,
    fit_bgnbd,
    fit_gamma_gamma,
    p_alive,
)
from helpers.errors import UserError

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
    holdout = con.execute(_HOLDOUT_SQL, {"path": str(transactions), "cut": cut.to_pydatetime(),
                                         "analysis_date": as_of.to_pydatetime()}).df()
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
    known = holdout_orders["customer_id"].isin(calibration_inputs["customer_id"])
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
    known = holdout_orders["customer_id"].isin(calibration_inputs["customer_id"])
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
        lower); ``orders_actual``, ``orders_predicted``, ``spend_actual``,
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
        "spend_actual": spend_actual, "spend_predicted": spend_predicted,
        "customers": len(x), "holdout_days": int(holdout_days),
        "verdict": verdict_sentence(mae_model, mae_naive, holdout_days),
    }
