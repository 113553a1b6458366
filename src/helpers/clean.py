"""Cleaning rules for transaction lines, run in DuckDB, each logged.

Every line of the canonical table gets at most one *removal* reason: the first rule in
`RULES` that applies (so the counts are disjoint and raw rows = kept rows + removed rows).
Two rules keep lines and only mark them: returns/cancellations (``is_return``, netted
against purchases by summing signed amounts) and extreme lines (``is_outlier``). Their
log rows say "flagged", and are not part of the removal arithmetic.

The log has one row per rule: ``rule``, ``action`` (removed / flagged / off), ``rows``,
``revenue`` (sum of the signed line amounts affected) and ``description``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from helpers.errors import UserError

# (rule, description) in the order they are applied.
RULES: tuple[tuple[str, str], ...] = (
    ("repeated_header", "A copy of the header row inside the data (several exports pasted together)."),
    ("missing_customer_id", "No customer id: the line cannot be attributed to a customer."),
    ("invalid_values", "Missing or unparseable date or amount, or an infinite amount."),
    ("future_date", "Dated more than a day after the run (clock or export error); cleaning.drop_future_dates."),
    ("exact_duplicate", "Same customer, invoice, date, product, description, quantity, price, amount and country as an earlier line; the first is kept."),
    ("adjustment", "Accounting adjustment invoice (prefix in cleaning.adjustment_prefixes), e.g. bad-debt write-offs."),
    ("non_product_code", "Postage, fees, manual adjustments, bank charges, samples, gift vouchers (cleaning.non_product_codes / _patterns)."),
    ("nonpositive_price", "Unit price (or, without prices, amount of a purchase line) zero or negative."),
    ("return_dropped", "Cancellation/return line removed because cleaning.returns = drop."),
    ("outlier_dropped", "Extreme line amount removed because cleaning.outliers.action = drop."),
)
FLAG_RULES: tuple[tuple[str, str], ...] = (
    ("return_netted", "Cancellation/return line (invoice prefix in cleaning.cancellation_prefixes or negative quantity/amount): kept with a negative amount so it nets against the customer's purchases."),
    ("outlier_flagged", "Extreme line: |amount| above Q3 + k x IQR of log10 |amount| over the kept lines; kept and marked is_outlier."),
)

OUTPUT_COLUMNS = (
    "customer_id",
    "invoice_id",
    "invoice_date",
    "product_id",
    "description",
    "country",
    "quantity",
    "unit_price",
    "amount",
    "is_return",
    "is_outlier",
)


def _sql_list(values: list[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _prefix_match(column: str, prefixes: list[str]) -> str:
    if not prefixes:
        return "false"
    return "(" + " OR ".join(f"starts_with({column}, '{p.replace(chr(39), chr(39) * 2)}')" for p in prefixes) + ")"


def return_condition(cleaning: Mapping[str, Any]) -> str:
    """SQL condition marking a cancellation/return line (canonical columns)."""
    prefix = _prefix_match("coalesce(invoice_id, '')", list(cleaning["cancellation_prefixes"]))
    return f"({prefix} OR coalesce(quantity, 0) < 0 OR (quantity IS NULL AND amount < 0))"


def _reason_case(cleaning: Mapping[str, Any]) -> str:
    """SQL CASE giving each line its first removal reason (outliers handled later)."""
    codes = [c.upper() for c in cleaning["non_product_codes"]]
    patterns = list(cleaning["non_product_patterns"])
    non_product = f"list_contains({_sql_list(codes)}, upper(coalesce(product_id, '')))" if codes else "false"
    for pattern in patterns:
        non_product += f" OR regexp_matches(coalesce(product_id, ''), '{pattern.replace(chr(39), chr(39) * 2)}')"
    price = (
        "(unit_price <= 0 OR (unit_price IS NULL AND amount <= 0 AND NOT is_return))"
        if cleaning["drop_nonpositive_prices"]
        else "false"
    )
    whens = [
        ("repeated_header", "is_header_row"),
        ("missing_customer_id", "customer_id IS NULL" if cleaning["drop_missing_customer_id"] else "false"),
        ("invalid_values", "invoice_date IS NULL OR amount IS NULL OR NOT isfinite(amount)"),
        ("future_date", "invoice_date > current_date + INTERVAL 1 DAY" if cleaning["drop_future_dates"] else "false"),
        ("exact_duplicate", "dup_rank > 1" if cleaning["drop_exact_duplicates"] else "false"),
        ("adjustment", _prefix_match("coalesce(invoice_id, '')", list(cleaning["adjustment_prefixes"]))),
        ("non_product_code", f"({non_product})"),
        ("nonpositive_price", price),
        ("return_dropped", "is_return" if cleaning["returns"] == "drop" else "false"),
    ]
    body = "\n".join(f"    WHEN {cond} THEN '{rule}'" for rule, cond in whens)
    return f"CASE\n{body}\n    ELSE NULL END"


def _validate_patterns(cleaning: Mapping[str, Any]) -> None:
    import re

    for pattern in cleaning["non_product_patterns"]:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise UserError(
                f"params: cleaning.non_product_patterns entry {pattern!r} is not a valid regular "
                f"expression ({exc}); fix: escape special characters"
            ) from None


def apply_cleaning(con: duckdb.DuckDBPyConnection, cleaning: Mapping[str, Any]) -> pd.DataFrame:
    """Apply the cleaning rules to table ``canonical``; create table ``cleaned``.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Holds the table ``canonical`` from `helpers.io.load_transactions`.
    cleaning : mapping
        The ``cleaning`` section of the params.

    Returns
    -------
    pandas.DataFrame
        The cleaning log: rule, action, rows, revenue, description. Removal rows come
        first, in the order applied; flag rows follow.
    """
    _validate_patterns(cleaning)
    dup_key = "customer_id, invoice_id, invoice_date, product_id, description, quantity, unit_price, amount, country"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE flagged AS
        WITH base AS (
            SELECT *,
                   {return_condition(cleaning)} AS is_return,
                   row_number() OVER (PARTITION BY {dup_key} ORDER BY row_id) AS dup_rank
            FROM canonical
        )
        SELECT * EXCLUDE (dup_rank), {_reason_case(cleaning)} AS reason FROM base"""
    )
    outliers = cleaning["outliers"]
    if outliers["method"] == "log_iqr":
        q1, q3 = con.execute(
            """SELECT quantile_cont(log10(abs(amount)), 0.25), quantile_cont(log10(abs(amount)), 0.75)
               FROM flagged WHERE reason IS NULL AND amount <> 0"""
        ).fetchall()[0]
        threshold = None if q1 is None else 10 ** (q3 + float(outliers["k"]) * (q3 - q1))
    else:
        threshold = None
    outlier_cond = "false" if threshold is None else f"abs(amount) > {threshold!r}"
    drop_outliers = outliers["action"] == "drop"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE flagged AS
        SELECT * EXCLUDE (reason),
               {outlier_cond} AS is_outlier,
               CASE WHEN reason IS NULL AND {outlier_cond} AND {str(drop_outliers).lower()}
                    THEN 'outlier_dropped' ELSE reason END AS reason
        FROM flagged"""
    )
    columns = ", ".join(OUTPUT_COLUMNS)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE cleaned AS
        SELECT {columns} FROM flagged WHERE reason IS NULL ORDER BY row_id"""
    )
    return cleaning_log(con, cleaning, threshold)


