"""RFM computation: customer metrics, 1-5 scores and named segments.

03_rfm reads the cleaned transaction lines of 01_clean (one Parquet file), aggregates them
to one row per customer with DuckDB SQL (the only part that touches every line, so it
streams), and does the rest on that pandas customer table. Everything here computes: a
connection and a file, or DataFrames, in; DataFrames out. The caller opens the connection
(`helpers.engine.connect`) and resolves the analysis date once
(`helpers.catalog.analysis_date`); values reach SQL as parameters.

1. `customer_metrics`: recency, frequency, monetary, tenure, average order value and
   average days between orders, as of the analysis date; `transaction_totals` counts the
   lines independently, for reconciliation; `day_after_last_line` is the ``auto`` date
   of a file scored without params (``python -m helpers.cluster score``).
2. `score_customers`: 1-5 scores, 1 = worst, 5 = best (R = 5 is the most recent).

   *Rank scoring* (quintiles, quartiles): among customers with at least one kept order,
   a customer scores ``1 + floor(k * w / n)`` where ``w`` is the number of customers with
   a strictly worse value, ``n`` the number scored and ``k`` the number of bands (5 or
   4). Tied customers therefore always share a score (never split arbitrarily, never a
   crash) and the worst value always scores 1, so one-time buyers get F = 1 however many
   there are; the price is that a large tie leaves some scores unused, which
   `helpers.rfm_report.describe_scoring` states. Without ties every band holds n / k
   customers.

   *Cut points*: for each metric named in ``rfm.cuts``, 4 increasing numbers are the
   upper ends of the bands. For frequency and monetary ``<= c1`` scores 1 ... ``> c4``
   scores 5; for recency (days) ``<= c1`` scores 5 ... ``> c4`` scores 1. Cut points
   override the rank method for the metrics they name; ``method="cuts"`` needs all three.

   Customers without a kept order (frequency 0: only cancellations or fully cancelled
   orders) are not ranked and score 1 on R, F and M.
3. `assign_segments`: the segment of each (R, F) pair, from the editable segment map
   (`helpers.rfm_segment_map`); `check_rfm` checks the finished table.
4. `segment_summary`, `rf_grid`: what each segment is worth.

How customers moved since an earlier cut-off is in `helpers.rfm_movement`; tables and text
for the report in `helpers.rfm_report`, charts in `helpers.rfm_plots`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from helpers.catalog import METRIC_COLUMNS, RFM_COLUMNS
from helpers.errors import UserError

# Read through rfm by params_checks, bench/stages.py and tests/test_config.py.
from helpers.rfm_segment_map import MAX_SCORE, segment_info
from helpers.rfm_segment_map import load_segment_map as load_segment_map
from helpers.rfm_segment_map import resolve_segment_map_path as resolve_segment_map_path
from helpers.rfm_sql import LAST_LINE_SQL, METRICS_SQL, TOTALS_SQL

METRICS: tuple[str, ...] = ("recency", "frequency", "monetary")
SCORE_COLUMNS: dict[str, str] = {
    "recency": "r_score",
    "frequency": "f_score",
    "monetary": "m_score",
}
VALUE_COLUMNS: dict[str, str] = {
    "recency": "recency_days",
    "frequency": "frequency",
    "monetary": "monetary",
}
# Recency is the one metric where a smaller value is better.
HIGHER_IS_BETTER: dict[str, bool] = {"recency": False, "frequency": True, "monetary": True}
SCORING_METHODS: dict[str, int] = {"quintiles": 5, "quartiles": 4, "cuts": 5}
N_CUTS = MAX_SCORE - 1


# --------------------------------------------------------------------------------------
# Metrics (DuckDB over the transaction Parquet)
# --------------------------------------------------------------------------------------

def day_after_last_line(con: duckdb.DuckDBPyConnection, transactions: str | Path) -> pd.Timestamp:
    """Return midnight of the day after the last line: the ``auto`` analysis date of a file.

    03_rfm takes its date from `helpers.catalog.analysis_date` (01_clean's facts); this is
    for a Parquet file scored without params, so that its latest buyer has a recency of 1.

    Raises
    ------
    UserError
        The file has no dated line.
    """
    (last,) = con.execute(LAST_LINE_SQL, {"path": str(transactions)}).fetchone()
    if last is None:
        raise UserError(
            f"{transactions}: no transactions with an invoice_date; fix: check the output of 01_clean"
        )
    return pd.Timestamp(last).normalize() + pd.Timedelta(days=1)


def customer_metrics(
    con: duckdb.DuckDBPyConnection, transactions: str | Path, analysis_date: pd.Timestamp | str
) -> pd.DataFrame:
    """Aggregate cleaned transaction lines to one row of RFM metrics per customer.

    Only lines dated before the analysis date count. Lines are grouped into invoices; an
    invoice whose lines are all returns is a *cancellation*, any other invoice is a
    *purchase order*. A purchase order is *fully cancelled* when a cancellation invoice of
    the same customer, dated at or after it, has exactly the opposite total (to the cent).
    Each cancellation cancels at most one order, the most recent one still open (so a
    cancellation of an order from before the data window cancels nothing). Partial returns
    do not cancel an order; they only lower monetary.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        From `helpers.engine.connect`.
    transactions : str or Path
        Cleaned lines (Parquet, 01_clean's contract; the caller checks it with
        ``catalog.require``): customer_id, invoice_id, invoice_date, amount (negative
        for returns), is_return.
    analysis_date : Timestamp or str
        Lines before it count (its time of day is dropped). It may precede the data (a
        movement cut-off): the table is then empty.

    Returns
    -------
    pandas.DataFrame
        `METRIC_COLUMNS`, one row per customer with a line before the analysis date,
        sorted by id. Recency and tenure count calendar days from the last and first kept
        (not fully cancelled) order; frequency counts kept orders; monetary is the net
        revenue of every line (returns and cancellations included) and the average order
        value is monetary / frequency, both in cents, rounded half away from zero (as a
        spreadsheet's ROUND) after writing the value with 6 decimals, so floating-point
        noise (2.675 stored as 2.67499999999999982) never decides the cent; average days
        between orders spans first to last kept order over frequency - 1. A customer
        without a kept order has frequency 0 and no recency, tenure or dates (NaN/NaT).
        Monetary sums to the data's net revenue within half a cent per customer. The
        README's data dictionary defines each column.

    Examples
    --------
    A customer who ordered 10.00 twice and cancelled the second order (``C2``) has
    frequency 1 and monetary 10.0; its recency counts from the first order.
    """
    as_of = pd.Timestamp(analysis_date).normalize()
    customers = con.execute(
        METRICS_SQL, {"path": str(transactions), "analysis_date": as_of.to_pydatetime()}
    ).df()
    return customers.loc[:, list(METRIC_COLUMNS)].reset_index(drop=True)


def transaction_totals(
    con: duckdb.DuckDBPyConnection, transactions: str | Path, analysis_date: pd.Timestamp | str
) -> dict[str, float]:
    """Count customers and sum net revenue straight from the lines, for reconciliation.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        From `helpers.engine.connect`.
    transactions : str or Path
        Cleaned transaction lines (Parquet).
    analysis_date : Timestamp or str
        Only lines before this date count, as in `customer_metrics`.

    Returns
    -------
    dict
        ``customers`` (distinct customer ids), ``net_revenue`` (sum of amount) and ``lines``.
    """
    as_of = pd.Timestamp(analysis_date).normalize()
    customers, revenue, lines = con.execute(
        TOTALS_SQL, {"path": str(transactions), "analysis_date": as_of.to_pydatetime()}
    ).fetchone()
    return {"customers": int(customers), "net_revenue": float(revenue), "lines": int(lines)}


# --------------------------------------------------------------------------------------
# Scores
# --------------------------------------------------------------------------------------


def check_cuts(method: str, cuts: Mapping[str, Sequence[float]] | None) -> dict[str, list[float]]:
    """Return the cut points that apply, per metric; UserError naming the ``rfm.*`` key.

    Empty lists are dropped; ``method="cuts"`` needs points for every metric.

    Examples
    --------
    >>> check_cuts("quintiles", {"frequency": [1, 2, 3, 5], "monetary": []})
    {'frequency': [1.0, 2.0, 3.0, 5.0]}
    """
    if method not in SCORING_METHODS:
        raise UserError(
            f"key 'rfm.scoring': {method!r} is not a scoring method; "
            f"fix: use one of {', '.join(SCORING_METHODS)}"
        )
    checked: dict[str, list[float]] = {}
    for metric, points in (cuts or {}).items():
        if metric not in METRICS:
            raise UserError(
                f"key 'rfm.cuts.{metric}': unknown metric; fix: use recency, frequency or monetary"
            )
        if points is None or (isinstance(points, Sequence) and len(points) == 0):
            continue
        ok = (
            isinstance(points, Sequence)
            and not isinstance(points, str)
            and len(points) == N_CUTS
            and all(isinstance(p, (int, float)) and not isinstance(p, bool) for p in points)
            and all(a < b for a, b in zip(points, points[1:], strict=False))
        )
        if not ok:
            raise UserError(
                f"key 'rfm.cuts.{metric}': expected {N_CUTS} increasing numbers, got {points!r}; "
                f"fix: write e.g. [1, 2, 3, 5] (each is the upper end of a score band)"
            )
        checked[metric] = [float(p) for p in points]
    if method == "cuts":
        missing = [m for m in METRICS if m not in checked]
        if missing:
            raise UserError(
                f"key 'rfm.cuts.{missing[0]}' is empty but rfm.scoring is 'cuts'; "
                f"fix: give {N_CUTS} cut points for {', '.join(missing)}, or use quintiles"
            )
    return checked


def _rank_scores(values: np.ndarray, n_levels: int) -> np.ndarray:
    """Score by the share of customers with a strictly smaller value (ties never split)."""
    n = len(values)
    if n == 0:
        return np.zeros(0, dtype="int64")
    strictly_below = pd.Series(values).rank(method="min").to_numpy(dtype="int64") - 1
    return strictly_below * n_levels // n + 1


def _cut_scores(values: np.ndarray, points: Sequence[float], higher_is_better: bool) -> np.ndarray:
    """Score by explicit upper bounds: value <= points[0] is the first band."""
    band = np.searchsorted(np.asarray(points, dtype=float), values, side="left")
    return band + 1 if higher_is_better else MAX_SCORE - band


def _metric_scores(values: np.ndarray, metric: str, points: Sequence[float] | None, n_levels: int) -> np.ndarray:
    """Score one metric's values: by cut points when given, else by rank."""
    higher_is_better = HIGHER_IS_BETTER[metric]
    if points is not None:
        return _cut_scores(values, points, higher_is_better)
    return _rank_scores(values if higher_is_better else -values, n_levels)


def score_customers(
    customers: pd.DataFrame,
    method: str = "quintiles",
    cuts: Mapping[str, Sequence[float]] | None = None,
) -> pd.DataFrame:
    """Add R, F and M scores (1 = worst, 5 = best; R = 5 is the most recent).

    The rules (rank bands that never split ties, cut points, customers without a kept
    order) are in the module docstring.

    Parameters
    ----------
    customers : pandas.DataFrame
        Output of `customer_metrics` (recency_days, frequency, monetary needed).
    method : {"quintiles", "quartiles", "cuts"}, default "quintiles"
        Rank bands, or explicit cut points for every metric.
    cuts : mapping of str to list of float, optional
        ``{"frequency": [1, 2, 3, 5], ...}``; empty lists are ignored.

    Returns
    -------
    pandas.DataFrame
        A copy with int columns ``r_score``, ``f_score``, ``m_score`` and the text
        ``rfm_score`` (e.g. "545").

    Raises
    ------
    UserError
        Unknown method, malformed cut points, or a customer with orders but no recency.

    Examples
    --------
    Three one-time buyers tie on frequency, so they share F = 1 and F = 2, 3 stay unused:

    >>> frame = pd.DataFrame({"recency_days": [30.0, 20.0, 10.0, 5.0, 1.0],
    ...                       "frequency": [1, 1, 1, 2, 5],
    ...                       "monetary": [10.0, 20.0, 30.0, 40.0, 50.0]})
    >>> score_customers(frame)["rfm_score"].tolist()
    ['111', '212', '313', '444', '555']
    """
    checked = check_cuts(method, cuts)
    active = customers["frequency"].to_numpy() > 0
    recency = customers["recency_days"].to_numpy(dtype=float, na_value=np.nan)
    if np.isnan(recency[active]).any():
        raise UserError(
            "column 'recency_days' is missing for a customer with orders; "
            "fix: build the table with customer_metrics"
        )
    scored = customers.copy()
    for metric in METRICS:
        values = customers[VALUE_COLUMNS[metric]].to_numpy(dtype=float, na_value=np.nan)[active]
        scores = np.ones(len(customers), dtype="int64")
        scores[active] = _metric_scores(values, metric, checked.get(metric), SCORING_METHODS[method])
        scored[SCORE_COLUMNS[metric]] = scores
    scored["rfm_score"] = (
        scored["r_score"].astype(str)
        + scored["f_score"].astype(str)
        + scored["m_score"].astype(str)
    )
    return scored


# --------------------------------------------------------------------------------------
# Segments
# --------------------------------------------------------------------------------------


def assign_segments(scored: pd.DataFrame, segment_map: pd.DataFrame) -> pd.DataFrame:
    """Add the ``segment`` of each customer from its R and F scores.

    Segments depend on R and F only (the common R x F grid); M is reported alongside.

    Parameters
    ----------
    scored : pandas.DataFrame
        Output of `score_customers`.
    segment_map : pandas.DataFrame
        Output of `load_segment_map`.

    Returns
    -------
    pandas.DataFrame
        A copy with a categorical ``segment`` whose categories follow the map order.

    Raises
    ------
    UserError
        A score outside 1-5.
    """
    categories = list(segment_map["segment"].cat.categories)
    lookup = np.full((MAX_SCORE + 1, MAX_SCORE + 1), -1, dtype="int64")
    lookup[segment_map["r_score"].to_numpy(), segment_map["f_score"].to_numpy()] = segment_map[
        "segment"
    ].cat.codes.to_numpy()
    r = scored["r_score"].to_numpy()
    f = scored["f_score"].to_numpy()
    for column, scores in (("r_score", r), ("f_score", f)):
        if len(scores) and (scores.min() < 1 or scores.max() > MAX_SCORE):
            raise UserError(
                f"column '{column}' has a score outside 1-{MAX_SCORE}; fix: use score_customers"
            )
    segmented = scored.copy()
    segmented["segment"] = pd.Categorical.from_codes(lookup[r, f], categories=categories)
    return segmented


def rfm_segments(
    con: duckdb.DuckDBPyConnection,
    transactions: str | Path,
    segment_map: pd.DataFrame,
    analysis_date: pd.Timestamp | str,
    method: str = "quintiles",
    cuts: Mapping[str, Sequence[float]] | None = None,
) -> pd.DataFrame:
    """Run metrics, scores and segments for one analysis date (the whole step in one call).

    Parameters
    ----------
    con, transactions, analysis_date
        See `customer_metrics`.
    segment_map : pandas.DataFrame
        Output of `load_segment_map`.
    method, cuts
        See `score_customers`.

    Returns
    -------
    pandas.DataFrame
        The `RFM_COLUMNS`, one row per customer.
    """
    customers = customer_metrics(con, transactions, analysis_date)
    scored = score_customers(customers, method=method, cuts=cuts)
    return assign_segments(scored, segment_map).loc[:, list(RFM_COLUMNS)]


def check_rfm(segmented: pd.DataFrame) -> None:
    """Fail with a message naming the column unless the RFM table is complete and in range.

    Raises
    ------
    UserError
        Duplicate or missing customer ids, scores outside 1-5, or a customer without a
        segment.
    """
    ids = segmented["customer_id"]
    if ids.isna().any() or ids.duplicated().any():
        raise UserError(
            "column 'customer_id': missing or duplicate ids in the RFM table; fix: check 01_clean"
        )
    for column in SCORE_COLUMNS.values():
        scores = segmented[column]
        if scores.isna().any() or not scores.between(1, MAX_SCORE).all():
            raise UserError(
                f"column '{column}': scores outside 1-{MAX_SCORE}; fix: use score_customers"
            )
    if segmented["segment"].isna().any():
        raise UserError("column 'segment': a customer has no segment; fix: check the segment map")


SEGMENT_SUMMARY_COLUMNS: tuple[str, ...] = (
    "customers", "customer_share", "revenue", "revenue_share", "mean_r", "mean_f", "mean_m",
    "median_recency_days", "description", "action",
)


def segment_summary(segmented: pd.DataFrame, segment_map: pd.DataFrame) -> pd.DataFrame:
    """Summarise each segment: size, revenue, shares, mean scores, median recency, what to do.

    Parameters
    ----------
    segmented : pandas.DataFrame
        Output of `assign_segments` (needs monetary, recency_days and the scores).
    segment_map : pandas.DataFrame
        Output of `load_segment_map`; every segment gets a row, empty ones with 0.

    Returns
    -------
    pandas.DataFrame
        Indexed by segment (map order), the `SEGMENT_SUMMARY_COLUMNS`. ``customers`` and
        ``revenue`` sum to the table's customer count and net revenue.
    """
    groups = segmented.groupby("segment", observed=False)
    summary = pd.DataFrame(
        {
            "customers": groups.size(),
            "revenue": groups["monetary"].sum(),
            "mean_r": groups["r_score"].mean(),
            "mean_f": groups["f_score"].mean(),
            "mean_m": groups["m_score"].mean(),
            "median_recency_days": groups["recency_days"].median(),
        }
    )
    summary.index = pd.Index(summary.index.astype(str), name="segment")
    summary = summary.reindex([str(s) for s in segment_map["segment"].cat.categories])
    summary["customers"] = summary["customers"].fillna(0).astype("int64")
    summary["revenue"] = summary["revenue"].fillna(0.0)
    total_customers = summary["customers"].sum()
    total_revenue = summary["revenue"].sum()
    summary["customer_share"] = (
        summary["customers"] / total_customers if total_customers else np.nan
    )
    summary["revenue_share"] = summary["revenue"] / total_revenue if total_revenue else np.nan
    summary = summary.join(segment_info(segment_map))
    return summary.loc[:, list(SEGMENT_SUMMARY_COLUMNS)]


def rf_grid(segmented: pd.DataFrame, value: str = "customers") -> pd.DataFrame:
    """Tabulate customers or revenue on the R x F grid (R = 5 on top, F = 1 on the left).

    Parameters
    ----------
    segmented : pandas.DataFrame
        Needs r_score, f_score and (for revenue) monetary.
    value : {"customers", "revenue"}, default "customers"
        Count customers, or sum their net revenue.

    Returns
    -------
    pandas.DataFrame
        5 x 5, index ``r_score`` 5..1, columns ``f_score`` 1..5, zeros where empty.
    """
    if value not in ("customers", "revenue"):
        raise ValueError(f"value must be 'customers' or 'revenue', got {value!r}")
    groups = segmented.groupby(["r_score", "f_score"])
    cells = groups.size() if value == "customers" else groups["monetary"].sum()
    scores = range(1, MAX_SCORE + 1)
    grid = cells.unstack("f_score").reindex(index=scores[::-1], columns=scores).fillna(0)
    return grid.astype("int64") if value == "customers" else grid.astype(float)


def single_order_warning(customers: pd.DataFrame) -> str | None:
    """Return a warning when every customer with an order has exactly one (no repeat behaviour to segment).

    A fake one-order-per-customer file made from a customer table runs and gives meaningless
    personas; so does an export whose order ids were lost. Both show up here.

    Examples
    --------
    >>> single_order_warning(pd.DataFrame({"frequency": [1, 1, 0]}))[:40]
    'Every customer has exactly one order (fr'
    >>> single_order_warning(pd.DataFrame({"frequency": [1, 2]})) is None
    True
    """
    kept = customers["frequency"][customers["frequency"] > 0]  # frequency 0: no kept order, set aside anyway
    if len(kept) and bool((kept == 1).all()):
        return ("Every customer has exactly one order (frequency 1), so frequency cannot tell customers apart and "
                "recency only says when the one order was placed: segments and personas built on them mean little. "
                "If the export holds one row per customer, set input.level: customers; if orders lack ids, check "
                "input.orders_without_id.")
    return None
