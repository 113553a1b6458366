"""Customer-level input (``input.level: customers``): one row per customer, no transactions.

Many shops, and most public segmentation datasets, export one row per customer:
demographics, spend per category, purchases per channel, web visits, days since the last
purchase. `load_customer_table` reads such a table with the same readers as a transaction
export (CSV, Excel, Parquet and their options), renames the columns mapped in
``input.columns`` to the canonical fields of `CUSTOMER_FIELDS` and keeps every other column
under its own name, so it can be listed in ``clustering.features``. `clean_customer_table`
applies the rules of `CUSTOMER_RULES` in order and logs each with the rows and customers it
touched. Nothing here invents transactions: RFM is built from mapped recency, frequency and
monetary columns only (`rfm_from_columns`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from helpers.engine import quote_identifier
from helpers.errors import UserError
from helpers.params_checks import CUSTOMER_LEVEL_FIELDS
from helpers.readers import register_source
from helpers.sql_values import date as _date
from helpers.sql_values import identifier as _identifier
from helpers.sql_values import number as _number

# Canonical fields a customer-level table may map (input.columns); customer_id is required.
CUSTOMER_FIELDS: tuple[str, ...] = CUSTOMER_LEVEL_FIELDS
NUMBER_FIELDS: tuple[str, ...] = ("recency_days", "frequency", "monetary", "birth_year", "age")
DATE_FIELDS: tuple[str, ...] = ("signup_date", "birth_date")
TEXT_FIELDS: tuple[str, ...] = ("gender", "country", "city", "region")
RFM_FIELDS: tuple[str, ...] = ("recency_days", "frequency", "monetary")
MAX_UNPARSED_SHARE = 0.01  # a mapped column with more unreadable values than this stops the run
OLDEST_BIRTH_YEAR = 1900
MAX_AGE = 120

_TYPES_SQL = "SELECT column_name, column_type FROM (DESCRIBE source)"


def customer_mapping(input_params: Mapping[str, Any]) -> dict[str, str]:
    """Return canonical field -> source column for the fields a customer-level table maps.

    Transaction fields of ``input.columns`` (invoice_id, quantity, ...) are ignored at this
    level: their defaults name Online Retail columns that a customer table does not have.

    Examples
    --------
    >>> customer_mapping({"columns": {"customer_id": "ID", "invoice_id": "InvoiceNo", "monetary": None}})
    {'customer_id': 'ID'}
    """
    columns = input_params.get("columns") or {}
    return {f: columns[f] for f in CUSTOMER_FIELDS if columns.get(f)}


def _transaction_defaults() -> dict[str, Any]:
    """``input.columns`` of params.yaml: the shipped transaction export's column names."""
    import yaml

    from helpers.config import DEFAULT_PARAMS

    return yaml.safe_load(DEFAULT_PARAMS.read_text(encoding="utf-8"))["input"]["columns"]


def _check_mapping(path: str, columns: Sequence[str], mapping: Mapping[str, str]) -> dict[str, str]:
    """Return the mapping without shared fields left at their transaction default and absent
    from the table (``country: Country``); raise when customer_id or a set column is missing."""
    defaults = _transaction_defaults()
    mapping = {f: c for f, c in mapping.items() if c in columns or f == "customer_id" or defaults.get(f) != c}
    if "customer_id" not in mapping:
        raise UserError(f"{path}: input.columns.customer_id is not set; fix: name the column that identifies "
                        f"the customer (input.level: customers)")
    for field, column in mapping.items():
        if column not in columns:
            raise UserError(
                f"{path}: column '{column}' (input.columns.{field}) not found; fix: set input.columns.{field} "
                f"to one of {', '.join(list(columns)[:12])}{' ...' if len(columns) > 12 else ''}"
            )
    return mapping


def _select_list(types: Mapping[str, str], mapping: Mapping[str, str], input_params: Mapping[str, Any],
                 numbers: Mapping[str, str]) -> list[str]:
    """SQL expressions: canonical fields typed, every other column under its own name (`numbers`: read as numbers)."""
    decimal, date_format = input_params["csv"]["decimal"], input_params["date_format"]
    select = []
    for field, column in mapping.items():
        col, kind = quote_identifier(column), types[column]
        if field == "customer_id":
            expr = _identifier(col, kind)
        elif field in NUMBER_FIELDS:
            expr = _number(col, decimal, kind)
        elif field in DATE_FIELDS:
            expr = f"CAST({_date(col, kind, date_format)} AS DATE)"
        else:
            expr = f"NULLIF(trim(CAST({col} AS VARCHAR)), '')"
        select.append(f"{expr} AS {quote_identifier(field)}")
    mapped = set(mapping.values())
    select += [f"{numbers[c]} AS {quote_identifier(c)}" if c in numbers else quote_identifier(c)
               for c in types if c not in mapped and c not in CUSTOMER_FIELDS]
    return select


