"""Load a shop's transaction export into canonical, typed columns with DuckDB.

Any export (CSV, Excel, Parquet) with any column names becomes one table with the
canonical fields of `helpers.config.CANONICAL_FIELDS`. `helpers.readers` registers the
file as the view ``source`` (streaming for CSV and Parquet); this module types its
columns and stages them.

The export is read once: one streaming statement writes the typed canonical rows to a
*staging* table (`STAGED_LINES`) in the DuckDB database file of the connection's work
folder (`helpers.engine.work_dir`), and ``canonical`` is a view over it. Nothing holds all
rows in memory, so 100M-line exports load on a laptop: the caller's connection
(`helpers.engine.connect`) caps DuckDB's memory, and what does not fit goes to the work
folder. ``row_id`` is the record number in the export: 1 for the first data record,
header and skipped lines not counted, a quoted field that spans lines counted once (the
staged table keeps insertion order). A DuckDB table rather than a Parquet file because it
is written about 1.5x faster and can take an extra column later (`mark_lines`), which lets
01_clean flag lines without a join: joins do not keep row order, and outputs must be in
input order. `write_cleaned` writes 01_clean's kept lines out the same way, streaming.

How values are read (each case ends in a documented handling or a one-line `UserError`;
reading the file itself, CSV quoting and Excel header rows: `helpers.readers`):

- Numbers in text follow ``input.csv.decimal``. With ``","`` a dot may only separate
  thousands in groups of three (``1.234,56``, ``1.234.567``, ``12,5``), so ``1.234`` is
  1234; a value such as ``3.50`` does not fit and is unparsed, never rescaled to 350.
- Ids: integral numbers lose a trailing ``.0`` (``17850.0`` -> ``17850``); any other
  value (``A.0``) is kept as it is.
- Timestamps with a UTC offset or zone (``+05:00``, ``-0330``, ``Z``, ``UTC``) are
  converted to UTC; timestamps without one are kept as written. Parquet ``TIMESTAMP WITH
  TIME ZONE`` columns are converted to UTC too. ``invoice_date`` is a timestamp without
  zone, in UTC where the export said which zone it was in. ``input.date_format`` applies to
  text columns; typed date columns (Parquet, Excel) are read as they are.

- No invoice id (``input.columns.invoice_id: null``): orders follow
  ``input.orders_without_id`` (`ORDERS_WITHOUT_ID`, `order_id_sql`): a customer's lines on
  one calendar day form one order and that day's return lines one return (``customer_day``),
  or every line is an order (``row``).

Values that do not parse (text in a number column, a date in another format) are counted.
If more than `MAX_BAD_SHARE` of a column's non-empty values fail, loading stops with a
message that names the file, the column, an example value and the fix; below that, the
rows keep a NULL and 01_clean removes and logs them as ``invalid_values``. Before any step
runs, `check_transactions` applies the same checks to the first rows (`helpers.preflight`).

The canonical expressions are SQL text (`canonical_exprs`, built from `helpers.sql_values`,
which the customer, session and customer-level tables use too), so the export's column names go through
`helpers.engine.quote_identifier` and the few constants in them (the date format, regexes)
through `helpers.engine.quote_literal`; a value that is not part of an expression is a
query parameter.
"""

from __future__ import annotations

import difflib
import os
import shutil
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from helpers.catalog import TRANSACTION_COLUMNS
from helpers.config import CANONICAL_FIELDS
from helpers.database import source_of
from helpers.engine import STAGING_DB, is_duckdb, quote_identifier, quote_literal, work_dir
from helpers.errors import SparkQueryError, UserError
from helpers.params_checks_input import SYNTHETIC_ORDER_PREFIXES
from helpers.readers import (  # detect_format, register_source: also imported from here by others
    DATA_VALUE_PATTERNS,
    QUOTED_NEWLINES,
    csv_error,
    detect_format,  # noqa: F401 - re-exported (tests, older callers)
    duck_reason,
    register_source,
)
from helpers.sql_values import as_text as _text
from helpers.sql_values import date as _date
from helpers.sql_values import identifier as _identifier
from helpers.sql_values import is_number_type as _is_number_type
from helpers.sql_values import number as _number

