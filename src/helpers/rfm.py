"""RFM: customer metrics, 1-5 scores, named segments and how customers move between them.

The step reads the cleaned transaction lines of 01_clean (one Parquet file), aggregates
them to one row per customer with DuckDB SQL (the only part that touches every line, so it
streams), and does the rest on that pandas customer table:

1. `customer_metrics`: recency, frequency, monetary, tenure, average order value and
   average days between orders, as of an analysis date (`resolve_analysis_date` checks
   the ``rfm.analysis_date`` parameter); `metric_summary` makes it a readable table.
2. `score_customers`: 1-5 scores by rank (quintiles or quartiles) or explicit cut points;
   `describe_scoring` says in words what was done and where ties left scores unused.
3. `load_segment_map` / `assign_segments`: named segments from an editable CSV that maps
   every (R score, F score) pair to exactly one segment.
4. `segment_summary`, `segment_table`, `segment_actions`, `rf_grid` and the plots: what
   each segment is worth and what to do about it.
5. `segment_movement` / `biggest_flows`: segments at an earlier cut-off against now.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path

import duckdb
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from helpers.eda import summary_table
from helpers.errors import UserError
from helpers.io import connect  # DuckDB with the memory cap (run.memory_limit)
from helpers.report import plain_text

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SEGMENT_MAP = Path(__file__).with_name("segment_map.csv")

METRICS: tuple[str, ...] = ("recency", "frequency", "monetary")
SCORE_COLUMNS: dict[str, str] = {
    "recency": "r_score",
    "frequency": "f_score",
    "monetary": "m_score",
}
_VALUE_COLUMNS: dict[str, str] = {
    "recency": "recency_days",
    "frequency": "frequency",
    "monetary": "monetary",
}
_UNITS: dict[str, str] = {"recency": "days", "frequency": "orders", "monetary": "net revenue"}
# Recency is the one metric where a smaller value is better.
_HIGHER_IS_BETTER: dict[str, bool] = {"recency": False, "frequency": True, "monetary": True}
SCORING_METHODS: dict[str, int] = {"quintiles": 5, "quartiles": 4, "cuts": 5}
MAX_SCORE = 5
N_CUTS = MAX_SCORE - 1

NEW_ORIGIN = "(new)"
GONE_DESTINATION = "(gone)"

TRANSACTION_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "invoice_id",
    "invoice_date",
    "amount",
    "is_return",
)
METRIC_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "recency_days",
    "frequency",
    "monetary",
    "tenure_days",
    "avg_order_value",
    "avg_days_between_orders",
    "first_order_date",
    "last_order_date",
    "purchase_invoices",
    "cancelled_orders",
)
RFM_COLUMNS: tuple[str, ...] = (
    *METRIC_COLUMNS,
    "r_score",
    "f_score",
    "m_score",
    "rfm_score",
    "segment",
)
_MAP_COLUMNS: tuple[str, ...] = ("r_score", "f_score", "segment", "description", "action")


# --------------------------------------------------------------------------------------
# Metrics (DuckDB over the transaction Parquet)
# --------------------------------------------------------------------------------------


def _parse_analysis_date(analysis_date: str | pd.Timestamp | None) -> pd.Timestamp | None:
    """Return the analysis date as midnight, or None for "derive it from the data"."""
    if analysis_date is None or (
        isinstance(analysis_date, str) and analysis_date.strip().lower() in ("", "auto")
    ):
        return None
    try:
        stamp = pd.Timestamp(analysis_date)
    except (ValueError, TypeError):
        stamp = pd.NaT
    if pd.isna(stamp):
        raise UserError(
            f"key 'rfm.analysis_date': {analysis_date!r} is not a date; "
            f"fix: write it like 2011-12-10, or auto for the day after the last transaction"
        )
    return stamp.tz_localize(None).normalize() if stamp.tzinfo else stamp.normalize()


def _check_transactions(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    if not path.is_file():
        raise UserError(
            f"{path}: cleaned transactions not found; fix: run notebook 01_clean first "
            f"(or point paths.interim_dir at the folder holding transactions.parquet)"
        )
    described = con.execute(
        "DESCRIBE SELECT * FROM read_parquet($path)", {"path": str(path)}
    ).fetchall()
    present = {row[0] for row in described}
    for column in TRANSACTION_COLUMNS:
        if column not in present:
            raise UserError(
                f"{path}: column '{column}' is missing; fix: re-run 01_clean, which writes "
                f"{', '.join(TRANSACTION_COLUMNS)}"
            )


def _date_range(path: Path) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Return the first and last invoice_date of the lines; UserError when there are none."""
    with connect() as con:
        _check_transactions(con, path)
        first, last = con.execute(
            "SELECT min(invoice_date), max(invoice_date) FROM read_parquet($path)",
            {"path": str(path)},
        ).fetchall()[0]
    if last is None:
        raise UserError(
            f"{path}: no transactions with an invoice_date; fix: check the output of 01_clean"
        )
    return pd.Timestamp(first), pd.Timestamp(last)


