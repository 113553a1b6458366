"""Histograms for 02_eda: transaction-level values binned in DuckDB, customer columns in pandas.

Only bin counts come back from the engine, so order values of a 100M-line export cost no
memory in Python. Every histogram has the same layout: columns bin_left, bin_right, count;
right-closed ``(left, right]`` bins with the lowest value in the first bin; on a log scale
a leading ``(-inf, 0]`` row counts the values <= 0. ``attrs`` keeps ``log_scale``,
``integer`` and the exact ``median`` of every binned value, so a sentence about the median
never has to guess it from the bins. `helpers.eda_plots.plot_histogram` draws them.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from helpers.eda import check_positive, purchase_orders

# A value range spanning at least this factor is drawn on a log axis when `log` is None.
LOG_SPAN = 100.0

# Over the purchase orders of `helpers.eda.purchase_orders` ({orders}), computed once per connection.
ORDER_VALUES_SQL = "SELECT order_value AS v FROM ({orders})"
ORDER_ITEMS_SQL = "SELECT items AS v FROM ({orders})"
ORDER_COUNT_SQL = "SELECT count(*) FROM ({orders})"
# Templates over the column `v` of one of the value queries above ({values}).
_STATS_SQL = """
    WITH vals AS ({values})
    SELECT count(v), min(v), max(v), min(v) FILTER (WHERE v > 0), max(v) FILTER (WHERE v > 0),
           bool_and(v = round(v)), median(v)
    FROM vals WHERE v IS NOT NULL AND isfinite(v)
"""
# Values per bin: {bin} numbers the right-closed bins from 0 (values above the last edge,
# float noise, join the last bin) and gives -1 to values <= 0 on a log scale. A CASE over
# the edges rather than DuckDB's histogram(), so that Spark runs the same text.
_COUNTS_SQL = """
    WITH vals AS ({values})
    SELECT {bin} AS bin, count(*) AS n
    FROM vals WHERE v IS NOT NULL AND isfinite(v)
    GROUP BY 1
"""


def wants_log(values: np.ndarray) -> bool:
    """Return True when the positive values span at least `LOG_SPAN` (a skewed range).

    >>> wants_log(np.array([1.0, 50.0])), wants_log(np.array([-5.0, 1.0, 100.0]))
    (False, True)
    """
    positive = values[np.isfinite(values) & (values > 0)]
    return bool(positive.size > 0 and positive.max() / positive.min() >= LOG_SPAN)


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
    """Assemble bins as a frame; on a log scale values <= 0 get one leading (-inf, 0] row."""
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
    check_positive("bins", bins)
    stats = con.execute(_STATS_SQL.format(values=values_sql), params).fetchall()[0]
    n, lo, hi, lo_pos, hi_pos, integer, median = stats
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
    rows = con.execute(
        _COUNTS_SQL.format(values=values_sql, bin=_bin_case(len(edges) - 1, log)),
        {**params, **{f"edge{i}": float(e) for i, e in enumerate(edges[1:-1])}},
    ).fetchall()
    by_bin = {int(b): int(n) for b, n in rows}
    counts = np.array([by_bin.get(i, 0) for i in range(len(edges) - 1)], dtype="int64")
    return _histogram_frame(edges, counts, by_bin.get(-1, 0), log, bool(integer), median)


def _bin_case(bins: int, log: bool) -> str:
    """SQL numbering the bin of ``v``: right-closed, the last bin open above, -1 for v <= 0 on a log scale.

    >>> _bin_case(3, True)
    'CASE WHEN v <= 0 THEN -1 WHEN v <= $edge0 THEN 0 WHEN v <= $edge1 THEN 1 ELSE 2 END'
    """
    whens = ["WHEN v <= 0 THEN -1"] if log else []
    whens += [f"WHEN v <= $edge{i} THEN {i}" for i in range(bins - 1)]
    return f"CASE {' '.join(whens)} ELSE {bins - 1} END" if whens else str(bins - 1)


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
        The layout of the module docstring; empty without orders.
    """
    return _sql_histogram(con, ORDER_VALUES_SQL.replace("{orders}", purchase_orders(con, path)), {}, bins, log)


def items_per_order_histogram(
    con: duckdb.DuckDBPyConnection, path: str | Path, bins: int = 40, log: bool | None = None
) -> pd.DataFrame:
    """Bin the number of items (sum of quantity) per purchase order in SQL.

    Orders whose lines carry no quantity (shops that export amounts only) are left out.
    When there are purchase orders but none has a quantity, the empty frame says so:
    ``attrs["missing"] = "quantity"`` and ``attrs["purchase_orders"]`` (their number).

    Parameters
    ----------
    con, path, bins, log
        As in `order_value_histogram`.

    Returns
    -------
    pandas.DataFrame
        Same layout as `order_value_histogram`; empty when no order has a quantity.
    """
    orders_sql = purchase_orders(con, path)
    hist = _sql_histogram(con, ORDER_ITEMS_SQL.replace("{orders}", orders_sql), {}, bins, log)
    if hist.empty:
        (orders,) = con.execute(ORDER_COUNT_SQL.replace("{orders}", orders_sql)).fetchall()[0]
        if orders:
            hist.attrs.update(missing="quantity", purchase_orders=int(orders))
    return hist


def customer_histogram(
    customers: pd.DataFrame, column: str, bins: int = 40, log: bool | None = None
) -> pd.DataFrame:
    """Bin one numeric column of the customer table (pandas; one row per customer).

    Parameters
    ----------
    customers : pandas.DataFrame
        Output of `helpers.eda.customer_summary`.
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
    check_positive("bins", bins)
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
        log = wants_log(values)
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
