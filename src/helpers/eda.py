"""Exploratory aggregates and plots for the cleaned transactions (step 02_eda).

Two kinds of functions live here:

* Aggregates. Transaction-level work runs as DuckDB SQL that reads the Parquet written by
  01_clean directly (``read_parquet``), so it scales to files far larger than memory; each
  returns a small pandas DataFrame. Histograms of transaction-level values are binned in
  SQL too. Only customer-level tables (one row per customer) are handled in pandas.
* Plots. Each takes one of those small frames and returns ``(Figure, takeaway)``, where the
  takeaway is one plain-English sentence computed from the data. Numbers are written with
  thousands separators and no currency symbol, because the shop's currency is not known.
  When there is nothing to draw (no rows, or the export lacks the column a chart needs) a
  plot returns ``(None, sentence)``: the report shows the sentence, not an empty frame.
* Tables. `summary_table` turns a customer table into a readable summary (one row per
  column, numbers formatted by kind), used for the customer tables of 02_eda and 03_rfm.

Definitions used throughout (they follow the 01_clean output contract):

* a *purchase order* is a distinct ``invoice_id`` among lines with ``is_return = false``;
* *net revenue* is ``sum(amount)`` over all lines, so returns (negative amounts) net out;
* a customer is *active* in a month when they place a purchase order in that month;
* lines flagged ``is_outlier`` are kept, as 01_clean keeps them.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import duckdb
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter

from helpers.clean import OUTPUT_COLUMNS
from helpers.errors import UserError
from helpers.report import format_number

# The cleaned-transactions contract, named once in helpers.clean.
TRANSACTION_COLUMNS: tuple[str, ...] = OUTPUT_COLUMNS

CUSTOMER_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "orders",
    "net_revenue",
    "first_purchase",
    "last_purchase",
    "lines",
    "distinct_products",
    "return_share",
    "avg_order_value",
    "country",
)

WEEKDAY_NAMES: tuple[str, ...] = (
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
)

# A value range spanning at least this factor is drawn on a log axis when `log` is None.
LOG_SPAN = 100.0
FIGSIZE: tuple[float, float] = (9.0, 4.5)
_COLOR = "#4C72B0"
_SOURCE = "read_parquet($path)"
# Missing or blank text counts as missing.
_COUNTRY = "nullif(trim(country), '')"
_DESCRIPTION = "nullif(trim(description), '')"
_PRODUCT_KEY = f"coalesce(product_id, {_DESCRIPTION})"
# Sums of amounts are rounded so float residue (a return that cancels a purchase leaves
# 1e-14, not 0) does not pass for a tiny positive revenue on a log axis.
_AMOUNT_DECIMALS = 6
_NET_REVENUE = f"round(sum(amount), {_AMOUNT_DECIMALS})"


# --------------------------------------------------------------------------- input checks


def _query_params(
    con: duckdb.DuckDBPyConnection, path: str | Path, columns: tuple[str, ...]
) -> dict[str, str]:
    """Check the Parquet exists and has `columns`; return the SQL parameters for it."""
    text = str(path)
    is_glob = any(ch in text for ch in "*?[")
    if not is_glob and not Path(text).is_file():
        raise UserError(
            f"{text}: cleaned transactions not found; "
            f"fix: run notebooks/01_clean.ipynb first (make report)"
        )
    described = con.execute(f"DESCRIBE SELECT * FROM {_SOURCE}", {"path": text}).df()
    present = set(described["column_name"])
    for column in columns:
        if column not in present:
            raise UserError(
                f"{text}: column '{column}' is missing; fix: re-run 01_clean, which writes "
                f"{', '.join(TRANSACTION_COLUMNS)}"
            )
    return {"path": text}


def _check_positive(name: str, value: int) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


# --------------------------------------------------------------------------- formatting


_fmt = format_number  # sentence formatting shared with the other steps


def _fmt_number(value: float, decimals: int = 1) -> str:
    """Format a count or a number of days: at most `decimals` decimals, none when whole.

    Examples
    --------
    >>> [_fmt_number(v) for v in (4324.0, 2.5, 25.545055, -0.01)]
    ['4,324', '2.5', '25.5', '0']
    """
    rounded = round(float(value), decimals) + 0.0  # + 0.0 turns -0.0 into 0.0
    if rounded.is_integer():
        return f"{rounded:,.0f}"
    return f"{rounded:,.{decimals}f}"


def _fmt_median(value: float, integer: bool) -> str:
    """Format an exact median: whole-number data as a count, other data with 2 decimals."""
    return _fmt_number(value) if integer else f"{float(value):,.2f}"


def _pct(share: float) -> str:
    """Format a share as a percentage with one decimal below 10%."""
    if share is None or not math.isfinite(share):
        return "n/a"
    return f"{share:.1%}" if abs(share) < 0.1 and share != 0 else f"{share:.0%}"


def _number_axis(axis, log: bool = False, counts: bool = False) -> None:
    """Label an axis with plain numbers (thousands separators), also on a log scale.

    `counts` keeps the ticks on whole numbers (no "1.5 orders").
    """
    if log:
        axis.set_minor_formatter(NullFormatter())
    elif counts:
        axis.set_major_locator(MaxNLocator(integer=True))
    axis.set_major_formatter(FuncFormatter(lambda x, _pos: _fmt(x)))


def _count(n: int, plural: str) -> str:
    """Write a count with its noun, singular for 1: ``_count(1, "orders") == "1 order"``."""
    noun = plural[:-1] if n == 1 and plural.endswith("s") else plural
    return f"{n:,} {noun}"


def _no_chart(message: str) -> tuple[None, str]:
    """Return no figure and `message`, for a chart with nothing to draw.

    An empty frame with a sentence in it would only take space in the report; the
    notebook's ``plt.show()`` shows nothing and the sentence becomes the takeaway.
    """
    return None, message


def _heatmap(data: pd.DataFrame, ax, **kwargs) -> None:
    """Draw a seaborn heatmap without its matplotlib 3.11 deprecation notice (seaborn 0.13.2)."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="The set_bad function", category=PendingDeprecationWarning
        )
        sns.heatmap(data, ax=ax, **kwargs)


def _wants_log(values: np.ndarray) -> bool:
    """Return True when the positive values span at least `LOG_SPAN` (a skewed range)."""
    positive = values[np.isfinite(values) & (values > 0)]
    return positive.size > 0 and positive.max() / positive.min() >= LOG_SPAN


# --------------------------------------------------------------------------- overview