T = TypeVar("T")
MAX_BAD_SHARE = 0.01
STAGED_LINES = f"{STAGING_DB}.lines"  # the typed canonical rows, in export order
# 01_clean's kept lines, written once to the work folder by `helpers.clean.apply_cleaning`.
CLEANED_FILE = "cleaned.parquet"
_NUMERIC_FIELDS = ("quantity", "unit_price", "amount")
_TEXT_FIELDS = ("product_id", "description", "country")
# Per connection: the columns of ``canonical`` in order, each with the SQL the view computes
# it with, or None when it is staged (`_stage_select`).
_VIEW_COLUMNS: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, dict[str, str | None]] = (
    weakref.WeakKeyDictionary()
)
# Staged columns that are kept out of ``canonical`` (the parse check's raw text).
_UNPARSED_PREFIX = "unparsed_"

# Rows of the export `check_transactions` reads before any step runs (the first ones).
PREFLIGHT_ROWS = 100_000
# Orders of an export without invoice id (input.orders_without_id): what the report says, and
# the id as SQL over the staged canonical columns, computed in the view ``canonical`` ({prefix}:
# `SYNTHETIC_ORDER_PREFIXES`; {is_return}: the sign part of `helpers.clean.return_condition`).
# A line without customer or date (removed by cleaning) keeps a row id.
ORDERS_WITHOUT_ID: dict[str, tuple[str, str]] = {
    "customer_day": (
        "one order per customer and day; that day's return lines one return",
        "CASE WHEN customer_id IS NULL OR invoice_date IS NULL THEN 'row-' || CAST(row_id AS VARCHAR) "
        "ELSE {prefix} || customer_id || '-' || strftime(invoice_date, '%Y-%m-%d') "
        "|| CASE WHEN {is_return} THEN '-return' ELSE '' END END",
    ),
    "row": ("one order per row", "{prefix} || CAST(row_id AS VARCHAR)"),
}

_SOURCE_TYPES_SQL = "SELECT column_name, column_type FROM (DESCRIBE source)"
_STAGE_SQL = f"CREATE OR REPLACE TABLE {STAGED_LINES} AS SELECT {{columns}} FROM source"
_PARSE_COUNTS_SQL = "SELECT {counts} FROM {relation}"
_SAMPLE_SQL = "(SELECT {columns} FROM (SELECT * FROM source LIMIT {rows}))"
_STAGED_COLUMNS_SQL = f"SELECT column_name FROM (DESCRIBE {STAGED_LINES})"
_CANONICAL_VIEW_SQL = f"""CREATE OR REPLACE TEMP VIEW canonical AS
            SELECT row_id, {{columns}}
            FROM (SELECT rowid + 1 AS row_id, *{{computed}} FROM {STAGED_LINES})"""
_ADD_MARK_SQL = f"ALTER TABLE {STAGED_LINES} ADD COLUMN IF NOT EXISTS {{column}} BOOLEAN DEFAULT false"
_RESET_MARK_SQL = f"UPDATE {STAGED_LINES} SET {{column}} = false WHERE {{column}}"
_SET_MARK_SQL = f"UPDATE {STAGED_LINES} SET {{column}} = true WHERE rowid IN (SELECT row_id - 1 FROM {{table}})"
_CLEANED_VIEW_SQL = "SELECT sql FROM duckdb_views() WHERE view_name = 'cleaned' AND temporary"
_CLEANED_COLUMNS_SQL = "SELECT column_name FROM (DESCRIBE cleaned)"
_COPY_CLEANED_SQL = "COPY cleaned TO {path} (FORMAT parquet, COMPRESSION zstd)"


