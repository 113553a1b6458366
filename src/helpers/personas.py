"""Personas: what each chosen cluster is like, what to call it and what to do (step 05_personas).

The step reads the RFM table of 03_rfm, the cluster labels of 04_clustering and, when
present, extra customer traits, and works in four stages:

1. **Profiles.** `join_clusters` puts one row per customer together; `cluster_profiles`
   and `overall_profile` give each cluster's size, revenue, medians of recency,
   frequency, monetary, average order value and tenure, and of any extra trait
   (numeric: median; true/false: share true; text: most common value and its share).
   `relative_to_overall`, `segment_composition` and `top_by_cluster` (DuckDB over the
   cleaned transactions) say how a cluster differs and where it buys what.
2. **Names.** `name_personas` compares each cluster's medians with the medians of all
   customers and gives it the first rule of `PERSONA_RULES` that fires (table below),
   a one-paragraph description with its figures and 2-3 actions. Names never depend on
   a cluster's number, and two clusters never share a name (`disambiguate_names`).
   ``personas.overrides`` renames a rule or one cluster (`check_overrides`).
3. **Report.** `persona_cards_html` (escaped HTML cards), `profile_table`,
   `plot_relative_difference`, `plot_segment_composition`.
4. **Metrics.** `persona_metrics` is what ``index.html`` shows (see `helpers.summary`).

Persona rules
-------------
A cluster is **high** on a metric when its median is at least ``ratio`` (default 1.5)
times the median of all customers, **low** at most the overall median / ``ratio``.
For recency (days since the last order, smaller is better) high is called **lapsed**
and low **recent**. Rules are tried in this order; the first that fires names the
cluster:

====  =====================  ===========================  ===========================================
 #    rule                   persona                      fires when (cluster median vs all customers)
====  =====================  ===========================  ===========================================
 1    no_kept_order          No kept order                median frequency < 1 (most have no kept order)
 2    loyal_high_value       Loyal high-value             monetary high, frequency high, not lapsed
 3    at_risk_big_spender    At-risk big spenders         lapsed, monetary or frequency high
 4    new_first_time         New / first-time buyers      frequency <= 1, recency recent or tenure low
 5    dormant_low_value      Dormant low-value            lapsed, monetary low
 6    lapsing                Lapsing customers            lapsed (none of the above)
 7    big_basket             Big-basket occasional buyers average order value high, frequency not high
 8    frequent_small_basket  Frequent small-basket buyers frequency high (monetary not high)
 9    promising_repeat       Promising repeat buyers      recency recent, frequency >= 2
 10   steady_mid_value       Steady mid-value customers   always (the fallback)
====  =====================  ===========================  ===========================================
"""

from __future__ import annotations

import difflib
import html
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from helpers.errors import UserError
from helpers.exports import drop_personal_columns
from helpers.io import connect  # DuckDB with the memory cap (run.memory_limit)
from helpers.report import plain_text

DEFAULT_RATIO = 1.5
CLUSTER_COLUMN = "cluster"
# Median columns of a profile: column of the customer table -> label in the report.
PROFILE_METRICS: dict[str, str] = {
    "recency_days": "days since last order",
    "frequency": "orders",
    "monetary": "net revenue",
    "avg_order_value": "average order value",
    "tenure_days": "days since first order",
}
# Columns of the RFM table and of clusters.parquet: never treated as extra traits.
_KNOWN_COLUMNS: frozenset[str] = frozenset(
    {
        "customer_id", "recency_days", "frequency", "monetary", "tenure_days",
        "avg_order_value", "avg_days_between_orders", "first_order_date", "last_order_date",
        "purchase_invoices", "cancelled_orders", "r_score", "f_score", "m_score", "rfm_score",
        "segment", "kmeans", "hierarchical", "dbscan", CLUSTER_COLUMN, "persona",
    }
)
# Traits taken from 02_eda's customers.parquet (the others repeat RFM figures).
EDA_TRAITS: tuple[str, ...] = ("distinct_products", "return_share", "country")
OVERRIDE_KEYS: tuple[str, ...] = ("name", "actions", "description")
MAX_ACTIONS = 3


# --------------------------------------------------------------------------------------
# Profiles
# --------------------------------------------------------------------------------------


def join_clusters(
    rfm: pd.DataFrame,
    clusters: pd.DataFrame,
    traits: pd.DataFrame | None = None,
    cluster_column: str = CLUSTER_COLUMN,
    extra_patterns: Sequence[str] = (),
) -> pd.DataFrame:
    """Put the RFM table, the chosen cluster label and extra traits in one row per customer.

    Parameters
    ----------
    rfm : pandas.DataFrame
        The RFM table of 03_rfm (`helpers.rfm.RFM_COLUMNS`).
    clusters : pandas.DataFrame
        ``customer_id`` and `cluster_column` (04_clustering's ``clusters.parquet``).
    traits : pandas.DataFrame, optional
        ``customer_id`` and any extra columns; customers without a row get missing values.
        Columns whose name looks like personal data are dropped.
    cluster_column : str, default "cluster"
        The label to use.
    extra_patterns : sequence of str, default ()
        ``privacy.personal_column_patterns`` (see `helpers.exports.personal_columns`).

    Returns
    -------
    pandas.DataFrame
        The RFM columns, ``cluster`` (int) and the trait columns, sorted by customer_id.

    Raises
    ------
    UserError
        A column is missing, ids repeat, or a customer of the RFM table has no cluster (the
        message counts them and names one).
    """
    for name, frame, column in (("clusters", clusters, cluster_column), ("clusters", clusters, "customer_id")):
        if column not in frame.columns:
            raise UserError(
                f"{name} table: column '{column}' is missing; fix: re-run 04_clustering"
            )
    labels = clusters.loc[:, ["customer_id", cluster_column]].copy()
    labels["customer_id"] = labels["customer_id"].astype(str)
    if labels["customer_id"].duplicated().any():
        raise UserError("clusters table: column 'customer_id' has duplicates; fix: re-run 04_clustering")
    labels = labels.rename(columns={cluster_column: CLUSTER_COLUMN})
    customers = rfm.assign(customer_id=rfm["customer_id"].astype(str))
    customers = customers.drop(columns=[CLUSTER_COLUMN], errors="ignore").merge(
        labels, on="customer_id", how="left", validate="one_to_one"
    )
    unlabelled = customers[CLUSTER_COLUMN].isna()
    if unlabelled.any():
        # No example id: the message lands in the run folder, where raw ids must not (privacy).
        raise UserError(
            f"clusters table: {int(unlabelled.sum()):,} customers of the RFM table have no "
            f"'{cluster_column}' label; fix: re-run 04_clustering after 03_rfm"
        )
    customers[CLUSTER_COLUMN] = customers[CLUSTER_COLUMN].astype("int64")
    if traits is not None:
        if "customer_id" not in traits.columns:
            raise UserError("traits table: column 'customer_id' is missing; fix: add it")
        extra = drop_personal_columns(traits, extra_patterns)
        extra = extra.loc[:, [c for c in extra.columns if c == "customer_id" or c not in customers.columns]]
        extra = extra.assign(customer_id=extra["customer_id"].astype(str))
        if extra["customer_id"].duplicated().any():
            raise UserError("traits table: column 'customer_id' has duplicates; fix: keep one row per customer")
        customers = customers.merge(extra, on="customer_id", how="left", validate="one_to_one")
    # A canonical row order makes every sum below (and so the exports) bit-for-bit stable.
    return customers.sort_values("customer_id", kind="mergesort").reset_index(drop=True)


def trait_columns(customers: pd.DataFrame) -> list[str]:
    """Return the extra columns of a joined customer table (not RFM, not labels), in order.

    Examples
    --------
    >>> trait_columns(pd.DataFrame(columns=["customer_id", "monetary", "cluster", "age_band"]))
    ['age_band']
    """
    return [c for c in customers.columns if c not in _KNOWN_COLUMNS]


