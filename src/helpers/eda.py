"""Exploratory aggregates of the cleaned transactions (step 02_eda): computation only.

Transaction-level work runs as DuckDB SQL (its text in `helpers.eda_sql`) over the Parquet
written by 01_clean (``read_parquet($path)``), so it scales to files far larger than memory;
each function returns a small pandas DataFrame. The lines are summed once per connection
and file into temporary tables (`shared_table`: per invoice part, per product, per purchase
order) that most aggregates read instead of the lines. Only customer-level tables (one row
per customer) are handled in pandas. Histograms are binned in `helpers.eda_histograms`;
charts and takeaways are drawn by `helpers.eda_plots`, display tables by `helpers.eda_tables`.

Callers hand in the connection (made by `helpers.engine.connect`) and the Parquet file
(checked by ``catalog.require(params, "transactions")``): nothing here opens a connection,
checks or writes a file, draws or formats text. The temporary tables go with the connection.

Definitions used throughout (they follow the 01_clean output contract,
`helpers.catalog.TRANSACTION_COLUMNS`):

* a *purchase order* is a distinct ``invoice_id`` among lines with ``is_return = false``;
* *net revenue* is ``sum(amount)`` over all lines, so returns (negative amounts) net out;
* a customer is *active* in a month when they place a purchase order in that month;
* lines flagged ``is_outlier`` are kept, as 01_clean keeps them;
* a month is *partial* when the data do not cover all its days: the first month when the
  first line is dated after its first day, the last month when the last line is dated
  before its last day (`month_coverage`). An export that ends on 9 December holds 9 of
  December's 31 days, and that month must not read as a crash.
"""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from helpers.eda_sql import (  # noqa: F401  (SOURCE and the table names are used from here)
    BITMAP_SIZE_SQL,
    COUNTRY_SQL,
    CUSTOMER_LINES_WITH_BITMAPS,
    CUSTOMER_LINES_WITH_PAIRS,
    CUSTOMER_PART,
    CUSTOMER_PART_TABLE,
    CUSTOMER_PRODUCT_PAIRS,
    CUSTOMER_PRODUCTS_TABLE,
    CUSTOMER_SQL,
    DATE_BOUNDS_SQL,
    HOUR_SQL,
    LINES_SQL,
    MONTHLY_SQL,
    ORDER_PARTS_SQL,
    ORDER_PARTS_TABLE,
    ORDERS_SQL,
    ORDERS_TABLE,
    OVERVIEW_SQL,
    PRODUCT_CODES_SQL,
    PRODUCT_CODES_TABLE,
    PRODUCTS_SQL,
    PRODUCTS_TABLE,
    SOURCE,
    TOP_PRODUCTS_SQL,
    WEEKDAY_SQL,
)
from helpers.engine import drop_kept_table, file_version, is_duckdb, kept_table, memory_limit_bytes

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

# Bitmaps of distinct products may take this share of the memory limit (`customer_summary`):
# at 100M lines one thread's (0.48 GB) fit in 1.8 GiB, the process peaking at 1.9 GiB.
PRODUCT_BITMAP_SHARE = 0.3

# --------------------------------------------------------------------------- helpers


def check_positive(name: str, value: int) -> None:
    """Raise ValueError unless `value` is an integer >= 1 (a count of bins, bars, months).

    >>> check_positive("bins", 0)
    Traceback (most recent call last):
    ...
    ValueError: bins must be an integer >= 1, got 0
    """
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


def source_params(path: str | Path) -> dict[str, str]:
    """Return the query parameters naming the cleaned transactions (``$path`` in `SOURCE`)."""
    return {"path": str(path)}


COVERAGE_COLUMNS: tuple[str, ...] = ("days_in_month", "days_covered", "partial")


def month_coverage(months: pd.Series, first_date: pd.Timestamp, last_date: pd.Timestamp) -> pd.DataFrame:
    """Count the days of each calendar month the data cover, and flag the partial months.

    A month is covered from its first day, or from `first_date` when that falls inside it,
    to its last day, or to `last_date`; a month with fewer covered days than it has is
    partial. Only the first and the last month of the data can be.

    Parameters
    ----------
    months : pandas.Series
        First days of calendar months (Timestamps).
    first_date, last_date : pandas.Timestamp
        Dates of the first and the last line of the data (the time of day is ignored).

    Returns
    -------
    pandas.DataFrame
        Index of `months`; days_in_month, days_covered (0 outside the data) and partial.

    Examples
    --------
    >>> months = pd.Series(pd.to_datetime(["2010-12-01", "2011-11-01", "2011-12-01"]))
    >>> cover = month_coverage(months, pd.Timestamp("2010-12-01 08:26"), pd.Timestamp("2011-12-09 12:50"))
    >>> cover["days_covered"].tolist(), cover["partial"].tolist()
    ([31, 30, 9], [False, False, True])
    """
    starts = pd.to_datetime(pd.Series(months, dtype="datetime64[ns]")).dt.normalize()
    days_in_month = starts.dt.days_in_month.astype("int64")
    if starts.empty or pd.isna(first_date) or pd.isna(last_date):
        covered = days_in_month * 0
    else:
        ends = starts + pd.to_timedelta(days_in_month - 1, unit="D")
        start = starts.clip(lower=pd.Timestamp(first_date).normalize())
        end = ends.clip(upper=pd.Timestamp(last_date).normalize())
        covered = ((end - start).dt.days + 1).clip(lower=0).astype("int64")
    return pd.DataFrame(
        {"days_in_month": days_in_month, "days_covered": covered, "partial": covered < days_in_month},
        index=starts.index,
    )


