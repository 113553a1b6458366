"""Readable tables for the report: the overview and per-column summaries of customer tables.

Presentation only: each function takes a small frame from `helpers.eda` and returns a
frame of text, numbers formatted by kind. Given ``formats`` (`helpers.formatting.Formats`,
from ``report.currency`` and ``report.locale``) money carries the shop's currency and every
number the locale's grouping and decimal mark; without, numbers get thousands separators
and no currency symbol, as before. `summary_table` serves the customer tables of 02_eda
and 03_rfm.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd

from helpers.formatting import Formats
from helpers.page_formats import count_cell, money_cell, number_cell, share_cell

SUMMARY_KINDS: tuple[str, ...] = ("money", "count", "days", "share", "date")

# Customer-table columns of `helpers.eda.customer_summary`: label shown and kind of number.
CUSTOMER_SUMMARY_COLUMNS: dict[str, tuple[str, str]] = {
    "orders": ("purchase orders", "count"),
    "net_revenue": ("net revenue", "money"),
    "avg_order_value": ("average order value", "money"),
    "lines": ("lines", "count"),
    "distinct_products": ("distinct products", "count"),
    "return_share": ("share of lines that are returns", "share"),
    "first_purchase": ("first purchase", "date"),
    "last_purchase": ("last purchase", "date"),
}


def format_count(value: float, decimals: int = 1) -> str:
    """Format a count or a number of days: at most `decimals` decimals, none when whole.

    Examples
    --------
    >>> [format_count(v) for v in (4324.0, 2.5, 25.545055, -0.01)]
    ['4,324', '2.5', '25.5', '0']
    """
    rounded = round(float(value), decimals) + 0.0  # + 0.0 turns -0.0 into 0.0
    if rounded.is_integer():
        return f"{rounded:,.0f}"
    return f"{rounded:,.{decimals}f}"


# Overview figures that count an optional field (`helpers.eda_fields.OPTIONAL_FIELDS`).
OVERVIEW_FIELD_FIGURES: dict[str, str] = {"products": "product", "countries": "country"}
NOT_IN_EXPORT = "not in the export"


def _overview_value(name: str, value: object, missing: Collection[str], formats: Formats | None = None) -> str:
    """Format one overview figure; dates without a time of day as dates only."""
    if OVERVIEW_FIELD_FIGURES.get(name) in missing:
        return NOT_IN_EXPORT  # a count of 0 would read as a shop with no products
    if isinstance(value, (pd.Timestamp, np.datetime64)) or "date" in name:
        if pd.isna(value):
            return ""
        return f"{pd.Timestamp(value):%Y-%m-%d}" if "time_of_day" in missing else str(pd.Timestamp(value))
    if name == "net_revenue":
        return f"{float(value):,.2f}" if formats is None else money_cell(float(value), formats)
    return f"{int(value):,}" if formats is None else number_cell(int(value), formats)


def overview_table(
    overview_frame: pd.DataFrame, missing: Collection[str] = (), formats: Formats | None = None
) -> pd.DataFrame:
    """Turn the one-row `helpers.eda.overview` into a two-column table of formatted figures.

    Parameters
    ----------
    overview_frame : pandas.DataFrame
        Output of `helpers.eda.overview`.
    missing : collection of str, default ()
        Optional fields no line carries (``FieldPresence.missing`` of
        `helpers.eda_fields.field_presence`): their counts read "not in the export" instead
        of 0, and without a time of day the first and last date show as dates.
    formats : Formats, optional
        Writes net revenue with the currency and counts in the locale's style; None keeps
        plain numbers.

    Returns
    -------
    pandas.DataFrame
        Text columns figure and value, one row per column of `overview_frame`.

    Examples
    --------
    >>> overview_table(pd.DataFrame({"lines": [1200], "net_revenue": [1234.5]}))["value"].tolist()
    ['1,200', '1,234.50']
    >>> overview_table(pd.DataFrame({"countries": [0]}), missing=("country",))["value"].tolist()
    ['not in the export']
    >>> overview_table(pd.DataFrame({"lines": [1200], "net_revenue": [1234.5]}),
    ...                formats=Formats("EUR", "de_DE"))["value"].tolist()
    ['1.200', '1.234,50\xa0€']
    """
    if overview_frame.empty:
        return pd.DataFrame({"figure": [], "value": []})
    row = overview_frame.iloc[0]
    values = [_overview_value(str(name), value, missing, formats) for name, value in row.items()]
    return pd.DataFrame({"figure": [str(n).replace("_", " ") for n in row.index], "value": values})


def _quantile_label(q: float) -> str:
    return "median" if q == 0.5 else f"P{round(q * 100):g}"


def _format_stat(value: object, kind: str, formats: Formats | None = None) -> str:
    """Format one summary statistic by the kind of its column; blank when missing."""
    if value is None or pd.isna(value):
        return ""
    if kind == "date":
        return f"{pd.Timestamp(value):%Y-%m-%d}"
    if formats is not None:
        cell = {"money": money_cell, "share": share_cell}.get(kind, count_cell)
        return cell(float(value), formats)
    if kind == "money":
        return f"{float(value):,.2f}"
    if kind == "share":
        return f"{float(value):.1%}"
    return format_count(float(value))


def summary_table(
    frame: pd.DataFrame,
    columns: dict[str, tuple[str, str]],
    quantiles: tuple[float, float] = (0.25, 0.75),
    entity: str = "customers",
    formats: Formats | None = None,
) -> pd.DataFrame:
    """Summarise columns of a one-row-per-entity table as readable text, one row per column.

    Each row gives how many rows have a value, then min, lower quantile, median, upper
    quantile and max (exact values, linear interpolation between neighbours). Numbers are
    formatted by kind: ``money`` with 2 decimals, ``count`` and ``days`` with at most one
    decimal, ``share`` as a percentage, all with thousands separators; ``date`` columns
    show only their first and last date (a mean or median date says little).

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per customer (or other entity).
    columns : dict of str to (str, str)
        Column -> (label shown, kind), kind one of `SUMMARY_KINDS`; table order.
    quantiles : (float, float), default (0.25, 0.75)
        Lower and upper quantile, e.g. (0.2, 0.8) for quintile boundaries.
    entity : str, default "customers"
        What a row is, for the count column ("customers with a value").
    formats : Formats, optional
        Given: money with the currency, every number in the locale's style (same decimals).

    Returns
    -------
    pandas.DataFrame
        Text columns metric, ``<entity> with a value``, min, P25, median, P75, max.

    Raises
    ------
    ValueError
        A column that is not in `frame`, or an unknown kind.

    Examples
    --------
    >>> frame = pd.DataFrame({"orders": [1, 3, 5, 7], "spend": [10.0, 20.0, 30.5, None]})
    >>> table = summary_table(frame, {"orders": ("orders", "count"), "spend": ("spend", "money")})
    >>> table.iloc[0].tolist()
    ['orders', '4', '1', '2.5', '4', '5.5', '7']
    >>> table.iloc[1].tolist()
    ['spend', '3', '10.00', '15.00', '20.00', '25.25', '30.50']
    >>> summary_table(frame, {"spend": ("spend", "money")}, formats=Formats("GBP", "en_GB")).iloc[0, 2:].tolist()
    ['£10.00', '£15.00', '£20.00', '£25.25', '£30.50']
    """
    low, high = quantiles
    count_header = f"{entity} with a value"
    headers = ["metric", count_header, "min", _quantile_label(low), "median"]
    headers += [_quantile_label(high), "max"]
    rows = [
        _summary_row(frame, column, label, kind, quantiles, formats)
        for column, (label, kind) in columns.items()
    ]
    return pd.DataFrame(rows, columns=headers)


def _summary_row(
    frame: pd.DataFrame,
    column: str,
    label: str,
    kind: str,
    quantiles: tuple[float, float],
    formats: Formats | None = None,
) -> list[str]:
    """Return one row of `summary_table`: label, count, min, quantiles and max as text."""
    if column not in frame.columns:
        raise ValueError(f"column '{column}' not in the table; choose from {list(frame.columns)}")
    if kind not in SUMMARY_KINDS:
        raise ValueError(f"kind {kind!r} of column '{column}' is not one of {SUMMARY_KINDS}")
    low, high = quantiles
    values = frame[column].dropna()
    if kind == "date":
        stats = [values.min(), None, None, None, values.max()] if len(values) else [None] * 5
    else:
        numbers = values.astype("float64")
        stats = [numbers.min(), *numbers.quantile([low, 0.5, high]), numbers.max()]
    count = f"{len(values):,}" if formats is None else number_cell(len(values), formats)
    return [label, count, *(_format_stat(v, kind, formats) for v in stats)]


def customer_table_summary(customers: pd.DataFrame, formats: Formats | None = None) -> pd.DataFrame:
    """Summarise the customer table of `helpers.eda.customer_summary` (see `summary_table`).

    Parameters
    ----------
    customers : pandas.DataFrame
        Output of `helpers.eda.customer_summary`, possibly without the columns that
        `helpers.eda_fields.drop_missing_fields` took out (e.g. distinct products for an
        export without products): those get no row.
    formats : Formats, optional
        Money with the currency, numbers in the locale's style (see `summary_table`).

    Returns
    -------
    pandas.DataFrame
        One row per column of `CUSTOMER_SUMMARY_COLUMNS` in `customers`, with quartiles.
    """
    shown = {c: spec for c, spec in CUSTOMER_SUMMARY_COLUMNS.items() if c in customers.columns}
    return summary_table(customers, shown, quantiles=(0.25, 0.75), formats=formats)
