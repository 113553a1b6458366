"""What 01_clean shows: the column mapping, the headline figures and the takeaway sentences.

`helpers.io` and `helpers.clean` compute; this module only turns their results into
tables and text for the report (`helpers.report.table_html` renders the tables, with the
number formats below). Given ``formats`` (`helpers.formatting.Formats`) the tables come
back as text, amounts with the shop's currency and numbers in its locale, for
``table_html(frame)``; the cleaning log written to disk keeps its numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from helpers.config import CANONICAL_FIELDS
from helpers.formatting import Formats
from helpers.io import ORDERS_WITHOUT_ID
from helpers.page_formats import localise_table

# Number formats of the tables, per column, for `helpers.report.table_html`.
LOG_FORMATS = {"revenue": "{:,.2f}"}
FLAGGED_LINE_FORMATS = {"quantity": "{:,.0f}", "unit_price": "{:,.2f}", "amount": "{:,.2f}"}
# Money columns of those tables.
_MONEY = frozenset({"revenue", "unit_price", "amount"})
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


def log_table(log: pd.DataFrame, formats: Formats | None = None) -> pd.DataFrame:
    """Return the cleaning log for display: with `formats`, revenue with the currency, as text.

    Without `formats` the log is returned as it is, for ``table_html(log, LOG_FORMATS)``.

    Examples
    --------
    >>> log = pd.DataFrame({"rule": ["exact_duplicate"], "rows": [5268], "revenue": [-12.5]})
    >>> log_table(log, Formats("GBP", "en_GB")).iloc[0].tolist()
    ['exact_duplicate', '5,268', '-£12.50']
    """
    return log if formats is None else localise_table(log, LOG_FORMATS, formats, money=_MONEY)


def flagged_table(lines: pd.DataFrame, formats: Formats | None = None) -> pd.DataFrame:
    """Return the flagged lines for display: with `formats`, price and amount with the currency, as text.

    Without `formats` the lines are returned as they are, for
    ``table_html(lines, FLAGGED_LINE_FORMATS)``.
    """
    return lines if formats is None else localise_table(lines, FLAGGED_LINE_FORMATS, formats, money=_MONEY)


def summary_table(summary: Mapping[str, Any], formats: Formats | None = None) -> pd.DataFrame:
    """Return `helpers.clean.clean_summary` figures as a two-column table for display.

    Given `formats`, net revenue carries the currency and counts the locale's grouping.

    Examples
    --------
    >>> summary = {"rows": 392692, "customers": 4338, "orders": 18532, "net_revenue": 8265476.93,
    ...            "first_date": "2010-12-01", "last_date": "2011-12-09"}
    >>> summary_table(summary, Formats("GBP", "en_GB"))["value"].tolist()[:4]
    ['392,692', '4,338', '18,532', '£8,265,476.93']
    """
    labels = {
        "rows": "transaction lines kept",
        "customers": "customers",
        "orders": "purchase orders",
        "net_revenue": "net revenue",
        "first_date": "first transaction",
        "last_date": "last transaction",
    }
    if formats is None:
        values = [f"{v:,.2f}" if isinstance(v, float) else (f"{v:,}" if isinstance(v, int) else v)
                  for v in (summary[k] for k in labels)]
    else:
        values = [formats.money(v) if isinstance(v, float) else (formats.number(v) if isinstance(v, int) else v)
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
