"""Cleaning rules for transaction lines, run in DuckDB, each logged.

Every line of the canonical table gets at most one *removal* reason: the first rule in
`RULES` that applies (so the counts are disjoint and raw rows = kept rows + removed rows).
Two rules keep lines and only mark them: returns/cancellations (``is_return``, netted
against purchases by summing signed amounts) and extreme lines (``is_outlier``). Their
log rows say "flagged", and are not part of the removal arithmetic.

The log has one row per rule: ``rule``, ``action`` (removed / flagged / off), ``rows``,
``revenue`` (sum of the signed line amounts affected), ``customers`` and ``description``
(`helpers.catalog.CLEANING_LOG_COLUMNS`).
``customers`` counts the customers *lost* to cleaning: customers (a non-missing id) none of
whose lines is kept. Each lost customer is counted once, under the first rule in `RULES`
order that removed any of their lines (``outlier_dropped`` last), so the column adds up to
the customers lost; flag rules lose no customer. Copies of the header row are no customer.

Outliers are compared on the log10 scale the quartiles come from, against the very log10
values of the kept amounts, so a line whose log is the threshold (e.g. every line at Q3 when
the spread is 0) is not flagged. The only tolerance, `LOG_TOLERANCE`, absorbs the rounding
of ``Q3 + k x IQR`` itself; the SQL then compares |amount| with the largest kept |amount|
within the threshold, which is exact.

Built to stream with bounded memory (100M lines on a laptop): ``flagged`` is a view over
``canonical`` (the staged table of `helpers.io`), only 8-byte line hashes are sorted and no
join builds on every line (a join only probes small tables: repeated hashes, lost customers). Exact
duplicates are found from the sorted hashes of the lines, ranking only the lines whose hash
repeats (a few %), instead of a window over every line, and are marked in a column
(`helpers.io.mark_lines`). The log's rows, revenue and the outlier quartiles come from one
aggregate pass (quartiles exact, from a frequency table of the kept amounts). The kept
lines are written once, in input order, to a Parquet file in the connection's work folder
(`helpers.io.cleaned_file`) that the view ``cleaned`` reads and `helpers.io.write_cleaned`
copies to the catalog's ``transactions``. The log's customers come from a second query: the
customers of ``canonical`` missing from ``cleaned``, only their lines' reasons read again
(`_LOST_SQL`).

This module computes; tables and sentences for the report are in `helpers.clean_report`.
The rule values from the params (prefixes, codes, patterns) sit in the view ``flagged``,
where DuckDB takes no query parameters, so they go through `helpers.engine.quote_literal`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from helpers.catalog import CLEANING_LOG_COLUMNS, TRANSACTION_COLUMNS
from helpers.engine import is_duckdb, quote_literal
from helpers.errors import UserError
from helpers.io import cleaned_file, mark_lines

# (rule, description) in the order they are applied.
RULES: tuple[tuple[str, str], ...] = (
    ("repeated_header", "A copy of the header row inside the data (several exports pasted together)."),
    ("missing_customer_id", "No customer id: the line cannot be attributed to a customer."),
    ("invalid_values", "Missing or unparseable date or amount, or an infinite amount."),
    ("future_date", "Dated more than a day after the run (clock or export error); cleaning.drop_future_dates."),
    ("exact_duplicate", "Same customer, invoice, date, product, description, quantity, price, amount, country and unmapped columns as an earlier line; the first is kept."),
    ("adjustment", "Accounting adjustment invoice (prefix in cleaning.adjustment_prefixes), e.g. bad-debt write-offs."),
    ("non_product_code", "Postage, fees, manual adjustments, bank charges, samples, gift vouchers (cleaning.non_product_codes / _patterns)."),
    ("nonpositive_price", "Unit price (or, without prices, amount of a purchase line) zero or negative."),
    ("return_dropped", "Cancellation/return line removed because cleaning.returns = drop."),
    ("outlier_dropped", "Extreme line amount removed because cleaning.outliers.action = drop."),
)
RULE_NAMES: tuple[str, ...] = tuple(rule for rule, _ in RULES)  # `_LOST_SQL`'s $rules, 1-based
FLAG_RULES: tuple[tuple[str, str], ...] = (
    ("return_netted", "Cancellation/return line (invoice prefix in cleaning.cancellation_prefixes or negative quantity/amount): kept with a negative amount so it nets against the customer's purchases."),
    ("outlier_flagged", "Extreme line: |amount| above Q3 + k x IQR of log10 |amount| over the kept lines; kept and marked is_outlier."),
)

# The cleaned lines' columns are the catalog's contract; this name stays for callers outside
# 01_clean that still import it (tests/test_engine_vs_pandas.py).
# Two log10 amounts this close count as equal: 2.3e-9 of the amount, far below a cent for any
# line under a million. ``Q3 + k x IQR`` carries a few 1e-16 of rounding (2 log10(7) is
# not log10(49) in floating point), which must not flag a line that is exactly at it.
LOG_TOLERANCE = 1e-9
# The canonical fields and a hash of the export's unmapped columns (`helpers.io`): two lines
# that differ only in a column the params do not map (product code, line number) are
# different lines, not duplicates.
DUPLICATE_KEY = (
    "customer_id", "invoice_id", "invoice_date", "product_id", "description",
    "quantity", "unit_price", "amount", "country", "unmapped_hash",
)
# GROUPING(reason, size) of the grouping sets in `_TOTALS_SQL`: 1 bits are the columns a set
# does not group by.
_BY_REASON, _BY_SIZE = 0b01, 0b10

_DUPLICATES_SQL = """
        WITH {repeated},
        copies AS (
            SELECT row_id, row_number() OVER (PARTITION BY {key} ORDER BY row_id) AS copy_number
            FROM canonical
            WHERE {survives} AND hash({key}) IN (SELECT line_hash FROM repeated)
        )
        SELECT row_id FROM copies WHERE copy_number > 1"""
# The hashes seen twice or more. DuckDB sorts the hashes (a hash table with one entry per
# line cost 25% more CPU); Spark groups them, as a window over the whole table would run
# in a single partition.
_REPEATED_BY_SORT = """repeated AS (
            SELECT line_hash
            FROM (SELECT line_hash, lead(line_hash) OVER (ORDER BY line_hash) AS next_hash
                  FROM (SELECT hash({key}) AS line_hash FROM canonical WHERE {survives}))
            WHERE line_hash = next_hash
        )"""
_REPEATED_BY_GROUP = """repeated AS (
            SELECT hash({key}) AS line_hash
            FROM canonical
            WHERE {survives}
            GROUP BY hash({key})
            HAVING count(*) > 1
        )"""
_DUPLICATES_TABLE_SQL = "CREATE OR REPLACE TEMP TABLE exact_duplicates AS {duplicates}"
_NO_DUPLICATES_TABLE_SQL = "CREATE OR REPLACE TEMP TABLE exact_duplicates (row_id BIGINT)"
_FLAGGED_VIEW_SQL = """CREATE OR REPLACE TEMP VIEW flagged AS
        SELECT *, {reason} AS reason
        FROM (SELECT *, {is_return} AS is_return FROM canonical)"""
# The one write of the kept lines. No join and no sort, so DuckDB keeps input order;
# zstd level 1 costs 10% less CPU than the default level for a 2% larger file.
_WRITE_KEPT_SQL = """COPY (SELECT {columns}
                  FROM flagged
                  WHERE reason IS NULL{drop_outliers})
            TO {path} (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)"""
_CLEANED_VIEW_SQL = "CREATE OR REPLACE TEMP VIEW cleaned AS SELECT * FROM read_parquet({path})"
# An outlier is |amount| above the cutoff; $cutoff is the exact double of `outlier_limits`.
_OUTLIER_CONDITION = "abs(amount) > $cutoff"
_TOTALS_SQL = """WITH lines AS (
               SELECT reason, amount, product_id, is_return,
                      CASE WHEN reason IS NULL AND amount <> 0 THEN abs(amount) END AS size
               FROM flagged
           ),
           grouped AS (
               SELECT GROUPING(reason, size) AS grouping_set,
                      reason,
                      size,
                      count(*) AS n_rows,
                      coalesce(sum(amount) FILTER (WHERE isfinite(amount)), 0) AS revenue,
                      count(product_id) AS with_product,
                      count(*) FILTER (WHERE is_return) AS return_rows,
                      coalesce(sum(amount) FILTER (WHERE is_return), 0) AS return_revenue
               FROM lines
               GROUP BY GROUPING SETS ((reason), (size))
           )
           SELECT grouping_set, reason, size, log10(size) AS log_size, n_rows, revenue, with_product,
                  return_rows, return_revenue
           FROM grouped"""
# The customers lost, per first rule that removed one of their lines (NULL: only outliers
# dropped), once the kept lines are written: the customers without a kept line, and the
# reasons of their lines alone. A per-customer grouping set in `_TOTALS_SQL` took 4.3 of its
# 8.8 s at 100M lines; this takes 1.2 s (2.0 s with 1% of the customers lost).
_LOST_SQL = """WITH kept AS (SELECT DISTINCT customer_id FROM cleaned WHERE customer_id IS NOT NULL),
           everyone AS (
               SELECT DISTINCT customer_id FROM canonical WHERE customer_id IS NOT NULL AND NOT is_header_row
           ),
           lost AS (SELECT customer_id FROM everyone EXCEPT SELECT customer_id FROM kept)
           SELECT first_rule, count(*) AS customers
           FROM (SELECT customer_id, min(list_position($rules, reason)) AS first_rule
                 FROM flagged
                 WHERE customer_id IN (SELECT customer_id FROM lost)
                   -- a copy of the header row carries the header text as its id: no customer
                   AND reason IS DISTINCT FROM 'repeated_header'
                 GROUP BY customer_id)
           GROUP BY first_rule"""
# DISTINCT subqueries run in parallel; count(DISTINCT ...) was 2.4x slower at 80M lines.
_SUMMARY_SQL = """WITH totals AS (
               SELECT count(*) AS n_rows, coalesce(sum(amount), 0) AS revenue,
                      min(invoice_date) AS first_date, max(invoice_date) AS last_date
               FROM cleaned
           ),
           customers AS (SELECT count(customer_id) AS n FROM (SELECT DISTINCT customer_id FROM cleaned)),
           orders AS (
               SELECT count(invoice_id) AS n
               FROM (SELECT DISTINCT invoice_id FROM cleaned WHERE NOT is_return)
           )
           SELECT n_rows, customers.n, orders.n, revenue, first_date, last_date
           FROM totals, customers, orders"""
_FLAGGED_LINES_SQL = """SELECT customer_id, invoice_id, invoice_date, product_id, description, quantity, unit_price, amount
            FROM cleaned WHERE is_outlier ORDER BY abs(amount) DESC, invoice_id LIMIT $limit"""


def _sql_list(values: list[str]) -> str:
    return "[" + ", ".join(quote_literal(v) for v in values) + "]"


def _prefix_match(column: str, prefixes: list[str]) -> str:
    if not prefixes:
        return "false"
    return "(" + " OR ".join(f"starts_with({column}, {quote_literal(p)})" for p in prefixes) + ")"


def return_condition(cleaning: Mapping[str, Any]) -> str:
    """SQL condition marking a cancellation/return line (canonical columns)."""
    prefix = _prefix_match("coalesce(invoice_id, '')", list(cleaning["cancellation_prefixes"]))
    return f"({prefix} OR coalesce(quantity, 0) < 0 OR (quantity IS NULL AND amount < 0))"


def _removal_rules(cleaning: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(rule, SQL condition) for each removal rule but outliers, in the order applied."""
    codes = [c.upper() for c in cleaning["non_product_codes"]]
    patterns = list(cleaning["non_product_patterns"])
    non_product = f"list_contains({_sql_list(codes)}, upper(coalesce(product_id, '')))" if codes else "false"
    for pattern in patterns:
        non_product += f" OR regexp_matches(coalesce(product_id, ''), {quote_literal(pattern)})"
    price = (
        "(unit_price <= 0 OR (unit_price IS NULL AND amount <= 0 AND NOT is_return))"
        if cleaning["drop_nonpositive_prices"]
        else "false"
    )
    return [
        ("repeated_header", "is_header_row"),
        ("missing_customer_id", "customer_id IS NULL" if cleaning["drop_missing_customer_id"] else "false"),
        ("invalid_values", "invoice_date IS NULL OR amount IS NULL OR NOT isfinite(amount)"),
        ("future_date", "invoice_date > current_date + INTERVAL 1 DAY" if cleaning["drop_future_dates"] else "false"),
        ("exact_duplicate", "is_duplicate" if cleaning["drop_exact_duplicates"] else "false"),
        ("adjustment", _prefix_match("coalesce(invoice_id, '')", list(cleaning["adjustment_prefixes"]))),
        ("non_product_code", f"({non_product})"),
        ("nonpositive_price", price),
        ("return_dropped", "is_return" if cleaning["returns"] == "drop" else "false"),
    ]