def overview(con: duckdb.DuckDBPyConnection, path: str | Path) -> pd.DataFrame:
    """Count lines, customers, orders, products and countries in the cleaned transactions.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Connection used to run the SQL.
    path : str or Path
        Cleaned transactions Parquet written by 01_clean.

    Returns
    -------
    pandas.DataFrame
        One row: lines, customers, purchase_orders, products, countries, first_date,
        last_date, net_revenue, return_lines, outlier_lines.
    """
    params = _query_params(con, path, TRANSACTION_COLUMNS)
    # One DISTINCT subquery per count instead of four count(DISTINCT) in one aggregate:
    # at 100M lines 6.5 s and 0.6 GiB instead of 11.9 s and 9.7 GiB (bench, 2 cores).
    sql = f"""
        WITH totals AS (
            SELECT count(*) AS lines,
                   min(invoice_date) AS first_date,
                   max(invoice_date) AS last_date,
                   coalesce({_NET_REVENUE}, 0) AS net_revenue,
                   count(*) FILTER (WHERE is_return) AS return_lines,
                   count(*) FILTER (WHERE is_outlier) AS outlier_lines
            FROM {_SOURCE}
        ),
        customers AS (SELECT count(v) AS n FROM (SELECT DISTINCT customer_id AS v FROM {_SOURCE})),
        orders AS (SELECT count(v) AS n FROM (SELECT DISTINCT invoice_id AS v FROM {_SOURCE} WHERE NOT is_return)),
        products AS (SELECT count(v) AS n FROM (SELECT DISTINCT {_PRODUCT_KEY} AS v FROM {_SOURCE})),
        countries AS (SELECT count(v) AS n FROM (SELECT DISTINCT {_COUNTRY} AS v FROM {_SOURCE}))
        SELECT totals.lines, customers.n AS customers, orders.n AS purchase_orders,
               products.n AS products, countries.n AS countries, totals.first_date, totals.last_date,
               totals.net_revenue, totals.return_lines, totals.outlier_lines
        FROM totals, customers, orders, products, countries
    """
    return con.execute(sql, params).df()


def overview_table(overview_frame: pd.DataFrame) -> pd.DataFrame:
    """Turn the one-row `overview` into a readable two-column table of formatted figures.

    Examples
    --------
    >>> overview_table(pd.DataFrame({"lines": [1200], "net_revenue": [1234.5]}))["value"].tolist()
    ['1,200', '1,234.50']
    """
    if overview_frame.empty:
        return pd.DataFrame({"figure": [], "value": []})
    row = overview_frame.iloc[0]
    values = []
    for name, value in row.items():
        if isinstance(value, (pd.Timestamp, np.datetime64)) or "date" in str(name):
            values.append("" if pd.isna(value) else str(pd.Timestamp(value)))
        elif name == "net_revenue":
            values.append(f"{float(value):,.2f}")
        else:
            values.append(f"{int(value):,}")
    return pd.DataFrame({"figure": [str(n).replace("_", " ") for n in row.index], "value": values})


# --------------------------------------------------------------------------- summary tables

SUMMARY_KINDS: tuple[str, ...] = ("money", "count", "days", "share", "date")

# Customer-table columns of `customer_summary`: label shown and kind of number.
CUSTOMER_SUMMARY_COLUMNS: dict[str, tuple[str, str]] = {
    "orders": ("purchase orders", "count"),
    "net_revenue": ("net revenue", "money"),
    "avg_order_value": ("average order value", "money"),
    "lines": ("lines", "count"),
    "distinct_products": ("distinct products", "count"),
    "return_share": ("share of lines that are returns", "share"),
    "first_purchase": ("first purchase", "date"),
    "last_purchase": ("last purchase", "date"),
}


def _quantile_label(q: float) -> str:
    return "median" if q == 0.5 else f"P{round(q * 100):g}"


def _format_stat(value: object, kind: str) -> str:
    """Format one summary statistic by the kind of its column; blank when missing."""
    if value is None or pd.isna(value):
        return ""
    if kind == "date":
        return f"{pd.Timestamp(value):%Y-%m-%d}"
    if kind == "money":
        return f"{float(value):,.2f}"
    if kind == "share":
        return f"{float(value):.1%}"
    return _fmt_number(float(value))


def summary_table(
    frame: pd.DataFrame,
    columns: dict[str, tuple[str, str]],
    quantiles: tuple[float, float] = (0.25, 0.75),
    entity: str = "customers",
) -> pd.DataFrame:
    """Summarise columns of a one-row-per-entity table as readable text, one row per column.

    Each row gives how many rows have a value, then min, lower quantile, median, upper
    quantile and max (exact values, linear interpolation between neighbours). Numbers are
    formatted by kind: ``money`` with 2 decimals, ``count`` and ``days`` with at most one
    decimal, ``share`` as a percentage, all with thousands separators; ``date`` columns
    show only their first and last date (a mean or median date says little).

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per customer (or other entity).
    columns : dict of str to (str, str)
        Column -> (label shown, kind), kind one of `SUMMARY_KINDS`; table order.
    quantiles : (float, float), default (0.25, 0.75)
        Lower and upper quantile, e.g. (0.2, 0.8) for quintile boundaries.
    entity : str, default "customers"
        What a row is, for the count column ("customers with a value").

    Returns
    -------
    pandas.DataFrame
        Text columns metric, ``<entity> with a value``, min, P25, median, P75, max.

    Raises
    ------
    ValueError
        A column that is not in `frame`, or an unknown kind.

    Examples
    --------
    >>> frame = pd.DataFrame({"orders": [1, 3, 5, 7], "spend": [10.0, 20.0, 30.5, None]})
    >>> table = summary_table(frame, {"orders": ("orders", "count"), "spend": ("spend", "money")})
    >>> table.iloc[0].tolist()
    ['orders', '4', '1', '2.5', '4', '5.5', '7']
    >>> table.iloc[1].tolist()
    ['spend', '3', '10.00', '15.00', '20.00', '25.25', '30.50']
    """
    low, high = quantiles
    count_header = f"{entity} with a value"
    headers = ["metric", count_header, "min", _quantile_label(low), "median"]
    headers += [_quantile_label(high), "max"]
    rows = []
    for column, (label, kind) in columns.items():
        if column not in frame.columns:
            raise ValueError(
                f"column '{column}' not in the table; choose from {list(frame.columns)}"
            )
        if kind not in SUMMARY_KINDS:
            raise ValueError(f"kind {kind!r} of column '{column}' is not one of {SUMMARY_KINDS}")
        values = frame[column].dropna()
        if kind == "date":
            stats = [values.min(), None, None, None, values.max()] if len(values) else [None] * 5
        else:
            numbers = values.astype("float64")
            stats = [numbers.min(), *numbers.quantile([low, 0.5, high]), numbers.max()]
        rows.append([label, f"{len(values):,}", *(_format_stat(v, kind) for v in stats)])
    return pd.DataFrame(rows, columns=headers)


def customer_table_summary(customers: pd.DataFrame) -> pd.DataFrame:
    """Summarise the customer table of `customer_summary` as readable text (see `summary_table`).

    Parameters
    ----------
    customers : pandas.DataFrame
        Output of `customer_summary`.

    Returns
    -------
    pandas.DataFrame
        One row per column of `CUSTOMER_SUMMARY_COLUMNS` with quartiles.
    """
    return summary_table(customers, CUSTOMER_SUMMARY_COLUMNS, quantiles=(0.25, 0.75))


# --------------------------------------------------------------------------- monthly


def monthly_summary(con: duckdb.DuckDBPyConnection, path: str | Path) -> pd.DataFrame:
    """Sum net revenue and count purchase orders and active customers per calendar month.

    Months between the first and last month without any line appear with zeros, so the
    series has no silent gaps.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Connection used to run the SQL.
    path : str or Path
        Cleaned transactions Parquet written by 01_clean.

    Returns
    -------
    pandas.DataFrame
        Columns month (first day, Timestamp), net_revenue (all lines, returns netted),
        orders (distinct purchase invoices) and active_customers (customers with a purchase
        order that month), one row per month in date order; empty when there are no lines.
    """
    params = _query_params(
        con, path, ("customer_id", "invoice_id", "invoice_date", "amount", "is_return")
    )
    sql = f"""
        WITH by_month AS (
            SELECT date_trunc('month', invoice_date) AS month,
                   {_NET_REVENUE} AS net_revenue,
                   count(DISTINCT invoice_id) FILTER (WHERE NOT is_return) AS orders,
                   count(DISTINCT customer_id) FILTER (WHERE NOT is_return) AS active_customers
            FROM {_SOURCE}
            WHERE invoice_date IS NOT NULL
            GROUP BY month
        ),
        months AS (
            SELECT unnest(generate_series(min(month), max(month), INTERVAL 1 MONTH)) AS month
            FROM by_month
        )
        SELECT months.month,
               coalesce(by_month.net_revenue, 0) AS net_revenue,
               coalesce(by_month.orders, 0) AS orders,
               coalesce(by_month.active_customers, 0) AS active_customers
        FROM months LEFT JOIN by_month USING (month)
        ORDER BY months.month
    """
    return con.execute(sql, params).df()


