"""Optional customer demographics and web sessions: load, validate, turn into features.

Both inputs are optional (``customers_input.path`` / ``sessions_input.path`` null = off).
Each has its own reading options (``<table>.csv``, the keys of ``input.csv``, not inherited
from it; ``<table>.date_format`` for its dates) and column mapping, validated like the
transactions (a missing column or a mostly unparseable one stops with a line naming the
file, the column, the table's own key and the fix). The caller hands in the DuckDB
connection (`helpers.engine.connect`); each table is read through the view ``source``
(`helpers.readers.register_source`), dropped again once read. `check_demographics` and
`check_sessions` run the same checks without loading, before any step
(`helpers.preflight`). Charts and report lines are in `helpers.traits_plots`.

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

import datetime
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from helpers.engine import local_connection, quote_identifier
from helpers.errors import UserError
from helpers.io import _check_mapping
from helpers.matching import is_in
from helpers.readers import detect_format, register_source
from helpers.sql_values import date as _date
from helpers.sql_values import identifier as _identifier
from helpers.sql_values import number as _number

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
_SESSION_NUMBERS = ("pages_viewed", "duration_s", "clicks", "product_views")
# Kinds of values checked: what a bad value is not, and the fix ({key}: the table's params section).
_VALUE_KINDS: dict[str, tuple[str, str]] = {
    "date": ("dates", "set {key}.date_format to the file's format, e.g. {formats} (now {date_format!r})"),
    "timestamp": ("timestamps", "set {key}.date_format to the file's format, e.g. {formats} (now {date_format!r})"),
    "number": ("numbers", "check that {key}.columns.{field} names a numeric column, and {key}.csv.decimal"),
}
# Date formats suggested for a value that does not parse, day first before month first.
_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y", "%d-%m-%Y", "%m-%d-%Y", "%d.%m.%Y", "%Y/%m/%d", "%Y%m%d",
                 "%d/%m/%y", "%m/%d/%y")
_TIME_FORMATS = ("", " %H:%M", " %H:%M:%S", "T%H:%M:%S")

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
_TYPES_SQL = "SELECT column_name, column_type FROM (DESCRIBE source)"


@dataclass(frozen=True)
class _Table:
    """An optional table registered as the view ``source``: where it is and how to read its values."""

    path: str
    key: str  # its params section: customers_input or sessions_input
    mapping: dict[str, str | None]  # canonical field -> source column
    types: dict[str, str]  # source column -> DuckDB type
    decimal: str  # <key>.csv.decimal
    date_format: str  # <key>.date_format

    def column(self, field: str) -> str:
        """Return the quoted source column of a mapped `field`."""
        return quote_identifier(self.mapping[field])


def _source_params(path: str, csv: Mapping[str, Any]) -> dict[str, Any]:
    return {"path": path, "format": "auto", "csv": dict(csv), "excel": {"sheet": 0, "header_row": 1}}


@contextmanager
def _opened(
    con: duckdb.DuckDBPyConnection, block: Mapping[str, Any], csv: Mapping[str, Any] | None, key: str,
    fields: tuple[str, ...],
) -> Iterator[_Table]:
    """Register the table of `block` as the view ``source``, check its mapped columns, drop it after.

    The table's own ``csv`` options and ``date_format`` are used; `csv` only stands in for
    a block without them (callers from before they existed).
    """
    path = str(block["path"])
    if not Path(path).is_file():
        raise UserError(f"{path}: file not found (key {key}.path); fix: point {key}.path at the file or set it to null")
    options = block.get("csv") or csv
    if options is None:
        raise ValueError(f"{key} has no csv options; pass the params section as load_params returns it")
    mapping = {f: block["columns"].get(f) for f in fields}
    params = _source_params(path, options)
    try:
        columns = register_source(con, params, key=key)
        _check_mapping(Path(path), columns, mapping, detect_format(Path(path)), key)
        types = dict(con.execute(_TYPES_SQL).fetchall())
        yield _Table(path, key, mapping, types, options.get("decimal", "."), block.get("date_format", "auto"))
    finally:
        con.execute(_DROP_SOURCE_SQL)
        con.unregister("source_frame")  # an Excel table's frame; a no-op otherwise


def _id(column: str) -> str:
    """Customer id as in the transactions: integral numbers lose ".0", "A.0" stays (`helpers.io`)."""
    return _identifier(quote_identifier(column), "VARCHAR")


def date_format_examples(value: str) -> list[str]:
    """Return up to two strptime formats of `_DATE_FORMATS` that read `value` (day first before month first).

    Examples
    --------
    >>> date_format_examples("04-09-2012")
    ['%d-%m-%Y', '%m-%d-%Y']
    """
    found = []
    for fmt in (f"{date}{time}" for date in _DATE_FORMATS for time in _TIME_FORMATS):
        try:
            datetime.datetime.strptime(value.strip(), fmt)
        except ValueError:
            continue
        found.append(fmt)
    return found[:2]


def _parsed(con: duckdb.DuckDBPyConnection, table: _Table, field: str, expr: str, kind: str) -> None:
    """Stop when more than 1% of the non-empty values of `field` do not parse as `expr` (a `_VALUE_KINDS` kind)."""
    sql = _PARSED_SQL.format(raw=table.column(field), parsed=expr)
    filled, bad, example = con.execute(sql).fetchall()[0]
    if filled and bad / filled > _UNPARSED_SHARE:
        what, fix = _VALUE_KINDS[kind]
        formats = " or ".join(f'"{f}"' for f in date_format_examples(str(example))) or '"%d/%m/%Y" or "%Y%m%d"'
        fix = fix.format(key=table.key, field=field, formats=formats, date_format=table.date_format)
        raise UserError(
            f"{table.path}: column '{table.mapping[field]}' ({table.key}.columns.{field}): {bad:,} of {filled:,} "
            f"values are not {what}, e.g. {str(example)[:30]!r}; fix: {fix}"
        )


def _number_of(table: _Table, field: str) -> str:
    """A mapped number column in the table's decimal convention (`helpers.io`), or a typed NULL."""
    if not table.mapping[field]:
        return "CAST(NULL AS DOUBLE)"
    return _number(table.column(field), table.decimal, table.types[table.mapping[field]])


