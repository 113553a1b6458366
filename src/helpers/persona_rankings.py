"""Where each cluster buys and what: DuckDB over the cleaned transaction lines (step 05_personas).

`top_by_cluster` ranks the countries (by customers) and products (by net revenue) of each
cluster; `signature_products` finds the products that make up a larger part of a cluster's
baskets than of all baskets (lift). Both take a connection from `helpers.engine.connect`
(made by the caller from the params), the cleaned transactions file that
``catalog.require(params, "transactions")`` returns and the customers with their cluster;
only lines before the analysis date count, as in 03_rfm.

When no line carries the field ranked (an export without a country column, or without
product ids and descriptions), the result is empty and ``attrs["missing"]`` names the field
(`helpers.eda_fields.field_presence` decides); `missing_field_line` turns that into the one
line 05_personas shows instead of blank columns.

The SQL is in the named constants below, complete and fixed; values (file, date, n,
thresholds) reach it as DuckDB parameters, and the cluster labels as the table ``labels``,
registered for the query and removed after it (as is the temporary table ``candidates``).
The lines per cluster and product (`ITEMS_TABLE`) and per customer and country
(`COUNTRIES_TABLE`) stay with the connection, for the next ranking.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from helpers.eda_fields import field_presence
from helpers.engine import file_version, is_duckdb, kept_table, memory_limit_bytes
from helpers.errors import UserError
from helpers.field_notes import notes_line

CLUSTER_COLUMN = "cluster"

# Two tables are read from the file once per connection, file, analysis date and labels
# (`_shared_tables`) and feed both rankings and the signature products: the lines per cluster,
# product and description (`ITEMS_SQL`), and per customer and country (`CUSTOMER_COUNTRIES_SQL`).
# Only the distinct customers of the candidate products need the lines again. 100M lines, the
# three calls of 05_personas: 18.4 s over eight scans (five joining every line to the labels),
# now 12.7 s over five.

# Lines before the analysis date, with the product (id, else description) as ``item``.
_LINES_SELECT = """
    SELECT customer_id, amount, is_return, coalesce(product_id, nullif(trim(description), '')) AS item,
           nullif(trim(description), '') AS description
    FROM read_parquet($path)
    WHERE invoice_date < $analysis_date"""
ITEMS_TABLE = "persona_items"
# Cluster NULL: customers without a label, whose lines count for the descriptions only.
ITEMS_SQL = f"""
SELECT labels.cluster, lines.item, lines.description, count(*) AS lines,
       count(*) FILTER (WHERE NOT lines.is_return) AS purchase_lines, sum(lines.amount) AS revenue
FROM ({_LINES_SELECT}) AS lines
LEFT JOIN labels USING (customer_id)
GROUP BY ALL
"""
COUNTRIES_TABLE = "persona_customer_countries"
CUSTOMER_COUNTRIES_SQL = """
SELECT customer_id, nullif(trim(country), '') AS item, sum(amount) AS revenue
FROM read_parquet($path)
WHERE invoice_date < $analysis_date
GROUP BY customer_id, item
"""
# The lines of each cluster's candidates ({kind}: all lines, or purchases alone). Picking
# the lines by product before the join made it slower (the product is computed twice).
_CANDIDATE_LINES_CTE = f"""candidate_lines AS (
    SELECT labels.cluster, labels.customer_number, lines.customer_id, lines.item
    FROM ({_LINES_SELECT}{{kind}}) AS lines
    JOIN labels USING (customer_id)
    SEMI JOIN candidates ON labels.cluster = candidates.cluster AND lines.item = candidates.item
)"""
# The most frequent description of each product ranked within the top n (ties: alphabetical),
# over all lines or purchase lines ({count}: a column of `ITEMS_TABLE`).
_NAMED_CTE = f"""named AS (
    SELECT item, first(description ORDER BY n DESC, description) AS description
    FROM (SELECT item, description, sum({{count}}) AS n FROM {ITEMS_TABLE}
          WHERE description IS NOT NULL
                AND item IN (SELECT item FROM ranked WHERE rank <= $n)
          GROUP BY item, description
          HAVING n > 0)
    GROUP BY item
)"""
# The top n rows of ``ranked`` with their shares of the cluster (``sizes``).
_TOP_SELECT = """
SELECT r.cluster, r.rank, r.item, {description} AS description, r.customers,
       r.customers / s.cluster_customers AS customer_share, r.revenue,
       CASE WHEN s.cluster_revenue > 0 THEN r.revenue / s.cluster_revenue END AS revenue_share
