"""Exploratory aggregates of the cleaned transactions (step 02_eda): computation only.

Transaction-level work runs as DuckDB SQL that reads the Parquet written by 01_clean
directly (``read_parquet($path)``), so it scales to files far larger than memory; each
function returns a small pandas DataFrame. Only customer-level tables (one row per
customer) are handled in pandas. Histograms are binned in `helpers.eda_histograms`;
charts and takeaways are drawn by `helpers.eda_plots`, display tables by `helpers.eda_tables`.

Callers hand in the connection (made by `helpers.engine.connect`) and the Parquet file
(checked by ``catalog.require(params, "transactions")``): nothing here opens a connection,
checks or writes a file, draws or formats text.

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

import weakref
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from helpers.engine import memory_limit_bytes

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

# --------------------------------------------------------------------------- SQL pieces

SOURCE = "read_parquet($path)"  # the cleaned transactions; $path is a query parameter
# Missing or blank text counts as missing.
_COUNTRY = "nullif(trim(country), '')"
_DESCRIPTION = "nullif(trim(description), '')"
_PRODUCT_KEY = f"coalesce(product_id, {_DESCRIPTION})"
# Sums of amounts are rounded so float residue (a return that cancels a purchase leaves
# 1e-14, not 0) does not pass for a tiny positive revenue on a log axis.
AMOUNT_DECIMALS = 6
NET_REVENUE = f"round(sum(amount), {AMOUNT_DECIMALS})"

LINES_SQL = f"SELECT count(*) FROM {SOURCE}"
# The first and last date the data cover (every line, returns included).
DATE_BOUNDS_SQL = f"SELECT min(invoice_date), max(invoice_date) FROM {SOURCE} WHERE invoice_date IS NOT NULL"

# One row per purchase order: time (its earliest line), value and items.
ORDERS_SQL = f"""
    SELECT invoice_id, min(invoice_date) AS ordered_at,
           {NET_REVENUE} AS order_value, sum(quantity) AS items
    FROM {SOURCE}
    WHERE NOT is_return AND invoice_id IS NOT NULL
    GROUP BY invoice_id
"""

# One DISTINCT subquery per count instead of four count(DISTINCT) in one aggregate:
# at 100M lines 6.5 s and 0.6 GiB instead of 11.9 s and 9.7 GiB (bench, 2 cores).
OVERVIEW_SQL = f"""
    WITH totals AS (
        SELECT count(*) AS lines,
               min(invoice_date) AS first_date,
               max(invoice_date) AS last_date,
               coalesce({NET_REVENUE}, 0) AS net_revenue,
               count(*) FILTER (WHERE is_return) AS return_lines,
               count(*) FILTER (WHERE is_outlier) AS outlier_lines
        FROM {SOURCE}
    ),
    customers AS (SELECT count(v) AS n FROM (SELECT DISTINCT customer_id AS v FROM {SOURCE})),
    orders AS (SELECT count(v) AS n FROM (SELECT DISTINCT invoice_id AS v FROM {SOURCE} WHERE NOT is_return)),
    products AS (SELECT count(v) AS n FROM (SELECT DISTINCT {_PRODUCT_KEY} AS v FROM {SOURCE})),
    countries AS (SELECT count(v) AS n FROM (SELECT DISTINCT {_COUNTRY} AS v FROM {SOURCE}))
    SELECT totals.lines, customers.n AS customers, orders.n AS purchase_orders,
           products.n AS products, countries.n AS countries, totals.first_date, totals.last_date,
           totals.net_revenue, totals.return_lines, totals.outlier_lines
    FROM totals, customers, orders, products, countries