def _date_of(table: _Table, field: str) -> str:
    """A mapped date column read with the table's date format (`helpers.io`): a timestamp without zone."""
    return _date(table.column(field), table.types[table.mapping[field]], table.date_format)


def _demographic_exprs(con: duckdb.DuckDBPyConnection, table: _Table) -> dict[str, str]:
    """Return field -> SQL expression of the demographics, after checking dates and ages parse."""
    exprs = {"customer_id": _id(table.mapping["customer_id"])}
    for field in ("birth_date", "signup_date"):
        exprs[field] = f"CAST({_date_of(table, field)} AS DATE)" if table.mapping[field] else "CAST(NULL AS DATE)"
        if table.mapping[field]:
            _parsed(con, table, field, exprs[field], "date")
    exprs["age"] = _number_of(table, "age")
    if table.mapping["age"]:
        _parsed(con, table, "age", exprs["age"], "number")
    for field in ("gender", "country", "region", "city"):
        exprs[field] = f"NULLIF(trim(CAST({table.column(field)} AS VARCHAR)), '')" if table.mapping[field] else "CAST(NULL AS VARCHAR)"
    return exprs


def check_demographics(con: duckdb.DuckDBPyConnection, block: Mapping[str, Any]) -> None:
    """Check the optional customer table as `load_demographics` reads it, without loading it.

    For `helpers.preflight`: the file opens, the mapped columns exist and their dates and
    ages parse (all rows: one count per column); the same one-line errors as loading.
    """
    if block.get("path"):
        with _opened(con, block, None, "customers_input", DEMOGRAPHIC_FIELDS) as table:
            _demographic_exprs(con, table)