FROM ranked AS r JOIN sizes AS s USING (cluster) {join_named}
WHERE r.rank <= $n
ORDER BY r.cluster, r.rank
"""

# Countries: one row per customer and country is small, so everything starts from it.
TOP_COUNTRIES_SQL = f"""
WITH labelled AS (
    SELECT labels.cluster, customer_items.* FROM {COUNTRIES_TABLE} AS customer_items JOIN labels USING (customer_id)
),
sizes AS (
    SELECT cluster, count(DISTINCT customer_id) AS cluster_customers,
           round(sum(revenue), 6) AS cluster_revenue
    FROM labelled GROUP BY cluster
),
ranked AS (
    SELECT cluster, item, count(*) AS customers, round(sum(revenue), 6) AS revenue,
           row_number() OVER (PARTITION BY cluster ORDER BY count(*) DESC, round(sum(revenue), 6) DESC, item) AS rank
    FROM labelled WHERE item IS NOT NULL
    GROUP BY cluster, item
)""" + _TOP_SELECT.format(description="NULL::VARCHAR", join_named="")

# Products rank by revenue first: only those at or above the n-th revenue of their cluster
# (ties included) can make the top n. They are written to the temporary table
# ``candidates`` first, so `TOP_PRODUCTS_SQL` counts distinct customers over their lines alone.
PRODUCT_CANDIDATES_SQL = f"""
CREATE OR REPLACE TEMP TABLE candidates AS
WITH revenue AS (
    SELECT cluster, item, round(sum(revenue), 6) AS revenue
    FROM {ITEMS_TABLE}
    WHERE cluster IS NOT NULL AND item IS NOT NULL
    GROUP BY cluster, item
),
floors AS (
    SELECT cluster, min(revenue) AS floor
    FROM (SELECT cluster, revenue,
                 row_number() OVER (PARTITION BY cluster ORDER BY revenue DESC) AS position
          FROM revenue)
    WHERE position <= $n
    GROUP BY cluster
)
SELECT revenue.* FROM revenue JOIN floors USING (cluster) WHERE revenue.revenue >= floors.floor
"""
# Distinct customers per (cluster, item) of a few candidates, exact either way ({reach}):
# one bit per customer (``labels.customer_number``) in a bitmap per candidate when the
# bitmaps fit in `BITMAP_MEMORY_SHARE` of the memory limit (`_use_bitmaps`), else DISTINCT
# triples. 100M lines: the DISTINCT triples were most of `signature_products`' 53 s.
_REACH_BITMAPS = """
    SELECT cluster, item, bit_count(bitstring_agg(customer_number, 0, {last}))::BIGINT AS customers
    FROM candidate_lines
    GROUP BY cluster, item
"""
_REACH_TRIPLES = """
    SELECT cluster, item, count(*) AS customers
    FROM (SELECT DISTINCT cluster, item, customer_id FROM candidate_lines) AS pairs
    GROUP BY cluster, item
"""
BITMAP_MEMORY_SHARE = 0.25
TOP_PRODUCTS_SQL = f"""
WITH sizes AS (
    SELECT labels.cluster, count(*) AS cluster_customers, round(sum(revenue), 6) AS cluster_revenue
    FROM (SELECT customer_id, sum(revenue) AS revenue FROM {COUNTRIES_TABLE} GROUP BY customer_id) AS totals
    JOIN labels USING (customer_id)
    GROUP BY labels.cluster
),
{_CANDIDATE_LINES_CTE.format(kind="")},
reach AS ({{reach}}),
ranked AS (
    SELECT candidates.*, reach.customers,
           row_number() OVER (PARTITION BY cluster ORDER BY revenue DESC, customers DESC, item) AS rank
    FROM candidates JOIN reach USING (cluster, item)
),
{_NAMED_CTE.format(count="lines")}""" + _TOP_SELECT.format(
    description="named.description", join_named="LEFT JOIN named USING (item)"
)

# Signature products in two statements. `SIGNATURE_CANDIDATES_SQL` counts purchase lines
# per (cluster, product), which needs no distinct count, and keeps the products that can
# pass: lift > 1, and lines at least the buyer thresholds (a product's buyers are at most
# its lines). `SIGNATURE_SQL` counts the buyers of those alone ({reach}, as for the top
# products); at 100M lines they are 262 of 13,951 (cluster, product) pairs.
SIGNATURE_CANDIDATES_SQL = f"""
CREATE OR REPLACE TEMP TABLE candidates AS
WITH item_lines AS (
    SELECT cluster, item, sum(purchase_lines)::BIGINT AS lines
    FROM {ITEMS_TABLE}
    WHERE cluster IS NOT NULL AND item IS NOT NULL
    GROUP BY cluster, item
    HAVING lines > 0
),
overall AS (SELECT item, sum(lines) AS lines FROM item_lines GROUP BY item),
sizes AS (
    SELECT labels.cluster, count(*) AS customers, any_value(cluster_lines.lines) AS lines
    FROM labels
    LEFT JOIN (SELECT cluster, sum(lines) AS lines FROM item_lines GROUP BY cluster) AS cluster_lines
        USING (cluster)
    GROUP BY labels.cluster
),
everyone AS (SELECT sum(lines) AS lines FROM item_lines)
SELECT item_lines.cluster, item_lines.item, sizes.customers AS cluster_customers,
       item_lines.lines / sizes.lines AS line_share,
       overall.lines / everyone.lines AS overall_line_share,
       (item_lines.lines / sizes.lines) / (overall.lines / everyone.lines) AS lift