def _as_of(transactions_path: str | Path, analysis_date: str | pd.Timestamp | None) -> pd.Timestamp:
    """Return the given date as midnight, or the day after the last transaction for None."""
    parsed = _parse_analysis_date(analysis_date)
    if parsed is not None:
        return parsed
    _, last = _date_range(Path(transactions_path))
    return last.normalize() + pd.Timedelta(days=1)


def resolve_analysis_date(
    transactions_path: str | Path, analysis_date: str | pd.Timestamp | None = None
) -> pd.Timestamp:
    """Return the date RFM is measured at: the given date, or the day after the last transaction.

    This is the check for the ``rfm.analysis_date`` parameter: a date on or before the
    first transaction would leave no customer to score, so it is refused with the date
    range of the data. (The functions below accept any date, so the movement cut-off
    may fall before the data: every customer is then new.)

    Parameters
    ----------
    transactions_path : str or Path
        Cleaned transaction lines (Parquet) written by 01_clean.
    analysis_date : str, Timestamp or None, default None
        A date such as ``"2011-12-10"`` (a time of day is dropped). None, ``""`` or
        ``"auto"`` mean midnight of the day after the last transaction, so the latest
        buyer has a recency of 1 day.

    Returns
    -------
    pandas.Timestamp
        Midnight of the analysis date.

    Raises
    ------
    UserError
        The date cannot be parsed or no line is dated before it (the message names
        ``rfm.analysis_date`` and the data's date range), or the file is missing, lacks a
        column or is empty.
    """
    parsed = _parse_analysis_date(analysis_date)
    first, last = _date_range(Path(transactions_path))
    if parsed is None:
        return last.normalize() + pd.Timedelta(days=1)
    if parsed <= first:
        raise UserError(
            f"key 'rfm.analysis_date': {parsed:%Y-%m-%d} is not after the first transaction, "
            f"so no customer has an order before it (the data runs from {first:%Y-%m-%d} to "
            f"{last:%Y-%m-%d}); fix: set rfm.analysis_date to a date after {first:%Y-%m-%d}, "
            f"e.g. {last.normalize() + pd.Timedelta(days=1):%Y-%m-%d}, or to auto"
        )
    return parsed


# Lines -> invoices -> cancellation matching -> customers. Every window is partitioned by
# (customer, invoice total in cents), so the work stays local however many lines there are.
_CUSTOMER_SQL = """
WITH lines AS (
    SELECT customer_id,
           -- without an invoice id, a customer's lines at one timestamp form one order
           coalesce(invoice_id, '~' || strftime(invoice_date, '%Y-%m-%d %H:%M:%S')) AS invoice_id,
           invoice_date,
           coalesce(amount, 0) AS amount,
           coalesce(is_return, false) AS is_return
    FROM read_parquet($path)
    WHERE invoice_date < $analysis_date
),
invoices AS (
    SELECT customer_id, invoice_id,
           min(invoice_date) AS invoice_date,
           sum(amount) AS total,
           bool_and(is_return) AS is_cancellation
    FROM lines
    GROUP BY customer_id, invoice_id
),
events AS (
    SELECT *,
           round(abs(total) * 100)::BIGINT AS cents,
           CASE WHEN NOT is_cancellation AND total > 0 THEN 1
                WHEN is_cancellation AND total < 0 THEN -1
                ELSE 0 END AS step
    FROM invoices
),
running AS (
    SELECT *, sum(step) OVER w AS balance
    FROM events
    WINDOW w AS (PARTITION BY customer_id, cents
                 ORDER BY invoice_date, step DESC, invoice_id ROWS UNBOUNDED PRECEDING)
),
open_orders AS (
    -- cancellations with no open order before them (their order predates the data) are
    -- skipped by lifting the floor, so depth = orders still open after this event
    SELECT *, balance - least(0, min(balance) OVER w) AS depth
    FROM running
    WINDOW w AS (PARTITION BY customer_id, cents
                 ORDER BY invoice_date, step DESC, invoice_id ROWS UNBOUNDED PRECEDING)
),
matched AS (
    -- an order is cancelled when the open count later drops below its own level (LIFO)
    SELECT *,
           step = 1 AND coalesce(min(depth) OVER w < depth, false) AS is_cancelled
    FROM open_orders
    WINDOW w AS (PARTITION BY customer_id, cents
                 ORDER BY invoice_date, step DESC, invoice_id
                 ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING)
),
customers AS (
    SELECT customer_id,
           count(*) FILTER (WHERE NOT is_cancellation AND NOT is_cancelled) AS frequency,
           -- cents, half away from zero, after writing the sum with 6 decimals: float noise
           -- (2.675 is stored as 2.67499999999999982) must not decide the direction
           round(sum(total)::DECIMAL(38, 6), 2) AS monetary,
           min(invoice_date) FILTER (WHERE NOT is_cancellation AND NOT is_cancelled) AS first_order_date,
           max(invoice_date) FILTER (WHERE NOT is_cancellation AND NOT is_cancelled) AS last_order_date,
           count(*) FILTER (WHERE NOT is_cancellation) AS purchase_invoices,
           count(*) FILTER (WHERE is_cancelled) AS cancelled_orders
    FROM matched
    GROUP BY customer_id
)
SELECT customer_id,
       date_diff('day', last_order_date::DATE, $analysis_date::DATE)::DOUBLE AS recency_days,
       frequency::BIGINT AS frequency,
       monetary::DOUBLE AS monetary,
       date_diff('day', first_order_date::DATE, $analysis_date::DATE)::DOUBLE AS tenure_days,
       CASE WHEN frequency > 0 THEN round((monetary / frequency)::DECIMAL(38, 6), 2) END::DOUBLE AS avg_order_value,
       CASE WHEN frequency > 1
            THEN date_diff('day', first_order_date::DATE, last_order_date::DATE) / (frequency - 1)
       END::DOUBLE AS avg_days_between_orders,
       first_order_date,
       last_order_date,
       purchase_invoices::BIGINT AS purchase_invoices,
       cancelled_orders::BIGINT AS cancelled_orders
FROM customers
ORDER BY customer_id
"""