def plot_monthly(monthly: pd.DataFrame) -> tuple[Figure | None, str]:
    """Plot net revenue, orders and active customers per month in three stacked panels.

    Parameters
    ----------
    monthly : pandas.DataFrame
        Output of `monthly_summary`.

    Returns
    -------
    (Figure or None, str)
        The figure and a sentence naming the top month and its share of net revenue.
    """
    title = "Net revenue, orders and active customers per month"
    if monthly.empty:
        return _no_chart("There are no transactions, so there is no monthly trend.")
    fig, axes = plt.subplots(3, 1, figsize=(FIGSIZE[0], 6.5), sharex=True, layout="constrained")
    panels = (
        ("net_revenue", "Net revenue"),
        ("orders", "Orders"),
        ("active_customers", "Active customers"),
    )
    for ax, (column, label) in zip(axes, panels, strict=True):
        ax.plot(monthly["month"], monthly[column], marker="o", color=_COLOR)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        _number_axis(ax.yaxis, counts=column != "net_revenue")
    axes[0].set_title(title)
    axes[-1].set_xlabel("Month")
    axes[-1].xaxis.set_major_formatter(mdates.DateFormatter("%b %Y"))
    fig.autofmt_xdate()

    top = monthly.loc[monthly["net_revenue"].idxmax()]
    total = monthly["net_revenue"].sum()
    share = f" ({_pct(top['net_revenue'] / total)} of the total)" if total > 0 else ""
    takeaway = (
        f"{top['month']:%B %Y} was the top month with {_fmt(top['net_revenue'])} "
        f"net revenue{share}."
    )
    return fig, takeaway


# --------------------------------------------------------------------------- histograms


def _bin_edges(lo: float, hi: float, bins: int, log: bool, integer: bool) -> np.ndarray:
    """Return histogram edges from `lo` to `hi`; integer data gets whole-number bins."""
    if integer:
        # Bins centred on whole numbers, so no bin is empty only because it holds no integer.
        spaced = np.geomspace(lo, hi + 1, bins + 1) if log else np.linspace(lo, hi + 1, bins + 1)
        return np.unique(np.round(spaced)) - 0.5
    if hi == lo:
        if log:
            return np.array([lo / 1.1, lo * 1.1])
        pad = max(abs(lo) * 0.1, 0.5)
        return np.array([lo - pad, lo + pad])
    return np.geomspace(lo, hi, bins + 1) if log else np.linspace(lo, hi, bins + 1)


def _histogram_frame(
    edges: np.ndarray,
    counts: np.ndarray,
    nonpositive: int,
    log: bool,
    integer: bool,
    median: float,
) -> pd.DataFrame:
    """Assemble bins as a frame; on a log scale values <= 0 get one leading (-inf, 0] row.

    ``attrs`` keeps ``log_scale``, ``integer`` and the exact ``median`` of every binned
    value, so a sentence about the median never has to guess it from the bins.
    """
    hist = pd.DataFrame(
        {"bin_left": edges[:-1], "bin_right": edges[1:], "count": counts.astype("int64")}
    )
    if log and nonpositive:
        head = pd.DataFrame({"bin_left": [-np.inf], "bin_right": [0.0], "count": [nonpositive]})
        hist = pd.concat([head, hist], ignore_index=True)
    hist["count"] = hist["count"].astype("int64")
    hist.attrs = {"log_scale": bool(log), "integer": bool(integer), "median": float(median)}
    return hist


def _empty_histogram() -> pd.DataFrame:
    hist = pd.DataFrame(
        {
            "bin_left": pd.Series(dtype="float64"),
            "bin_right": pd.Series(dtype="float64"),
            "count": pd.Series(dtype="int64"),
        }
    )
    hist.attrs = {"log_scale": False, "integer": False, "median": None}
    return hist


def _sql_histogram(
    con: duckdb.DuckDBPyConnection,
    values_sql: str,
    params: dict[str, str],
    bins: int,
    log: bool | None,
) -> pd.DataFrame:
    """Bin the column `v` of `values_sql` in DuckDB; only the bin counts come back."""
    _check_positive("bins", bins)
    stats_sql = f"""
        WITH vals AS ({values_sql})
        SELECT count(v), min(v), max(v), min(v) FILTER (WHERE v > 0), max(v) FILTER (WHERE v > 0),
               bool_and(v = round(v)), median(v)
        FROM vals WHERE v IS NOT NULL AND isfinite(v)
    """
    n, lo, hi, lo_pos, hi_pos, integer, median = con.execute(stats_sql, params).fetchall()[0]
    if n == 0:
        return _empty_histogram()
    if log is None:
        log = lo_pos is not None and hi_pos / lo_pos >= LOG_SPAN
    if log and lo_pos is None:
        # Nothing can be drawn on a log axis; keep the counts in the (-inf, 0] row.
        return _histogram_frame(
            np.array([]), np.array([], dtype="int64"), n, True, bool(integer), median
        )
    start, stop = (lo_pos, hi_pos) if log else (lo, hi)
    edges = _bin_edges(start, stop, bins, log, bool(integer))
    count_sql = f"""
        WITH vals AS ({values_sql})
        SELECT histogram(v, $edges) FILTER (WHERE NOT $log OR v > 0),
               count(*) FILTER (WHERE $log AND v <= 0)
        FROM vals WHERE v IS NOT NULL AND isfinite(v)
    """
    by_edge, nonpositive = con.execute(
        count_sql, {**params, "edges": [float(e) for e in edges[1:]], "log": bool(log)}
    ).fetchall()[0]
    # DuckDB keys each bin by its right edge; values above the last edge (float noise) join it.
    by_edge = by_edge or {}
    counts = np.array([by_edge.get(float(e), 0) for e in edges[1:]], dtype="int64")
    counts[-1] += sum(c for edge, c in by_edge.items() if edge > edges[-1])
    return _histogram_frame(edges, counts, nonpositive, log, bool(integer), median)


def _orders_sql() -> str:
    """SQL for one row per purchase order: time, value and items."""
    return f"""
        SELECT invoice_id, min(invoice_date) AS ordered_at,
               {_NET_REVENUE} AS order_value, sum(quantity) AS items
        FROM {_SOURCE}
        WHERE NOT is_return AND invoice_id IS NOT NULL
        GROUP BY invoice_id
    """