FROM item_lines
JOIN sizes USING (cluster)
JOIN overall USING (item)
CROSS JOIN everyone
WHERE item_lines.lines >= $min_buyers AND item_lines.lines >= $min_share * sizes.customers
  AND (item_lines.lines / sizes.lines) / (overall.lines / everyone.lines) > 1
"""
SIGNATURE_SQL = f"""
WITH {_CANDIDATE_LINES_CTE.format(kind=" AND NOT is_return")},
reach AS ({{reach}}),
lifted AS (
    SELECT candidates.cluster, candidates.item, reach.customers AS buyers,
           reach.customers / candidates.cluster_customers AS buyer_share,
           candidates.line_share, candidates.overall_line_share, candidates.lift
    FROM candidates
    JOIN reach USING (cluster, item)
    WHERE reach.customers >= $min_buyers AND reach.customers >= $min_share * candidates.cluster_customers
),
ranked AS (
    SELECT *, row_number() OVER (PARTITION BY cluster ORDER BY lift DESC, buyers DESC, item) AS rank
    FROM lifted
),
{_NAMED_CTE.format(count="purchase_lines")}
SELECT ranked.cluster, ranked.rank, ranked.item, named.description, ranked.buyers,
       ranked.buyer_share, ranked.line_share, ranked.overall_line_share, ranked.lift
FROM ranked LEFT JOIN named USING (item)
WHERE ranked.rank <= $n
ORDER BY ranked.cluster, ranked.rank
"""


def _query_params(transactions_path: str | Path, n: int, analysis_date: str | pd.Timestamp | None) -> dict[str, Any]:
    """Check `n`; return the SQL parameters path, analysis_date (None: no cut-off) and n."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise UserError(f"key 'personas.top_n' must be an integer >= 1, got {n!r}; fix: use e.g. 3")
    cutoff = pd.Timestamp("9999-12-31") if analysis_date is None else pd.Timestamp(analysis_date)
    return {"path": str(Path(transactions_path)), "analysis_date": cutoff.to_pydatetime(), "n": int(n)}


def _note_missing(con: duckdb.DuckDBPyConnection, transactions_path: str | Path, ranked: pd.DataFrame,
                  field: str) -> pd.DataFrame:
    """Record ``attrs["missing"] = field`` on an empty `ranked` when no line carries `field`.

    Only an empty result is checked (one cheap query), so a shop with the field pays nothing.
    """
    if ranked.empty and field in field_presence(con, transactions_path).missing:
        ranked.attrs["missing"] = field
    return ranked


def _reach_sql(con: duckdb.DuckDBPyConnection, customers: pd.DataFrame) -> str:
    """Return how to count the distinct customers of each candidate: bitmaps when they fit.

    One bitmap of len(customers) bits per row of the table ``candidates`` and thread (each
    thread keeps its own, and DuckDB cannot spill them); they fit when together they take at
    most `BITMAP_MEMORY_SHARE` of the connection's memory limit.
    """
    if not is_duckdb(con):  # bitmaps are DuckDB's
        return _REACH_TRIPLES
    (candidates, threads) = con.execute("SELECT count(*), current_setting('threads') FROM candidates").fetchall()[0]
    bitmaps = int(threads) * candidates * len(customers) / 8
    if len(customers) and bitmaps <= BITMAP_MEMORY_SHARE * memory_limit_bytes(con):
        return _REACH_BITMAPS.format(last=len(customers) - 1)
    return _REACH_TRIPLES


