"""Optional customer demographics and web sessions: load, validate, turn into features.

Both inputs are optional (``customers_input.path`` / ``sessions_input.path`` null = off).
Each has its own column mapping, validated like the transactions (a missing column or a
mostly unparseable one stops with a line naming the file, column and key). The caller
hands in the DuckDB connection (`helpers.engine.connect`); each table is read through the
view ``source`` (`helpers.readers.register_source`), dropped again once read. Charts and
report lines are in `helpers.traits_plots`.

Join rules (documented in the README):

- The customer base is the customers of the cleaned transactions. Traits are left-joined
  onto it; customers who appear only in the demographics or sessions table (visitors who
  never ordered) are counted and reported, but not segmented.
- A customer with orders but no sessions gets ``sessions = 0``, ``has_sessions = False``,
  zero engagement (sessions per active month, pages per session, session duration,
  click-through rate, converted-session share) and ``days_since_last_visit`` equal to the
  length of the data window, so every customer has a value and clustering can use them.
- Sessions on or after the analysis date are ignored, like transactions.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from helpers.engine import quote_identifier
from helpers.errors import UserError
from helpers.io import _date, _identifier  # the transactions' id and timestamp rules
from helpers.readers import register_source

DEMOGRAPHIC_FIELDS = ("customer_id", "birth_date", "age", "gender", "country", "region", "city", "signup_date")
SESSION_FIELDS = (
    "customer_id", "session_start", "pages_viewed", "duration_s", "clicks", "product_views", "converted",
)
AGE_BANDS = (0, 25, 35, 45, 55, 65, 200)
AGE_LABELS = ("<25", "25-34", "35-44", "45-54", "55-64", "65+")
ENGAGEMENT_FEATURES = (
    "sessions", "sessions_per_active_month", "pages_per_session", "mean_session_duration_s",
    "click_through_rate", "converted_session_share", "session_to_order_conversion", "days_since_last_visit",
)
# Session columns a customer without sessions gets as 0 (days_since_last_visit: the window).
_ZERO_ENGAGEMENT = ("sessions", "sessions_per_active_month", "pages_per_session", "mean_session_duration_s",
                    "click_through_rate", "converted_session_share")
_UNPARSED_SHARE = 0.01  # more unparseable non-empty values than this stops the run

# Templates over the view ``source``; {placeholders} are expressions built from quoted
# identifiers, values go in as query parameters ($as_of).
_PARSED_SQL = """
    SELECT count(*) FILTER (WHERE r IS NOT NULL), count(*) FILTER (WHERE r IS NOT NULL AND p IS NULL),
           any_value(r) FILTER (WHERE r IS NOT NULL AND p IS NULL)
    FROM (SELECT NULLIF(trim(CAST({raw} AS VARCHAR)), '') AS r, {parsed} AS p FROM source)
"""
_DEMOGRAPHICS_SQL = """
    SELECT * FROM (SELECT {select}, row_number() OVER () AS _row FROM source)
    WHERE customer_id IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY _row) = 1
    ORDER BY customer_id
"""
_SESSIONS_SQL = """
    WITH s AS (
        SELECT {customer_id} AS customer_id, {started} AS started,
               {pages} AS pages, {duration} AS duration,
               {clicks} AS clicks, {views} AS views, {converted} AS converted
        FROM source)
    SELECT customer_id,
           count(*) AS sessions,
           count(DISTINCT date_trunc('month', started)) AS active_months,
           avg(pages) AS pages_per_session,
           avg(duration) AS mean_session_duration_s,
           sum(clicks) / NULLIF(sum(views), 0) AS click_through_rate,
           avg(converted) AS converted_session_share,
           max(started) AS last_visit
    FROM s
    WHERE customer_id IS NOT NULL AND started IS NOT NULL AND started < $as_of
    GROUP BY customer_id ORDER BY customer_id