def order_value_histogram(
    con: duckdb.DuckDBPyConnection, path: str | Path, bins: int = 40, log: bool | None = None
) -> pd.DataFrame:
    """Bin the value of purchase orders (sum of their lines' amount) in SQL.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Connection used to run the SQL.
    path : str or Path
        Cleaned transactions Parquet written by 01_clean.
    bins : int, default 40
        Number of bins (fewer for whole-number data with a small range).
    log : bool, optional
        Log-spaced bins. None picks log when positive values span at least `LOG_SPAN`.

    Returns
    -------
    pandas.DataFrame
        Columns bin_left, bin_right, count; bins are right-closed ``(left, right]`` with
        the lowest value in the first bin. On a log scale a leading ``(-inf, 0]`` row counts
        values <= 0. ``attrs`` holds ``log_scale``, ``integer`` and the exact ``median`` of
        the values. Empty without orders.
    """
    params = _query_params(
        con, path, ("invoice_id", "invoice_date", "amount", "quantity", "is_return")
    )
    values_sql = f"SELECT order_value AS v FROM ({_orders_sql()})"
    return _sql_histogram(con, values_sql, params, bins, log)


def items_per_order_histogram(
    con: duckdb.DuckDBPyConnection, path: str | Path, bins: int = 40, log: bool | None = None
) -> pd.DataFrame:
    """Bin the number of items (sum of quantity) per purchase order in SQL.

    Orders whose lines carry no quantity (shops that export amounts only) are left out.
    When there are purchase orders but none has a quantity, the empty frame says so in
    ``attrs["empty_reason"]``, which `plot_histogram` shows instead of a chart.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Connection used to run the SQL.
    path : str or Path
        Cleaned transactions Parquet written by 01_clean.
    bins : int, default 40
        Number of bins (fewer for whole-number data with a small range).
    log : bool, optional
        Log-spaced bins. None picks log when positive values span at least `LOG_SPAN`.

    Returns
    -------
    pandas.DataFrame
        Same layout as `order_value_histogram`; empty when no order has a quantity.
    """
    params = _query_params(
        con, path, ("invoice_id", "invoice_date", "amount", "quantity", "is_return")
    )
    values_sql = f"SELECT items AS v FROM ({_orders_sql()})"
    hist = _sql_histogram(con, values_sql, params, bins, log)
    if hist.empty:
        (orders,) = con.execute(f"SELECT count(*) FROM ({_orders_sql()})", params).fetchall()[0]
        if orders:
            hist.attrs["empty_reason"] = (
                f"The export has no quantities, so items per order cannot be counted "
                f"(its {_count(int(orders), 'purchase orders')} carry amounts only)."
            )
    return hist


def customer_histogram(
    customers: pd.DataFrame, column: str, bins: int = 40, log: bool | None = None
) -> pd.DataFrame:
    """Bin one numeric column of the customer table (pandas; one row per customer).

    Parameters
    ----------
    customers : pandas.DataFrame
        Output of `customer_summary`.
    column : str
        Numeric column to bin, e.g. ``"net_revenue"`` or ``"orders"``.
    bins : int, default 40
        Number of bins (fewer for whole-number data with a small range).
    log : bool, optional
        Log-spaced bins. None picks log when positive values span at least `LOG_SPAN`.

    Returns
    -------
    pandas.DataFrame
        Same layout and bin rule as `order_value_histogram`.

    Examples
    --------
    >>> customer_histogram(pd.DataFrame({"orders": [1, 1, 2]}), "orders")["count"].tolist()
    [2, 1]
    """
    _check_positive("bins", bins)
    if column not in customers.columns:
        raise ValueError(
            f"column '{column}' not in the customer table; choose one of {list(customers.columns)}"
        )
    values = pd.to_numeric(customers[column], errors="raise").to_numpy(
        dtype="float64", na_value=np.nan
    )
    values = values[np.isfinite(values)]
    if values.size == 0:
        return _empty_histogram()
    integer = bool(np.all(values == np.round(values)))
    median = float(np.median(values))
    if log is None:
        log = _wants_log(values)
    positive = values[values > 0]
    nonpositive = int((values <= 0).sum()) if log else 0
    if log and positive.size == 0:
        return _histogram_frame(
            np.array([]), np.array([], dtype="int64"), nonpositive, True, integer, median
        )
    shown = positive if log else values
    edges = _bin_edges(shown.min(), shown.max(), bins, log, integer)
    # Right-closed bins with the lowest value in the first bin: the same rule as DuckDB's histogram.
    index = np.clip(np.searchsorted(edges[1:], shown, side="left"), 0, len(edges) - 2)
    counts = np.bincount(index, minlength=len(edges) - 1)
    return _histogram_frame(edges, counts, nonpositive, log, integer, median)


def _median_bin_text(left: float, right: float, integer: bool) -> str:
    if integer:
        lo, hi = math.ceil(left), math.floor(right)
        return f"is {_fmt(lo)}" if lo == hi else f"lies in the bin {_fmt(lo)} to {_fmt(hi)}"
    return f"lies in the bin {_fmt(left)} to {_fmt(right)}"


def plot_histogram(
    hist: pd.DataFrame, value_label: str, count_label: str, title: str | None = None
) -> tuple[Figure | None, str]:
    """Draw a binned histogram (log x axis when the bins are log-spaced).

    Parameters
    ----------
    hist : pandas.DataFrame
        Output of `order_value_histogram`, `items_per_order_histogram` or
        `customer_histogram`.
    value_label : str
        What is binned, e.g. ``"order value"``; used for the x axis and the sentence.
    count_label : str
        What is counted, plural, e.g. ``"orders"``.
    title : str, optional
        Figure title; default "Distribution of <value_label>".

    Returns
    -------
    (Figure or None, str)
        The figure and a sentence giving the exact median (``attrs["median"]``; whole
        numbers as counts, other values with 2 decimals). Without values: None and
        ``attrs["empty_reason"]`` when the frame has one (e.g. the export has no
        quantities), else "There are no <count_label> to show.".
    """
    title = title or f"Distribution of {value_label}"
    total = int(hist["count"].sum()) if not hist.empty else 0
    if total == 0:
        return _no_chart(hist.attrs.get("empty_reason") or f"There are no {count_label} to show.")
    log = bool(hist.attrs.get("log_scale", False))
    integer = bool(hist.attrs.get("integer", False))
    shown = hist[np.isfinite(hist["bin_left"])]
    nonpositive = total - int(shown["count"].sum())

    fig, ax = plt.subplots(figsize=FIGSIZE, layout="constrained")
    if not shown.empty:
        ax.bar(
            shown["bin_left"],
            shown["count"],
            width=shown["bin_right"] - shown["bin_left"],
            align="edge",
            color=_COLOR,
            edgecolor="white",
            linewidth=0.5,
        )
    if log:
        ax.set_xscale("log")
    _number_axis(ax.xaxis, log, counts=integer)
    _number_axis(ax.yaxis, counts=True)
    axis_note = " (log scale)" if log else ""
    ax.set_xlabel(f"{value_label[:1].upper()}{value_label[1:]}{axis_note}")
    ax.set_ylabel(f"Number of {count_label}")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)

    exact = hist.attrs.get("median")
    if exact is not None and math.isfinite(exact):
        median = f"is {_fmt_median(exact, integer)}"
    else:
        # A frame built without its values: all we know is the bin holding the median.
        cumulative = hist["count"].cumsum()
        median_row = hist.loc[(cumulative >= total / 2).idxmax()]
        if not np.isfinite(median_row["bin_left"]):
            median = "is 0 or less"
        else:
            median = _median_bin_text(median_row["bin_left"], median_row["bin_right"], integer)
    hidden = (
        f", and {nonpositive:,} at 0 or less are not shown on the log axis" if nonpositive else ""
    )
    takeaway = f"The median {value_label} {median} across {_count(total, count_label)}{hidden}."
    return fig, takeaway