def _numeric_text_columns(con: duckdb.DuckDBPyConnection, types: Mapping[str, str], mapping: Mapping[str, str],
                          decimal: str) -> dict[str, str]:
    """Unmapped text columns whose every non-empty value is a number -> their number expression.

    CSV columns are read as text; a column like ``WebVisitsMonth`` must reach clustering
    as a number, while ``Education`` stays a category.
    """
    mapped = set(mapping.values())
    candidates = [c for c, t in types.items() if t == "VARCHAR" and c not in mapped and c not in CUSTOMER_FIELDS]
    if not candidates:
        return {}
    exprs = {c: _number(quote_identifier(c), decimal, "VARCHAR") for c in candidates}
    counts = ", ".join(
        f"count(NULLIF(trim({quote_identifier(c)}), '')), count({e})" for c, e in exprs.items())
    row = con.execute(f"SELECT {counts} FROM source").fetchall()[0]
    return {c: exprs[c] for i, c in enumerate(candidates) if row[2 * i] > 0 and row[2 * i] == row[2 * i + 1]}


def _check_parsed(path: str, raw: pd.DataFrame, table: pd.DataFrame, mapping: Mapping[str, str]) -> dict[str, int]:
    """Count mapped values that did not parse; stop when a column mostly fails."""
    unparsed = {}
    for field in [f for f in mapping if f in NUMBER_FIELDS or f in DATE_FIELDS]:
        filled = raw[mapping[field]].notna() & (raw[mapping[field]].astype(str).str.strip() != "")
        bad = filled & table[field].isna()
        unparsed[field] = int(bad.sum())
        if filled.sum() and bad.sum() / filled.sum() > MAX_UNPARSED_SHARE:
            example = str(raw.loc[bad, mapping[field]].iloc[0])[:30]
            fix = ("set input.date_format to the table's format, e.g. \"%d-%m-%Y\"" if field in DATE_FIELDS
                   else "map a numeric column, or set input.csv.decimal")
            raise UserError(f"{path}: column '{mapping[field]}' (input.columns.{field}): {int(bad.sum()):,} of "
                            f"{int(filled.sum()):,} values do not parse, e.g. {example!r}; fix: {fix}")
    return unparsed