def cleaning_log(
    con: duckdb.DuckDBPyConnection, cleaning: Mapping[str, Any], outlier_threshold: float | None
) -> pd.DataFrame:
    """Summarise table ``flagged`` into the cleaning log (see module docstring)."""
    removed = dict(
        (reason, (rows, revenue))
        for reason, rows, revenue in con.execute(
            "SELECT reason, count(*), coalesce(sum(amount) FILTER (WHERE isfinite(amount)), 0) "
            "FROM flagged WHERE reason IS NOT NULL GROUP BY reason"
        ).fetchall()
    )
    enabled = {
        "missing_customer_id": cleaning["drop_missing_customer_id"],
        "exact_duplicate": cleaning["drop_exact_duplicates"],
        "future_date": cleaning["drop_future_dates"],
        "nonpositive_price": cleaning["drop_nonpositive_prices"],
        "return_dropped": cleaning["returns"] == "drop",
        "outlier_dropped": cleaning["outliers"]["action"] == "drop" and outlier_threshold is not None,
    }
    has_products = con.execute("SELECT count(product_id) > 0 FROM flagged").fetchall()[0][0]
    codes_set = bool(cleaning["non_product_codes"] or cleaning["non_product_patterns"])
    enabled["non_product_code"] = bool(has_products and codes_set)
    records = []
    for rule, description in RULES:
        rows, revenue = removed.get(rule, (0, 0.0))
        action = "removed" if enabled.get(rule, True) else "off"
        if rule == "non_product_code" and not has_products:
            description += " Off: the export has no product_id."
        records.append((rule, action, int(rows), round(float(revenue), 2), description))
    returns_rows, returns_rev, outlier_rows, outlier_rev = con.execute(
        """SELECT count(*) FILTER (WHERE is_return), coalesce(sum(amount) FILTER (WHERE is_return), 0),
                  count(*) FILTER (WHERE is_outlier), coalesce(sum(amount) FILTER (WHERE is_outlier), 0)
           FROM flagged WHERE reason IS NULL"""
    ).fetchall()[0]
    netted = cleaning["returns"] == "net"
    records.append(("return_netted", "flagged" if netted else "off", int(returns_rows) if netted else 0,
                    round(float(returns_rev), 2) if netted else 0.0, FLAG_RULES[0][1]))
    flag_outliers = cleaning["outliers"]["action"] == "flag" and outlier_threshold is not None
    description = FLAG_RULES[1][1]
    if outlier_threshold is not None:
        description += f" Threshold here: |amount| > {outlier_threshold:,.2f}."
    records.append(("outlier_flagged", "flagged" if flag_outliers else "off",
                    int(outlier_rows) if flag_outliers else 0,
                    round(float(outlier_rev), 2) if flag_outliers else 0.0, description))
    return pd.DataFrame(records, columns=["rule", "action", "rows", "revenue", "description"])


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