def _check_mapping(
    path: Path, columns: list[str], mapping: Mapping[str, str | None], fmt: str = "csv", key: str = "input"
) -> None:
    """Stop when a mapped column is not in the export, suggesting the closest name.

    A column name that looks like a value (a number or a date) hints at a file without a
    header row: the fix then names ``<key>.csv.header``.
    """
    for field, source_col in mapping.items():
        if source_col and source_col not in columns:
            by_case = [c for c in columns if c.strip().lower() == source_col.strip().lower()]
            close = by_case or difflib.get_close_matches(source_col, columns, n=1)
            hint = f"did you mean '{close[0]}'?" if close else "available: " + ", ".join(columns[:20])
            # pandas names the columns of an empty header cell "Unnamed: n": title rows above the names
            titled = fmt == "excel" and any(c.startswith("Unnamed: ") for c in columns)
            valued = fmt == "csv" and any(p.fullmatch(c.strip()) for c in columns for p in DATA_VALUE_PATTERNS.values())
            also = (", or input.excel.header_row to the row of the column names" if titled else
                    f", or {key}.csv.header: false if the file has no header row" if valued else "")
            raise UserError(
                f"{path}: column '{source_col}' (mapped to {field}) not found; "
                f"fix: set {key}.columns.{field} in your params{also} ({hint})"
            )


def canonical_exprs(
    types: Mapping[str, str], mapping: Mapping[str, str | None], input_params: Mapping[str, Any]
) -> dict[str, str]:
    """Build one SQL expression per canonical field over the export's columns.

    Parameters
    ----------
    types : mapping
        Source column name -> DuckDB type name (from ``DESCRIBE source``).
    mapping : mapping
        Canonical field -> source column name or None (``input.columns``).
    input_params : mapping
        The ``input`` section of the params.

    Returns
    -------
    dict
        Canonical field -> SQL expression. Expressions may use ``row_id``.
    """
    decimal = input_params["csv"]["decimal"]
    cols = {f: quote_identifier(c) for f, c in mapping.items() if c}
    kind = {f: types[c] for f, c in mapping.items() if c}
    exprs: dict[str, str] = {}
    exprs["customer_id"] = _identifier(cols["customer_id"], kind["customer_id"])
    if "invoice_id" in cols:
        exprs["invoice_id"] = _identifier(cols["invoice_id"], kind["invoice_id"])
    else:  # no invoice id: orders by input.orders_without_id
        exprs["invoice_id"] = order_id_sql(input_params.get("orders_without_id", "customer_day"))
    exprs["invoice_date"] = _date(cols["invoice_date"], kind["invoice_date"], input_params["date_format"])
    for field in _TEXT_FIELDS:
        exprs[field] = _text(cols[field]) if field in cols else "CAST(NULL AS VARCHAR)"
    if "product_id" in cols and _is_number_type(kind["product_id"]):
        exprs["product_id"] = _identifier(cols["product_id"], kind["product_id"])
    for field in _NUMERIC_FIELDS:
        exprs[field] = _number(cols[field], decimal, kind[field]) if field in cols else "CAST(NULL AS DOUBLE)"
    if "amount" not in cols:
        exprs["amount"] = f"({exprs['quantity']}) * ({exprs['unit_price']})"
    return exprs


def order_id_sql(mode: str) -> str:
    """Return the order id of a line of an export without invoice ids, as SQL (`ORDERS_WITHOUT_ID`).

    The SQL reads the canonical columns and ``row_id``, so the view ``canonical`` computes
    it. With ``customer_day``, a customer's lines on one calendar day share the id
    ``day-<customer>-<YYYY-MM-DD>`` and that day's return lines (negative quantity, or
    negative amount without quantity: `helpers.clean.return_condition`) share
    ``day-<customer>-<YYYY-MM-DD>-return``, so a return is an invoice of its own, as 03_rfm's
    cancellation matching expects; with ``row``, each line is ``row-<row_id>``.

    Examples
    --------
    >>> order_id_sql("row")
    "'row-' || CAST(row_id AS VARCHAR)"
    """
    from helpers.clean import return_condition  # clean imports this module

    sign_rule = return_condition({"cancellation_prefixes": []})  # prefixes cannot match the ids made here
    template = ORDERS_WITHOUT_ID[mode][1]
    return template.format(prefix=quote_literal(SYNTHETIC_ORDER_PREFIXES[mode]), is_return=sign_rule)