def customer_metrics(
    transactions_path: str | Path, analysis_date: str | pd.Timestamp | None = None
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
    transactions_path : str or Path
        Cleaned transaction lines (Parquet) with customer_id, invoice_id, invoice_date,
        amount (negative for returns) and is_return.
    analysis_date : str, Timestamp or None, default None
        See `resolve_analysis_date`; None = the day after the last transaction.

    Returns
    -------
    pandas.DataFrame
        One row per customer with any line before the analysis date, sorted by id:

        - ``recency_days``: days from the last kept (not fully cancelled) order to the
          analysis date, counted in calendar dates; NaN when there is no kept order.
        - ``frequency``: kept orders = purchase invoices minus fully cancelled ones.
        - ``monetary``: net revenue, the sum of every line (cancellations and returns
          included), in cents: rounded half away from zero (as a spreadsheet's ROUND)
          after the sum is written with 6 decimals, so floating-point noise such as
          0.30000000000000004 or 2.67499999999999982 (for 2.675) never decides the cent.
          The column sums to the net revenue of the data within half a cent per customer.
        - ``tenure_days``: days from the first kept order to the analysis date (NaN if none).
        - ``avg_order_value``: monetary / frequency in cents, rounded the same way (NaN
          when frequency is 0).
        - ``avg_days_between_orders``: days from first to last kept order divided by
          frequency - 1 (NaN when frequency < 2).
        - ``first_order_date``, ``last_order_date``: first and last kept order (NaT if none).
        - ``purchase_invoices``, ``cancelled_orders``: the counts behind frequency.

    Raises
    ------
    UserError
        Missing file or column, or an unparseable analysis date.

    Examples
    --------
    A customer who ordered 10.00 twice and cancelled the second order (``C2``) has
    frequency 1 and monetary 10.0; its recency counts from the first order.
    """
    path = Path(transactions_path)
    as_of = _as_of(path, analysis_date)
    with connect() as con:
        _check_transactions(con, path)
        customers = con.execute(
            _CUSTOMER_SQL, {"path": str(path), "analysis_date": as_of.to_pydatetime()}
        ).df()
    return customers.loc[:, list(METRIC_COLUMNS)].reset_index(drop=True)


def transaction_totals(
    transactions_path: str | Path, analysis_date: str | pd.Timestamp | None = None
) -> dict[str, float]:
    """Count customers and sum net revenue straight from the lines, for reconciliation.

    Parameters
    ----------
    transactions_path : str or Path
        Cleaned transaction lines (Parquet).
    analysis_date : str, Timestamp or None, default None
        Only lines before this date count (None = every line).

    Returns
    -------
    dict
        ``customers`` (distinct customer ids), ``net_revenue`` (sum of amount) and ``lines``.
    """
    path = Path(transactions_path)
    as_of = _as_of(path, analysis_date)
    with connect() as con:
        _check_transactions(con, path)
        customers, revenue, lines = con.execute(
            "SELECT count(DISTINCT customer_id), coalesce(sum(amount), 0), count(*) "
            "FROM read_parquet($path) WHERE invoice_date < $analysis_date",
            {"path": str(path), "analysis_date": as_of.to_pydatetime()},
        ).fetchall()[0]
    return {"customers": int(customers), "net_revenue": float(revenue), "lines": int(lines)}


# Columns of `customer_metrics` in the metrics summary: label shown and kind of number.
METRIC_SUMMARY_COLUMNS: dict[str, tuple[str, str]] = {
    "recency_days": ("recency (days since last order)", "days"),
    "frequency": ("frequency (kept orders)", "count"),
    "monetary": ("monetary (net revenue)", "money"),
    "tenure_days": ("tenure (days since first order)", "days"),
    "avg_order_value": ("average order value", "money"),
    "avg_days_between_orders": ("average days between orders", "days"),
    "purchase_invoices": ("purchase invoices", "count"),
    "cancelled_orders": ("fully cancelled orders", "count"),
    "first_order_date": ("first kept order", "date"),
    "last_order_date": ("last kept order", "date"),
}


def metric_summary(customers: pd.DataFrame) -> pd.DataFrame:
    """Summarise the customer metrics as a readable table, one row per metric.

    Per metric: customers with a value, min, P20, median, P80 (the quintile boundaries
    behind rank scoring) and max; money with 2 decimals, days and counts with at most one,
    dates as first and last date only. See `helpers.eda.summary_table`.

    Parameters
    ----------
    customers : pandas.DataFrame
        Output of `customer_metrics`.

    Returns
    -------
    pandas.DataFrame
        Text columns metric, customers with a value, min, P20, median, P80, max.
    """
    return summary_table(customers, METRIC_SUMMARY_COLUMNS, quantiles=(0.2, 0.8))


# --------------------------------------------------------------------------------------
# Scores
# --------------------------------------------------------------------------------------


def _check_cuts(method: str, cuts: Mapping[str, Sequence[float]] | None) -> dict[str, list[float]]:
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


def score_customers(
    customers: pd.DataFrame,
    method: str = "quintiles",
    cuts: Mapping[str, Sequence[float]] | None = None,
) -> pd.DataFrame:
    """Add R, F and M scores (1 = worst, 5 = best; R = 5 is the most recent).

    Rank scoring (quintiles, quartiles): among customers with at least one kept order,
    a customer scores ``1 + floor(k * w / n)`` where ``w`` is the number of customers with
    a strictly worse value, ``n`` the number scored and ``k`` the number of bands (5 or
    4). Tied customers therefore always share a score (never split arbitrarily, never a
    crash) and the worst value always scores 1, so one-time buyers get F = 1 however many
    there are; the price is that a large tie leaves some scores unused, which
    `describe_scoring` states. Without ties every band holds n / k customers.

    Cut points: for each metric named in ``cuts``, 4 increasing numbers are the upper ends
    of the bands. For frequency and monetary ``<= c1`` scores 1 ... ``> c4`` scores 5; for
    recency (days) ``<= c1`` scores 5 ... ``> c4`` scores 1. Cut points override the rank
    method for the metrics they name; ``method="cuts"`` needs all three.

    Customers without a kept order (frequency 0: only cancellations or fully cancelled
    orders) are not ranked and score 1 on R, F and M.

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
    checked = _check_cuts(method, cuts)
    n_levels = SCORING_METHODS[method]
    active = customers["frequency"].to_numpy() > 0
    recency = customers["recency_days"].to_numpy(dtype=float, na_value=np.nan)
    if np.isnan(recency[active]).any():
        raise UserError(
            "column 'recency_days' is missing for a customer with orders; "
            "fix: build the table with customer_metrics"
        )
    scored = customers.copy()
    for metric in METRICS:
        values = customers[_VALUE_COLUMNS[metric]].to_numpy(dtype=float, na_value=np.nan)[active]
        higher_is_better = _HIGHER_IS_BETTER[metric]
        if metric in checked:
            active_scores = _cut_scores(values, checked[metric], higher_is_better)
        else:
            active_scores = _rank_scores(values if higher_is_better else -values, n_levels)
        scores = np.ones(len(customers), dtype="int64")
        scores[active] = active_scores
        scored[SCORE_COLUMNS[metric]] = scores
    scored["rfm_score"] = (
        scored["r_score"].astype(str)
        + scored["f_score"].astype(str)
        + scored["m_score"].astype(str)
    )
    return scored


def _format_value(metric: str, value: float) -> str:
    if metric == "monetary":
        return f"{value:,.2f}"
    return f"{value:g} {_UNITS[metric]}"


def _describe_cuts(metric: str, points: Sequence[float]) -> str:
    bounds = [_format_value(metric, p) for p in points]
    if _HIGHER_IS_BETTER[metric]:
        bands = [f"<= {b}: {i + 1}" for i, b in enumerate(bounds)] + [f"> {bounds[-1]}: 5"]
    else:
        bands = [f"<= {b}: {MAX_SCORE - i}" for i, b in enumerate(bounds)] + [f"> {bounds[-1]}: 1"]
    return "explicit cut points (" + ", ".join(bands) + ")"


def describe_scoring(
    scored: pd.DataFrame,
    method: str = "quintiles",
    cuts: Mapping[str, Sequence[float]] | None = None,
) -> dict[str, str]:
    """Say, per metric, how scores were given and whether ties left scores unused.

    Parameters
    ----------
    scored : pandas.DataFrame
        Output of `score_customers` called with the same ``method`` and ``cuts``.
    method, cuts
        As passed to `score_customers`.

    Returns
    -------
    dict of str to str
        ``{"recency": "...", "frequency": "...", "monetary": "..."}``, one sentence group
        each, e.g. ``"quintiles of rank ...; customers per score 1-5: 610 / 0 / 0 / ...;
        ties are never split: 61.0% of ranked customers share frequency = 1, so scores
        2, 3 unused"``. A tie larger than one band is always mentioned.
    """
    checked = _check_cuts(method, cuts)
    n_levels = SCORING_METHODS[method]
    active = scored["frequency"].to_numpy() > 0
    n_active = int(active.sum())
    n_inactive = len(scored) - n_active
    descriptions: dict[str, str] = {}
    for metric in METRICS:
        column = SCORE_COLUMNS[metric]
        levels = MAX_SCORE if metric in checked else n_levels
        counts = (
            scored.loc[active, column].value_counts().reindex(range(1, levels + 1), fill_value=0)
        )
        if metric in checked:
            parts = [_describe_cuts(metric, checked[metric])]
        else:
            band = "quintiles" if n_levels == 5 else "quartiles"
            best = "5 = most recent" if metric == "recency" else f"{n_levels} = highest"
            parts = [
                f"{band} of rank among {n_active:,} customers with orders ({best}); tied "
                f"customers share the score of the lowest position of their tie"
            ]
        parts.append(
            f"customers per score 1-{levels}: " + " / ".join(f"{c:,}" for c in counts.to_numpy())
        )
        unused = [str(s) for s, c in counts.items() if c == 0]
        unused_text = f"score{'s' if len(unused) > 1 else ''} {', '.join(unused)} unused"
        if metric in checked:
            if unused and n_active:
                parts.append(f"{unused_text}: no customer falls in that band")
        elif n_active:
            ties = scored.loc[active, _VALUE_COLUMNS[metric]].value_counts()
            top_share = ties.iloc[0] / n_active
            top = float(ties.index[0])
            shown = f"{top:,.2f}" if metric == "monetary" else f"{top:g}"
            if ties.iloc[0] > 1 and top_share > 1 / n_levels:
                consequence = f"so {unused_text}" if unused else "so the bands are uneven"
                parts.append(
                    f"ties are never split: {top_share:.1%} of ranked customers share "
                    f"{metric} = {shown}, {consequence}"
                )
            elif unused:
                parts.append(f"{unused_text}: only {n_active:,} customers to rank")
        if levels < MAX_SCORE:
            parts.append("score 5 is never given, so segment-map cells that need a 5 stay empty")
        if n_inactive:
            parts.append(
                f"{n_inactive:,} customer{'s' if n_inactive != 1 else ''} without a kept order score 1"
            )
        descriptions[metric] = "; ".join(parts)
    return descriptions


def notes_html(notes: Mapping[str, str] | Sequence[str]) -> str:
    """Return notes as an HTML bullet list, text escaped; a mapping's keys lead in bold.

    Used for the scoring notes and the biggest flows, so long sentences wrap like normal
    text in the report instead of running off a preformatted block.

    Examples
    --------
    >>> notes_html({"recency": "ranks <5"})
    '<ul><li><b>recency</b>: ranks &lt;5</li></ul>'
    >>> notes_html(["a & b"])
    '<ul><li>a &amp; b</li></ul>'
    """
    if isinstance(notes, Mapping):
        items = [f"<b>{html.escape(str(k))}</b>: {html.escape(str(v))}" for k, v in notes.items()]
    else:
        items = [html.escape(str(note)) for note in notes]
    return "<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>"


# --------------------------------------------------------------------------------------
# Segments
# --------------------------------------------------------------------------------------


def resolve_segment_map_path(value: str | Path | None) -> Path:
    """Return the segment-map file: the shipped one for None/"", else the path given.

    Relative paths are taken from the project root, so the result does not depend on the
    folder a notebook runs in.
    """
    if value is None or str(value).strip() == "":
        return DEFAULT_SEGMENT_MAP
    path = Path(value).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


def _parse_score_cell(cell: str, column: str, line: int, path: Path) -> range:
    text = cell.strip().replace(" ", "")
    low, sep, high = text.partition("-")
    try:
        first, last = int(low), int(high) if sep else int(low)
    except ValueError:
        first, last = 0, 0
    if not (1 <= first <= last <= MAX_SCORE):
        raise UserError(
            f"{path}: line {line}, column '{column}': {cell!r} is not a score 1-{MAX_SCORE} "
            f"or a range like 3-4; fix: correct that cell"
        )
    return range(first, last + 1)


def _pairs_text(pairs: Sequence[tuple[int, int]], shown: int = 5) -> str:
    """Name score pairs with their verb, e.g. ``score pairs (R=1, F=1), (R=1, F=2) are``.

    Examples
    --------
    >>> _pairs_text([(1, 1)])
    'score pair (R=1, F=1) is'
    >>> _pairs_text([(1, f) for f in range(1, 8)], shown=2)
    'score pairs (R=1, F=1), (R=1, F=2) and 5 more are'
    """
    if len(pairs) == 1:
        r, f = pairs[0]
        return f"score pair (R={r}, F={f}) is"
    listed = ", ".join(f"(R={r}, F={f})" for r, f in pairs[:shown])
    more = f" and {len(pairs) - shown} more" if len(pairs) > shown else ""
    return f"score pairs {listed}{more} are"


def load_segment_map(path: str | Path = DEFAULT_SEGMENT_MAP) -> pd.DataFrame:
    """Read and check the segment map: every (R, F) score pair must name exactly one segment.

    The CSV has one row per rectangle of the R x F grid: ``r_score`` and ``f_score`` hold
    a score (``5``) or an inclusive range (``3-4``), then ``segment``, ``description`` and
    ``action``. A segment may span several rows; its description and action come from its
    first row that has them. File order is the display order of the segments.

    Parameters
    ----------
    path : str or Path, default the shipped ``helpers/segment_map.csv``
        The map to read.

    Returns
    -------
    pandas.DataFrame
        25 rows, one per (r_score, f_score), with segment, description and action.

    Raises
    ------
    UserError
        Missing file or column, a bad score cell, an empty segment name, or a score pair
        that is unmapped or mapped twice (the message names the pair and the file).
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(
            f"{path}: segment map not found; fix: set rfm.segment_map to an existing CSV"
        )
    table = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    for column in _MAP_COLUMNS:
        if column not in table.columns:
            raise UserError(
                f"{path}: column '{column}' is missing; fix: the header must be "
                f"{','.join(_MAP_COLUMNS)}"
            )
    cells: dict[tuple[int, int], tuple[int, str]] = {}
    info: dict[str, dict[str, str]] = {}
    for position, row in enumerate(table.itertuples(index=False)):
        line = position + 2  # header is line 1
        segment = str(row.segment).strip()
        if not segment:
            raise UserError(f"{path}: line {line}: empty segment name; fix: name the segment")
        seg_info = info.setdefault(segment, {"description": "", "action": ""})
        for key in ("description", "action"):
            if not seg_info[key]:
                seg_info[key] = str(getattr(row, key)).strip()
        for r in _parse_score_cell(str(row.r_score), "r_score", line, path):
            for f in _parse_score_cell(str(row.f_score), "f_score", line, path):
                if (r, f) in cells:
                    first_line, first_segment = cells[(r, f)]
                    raise UserError(
                        f"{path}: score pair (R={r}, F={f}) is mapped twice (line "
                        f"{first_line} -> {first_segment!r}, line {line} -> {segment!r}); "
                        f"fix: keep it in one row"
                    )
                cells[(r, f)] = (line, segment)
    grid = [(r, f) for r in range(1, MAX_SCORE + 1) for f in range(1, MAX_SCORE + 1)]
    unmapped = [pair for pair in grid if pair not in cells]
    if unmapped:
        raise UserError(
            f"{path}: {_pairs_text(unmapped)} not mapped to a segment; fix: add a row "
            f"(r_score,f_score,segment,description,action) that covers "
            f"{'it' if len(unmapped) == 1 else 'them'}"
        )
    order = list(info)
    segment_map = pd.DataFrame(
        [
            {"r_score": r, "f_score": f, "segment": seg, **info[seg]}
            for (r, f), (_, seg) in sorted(cells.items())
        ]
    )
    segment_map["segment"] = pd.Categorical(segment_map["segment"], categories=order)
    return segment_map


def segment_info(segment_map: pd.DataFrame) -> pd.DataFrame:
    """Return one row per segment, in map order, with its description and action."""
    first = segment_map.drop_duplicates("segment")
    info = pd.DataFrame(
        {"description": first["description"].to_numpy(), "action": first["action"].to_numpy()},
        index=pd.Index(first["segment"].astype(str).to_numpy(), name="segment"),
    )
    return info.reindex([str(s) for s in segment_map["segment"].cat.categories])


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
    transactions_path: str | Path,
    segment_map: pd.DataFrame,
    analysis_date: str | pd.Timestamp | None = None,
    method: str = "quintiles",
    cuts: Mapping[str, Sequence[float]] | None = None,
) -> pd.DataFrame:
    """Run metrics, scores and segments for one analysis date (the whole step in one call).

    Parameters
    ----------
    transactions_path : str or Path
        Cleaned transaction lines (Parquet).
    segment_map : pandas.DataFrame
        Output of `load_segment_map`.
    analysis_date, method, cuts
        See `customer_metrics` and `score_customers`.

    Returns
    -------
    pandas.DataFrame
        The `RFM_COLUMNS`, one row per customer.
    """
    customers = customer_metrics(transactions_path, analysis_date)
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
        Indexed by segment (map order): customers, customer_share, revenue, revenue_share,
        mean_r, mean_f, mean_m, median_recency_days, description, action. ``customers`` and
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
    return summary.loc[
        :,
        [
            "customers",
            "customer_share",
            "revenue",
            "revenue_share",
            "mean_r",
            "mean_f",
            "mean_m",
            "median_recency_days",
            "description",
            "action",
        ],
    ]


# Numeric columns of `segment_summary` as shown in the report, with their formats.
SEGMENT_TABLE_COLUMNS: dict[str, tuple[str, str]] = {
    "customers": ("customers", "{:,}"),
    "customer_share": ("share of customers", "{:.1%}"),
    "revenue": ("net revenue", "{:,.2f}"),
    "revenue_share": ("share of revenue", "{:.1%}"),
    "mean_r": ("mean R", "{:.2f}"),
    "mean_f": ("mean F", "{:.2f}"),
    "mean_m": ("mean M", "{:.2f}"),
    "median_recency_days": ("median recency (days)", "{:,.0f}"),
}
SEGMENT_TABLE_FORMATS: dict[str, str] = {
    label: fmt for label, fmt in SEGMENT_TABLE_COLUMNS.values()
}


def segment_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Return the numbers of `segment_summary` with readable headers, segment first.

    The text columns (description, action) are left to `segment_actions`, so this table
    stays narrow enough for a laptop screen. Show it with
    ``table_html(frame, SEGMENT_TABLE_FORMATS)``.

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of `segment_summary`.

    Returns
    -------
    pandas.DataFrame
        Columns segment, then the labels of `SEGMENT_TABLE_COLUMNS`, one row per segment.
    """
    table = summary.loc[:, list(SEGMENT_TABLE_COLUMNS)].rename(
        columns={column: label for column, (label, _) in SEGMENT_TABLE_COLUMNS.items()}
    )
    return table.rename_axis("segment").reset_index()


def segment_actions(summary: pd.DataFrame) -> pd.DataFrame:
    """Return what each segment is and what marketing should do about it.

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of `segment_summary`.

    Returns
    -------
    pandas.DataFrame
        Columns segment, customers, description and action ("suggested action"), one row
        per segment in map order.
    """
    actions = summary.loc[:, ["customers", "description", "action"]].rename(
        columns={"action": "suggested action"}
    )
    return actions.rename_axis("segment").reset_index()


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


# --------------------------------------------------------------------------------------
# Movement between two analysis dates
# --------------------------------------------------------------------------------------


def movement_cutoff(analysis_date: pd.Timestamp, movement_days: int) -> pd.Timestamp:
    """Return the earlier cut-off, ``movement_days`` before the analysis date.

    Raises
    ------
    UserError
        ``movement_days`` is not a whole number of at least 1.
    """
    if isinstance(movement_days, bool) or not isinstance(movement_days, int) or movement_days < 1:
        raise UserError(
            f"key 'rfm.movement_days': expected a whole number of days >= 1, got {movement_days!r}; "
            f"fix: use e.g. 90"
        )
    return analysis_date - pd.Timedelta(days=movement_days)


def segment_movement(before: pd.Series, after: pd.Series) -> pd.DataFrame:
    """Count customers by segment at the cut-off (rows) and now (columns).

    Parameters
    ----------
    before : pandas.Series
        Segment per customer id at the earlier cut-off.
    after : pandas.Series
        Segment per customer id at the analysis date (categorical: its categories give
        the order of rows and columns).

    Returns
    -------
    pandas.DataFrame
        Counts; rows are the segments plus ``"(new)"`` for customers without a line
        before the cut-off, columns the segments (plus ``"(gone)"`` only if a customer of
        the cut-off is missing now, which cannot happen when both come from one file).
    """
    if isinstance(after.dtype, pd.CategoricalDtype):
        segments = [str(s) for s in after.cat.categories]
    else:
        segments = list(pd.unique(pd.concat([before, after]).dropna().astype(str)))
    customers = after.index.union(before.index)
    origin = before.astype(object).reindex(customers).fillna(NEW_ORIGIN)
    destination = after.astype(object).reindex(customers).fillna(GONE_DESTINATION)
    columns = segments + ([GONE_DESTINATION] if (destination == GONE_DESTINATION).any() else [])
    counts = (
        pd.DataFrame({"origin": origin.to_numpy(), "destination": destination.to_numpy()})
        .groupby(["origin", "destination"])
        .size()
    )
    matrix = counts.unstack("destination").reindex(index=[*segments, NEW_ORIGIN], columns=columns)
    matrix = matrix.fillna(0).astype("int64")
    matrix.index.name = "segment at cut-off"
    matrix.columns.name = "segment now"
    return matrix


def share_label(share: float) -> str:
    """Write a share as a whole percentage that never hides a few customers.

    A share that rounds to 0% but is not 0 reads "<1%"; one that rounds to 100% but is
    not 1 reads ">99%".

    Examples
    --------
    >>> [share_label(s) for s in (0.0, 0.001, 0.25, 0.996, 1.0)]
    ['0%', '<1%', '25%', '>99%', '100%']
    """
    if 0 < share < 0.005:
        return "<1%"
    if 0.995 <= share < 1:
        return ">99%"
    return f"{share:.0%}"


def movement_shares(counts: pd.DataFrame) -> pd.DataFrame:
    """Divide each row of a movement matrix by its total (empty rows stay 0)."""
    totals = counts.sum(axis=1)
    return counts.div(totals.where(totals > 0), axis=0).fillna(0.0)


def biggest_flows(counts: pd.DataFrame, n: int = 5) -> pd.DataFrame:
    """List the largest moves between different segments, each with a sentence.

    Parameters
    ----------
    counts : pandas.DataFrame
        Output of `segment_movement`.
    n : int, default 5
        How many flows to keep.

    Returns
    -------
    pandas.DataFrame
        origin, destination, customers, share_of_origin and sentence, largest first (ties
        by share of origin, then matrix order); customers who stayed put are left out.
    """
    shares = movement_shares(counts)
    rows = []
    for i, origin in enumerate(counts.index):
        for j, destination in enumerate(counts.columns):
            customers = int(counts.iloc[i, j])
            if origin == destination or customers == 0:
                continue
            share = float(shares.iloc[i, j])
            who = f"{customers:,} customer{'s' if customers != 1 else ''}"
            if origin == NEW_ORIGIN:
                sentence = (
                    f"{who} new since the cut-off now in {destination} "
                    f"({share_label(share)} of new customers)."
                )
            else:
                sentence = (
                    f"{who} moved from {origin} to {destination} "
                    f"({share_label(share)} of {origin} at the cut-off)."
                )
            rows.append((origin, destination, customers, share, i, j, sentence))
    flows = pd.DataFrame(
        rows,
        columns=["origin", "destination", "customers", "share_of_origin", "_i", "_j", "sentence"],
    )
    flows = flows.sort_values(
        ["customers", "share_of_origin", "_i", "_j"], ascending=[False, False, True, True]
    )
    return flows.drop(columns=["_i", "_j"]).head(n).reset_index(drop=True)


# --------------------------------------------------------------------------------------
# Plots
# --------------------------------------------------------------------------------------


_plain = plain_text


def _compact(value: float) -> str:
    """Write an amount with a k/m/bn suffix and one decimal, dropping a trailing ".0".

    Examples
    --------
    >>> [_compact(v) for v in (0, 950, 1500, 500_000, 3_900_000, -2_000)]
    ['0', '950', '1.5k', '500k', '3.9m', '-2k']
    """
    for size, suffix in ((1e9, "bn"), (1e6, "m"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.1f}".removesuffix(".0") + suffix
    return f"{value:.0f}"


def plot_rf_grid(segmented: pd.DataFrame, segment_map: pd.DataFrame) -> Figure:
    """Draw the R x F grid twice, coloured by customers and by revenue, cells labelled with the segment.

    Parameters
    ----------
    segmented : pandas.DataFrame
        Output of `assign_segments`.
    segment_map : pandas.DataFrame
        Output of `load_segment_map` (gives the segment name of each cell).

    Returns
    -------
    matplotlib.figure.Figure
        Two heatmaps side by side.
    """
    names = segment_map.assign(segment=segment_map["segment"].astype(str)).pivot(
        index="r_score", columns="f_score", values="segment"
    )
    names = names.reindex(index=range(MAX_SCORE, 0, -1), columns=range(1, MAX_SCORE + 1))
    fig, axes = plt.subplots(1, 2, figsize=(15, 6), constrained_layout=True)
    for ax, value, cmap, fmt, whole in (
        (axes[0], "customers", "Blues", lambda v: f"{v:,.0f}", True),
        (axes[1], "revenue", "Greens", _compact, False),
    ):
        grid = rf_grid(segmented, value)
        labels = np.array(
            [
                [
                    f"{fmt(grid.iloc[i, j])}\n{_plain(names.iloc[i, j])}"
                    for j in range(grid.shape[1])
                ]
                for i in range(grid.shape[0])
            ]
        )
        # Colour-bar ticks in the cells' own style (no 1e6 offset text), whole customers.
        sns.heatmap(
            grid,
            annot=labels,
            fmt="",
            cmap=cmap,
            ax=ax,
            cbar=True,
            annot_kws={"fontsize": 8},
            cbar_kws={
                "format": FuncFormatter(lambda x, _pos, fmt=fmt: fmt(x)),
                "ticks": MaxNLocator(integer=whole),
            },
        )
        ax.set_title(f"{value.capitalize()} by R and F score")
        ax.set_xlabel("F score (frequency, 5 = most orders)")
        ax.set_ylabel("R score (recency, 5 = most recent)")
    return fig


def plot_segment_sizes(summary: pd.DataFrame) -> Figure:
    """Draw each segment's share of customers next to its share of revenue.

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of `segment_summary`.

    Returns
    -------
    matplotlib.figure.Figure
        Horizontal bars, segments in map order from the top.
    """
    positions = np.arange(len(summary))[::-1]
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(summary) + 1.5), constrained_layout=True)
    ax.barh(
        positions + 0.2, summary["customer_share"].fillna(0), height=0.4, label="share of customers"
    )
    ax.barh(
        positions - 0.2,
        summary["revenue_share"].fillna(0),
        height=0.4,
        label="share of net revenue",
    )
    ax.set_yticks(positions, [_plain(s) for s in summary.index])
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda x, _: f"{x:.0%}"))
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_title("Segment size vs revenue share")
    ax.legend(loc="lower right")
    return fig