# --------------------------------------------------------------------------- countries


def country_summary(con: duckdb.DuckDBPyConnection, path: str | Path) -> pd.DataFrame:
    """Sum net revenue, customers and orders per country (missing country = "Unknown").

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Connection used to run the SQL.
    path : str or Path
        Cleaned transactions Parquet written by 01_clean.

    Returns
    -------
    pandas.DataFrame
        Columns country, net_revenue, customers (with any line there), orders (purchase
        orders), revenue_share (of total net revenue; NaN when that total is 0) and
        customer_share (of all distinct customers), sorted by net revenue, largest first.
        A customer buying from two countries counts in both.
    """
    params = _query_params(
        con, path, ("customer_id", "invoice_id", "country", "amount", "is_return")
    )
    country = f"coalesce({_COUNTRY}, 'Unknown')"
    # Distinct counts as DISTINCT pairs counted per country, each subquery reading the file
    # itself: at 100M lines this took a fraction of count(DISTINCT ...) over a shared CTE.
    sql = f"""
        WITH revenue AS (
            SELECT {country} AS country, sum(amount) AS revenue
            FROM {_SOURCE}
            GROUP BY 1
        ),
        reach AS (
            SELECT country, count(*) AS customers
            FROM (SELECT DISTINCT {country} AS country, customer_id FROM {_SOURCE}) AS pairs
            GROUP BY country
        ),
        orders AS (
            SELECT country, count(*) AS orders
            FROM (SELECT DISTINCT {country} AS country, invoice_id FROM {_SOURCE}
                  WHERE NOT is_return AND invoice_id IS NOT NULL) AS pairs
            GROUP BY country
        ),
        totals AS (
            SELECT round(sum(revenue), {_AMOUNT_DECIMALS}) AS revenue,
                   (SELECT count(*) FROM (SELECT DISTINCT customer_id FROM {_SOURCE}) AS ids) AS customers
            FROM revenue
        )
        SELECT revenue.country,
               round(revenue.revenue, {_AMOUNT_DECIMALS}) AS net_revenue,
               reach.customers,
               coalesce(orders.orders, 0) AS orders,
               round(revenue.revenue, {_AMOUNT_DECIMALS}) / nullif(totals.revenue, 0) AS revenue_share,
               reach.customers / totals.customers AS customer_share
        FROM revenue
        JOIN reach USING (country)
        LEFT JOIN orders USING (country)
        CROSS JOIN totals
        ORDER BY net_revenue DESC, revenue.country
    """
    return con.execute(sql, params).df()


def _barh(
    ax, labels: pd.Series, values: pd.Series, xlabel: str, title: str, counts: bool = False
) -> None:
    """Draw horizontal bars with the first row at the top."""
    positions = np.arange(len(labels))
    bars = ax.barh(positions, values, color=_COLOR)
    ax.set_yticks(positions, labels=list(labels))
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    # Value labels keep small bars readable when one bar dominates the axis.
    ax.bar_label(bars, labels=[_fmt(v) for v in values], padding=2, fontsize=8)
    ax.margins(x=0.18)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=4, integer=counts))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: _fmt(x)))


def plot_top_countries(countries: pd.DataFrame, n: int = 10) -> tuple[Figure | None, str]:
    """Bar-chart the top `n` countries by net revenue and, separately, by customers.

    Parameters
    ----------
    countries : pandas.DataFrame
        Output of `country_summary`.
    n : int, default 10
        Bars per panel.

    Returns
    -------
    (Figure or None, str)
        The figure and a sentence on the top country's share of revenue and customers.
    """
    _check_positive("n", n)
    title = f"Top {n} countries"
    if countries.empty:
        return _no_chart("There are no transactions, so there are no countries to rank.")
    fig, (ax_revenue, ax_customers) = plt.subplots(1, 2, figsize=FIGSIZE, layout="constrained")
    by_revenue = countries.sort_values(["net_revenue", "country"], ascending=[False, True]).head(n)
    by_customers = countries.sort_values(["customers", "country"], ascending=[False, True]).head(n)
    _barh(
        ax_revenue,
        by_revenue["country"],
        by_revenue["net_revenue"],
        "Net revenue",
        "By net revenue",
    )
    _barh(
        ax_customers,
        by_customers["country"],
        by_customers["customers"],
        "Customers",
        "By customers",
        counts=True,
    )
    ax_revenue.set_ylabel("Country")
    fig.suptitle(title)

    top = by_revenue.iloc[0]
    revenue_share = (
        f" ({_pct(top['revenue_share'])} of the total)" if pd.notna(top["revenue_share"]) else ""
    )
    takeaway = (
        f"{top['country']} is the top country with {_fmt(top['net_revenue'])} net revenue"
        f"{revenue_share} and {_count(int(top['customers']), 'customers')} "
        f"({_pct(top['customer_share'])})."
    )
    return fig, takeaway


# --------------------------------------------------------------------------- products


def top_products(con: duckdb.DuckDBPyConnection, path: str | Path, n: int = 10) -> pd.DataFrame:
    """Rank products by net revenue in SQL and return the top `n` with a description.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Connection used to run the SQL.
    path : str or Path
        Cleaned transactions Parquet written by 01_clean.
    n : int, default 10
        Number of products returned.

    Returns
    -------
    pandas.DataFrame
        Columns product_id (the description when the shop has no product ids),
        description (most frequent non-blank one; missing when all are blank), net_revenue,
        revenue_share, quantity, orders, customers; largest net revenue first. When there
        are lines but none has a product id or description, the empty frame says so in
        ``attrs["empty_reason"]``.
    """
    _check_positive("n", n)
    params = _query_params(
        con,
        path,
        (
            "customer_id",
            "invoice_id",
            "product_id",
            "description",
            "quantity",
            "amount",
            "is_return",
        ),
    )
    # Each part reads the file itself: a CTE over all lines referenced three times made
    # DuckDB materialise 100M lines (39 s; now a fraction of that, bench/run.py --report).
    sql = f"""
        WITH totals AS (SELECT {_NET_REVENUE} AS revenue FROM {_SOURCE}),
        ranked AS (
            SELECT {_PRODUCT_KEY} AS product_id, {_NET_REVENUE} AS net_revenue, sum(quantity) AS quantity
            FROM {_SOURCE}
            WHERE {_PRODUCT_KEY} IS NOT NULL
            GROUP BY 1
            ORDER BY net_revenue DESC, product_id
            LIMIT $n
        ),
        -- Distinct counts only over the top products' lines: they are the costly part.
        top_lines AS (
            SELECT {_PRODUCT_KEY} AS product_id, {_DESCRIPTION} AS description,
                   customer_id, invoice_id, is_return
            FROM {_SOURCE}
            WHERE {_PRODUCT_KEY} IN (SELECT product_id FROM ranked)
        ),
        reach AS (
            SELECT product_id,
                   count(DISTINCT invoice_id) FILTER (WHERE NOT is_return) AS orders,
                   count(DISTINCT customer_id) AS customers
            FROM top_lines
            GROUP BY product_id
        ),
        descriptions AS (
            SELECT product_id, description, count(*) AS n_lines
            FROM top_lines
            WHERE description IS NOT NULL
            GROUP BY product_id, description
        ),
        labels AS (
            SELECT product_id, first(description ORDER BY n_lines DESC, description) AS description
            FROM descriptions
            GROUP BY product_id
        )
        SELECT ranked.product_id, labels.description, ranked.net_revenue,
               ranked.net_revenue / nullif(totals.revenue, 0) AS revenue_share,
               ranked.quantity, reach.orders, reach.customers
        FROM ranked
        JOIN reach USING (product_id)
        LEFT JOIN labels USING (product_id)
        CROSS JOIN totals
        ORDER BY ranked.net_revenue DESC, ranked.product_id
    """
    products = con.execute(sql, {**params, "n": int(n)}).df()
    if products.empty:
        (lines,) = con.execute(f"SELECT count(*) FROM {_SOURCE}", params).fetchall()[0]
        if lines:
            products.attrs["empty_reason"] = (
                "The export has no product ids (nor descriptions), so products cannot be ranked."
            )
    return products