def load_customer_table(con: duckdb.DuckDBPyConnection, input_params: Mapping[str, Any]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read a one-row-per-customer table into canonical fields plus its other columns.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Connection whose view ``source`` is replaced by the table.
    input_params : mapping
        The ``input`` section of the params (path, format, csv, excel, date_format, columns).

    Returns
    -------
    table : pandas.DataFrame
        Mapped fields under their canonical names (customer_id as text, numbers as floats,
        dates as datetimes), then every unmapped column under its own name.
    source : dict
        path, format, rows, columns, mapping and unparsed (values per field that did not
        parse and became missing).

    Raises
    ------
    UserError
        customer_id not mapped, a mapped column missing, or a column mostly unparseable.
    """
    path = str(input_params["path"])
    register_source(con, input_params)
    types = dict(con.execute(_TYPES_SQL).fetchall())
    mapping = customer_mapping(input_params)
    mapping = _check_mapping(path, list(types), mapping)
    numbers = _numeric_text_columns(con, types, mapping, input_params["csv"]["decimal"])
    table = con.execute(f"SELECT {', '.join(_select_list(types, mapping, input_params, numbers))} FROM source").df()
    raw = con.execute(f"SELECT {', '.join(quote_identifier(c) for c in mapping.values())} FROM source").df()
    unparsed = _check_parsed(path, raw, table, mapping)
    source = {"path": path, "rows": len(table), "columns": list(types), "mapping": dict(mapping), "unparsed": unparsed}
    return table, source


@dataclass(frozen=True)
class CustomerRule:
    """One cleaning rule of a customer table: a name, what it does and why."""

    rule: str
    action: str
    description: str


CUSTOMER_RULES: tuple[CustomerRule, ...] = (
    CustomerRule("missing_customer_id", "drop", "rows without a customer id cannot be segmented"),
    CustomerRule("duplicate_rows", "drop", "identical rows (every column equal) are kept once"),
    CustomerRule("repeated_customer_id", "drop", "a customer id on several different rows: the first row is kept"),
    CustomerRule("impossible_values", "set missing", f"birth year before {OLDEST_BIRTH_YEAR} or after the analysis "
                 f"date, age below 0 or above {MAX_AGE}, negative recency or frequency"),
    CustomerRule("missing_feature_values", "fill median", "a missing number in a clustering feature (other than "
                 "recency, frequency, monetary) is replaced by the column's median; a missing category becomes "
                 "its own level in 04"),
)


def _impossible_masks(table: pd.DataFrame, analysis_date: pd.Timestamp) -> dict[str, pd.Series]:
    """Field -> rows whose value cannot be true (set to missing by `clean_customer_table`)."""
    masks: dict[str, pd.Series] = {}
    year = analysis_date.year
    if "birth_year" in table:
        masks["birth_year"] = (table["birth_year"] < OLDEST_BIRTH_YEAR) | (table["birth_year"] > year)
    if "birth_date" in table:
        born = pd.to_datetime(table["birth_date"])
        masks["birth_date"] = (born.dt.year < OLDEST_BIRTH_YEAR) | (born > analysis_date)
    if "age" in table:
        masks["age"] = (table["age"] < 0) | (table["age"] > MAX_AGE)
    for field in ("recency_days", "frequency"):
        if field in table:
            masks[field] = table[field] < 0
    return {f: m.fillna(False).astype(bool) for f, m in masks.items()}


def _log_row(rule: CustomerRule, rows: int, customers: int, table: pd.DataFrame, mask: pd.Series,
             detail: str = "") -> dict[str, Any]:
    revenue = float(table.loc[mask, "monetary"].sum()) if "monetary" in table else np.nan
    return {"rule": rule.rule, "action": rule.action, "rows": rows, "revenue": revenue, "customers": customers,
            "description": rule.description + (f" ({detail})" if detail else "")}


def _rule(name: str) -> CustomerRule:
    return next(r for r in CUSTOMER_RULES if r.rule == name)


def _drop_rows(table: pd.DataFrame) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Apply the three row-removing rules in order; log each."""
    log = []
    missing = table["customer_id"].isna() | (table["customer_id"].astype(str).str.strip() == "")
    log.append(_log_row(_rule("missing_customer_id"), int(missing.sum()), 0, table, missing))
    table = table.loc[~missing]
    duplicated = table.astype(str).duplicated()
    log.append(_log_row(_rule("duplicate_rows"), int(duplicated.sum()), 0, table, duplicated))
    table = table.loc[~duplicated]
    repeated = table["customer_id"].duplicated()
    log.append(_log_row(_rule("repeated_customer_id"), int(repeated.sum()),
                        int(table.loc[repeated, "customer_id"].nunique()), table, repeated))
    return table.loc[~repeated].reset_index(drop=True), log


def clean_customer_table(
    table: pd.DataFrame, analysis_date: pd.Timestamp, features: Sequence[str] = ()
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply `CUSTOMER_RULES` in order and log what each changed.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of `load_customer_table`.
    analysis_date : pandas.Timestamp
        Birth dates and years after it are impossible.
    features : sequence of str, default ()
        ``clustering.features``: their missing numbers are filled with the column median,
        except recency, frequency and monetary (a customer without an order has no recency
        and is set aside by 04, as for transactions).

    Returns
    -------
    cleaned : pandas.DataFrame
        One row per customer id, sorted by id, with ``age`` (`add_age`) when a birth date
        or year is mapped.
    log : pandas.DataFrame
        rule, action, rows, revenue (monetary of the rows, when mapped), customers,
        description; ``impossible_values`` and ``missing_feature_values`` count values set
        or filled, and name the columns in the description.

    Examples
    --------
    >>> t = pd.DataFrame({"customer_id": ["a", "a", "b", None, "c"], "birth_year": [1980.0, 1980.0, 1850.0, 1990.0, None]})
    >>> cleaned, log = clean_customer_table(t, pd.Timestamp("2024-01-01"))
    >>> cleaned["birth_year"].tolist(), cleaned["age"].tolist(), log.set_index("rule")["rows"].tolist()
    ([1980.0, nan, nan], [44.0, nan, nan], [1, 1, 0, 1, 0])
    """
    table, log = _drop_rows(table)
    masks = _impossible_masks(table, analysis_date)
    any_bad = pd.Series(False, index=table.index)
    for field, mask in masks.items():
        table.loc[mask, field] = pd.NaT if field in DATE_FIELDS else np.nan
        any_bad |= mask
    detail = ", ".join(f"{f} {int(m.sum()):,}" for f, m in masks.items() if m.any())
    log.append(_log_row(_rule("impossible_values"), int(sum(int(m.sum()) for m in masks.values())),
                        int(any_bad.sum()), table, any_bad, detail))
    table = add_age(table, analysis_date)  # after the impossible birth dates are gone, before the fill
    filled, detail_parts = pd.Series(False, index=table.index), []
    for feature in [f for f in features if f in table and f not in RFM_FIELDS and not is_categorical(table[f])]:
        gaps = table[feature].isna()
        if gaps.any() and table[feature].notna().any():
            median = float(table[feature].median())
            table[feature] = table[feature].fillna(median)
            filled |= gaps
            detail_parts.append(f"{feature} {int(gaps.sum()):,} with {median:g}")
    log.append(_log_row(_rule("missing_feature_values"), sum(int(p.split()[1].replace(",", "")) for p in detail_parts),
                        int(filled.sum()), table, filled, ", ".join(detail_parts)))
    cleaned = table.sort_values("customer_id", kind="mergesort").reset_index(drop=True)
    return cleaned, pd.DataFrame(log)


def missing_values(table: pd.DataFrame) -> pd.DataFrame:
    """Count missing values per column (only columns with at least one), most first.

    Examples
    --------
    >>> missing_values(pd.DataFrame({"a": [1, None], "b": [1, 2]})).to_dict("records")
    [{'column': 'a', 'missing': 1, 'share': 0.5}]
    """
    counts = table.isna().sum()
    counts = counts[counts > 0].sort_values(ascending=False, kind="mergesort")
    return pd.DataFrame({"column": counts.index, "missing": counts.to_numpy(dtype="int64"),
                         "share": counts.to_numpy() / max(len(table), 1)})


def default_analysis_date(table: pd.DataFrame, given: pd.Timestamp | None, today: pd.Timestamp) -> pd.Timestamp:
    """Return the date ages are measured at: the given one, else the day after the latest signup, else today.

    Examples
    --------
    >>> t = pd.DataFrame({"signup_date": pd.to_datetime(["2020-01-01", "2021-06-30"])})
    >>> str(default_analysis_date(t, None, pd.Timestamp("2026-01-01")).date())
    '2021-07-01'
    """
    if given is not None:
        return given
    if "signup_date" in table and table["signup_date"].notna().any():
        return pd.Timestamp(table["signup_date"].max()).normalize() + pd.Timedelta(days=1)
    return today.normalize()


def customer_facts(table: pd.DataFrame, source: Mapping[str, Any], log: pd.DataFrame,
                   analysis_date: pd.Timestamp) -> dict[str, Any]:
    """The facts later steps read (catalog ``facts``) for a customer-level run."""
    return {
        "level": "customers",
        "raw_rows": int(source["rows"]),
        "removed_rows": int(log.loc[log["action"] == "drop", "rows"].sum()),
        "kept_rows": len(table),
        "rows": len(table),
        "customers": int(table["customer_id"].nunique()),
        "analysis_date": f"{analysis_date:%Y-%m-%d}",
        "rfm_fields": [f for f in RFM_FIELDS if f in table],
        "net_revenue": float(table["monetary"].sum()) if "monetary" in table else None,
    }


def add_age(table: pd.DataFrame, analysis_date: pd.Timestamp) -> pd.DataFrame:
    """Add ``age`` (whole years at the analysis date) from birth_date or birth_year when not mapped.

    Examples
    --------
    >>> add_age(pd.DataFrame({"birth_year": [1990.0, None]}), pd.Timestamp("2024-05-01"))["age"].tolist()
    [34.0, nan]
    """
    if "age" in table:
        return table
    if "birth_date" in table:
        born = pd.to_datetime(table["birth_date"])
        years = analysis_date.year - born.dt.year
        before_birthday = (born.dt.month > analysis_date.month) | (
            (born.dt.month == analysis_date.month) & (born.dt.day > analysis_date.day))
        return table.assign(age=(years - before_birthday.astype(int)).astype("float64"))
    if "birth_year" in table:
        return table.assign(age=(analysis_date.year - table["birth_year"]).astype("float64"))
    return table


def missing_rfm_fields(table: pd.DataFrame) -> list[str]:
    """Return the RFM fields a customer table does not map (empty: RFM can be scored).

    Examples
    --------
    >>> missing_rfm_fields(pd.DataFrame(columns=["customer_id", "monetary"]))
    ['recency_days', 'frequency']
    """
    return [f for f in RFM_FIELDS if f not in table.columns]


def rfm_from_columns(table: pd.DataFrame, analysis_date: pd.Timestamp) -> pd.DataFrame:
    """Build 03_rfm's metric columns from a customer table's mapped recency, frequency and monetary.

    Nothing is invented: the three metrics are taken as exported; the average order value
    is monetary / frequency (in cents, NaN without an order); tenure counts days from the
    signup date when one is mapped; the last order date is the analysis date minus recency;
    values a customer table cannot tell (first order date, days between orders) are missing.

    Parameters
    ----------
    table : pandas.DataFrame
        Cleaned customer table with recency_days, frequency, monetary (`missing_rfm_fields` empty).
    analysis_date : pandas.Timestamp

    Returns
    -------
    pandas.DataFrame
        `helpers.catalog.METRIC_COLUMNS`, one row per customer, sorted by id.

    Examples
    --------
    >>> t = pd.DataFrame({"customer_id": ["a"], "recency_days": [10.0], "frequency": [4.0], "monetary": [100.0]})
    >>> m = rfm_from_columns(t, pd.Timestamp("2024-01-11"))
    >>> int(m["frequency"].iloc[0]), float(m["avg_order_value"].iloc[0]), str(m["last_order_date"].iloc[0].date())
    (4, 25.0, '2024-01-01')
    """
    from helpers.catalog import METRIC_COLUMNS

    frequency = table["frequency"].round().astype("int64")
    monetary = table["monetary"].astype("float64").round(2)
    has_order = frequency > 0
    signup = pd.to_datetime(table["signup_date"]) if "signup_date" in table else pd.Series(pd.NaT, index=table.index)
    metrics = pd.DataFrame({
        "customer_id": table["customer_id"].astype(str),
        "recency_days": table["recency_days"].astype("float64").where(has_order),
        "frequency": frequency,
        "monetary": monetary,
        "tenure_days": ((analysis_date - signup).dt.days.astype("float64")).where(has_order),
        "avg_order_value": (monetary / frequency.where(has_order)).round(2),
        "avg_days_between_orders": np.nan,
        "first_order_date": pd.NaT,
        "last_order_date": (analysis_date - pd.to_timedelta(table["recency_days"], unit="D")).where(has_order),
        "purchase_invoices": frequency,
        "cancelled_orders": 0,
    })
    return metrics.loc[:, list(METRIC_COLUMNS)].sort_values("customer_id", kind="mergesort").reset_index(drop=True)


def is_categorical(values: pd.Series) -> bool:
    """True for a text, category or yes/no column (profiled by level shares, not medians)."""
    return not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)


def column_summary(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Summarise every column but the id: numbers by spread, categories by levels.

    Returns
    -------
    numbers : pandas.DataFrame
        column, values (non-missing), missing, min, p25, median, p75, max.
    categories : pandas.DataFrame
        column, values, missing, levels, most_common, most_common_share (of non-missing).

    Examples
    --------
    >>> n, c = column_summary(pd.DataFrame({"customer_id": ["a", "b", "c"], "x": [1.0, 2.0, None],
    ...                                     "g": ["F", "F", "M"]}))
    >>> n[["column", "values", "missing", "median"]].to_dict("records")
    [{'column': 'x', 'values': 2, 'missing': 1, 'median': 1.5}]
    >>> c[["column", "levels", "most_common", "most_common_share"]].round(3).to_dict("records")
    [{'column': 'g', 'levels': 2, 'most_common': 'F', 'most_common_share': 0.667}]
    """
    numbers, categories = [], []
    for column in [c for c in table.columns if c != "customer_id"]:
        values = table[column]
        present = values.dropna()
        base = {"column": column, "values": int(present.size), "missing": int(values.isna().sum())}
        if pd.api.types.is_datetime64_any_dtype(values):
            continue
        if is_categorical(values):
            counts = present.astype(str).value_counts(sort=False).sort_index()
            top = counts.idxmax() if len(counts) else None
            categories.append({**base, "levels": int(len(counts)), "most_common": top,
                               "most_common_share": float(counts.max() / present.size) if len(counts) else np.nan})
        else:
            q = present.astype(float).quantile([0.25, 0.5, 0.75]) if len(present) else pd.Series([np.nan] * 3)
            numbers.append({**base, "min": float(present.min()) if len(present) else np.nan, "p25": float(q.iloc[0]),
                            "median": float(q.iloc[1]), "p75": float(q.iloc[2]),
                            "max": float(present.max()) if len(present) else np.nan})
    number_cols = ["column", "values", "missing", "min", "p25", "median", "p75", "max"]
    category_cols = ["column", "values", "missing", "levels", "most_common", "most_common_share"]
    return pd.DataFrame(numbers, columns=number_cols), pd.DataFrame(categories, columns=category_cols)