def date_bounds(con: duckdb.DuckDBPyConnection, path: str | Path) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Return the dates of the first and the last line (NaT, NaT without dated lines)."""
    first, last = con.execute(DATE_BOUNDS_SQL, source_params(path)).fetchall()[0]
    return pd.Timestamp(first) if first is not None else pd.NaT, pd.Timestamp(last) if last is not None else pd.NaT


# --------------------------------------------------------------------------- aggregates
# Every function below takes the connection and the Parquet written by 01_clean.


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
    shared_table(con, path, ORDER_PARTS_TABLE)
    shared_table(con, path, PRODUCTS_TABLE)
    return con.execute(OVERVIEW_SQL, source_params(path)).df()


def monthly_summary(con: duckdb.DuckDBPyConnection, path: str | Path) -> pd.DataFrame:
    """Sum net revenue and count purchase orders and active customers per calendar month.

    Months between the first and last month without any line appear with zeros, so the
    series has no silent gaps. The first and last month are marked partial when the data
    do not cover all their days (`month_coverage`): 9 days of December read as a month.

    Returns
    -------
    pandas.DataFrame
        Columns month (first day, Timestamp), net_revenue (all lines, returns netted),
        orders (distinct purchase invoices), active_customers (customers with a purchase
        order that month), days_in_month, days_covered (days of the month between the
        first and last line's date) and partial (days_covered < days_in_month), one row
        per month in date order; empty when there are no lines.
    """
    shared_table(con, path, ORDER_PARTS_TABLE)
    monthly = con.execute(MONTHLY_SQL).df()
    first, last = date_bounds(con, path)
    return pd.concat([monthly, month_coverage(monthly["month"], first, last)], axis=1)


def country_summary(con: duckdb.DuckDBPyConnection, path: str | Path) -> pd.DataFrame:
    """Sum net revenue, customers and orders per country (missing country = "Unknown").

    Returns
    -------
    pandas.DataFrame
        Columns country, net_revenue, customers (with any line there), orders (purchase
        orders), revenue_share (of total net revenue; NaN when that total is 0) and
        customer_share (of all distinct customers), sorted by net revenue, largest first.
        A customer buying from two countries counts in both.
    """
    shared_table(con, path, ORDER_PARTS_TABLE)
    return con.execute(COUNTRY_SQL).df()


def top_products(con: duckdb.DuckDBPyConnection, path: str | Path, n: int = 10) -> pd.DataFrame:
    """Rank products by net revenue in SQL and return the top `n` with a description.

    Parameters
    ----------
    n : int, default 10
        Number of products returned.

    Returns
    -------
    pandas.DataFrame
        Columns product_id (the description when the shop has no product ids),
        description (most frequent non-blank one; missing when all are blank), net_revenue,
        revenue_share, quantity, orders, customers; largest net revenue first. When there
        are lines but none has a product id or description, the empty frame has
        ``attrs["missing"] = "product"``.
    """
    check_positive("n", n)
    params = source_params(path)
    shared_table(con, path, PRODUCTS_TABLE)
    products = con.execute(TOP_PRODUCTS_SQL, {**params, "n": int(n)}).df()
    if products.empty:
        (lines,) = con.execute(LINES_SQL, params).fetchall()[0]
        if lines:
            products.attrs["missing"] = "product"
    return products


def orders_by_weekday(con: duckdb.DuckDBPyConnection, path: str | Path) -> pd.DataFrame:
    """Count purchase orders per day of the week (order time = its earliest line).

    Returns
    -------
    pandas.DataFrame
        Seven rows, Monday first: weekday (0 = Monday), day_name, orders (0 when none).
    """
    frame = con.execute(WEEKDAY_SQL.replace("{orders}", purchase_orders(con, path))).df()
    frame.insert(1, "day_name", [WEEKDAY_NAMES[d] for d in frame["weekday"]])
    return frame


def orders_by_hour(con: duckdb.DuckDBPyConnection, path: str | Path) -> pd.DataFrame:
    """Count purchase orders per hour of the day (order time = its earliest line).

    Returns
    -------
    pandas.DataFrame
        24 rows: hour (0-23) and orders (0 when none).
    """
    return con.execute(HOUR_SQL.replace("{orders}", purchase_orders(con, path))).df()


_SHARED_SQL: dict[str, str] = {
    ORDER_PARTS_TABLE: ORDER_PARTS_SQL,
    PRODUCTS_TABLE: PRODUCTS_SQL,
    ORDERS_TABLE: f"SELECT ordered_at, order_value, items FROM ({ORDERS_SQL})",
}
_MADE_FROM: dict[str, str] = {ORDERS_TABLE: ORDER_PARTS_TABLE}  # a shared table read from another


def shared_table(con: duckdb.DuckDBPyConnection, path: str | Path, name: str) -> str:
    """Make the temporary table `name` of `path` once per connection and file; return its name.

    `name` is `ORDER_PARTS_TABLE`, `PRODUCTS_TABLE` or `ORDERS_TABLE`. A file rewritten
    since (`helpers.engine.file_version`) is read again, and so are the tables made from
    it (`helpers.engine.kept_table`). The queries that read the table take no parameters for it.
    """
    if name in _MADE_FROM:
        shared_table(con, path, _MADE_FROM[name])
    sql = _SHARED_SQL[name]
    return kept_table(con, name, sql, file_version(path), source_params(path) if "$path" in sql else None)


def purchase_orders(con: duckdb.DuckDBPyConnection, path: str | Path) -> str:
    """Return a query of the purchase orders of `path`: ordered_at, order_value, items.

    One row per purchase order (`ORDERS_SQL`), kept in the shared table `ORDERS_TABLE`
    (see `shared_table`). The query takes no parameters.
    """
    return f"SELECT * FROM {shared_table(con, path, ORDERS_TABLE)}"


def customer_summary(con: duckdb.DuckDBPyConnection, path: str | Path) -> pd.DataFrame:
    """Aggregate the transactions to one row per customer in SQL (02_eda's "customers").

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
    params = source_params(path)
    drop_kept_table(con, ORDERS_TABLE)  # the heaviest query of 02_eda: give it the memory
    shared_table(con, path, ORDER_PARTS_TABLE)
    shared_table(con, path, PRODUCTS_TABLE)
    # Bitmaps are DuckDB's; other engines count (customer, product) pairs.
    products, customers = con.execute(BITMAP_SIZE_SQL).fetchall()[0] if is_duckdb(con) else (0, 0)
    parts = _bitmap_parts(con, products, customers)
    if not parts:
        return _customer_summary_with_pairs(con, params)
    tables = [CUSTOMER_PART_TABLE.format(k=k) for k in range(parts)]
    try:
        con.execute(PRODUCT_CODES_SQL).fetchall()
        per_part = CUSTOMER_LINES_WITH_BITMAPS.replace("{last_code}", str(int(products) - 1))
        for k, table in enumerate(tables):  # one pass per part: its customers' bitmaps only
            part = per_part.replace("{part}", CUSTOMER_PART.format(parts=parts, k=k))
            con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {part}", params).fetchall()
        union = " UNION ALL ".join(f"SELECT * FROM {t}" for t in tables)
        return con.execute(CUSTOMER_SQL.replace("{per_customer}", union)).df()
    finally:
        for table in (PRODUCT_CODES_TABLE, *tables):
            con.execute(f"DROP TABLE IF EXISTS temp.main.{table}").fetchall()


def _customer_summary_with_pairs(con: duckdb.DuckDBPyConnection, params: dict[str, str]) -> pd.DataFrame:
    """`customer_summary` counting distinct products from (customer, product) pairs, on any engine."""
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {CUSTOMER_PRODUCTS_TABLE} AS {CUSTOMER_PRODUCT_PAIRS}",
                    params).fetchall()
        return con.execute(CUSTOMER_SQL.replace("{per_customer}", CUSTOMER_LINES_WITH_PAIRS), params).df()
    finally:
        con.execute(f"DROP TABLE IF EXISTS temp.main.{CUSTOMER_PRODUCTS_TABLE}").fetchall()


def _bitmap_parts(con: duckdb.DuckDBPyConnection, products: int, customers: int) -> int:
    """Return into how many parts to split the customers for bitmaps of distinct products; 0 when none fit.

    Each thread holds a bitmap of `products` bits for each customer of the part it counts
    (`customers` split into parts by a hash of the id); all threads' bitmaps must fit in
    `PRODUCT_BITMAP_SHARE` of the memory limit (10% margin). One thread's bitmaps for every
    customer must fit, so there are never more parts than threads: a part is one more pass
    over the lines, which t threads read in 1/t of the time, so t parts on t threads never
    take longer than one thread alone.

    Examples
    --------
    >>> con = duckdb.connect()
    >>> _ = con.execute("SET memory_limit = '1GB'; SET threads = 2")
    >>> _bitmap_parts(con, 4_000, 200_000), _bitmap_parts(con, 4_000, 500_000), _bitmap_parts(con, 4_000, 1_000_000)
    (1, 2, 0)
    >>> _bitmap_parts(con, 0, 10)
    0
    """
    if not products or not customers:  # also on engines without bitmaps (Spark): settings are DuckDB's
        return 0
    budget = PRODUCT_BITMAP_SHARE * memory_limit_bytes(con)
    each = 1.1 * products * customers / 8  # one thread's bitmaps for every customer
    if budget <= 0 or each > budget:
        return 0
    (threads,) = con.execute("SELECT current_setting('threads')").fetchall()[0]
    return math.ceil(int(threads) * each / budget)


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
