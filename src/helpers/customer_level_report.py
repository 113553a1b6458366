"""Tables, charts and sentences of a customer-level run (``input.level: customers``).

Presentation only: the numbers come from `helpers.customer_level`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from helpers.report import plain_text

MAX_PANELS = 12  # small multiples per figure
MAX_LEVELS = 8  # bars per categorical panel; the rest are summed as "other"


def source_sentence(source: Mapping[str, Any]) -> str:
    """One sentence: which file was read, how many rows and columns."""
    return (f"Read **{source['rows']:,} rows** and {len(source['columns'])} columns from "
            f"`{plain_text(source['path'].rsplit('/', 1)[-1])}`: one row per customer (`input.level: customers`), "
            f"so there are no transactions; every column not mapped below keeps its own name.")


def mapping_table(source: Mapping[str, Any]) -> pd.DataFrame:
    """Canonical field, the column it comes from, and values that did not parse."""
    rows = [{"field": field, "column": column, "unparsed values": source["unparsed"].get(field, 0)}
            for field, column in source["mapping"].items()]
    return pd.DataFrame(rows, columns=["field", "column", "unparsed values"])


def cleaning_takeaway(log: pd.DataFrame, raw_rows: int, kept_rows: int) -> str:
    """Say how many rows were read, removed and kept, and which values were changed.

    Examples
    --------
    >>> log = pd.DataFrame({"rule": ["duplicate_rows", "impossible_values"], "action": ["drop", "set missing"],
    ...                     "rows": [2, 3], "customers": [0, 3]})
    >>> cleaning_takeaway(log, 10, 8)
    '10 rows read, 2 removed (duplicate_rows 2), 8 customers kept; 3 values changed (impossible_values 3).'
    """
    dropped = log[(log["action"] == "drop") & (log["rows"] > 0)]
    changed = log[(log["action"] != "drop") & (log["rows"] > 0)]
    removed = int(dropped["rows"].sum())
    text = f"{raw_rows:,} rows read, {removed:,} removed"
    if removed:
        text += " (" + ", ".join(f"{r.rule} {int(r.rows):,}" for r in dropped.itertuples()) + ")"
    text += f", {kept_rows:,} customers kept"
    if len(changed):
        text += f"; {int(changed['rows'].sum()):,} values changed (" + ", ".join(
            f"{r.rule} {int(r.rows):,}" for r in changed.itertuples()) + ")"
    return text + "."


def _grid(n: int, width: float = 3.6, height: float = 2.6) -> tuple[Figure, np.ndarray]:
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes.flat


def plot_numeric_columns(table: pd.DataFrame, columns: Sequence[str]) -> tuple[Figure | None, str]:
    """Draw one histogram per numeric column (at most `MAX_PANELS`), the median marked.

    Returns
    -------
    (Figure or None, str)
        None when there is no numeric column; the sentence names the most skewed column.
    """
    columns = list(columns)[:MAX_PANELS]
    if not columns:
        return None, "The table has no numeric column besides the id, so there is no distribution to draw."
    fig, axes = _grid(len(columns))
    skews = {}
    for ax, column in zip(axes, columns, strict=False):  # the grid may have spare (hidden) axes
        values = table[column].dropna().astype(float)
        ax.hist(values, bins=30, color="#4c72b0")
        if len(values):
            ax.axvline(values.median(), color="#c44e52", linewidth=1.2)
            skews[column] = float(values.skew()) if len(values) > 2 else 0.0
        ax.set_title(column, fontsize=10)
        ax.set_ylabel("customers", fontsize=8)
        ax.tick_params(labelsize=8)
    fig.suptitle("Distribution of each numeric column (red line: median)", fontsize=11)
    fig.tight_layout()
    skewed = max(skews, key=lambda c: abs(skews[c])) if skews else None
    text = "Red lines mark the medians."
    if skewed is not None and abs(skews[skewed]) > 1:
        text = (f"{skewed} is the most skewed column (skewness {skews[skewed]:.1f}): a few customers have much "
                f"larger values than the median; list it in clustering.log_features if you cluster on it.")
    return fig, text


def plot_categorical_columns(table: pd.DataFrame, columns: Sequence[str]) -> tuple[Figure | None, str]:
    """Draw the share of customers per level of each categorical column (missing as 'missing').

    Returns
    -------
    (Figure or None, str)
        None when there is no categorical column; the sentence names the most concentrated one.
    """
    columns = list(columns)[:MAX_PANELS]
    if not columns:
        return None, "The table has no categorical column (text or yes/no) to describe."
    fig, axes = _grid(len(columns), height=0.3 * MAX_LEVELS + 1.0)
    top_shares = {}
    for ax, column in zip(axes, columns, strict=False):  # the grid may have spare (hidden) axes
        shares = table[column].astype("string").fillna("missing").value_counts(normalize=True)
        if len(shares) > MAX_LEVELS:
            shares = pd.concat([shares.iloc[: MAX_LEVELS - 1], pd.Series({"other": shares.iloc[MAX_LEVELS - 1:].sum()})])
        top_shares[column] = (str(shares.index[0]), float(shares.iloc[0]))
        ax.barh([str(i) for i in shares.index][::-1], shares.to_numpy()[::-1] * 100, color="#55a868")
        ax.set_title(column, fontsize=10)
        ax.set_xlabel("% of customers", fontsize=8)
        ax.tick_params(labelsize=8)
    fig.suptitle("Share of customers per level", fontsize=11)
    fig.tight_layout()
    column = max(top_shares, key=lambda c: top_shares[c][1])
    level, share = top_shares[column]
    return fig, f"The most concentrated column is {column}: {share:.0%} of customers are '{level}'."


# Metrics a customer table cannot tell (no order history): left out of its metric table.
TRANSACTION_ONLY_METRICS: tuple[str, ...] = (
    "avg_days_between_orders", "first_order_date", "purchase_invoices", "cancelled_orders")


def metric_summary(metrics: pd.DataFrame, formats: Any = None) -> pd.DataFrame:
    """03's metric table for a customer table: `helpers.rfm_report.metric_summary` without the
    rows a table of one row per customer cannot fill (days between orders, first order, ...)."""
    from helpers import rfm_report

    table = rfm_report.metric_summary(metrics, formats)
    dropped = {rfm_report.METRIC_SUMMARY_COLUMNS[c][0] for c in TRANSACTION_ONLY_METRICS}
    return table[~table["metric"].isin(dropped)].reset_index(drop=True)