def header_row_condition(mapping: Mapping[str, str | None], types: Mapping[str, str] | None = None) -> str:
    """SQL condition true on a copy of the header row inside the data (concatenated exports).

    With `types` (source column -> DuckDB type), a typed (non-text) column rules the copy
    out, so the condition is ``false`` and costs nothing per row.
    """
    names = [mapping[f] for f in ("customer_id", "invoice_date") if mapping.get(f)]
    if types is not None and any(types.get(n, "VARCHAR") != "VARCHAR" for n in names):
        return "(false)"
    exact = " AND ".join(f"coalesce({_text(quote_identifier(n))} = {quote_literal(n)}, false)" for n in names)
    # A cheap test first, so the date text of every line need not be trimmed (see sql_values.untrimmed_text).
    nearly = f"contains(CAST({quote_identifier(names[-1])} AS VARCHAR), {quote_literal(names[-1])})"
    return f"(CASE WHEN {nearly} THEN {exact} ELSE false END)"


def _parsed_fields(mapping: Mapping[str, str | None], exprs: Mapping[str, str]) -> list[str]:
    """Mapped date and number fields read from text, so parsing can fail (typed columns cannot)."""
    return [f for f in ("invoice_date", *_NUMERIC_FIELDS)
            if mapping.get(f) and ("TRY_CAST" in exprs[f] or "try_strptime" in exprs[f])]


def _unmapped_hash(mapping: Mapping[str, str | None], types: Mapping[str, str]) -> str:
    """SQL hash of the export's columns no field maps (a constant when every column is mapped).

    `helpers.clean`'s exact-duplicate rule compares it too, so two lines that differ only
    in an unmapped column (a product code the params leave out) are not duplicates.
    """
    unmapped = [c for c in types if c not in {v for v in mapping.values() if v}]
    return f"hash({', '.join(quote_identifier(c) for c in unmapped)})" if unmapped else "CAST(0 AS UBIGINT)"


def _view_columns(
    mapping: Mapping[str, str | None], types: Mapping[str, str], exprs: Mapping[str, str]
) -> dict[str, str | None]:
    """Return the columns of ``canonical`` in order: SQL for those the view computes, None for staged ones.

    Staging costs CPU per column and row, so what the view can compute cheaply from the
    staged columns is not staged: fields computed from ``row_id`` (the record number, known
    once the rows are stored), ``amount`` when it is ``quantity x unit_price`` (the same
    doubles), and ``is_header_row`` and ``unmapped_hash`` when they are constants.
    """
    columns: dict[str, str | None] = {}
    for field, expr in exprs.items():
        columns[field] = expr if "row_id" in expr else None
    if "amount" not in mapping or not mapping["amount"]:
        columns["amount"] = "quantity * unit_price"
    header = header_row_condition(mapping, types)
    columns["is_header_row"] = header if header == "(false)" else None
    unmapped = _unmapped_hash(mapping, types)
    columns["unmapped_hash"] = unmapped if not unmapped.startswith("hash(") else None
    return columns


def _stage_select(
    mapping: Mapping[str, str | None], types: Mapping[str, str], exprs: Mapping[str, str]
) -> tuple[str, dict[str, str | None]]:
    """Return the SELECT list that stages the source, and the columns of the view `_view_columns`.

    The staged table holds the typed fields, ``is_header_row`` and ``unmapped_hash``, but for
    those the view ``canonical`` computes, and, per parsed field, the raw text of values that
    did not parse (``unparsed_<field>``, NULL on nearly every row), so the parse check needs
    no second read of the export.
    """
    header = header_row_condition(mapping, types)
    columns = _view_columns(mapping, types, exprs)
    computed = {**exprs, "is_header_row": header, "unmapped_hash": _unmapped_hash(mapping, types)}
    staged = [f"{computed[name]} AS {name}" for name, view_sql in columns.items() if view_sql is None]
    for field in _parsed_fields(mapping, exprs):
        raw = _text(quote_identifier(mapping[field]))
        staged.append(
            f"CASE WHEN ({exprs[field]}) IS NULL AND NOT {header} AND {raw} IS NOT NULL "
            f"THEN {raw} END AS {_UNPARSED_PREFIX}{field}"
        )
    return ",\n       ".join(staged), columns