"""
_DROP_SOURCE_SQL = "DROP VIEW IF EXISTS source"


def _source_params(path: str, csv: Mapping[str, Any]) -> dict[str, Any]:
    return {"path": path, "format": "auto", "csv": dict(csv), "excel": {"sheet": 0, "header_row": 1}}


@contextmanager
def _source(con: duckdb.DuckDBPyConnection, path: str, csv: Mapping[str, Any], key: str) -> Iterator[list[str]]:
    """Register the table at `path` as the view ``source``; yield its columns; drop it after."""
    if not Path(path).is_file():
        raise UserError(f"{path}: file not found (key {key}.path); fix: point {key}.path at the file or set it to null")
    try:
        yield register_source(con, _source_params(path, csv))
    finally:
        con.execute(_DROP_SOURCE_SQL)
        con.unregister("source_frame")  # an Excel table's frame; a no-op otherwise


def _check_columns(path: str, columns: list[str], mapping: Mapping[str, str | None], key: str) -> None:
    for field, column in mapping.items():
        if column and column not in columns:
            raise UserError(
                f"{path}: column '{column}' (mapped to {field}) not found; fix: set {key}.columns.{field} "
                f"(available: {', '.join(columns[:15])})"
            )


def _id(column: str) -> str:
    """Customer id as in the transactions: integral numbers lose ".0", "A.0" stays (`helpers.io`)."""
    return _identifier(quote_identifier(column), "VARCHAR")


def _cast(column: str | None, sql_type: str) -> str:
    """``TRY_CAST`` of a mapped column, or a typed NULL when the field is not mapped."""
    return f"TRY_CAST({quote_identifier(column)} AS {sql_type})" if column else f"CAST(NULL AS {sql_type})"


def _parsed(con: duckdb.DuckDBPyConnection, path: str, expr: str, column: str, key: str, what: str) -> None:
    """Stop when more than 1% of the non-empty values of `column` do not parse as `expr`."""
    sql = _PARSED_SQL.format(raw=quote_identifier(column), parsed=expr)
    filled, bad, example = con.execute(sql).fetchall()[0]
    if filled and bad / filled > _UNPARSED_SHARE:
        raise UserError(
            f"{path}: column '{column}': {bad:,} of {filled:,} values are not {what}, e.g. {str(example)[:30]!r}; "
            f"fix: check {key}.columns"
        )


def _demographic_exprs(con: duckdb.DuckDBPyConnection, path: str, mapping: Mapping[str, str | None]) -> dict[str, str]:
    """Return field -> SQL expression of the demographics, after checking dates and ages parse."""
    exprs = {"customer_id": _id(mapping["customer_id"])}
    for field in ("birth_date", "signup_date"):
        col = mapping[field]
        exprs[field] = f"TRY_CAST(TRY_CAST({quote_identifier(col)} AS VARCHAR) AS DATE)" if col else "CAST(NULL AS DATE)"
        if col:
            _parsed(con, path, exprs[field], col, "customers_input", "dates (YYYY-MM-DD)")
    exprs["age"] = _cast(mapping["age"], "DOUBLE")
    if mapping["age"]:
        _parsed(con, path, exprs["age"], mapping["age"], "customers_input", "numbers")
    for field in ("gender", "country", "region", "city"):
        col = mapping[field]
        exprs[field] = f"NULLIF(trim(CAST({quote_identifier(col)} AS VARCHAR)), '')" if col else "CAST(NULL AS VARCHAR)"
    return exprs


def load_demographics(
    con: duckdb.DuckDBPyConnection, block: Mapping[str, Any], csv: Mapping[str, Any]
) -> pd.DataFrame | None:
    """Read the optional customer table into canonical columns (None when not configured).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Connection that reads the table (its view ``source`` is replaced, then dropped).
    block : mapping
        ``customers_input`` params: ``path`` and ``columns`` (field -> source column).
    csv : mapping
        CSV reading options (``input.csv``), used when the file is a CSV.

    Returns
    -------
    pandas.DataFrame or None
        customer_id (text), birth_date, age, gender, country, region, city, signup_date;
        one row per customer (the first row wins when an id repeats).
    """
    path = block.get("path")
    if not path:
        return None
    mapping = {f: block["columns"].get(f) for f in DEMOGRAPHIC_FIELDS}
    if not mapping["customer_id"]:
        raise UserError("params: customers_input.columns.customer_id is empty; fix: name the id column")
    with _source(con, path, csv, "customers_input") as columns:
        _check_columns(path, columns, mapping, "customers_input")
        exprs = _demographic_exprs(con, path, mapping)
        select = ", ".join(f"{e} AS {f}" for f, e in exprs.items())
        frame = con.execute(_DEMOGRAPHICS_SQL.format(select=select)).df()
    return frame.drop(columns="_row")


def demographic_features(demographics: pd.DataFrame, analysis_date: pd.Timestamp) -> pd.DataFrame:
    """Derive age, age band and tenure since sign-up per customer.

    Age comes from the birth date (whole years at the analysis date) or, without one, from
    the age column. Tenure since sign-up is in days to the analysis date.

    Examples
    --------
    >>> demo = pd.DataFrame({"customer_id": ["a"], "birth_date": [pd.Timestamp("1980-06-30")],
    ...     "age": [np.nan], "gender": ["F"], "country": ["UK"], "region": [None], "city": ["Leeds"],
    ...     "signup_date": [pd.Timestamp("2011-01-01")]})
    >>> row = demographic_features(demo, pd.Timestamp("2011-06-30")).iloc[0]
    >>> int(row["age"]), row["age_band"], int(row["signup_tenure_days"])
    (31, '25-34', 180)
    """
    out = demographics[["customer_id"]].copy()
    as_of = pd.Timestamp(analysis_date)
    birth = pd.to_datetime(demographics["birth_date"])
    before_birthday = (birth.dt.month > as_of.month) | ((birth.dt.month == as_of.month) & (birth.dt.day > as_of.day))
    age_from_birth = as_of.year - birth.dt.year - before_birthday.astype(int)
    age = age_from_birth.where(birth.notna(), pd.to_numeric(demographics["age"], errors="coerce"))
    out["age"] = age.astype("float64")
    out["age_band"] = pd.cut(out["age"], bins=list(AGE_BANDS), labels=list(AGE_LABELS), right=False).astype("string")
    for field in ("gender", "country", "region", "city"):
        if demographics[field].notna().any():
            out[field if field != "country" else "home_country"] = demographics[field].astype("string")
    signup = pd.to_datetime(demographics["signup_date"])
    out["signup_tenure_days"] = (as_of.normalize() - signup).dt.days.astype("float64")
    return out.reset_index(drop=True)


def _session_sql(con: duckdb.DuckDBPyConnection, path: str, mapping: Mapping[str, str | None]) -> str:
    """Return the per-customer session query, after checking the start times parse."""
    start = _date(quote_identifier(mapping["session_start"]), "VARCHAR", "auto")  # offsets to UTC, as in io
    _parsed(con, path, start, mapping["session_start"], "sessions_input", "timestamps")
    converted = mapping["converted"]
    return _SESSIONS_SQL.format(
        customer_id=_id(mapping["customer_id"]),
        started=start,
        pages=_cast(mapping["pages_viewed"], "DOUBLE"),
        duration=_cast(mapping["duration_s"], "DOUBLE"),
        clicks=_cast(mapping["clicks"], "DOUBLE"),
        views=_cast(mapping["product_views"], "DOUBLE"),
        converted=f"CAST({_cast(converted, 'BOOLEAN')} AS DOUBLE)" if converted else "CAST(NULL AS DOUBLE)",
    )


def session_features(
    con: duckdb.DuckDBPyConnection, block: Mapping[str, Any], csv: Mapping[str, Any], analysis_date: pd.Timestamp
) -> pd.DataFrame | None:
    """Aggregate the optional web sessions per customer in DuckDB (None when not configured).

    Per customer, over sessions before the analysis date: ``sessions``, ``active_months``
    (distinct calendar months with a session), ``sessions_per_active_month``,
    ``pages_per_session`` (mean pages viewed), ``mean_session_duration_s``,
    ``click_through_rate`` (clicks / product views; NaN without views),
    ``converted_session_share`` (share of sessions flagged converted) and
    ``days_since_last_visit`` (calendar days to the analysis date).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Connection that reads the table (its view ``source`` is replaced, then dropped).
    block : mapping
        ``sessions_input`` params: ``path`` and ``columns`` (field -> source column).
    csv : mapping
        CSV reading options (``input.csv``).
    analysis_date : pandas.Timestamp
        Sessions on or after it are ignored.
    """
    path = block.get("path")
    if not path:
        return None
    mapping = {f: block["columns"].get(f) for f in SESSION_FIELDS}
    for required in ("customer_id", "session_start"):
        if not mapping[required]:
            raise UserError(f"params: sessions_input.columns.{required} is empty; fix: name that column")
    with _source(con, path, csv, "sessions_input") as columns:
        _check_columns(path, columns, mapping, "sessions_input")
        sql = _session_sql(con, path, mapping)
        frame = con.execute(sql, {"as_of": pd.Timestamp(analysis_date).to_pydatetime()}).df()
    frame["sessions_per_active_month"] = frame["sessions"] / frame["active_months"]
    days = (pd.Timestamp(analysis_date).normalize() - pd.to_datetime(frame["last_visit"]).dt.normalize()).dt.days
    frame["days_since_last_visit"] = days.astype("float64")
    return frame.drop(columns="last_visit")


def join_traits(
    customers: pd.DataFrame,
    demographics: pd.DataFrame | None,
    sessions: pd.DataFrame | None,
    window_days: float,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Left-join demographic and engagement features onto the transaction customers.

    Parameters
    ----------
    customers : pandas.DataFrame
        One row per customer of the cleaned transactions, with ``customer_id`` and
        ``orders`` (purchase orders).
    demographics : pandas.DataFrame or None
        Output of `demographic_features`.
    sessions : pandas.DataFrame or None
        Output of `session_features`.
    window_days : float
        Length of the data window; ``days_since_last_visit`` of customers without a session.

    Returns
    -------
    (pandas.DataFrame, dict)
        The customers with the extra columns (same rows, same order), and the join counts:
        ``with_demographics``, ``demographics_only`` (ids never in the transactions),
        ``with_sessions``, ``sessions_only``.
    """
    out = customers.copy()
    ids = set(out["customer_id"])
    counts: dict[str, int] = {}
    if demographics is not None:
        counts["with_demographics"] = int(demographics["customer_id"].isin(ids).sum())
        counts["demographics_only"] = int((~demographics["customer_id"].isin(ids)).sum())
        out = out.merge(demographics, on="customer_id", how="left", validate="one_to_one")
    if sessions is not None:
        counts["with_sessions"] = int(sessions["customer_id"].isin(ids).sum())
        counts["sessions_only"] = int((~sessions["customer_id"].isin(ids)).sum())
        out = out.merge(sessions.drop(columns="active_months"), on="customer_id", how="left", validate="one_to_one")
        out["has_sessions"] = out["sessions"].notna()
        zero = list(_ZERO_ENGAGEMENT)
        out[zero] = out[zero].fillna(0.0)
        out["days_since_last_visit"] = out["days_since_last_visit"].fillna(float(window_days))
        orders = out["orders"].astype("float64")
        out["session_to_order_conversion"] = np.where(out["sessions"] > 0, orders / out["sessions"].where(out["sessions"] > 0), 0.0)
    return out, counts