def _reason_case(cleaning: Mapping[str, Any]) -> str:
    """SQL CASE giving each line its first removal reason (outliers handled later)."""
    body = "\n".join(f"    WHEN {cond} THEN '{rule}'" for rule, cond in _removal_rules(cleaning))
    return f"CASE\n{body}\n    ELSE NULL END"


def _duplicates_sql(cleaning: Mapping[str, Any], sort: bool = True) -> str:
    """SQL listing the row_id of every exact duplicate (a later copy of an identical line).

    Lines are hashed and the hashes sorted (`sort`, DuckDB) or grouped (Spark); only lines
    whose hash occurs twice or more (a few % of the data) are ranked by row_id within their
    full key, so hash collisions cannot make a false duplicate and the costly window
    touches few lines. Lines removed by an earlier rule are left out: identical lines
    always share those rules' outcome, so leaving them out changes no line's reason (the
    first kept copy is still the first).
    """
    key = ", ".join(DUPLICATE_KEY)
    rules = _removal_rules(cleaning)
    earlier = [cond for rule, cond in rules[: [r for r, _ in rules].index("exact_duplicate")]]
    survives = " AND ".join(f"NOT coalesce({cond}, false)" for cond in earlier)
    repeated = (_REPEATED_BY_SORT if sort else _REPEATED_BY_GROUP).format(key=key, survives=survives)
    return _DUPLICATES_SQL.format(repeated=repeated, key=key, survives=survives)