def load_demographics(
    con: duckdb.DuckDBPyConnection, block: Mapping[str, Any], csv: Mapping[str, Any] | None = None
) -> pd.DataFrame | None:
    """Read the optional customer table into canonical columns (None when not configured).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Connection that reads the table (its view ``source`` is replaced, then dropped).
    block : mapping
        ``customers_input`` params: ``path``, ``csv`` (reading options), ``date_format``
        (birth and sign-up dates) and ``columns`` (field -> source column).
    csv : mapping, optional
        CSV options for a `block` without its own ``csv`` (older callers passed ``input.csv``);
        ignored when the block has them.

    Returns
    -------
    pandas.DataFrame or None
        customer_id (text), birth_date, age, gender, country, region, city, signup_date;
        one row per customer (the first row wins when an id repeats).
    """
    if not block.get("path"):
        return None
    if not block["columns"].get("customer_id"):
        raise UserError("params: customers_input.columns.customer_id is empty; fix: name the id column")
    con = local_connection(con)  # a file on this machine: DuckDB reads it on either engine
    with _opened(con, block, csv, "customers_input", DEMOGRAPHIC_FIELDS) as table:
        exprs = _demographic_exprs(con, table)
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


def _session_sql(con: duckdb.DuckDBPyConnection, table: _Table) -> str:
    """Return the per-customer session query, after checking start times and numbers parse."""
    start = _date_of(table, "session_start")  # offsets to UTC, as in io
    _parsed(con, table, "session_start", start, "timestamp")
    numbers = {field: _number_of(table, field) for field in _SESSION_NUMBERS}
    for field, expr in numbers.items():
        if table.mapping[field]:
            _parsed(con, table, field, expr, "number")
    converted = table.mapping["converted"]
    return _SESSIONS_SQL.format(
        customer_id=_id(table.mapping["customer_id"]),
        started=start,
        pages=numbers["pages_viewed"],
        duration=numbers["duration_s"],
        clicks=numbers["clicks"],
        views=numbers["product_views"],
        converted=f"CAST(TRY_CAST({table.column('converted')} AS BOOLEAN) AS DOUBLE)" if converted
        else "CAST(NULL AS DOUBLE)",
    )


def _required_session_columns(block: Mapping[str, Any]) -> None:
    for required in ("customer_id", "session_start"):
        if not block["columns"].get(required):
            raise UserError(f"params: sessions_input.columns.{required} is empty; fix: name that column")


def check_sessions(con: duckdb.DuckDBPyConnection, block: Mapping[str, Any]) -> None:
    """Check the optional sessions table as `session_features` reads it, without aggregating it.

    For `helpers.preflight`: the file opens, the mapped columns exist, start times and
    numbers parse (all rows); the same one-line errors as `session_features`.
    """
    if block.get("path"):
        _required_session_columns(block)
        with _opened(con, block, None, "sessions_input", SESSION_FIELDS) as table:
            _session_sql(con, table)


def session_features(
    con: duckdb.DuckDBPyConnection, block: Mapping[str, Any], csv: Mapping[str, Any] | None,
    analysis_date: pd.Timestamp,
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
        ``sessions_input`` params: ``path``, ``csv`` (reading options), ``date_format``
        (session start) and ``columns`` (field -> source column).
    csv : mapping or None
        CSV options for a `block` without its own ``csv`` (older callers passed
        ``input.csv``); ignored when the block has them.
    analysis_date : pandas.Timestamp
        Sessions on or after it are ignored.
    """
    if not block.get("path"):
        return None
    _required_session_columns(block)
    con = local_connection(con)  # a file on this machine: DuckDB reads it on either engine
    with _opened(con, block, csv, "sessions_input", SESSION_FIELDS) as table:
        sql = _session_sql(con, table)
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
    ids = out["customer_id"]
    counts: dict[str, int] = {}
    if demographics is not None:
        known = int(is_in(demographics["customer_id"], ids).sum())
        counts["with_demographics"], counts["demographics_only"] = known, len(demographics) - known
        out = out.merge(demographics, on="customer_id", how="left", validate="one_to_one")
    if sessions is not None:
        known = int(is_in(sessions["customer_id"], ids).sum())
        counts["with_sessions"], counts["sessions_only"] = known, len(sessions) - known
        out = out.merge(sessions.drop(columns="active_months"), on="customer_id", how="left", validate="one_to_one")
        out["has_sessions"] = out["sessions"].notna()
        zero = list(_ZERO_ENGAGEMENT)
        out[zero] = out[zero].fillna(0.0)
        out["days_since_last_visit"] = out["days_since_last_visit"].fillna(float(window_days))
        orders = out["orders"].astype("float64")
        out["session_to_order_conversion"] = np.where(out["sessions"] > 0, orders / out["sessions"].where(out["sessions"] > 0), 0.0)
    return out, counts