def _named_params(sql: str, query: Mapping[str, Any]) -> dict[str, Any]:
    """Those parameters of `query` that `sql` names (``$name``)."""
    return {k: v for k, v in query.items() if re.search(rf"\${k}\b", sql)}


def _run(con: duckdb.DuckDBPyConnection, sql: str, query: Mapping[str, Any]) -> duckdb.DuckDBPyConnection:
    """Execute `sql` with those parameters of `query` it names (``$name``)."""
    return con.execute(sql, _named_params(sql, query))


def _shared_tables(con: duckdb.DuckDBPyConnection, query: Mapping[str, Any], labels: pd.DataFrame,
                   names: tuple[str, ...]) -> None:
    """Make the tables `names` (`COUNTRIES_TABLE`, `ITEMS_TABLE`) unless made from the same inputs.

    The inputs are the file (`helpers.engine.file_version`), the analysis date and, for the
    items, the rows of `labels` (the frame registered by `_labels`, by a hash of its rows).
    """
    source = (*file_version(query["path"]), query["analysis_date"])
    for name in names:
        if name == ITEMS_TABLE:
            rows = pd.util.hash_pandas_object(labels, index=False).to_numpy()
            sql, made_from = ITEMS_SQL, (*source, hashlib.sha256(rows.tobytes()).hexdigest())
        else:
            sql, made_from = CUSTOMER_COUNTRIES_SQL, source
        kept_table(con, name, sql, made_from, _named_params(sql, query))


@contextmanager
def _labels(con: duckdb.DuckDBPyConnection, customers: pd.DataFrame) -> Iterator[pd.DataFrame]:
    """Register the ``labels`` table the SQL joins (customer_id as text, cluster as int64) for a while; yield it."""
    labels = pd.DataFrame({
        "customer_id": customers["customer_id"].astype(str).astype(object),
        "cluster": customers[CLUSTER_COLUMN].astype("int64"),
        "customer_number": np.arange(len(customers), dtype="int64"),  # bit of the customer in `_REACH_BITMAPS`
    })
    con.register("labels", labels)
    try:
        yield labels
    finally:
        con.unregister("labels")
        con.execute("DROP TABLE IF EXISTS temp.main.candidates").fetchall()