def plot_movement(counts: pd.DataFrame) -> Figure:
    """Draw the movement matrix coloured by row share, each cell labelled count and share.

    Parameters
    ----------
    counts : pandas.DataFrame
        Output of `segment_movement`.

    Returns
    -------
    matplotlib.figure.Figure
        One heatmap: rows = segment at the cut-off, columns = segment now.
    """
    shares = movement_shares(counts)
    labels = np.array(
        [
            [
                f"{counts.iloc[i, j]:,}\n{share_label(shares.iloc[i, j])}"
                if counts.iloc[i, j]
                else ""
                for j in range(counts.shape[1])
            ]
            for i in range(counts.shape[0])
        ]
    )
    fig, ax = plt.subplots(figsize=(13, 8), constrained_layout=True)
    sns.heatmap(
        shares,
        annot=labels,
        fmt="",
        cmap="Purples",
        vmin=0,
        vmax=1,
        ax=ax,
        annot_kws={"fontsize": 7},
        cbar_kws={
            "label": "share of the row (segment at cut-off)",
            "format": FuncFormatter(lambda x, _pos: f"{x:.0%}"),
        },
    )
    ax.set_xticklabels([_plain(c) for c in counts.columns], rotation=45, ha="right")
    ax.set_yticklabels([_plain(r) for r in counts.index], rotation=0)
    ax.set_title("Customers by segment at the cut-off (rows) and now (columns)")
    return fig