def _validate_patterns(cleaning: Mapping[str, Any]) -> None:
    for pattern in cleaning["non_product_patterns"]:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise UserError(
                f"params: cleaning.non_product_patterns entry {pattern!r} is not a valid regular "
                f"expression ({exc}); fix: escape special characters"
            ) from None


def quantile_from_counts(values: np.ndarray, counts: np.ndarray, q: float) -> float:
    """Return the `q` quantile of a frequency table exactly as DuckDB's ``quantile_cont`` would.

    Parameters
    ----------
    values : numpy.ndarray
        Distinct values, sorted ascending.
    counts : numpy.ndarray
        How often each value occurs (positive integers).
    q : float
        Quantile in [0, 1].

    Returns
    -------
    float
        Linear interpolation between the values at ranks floor and ceil of ``(n - 1) q``.

    Examples
    --------
    >>> quantile_from_counts(np.array([1.0, 2.0, 10.0]), np.array([2, 1, 1]), 0.75)
    4.0
    """
    position = (int(counts.sum()) - 1) * q
    lower, upper = math.floor(position), math.ceil(position)
    ends = np.cumsum(counts)
    low = float(values[np.searchsorted(ends, lower, side="right")])
    if upper == lower:
        return low
    high = float(values[np.searchsorted(ends, upper, side="right")])
    return low + (high - low) * (position - lower)