"""

MONTHLY_SQL = f"""
    WITH by_month AS (
        SELECT date_trunc('month', invoice_date) AS month,
               {NET_REVENUE} AS net_revenue,
               count(DISTINCT invoice_id) FILTER (WHERE NOT is_return) AS orders,
               count(DISTINCT customer_id) FILTER (WHERE NOT is_return) AS active_customers
        FROM {SOURCE}
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

_COUNTRY_OR_UNKNOWN = f"coalesce({_COUNTRY}, 'Unknown')"
# Distinct counts as DISTINCT pairs counted per country, each subquery reading the file
# itself: at 100M lines this took a fraction of count(DISTINCT ...) over a shared CTE.
COUNTRY_SQL = f"""
    WITH revenue AS (
        SELECT {_COUNTRY_OR_UNKNOWN} AS country, sum(amount) AS revenue
        FROM {SOURCE}
        GROUP BY 1
    ),
    reach AS (
        SELECT country, count(*) AS customers
        FROM (SELECT DISTINCT {_COUNTRY_OR_UNKNOWN} AS country, customer_id FROM {SOURCE}) AS pairs
        GROUP BY country
    ),
    orders AS (
        SELECT country, count(*) AS orders
        FROM (SELECT DISTINCT {_COUNTRY_OR_UNKNOWN} AS country, invoice_id FROM {SOURCE}
              WHERE NOT is_return AND invoice_id IS NOT NULL) AS pairs
        GROUP BY country
    ),
    totals AS (
        SELECT round(sum(revenue), {AMOUNT_DECIMALS}) AS revenue,
               (SELECT count(*) FROM (SELECT DISTINCT customer_id FROM {SOURCE}) AS ids) AS customers
        FROM revenue
    )
    SELECT revenue.country,
           round(revenue.revenue, {AMOUNT_DECIMALS}) AS net_revenue,
           reach.customers,
           coalesce(orders.orders, 0) AS orders,
           round(revenue.revenue, {AMOUNT_DECIMALS}) / nullif(totals.revenue, 0) AS revenue_share,
           reach.customers / totals.customers AS customer_share
    FROM revenue
    JOIN reach USING (country)
    LEFT JOIN orders USING (country)
    CROSS JOIN totals
    ORDER BY net_revenue DESC, revenue.country
"""

# Each part reads the file itself: a CTE over all lines referenced three times made
# DuckDB materialise 100M lines (39 s; now a fraction of that, bench/run.py --report).
TOP_PRODUCTS_SQL = f"""
    WITH totals AS (SELECT {NET_REVENUE} AS revenue FROM {SOURCE}),
    ranked AS (
        SELECT {_PRODUCT_KEY} AS product_id, {NET_REVENUE} AS net_revenue, sum(quantity) AS quantity
        FROM {SOURCE}
        WHERE {_PRODUCT_KEY} IS NOT NULL
        GROUP BY 1
        ORDER BY net_revenue DESC, product_id
        LIMIT $n
    ),
    -- Distinct counts only over the top products' lines: they are the costly part.
    top_lines AS (
        SELECT {_PRODUCT_KEY} AS product_id, {_DESCRIPTION} AS description,
               customer_id, invoice_id, is_return
        FROM {SOURCE}
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

# The purchase orders are computed once per connection and file into a temporary table
# (`purchase_orders`), which the weekday, hour and histogram queries read ({orders}): at
# 100M lines, six GROUP BYs of 78M lines into 7.9M orders became one.
ORDERS_TABLE = "eda_purchase_orders"
ORDERS_TABLE_SQL = f"CREATE OR REPLACE TEMP TABLE {ORDERS_TABLE} AS SELECT ordered_at, order_value, items FROM ({ORDERS_SQL})"
_ORDERS_CACHED: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, tuple[str, int, int]] = (
    weakref.WeakKeyDictionary()
)

WEEKDAY_SQL = """
    WITH counts AS (
        SELECT isodow(ordered_at) AS iso_day, count(*) AS orders
        FROM ({orders}) WHERE ordered_at IS NOT NULL
        GROUP BY iso_day
    )
    SELECT days.iso_day - 1 AS weekday, coalesce(counts.orders, 0) AS orders
    FROM range(1, 8) AS days(iso_day) LEFT JOIN counts USING (iso_day)
    ORDER BY weekday
"""

HOUR_SQL = """
    WITH counts AS (
        SELECT hour(ordered_at) AS hour, count(*) AS orders
        FROM ({orders}) WHERE ordered_at IS NOT NULL
        GROUP BY hour
    )
    SELECT hours.hour, coalesce(counts.orders, 0) AS orders
    FROM range(0, 24) AS hours(hour) LEFT JOIN counts USING (hour)
    ORDER BY hour
"""

# Distinct products per customer, exact either way ({customer_products} in `CUSTOMER_SQL`):
# one bit per product in a bitmap per customer (`PRODUCT_CODES_SQL` numbers the products),
# when the bitmaps fit in `PRODUCT_BITMAP_SHARE` of the memory limit; otherwise DISTINCT
# (customer, product) pairs counted per customer. At 100M lines (63.6M pairs, 4,000
# products, 873K customers) the bitmaps took 13.5 s of CPU against 23 s for the pairs,
# whose hash table spills to disk under the memory cap (bench/run.py).
_PURCHASED_PRODUCTS = f"""SELECT customer_id, {_PRODUCT_KEY} AS product FROM {SOURCE}
              WHERE NOT is_return AND {_PRODUCT_KEY} IS NOT NULL"""
CUSTOMER_PRODUCT_PAIRS = f"""
        SELECT customer_id, count(*) AS distinct_products
        FROM (SELECT DISTINCT customer_id, product FROM ({_PURCHASED_PRODUCTS})) AS pairs
        GROUP BY customer_id
    """
CUSTOMER_PRODUCT_BITMAPS = f"""
        SELECT customer_id, bit_count(bitstring_agg(product_codes.code, 0, {{last_code}}))::BIGINT AS distinct_products
        FROM ({_PURCHASED_PRODUCTS}) AS purchases
        JOIN product_codes USING (product)
        GROUP BY customer_id
    """
PRODUCT_CODES_SQL = f"""
    CREATE OR REPLACE TEMP TABLE product_codes AS
    SELECT product, (row_number() OVER (ORDER BY product) - 1)::INTEGER AS code
    FROM (SELECT DISTINCT product FROM ({_PURCHASED_PRODUCTS}))
"""
# Sizes the bitmaps would take, estimated in one cheap pass (HyperLogLog, about 2% off):
# enough to choose, as the counts are exact either way.
BITMAP_SIZE_SQL = f"""
    SELECT approx_count_distinct(product) AS products, approx_count_distinct(customer_id) AS customers
    FROM ({_PURCHASED_PRODUCTS})
"""
PRODUCT_BITMAP_SHARE = 0.25
CUSTOMER_PRODUCTS_TABLE = "eda_customer_products"  # distinct products per customer, while `customer_summary` runs
CUSTOMER_SQL = f"""
    WITH per_customer AS (
        SELECT customer_id,
               {NET_REVENUE} AS net_revenue,
               min(invoice_date) FILTER (WHERE NOT is_return) AS first_purchase,
               max(invoice_date) FILTER (WHERE NOT is_return) AS last_purchase,
               count(*) AS lines,
               avg(CASE WHEN is_return THEN 1.0 ELSE 0.0 END) AS return_share
        FROM {SOURCE}
        GROUP BY customer_id
    ),
    customer_orders AS (
        SELECT customer_id, count(*) AS orders
        FROM (SELECT DISTINCT customer_id, invoice_id FROM {SOURCE}
              WHERE NOT is_return AND invoice_id IS NOT NULL) AS pairs
        GROUP BY customer_id
    ),
    customer_products AS ({{customer_products}}),
    country_lines AS (
        SELECT customer_id, {_COUNTRY} AS country, count(*) AS n_lines
        FROM {SOURCE}
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
    monthly = con.execute(MONTHLY_SQL, source_params(path)).df()
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
    return con.execute(COUNTRY_SQL, source_params(path)).df()


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


def _drop_purchase_orders(con: duckdb.DuckDBPyConnection) -> None:
    """Free the table of `purchase_orders` (it is made again when asked for)."""
    if _ORDERS_CACHED.pop(con, None) is not None:
        con.execute(f"DROP TABLE IF EXISTS temp.main.{ORDERS_TABLE}").fetchall()


def purchase_orders(con: duckdb.DuckDBPyConnection, path: str | Path) -> str:
    """Return a query of the purchase orders of `path`: ordered_at, order_value, items.

    One row per purchase order (`ORDERS_SQL`), computed once per connection and file into
    the temporary table `ORDERS_TABLE` and read from there afterwards; a file rewritten
    since (other size or modification time) is read again. The query takes no parameters.
    """
    stat = Path(path).stat()
    key = (str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size)
    if _ORDERS_CACHED.get(con) != key:
        con.execute(ORDERS_TABLE_SQL, source_params(path)).fetchall()
        _ORDERS_CACHED[con] = key
    return f"SELECT * FROM {ORDERS_TABLE}"


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
    _drop_purchase_orders(con)  # the heaviest query of 02_eda: give it the memory
    products, customers = con.execute(BITMAP_SIZE_SQL, params).fetchall()[0]
    counts = CUSTOMER_PRODUCT_PAIRS
    if 0 < products and 1.1 * products * customers / 8 <= PRODUCT_BITMAP_SHARE * memory_limit_bytes(con):
        con.execute(PRODUCT_CODES_SQL, params).fetchall()
        (products,) = con.execute("SELECT count(*) FROM product_codes").fetchall()[0]
        counts = CUSTOMER_PRODUCT_BITMAPS.format(last_code=int(products) - 1)
    try:
        # Counted on their own first: beside the other aggregates, the pairs' hash table ran
        # out of memory at 100M lines in 02_eda's half share of 2 GB (953.6 MiB, one thread).
        con.execute(f"CREATE OR REPLACE TEMP TABLE {CUSTOMER_PRODUCTS_TABLE} AS {counts}", params).fetchall()
        return con.execute(
            CUSTOMER_SQL.replace("{customer_products}", f"SELECT * FROM {CUSTOMER_PRODUCTS_TABLE}"), params
        ).df()
    finally:
        for table in ("product_codes", CUSTOMER_PRODUCTS_TABLE):
            con.execute(f"DROP TABLE IF EXISTS temp.main.{table}").fetchall()


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