def _check_parsing(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    mapping: Mapping[str, str | None],
    types: Mapping[str, str],
    exprs: Mapping[str, str],
    input_params: Mapping[str, Any],
    relation: str = STAGED_LINES,
) -> tuple[int, dict[str, int]]:
    """Count rows and values that did not parse per field; fail when a column mostly fails.

    `relation` holds the staged columns (`_stage_select`): the staged table, or a sample of the source.
    """
    fields = _parsed_fields(mapping, exprs)
    header = header_row_condition(mapping, types)
    is_header = "is_header_row" if header != "(false)" else header  # a constant is not staged
    parts = ["count(*)"]
    for field in fields:
        parts += [
            f"count({field}) FILTER (WHERE NOT {is_header}) + count(unparsed_{field})",
            f"count(unparsed_{field})",
            f"any_value(unparsed_{field})",
        ]
    row = con.execute(_PARSE_COUNTS_SQL.format(counts=", ".join(parts), relation=relation)).fetchall()[0]
    bad_counts = {f: 0 for f in ("invoice_date", *_NUMERIC_FIELDS) if mapping.get(f)}
    for i, field in enumerate(fields):
        filled, bad, example = row[1 + 3 * i : 4 + 3 * i]
        bad_counts[field] = int(bad)
        if filled and bad / filled > MAX_BAD_SHARE:
            if field == "invoice_date":
                fix = (
                    "set input.date_format to the export's format, e.g. \"%d/%m/%Y %H:%M\" "
                    "(day first) or \"%Y%m%d\""
                )
            elif input_params["csv"]["decimal"] == "," and "." in str(example):
                fix = (
                    "set input.csv.decimal to \".\" if the export writes decimals with a point "
                    "(with \",\" a dot only separates thousands, as in 1.234,50)"
                )
            else:
                fix = f"check that input.columns.{field} names a numeric column" + (
                    " and input.csv.decimal" if input_params["csv"]["decimal"] == "." else ""
                )
            raise UserError(
                f"{path}: column '{mapping[field]}' ({field}): {bad:,} of {filled:,} values do not "
                f"parse, e.g. {str(example)[:40]!r}; fix: {fix}"
            )
    return int(row[0]), bad_counts


def load_transactions(con: duckdb.DuckDBPyConnection, input_params: Mapping[str, Any]) -> dict[str, Any]:
    """Load the export into the DuckDB view ``canonical`` and validate it.

    The export is read once, streaming, into the staged table `STAGED_LINES` in the
    connection's work folder (`helpers.engine.work_dir`); ``canonical`` is a view over it,
    with ``row_id`` = record number in the export (1-based, header not counted; a quoted
    field spanning lines counts once).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Connection that receives the views ``source`` and ``canonical``, made by the
        caller with `helpers.engine.connect` (memory cap, spill folder, insertion order kept).
    input_params : mapping
        The ``input`` section of the params (path, format, csv/excel options,
        date_format, columns).

    Returns
    -------
    dict
        ``file`` (file name), ``rows`` (source rows), ``columns`` (export column names), ``unparsed``
        (values per field that did not parse and became NULL).

    Raises
    ------
    UserError
        Unreadable file, a mapped column that is missing, or a column whose values mostly
        do not parse.
    """
    path, fmt = source_of(input_params)  # the export file, or input.database (helpers.database)
    work_dir(con)  # attaches the staging database (made already by `helpers.engine.connect`)
    columns = register_source(con, input_params) if is_duckdb(con) else con.register_export(input_params)
    mapping = {f: input_params["columns"].get(f) for f in CANONICAL_FIELDS}
    _check_mapping(path, columns, mapping, fmt)
    types = dict(con.execute(_SOURCE_TYPES_SQL).fetchall())
    exprs = canonical_exprs(types, mapping, input_params)
    stage_list, view_columns = _stage_select(mapping, types, exprs)
    sql = _STAGE_SQL.format(columns=stage_list)
    _reading(con, path, input_params, lambda: con.execute(sql).fetchall())
    rows, unparsed = _check_parsing(con, path, mapping, types, exprs, input_params)
    if rows == 0:
        raise _no_rows_error(path, input_params)
    _VIEW_COLUMNS[con] = view_columns
    _create_canonical_view(con)
    return {"file": path.name, "rows": rows, "columns": columns, "unparsed": unparsed}