def _trait_kind(values: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(values):
        return "share"
    if pd.api.types.is_numeric_dtype(values):
        return "median"
    return "top"


def _profile(group: pd.DataFrame, total_customers: int, total_revenue: float, traits: Sequence[str]) -> dict[str, Any]:
    n = len(group)
    revenue = float(group["monetary"].sum())
    frequency = group["frequency"]
    row: dict[str, Any] = {
        "customers": n,
        "customer_share": n / total_customers if total_customers else np.nan,
        "revenue": revenue,
        "revenue_share": revenue / total_revenue if total_revenue else np.nan,
    }
    for column in PROFILE_METRICS:
        row[f"median_{column}"] = float(group[column].median()) if group[column].notna().any() else np.nan
    row["single_order_share"] = float((frequency == 1).mean()) if n else np.nan
    row["no_order_share"] = float((frequency == 0).mean()) if n else np.nan
    for trait in traits:
        values = group[trait]
        kind = _trait_kind(values)
        present = values.dropna()
        if kind == "median":
            row[f"median_{trait}"] = float(present.median()) if len(present) else np.nan
        elif kind == "share":
            row[f"share_{trait}"] = float(present.astype(bool).mean()) if len(present) else np.nan
        else:
            counts = present.astype(str).value_counts()
            if len(counts):
                # most common value; ties broken alphabetically so the result is stable
                top = sorted(counts[counts == counts.iloc[0]].index)[0]
                row[f"top_{trait}"] = top
                row[f"top_{trait}_share"] = float(counts[top] / len(present))
            else:
                row[f"top_{trait}"] = None
                row[f"top_{trait}_share"] = np.nan
    return row


def cluster_profiles(customers: pd.DataFrame, traits: Sequence[str] | None = None) -> pd.DataFrame:
    """Profile every cluster: size, revenue, shares, medians and extra traits.

    Parameters
    ----------
    customers : pandas.DataFrame
        Output of `join_clusters`.
    traits : sequence of str, optional
        Extra columns to profile (default `trait_columns`): numeric -> ``median_<col>``,
        true/false -> ``share_<col>``, anything else -> ``top_<col>`` (most common value,
        ties alphabetical) and ``top_<col>_share``.

    Returns
    -------
    pandas.DataFrame
        Indexed by cluster label (ascending): customers, customer_share, revenue,
        revenue_share, ``median_<metric>`` for each of `PROFILE_METRICS` (customers
        without a kept order have no recency, tenure or order value and are skipped),
        single_order_share, no_order_share, then the trait columns. ``customers`` and
        ``revenue`` add up to the table's.

    Examples
    --------
    >>> table = pd.DataFrame({"customer_id": ["a", "b", "c"], "cluster": [0, 0, 1],
    ...     "recency_days": [10.0, 30.0, 200.0], "frequency": [4, 2, 1],
    ...     "monetary": [400.0, 200.0, 50.0], "avg_order_value": [100.0, 100.0, 50.0],
    ...     "tenure_days": [300.0, 100.0, 200.0], "channel": ["web", "web", "shop"]})
    >>> profiles = cluster_profiles(table)
    >>> profiles[["customers", "revenue", "median_recency_days", "top_channel"]].to_dict("index")
    {0: {'customers': 2, 'revenue': 600.0, 'median_recency_days': 20.0, 'top_channel': 'web'}, \
1: {'customers': 1, 'revenue': 50.0, 'median_recency_days': 200.0, 'top_channel': 'shop'}}
    """
    traits = trait_columns(customers) if traits is None else list(traits)
    total_customers = len(customers)
    total_revenue = float(customers["monetary"].sum())
    rows = {
        label: _profile(group, total_customers, total_revenue, traits)
        for label, group in customers.groupby(CLUSTER_COLUMN, sort=True)
    }
    profiles = pd.DataFrame.from_dict(rows, orient="index")
    profiles.index.name = CLUSTER_COLUMN
    profiles["customers"] = profiles["customers"].astype("int64")
    return profiles


def overall_profile(customers: pd.DataFrame, traits: Sequence[str] | None = None) -> pd.Series:
    """Profile all customers together, with the columns of `cluster_profiles`.

    Returns
    -------
    pandas.Series
        Named ``"All customers"``; shares are 1.
    """
    traits = trait_columns(customers) if traits is None else list(traits)
    row = _profile(customers, len(customers), float(customers["monetary"].sum()), traits)
    return pd.Series(row, name="All customers")


def relative_to_overall(customers: pd.DataFrame, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Return each cluster's mean of each metric relative to the mean of all customers.

    ``mean(cluster) / mean(all) - 1``: 0.5 means 50% above the average customer, -0.5 half
    of it. Missing values are skipped; a metric whose overall mean is 0 gives NaN.

    Parameters
    ----------
    customers : pandas.DataFrame
        Output of `join_clusters`.
    columns : sequence of str, optional
        Numeric columns (default: `PROFILE_METRICS` and the numeric traits).

    Returns
    -------
    pandas.DataFrame
        Clusters (ascending) x columns.

    Examples
    --------
    >>> table = pd.DataFrame({"cluster": [0, 0, 1, 1], "monetary": [30.0, 10.0, 0.0, 0.0]})
    >>> relative_to_overall(table, ["monetary"])["monetary"].tolist()
    [1.0, -1.0]
    """
    if columns is None:
        columns = [*PROFILE_METRICS] + [
            t for t in trait_columns(customers) if _trait_kind(customers[t]) == "median"
        ]
    columns = list(columns)
    overall = customers[columns].astype("float64").mean()
    means = customers.groupby(CLUSTER_COLUMN, sort=True)[columns].mean().astype("float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = means / overall.where(overall != 0) - 1
    return relative


def segment_composition(customers: pd.DataFrame) -> pd.DataFrame:
    """Return the share of each RFM segment within each cluster (rows add up to 1).

    Columns follow the segment order of the RFM table (its categories) and segments with
    no customer at all are left out.

    Examples
    --------
    >>> table = pd.DataFrame({"cluster": [0, 0, 1], "segment": ["Lost", "Loyal", "Lost"]})
    >>> segment_composition(table).to_dict("index")
    {0: {'Lost': 0.5, 'Loyal': 0.5}, 1: {'Lost': 1.0, 'Loyal': 0.0}}
    """
    segment = customers["segment"]
    order = (
        [str(s) for s in segment.cat.categories]
        if isinstance(segment.dtype, pd.CategoricalDtype)
        else sorted(segment.astype(str).unique())
    )
    counts = pd.crosstab(customers[CLUSTER_COLUMN], segment.astype(str))
    counts = counts.reindex(columns=[s for s in order if s in counts.columns])
    counts.columns.name = "segment"
    return counts.div(counts.sum(axis=1), axis=0)


# The SQL of `top_by_cluster`. Both aggregate the lines before joining the cluster labels
# wherever they can, so the large side of each join is small. 100M lines: 25 s for the two
# calls before, when every part joined all lines to the labels (bench/run.py --report).
_TOP_FOOTER = """
SELECT r.cluster, r.rank, r.item, {description} AS description, r.customers,
       r.customers / s.cluster_customers AS customer_share, r.revenue,
       CASE WHEN s.cluster_revenue > 0 THEN r.revenue / s.cluster_revenue END AS revenue_share
FROM ranked AS r JOIN sizes AS s USING (cluster) {join_named}
WHERE r.rank <= $n
ORDER BY r.cluster, r.rank
"""
# Countries: one row per customer and country is small, so everything starts from it.
_TOP_COUNTRIES_SQL = """
WITH customer_items AS (
    SELECT customer_id, nullif(trim(country), '') AS item, sum(amount) AS revenue
    FROM read_parquet($path)
    WHERE invoice_date < $analysis_date
    GROUP BY customer_id, item
),
labelled AS (
    SELECT labels.cluster, customer_items.* FROM customer_items JOIN labels USING (customer_id)
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
)""" + _TOP_FOOTER
# Products rank by revenue first: only those at or above the n-th revenue of their
# cluster (ties included) can make the top n. They are written to a small table first, so
# the distinct customers are counted over their lines alone.
def _lines_cte(condition: str = "") -> str:
    """The ``lines`` CTE: lines before the analysis date (and `condition`), product as ``item``."""
    return f"""lines AS NOT MATERIALIZED (  -- each part reads the columns it needs from the file
    SELECT customer_id, amount, coalesce(product_id, nullif(trim(description), '')) AS item,
           nullif(trim(description), '') AS description
    FROM read_parquet($path)
    WHERE invoice_date < $analysis_date {condition}
)"""


_LINES = _lines_cte()
# The most frequent description of each product ranked within the top n (ties: alphabetical).
_NAMED = """named AS (
    SELECT item, first(description ORDER BY n DESC, description) AS description
    FROM (SELECT item, description, count(*) AS n FROM lines
          WHERE description IS NOT NULL
                AND item IN (SELECT item FROM ranked WHERE rank <= $n)
          GROUP BY item, description)
    GROUP BY item
)"""
_PRODUCT_CANDIDATES_SQL = """
CREATE OR REPLACE TEMP TABLE candidates AS
WITH """ + _LINES + """,
revenue AS (
    SELECT labels.cluster, lines.item, round(sum(lines.amount), 6) AS revenue
    FROM lines JOIN labels USING (customer_id)
    WHERE lines.item IS NOT NULL
    GROUP BY labels.cluster, lines.item
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
_TOP_PRODUCTS_SQL = """
WITH """ + _LINES + """,
sizes AS (
    SELECT labels.cluster, count(*) AS cluster_customers, round(sum(revenue), 6) AS cluster_revenue
    FROM (SELECT customer_id, sum(amount) AS revenue FROM lines GROUP BY customer_id) AS totals
    JOIN labels USING (customer_id)
    GROUP BY labels.cluster
),
candidate_lines AS (  -- the lines of each cluster's candidates
    SELECT labelled.cluster, labelled.customer_id, labelled.item
    FROM (SELECT labels.cluster, lines.customer_id, lines.item
          FROM lines JOIN labels USING (customer_id)) AS labelled
    SEMI JOIN candidates
        ON labelled.cluster = candidates.cluster AND labelled.item = candidates.item
),
reach AS (
    SELECT cluster, item, count(*) AS customers
    FROM (SELECT DISTINCT cluster, item, customer_id FROM candidate_lines) AS pairs
    GROUP BY cluster, item
),
ranked AS (
    SELECT candidates.*, reach.customers,
           row_number() OVER (PARTITION BY cluster ORDER BY revenue DESC, customers DESC, item) AS rank
    FROM candidates JOIN reach USING (cluster, item)
),
""" + _NAMED + _TOP_FOOTER


def _query_params(transactions_path: str | Path, n: int, analysis_date: str | pd.Timestamp | None) -> dict[str, Any]:
    """Check `n` and the transactions file; return the SQL parameters path, analysis_date, n."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise UserError(f"key 'personas.top_n' must be an integer >= 1, got {n!r}; fix: use e.g. 3")
    path = Path(transactions_path)
    if not path.is_file():
        raise UserError(f"{path}: cleaned transactions not found; fix: run 01_clean first")
    cutoff = pd.Timestamp("9999-12-31") if analysis_date is None else pd.Timestamp(analysis_date)
    return {"path": str(path), "analysis_date": cutoff.to_pydatetime(), "n": int(n)}


def _labels(customers: pd.DataFrame) -> pd.DataFrame:
    """The ``labels`` table the SQL joins: customer_id as text, cluster as int64."""
    return pd.DataFrame({
        "customer_id": customers["customer_id"].astype(str).astype(object),
        "cluster": customers[CLUSTER_COLUMN].astype("int64"),
    })


def top_by_cluster(
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
    transactions_path : str or Path
        Cleaned transactions Parquet of 01_clean.
    customers : pandas.DataFrame
        ``customer_id`` and ``cluster`` (e.g. the output of `join_clusters`).
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

    Raises
    ------
    UserError
        Unknown `by`, or the transactions file is missing.
    """
    if by not in ("country", "product"):
        raise UserError(f"top_by_cluster: by={by!r}; fix: use 'country' or 'product'")
    if by == "country":
        sql = _TOP_COUNTRIES_SQL.format(description="NULL::VARCHAR", join_named="")
    else:
        sql = _TOP_PRODUCTS_SQL.format(description="named.description", join_named="LEFT JOIN named USING (item)")
    query = _query_params(transactions_path, n, analysis_date)
    with connect() as con:
        con.register("labels", _labels(customers))
        if by == "product":
            con.execute(_PRODUCT_CANDIDATES_SQL, query).fetchall()
        top = con.execute(sql, query).df()
    top["rank"] = top["rank"].astype("int64")
    top["customers"] = top["customers"].astype("int64")
    return top


_SIGNATURE_SQL = """
WITH """ + _lines_cte("AND NOT is_return") + """,
bought AS (  -- one row per customer and product, with its purchase lines
    SELECT customer_id, item, count(*) AS lines
    FROM lines
    WHERE item IS NOT NULL
    GROUP BY customer_id, item
),
per_cluster AS (
    SELECT labels.cluster, bought.item, count(*) AS buyers, sum(bought.lines) AS lines
    FROM bought JOIN labels USING (customer_id)
    GROUP BY labels.cluster, bought.item
),
overall AS (SELECT item, sum(lines) AS lines FROM per_cluster GROUP BY item),
sizes AS (
    SELECT labels.cluster, count(*) AS customers, any_value(cluster_lines.lines) AS lines
    FROM labels
    LEFT JOIN (SELECT cluster, sum(lines) AS lines FROM per_cluster GROUP BY cluster) AS cluster_lines
        USING (cluster)
    GROUP BY labels.cluster
),
everyone AS (SELECT sum(lines) AS lines FROM per_cluster),
lifted AS (
    SELECT per_cluster.cluster, per_cluster.item, per_cluster.buyers,
           per_cluster.buyers / sizes.customers AS buyer_share,
           per_cluster.lines / sizes.lines AS line_share,
           overall.lines / everyone.lines AS overall_line_share,
           (per_cluster.lines / sizes.lines) / (overall.lines / everyone.lines) AS lift
    FROM per_cluster
    JOIN sizes USING (cluster)
    JOIN overall USING (item)
    CROSS JOIN everyone
    WHERE per_cluster.buyers >= $min_buyers AND per_cluster.buyers >= $min_share * sizes.customers
),
ranked AS (
    SELECT *, row_number() OVER (PARTITION BY cluster ORDER BY lift DESC, buyers DESC, item) AS rank
    FROM lifted
    WHERE lift > 1
),
""" + _NAMED + """
SELECT ranked.cluster, ranked.rank, ranked.item, named.description, ranked.buyers,
       ranked.buyer_share, ranked.line_share, ranked.overall_line_share, ranked.lift
FROM ranked LEFT JOIN named USING (item)
WHERE ranked.rank <= $n
ORDER BY ranked.cluster, ranked.rank
"""


def signature_products(
    transactions_path: str | Path,
    customers: pd.DataFrame,
    n: int = 3,
    analysis_date: str | pd.Timestamp | None = None,
    min_share: float = 0.05,
    min_buyers: int = 5,
) -> pd.DataFrame:
    """Find the products that set each cluster apart: a larger part of its baskets than of all.

    The best sellers of every cluster are mostly the shop's best sellers, the same list
    for every persona. Here each product is scored by its **lift**: its share of the
    cluster's purchase lines divided by its share of all purchase lines (2.0 = twice as
    large a part of the cluster's baskets). Shares of lines, not of customers, so that a
    cluster buying many products does not win every product. Only products with lift > 1,
    bought by at least `min_share` of the cluster's customers and by at least `min_buyers`
    of them, count: one customer's bulk order does not make a signature. Ties: more buyers
    first, then by name.

    Parameters
    ----------
    transactions_path : str or Path
        Cleaned transactions Parquet of 01_clean (purchase lines before `analysis_date` count).
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
        purchase lines), lift. A cluster with no product past the thresholds has no rows.

    Raises
    ------
    UserError
        Bad `n` or `min_share`, or the transactions file is missing.
    """
    if not 0 <= min_share <= 1:
        raise UserError(f"key 'personas.signature_min_share' must be between 0 and 1, got {min_share!r}; "
                        f"fix: use e.g. 0.05")
    query = {**_query_params(transactions_path, n, analysis_date),
             "min_share": float(min_share), "min_buyers": int(min_buyers)}
    with connect() as con:
        con.register("labels", _labels(customers))
        top = con.execute(_SIGNATURE_SQL, query).df()
    for column in ("rank", "buyers"):
        top[column] = top[column].astype("int64")
    return top


def signature_text(signature: pd.DataFrame, width: int = 40) -> pd.Series:
    """Write each cluster's signature products as one line, e.g. ``MUG ×2.4 (34% bought)``.

    Examples
    --------
    >>> sig = pd.DataFrame({"cluster": [0], "item": ["P1"], "description": ["MUG"],
    ...                     "lift": [2.44], "buyer_share": [0.34]})
    >>> signature_text(sig).tolist()
    ['MUG ×2.4 (34% bought)']
    """
    def label(row: pd.Series) -> str:
        return f"{_item_label(row, width)} ×{row['lift']:.1f} ({row['buyer_share']:.0%} bought)"

    return _join_per_cluster(signature, label)


def _item_label(row: pd.Series, width: int) -> str:
    """The item's description (else its id), cut to `width` characters with an ellipsis."""
    desc = row.get("description")
    text = str(desc) if isinstance(desc, str) and desc.strip() else str(row["item"])
    return text if len(text) <= width else text[: width - 1] + "…"


def _join_per_cluster(items: pd.DataFrame, label: Callable[[pd.Series], str]) -> pd.Series:
    """Join each cluster's labelled rows, in their order, with `` · ``; indexed by cluster."""
    if items.empty:
        return pd.Series(dtype=object)
    return items.groupby("cluster", sort=True).apply(
        lambda g: " · ".join(label(r) for _, r in g.iterrows()), include_groups=False
    )


def top_items_text(top: pd.DataFrame, share: str = "customer_share", width: int = 40) -> pd.Series:
    """Write each cluster's top items as one line, e.g. ``United Kingdom 91% · France 3%``.

    Parameters
    ----------
    top : pandas.DataFrame
        Output of `top_by_cluster`.
    share : {"customer_share", "revenue_share"}
        The share written after each item (left out when missing).
    width : int, default 40
        Longer item labels are cut with an ellipsis.

    Returns
    -------
    pandas.Series
        Text indexed by cluster.

    Examples
    --------
    >>> top = pd.DataFrame({"cluster": [0, 0], "item": ["UK", "France"], "description": [None, None],
    ...                     "customer_share": [0.9, 0.05]})
    >>> top_items_text(top).tolist()
    ['UK 90% · France 5%']
    """
    def label(row: pd.Series) -> str:
        text, value = _item_label(row, width), row.get(share)
        return f"{text} {value:.0%}" if value is not None and pd.notna(value) else text

    return _join_per_cluster(top, label)


# --------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Levels:
    """Where a cluster stands against all customers (see the module docstring)."""

    recent: bool
    lapsed: bool
    high_frequency: bool
    high_monetary: bool
    low_monetary: bool
    high_order_value: bool
    new: bool  # tenure low: first order not long ago
    single_order: bool  # median frequency <= 1
    no_kept_order: bool  # median frequency < 1


def _high(value: float, overall: float, ratio: float) -> bool:
    if not (math.isfinite(value) and math.isfinite(overall)):
        return False
    return value > overall and (value >= overall * ratio if overall > 0 else True)


def _low(value: float, overall: float, ratio: float) -> bool:
    if not (math.isfinite(value) and math.isfinite(overall)):
        return False
    return value < overall and (value <= overall / ratio if overall > 0 else True)


def cluster_levels(profile: Mapping[str, Any], overall: Mapping[str, Any], ratio: float = DEFAULT_RATIO) -> Levels:
    """Compare one cluster's medians with all customers' medians.

    Parameters
    ----------
    profile, overall : mapping
        A row of `cluster_profiles` and `overall_profile`.
    ratio : float, default 1.5
        High = at least ``ratio`` x the overall median, low = at most overall / ``ratio``.

    Returns
    -------
    Levels

    Examples
    --------
    >>> overall = {"median_recency_days": 50, "median_frequency": 2, "median_monetary": 600,
    ...            "median_avg_order_value": 300, "median_tenure_days": 250}
    >>> cluster = {"median_recency_days": 20, "median_frequency": 6, "median_monetary": 2000,
    ...            "median_avg_order_value": 330, "median_tenure_days": 300}
    >>> levels = cluster_levels(cluster, overall)
    >>> levels.recent, levels.high_frequency, levels.high_monetary, levels.high_order_value
    (True, True, True, False)
    """
    def get(row: Mapping[str, Any], metric: str) -> float:
        value = row.get(f"median_{metric}")
        return float(value) if value is not None and pd.notna(value) else math.nan

    r, r0 = get(profile, "recency_days"), get(overall, "recency_days")
    f, f0 = get(profile, "frequency"), get(overall, "frequency")
    m, m0 = get(profile, "monetary"), get(overall, "monetary")
    aov, aov0 = get(profile, "avg_order_value"), get(overall, "avg_order_value")
    t, t0 = get(profile, "tenure_days"), get(overall, "tenure_days")
    return Levels(
        recent=_low(r, r0, ratio),
        lapsed=_high(r, r0, ratio),
        high_frequency=_high(f, f0, ratio),
        high_monetary=_high(m, m0, ratio),
        low_monetary=_low(m, m0, ratio),
        high_order_value=_high(aov, aov0, ratio),
        new=_low(t, t0, ratio),
        single_order=math.isfinite(f) and f <= 1,
        no_kept_order=math.isfinite(f) and f < 1,
    )


@dataclass(frozen=True)
class PersonaRule:
    """One naming rule: when it fires (on `Levels`), the name, why, and what to do."""

    key: str
    name: str
    when: str
    why: str
    actions: tuple[str, ...]
    test: Callable[[Levels], bool]


PERSONA_RULES: tuple[PersonaRule, ...] = (
    PersonaRule(
        "no_kept_order", "No kept order",
        "median frequency < 1: most customers have no kept order (all cancelled or returned)",
        "Everything they ordered was cancelled or returned.",
        ("Find out why their orders were cancelled (stock, delivery, payment) and fix the cause",
         "Leave them out of promotional campaigns until they place an order that is kept",
         "Offer a service follow-up rather than a discount"),
        lambda v: v.no_kept_order,
    ),
    PersonaRule(
        "loyal_high_value", "Loyal high-value",
        "monetary high, frequency high, recency not lapsed",
        "They order often, recently and spend the most: the core of the revenue.",
        ("Invite them to a loyalty or VIP programme with early access to new ranges",
         "Thank them with service perks (free delivery, a personal contact) rather than discounts",
         "Ask them for reviews and referrals"),
        lambda v: v.high_monetary and v.high_frequency and not v.lapsed,
    ),
    PersonaRule(
        "at_risk_big_spender", "At-risk big spenders",
        "recency lapsed, monetary or frequency high",
        "They used to buy a lot but have not ordered for a long time.",
        ("Win them back with a personal message and a time-limited offer on what they used to buy",
         "Ask what changed (a short survey or call) before they are lost for good",
         "Trigger this contact automatically when a big spender passes their usual gap between orders"),
        lambda v: v.lapsed and (v.high_monetary or v.high_frequency),
    ),
    PersonaRule(
        "new_first_time", "New / first-time buyers",
        "median frequency <= 1 and recency recent or tenure low (first order not long ago)",
        "Most have placed a single order, not long ago.",
        ("Send a welcome series that leads to a second order within 30 days",
         "Offer an incentive on the second order, such as free delivery",
         "Recommend products often bought with their first purchase"),
        lambda v: v.single_order and (v.recent or v.new),
    ),
    PersonaRule(
        "dormant_low_value", "Dormant low-value",
        "recency lapsed, monetary low",
        "They bought little and long ago.",
        ("Keep them on low-cost channels only (newsletter, one reactivation e-mail)",
         "Try a single win-back offer, then stop contacting those who do not respond",
         "Spend no paid media on this group"),
        lambda v: v.lapsed and v.low_monetary,
    ),
    PersonaRule(
        "lapsing", "Lapsing customers",
        "recency lapsed (none of the rules above)",
        "They have not ordered for much longer than the typical customer.",
        ("Send a reminder with new products in the categories they bought",
         "Offer a limited-time incentive to order again before they lapse for good"),
        lambda v: v.lapsed,
    ),
    PersonaRule(
        "big_basket", "Big-basket occasional buyers",
        "average order value high, frequency not high",
        "They order rarely but in large amounts, like trade buyers.",
        ("Offer volume pricing or a trade account to turn occasional big orders into regular ones",
         "Contact them ahead of their usual buying season with a tailored catalogue"),
        lambda v: v.high_order_value and not v.high_frequency,
    ),
    PersonaRule(
        "frequent_small_basket", "Frequent small-basket buyers",
        "frequency high (monetary not high)",
        "They order often but spend little per order.",
        ("Raise basket size with bundles and a free-delivery threshold just above their usual order",
         "Cross-sell complementary products at checkout"),
        lambda v: v.high_frequency,
    ),
    PersonaRule(
        "promising_repeat", "Promising repeat buyers",
        "recency recent, median frequency >= 2",
        "They came back recently for more than one order.",
        ("Nurture them towards loyalty with personalised recommendations",
         "Offer a loyalty programme membership after their next order"),
        lambda v: v.recent and not v.single_order,
    ),
    PersonaRule(
        "steady_mid_value", "Steady mid-value customers",
        "always (fallback when no rule above fires)",
        "They are close to the typical customer on every measure.",
        ("Keep them engaged with a regular newsletter and seasonal offers",
         "Test cross-sell offers to lift their spend"),
        lambda v: True,
    ),
)
RULE_KEYS: tuple[str, ...] = tuple(rule.key for rule in PERSONA_RULES)


def rules_table(ratio: float = DEFAULT_RATIO) -> pd.DataFrame:
    """Return the naming rules as a table for the report (order, rule, persona, when).

    Examples
    --------
    >>> rules_table().iloc[1, 1:].tolist()
    ['loyal_high_value', 'Loyal high-value', 'monetary high, frequency high, recency not lapsed']
    """
    return pd.DataFrame(
        [(i, r.key, r.name, r.when) for i, r in enumerate(PERSONA_RULES, 1)],
        columns=["order", "rule", "persona", "fires when"],
    )


def match_rule(levels: Levels) -> PersonaRule:
    """Return the first rule of `PERSONA_RULES` that fires for `levels`."""
    return next(rule for rule in PERSONA_RULES if rule.test(levels))


def _cluster_key(key: Any) -> int | None:
    """Return the cluster label a key names (an int or integer text), else None."""
    if isinstance(key, bool):
        return None
    if isinstance(key, int):
        return key
    text = str(key).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    return None


def _override_entry(key: Any, value: Any) -> tuple[dict[str, Any], list[str]]:
    """Normalise one entry of ``personas.overrides``; return it and its problems ("...; fix: ...")."""
    where = f"personas.overrides.{key}"
    problems: list[str] = []
    if _cluster_key(key) is None and key not in RULE_KEYS:
        close = difflib.get_close_matches(str(key), RULE_KEYS, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"use a cluster number or one of {', '.join(RULE_KEYS)}"
        problems.append(f"key '{where}': unknown rule; fix: {hint}")
    if not isinstance(value, Mapping) or not value:
        problems.append(f"key '{where}' must be a mapping with name, actions or description; "
                        f"fix: write e.g. {{name: VIP regulars}}")
        return {}, problems
    entry: dict[str, Any] = {}
    for field_name, field_value in value.items():
        if field_name not in OVERRIDE_KEYS:
            close = difflib.get_close_matches(str(field_name), OVERRIDE_KEYS, n=1)
            hint = f"did you mean '{close[0]}'?" if close else "use name, actions or description"
            problems.append(f"key '{where}.{field_name}': unknown field; fix: {hint}")
        elif field_name == "actions":
            # A tuple is this function's own output: checking twice gives the same result.
            if (isinstance(field_value, (list, tuple)) and 1 <= len(field_value) <= MAX_ACTIONS
                    and all(isinstance(a, str) and a.strip() for a in field_value)):
                entry["actions"] = tuple(a.strip() for a in field_value)
            else:
                problems.append(f"key '{where}.actions' must be a list of 1 to {MAX_ACTIONS} non-empty texts, "
                                f"got {field_value!r}; fix: write e.g. [Call them, Send a voucher]")
        elif isinstance(field_value, str) and field_value.strip():
            entry[field_name] = field_value.strip()
        else:
            problems.append(f"key '{where}.{field_name}' must be a non-empty text, got {field_value!r}; "
                            f"fix: write e.g. {field_name}: VIP regulars")
    return entry, problems


def override_problems(overrides: Mapping[Any, Any] | None) -> list[str]:
    """Return every problem of ``personas.overrides``, one "...; fix: ..." text each (none: valid).

    Examples
    --------
    >>> override_problems({"lapsing": {"name": "Sleepers"}})
    []
    >>> override_problems({"lapsing": {"nmae": "X"}})
    ["key 'personas.overrides.lapsing.nmae': unknown field; fix: did you mean 'name'?"]
    """
    return [problem for key, value in (overrides or {}).items() for problem in _override_entry(key, value)[1]]


def check_overrides(overrides: Mapping[Any, Any] | None) -> dict[Any, dict[str, Any]]:
    """Check ``personas.overrides`` and return it normalised.

    Keys are a rule name of `PERSONA_RULES` (applies to every cluster that rule names) or
    a cluster label such as ``3`` (that cluster only; it wins over the rule). Each value
    may set ``name`` (text), ``actions`` (1-3 texts) and ``description`` (text)::

        personas:
          overrides:
            loyal_high_value: {name: VIP regulars, actions: [Invite to the VIP evening]}
            3: {name: Wholesale accounts}

    Checking the result again returns it unchanged, so callers may check twice.

    Parameters
    ----------
    overrides : mapping or None

    Returns
    -------
    dict
        Keys: rule names (str) and cluster labels (int); values with the keys given,
        texts stripped and ``actions`` a tuple.

    Raises
    ------
    UserError
        Every unknown rule (with a "did you mean"), unknown field, empty name, wrong type,
        or more than 3 actions, in one message; each names its key.

    Examples
    --------
    >>> check_overrides({"3": {"name": " Trade "}, "lapsing": {"actions": ["Call them"]}})
    {3: {'name': 'Trade'}, 'lapsing': {'actions': ('Call them',)}}
    """
    problems = override_problems(overrides)
    if len(problems) == 1:
        raise UserError(problems[0])
    if problems:
        listed = "; ".join(p.replace("; fix: ", " (fix: ", 1) + (")" if "; fix: " in p else "") for p in problems)
        raise UserError(f"{len(problems)} problems in personas.overrides: {listed}")
    checked: dict[Any, dict[str, Any]] = {}
    for key, value in (overrides or {}).items():
        label = _cluster_key(key)
        checked[label if label is not None else str(key)] = _override_entry(key, value)[0]
    return checked


# Words used to tell clusters with the same name apart, per metric: larger / smaller value
# for two clusters, largest / smallest for more, and the noun for the ranks in between.
_DISTINGUISH: dict[str, tuple[str, str, str, str, str]] = {
    "monetary": ("higher spend", "lower spend", "highest spend", "lowest spend", "spend"),
    "frequency": ("more orders", "fewer orders", "most orders", "fewest orders", "orders"),
    "recency_days": ("less recent", "more recent", "least recent", "most recent", "recency"),
    "avg_order_value": ("larger baskets", "smaller baskets", "largest baskets", "smallest baskets", "basket size"),
    "tenure_days": ("longer-standing", "newer", "longest-standing", "newest", "tenure"),
}


def _spread(values: pd.Series, overall: float) -> float:
    finite = values.dropna()
    if len(finite) < 2 or finite.nunique() < 2:
        return 0.0
    scale = abs(overall) if math.isfinite(overall) and overall != 0 else float(finite.abs().max()) or 1.0
    return float((finite.max() - finite.min()) / scale)


def disambiguate_names(personas: pd.DataFrame, overall: Mapping[str, Any]) -> pd.Series:
    """Give clusters that share a persona name a suffix from the trait that tells them apart.

    Among the clusters sharing a name, the metric of `_DISTINGUISH` whose medians differ
    most (relative to the overall median) is chosen. Two clusters get the comparative
    ("Lapsing customers (higher spend)" / "(lower spend)"); more get "highest" and
    "lowest" at the ends and a rank in between ("spend rank 2 of 4"). Should names still
    repeat (identical medians), a number follows (" 2", " 3"), by size then label.

    Parameters
    ----------
    personas : pandas.DataFrame
        ``persona``, ``customers`` and ``median_<metric>`` columns, indexed by cluster.
    overall : mapping
        `overall_profile`.

    Returns
    -------
    pandas.Series
        Unique names, same index.

    Examples
    --------
    >>> frame = pd.DataFrame({"persona": ["Lapsing", "Lapsing", "New"], "customers": [5, 3, 2],
    ...     "median_monetary": [100.0, 900.0, 50.0], "median_frequency": [1.0, 1.0, 1.0]})
    >>> disambiguate_names(frame, {"median_monetary": 300.0, "median_frequency": 1.0}).tolist()
    ['Lapsing (lower spend)', 'Lapsing (higher spend)', 'New']
    """
    names = personas["persona"].astype(str).copy()
    for name in sorted(names[names.duplicated(keep=False)].unique()):
        members = personas[names == name]
        metrics = [m for m in _DISTINGUISH if f"median_{m}" in members.columns]
        spreads = {m: _spread(members[f"median_{m}"], float(overall.get(f"median_{m}", math.nan))) for m in metrics}
        best = max(metrics, key=lambda m: spreads[m]) if metrics else None
        if best is None or spreads[best] == 0:
            continue
        larger, smaller, largest, smallest, noun = _DISTINGUISH[best]
        values = members[f"median_{best}"]
        order = values.rank(method="first", ascending=False, na_option="bottom").astype(int)
        n = len(members)
        for label, position in order.items():
            if n == 2:
                suffix = larger if position == 1 else smaller
            elif position == 1:
                suffix = largest
            elif position == n:
                suffix = smallest
            else:
                suffix = f"{noun} rank {position} of {n}"
            names[label] = f"{name} ({suffix})"
    # Last resort: identical medians, or a suffixed name equal to another persona's name.
    if not names.is_unique:
        seen: dict[str, int] = {}
        by_size = personas.sort_values("customers", ascending=False, kind="mergesort").index
        for label in by_size:
            base = names[label]
            seen[base] = seen.get(base, 0) + 1
            if seen[base] > 1:
                k = seen[base]
                while f"{base} {k}" in set(names):
                    k += 1
                names[label] = f"{base} {k}"
    return names


def _fmt_days(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:,.0f}"


def _fmt_count(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:,.1f}".removesuffix(".0")


def _fmt_money(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:,.0f}"


def describe_persona(profile: Mapping[str, Any], overall: Mapping[str, Any], why: str) -> str:
    """Write one paragraph on a persona with its figures against all customers.

    Examples
    --------
    >>> overall = {"median_recency_days": 51.0, "median_frequency": 2.0, "median_monetary": 642.6,
    ...            "median_avg_order_value": 282.7}
    >>> cluster = {"customers": 1703, "customer_share": 0.39, "revenue_share": 0.848,
    ...            "median_recency_days": 24.0, "median_frequency": 5.0, "median_monetary": 1910.0,
    ...            "median_avg_order_value": 338.0}
    >>> describe_persona(cluster, overall, "They buy often.")  # doctest: +NORMALIZE_WHITESPACE
    '1,703 customers (39.0% of all) bring 84.8% of net revenue. They buy often. The median
    customer last ordered 24 days ago (all customers: 51), placed 5 orders (2) and spent
    1,910 in net revenue (643), 338 per order (283).'
    """
    def get(row: Mapping[str, Any], key: str) -> float:
        value = row.get(key)
        return float(value) if value is not None and pd.notna(value) else math.nan

    n, share = int(profile["customers"]), get(profile, "revenue_share")
    who = f"{n:,} customer{'s' if n != 1 else ''} ({get(profile, 'customer_share'):.1%} of all)"
    verb = "brings" if n == 1 else "bring"
    if math.isfinite(share) and share > 0:
        head = f"{who} {verb} {share:.1%} of net revenue."
    else:
        head = f"{who} {verb} no net revenue ({_fmt_money(get(profile, 'revenue'))} in total)."
    r, f = get(profile, "median_recency_days"), get(profile, "median_frequency")
    m, aov = get(profile, "median_monetary"), get(profile, "median_avg_order_value")
    if not math.isfinite(r):
        figures = (
            f"They have no kept order; their median net revenue is {_fmt_money(m)} "
            f"(all customers: {_fmt_money(get(overall, 'median_monetary'))})."
        )
    else:
        figures = (
            f"The median customer last ordered {_fmt_days(r)} days ago (all customers: "
            f"{_fmt_days(get(overall, 'median_recency_days'))}), placed {_fmt_count(f)} "
            f"order{'' if f == 1 else 's'} "
            f"({_fmt_count(get(overall, 'median_frequency'))}) and spent {_fmt_money(m)} in net "
            f"revenue ({_fmt_money(get(overall, 'median_monetary'))}), {_fmt_money(aov)} per order "
            f"({_fmt_money(get(overall, 'median_avg_order_value'))})."
        )
    return f"{head} {why} {figures}"


def name_personas(
    profiles: pd.DataFrame,
    overall: Mapping[str, Any],
    ratio: float = DEFAULT_RATIO,
    overrides: Mapping[Any, Any] | None = None,
) -> pd.DataFrame:
    """Name every cluster by the first persona rule that fires, with a description and actions.

    Parameters
    ----------
    profiles : pandas.DataFrame
        Output of `cluster_profiles`.
    overall : mapping
        Output of `overall_profile`.
    ratio : float, default 1.5
        See `cluster_levels`; must be > 1.
    overrides : mapping, optional
        ``personas.overrides`` (see `check_overrides`): a cluster label's entry wins over
        its rule's entry; each field replaces the generated one.

    Returns
    -------
    pandas.DataFrame
        The profile columns plus ``persona`` (unique), ``rule``, ``description``,
        ``actions`` (tuple), ``overridden`` (bool), indexed by cluster; rows by revenue
        share, largest first (ties: label). ``attrs["unused_overrides"]`` lists cluster
        overrides that match no cluster.

    Raises
    ------
    UserError
        A ratio not above 1, or invalid overrides.
    """
    if not isinstance(ratio, (int, float)) or isinstance(ratio, bool) or not ratio > 1:
        raise UserError(f"key 'personas.ratio' must be a number above 1, got {ratio!r}; fix: use e.g. 1.5")
    checked = check_overrides(overrides)
    rows = []
    for label, profile in profiles.iterrows():
        levels = cluster_levels(profile, overall, ratio)
        rule = match_rule(levels)
        entry = {**checked.get(rule.key, {}), **checked.get(int(label), {})}
        rows.append(
            {
                CLUSTER_COLUMN: label,
                "persona": entry.get("name", rule.name),
                "rule": rule.key,
                "description": entry.get("description") or describe_persona(profile, overall, rule.why),
                "actions": tuple(entry.get("actions", rule.actions)),
                "overridden": bool(entry),
            }
        )
    named = pd.DataFrame(rows).set_index(CLUSTER_COLUMN)
    personas = profiles.join(named)
    personas["persona"] = disambiguate_names(personas, overall)
    personas["_label"] = personas.index
    personas = personas.sort_values(
        ["revenue_share", "_label"], ascending=[False, True], kind="mergesort", na_position="last"
    ).drop(columns="_label")
    labels = {int(v) for v in profiles.index}
    personas.attrs["unused_overrides"] = sorted(k for k in checked if isinstance(k, int) and k not in labels)
    first = ["persona", "rule"]
    return personas.loc[:, first + [c for c in personas.columns if c not in first]]


def persona_metrics(personas: pd.DataFrame) -> dict[str, Any]:
    """Return the figures ``index.html`` shows: ``{"personas": [{persona, customers, ...}]}``.

    Examples
    --------
    >>> frame = pd.DataFrame({"persona": ["A"], "customers": [3], "customer_share": [1.0],
    ...                       "revenue_share": [1.0], "actions": [("Call", "Write")]})
    >>> persona_metrics(frame)
    {'personas': [{'persona': 'A', 'customers': 3, 'customer_share': 1.0, 'revenue_share': 1.0, 'action': 'Call'}]}
    """
    return {
        "personas": [
            {
                "persona": str(row["persona"]),
                "customers": int(row["customers"]),
                "customer_share": round(float(row["customer_share"]), 6),
                "revenue_share": round(float(row["revenue_share"]), 6) if pd.notna(row["revenue_share"]) else None,
                "action": str(row["actions"][0]) if len(row["actions"]) else "",
            }
            for _, row in personas.iterrows()
        ]
    }


# --------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------

# Card accent colour per rule (colour-blind safe tones); overrides keep their rule's colour.
RULE_COLORS: dict[str, str] = {
    "no_kept_order": "#b0b0b0",
    "loyal_high_value": "#009e73",
    "at_risk_big_spender": "#d55e00",
    "new_first_time": "#0072b2",
    "dormant_low_value": "#666666",
    "lapsing": "#e69f00",
    "big_basket": "#cc79a7",
    "frequent_small_basket": "#56b4e9",
    "promising_repeat": "#6a3d9a",
    "steady_mid_value": "#4c72b0",
}

_CARD_CSS = """
<style>
.persona-cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(22rem,1fr));gap:.9rem;margin:.5rem 0 1rem}
.persona-card{border:1px solid #d8d8d8;border-left-width:6px;border-radius:.4rem;padding:.6rem .9rem;overflow-wrap:anywhere;background:#fff;min-width:0}
.persona-card .persona-name{font-size:1.15rem;font-weight:700;margin:0 0 .15rem}
.persona-card .persona-size{color:#555;margin:0 0 .4rem}
.persona-card table.persona-figures{border-collapse:collapse;margin:0 0 .4rem;width:100%;font-size:.85rem;table-layout:fixed}
.persona-card table.persona-figures th,.persona-card table.persona-figures td{padding:.1rem .3rem;border-bottom:1px solid #eee;text-align:right}
.persona-card table.persona-figures th:first-child,.persona-card table.persona-figures td:first-child{text-align:left;width:46%}
.persona-card p{margin:.3rem 0}
.persona-card ol{margin:.2rem 0 .2rem 1.2rem;padding:0}
</style>
"""


def persona_cards_html(
    personas: pd.DataFrame, overall: Mapping[str, Any], signature: Mapping[int, str] | None = None
) -> str:
    """Return the persona cards as HTML: name, size, revenue share, key figures, actions.

    Every text (names, descriptions, actions, overrides included) is escaped with
    `html.escape`. The cards flow in a grid of columns at least 22rem wide, so they fit a
    1280 px laptop screen without horizontal scrolling.

    Parameters
    ----------
    personas : pandas.DataFrame
        Output of `name_personas` (in display order).
    overall : mapping
        Output of `overall_profile` (the "all customers" column of each card).
    signature : mapping, optional
        Cluster -> text of its signature products (`signature_text`), shown on its card.

    Returns
    -------
    str
        A ``<style>`` block and one ``<div class="persona-cards">``.
    """
    esc = html.escape

    def value(row: Mapping[str, Any], key: str, fmt: Callable[[float], str]) -> str:
        raw = row.get(key)
        return fmt(float(raw)) if raw is not None and pd.notna(raw) else "n/a"

    figures = (
        ("Days since last order", "median_recency_days", _fmt_days),
        ("Orders", "median_frequency", _fmt_count),
        ("Net revenue", "median_monetary", _fmt_money),
        ("Average order value", "median_avg_order_value", _fmt_money),
        ("Days since first order", "median_tenure_days", _fmt_days),
    )
    signature = signature if signature is not None else {}
    cards = []
    for cluster, row in personas.iterrows():
        color = RULE_COLORS.get(str(row["rule"]), "#4c72b0")
        share = row["revenue_share"]
        revenue = f"{float(share):.1%} of net revenue" if pd.notna(share) and share > 0 else "no net revenue"
        table_rows = "".join(
            f"<tr><td>{esc(label)}</td><td>{value(row, key, fmt)}</td><td>{value(overall, key, fmt)}</td></tr>"
            for label, key, fmt in figures
        )
        actions = "".join(f"<li>{esc(str(a))}</li>" for a in row["actions"])
        bought = signature.get(cluster)
        bought_html = (f'<p class="persona-signature"><b>Buys more than others</b>: {esc(str(bought))}</p>'
                       if bought else "")
        cards.append(
            f'<div class="persona-card" style="border-left-color:{color}">'
            f'<div class="persona-name">{esc(str(row["persona"]))}</div>'
            f'<p class="persona-size">{int(row["customers"]):,} customers '
            f'({float(row["customer_share"]):.1%}) &middot; <b>{esc(revenue)}</b></p>'
            f'<table class="persona-figures"><tr><th>median</th><th>persona</th><th>all</th></tr>'
            f"{table_rows}</table>"
            f"<p>{esc(str(row['description']))}</p>{bought_html}"
            f"<p><b>Recommended actions</b></p><ol>{actions}</ol></div>"
        )
    return _CARD_CSS + '<div class="persona-cards">' + "".join(cards) + "</div>"


PROFILE_TABLE_COLUMNS: dict[str, tuple[str, str]] = {
    "customers": ("customers", "{:,}"),
    "customer_share": ("share of customers", "{:.1%}"),
    "revenue": ("net revenue", "{:,.0f}"),
    "revenue_share": ("share of revenue", "{:.1%}"),
    "median_recency_days": ("days since last order", "{:,.0f}"),
    "median_frequency": ("orders", "{:,.1f}"),
    "median_monetary": ("net revenue per customer", "{:,.0f}"),
    "median_avg_order_value": ("order value", "{:,.0f}"),
    "median_tenure_days": ("days since first order", "{:,.0f}"),
    "single_order_share": ("one order only", "{:.0%}"),
}
PROFILE_TABLE_FORMATS: dict[str, str] = {label: fmt for label, fmt in PROFILE_TABLE_COLUMNS.values()}


def profile_table(personas: pd.DataFrame, overall: pd.Series) -> pd.DataFrame:
    """Return the persona figures with readable headers, one row per persona plus all customers.

    Show it with ``table_html(frame, PROFILE_TABLE_FORMATS)``; medians are per customer.
    """
    rows = pd.concat([personas, overall.to_frame().T.assign(persona="All customers")])
    table = rows.loc[:, ["persona", *PROFILE_TABLE_COLUMNS]].rename(
        columns={c: label for c, (label, _) in PROFILE_TABLE_COLUMNS.items()}
    )
    table["customers"] = table["customers"].astype("int64")
    for column in table.columns[2:]:
        table[column] = table[column].astype("float64")
    return table.reset_index(drop=True)


# Numeric traits shown as percentages (e.g. 02_eda's return_share).
_SHARE_SUFFIXES: tuple[str, ...] = ("_share", "_rate", "_ratio")


def traits_table(personas: pd.DataFrame, overall: pd.Series, traits: Sequence[str]) -> pd.DataFrame:
    """Return the extra traits per persona as text (median, share true, or top value and share).

    Numeric traits named ``*_share``, ``*_rate`` or ``*_ratio`` are written as percentages.
    Returns an empty frame when there are no traits.

    Examples
    --------
    >>> personas = pd.DataFrame({"persona": ["Loyal"], "median_return_share": [0.012],
    ...                          "top_channel": ["web"], "top_channel_share": [0.75]})
    >>> overall = pd.Series({"median_return_share": 0.0, "top_channel": "web", "top_channel_share": 0.6})
    >>> traits_table(personas, overall, ["return_share", "channel"]).to_dict("records")[0]
    {'persona': 'Loyal', 'return share (median)': '1.2%', 'channel (most common)': 'web (75%)'}
    """
    rows = []
    for name, row in [*((r["persona"], r) for _, r in personas.iterrows()), ("All customers", overall)]:
        cells = {"persona": name}
        for trait in traits:
            shown = str(trait).replace("_", " ")
            if f"median_{trait}" in row.index:
                v = row[f"median_{trait}"]
                if pd.isna(v):
                    text = ""
                elif str(trait).lower().endswith(_SHARE_SUFFIXES):
                    text = f"{float(v):.1%}"
                else:
                    text = f"{float(v):,.2f}".rstrip("0").rstrip(".")
                cells[f"{shown} (median)"] = text
            elif f"share_{trait}" in row.index:
                v = row[f"share_{trait}"]
                cells[f"{shown} (share true)"] = "" if pd.isna(v) else f"{float(v):.0%}"
            elif f"top_{trait}" in row.index:
                top, share = row[f"top_{trait}"], row[f"top_{trait}_share"]
                cells[f"{shown} (most common)"] = "" if top is None or pd.isna(share) else f"{top} ({float(share):.0%})"
        rows.append(cells)
    return pd.DataFrame(rows) if traits else pd.DataFrame()


def _draw_heatmap(data: pd.DataFrame, ax, **kwargs) -> None:
    """Draw a seaborn heatmap without its matplotlib 3.11 deprecation notice (seaborn 0.13.2)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The set_bad function", category=PendingDeprecationWarning)
        sns.heatmap(data, ax=ax, **kwargs)


_plain = plain_text


def _signed_pct(value: float) -> str:
    """Label a relative difference: ``+35%``, ``-60%``, ``x12`` beyond +1000%.

    Examples
    --------
    >>> [_signed_pct(v) for v in (0.354, -0.6, 15.2, float("nan"))]
    ['+35%', '-60%', 'x16', '']
    """
    if not math.isfinite(value):
        return ""
    if value > 10:
        return f"x{value + 1:.0f}"
    return f"{value:+.0%}"


def plot_relative_difference(relative: pd.DataFrame, names: Mapping[Any, str]) -> Figure:
    """Draw each persona's mean against the average customer as a red/blue heatmap.

    Colours are clipped at +-100% so one extreme cell does not wash the rest out; the
    labels give the true values.

    Parameters
    ----------
    relative : pandas.DataFrame
        Output of `relative_to_overall`.
    names : mapping
        Cluster label -> persona name (rows are shown in this mapping's order).
    """
    order = [label for label in names if label in relative.index]
    data = relative.loc[order]
    labels = np.array([[_signed_pct(v) for v in row] for row in data.to_numpy(dtype=float)])
    columns = [PROFILE_METRICS.get(c, _plain(str(c).replace("_", " "))) for c in data.columns]
    fig, ax = plt.subplots(figsize=(10, 0.55 * len(order) + 2.2), constrained_layout=True)
    _draw_heatmap(
        data.set_axis(columns, axis=1).set_axis([_plain(names[i]) for i in order], axis=0),
        ax,
        annot=labels,
        fmt="",
        cmap="RdBu_r",
        vmin=-1,
        vmax=1,
        center=0,
        linewidths=0.5,
        cbar_kws={"format": FuncFormatter(lambda x, _: f"{x:+.0%}"), "label": "mean vs all customers"},
    )
    ax.set_title("Persona mean vs the average customer (red above, blue below)")
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.set_xticklabels(ax.get_xticklabels(), rotation=20, ha="right")
    ax.set_yticklabels(ax.get_yticklabels(), rotation=0)
    return fig


def plot_segment_composition(composition: pd.DataFrame, names: Mapping[Any, str]) -> Figure:
    """Draw the share of each RFM segment within each persona (rows add up to 100%).

    Parameters
    ----------
    composition : pandas.DataFrame
        Output of `segment_composition`.
    names : mapping
        Cluster label -> persona name (row order).
    """
    order = [label for label in names if label in composition.index]
    data = composition.loc[order]
    labels = np.array(
        [[f"{v:.0%}" if v >= 0.005 else "" for v in row] for row in data.to_numpy(dtype=float)]
    )
    fig, ax = plt.subplots(
        figsize=(max(8.0, 0.75 * data.shape[1] + 4), 0.55 * len(order) + 2.6), constrained_layout=True
    )
    _draw_heatmap(
        data.set_axis([_plain(names[i]) for i in order], axis=0).set_axis(
            [_plain(c) for c in data.columns], axis=1
        ),
        ax,
        annot=labels,
        fmt="",
        cmap="Blues",
        vmin=0,
        vmax=1,
        linewidths=0.5,
        cbar_kws={"format": FuncFormatter(lambda x, _: f"{x:.0%}"), "label": "share of the persona"},
    )
    ax.set_title("RFM segments within each persona (each row adds up to 100%)")
    ax.set_xlabel("RFM segment (03_rfm)")
    ax.set_ylabel("")
    ax.set_xticklabels(ax.get_xticklabels(), rotation=35, ha="right")
    ax.set_yticklabels(ax.get_yticklabels(), rotation=0)
    return fig


def load_traits(path: str | Path | None, extra_patterns: Sequence[str] = ()) -> pd.DataFrame | None:
    """Read an optional customer traits file (CSV or Parquet) with ``customer_id``.

    Parameters
    ----------
    path : str, Path or None
        ``personas.traits_file``; None or "" means no file.
    extra_patterns : sequence of str
        ``privacy.personal_column_patterns``: personal columns are dropped on reading.

    Returns
    -------
    pandas.DataFrame or None
        ``customer_id`` as text and the other columns, personal ones dropped (their names
        in ``attrs["dropped_personal_columns"]``).

    Raises
    ------
    UserError
        Missing file, unknown extension, or no ``customer_id`` column.
    """
    if path is None or str(path).strip() == "":
        return None
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: traits file not found (key 'personas.traits_file'); fix: point it at a CSV or Parquet file, or set it to null")
    suffixes = "".join(path.suffixes).lower()
    if suffixes.endswith(".parquet"):
        traits = pd.read_parquet(path)
    elif suffixes.endswith((".csv", ".csv.gz", ".tsv", ".txt")):
        traits = pd.read_csv(path, sep=None, engine="python", dtype={"customer_id": str})
    else:
        raise UserError(f"{path}: traits file must be .csv or .parquet (key 'personas.traits_file')")
    if "customer_id" not in traits.columns:
        raise UserError(f"{path}: column 'customer_id' is missing (key 'personas.traits_file'); fix: name the id column customer_id")
    traits["customer_id"] = traits["customer_id"].astype(str).str.strip().str.removesuffix(".0")
    return drop_personal_columns(traits, extra_patterns)


def customer_traits(
    eda_customers_path: str | Path | None,
    traits_file: str | Path | None = None,
    extra_patterns: Sequence[str] = (),
) -> pd.DataFrame | None:
    """Collect the extra traits to profile: `EDA_TRAITS` of 02_eda and an optional traits file.

    Parameters
    ----------
    eda_customers_path : str, Path or None
        02_eda's ``customers.parquet``; skipped when missing.
    traits_file : str, Path or None
        ``personas.traits_file`` (see `load_traits`), e.g. demographics or web behaviour.
    extra_patterns : sequence of str
        ``privacy.personal_column_patterns``.

    Returns
    -------
    pandas.DataFrame or None
        ``customer_id`` and the trait columns (the file's win over 02_eda's on a name
        clash), personal columns dropped and listed in ``attrs["dropped_personal_columns"]``;
        None when there is nothing.
    """
    frames = []
    if eda_customers_path is not None and Path(eda_customers_path).is_file():
        eda = pd.read_parquet(eda_customers_path)
        keep = ["customer_id", *[c for c in EDA_TRAITS if c in eda.columns]]
        if "customer_id" in eda.columns and len(keep) > 1:
            frames.append(eda.loc[:, keep].assign(customer_id=eda["customer_id"].astype(str)))
    extra = load_traits(traits_file, extra_patterns)
    dropped = list(extra.attrs.get("dropped_personal_columns", [])) if extra is not None else []
    if extra is not None:
        frames = [f.drop(columns=[c for c in f.columns if c != "customer_id" and c in extra.columns]) for f in frames]
        frames.append(extra)
    if not frames:
        return None
    traits = frames[0]
    for frame in frames[1:]:
        traits = traits.merge(frame, on="customer_id", how="outer")
    traits = drop_personal_columns(traits, extra_patterns)
    traits.attrs["dropped_personal_columns"] = dropped + traits.attrs["dropped_personal_columns"]
    return traits


def load_clusters(path: str | Path) -> pd.DataFrame:
    """Read 04_clustering's ``clusters.parquet``; fail with the fix when it is missing.

    Raises
    ------
    UserError
        The file does not exist.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(
            f"{path}: cluster labels not found; fix: run notebook 04_clustering first "
            f"(make report runs every step in order)"
        )
    return pd.read_parquet(path)


def persona_takeaway(personas: pd.DataFrame) -> str:
    """Say which persona brings the most revenue and how concentrated revenue is.

    Examples
    --------
    >>> frame = pd.DataFrame({"persona": ["Loyal", "New"], "customer_share": [0.39, 0.61],
    ...                       "revenue_share": [0.85, 0.15]})
    >>> persona_takeaway(frame)
    "'Loyal' (39% of customers) bring 85% of net revenue; the other persona (61% of customers) brings 15%."
    """
    top = personas.sort_values("revenue_share", ascending=False, kind="mergesort").iloc[0]
    rest = personas[personas["persona"] != top["persona"]]
    text = (
        f"'{top['persona']}' ({float(top['customer_share']):.0%} of customers) bring "
        f"{float(top['revenue_share']):.0%} of net revenue"
    )
    if len(rest) == 1:
        text += f"; the other persona ({float(rest['customer_share'].sum()):.0%} of customers) brings"
    elif len(rest) > 1:
        text += f"; the other {len(rest)} personas ({float(rest['customer_share'].sum()):.0%} of customers) bring"
    if len(rest):
        text += f" {float(rest['revenue_share'].sum()):.0%}"
    return text + "."