def apply_cleaning(con: duckdb.DuckDBPyConnection, cleaning: Mapping[str, Any]) -> pd.DataFrame:
    """Apply the cleaning rules to ``canonical``; create the view ``cleaned``.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Holds the view ``canonical`` from `helpers.io.load_transactions`.
    cleaning : mapping
        The ``cleaning`` section of the params.

    Returns
    -------
    pandas.DataFrame
        The cleaning log, columns `helpers.catalog.CLEANING_LOG_COLUMNS` (see the module docstring). Removal rows
        come first, in the order applied; flag rows follow.

    Notes
    -----
    Creates the table ``exact_duplicates`` (row ids of later copies, a few % of the lines,
    also marked as column ``is_duplicate`` of ``canonical``), the view ``flagged`` (every
    line with ``is_return`` and its removal ``reason``) and the view ``cleaned`` over the
    kept lines, written in input order to a Parquet file in the work folder.
    """
    _validate_patterns(cleaning)
    _mark_duplicates(con, cleaning)
    con.execute(
        _FLAGGED_VIEW_SQL.format(reason=_reason_case(cleaning), is_return=return_condition(cleaning))
    ).fetchall()
    outliers = cleaning["outliers"]
    by_reason, kept_sizes = _flagged_totals(con)
    threshold, cutoff = outlier_limits(kept_sizes, outliers)
    extreme = kept_sizes[kept_sizes["size"] > cutoff] if cutoff is not None else kept_sizes.iloc[:0]
    drop_outliers = outliers["action"] == "drop" and threshold is not None
    _keep_lines(con, cutoff, drop_outliers)
    outlier_totals = (int(extreme["n_rows"].sum()), float(extreme["revenue"].sum()))
    lost_groups = con.execute(_LOST_SQL, {"rules": list(RULE_NAMES)}).df()
    return _cleaning_log(cleaning, by_reason, outlier_totals, threshold, customers_lost(lost_groups))