def _product_label(product_id: str, description: object, width: int = 40) -> str:
    """Label a product by its description, else its id, shortened to `width` characters."""
    label = (
        str(description)
        if isinstance(description, str) and description.strip()
        else str(product_id)
    )
    return label if len(label) <= width else label[: width - 1] + "…"


def plot_top_products(products: pd.DataFrame) -> tuple[Figure | None, str]:
    """Bar-chart the products of `top_products`, labelled with their description.

    Parameters
    ----------
    products : pandas.DataFrame
        Output of `top_products`.

    Returns
    -------
    (Figure or None, str)
        The figure and a sentence on the top product and the top products' combined share;
        without products None and ``attrs["empty_reason"]`` or "There are no products to rank.".
    """
    title = f"Top {len(products)} products by net revenue"
    if products.empty:
        return _no_chart(products.attrs.get("empty_reason") or "There are no products to rank.")
    labels = [
        _product_label(pid, desc)
        for pid, desc in zip(products["product_id"], products["description"], strict=True)
    ]
    height = max(FIGSIZE[1], 0.35 * len(products) + 1.2)
    fig, ax = plt.subplots(figsize=(FIGSIZE[0], height), layout="constrained")
    _barh(ax, pd.Series(labels), products["net_revenue"], "Net revenue", title)
    ax.set_ylabel("Product")

    top = products.iloc[0]
    name = _product_label(top["product_id"], top["description"], width=60)
    share = products["revenue_share"]
    if share.notna().all():
        together = (
            f"; the top {len(products)} together bring {_pct(share.sum())} of net revenue"
            if len(products) > 1
            else ""
        )
        own = f" ({_pct(top['revenue_share'])})"
    else:
        together, own = "", ""
    takeaway = (
        f"The top product is '{name}' with {_fmt(top['net_revenue'])} net revenue{own}{together}."
    )
    return fig, takeaway


# --------------------------------------------------------------------------- order timing


def orders_by_weekday(con: duckdb.DuckDBPyConnection, path: str | Path) -> pd.DataFrame:
    """Count purchase orders per day of the week (order time = its earliest line).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Connection used to run the SQL.
    path : str or Path
        Cleaned transactions Parquet written by 01_clean.

    Returns
    -------
    pandas.DataFrame
        Seven rows, Monday first: weekday (0 = Monday), day_name, orders (0 when none).
    """
    params = _query_params(
        con, path, ("invoice_id", "invoice_date", "amount", "quantity", "is_return")
    )
    sql = f"""
        WITH counts AS (
            SELECT isodow(ordered_at) AS iso_day, count(*) AS orders
            FROM ({_orders_sql()}) WHERE ordered_at IS NOT NULL
            GROUP BY iso_day
        )
        SELECT days.iso_day - 1 AS weekday, coalesce(counts.orders, 0) AS orders
        FROM range(1, 8) AS days(iso_day) LEFT JOIN counts USING (iso_day)
        ORDER BY weekday
    """
    frame = con.execute(sql, params).df()
    frame.insert(1, "day_name", [WEEKDAY_NAMES[d] for d in frame["weekday"]])
    return frame


def orders_by_hour(con: duckdb.DuckDBPyConnection, path: str | Path) -> pd.DataFrame:
    """Count purchase orders per hour of the day (order time = its earliest line).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Connection used to run the SQL.
    path : str or Path
        Cleaned transactions Parquet written by 01_clean.

    Returns
    -------
    pandas.DataFrame
        24 rows: hour (0-23) and orders (0 when none).
    """
    params = _query_params(
        con, path, ("invoice_id", "invoice_date", "amount", "quantity", "is_return")
    )
    sql = f"""
        WITH counts AS (
            SELECT hour(ordered_at) AS hour, count(*) AS orders
            FROM ({_orders_sql()}) WHERE ordered_at IS NOT NULL
            GROUP BY hour
        )
        SELECT hours.hour, coalesce(counts.orders, 0) AS orders
        FROM range(0, 24) AS hours(hour) LEFT JOIN counts USING (hour)
        ORDER BY hour
    """
    return con.execute(sql, params).df()


def plot_orders_by_weekday(weekday: pd.DataFrame) -> tuple[Figure | None, str]:
    """Bar-chart purchase orders per day of the week.

    Parameters
    ----------
    weekday : pandas.DataFrame
        Output of `orders_by_weekday`.

    Returns
    -------
    (Figure or None, str)
        The figure and a sentence naming the busiest and the quietest day.
    """
    title = "Purchase orders by day of the week"
    total = int(weekday["orders"].sum())
    if total == 0:
        return _no_chart("There are no purchase orders to place in the week.")
    fig, ax = plt.subplots(figsize=FIGSIZE, layout="constrained")
    ax.bar(weekday["day_name"].str[:3], weekday["orders"], color=_COLOR)
    ax.set_xlabel("Day of the week")
    ax.set_ylabel("Purchase orders")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    _number_axis(ax.yaxis, counts=True)

    busiest = weekday.loc[weekday["orders"].idxmax()]
    quietest = weekday.loc[weekday["orders"].idxmin()]
    takeaway = (
        f"{busiest['day_name']} has the most purchase orders ({int(busiest['orders']):,}, "
        f"{_pct(busiest['orders'] / total)} of all), {quietest['day_name']} the fewest "
        f"({int(quietest['orders']):,})."
    )
    return fig, takeaway


def plot_orders_by_hour(hourly: pd.DataFrame) -> tuple[Figure | None, str]:
    """Bar-chart purchase orders per hour of the day.

    Parameters
    ----------
    hourly : pandas.DataFrame
        Output of `orders_by_hour`.

    Returns
    -------
    (Figure or None, str)
        The figure and a sentence naming the peak hour, or noting that the timestamps carry
        no time of day.
    """
    title = "Purchase orders by hour of the day"
    total = int(hourly["orders"].sum())
    if total == 0:
        return _no_chart("There are no purchase orders to place in the day.")
    fig, ax = plt.subplots(figsize=FIGSIZE, layout="constrained")
    ax.bar(hourly["hour"], hourly["orders"], color=_COLOR)
    ax.set_xticks(range(0, 24, 2))
    ax.set_xlim(-0.6, 23.6)
    ax.set_xlabel("Hour of the day (order time)")
    ax.set_ylabel("Purchase orders")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    _number_axis(ax.yaxis, counts=True)

    peak = hourly.loc[hourly["orders"].idxmax()]
    if int(peak["orders"]) == total and int(peak["hour"]) == 0:
        takeaway = (
            "Every order is stamped 00:00, so the data likely holds dates without times of day."
        )
    else:
        hour = int(peak["hour"])
        takeaway = (
            f"Orders peak between {hour:02d}:00 and {hour:02d}:59 with "
            f"{_count(int(peak['orders']), 'purchase orders')} ({_pct(peak['orders'] / total)} of all)."
        )
    return fig, takeaway