def write_outputs(con: duckdb.DuckDBPyConnection, log: pd.DataFrame, paths: Mapping[str, Path]) -> None:
    """Write table ``cleaned`` to Parquet and the log to CSV, each atomically."""
    for path in paths.values():
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    tx = Path(paths["transactions"])
    tmp = tx.with_name(tx.name + ".tmp")
    con.execute(f"COPY cleaned TO '{str(tmp).replace(chr(39), chr(39) * 2)}' (FORMAT parquet, COMPRESSION zstd)")
    tmp.replace(tx)
    log_path = Path(paths["cleaning_log"])
    tmp_log = log_path.with_name(log_path.name + ".tmp")
    log.to_csv(tmp_log, index=False)
    tmp_log.replace(log_path)


def clean_summary(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Return headline figures of table ``cleaned``: rows, customers, orders, revenue, dates."""
    rows, customers, orders, revenue, first, last = con.execute(
        """SELECT count(*), count(DISTINCT customer_id), count(DISTINCT invoice_id) FILTER (WHERE NOT is_return),
                  coalesce(sum(amount), 0), min(invoice_date), max(invoice_date) FROM cleaned"""
    ).fetchall()[0]
    if rows == 0:
        raise UserError(
            "cleaning removed every row; fix: check input.columns (customer_id, invoice_date, amounts) "
            "and the cleaning rules in your params"
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
    return con.execute(
        f"""SELECT customer_id, invoice_id, invoice_date, product_id, description, quantity, unit_price, amount
            FROM cleaned WHERE is_outlier ORDER BY abs(amount) DESC, invoice_id LIMIT {int(limit)}"""
    ).df()


def summary_table(summary: Mapping[str, Any]) -> pd.DataFrame:
    """Return `clean_summary` figures as a two-column table for display."""
    labels = {
        "rows": "transaction lines kept",
        "customers": "customers",
        "orders": "purchase orders",
        "net_revenue": "net revenue",
        "first_date": "first transaction",
        "last_date": "last transaction",
    }
    values = [f"{v:,.2f}" if isinstance(v, float) else (f"{v:,}" if isinstance(v, int) else v)
              for v in (summary[k] for k in labels)]
    return pd.DataFrame({"figure": list(labels.values()), "value": values})


def cleaning_takeaway(log: pd.DataFrame, arithmetic: Mapping[str, int]) -> str:
    """Return one sentence on what cleaning did, for the report.

    Examples
    --------
    >>> log = pd.DataFrame({"rule": ["a", "b"], "action": ["removed", "removed"], "rows": [0, 0]})
    >>> cleaning_takeaway(log, {"raw_rows": 5, "kept_rows": 5, "removed_rows": 0})
    '5 rows read, all 5 kept: no rule removed anything.'
    """
    head = f"{arithmetic['raw_rows']:,} rows read"
    if arithmetic["removed_rows"] == 0:
        return f"{head}, all {arithmetic['kept_rows']:,} kept: no rule removed anything."
    removed = log[log["action"] == "removed"].sort_values("rows", ascending=False, kind="stable")
    top = removed.iloc[0]
    share = top["rows"] / arithmetic["raw_rows"]
    return (
        f"{head} = {arithmetic['kept_rows']:,} kept + {arithmetic['removed_rows']:,} removed; "
        f"the biggest removal is {top['rule']} ({int(top['rows']):,} rows, {share:.0%} of all rows)."
    )
