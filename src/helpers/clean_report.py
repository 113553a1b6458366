"""What 01_clean shows: the column mapping, the headline figures and the takeaway sentences.

`helpers.io` and `helpers.clean` compute; this module only turns their results into
tables and text for the report (`helpers.report.table_html` renders the tables, with the
number formats below).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from helpers.config import CANONICAL_FIELDS
from helpers.io import ORDERS_WITHOUT_ID

# Number formats of the tables, per column, for `helpers.report.table_html`.
LOG_FORMATS = {"revenue": "{:,.2f}"}
FLAGGED_LINE_FORMATS = {"quantity": "{:,.0f}", "unit_price": "{:,.2f}", "amount": "{:,.2f}"}
# What stands in for a canonical field the export does not have (`helpers.io.canonical_exprs`).
_UNMAPPED = {"amount": "(quantity x unit_price)"}


def source_sentence(source: Mapping[str, Any]) -> str:
    """Say what was read (Markdown), from `helpers.io.load_transactions`'s result.

    Examples
    --------
    >>> source_sentence({"rows": 1234, "columns": ["a", "b"], "file": "orders.csv"})
    'Read **1,234** rows and 2 columns from `orders.csv`.'
    """
    return f"Read **{source['rows']:,}** rows and {len(source['columns'])} columns from `{source['file']}`."


def mapping_table(input_params: Mapping[str, Any], source: Mapping[str, Any]) -> pd.DataFrame:
    """Return canonical field, source column and unparsed values, for the report."""
    records = []
    for field in CANONICAL_FIELDS:
        how = input_params["columns"].get(field) or _UNMAPPED.get(field, "(not in export)")
        if field == "invoice_id" and not input_params["columns"].get(field):  # input.orders_without_id
            how = f"({ORDERS_WITHOUT_ID[input_params.get('orders_without_id', 'customer_day')][0]})"
        records.append((field, how, int(source["unparsed"].get(field, 0))))
    return pd.DataFrame(records, columns=["canonical field", "source column", "values not parsed"])


def summary_table(summary: Mapping[str, Any]) -> pd.DataFrame:
    """Return `helpers.clean.clean_summary` figures as a two-column table for display."""
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
    """Return what cleaning did, for the report: rows read, kept and removed, customers lost.

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
    sentence = (
        f"{head} = {arithmetic['kept_rows']:,} kept + {arithmetic['removed_rows']:,} removed; "
        f"the biggest removal is {top['rule']} ({int(top['rows']):,} rows, {share:.0%} of all rows)."
    )
    return f"{sentence} {lost_customers_sentence(log)}" if "customers" in log.columns else sentence


def lost_customers_sentence(log: pd.DataFrame) -> str:
    """Say how many customers lost every line, and to which rules (most first).

    Examples
    --------
    >>> log = pd.DataFrame({"rule": ["a", "b", "c"], "customers": [1, 0, 2]})
    >>> lost_customers_sentence(log)
    '3 customers lost every line (c 2, a 1).'
    >>> lost_customers_sentence(log.assign(customers=0))
    'Every customer kept at least one line.'
    """
    lost = log[log["customers"] > 0].sort_values("customers", ascending=False, kind="stable")
    total = int(lost["customers"].sum())
    if total == 0:
        return "Every customer kept at least one line."
    rules = ", ".join(f"{row.rule} {int(row.customers):,}" for row in lost.itertuples())
    return f"{total:,} customer{'s' if total != 1 else ''} lost every line ({rules})."