# --------------------------------------------------------------------------- customers


def customer_summary(con: duckdb.DuckDBPyConnection, path: str | Path) -> pd.DataFrame:
    """Aggregate the transactions to one row per customer in SQL.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Connection used to run the SQL.
    path : str or Path
        Cleaned transactions Parquet written by 01_clean.

    Returns
    -------
    pandas.DataFrame
        One row per customer, sorted by customer_id, with columns:

        - customer_id
        - orders: distinct purchase orders (0 for a customer with only returns)
        - net_revenue: sum of amount over all lines, returns included
        - first_purchase, last_purchase: first and last purchase line (NaT without one)
        - lines: all lines, returns included
        - distinct_products: products bought (purchase lines)
        - return_share: share of the customer's lines that are returns
        - avg_order_value: net_revenue / orders (NaN when orders = 0)
        - country: the customer's most frequent country (ties: alphabetical first)
    """
    params = _query_params(con, path, TRANSACTION_COLUMNS)
    # The distinct counts come from DISTINCT pairs counted per customer, not from
    # count(DISTINCT ...) in the main aggregate: a plain GROUP BY spills to disk under the
    # memory cap, and it was faster at 100M lines (17 s against 21 s; bench/run.py).
    sql = f"""
        WITH per_customer AS (
            SELECT customer_id,
                   {_NET_REVENUE} AS net_revenue,
                   min(invoice_date) FILTER (WHERE NOT is_return) AS first_purchase,
                   max(invoice_date) FILTER (WHERE NOT is_return) AS last_purchase,
                   count(*) AS lines,
                   avg(CASE WHEN is_return THEN 1.0 ELSE 0.0 END) AS return_share
            FROM {_SOURCE}
            GROUP BY customer_id
        ),
        customer_orders AS (
            SELECT customer_id, count(*) AS orders
            FROM (SELECT DISTINCT customer_id, invoice_id FROM {_SOURCE}
                  WHERE NOT is_return AND invoice_id IS NOT NULL) AS pairs
            GROUP BY customer_id
        ),
        customer_products AS (
            SELECT customer_id, count(*) AS distinct_products
            FROM (SELECT DISTINCT customer_id, {_PRODUCT_KEY} AS product FROM {_SOURCE}
                  WHERE NOT is_return AND {_PRODUCT_KEY} IS NOT NULL) AS pairs
            GROUP BY customer_id
        ),
        country_lines AS (
            SELECT customer_id, {_COUNTRY} AS country, count(*) AS n_lines
            FROM {_SOURCE}
            WHERE {_COUNTRY} IS NOT NULL
            GROUP BY customer_id, {_COUNTRY}
        ),
        main_country AS (
            SELECT customer_id, first(country ORDER BY n_lines DESC, country) AS country
            FROM country_lines
            GROUP BY customer_id
        )
        SELECT per_customer.customer_id,
               coalesce(customer_orders.orders, 0) AS orders,
               net_revenue, first_purchase, last_purchase, lines,
               coalesce(customer_products.distinct_products, 0) AS distinct_products,
               return_share,
               net_revenue / nullif(coalesce(customer_orders.orders, 0), 0) AS avg_order_value,
               main_country.country
        FROM per_customer
        LEFT JOIN customer_orders USING (customer_id)
        LEFT JOIN customer_products USING (customer_id)
        LEFT JOIN main_country USING (customer_id)
        ORDER BY per_customer.customer_id
    """
    return con.execute(sql, params).df()


def customer_correlations(customers: pd.DataFrame) -> pd.DataFrame:
    """Compute the Spearman rank correlation between the numeric customer features.

    Features with one value for every customer (e.g. distinct_products when the export
    has no products) have no correlation at all, so they are dropped first; their names
    are kept in ``attrs["constant"]`` for the takeaway.

    Parameters
    ----------
    customers : pandas.DataFrame
        Output of `customer_summary` (any frame works; its numeric columns are used).

    Returns
    -------
    pandas.DataFrame
        Square matrix, one row and column per numeric feature that varies; NaN where
        fewer than two customers have both values. ``attrs["constant"]`` lists the
        dropped features in column order.

    Examples
    --------
    >>> corr = customer_correlations(pd.DataFrame({"a": [1, 2, 3], "b": [9, 4, 1], "c": [0, 0, 0]}))
    >>> corr.loc["a", "b"], corr.attrs["constant"]
    (np.float64(-1.0), ['c'])
    """
    numeric = customers.select_dtypes(include="number").select_dtypes(exclude="bool")
    varies = numeric.nunique(dropna=True) > 1
    corr = numeric.loc[:, varies].astype("float64").corr(method="spearman", min_periods=2)
    corr.attrs["constant"] = [str(name) for name in numeric.columns[~varies.to_numpy()]]
    return corr


def _constant_note(constant: list[str]) -> str:
    """Say which features were left out of the correlations for having one value."""
    if not constant:
        return ""
    names = [name.replace("_", " ") for name in constant]
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    verb = "is" if len(names) == 1 else "are"
    return f"; {listed} {verb} left out because every customer has the same value"


def plot_correlations(corr: pd.DataFrame) -> tuple[Figure | None, str]:
    """Draw the Spearman correlation matrix as an annotated heatmap.

    Parameters
    ----------
    corr : pandas.DataFrame
        Output of `customer_correlations`.

    Returns
    -------
    (Figure or None, str)
        The figure and a sentence naming the most strongly related pair of features and
        the constant features left out (``attrs["constant"]``).
    """
    title = "Spearman correlation between customer features"
    note = _constant_note(list(corr.attrs.get("constant", [])))
    if corr.shape[0] < 2:
        return _no_chart(
            f"Fewer than two customer features vary, so there is nothing to correlate{note}."
        )
    fig, ax = plt.subplots(figsize=(FIGSIZE[0], 6), layout="constrained")
    _heatmap(
        corr,
        ax,
        vmin=-1,
        vmax=1,
        center=0,
        cmap="vlag",
        annot=True,
        fmt=".2f",
        linewidths=0.5,
        cbar_kws={"label": "Spearman correlation"},
    )
    ax.set_title(title)
    ax.tick_params(axis="x", labelrotation=30)
    ax.tick_params(axis="y", labelrotation=0)  # seaborn turns them upright for few rows
    plt.setp(ax.get_xticklabels(), ha="right", rotation_mode="anchor")
    ax.set_xlabel("Customer feature")
    ax.set_ylabel("Customer feature")

    upper = corr.where(np.triu(np.ones(corr.shape, dtype=bool), k=1)).stack().dropna()
    if upper.empty:
        return fig, f"Too few customers to measure any correlation{note}."
    first, second = upper.abs().idxmax()
    rho = upper[(first, second)]
    first, second = (str(name).replace("_", " ") for name in (first, second))
    takeaway = f"The strongest link is between {first} and {second} (Spearman {rho:.2f}){note}."
    return fig, takeaway


