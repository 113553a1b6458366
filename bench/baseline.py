"""Customer tables two ways: plain pandas (the baseline) and the engine (DuckDB SQL).

`pandas_customer_metrics` rebuilds 03_rfm's customer metrics (`helpers.rfm.customer_metrics`,
the customer features RFM scoring and clustering use) with pandas, doing the same work: lines
to invoices, LIFO matching of cancellations to orders of the exact opposite total, kept
orders, recency, net revenue in cents. `pandas_customer_summary` rebuilds 02_eda's whole
customer table (`helpers.eda.customer_summary`). `compare_customer_metrics` and
`compare_customer_summary` check engine and baseline column by column; the benchmark times
both on the same file.

Both read the cleaned transaction lines written by 01_clean and give one row per customer.
The baselines are what a careful analyst would write without an engine: read the needed
columns with pandas, then group, sort and scan with vectorised operations (no Python loop
over customers or invoices).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.catalog import METRIC_COLUMNS

_LINE_COLUMNS = ["customer_id", "invoice_id", "invoice_date", "amount", "is_return"]
SUMMARY_COLUMNS = ("customer_id", "orders", "net_revenue", "first_purchase", "last_purchase", "lines",
                   "distinct_products", "return_share", "avg_order_value", "country")
# How `compare_customer_summary` compares a column: exactly, in whole cents, else to 1e-9.
_EXACT = ("orders", "lines", "distinct_products", "first_purchase", "last_purchase", "country")
_CENTS = ("net_revenue", "avg_order_value")
# `compare_customer_metrics`: counts, days and dates exactly, money in whole cents.
_METRICS_CENTS = ("monetary", "avg_order_value")
_METRICS_EXACT = tuple(c for c in METRIC_COLUMNS[1:] if c not in _METRICS_CENTS)


def _days(later: pd.Series, earlier: pd.Series) -> pd.Series:
    """Calendar days between the dates of two timestamps (DuckDB ``date_diff('day', ...)``)."""
    return (later.dt.normalize() - earlier.dt.normalize()).dt.days.astype("float64")


def _cents(values: pd.Series | np.ndarray) -> np.ndarray:
    """Round to cents half away from zero after 6 decimals, as `helpers.rfm.customer_metrics`.

    In integer micro-units, so 2.675 (stored as 2.67499999999999982) gives 2.68.
    """
    micros = np.rint(np.asarray(values, dtype="float64") * 1_000_000)
    cents = np.sign(micros) * np.floor((np.abs(micros) + 5_000) / 10_000)
    return cents / 100 + 0.0


def _round_half_away(values: np.ndarray) -> np.ndarray:
    """C's ``round`` (DuckDB's for doubles): halves away from zero."""
    return np.sign(values) * np.floor(np.abs(values) + 0.5)


def _invoices(lines: pd.DataFrame) -> pd.DataFrame:
    """Group lines into invoices: date, total, cancellation (every line a return), cents, step."""
    no_invoice = lines["invoice_id"].isna()  # their timestamp names the order; few lines, so format only those
    stamp = "~" + lines.loc[no_invoice, "invoice_date"].dt.strftime("%Y-%m-%d %H:%M:%S")
    lines = lines.assign(invoice_id=lines["invoice_id"].where(~no_invoice, stamp),
                         amount=lines["amount"].fillna(0.0),
                         is_return=lines["is_return"].fillna(False).astype(bool))
    invoices = lines.groupby(["customer_id", "invoice_id"], sort=False, dropna=False).agg(
        invoice_date=("invoice_date", "min"), total=("amount", "sum"), is_cancellation=("is_return", "all"),
    ).reset_index()
    total = invoices["total"].to_numpy()
    cancellation = invoices["is_cancellation"].to_numpy()
    invoices["cents"] = _round_half_away(np.abs(total) * 100).astype("int64")
    invoices["step"] = np.select([~cancellation & (total > 0), cancellation & (total < 0)], [1, -1], 0)
    return invoices


def _match_cancellations(invoices: pd.DataFrame) -> pd.Series:
    """Mark purchase orders fully cancelled, LIFO per customer and total in cents.

    Within a (customer, cents) group, in order of date, purchases before cancellations at
    the same time, then invoice id: the running count of open orders ``balance`` (+1 per
    order, -1 per cancellation) is lifted by its lowest point so far below 0 (a
    cancellation of an order before the data cancels nothing), giving ``depth``; an order
    is cancelled when the depth later drops below its own.
    """
    ordered = invoices.assign(neg_step=-invoices["step"]).sort_values(
        ["customer_id", "cents", "invoice_date", "neg_step", "invoice_id"], kind="mergesort")
    key = ordered["customer_id"].astype(object).where(ordered["customer_id"].notna(), "\0missing")
    new_group = (key != key.shift()) | (ordered["cents"] != ordered["cents"].shift())
    group = new_group.cumsum().to_numpy()
    balance = ordered["step"].groupby(group).cumsum()
    depth = balance - np.minimum(0, balance.groupby(group).cummin())
    later_min = depth.iloc[::-1].groupby(group[::-1]).cummin().iloc[::-1].groupby(group).shift(-1)
    cancelled = (ordered["step"] == 1) & (later_min < depth).fillna(False).astype(bool)
    return cancelled.reindex(invoices.index)


def pandas_customer_metrics(
    transactions_path: str | Path, analysis_date: pd.Timestamp | None = None
) -> pd.DataFrame:
    """Compute 03_rfm's customer metrics with plain pandas, cancellation matching included.

    The definitions of `helpers.rfm.customer_metrics`: lines before the analysis date;
    lines without an invoice id at one timestamp form one invoice; an invoice whose lines
    are all returns is a cancellation; a purchase order is fully cancelled by a later (or
    simultaneous) cancellation of the exact opposite total in cents, each cancellation
    cancelling the most recent open order (`_match_cancellations`); money in cents.

    Parameters
    ----------
    transactions_path : str or Path
        Cleaned transactions Parquet (01_clean output).
    analysis_date : Timestamp, optional
        Midnight of the analysis date; default the day after the last line.

    Returns
    -------
    pandas.DataFrame
        `helpers.rfm.METRIC_COLUMNS`, one row per customer, sorted by customer_id.
    """
    lines = pd.read_parquet(transactions_path, columns=_LINE_COLUMNS)
    if analysis_date is None:
        analysis_date = lines["invoice_date"].max().normalize() + pd.Timedelta(days=1)
    lines = lines.loc[lines["invoice_date"] < analysis_date]
    invoices = _invoices(lines)
    del lines
    is_cancelled = _match_cancellations(invoices)
    purchase = ~invoices["is_cancellation"]
    kept = purchase & ~is_cancelled
    by_customer = invoices.assign(
        kept=kept, purchase=purchase, is_cancelled=is_cancelled,
        kept_date=invoices["invoice_date"].where(kept),
    ).groupby("customer_id", sort=True, dropna=False)
    table = pd.DataFrame({
        "frequency": by_customer["kept"].sum().astype("int64"),
        "monetary": by_customer["total"].sum().pipe(lambda total: pd.Series(_cents(total), index=total.index)),
        "first_order_date": by_customer["kept_date"].min(),
        "last_order_date": by_customer["kept_date"].max(),
        "purchase_invoices": by_customer["purchase"].sum().astype("int64"),
        "cancelled_orders": by_customer["is_cancelled"].sum().astype("int64"),
    })
    as_of = pd.Series(analysis_date, index=table.index)
    table["recency_days"] = _days(as_of, table["last_order_date"])
    table["tenure_days"] = _days(as_of, table["first_order_date"])
    orders = table["frequency"].where(table["frequency"] > 0)
    table["avg_order_value"] = _cents(table["monetary"] / orders)
    table["avg_days_between_orders"] = (_days(table["last_order_date"], table["first_order_date"])
                                        / (orders - 1).where(orders > 1))
    table = table.rename_axis("customer_id").reset_index()
    return table.loc[:, list(METRIC_COLUMNS)]


def _blank_to_missing(text: pd.Series) -> pd.Series:
    """Missing or blank (spaces only, as SQL ``trim``) text becomes missing, trimmed otherwise."""
    trimmed = text.str.strip(" ")
    return trimmed.where(trimmed != "")


def pandas_customer_summary(transactions_path: str | Path) -> pd.DataFrame:
    """Build 02_eda's customer table with plain pandas.

    The same definitions as `helpers.eda.customer_summary`: orders are distinct purchase
    invoices, products are ``product_id`` or else the trimmed description, the country is
    the customer's most frequent (ties: alphabetical first), net revenue is rounded to 6
    decimals.

    Parameters
    ----------
    transactions_path : str or Path
        Cleaned transactions Parquet (01_clean output).

    Returns
    -------
    pandas.DataFrame
        `SUMMARY_COLUMNS`, one row per customer, sorted by customer_id.
    """
    lines = pd.read_parquet(transactions_path, columns=[*_LINE_COLUMNS, "product_id", "description", "country"])
    lines["is_return"] = lines["is_return"].astype(bool)
    lines["product"] = lines["product_id"].where(lines["product_id"].notna(),
                                                 _blank_to_missing(lines["description"]))
    lines["country"] = _blank_to_missing(lines["country"])
    lines = lines.drop(columns=["product_id", "description"])
    by_customer = lines.groupby("customer_id", sort=True)
    table = pd.DataFrame({
        "net_revenue": by_customer["amount"].sum().round(6),
        "lines": by_customer.size(),
        "return_share": by_customer["is_return"].mean(),
    })
    purchases = lines.loc[~lines["is_return"]].groupby("customer_id", sort=False)
    table["orders"] = purchases["invoice_id"].nunique().reindex(table.index).fillna(0).astype("int64")
    table["first_purchase"] = purchases["invoice_date"].min().reindex(table.index)
    table["last_purchase"] = purchases["invoice_date"].max().reindex(table.index)
    table["distinct_products"] = purchases["product"].nunique().reindex(table.index).fillna(0).astype("int64")
    del purchases, by_customer
    counts = lines.groupby(["customer_id", "country"], sort=False).size().rename("n").reset_index()
    del lines
    counts = counts.sort_values(["customer_id", "n", "country"], ascending=[True, False, True])
    table["country"] = counts.drop_duplicates("customer_id").set_index("customer_id")["country"].reindex(table.index)
    table["avg_order_value"] = table["net_revenue"] / table["orders"].where(table["orders"] > 0)
    table = table.rename_axis("customer_id").reset_index()
    return table.loc[:, list(SUMMARY_COLUMNS)]


def _compare_tables(engine: pd.DataFrame, baseline: pd.DataFrame, columns: Sequence[str],
                    exact: Sequence[str], cents: Sequence[str]) -> dict[str, int]:
    """Count disagreements per column between two per-customer tables (see the callers)."""
    merged = engine.merge(baseline, on="customer_id", how="outer", suffixes=("_engine", "_baseline"),
                          indicator=True)
    both = merged[merged["_merge"] == "both"]
    result = {
        "customers": int(len(both)),
        "customers_only_engine": int((merged["_merge"] == "left_only").sum()),
        "customers_only_baseline": int((merged["_merge"] == "right_only").sum()),
    }
    for column in columns:
        a, b = both[f"{column}_engine"], both[f"{column}_baseline"]
        missing = a.isna() & b.isna()
        if column in exact:
            same = (a.astype(object) == b.astype(object)).fillna(False).astype(bool)
        else:
            x, y = a.to_numpy(float), b.to_numpy(float)
            same = pd.Series(np.round(x * 100) == np.round(y * 100) if column in cents
                             else np.abs(x - y) <= 1e-9, index=a.index)
        result[f"{column}_differs"] = int((~(same | missing)).sum())
    return result


def compare_customer_summary(engine: pd.DataFrame, baseline: pd.DataFrame) -> dict[str, int]:
    """Count disagreements between two `SUMMARY_COLUMNS` tables (all zero when they match).

    Returns
    -------
    dict
        ``customers`` in both, ``customers_only_engine``, ``customers_only_baseline``, and per
        column ``<column>_differs``: counts and dates and the country exactly, money in whole
        cents, the return share to 1e-9; missing equals missing.
    """
    return _compare_tables(engine, baseline, SUMMARY_COLUMNS[1:], _EXACT, _CENTS)


def compare_customer_metrics(engine: pd.DataFrame, baseline: pd.DataFrame) -> dict[str, int]:
    """Count disagreements between two `helpers.rfm.METRIC_COLUMNS` tables (all zero when they match).

    Returns
    -------
    dict
        ``customers`` in both, ``customers_only_engine``, ``customers_only_baseline``, and per
        column ``<column>_differs``: kept frequency, recency, tenure, cancelled orders, the
        other counts and the dates exactly, monetary and average order value in whole cents;
        missing equals missing.
    """
    return _compare_tables(engine, baseline, METRIC_COLUMNS[1:], _METRICS_EXACT, _METRICS_CENTS)


def mismatches(comparison: dict[str, int]) -> int:
    """Total disagreements in a `compare_customer_metrics` or `compare_customer_summary` result."""
    return sum(v for k, v in comparison.items() if k != "customers")