def _mark_duplicates(con: duckdb.DuckDBPyConnection, cleaning: Mapping[str, Any]) -> None:
    """List the exact duplicates in table ``exact_duplicates`` and mark them ``is_duplicate``."""
    if cleaning["drop_exact_duplicates"]:
        duplicates = _duplicates_sql(cleaning, sort=is_duckdb(con))
        con.execute(_DUPLICATES_TABLE_SQL.format(duplicates=duplicates)).fetchall()
    else:
        con.execute(_NO_DUPLICATES_TABLE_SQL).fetchall()
    # A column, not a join: joins do not keep row order, and the output must be in input order.
    mark_lines(con, "is_duplicate", "exact_duplicates")


def _keep_lines(con: duckdb.DuckDBPyConnection, cutoff: float | None, drop_outliers: bool) -> None:
    """Write the kept lines of ``flagged`` once, in input order, and make ``cleaned`` read them.

    `cutoff` is the outlier cutoff of `outlier_limits` (None: no outlier detection); with
    `drop_outliers`, lines beyond it are left out, otherwise marked ``is_outlier``.
    """
    outlier = "false" if cutoff is None else _OUTLIER_CONDITION
    columns = ", ".join(c if c != "is_outlier" else f"{outlier} AS is_outlier" for c in TRANSACTION_COLUMNS)
    kept = cleaned_file(con)
    kept.unlink(missing_ok=True)  # may be linked to a written transactions file: never overwrite it
    target = quote_literal(str(kept))
    sql = _WRITE_KEPT_SQL.format(
        columns=columns, drop_outliers=f" AND NOT ({outlier})" if drop_outliers else "", path=target
    )
    con.execute(sql, {"cutoff": cutoff} if cutoff is not None else None).fetchall()
    con.execute(_CLEANED_VIEW_SQL.format(path=target)).fetchall()


