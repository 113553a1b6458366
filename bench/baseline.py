"""Customer features two ways: plain pandas (the baseline) and the engine (DuckDB SQL).

`pandas_customer_summary` rebuilds 02_eda's whole customer table
(`helpers.eda.customer_summary`) with pandas, and `compare_customer_summary` checks the two
column by column; the benchmark times both on the same file. `pandas_rfm` is the narrower
R/F/M part, compared with 02_eda's and 03_rfm's tables.

Both read the cleaned transaction lines written by 01_clean and give one row per customer:

- ``recency_days``: calendar days from the last purchase line (``is_return`` false) to the
  analysis date (midnight of the day after the last line); NaN without a purchase;
- ``frequency``: distinct purchase invoices (invoice ids among lines that are not returns);
- ``monetary``: net revenue, the sum of every line's amount, returns included.

`pandas_rfm` is what a careful analyst would write without an engine: read the needed
columns with pandas and group. `engine_rfm` derives the same three columns from
`helpers.eda.customer_summary` (DuckDB SQL over the Parquet), and `compare_rfm` checks that
the two agree: same customers, same frequency, same recency, monetary equal to the cent.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

RFM_COLUMNS = ("customer_id", "recency_days", "frequency", "monetary")
_LINE_COLUMNS = ["customer_id", "invoice_id", "invoice_date", "amount", "is_return"]
SUMMARY_COLUMNS = ("customer_id", "orders", "net_revenue", "first_purchase", "last_purchase", "lines",
                   "distinct_products", "return_share", "avg_order_value", "country")
# How `compare_customer_summary` compares a column: exactly, in whole cents, else to 1e-9.
_EXACT = ("orders", "lines", "distinct_products", "first_purchase", "last_purchase", "country")
_CENTS = ("net_revenue", "avg_order_value")


def _recency_days(last_purchase: pd.Series, analysis_date: pd.Timestamp) -> pd.Series:
    return (analysis_date - last_purchase.dt.normalize()).dt.days.astype("float64")


def pandas_rfm(transactions_path: str | Path) -> pd.DataFrame:
    """Compute R/F/M per customer with plain pandas.

    Parameters
    ----------
    transactions_path : str or Path
        Cleaned transactions Parquet (01_clean output).

    Returns
    -------
    pandas.DataFrame
        `RFM_COLUMNS`, one row per customer, sorted by customer_id.
    """
    lines = pd.read_parquet(transactions_path, columns=_LINE_COLUMNS)
    analysis_date = lines["invoice_date"].max().normalize() + pd.Timedelta(days=1)
    monetary = lines.groupby("customer_id", sort=False)["amount"].sum()
    purchases = lines.loc[~lines["is_return"].astype(bool), ["customer_id", "invoice_id", "invoice_date"]]
    del lines
    by_customer = purchases.groupby("customer_id", sort=False)
    frequency = by_customer["invoice_id"].nunique()
    last_purchase = by_customer["invoice_date"].max()
    del purchases, by_customer
    table = pd.DataFrame({"monetary": monetary})
    table["frequency"] = frequency.reindex(table.index).fillna(0).astype("int64")
    table["recency_days"] = _recency_days(last_purchase.reindex(table.index), analysis_date)
    table = table.rename_axis("customer_id").reset_index().sort_values("customer_id", ignore_index=True)
    return table.loc[:, list(RFM_COLUMNS)]


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


def compare_customer_summary(engine: pd.DataFrame, baseline: pd.DataFrame) -> dict[str, int]:
    """Count disagreements between two `SUMMARY_COLUMNS` tables (all zero when they match).

    Returns
    -------
    dict
        ``customers`` in both, ``customers_only_engine``, ``customers_only_baseline``, and per
        column ``<column>_differs``: counts and dates and the country exactly, money in whole
        cents, the return share to 1e-9; missing equals missing.
    """
    merged = engine.merge(baseline, on="customer_id", how="outer", suffixes=("_engine", "_baseline"),
                          indicator=True)
    both = merged[merged["_merge"] == "both"]
    result = {
        "customers": int(len(both)),
        "customers_only_engine": int((merged["_merge"] == "left_only").sum()),
        "customers_only_baseline": int((merged["_merge"] == "right_only").sum()),
    }
    for column in SUMMARY_COLUMNS[1:]:
        a, b = both[f"{column}_engine"], both[f"{column}_baseline"]
        missing = a.isna() & b.isna()
        if column in _EXACT:
            same = (a.astype(object) == b.astype(object)).fillna(False).astype(bool)
        else:
            x, y = a.to_numpy(float), b.to_numpy(float)
            same = pd.Series(np.round(x * 100) == np.round(y * 100) if column in _CENTS
                             else np.abs(x - y) <= 1e-9, index=a.index)
        result[f"{column}_differs"] = int((~(same | missing)).sum())
    return result


def engine_rfm(customers: pd.DataFrame, analysis_date: pd.Timestamp) -> pd.DataFrame:
    """Return `RFM_COLUMNS` from `helpers.eda.customer_summary`'s table (orders, net_revenue, last_purchase)."""
    table = pd.DataFrame({
        "customer_id": customers["customer_id"],
        "recency_days": _recency_days(pd.to_datetime(customers["last_purchase"]), analysis_date),
        "frequency": customers["orders"].astype("int64"),
        "monetary": customers["net_revenue"].astype("float64"),
    })
    return table.sort_values("customer_id", ignore_index=True)