def check_transactions(
    con: duckdb.DuckDBPyConnection, input_params: Mapping[str, Any], sample_rows: int = PREFLIGHT_ROWS
) -> int:
    """Check the export before any step runs: readable, mapped columns present, values parse.

    The checks and messages of `load_transactions`, on the first `sample_rows` rows and
    without staging anything: a wrong delimiter, encoding, mapping, date format or decimal
    sign stops here, before 01_clean starts. Problems further down the file (a quote never
    closed at line 5M) are still found by `load_transactions`.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Receives the view ``source``.
    input_params : mapping
        The ``input`` section of the params.
    sample_rows : int, default `PREFLIGHT_ROWS`
        Rows read from the start of the export.

    Returns
    -------
    int
        Rows checked.

    Raises
    ------
    UserError
        As `load_transactions`, in one line naming the file, the column or key and the fix.
    """
    path, fmt = source_of(input_params)
    columns = register_source(con, input_params, sample_rows=sample_rows)
    mapping = {f: input_params["columns"].get(f) for f in CANONICAL_FIELDS}
    _check_mapping(path, columns, mapping, fmt)
    types = dict(con.execute(_SOURCE_TYPES_SQL).fetchall())
    exprs = canonical_exprs(types, mapping, input_params)
    sample = _SAMPLE_SQL.format(columns=_stage_select(mapping, types, exprs)[0], rows=int(sample_rows))
    rows, _ = _reading(con, path, input_params,
                       lambda: _check_parsing(con, path, mapping, types, exprs, input_params, sample), sample_rows)
    if rows == 0:
        raise _no_rows_error(path, input_params)
    return rows


def _reading(
    con: duckdb.DuckDBPyConnection, path: Path, input_params: Mapping[str, Any], run: Callable[[], T],
    sample_rows: int | None = None,
) -> T:
    """Return `run()`, a query over ``source``, with DuckDB's errors turned into one line.

    A quoted field that spans lines may only show up here, deep in a CSV: the source is
    then registered again without NULL padding and `run` runs once more.
    """
    if not is_duckdb(con):  # Spark (helpers.spark_engine): its errors come as SparkQueryError
        try:
            return run()
        except SparkQueryError as exc:
            raise _staging_error(path, exc, input_params) from None
    try:
        return run()
    except duckdb.Error as exc:
        if QUOTED_NEWLINES not in str(exc):
            raise _staging_error(path, exc, input_params) from None
    register_source(con, input_params, null_padding=False, sample_rows=sample_rows)
    try:
        return run()
    except duckdb.Error as exc:
        raise _staging_error(path, exc, input_params) from None


def _no_rows_error(path: Path, input_params: Mapping[str, Any]) -> UserError:
    has = "a header but " if input_params.get("csv", {}).get("header", True) else ""
    return UserError(f"{path}: the file has {has}no data rows; fix: export again with data")


def _staging_error(path: Path, exc: Exception, input_params: Mapping[str, Any]) -> UserError:
    first = duck_reason(exc)
    text = str(exc)
    if any(s in text for s in ("No space left", "File too large", "Could not write")):
        return UserError(
            f"{path}: cannot write the staging copy of the rows ({first}); "
            "fix: free disk space, or point TMPDIR at a disk with room"
        )
    if "CSV Error" in text:
        return csv_error(path, exc, input_params["csv"])
    return UserError(
        f"{path}: cannot read the rows or convert the mapped columns ({first}); "
        f"fix: check the file, input.csv and input.columns"
    )