def top_by_cluster(
    con: duckdb.DuckDBPyConnection,
    transactions_path: str | Path,
    customers: pd.DataFrame,
    by: str = "country",
    n: int = 3,
    analysis_date: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Rank the countries or products of each cluster with DuckDB over the transaction lines.

    Countries are ranked by the customers buying there (share = of the cluster's
    customers), products by net revenue (share = of the cluster's net revenue; blank when
    that is not positive). Ties are broken by name, so the result is stable.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        From `helpers.engine.connect`.
    transactions_path : str or Path
        Cleaned transactions of 01_clean, as ``catalog.require(params, "transactions")`` returns.
    customers : pandas.DataFrame
        ``customer_id`` and ``cluster`` (e.g. the output of `helpers.personas.join_clusters`).
    by : {"country", "product"}, default "country"
    n : int, default 3
        Items per cluster.
    analysis_date : str or Timestamp, optional
        Only lines before it count, as in 03_rfm (None = every line).

    Returns
    -------
    pandas.DataFrame
        cluster, rank (1 = top), item (country, or product id), description (products:
        the most frequent description), customers, customer_share, revenue, revenue_share.
        Empty with ``attrs["missing"]`` = `by` when no line carries it (see
        `missing_field_line`).

    Raises
    ------
    UserError
        Unknown `by`, or `n` not an integer >= 1.
    """
    if by not in ("country", "product"):
        raise UserError(f"top_by_cluster: by={by!r}; fix: use 'country' or 'product'")
    query = _query_params(transactions_path, n, analysis_date)
    with _labels(con, customers) as labels:
        tables = (COUNTRIES_TABLE, ITEMS_TABLE) if by == "product" else (COUNTRIES_TABLE,)
        _shared_tables(con, query, labels, tables)
        if by == "product":
            _run(con, PRODUCT_CANDIDATES_SQL, query).fetchall()
            top = _run(con, TOP_PRODUCTS_SQL.replace("{reach}", _reach_sql(con, customers)), query).df()
        else:
            top = _run(con, TOP_COUNTRIES_SQL, query).df()
    top["rank"] = top["rank"].astype("int64")
    top["customers"] = top["customers"].astype("int64")
    return _note_missing(con, transactions_path, top, by)


def signature_products(
    con: duckdb.DuckDBPyConnection,
    transactions_path: str | Path,
    customers: pd.DataFrame,
    n: int = 3,
    analysis_date: str | pd.Timestamp | None = None,
    min_share: float = 0.05,
    min_buyers: int = 5,
) -> pd.DataFrame:
    """Find the products that set each cluster apart: a larger part of its baskets than of all.

    Best sellers are the same list for every persona, so each product is scored by its
    **lift**: its share of the cluster's purchase lines divided by its share of all purchase
    lines (2.0 = twice as large a part of the cluster's baskets; lines, not customers, so a
    cluster buying many products does not win every product). Only products with lift > 1,
    bought by at least `min_share` and `min_buyers` of the cluster's customers, count: one
    customer's bulk order does not make a signature. Ties: more buyers first, then by name.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        From `helpers.engine.connect`.
    transactions_path : str or Path
        Cleaned transactions of 01_clean (purchase lines before `analysis_date` count).
    customers : pandas.DataFrame
        ``customer_id`` and ``cluster`` of every customer (buyer shares are of all of them).
    n : int, default 3
        Products per cluster.
    analysis_date : str or Timestamp, optional
        Only lines before it count, as in 03_rfm (None = every line).
    min_share : float, default 0.05
        Smallest share of the cluster's customers who bought a product.
    min_buyers : int, default 5
        Smallest number of the cluster's customers who bought it.

    Returns
    -------
    pandas.DataFrame
        cluster, rank (1 = most distinctive), item (product id, or the description when the
        shop has none), description (most frequent), buyers, buyer_share (of the cluster's
        customers), line_share (of the cluster's purchase lines), overall_line_share (of all
        purchase lines), lift. A cluster with no product past the thresholds has no rows;
        without product ids and descriptions, empty with ``attrs["missing"] = "product"``.

    Raises
    ------
    UserError
        Bad `n` or `min_share`.
    """
    if not 0 <= min_share <= 1:
        raise UserError(f"key 'personas.signature_min_share' must be between 0 and 1, got {min_share!r}; "
                        f"fix: use e.g. 0.05")
    query = {**_query_params(transactions_path, n, analysis_date),
             "min_share": float(min_share), "min_buyers": int(min_buyers)}
    with _labels(con, customers) as labels:
        _shared_tables(con, query, labels, (ITEMS_TABLE,))  # also read by the top products
        _run(con, SIGNATURE_CANDIDATES_SQL, query).fetchall()
        top = _run(con, SIGNATURE_SQL.replace("{reach}", _reach_sql(con, customers)), query).df()
    top = top.astype({"rank": "int64", "buyers": "int64"})
    return _note_missing(con, transactions_path, top, "product")


def missing_field_line(
    rankings: Mapping[str, pd.DataFrame], input_params: Mapping[str, Any] | None = None
) -> str | None:
    """Say in one line which rankings are left out because no line carries their field.

    Parameters
    ----------
    rankings : mapping of str to pandas.DataFrame
        What each ranking lists (plural, e.g. "top countries") -> the frame of
        `top_by_cluster` or `signature_products`, in the order the line names them.
    input_params : mapping, optional
        The ``input`` section of the params, so the line names the column to map.

    Returns
    -------
    str or None
        None when no frame records a missing field (``attrs["missing"]``), else one line:
        why, per field, and what is not listed.

    Examples
    --------
    >>> countries = pd.DataFrame()
    >>> countries.attrs["missing"] = "country"
    >>> missing_field_line({"top countries": countries, "top products": pd.DataFrame()},
    ...                    {"columns": {"country": None}})
    "No country column is mapped (input.columns.country), so the personas' top countries are not listed."
    """
    by_field: dict[str, list[str]] = {}
    for listed, frame in rankings.items():
        field = frame.attrs.get("missing")
        if field is not None:
            by_field.setdefault(field, []).append(listed)
    if not by_field:
        return None
    consequences = [
        (field, f"the personas' {' and '.join(listed)} are not listed") for field, listed in by_field.items()
    ]
    return notes_line(consequences, input_params)