def outlier_limits(kept_sizes: pd.DataFrame, outliers: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """Return the outlier threshold and the largest kept |amount| within it.

    Parameters
    ----------
    kept_sizes : pandas.DataFrame
        One row per distinct nonzero |amount| of a kept line, sorted by ``size``, with
        ``log_size`` (DuckDB's log10 of it) and ``n_rows`` (see `_flagged_totals`).
    outliers : mapping
        ``cleaning.outliers``: ``method`` and ``k``.

    Returns
    -------
    tuple
        ``threshold`` = 10 ** (Q3 + k IQR of the log10 sizes), for display, and ``cutoff``,
        the largest size whose log10 is at most that log threshold (+ `LOG_TOLERANCE`), 0
        if none: a line is extreme when |amount| > cutoff, so one exactly at the threshold
        is not. Both None without outlier detection or without a kept nonzero amount.

    Examples
    --------
    >>> sizes = pd.DataFrame({"size": [1.0, 3.0, 7.0, 49.0, 50.0], "n_rows": [3, 2, 2, 1, 1]})
    >>> sizes["log_size"] = np.log10(sizes["size"])
    >>> threshold, cutoff = outlier_limits(sizes, {"method": "log_iqr", "k": 1.0})
    >>> round(threshold, 6), cutoff
    (49.0, 49.0)
    """
    if outliers["method"] != "log_iqr" or kept_sizes.empty:
        return None, None
    logs, counts = kept_sizes["log_size"].to_numpy(), kept_sizes["n_rows"].to_numpy()
    q1, q3 = quantile_from_counts(logs, counts, 0.25), quantile_from_counts(logs, counts, 0.75)
    log_threshold = q3 + float(outliers["k"]) * (q3 - q1)
    within = kept_sizes["size"].to_numpy()[logs <= log_threshold + LOG_TOLERANCE]
    return 10**log_threshold, float(within.max()) if within.size else 0.0


def customers_lost(lost_groups: pd.DataFrame) -> dict[str, int]:
    """Count the customers none of whose lines is kept, under the first rule that removed one.

    Parameters
    ----------
    lost_groups : pandas.DataFrame
        The lost customers per ``first_rule`` (1-based position in `RULES` of the first rule
        that removed one of their lines; missing when only the outlier rule did), in
        ``customers`` (`_LOST_SQL`).

    Returns
    -------
    dict
        Rule -> customers lost under it (rules without any are left out).

    Examples
    --------
    >>> groups = pd.DataFrame({"first_rule": [3, np.nan, 8], "customers": [2, 1, 0]})
    >>> customers_lost(groups)
    {'invalid_values': 2, 'outlier_dropped': 1}
    """
    rules = lost_groups["first_rule"].map(lambda n: "outlier_dropped" if pd.isna(n) else RULE_NAMES[int(n) - 1])
    counts = lost_groups["customers"].groupby(rules).sum()
    return {rule: int(counts[rule]) for rule in RULE_NAMES if rule in counts.index and counts[rule] > 0}


def _flagged_totals(con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One pass over ``flagged``: totals per reason and the kept |amount| sizes.

    The frequency table (one row per distinct nonzero |amount| of a kept line, with its
    log10, line count and signed revenue) gives exact outlier quartiles and the outlier
    counts for any threshold without holding every amount in memory.
    """
    totals = con.execute(_TOTALS_SQL).df()
    by_reason = totals[totals["grouping_set"] == _BY_REASON].set_index("reason", drop=False)
    kept_sizes = totals[(totals["grouping_set"] == _BY_SIZE) & totals["size"].notna()]
    return by_reason, kept_sizes.sort_values("size").reset_index(drop=True)


def _cleaning_log(
    cleaning: Mapping[str, Any],
    by_reason: pd.DataFrame,
    outlier_totals: tuple[int, float],
    outlier_threshold: float | None,
    lost: Mapping[str, int],
) -> pd.DataFrame:
    """Build the cleaning log (see module docstring) from the totals of `_flagged_totals`.

    `lost` is `customers_lost`: rule -> customers lost under it.
    """
    removed = {
        reason: (row.n_rows, row.revenue)
        for reason, row in by_reason.iterrows()
        if isinstance(reason, str)
    }
    enabled = {
        "missing_customer_id": cleaning["drop_missing_customer_id"],
        "exact_duplicate": cleaning["drop_exact_duplicates"],
        "future_date": cleaning["drop_future_dates"],
        "nonpositive_price": cleaning["drop_nonpositive_prices"],
        "return_dropped": cleaning["returns"] == "drop",
        "outlier_dropped": cleaning["outliers"]["action"] == "drop" and outlier_threshold is not None,
    }
    has_products = bool(by_reason["with_product"].sum() > 0)
    codes_set = bool(cleaning["non_product_codes"] or cleaning["non_product_patterns"])
    enabled["non_product_code"] = bool(has_products and codes_set)
    outlier_rows, outlier_revenue = outlier_totals
    if enabled["outlier_dropped"]:
        removed["outlier_dropped"] = outlier_totals
    records = []
    for rule, description in RULES:
        rows, revenue = removed.get(rule, (0, 0.0))
        action = "removed" if enabled.get(rule, True) else "off"
        if rule == "non_product_code" and not has_products:
            description += " Off: the export has no product_id."
        records.append((rule, action, int(rows), round(float(revenue), 2), int(lost.get(rule, 0)), description))
    kept = by_reason[by_reason["reason"].isna()]
    returns_rows = int(kept["return_rows"].sum())
    returns_rev = float(kept["return_revenue"].sum())
    netted = cleaning["returns"] == "net"
    records.append(("return_netted", "flagged" if netted else "off", returns_rows if netted else 0,
                    round(returns_rev, 2) if netted else 0.0, 0, FLAG_RULES[0][1]))
    flag_outliers = cleaning["outliers"]["action"] == "flag" and outlier_threshold is not None
    description = FLAG_RULES[1][1]
    if outlier_threshold is not None:
        description += f" Threshold here: |amount| > {outlier_threshold:,.2f}."
    records.append(("outlier_flagged", "flagged" if flag_outliers else "off",
                    int(outlier_rows) if flag_outliers else 0,
                    round(float(outlier_revenue), 2) if flag_outliers else 0.0, 0, description))
    return pd.DataFrame(records, columns=list(CLEANING_LOG_COLUMNS))


def row_arithmetic(log: pd.DataFrame, raw_rows: int, kept_rows: int) -> dict[str, int]:
    """Check raw = kept + removed; return the three numbers.

    Raises
    ------
    AssertionError
        When the removal counts do not add up (a bug, never the user's fault).
    """
    removed = int(log.loc[log["action"] == "removed", "rows"].sum())
    if raw_rows != kept_rows + removed:
        raise AssertionError(f"cleaning arithmetic: raw {raw_rows} != kept {kept_rows} + removed {removed}")
    return {"raw_rows": raw_rows, "removed_rows": removed, "kept_rows": kept_rows}


def clean_summary(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Return headline figures of table ``cleaned``: rows, customers, orders, revenue, dates."""
    rows, customers, orders, revenue, first, last = con.execute(_SUMMARY_SQL).fetchall()[0]
    if rows == 0:
        raise UserError(
            "cleaning removed every row; fix: check input.columns (customer_id, invoice_date, amounts) "
            "and the cleaning rules in your params"
        )
    if orders == 0:
        raise UserError(
            f"every one of the {rows:,} kept lines is a cancellation or return, so there are no purchase "
            "orders to segment; fix: check cleaning.cancellation_prefixes and the sign of the quantity/amount column"
        )
    return {
        "rows": int(rows),
        "customers": int(customers),
        "orders": int(orders),
        "net_revenue": round(float(revenue), 2),
        "first_date": str(first),
        "last_date": str(last),
    }


def flagged_lines(con: duckdb.DuckDBPyConnection, limit: int = 10) -> pd.DataFrame:
    """Return the kept lines flagged as outliers, largest |amount| first."""
    return con.execute(_FLAGGED_LINES_SQL, {"limit": int(limit)}).df()


def cleaning_facts(summary: Mapping[str, Any], arithmetic: Mapping[str, int]) -> dict[str, Any]:
    """Return the facts 01_clean records about the cleaned lines (catalog dataset ``facts``).

    Later steps read them back instead of scanning the transactions again: the first and
    last date fix ``rfm.analysis_date`` (`helpers.catalog.analysis_date`). The same figures
    are 01_clean's headline metrics (`helpers.steps`).

    Parameters
    ----------
    summary : mapping
        `clean_summary`: rows, customers, orders, net_revenue, first_date, last_date.
    arithmetic : mapping
        `row_arithmetic`: raw_rows, removed_rows, kept_rows.

    Examples
    --------
    >>> summary = {"rows": 4, "customers": 2, "orders": 3, "net_revenue": 45.0,
    ...            "first_date": "2011-01-03 10:00:00", "last_date": "2011-02-10 09:30:00"}
    >>> facts = cleaning_facts(summary, {"raw_rows": 10, "removed_rows": 6, "kept_rows": 4})
    >>> list(facts)[:3], facts["last_date"]
    (['raw_rows', 'removed_rows', 'kept_rows'], '2011-02-10 09:30:00')
    """
    return {
        "raw_rows": int(arithmetic["raw_rows"]),
        "removed_rows": int(arithmetic["removed_rows"]),
        "kept_rows": int(arithmetic["kept_rows"]),
        **{key: summary[key] for key in ("rows", "customers", "orders", "net_revenue", "first_date", "last_date")},
    }
