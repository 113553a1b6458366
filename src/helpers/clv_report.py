"""Presentation of 03_rfm's "Future value": parameter and churn-risk tables, validation charts.

Takes the outputs of `helpers.clv` and `helpers.clv_validation` (no fitting here). Charts
return ``(fig, takeaway)``: a matplotlib Figure with titles and axis labels in words, and
one sentence read off the same numbers. Time is counted in days, as in `helpers.clv`.
Tables that show money take ``formats`` (`helpers.formatting.Formats`): amounts with the
shop's currency, numbers in its locale, as text for ``table_html(frame)``; None keeps
today's numbers for ``table_html(frame, *_FORMATS)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from helpers.clv import CHURN_BANDS, BgNbd, GammaGamma
from helpers.clv_validation import UNKNOWN_RISK
from helpers.formatting import Formats
from helpers.page_formats import localise_table

CORRELATION_LIMIT = 0.3  # |corr| beyond this: Gamma-Gamma's independence assumption is doubtful
PARAMETER_FORMATS = {"value": "{:.4g}"}
RISK_TABLE_FORMATS = {"share": "{:.1%}", "predicted value share": "{:.1%}",
                      "predicted value": "{:,.0f}", "mean P(alive)": "{:.2f}"}
VALIDATION_FORMATS = {"mean absolute error": "{:.3f}", "holdout orders": "{:,.1f}"}


def parameter_table(bgnbd: BgNbd, gg: GammaGamma | None, formats: Formats | None = None) -> pd.DataFrame:
    """Return the fitted parameters with what each means, time unit days.

    Parameters
    ----------
    bgnbd : BgNbd
    gg : GammaGamma or None
        Omitted from the table when None (not fitted).
    formats : Formats, optional
        Writes the population mean spend (in Gamma-Gamma's ``v`` row) with the currency.

    Returns
    -------
    pandas.DataFrame
        model, parameter, value, meaning.

    Examples
    --------
    >>> table = parameter_table(BgNbd(r=0.5, alpha=50.0, a=1.0, b=3.0), None)
    >>> table["meaning"].iloc[1]
    'scale of the purchase rates, in days: mean rate r / alpha = 0.01 orders a day (one every 100 days)'
    """
    rate = bgnbd.r / bgnbd.alpha
    rows = [
        ("BG/NBD", "r", bgnbd.r, "shape of the purchase rates across customers (Gamma)"),
        ("BG/NBD", "alpha", bgnbd.alpha, f"scale of the purchase rates, in days: mean rate r / alpha "
                                          f"= {rate:.3g} orders a day (one every {1 / rate:,.0f} days)"),
        ("BG/NBD", "a", bgnbd.a, "dropout chance after each repeat purchase ~ Beta(a, b)"),
        ("BG/NBD", "b", bgnbd.b, f"mean dropout chance a / (a + b) = {bgnbd.a / (bgnbd.a + bgnbd.b):.1%}"),
    ]
    if gg is not None:
        if not math.isfinite(gg.mean_spend):
            mean = "infinite (q <= 1)"
        else:
            mean = f"{gg.mean_spend:,.2f}" if formats is None else formats.money(gg.mean_spend)
        rows += [
            ("Gamma-Gamma", "p", gg.p, "shape of one order's spend around the customer's mean"),
            ("Gamma-Gamma", "q", gg.q, "shape of the customers' mean spends"),
            ("Gamma-Gamma", "v", gg.v, f"scale of the mean spends: population mean per order "
                                       f"p v / (q - 1) = {mean}"),
        ]
    return pd.DataFrame(rows, columns=["model", "parameter", "value", "meaning"])


def correlation_sentence(correlation: float, limit: float = CORRELATION_LIMIT) -> str:
    """Say whether the frequency-spend correlation Gamma-Gamma assumes away is small.

    >>> correlation_sentence(0.05)
    'Frequency and mean spend of repeat buyers correlate at 0.05: small, as Gamma-Gamma assumes.'
    >>> correlation_sentence(-0.42)[:80]
    'Frequency and mean spend of repeat buyers correlate at -0.42, beyond +-0.3: Gamm'
    """
    if not math.isfinite(correlation):
        return "The frequency-spend correlation cannot be computed (too few repeat buyers)."
    head = f"Frequency and mean spend of repeat buyers correlate at {correlation:.2f}"
    if abs(correlation) <= limit:
        return f"{head}: small, as Gamma-Gamma assumes."
    return (f"{head}, beyond +-{limit:g}: Gamma-Gamma assumes spend per order does not depend on "
            f"how often a customer buys, so its spend and CLV predictions may be biased; "
            f"rank customers by expected orders rather than by CLV.")


def churn_risk_table(predictions: pd.DataFrame, formats: Formats | None = None) -> pd.DataFrame:
    """Return customers, share and predicted value share per churn-risk band.

    Parameters
    ----------
    predictions : pandas.DataFrame
        `helpers.clv.predict` (or `helpers.clv_validation.future_value`) output.
    formats : Formats, optional
        Given: the figures as text by `RISK_TABLE_FORMATS`, predicted value with the
        currency; show it with ``table_html(frame)``.

    Returns
    -------
    pandas.DataFrame
        churn risk, customers, share, mean P(alive), predicted value, predicted value
        share; one row per band that has customers, in `CHURN_BANDS` order, "unknown" last.

    Examples
    --------
    >>> frame = pd.DataFrame({"churn_risk": ["Low", "High", "Low"], "p_alive": [1.0, 0.2, 0.8],
    ...                       "predicted_clv": [30.0, 10.0, 60.0]})
    >>> churn_risk_table(frame)["predicted value share"].tolist()
    [0.9, 0.1]
    """
    risk = predictions["churn_risk"]
    order = [label for _, label in CHURN_BANDS] + [UNKNOWN_RISK]
    grouped = predictions.groupby(risk.astype(str), sort=False).agg(
        customers=("p_alive", "size"), mean_alive=("p_alive", "mean"),
        value=("predicted_clv", lambda s: s.sum(min_count=1)))
    grouped = grouped.reindex([b for b in order if b in grouped.index])
    total = grouped["value"].sum(min_count=1)
    table = pd.DataFrame({
        "churn risk": grouped.index.astype(str),
        "customers": grouped["customers"].astype("int64").to_numpy(),
        "share": (grouped["customers"] / max(len(predictions), 1)).to_numpy(),
        "mean P(alive)": grouped["mean_alive"].to_numpy(),
        "predicted value": grouped["value"].to_numpy(),
        "predicted value share": (grouped["value"] / total if total else grouped["value"] * np.nan).to_numpy(),
    })
    return table if formats is None else localise_table(table, RISK_TABLE_FORMATS, formats, money={"predicted value"})


def validation_table(validation: Mapping[str, Any], formats: Formats | None = None) -> pd.DataFrame:
    """Return the holdout error of the model and of the naive rate, with the order totals.

    With `formats` the numbers come back as text in the locale's style (`VALIDATION_FORMATS`).

    >>> validation_table({"mae_model": 0.5, "mae_naive": 0.7, "orders_actual": 10,
    ...                   "orders_predicted": 11.0, "naive_orders": 9.0})["holdout orders"].tolist()
    [11.0, 9.0, 10.0]
    """
    table = pd.DataFrame({
        "predictor": ["BG/NBD model", "naive: past repeat rate carried forward", "actual"],
        "mean absolute error": [validation["mae_model"], validation["mae_naive"], np.nan],
        "holdout orders": [validation["orders_predicted"], validation.get("naive_orders", np.nan),
                           float(validation["orders_actual"])],
    })
    return table if formats is None else localise_table(table, VALIDATION_FORMATS, formats)


def plot_tracking(tracking: pd.DataFrame) -> tuple[Figure, str]:
    """Draw cumulative repeat orders in the holdout, actual vs predicted, by day.

    Parameters
    ----------
    tracking : pandas.DataFrame
        ``validate(...)["tracking"]``: day, actual, predicted (cumulative).

    Returns
    -------
    fig, takeaway
        The takeaway compares the totals at the last day.
    """
    fig, ax = plt.subplots(figsize=(9, 4.5), constrained_layout=True)
    ax.plot(tracking["day"], tracking["actual"], label="actual", color="black")
    ax.plot(tracking["day"], tracking["predicted"], label="predicted (BG/NBD)", color="tab:blue",
            linestyle="--")
    ax.set_title("Cumulative repeat orders in the holdout: actual vs predicted")
    ax.set_xlabel("Days since the start of the holdout")
    ax.set_ylabel("Repeat orders (purchase days), cumulative")
    ax.legend()
    last = tracking.iloc[-1]
    actual, predicted = float(last["actual"]), float(last["predicted"])
    gap = (predicted - actual) / actual if actual else math.nan
    where = (f"{abs(gap):.0%} {'more' if gap > 0 else 'fewer'} than" if math.isfinite(gap) and round(gap, 2)
             else "about as many as")
    takeaway = (f"Over the {int(last['day'])}-day holdout the model predicted {predicted:,.0f} repeat "
                f"orders, {where} the {actual:,.0f} that happened.")
    return fig, takeaway


def plot_conditional(conditional: pd.DataFrame) -> tuple[Figure, str]:
    """Draw mean holdout orders by calibration frequency: actual, model and naive.

    Parameters
    ----------
    conditional : pandas.DataFrame
        ``validate(...)["conditional"]``: frequency, customers, actual, predicted, naive.

    Returns
    -------
    fig, takeaway
        The takeaway counts the frequency groups where the model is closer than the naive rate.
    """
    shown = conditional[conditional["customers"] > 0]
    positions = np.arange(len(shown))
    fig, ax = plt.subplots(figsize=(9, 4.5), constrained_layout=True)
    ax.plot(positions, shown["actual"], marker="o", color="black", label="actual")
    ax.plot(positions, shown["predicted"], marker="s", linestyle="--", color="tab:blue", label="model (BG/NBD)")
    ax.plot(positions, shown["naive"], marker="^", linestyle=":", color="tab:orange",
            label="naive (past repeat rate)")
    ax.set_xticks(positions, [str(f) for f in shown["frequency"]])
    ax.set_title("Holdout orders by repeat purchases before the holdout")
    ax.set_xlabel("Repeat purchase days in the calibration period")
    ax.set_ylabel("Mean orders per customer in the holdout")
    ax.legend()
    closer = int((np.abs(shown["predicted"] - shown["actual"]) < np.abs(shown["naive"] - shown["actual"])).sum())
    takeaway = (f"The model is closer to the actual mean than the naive rate in {closer} of "
                f"{len(shown)} frequency groups.")
    return fig, takeaway


def skip_notes(fit_info: Mapping[str, Any]) -> list[str]:
    """Return the sentences saying what was skipped and why (empty when nothing was).

    >>> skip_notes({"fit_skipped": None, "spend_skipped": None, "validation_skipped": "x."})
    ['x.']
    """
    keys = ("fit_skipped", "spend_skipped", "forecast_skipped", "validation_skipped")
    return [fit_info[k] for k in keys if fit_info.get(k)]