def plot_revenue_vs_orders(
    customers: pd.DataFrame, max_points: int = 20_000, seed: int = 42
) -> tuple[Figure | None, str]:
    """Scatter customer net revenue against orders, sampling at most `max_points` customers.

    Customers without a purchase order are left out; on a log revenue axis so are
    customers with net revenue <= 0, and the sentence says how many.

    Parameters
    ----------
    customers : pandas.DataFrame
        Output of `customer_summary`.
    max_points : int, default 20000
        Most customers drawn; a random sample with `seed` beyond that.
    seed : int, default 42
        Random seed of the sample.

    Returns
    -------
    (Figure or None, str)
        The figure and a sentence with the Spearman correlation over all customers shown.
    """
    _check_positive("max_points", max_points)
    title = "Customer net revenue vs purchase orders"
    buyers = customers[customers["orders"] > 0]
    if buyers.empty:
        return _no_chart("No customer has a purchase order, so there is nothing to plot.")
    orders = buyers["orders"].to_numpy(dtype="float64")
    revenue = buyers["net_revenue"].to_numpy(dtype="float64")
    log_x, log_y = _wants_log(orders), _wants_log(revenue)
    shown = buyers[buyers["net_revenue"] > 0] if log_y else buyers
    hidden = len(buyers) - len(shown)
    sample = shown.sample(n=min(max_points, len(shown)), random_state=seed)

    fig, ax = plt.subplots(figsize=FIGSIZE, layout="constrained")
    ax.scatter(
        sample["orders"], sample["net_revenue"], s=10, alpha=0.35, color=_COLOR, linewidths=0
    )
    if log_x:
        ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log")
    _number_axis(ax.xaxis, log_x, counts=True)
    _number_axis(ax.yaxis, log_y)
    ax.set_xlabel("Purchase orders" + (" (log scale)" if log_x else ""))
    ax.set_ylabel("Net revenue" + (" (log scale)" if log_y else ""))
    sampled = f", {len(sample):,} of {len(shown):,} shown" if len(sample) < len(shown) else ""
    ax.set_title(f"{title}{sampled}")
    ax.grid(alpha=0.3)

    # DataFrame.corr ranks in pandas itself; Series.corr(method="spearman") would need scipy.
    rho = buyers[["orders", "net_revenue"]].corr(method="spearman").iloc[0, 1]
    if pd.isna(rho):
        relation = (
            "There are too few distinct values to relate orders and net revenue "
            f"({_count(len(buyers), 'customers')})"
        )
    else:
        trend = "rises" if rho >= 0.3 else "falls" if rho <= -0.3 else "barely moves"
        relation = (
            f"Net revenue {trend} with the number of orders "
            f"(Spearman {rho:.2f} over {_count(len(buyers), 'customers')})"
        )
    note = (
        f"; {_count(hidden, 'customers')} with net revenue of 0 or less not shown" if hidden else ""
    )
    return fig, f"{relation}{note}."


# --------------------------------------------------------------------------- cohorts


def cohort_retention(
    con: duckdb.DuckDBPyConnection, path: str | Path, cohort_months: int = 12
) -> pd.DataFrame:
    """Compute monthly cohort retention in SQL.

    A customer's cohort is the month of their first purchase order; they are active in a
    later month when they place a purchase order in it. Customers with only returns belong
    to no cohort. Cells after the last month in the data are left out (not zero).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Connection used to run the SQL.
    path : str or Path
        Cleaned transactions Parquet written by 01_clean.
    cohort_months : int, default 12
        Months since first purchase shown: 0 .. cohort_months - 1.

    Returns
    -------
    pandas.DataFrame
        Long format, sorted: cohort (month start), months_since_first, cohort_size,
        active_customers and retention (= active_customers / cohort_size; 1.0 at month 0).
    """
    _check_positive("cohort_months", cohort_months)
    params = _query_params(con, path, ("customer_id", "invoice_date", "is_return"))
    sql = f"""
        WITH active AS (
            SELECT DISTINCT customer_id, date_trunc('month', invoice_date) AS month
            FROM {_SOURCE}
            WHERE NOT is_return AND invoice_date IS NOT NULL
        ),
        cohorts AS (
            SELECT customer_id, min(month) AS cohort FROM active GROUP BY customer_id
        ),
        sizes AS (
            SELECT cohort, count(*) AS cohort_size FROM cohorts GROUP BY cohort
        ),
        counts AS (
            SELECT cohorts.cohort,
                   (year(active.month) - year(cohorts.cohort)) * 12
                       + month(active.month) - month(cohorts.cohort) AS months_since_first,
                   count(*) AS active_customers
            FROM active JOIN cohorts USING (customer_id)
            GROUP BY ALL
        ),
        grid AS (
            SELECT sizes.cohort, ages.months_since_first, sizes.cohort_size
            FROM sizes
            CROSS JOIN range(0, $cohort_months) AS ages(months_since_first)
            CROSS JOIN (SELECT max(month) AS last_month FROM active) AS bounds
            WHERE sizes.cohort + to_months(ages.months_since_first::INTEGER) <= bounds.last_month
        )
        SELECT grid.cohort, grid.months_since_first, grid.cohort_size,
               coalesce(counts.active_customers, 0) AS active_customers,
               coalesce(counts.active_customers, 0) / grid.cohort_size AS retention
        FROM grid LEFT JOIN counts USING (cohort, months_since_first)
        ORDER BY grid.cohort, grid.months_since_first
    """
    return con.execute(sql, {**params, "cohort_months": int(cohort_months)}).df()


def plot_cohort_retention(retention: pd.DataFrame) -> tuple[Figure | None, str]:
    """Draw cohort retention as a heatmap: cohorts down, months since first purchase across.

    Parameters
    ----------
    retention : pandas.DataFrame
        Output of `cohort_retention`.

    Returns
    -------
    (Figure or None, str)
        The figure and a sentence on the average share of customers who buy again in the
        month after their first purchase month.
    """
    title = "Monthly cohort retention"
    if retention.empty:
        return _no_chart("There are no purchases, so there are no cohorts.")
    grid = retention.pivot(index="cohort", columns="months_since_first", values="retention")
    sizes = retention.groupby("cohort")["cohort_size"].first()
    grid.index = [f"{cohort:%Y-%m} (n={sizes[cohort]:,})" for cohort in grid.index]
    small = grid.shape[0] <= 24 and grid.shape[1] <= 24
    height = min(max(FIGSIZE[1], 0.32 * grid.shape[0] + 1.5), 14)
    fig, ax = plt.subplots(figsize=(FIGSIZE[0], height), layout="constrained")
    _heatmap(
        grid,
        ax,
        vmin=0,
        vmax=1,
        cmap="Blues",
        annot=small,
        fmt=".0%",
        annot_kws={"fontsize": 7},
        cbar_kws={
            "label": "Share of cohort active",
            "format": FuncFormatter(lambda x, _: f"{x:.0%}"),
        },
    )
    ax.set_title(title)
    ax.set_xlabel("Months since first purchase")
    ax.set_ylabel("Cohort (month of first purchase, size)")
    ax.tick_params(axis="y", labelrotation=0)

    month_one = retention[retention["months_since_first"] == 1]
    if month_one.empty:
        return fig, "Retention cannot be measured yet: the data has only the cohorts' first month."
    share = month_one["active_customers"].sum() / month_one["cohort_size"].sum()
    takeaway = (
        f"On average {_pct(share)} of new customers buy again in the month after their first "
        f"purchase ({_count(len(month_one), 'cohorts')} with a following month)."
    )
    return fig, takeaway