def engine_rfm_from_metrics(metrics: pd.DataFrame) -> pd.DataFrame:
    """Return frequency and monetary from `helpers.rfm.customer_metrics` (recency left NaN).

    ``purchase_invoices`` is the distinct purchase invoices; 03_rfm's own recency counts
    from the last order *not fully cancelled*, a different definition, so it is not compared.
    """
    table = pd.DataFrame({
        "customer_id": metrics["customer_id"],
        "recency_days": np.nan,
        "frequency": metrics["purchase_invoices"].astype("int64"),
        "monetary": metrics["monetary"].astype("float64"),
    })
    return table.sort_values("customer_id", ignore_index=True)


def analysis_date_of(transactions_path: str | Path) -> pd.Timestamp:
    """Return midnight of the day after the last line (the RFM default)."""
    with duckdb.connect() as con:
        (last,) = con.execute(
            "SELECT max(invoice_date) FROM read_parquet($path)", {"path": str(transactions_path)}
        ).fetchone()
    return pd.Timestamp(last).normalize() + pd.Timedelta(days=1)


def compare_rfm(engine: pd.DataFrame, baseline: pd.DataFrame) -> dict[str, int]:
    """Count disagreements between two R/F/M tables (all zero when they match).

    Returns
    -------
    dict
        ``customers_only_engine``, ``customers_only_baseline``, and per metric the customers
        whose values differ (monetary compared in whole cents; NaN equals NaN).
    """
    merged = engine.merge(baseline, on="customer_id", how="outer", suffixes=("_engine", "_baseline"),
                          indicator=True)
    both = merged[merged["_merge"] == "both"]
    result = {
        "customers": int(len(both)),
        "customers_only_engine": int((merged["_merge"] == "left_only").sum()),
        "customers_only_baseline": int((merged["_merge"] == "right_only").sum()),
    }
    for metric in ("recency_days", "frequency"):
        a, b = both[f"{metric}_engine"].to_numpy(float), both[f"{metric}_baseline"].to_numpy(float)
        result[f"{metric}_differs"] = int((~((a == b) | (np.isnan(a) & np.isnan(b)))).sum())
    cents_a = np.round(both["monetary_engine"].to_numpy(float) * 100)
    cents_b = np.round(both["monetary_baseline"].to_numpy(float) * 100)
    result["monetary_differs"] = int((cents_a != cents_b).sum())
    return result


def mismatches(comparison: dict[str, int]) -> int:
    """Total disagreements in a `compare_rfm` result."""
    return sum(v for k, v in comparison.items() if k != "customers")