def _create_canonical_view(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)create the view ``canonical``: row_id, the fields, is_header_row, unmapped_hash and any marks.

    Columns the view computes (`_view_columns`) come in two layers: those over staged
    columns first, then those from ``row_id``, which may use the first (a return line's
    order id reads ``amount``).
    """
    columns = _VIEW_COLUMNS[con]
    marks = [
        name for (name,) in con.execute(_STAGED_COLUMNS_SQL).fetchall()
        if name not in columns and not name.startswith(_UNPARSED_PREFIX)
    ]
    computed = "".join(
        f", {sql} AS {quote_identifier(name)}" for name, sql in columns.items() if sql and "row_id" not in sql
    )
    select = ", ".join(
        f"{sql} AS {quote_identifier(name)}" if sql and "row_id" in sql else quote_identifier(name)
        for name, sql in [*columns.items(), *((m, None) for m in marks)]
    )
    con.execute(_CANONICAL_VIEW_SQL.format(columns=select, computed=computed)).fetchall()


def mark_lines(con: duckdb.DuckDBPyConnection, column: str, row_ids_table: str) -> None:
    """Add a boolean column to ``canonical``, true on the lines whose row_id is in a table.

    The mark is stored in the staged table (an UPDATE of the few marked lines), so later
    queries read it like any column; a join would cost a pass and lose the row order.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Holds ``canonical`` from `load_transactions`.
    column : str
        Name of the new column (reset to false if it exists).
    row_ids_table : str
        Name of a table (or view) with a ``row_id`` column listing the lines to mark.
    """
    if con not in _VIEW_COLUMNS:
        raise RuntimeError("no staged transactions on this connection; call load_transactions first")
    if not is_duckdb(con):  # Spark: a view over the staged Parquet (helpers.spark_engine)
        con.mark(STAGED_LINES, column, row_ids_table)
    else:
        names = {"column": quote_identifier(column), "table": quote_identifier(row_ids_table)}
        for sql in (_ADD_MARK_SQL, _RESET_MARK_SQL, _SET_MARK_SQL):
            con.execute(sql.format(**names)).fetchall()
    _create_canonical_view(con)


def write_cleaned(con: duckdb.DuckDBPyConnection, target: str | Path) -> Path:
    """Write the view ``cleaned`` to the Parquet file `target` atomically, without pandas.

    When ``cleaned`` is the view `helpers.clean.apply_cleaning` made, the file behind it
    (`CLEANED_FILE` in the work folder) is linked, or copied byte for byte: no second pass
    over the lines. Otherwise ``cleaned`` is written with ``COPY``, streaming. Either way the file
    is written under a temporary name and renamed into place, so a reader never sees half
    a file, as `helpers.catalog.write` does.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Holds the view ``cleaned`` with the columns `helpers.catalog.TRANSACTION_COLUMNS`.
    target : str or Path
        Normally ``helpers.catalog.path(params, "transactions")``.

    Returns
    -------
    Path
        `target`.

    Raises
    ------
    ValueError
        ``cleaned`` lacks a column of the contract (a bug in the caller, not the data).
    """
    columns = [name for (name,) in con.execute(_CLEANED_COLUMNS_SQL).fetchall()]
    missing = [c for c in TRANSACTION_COLUMNS if c not in columns]
    if missing:
        raise ValueError(f"view cleaned has no column {missing[0]!r}; transactions need {', '.join(TRANSACTION_COLUMNS)}")
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    staged = _cleaned_file(con)
    if staged is not None:
        _link_or_copy(staged, tmp)
    else:
        con.execute(_COPY_CLEANED_SQL.format(path=quote_literal(str(tmp)))).fetchall()
    tmp.replace(target)
    return target


def _link_or_copy(source: Path, target: Path) -> None:
    """Give `source` a second name `target` (a hard link: no bytes copied), or copy it.

    A copy is made where links cannot be (another file system). The file is never written
    in place afterwards: `helpers.clean.apply_cleaning` removes it before writing anew.
    """
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def cleaned_file(con: duckdb.DuckDBPyConnection) -> Path:
    """Return where `helpers.clean.apply_cleaning` writes the kept lines: the work folder."""
    return work_dir(con) / CLEANED_FILE


def _cleaned_file(con: duckdb.DuckDBPyConnection) -> Path | None:
    """Return the file behind ``cleaned`` when it is the view `helpers.clean.apply_cleaning` made."""
    staged = cleaned_file(con)
    if not is_duckdb(con):  # on Spark only apply_cleaning makes ``cleaned``, over that file
        return staged if staged.is_file() else None
    views = con.execute(_CLEANED_VIEW_SQL).fetchall()
    expected = f"read_parquet({quote_literal(str(staged))})"
    if staged.is_file() and views and expected in views[0][0]:
        return staged
    return None
