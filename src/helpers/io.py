"""Read a shop's transaction export into canonical, typed columns with DuckDB.

Any export (CSV, Excel, Parquet) with any column names becomes one table with the
canonical fields of `helpers.config.CANONICAL_FIELDS`. CSV and Parquet are read by DuckDB
directly (streaming, multi-threaded); options DuckDB cannot read natively (whitespace
delimiters, codecs other than UTF-8/UTF-16/Latin-1) are converted once to a temporary
Parquet file in chunks, so memory stays bounded. Excel is read with pandas (Excel caps a
sheet at about a million rows).

Values that do not parse (text in a number column, a date in another format) are counted.
If more than `MAX_BAD_SHARE` of a column's non-empty values fail, loading stops with a
message that names the file, the column, an example value and the fix; below that, the
rows keep a NULL and 01_clean removes and logs them as ``invalid_values``.
"""

from __future__ import annotations

import codecs
import difflib
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from helpers.config import CANONICAL_FIELDS
from helpers.errors import UserError

MAX_BAD_SHARE = 0.01
_DUCKDB_ENCODINGS = {"utf-8": "utf-8", "utf-16": "utf-16", "iso8859-1": "latin-1"}
_NUMERIC_FIELDS = ("quantity", "unit_price", "amount")
_TEXT_FIELDS = ("product_id", "description", "country")
_CSV_SUFFIXES = {".csv", ".tsv", ".txt", ".dat"}
_EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls"}


def detect_format(path: Path, fmt: str = "auto") -> str:
    """Return 'csv', 'excel' or 'parquet' from `fmt` or the file's extension.

    Examples
    --------
    >>> detect_format(Path("orders.csv.gz"))
    'csv'
    """
    if fmt != "auto":
        return fmt
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in {".gz", ".zst"}:
        suffixes = suffixes[:-1]
    last = suffixes[-1] if suffixes else ""
    if last in _CSV_SUFFIXES:
        return "csv"
    if last in _EXCEL_SUFFIXES:
        return "excel"
    if last in {".parquet", ".pq"}:
        return "parquet"
    raise UserError(
        f"{path}: cannot tell the file type from the extension '{last}'; "
        f"fix: set input.format to csv, excel or parquet"
    )


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _csv_to_parquet(path: Path, csv_params: Mapping[str, Any], out: Path) -> None:
    """Convert a CSV that DuckDB cannot read natively to Parquet, chunk by chunk."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    delim = csv_params["delimiter"]
    sep: str | None = r"\s+" if delim == "whitespace" else (None if delim == "auto" else delim)
    reader = pd.read_csv(
        path,
        sep=sep,
        engine="python" if sep is None or sep == r"\s+" else "c",
        encoding=csv_params["encoding"],
        skiprows=csv_params["header_rows_to_skip"],
        dtype=str,
        keep_default_na=False,
        chunksize=500_000,
    )
    writer = None
    try:
        for chunk in reader:
            table = pa.Table.from_pandas(chunk, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(out, table.schema)
            writer.write_table(table.cast(writer.schema))
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        raise UserError(f"{path}: the file has a header but no data rows; fix: export again with data")


def _register_csv(con: duckdb.DuckDBPyConnection, path: Path, csv_params: Mapping[str, Any]) -> None:
    try:
        codec = codecs.lookup(csv_params["encoding"]).name
    except LookupError:
        raise UserError(
            f"{path}: unknown encoding '{csv_params['encoding']}' (key input.csv.encoding); "
            f"fix: use utf-8, latin-1 or cp1252"
        ) from None
    native = codec in _DUCKDB_ENCODINGS and csv_params["delimiter"] != "whitespace"
    if not native:
        tmp = Path(tempfile.mkdtemp(prefix="ecomseg-csv-")) / "source.parquet"
        try:
            _csv_to_parquet(path, csv_params, tmp)
        except UnicodeDecodeError as exc:
            raise UserError(
                f"{path}: bytes at position {exc.start} are not valid {codec}; "
                f"fix: set input.csv.encoding to the file's encoding (often latin-1 or cp1252)"
            ) from None
        con.execute(f"CREATE OR REPLACE VIEW source AS SELECT * FROM read_parquet({_sql_str(str(tmp))})")
        return
    options = [
        "all_varchar = true",
        "header = true",
        f"encoding = {_sql_str(_DUCKDB_ENCODINGS[codec])}",
        f"skip = {int(csv_params['header_rows_to_skip'])}",
        "null_padding = true",
    ]
    if csv_params["delimiter"] != "auto":
        options.append(f"delim = {_sql_str(csv_params['delimiter'])}")
    sql = f"CREATE OR REPLACE VIEW source AS SELECT * FROM read_csv({_sql_str(str(path))}, {', '.join(options)})"
    try:
        con.execute(sql)
        con.execute("SELECT * FROM source LIMIT 1").fetchall()
    except duckdb.Error as exc:
        first = _duck_reason(exc)
        if "encod" in str(exc).lower() or "unicode" in str(exc).lower():
            raise UserError(
                f"{path}: not valid {codec} text; "
                f"fix: set input.csv.encoding to the file's encoding (often latin-1 or cp1252)"
            ) from None
        raise UserError(f"{path}: cannot read as CSV ({first}); fix: check input.csv.delimiter and the file") from None


def _duck_reason(exc: Exception) -> str:
    """Return DuckDB's error headline plus its explaining line, without the dump of options."""
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    skip = ("Original Line", "Possible Solution", "file =", "delimiter =", "quote =", "escape =",
            "new_line =", "header =", "skip_rows =", "comment =", "date_format =", "timestamp_format =",
            "null_padding", "all_varchar", "strict_mode", "sample_size", "ignore_errors", "encoding =")
    detail = next((ln for ln in lines[1:] if not ln.startswith(skip) and "=" not in ln), "")
    return f"{lines[0]}: {detail}" if detail and lines else (lines[0] if lines else type(exc).__name__)


def _register_excel(con: duckdb.DuckDBPyConnection, path: Path, sheet: str | int) -> None:
    try:
        if sheet == "all":
            sheets = pd.read_excel(path, sheet_name=None)
            frames = [df for df in sheets.values() if not df.empty]
            if not frames:
                raise UserError(f"{path}: every sheet is empty; fix: export again with data")
            columns = list(frames[0].columns)
            for name, df in sheets.items():
                if not df.empty and list(df.columns) != columns:
                    raise UserError(
                        f"{path}: sheet '{name}' has other columns than the first sheet; "
                        f"fix: give all sheets the same header, or choose one with input.excel.sheet"
                    )
            frame = pd.concat(frames, ignore_index=True)
        else:
            frame = pd.read_excel(path, sheet_name=sheet)
    except (ValueError, KeyError, IndexError) as exc:
        raise UserError(f"{path}: cannot read sheet {sheet!r} ({exc}); fix: set input.excel.sheet") from None
    except UserError:
        raise
    except Exception as exc:  # openpyxl raises many types for corrupt files
        raise UserError(f"{path}: not a readable Excel file ({type(exc).__name__}); fix: re-export as .xlsx or CSV") from None
    # Mixed-type object columns (ids that are sometimes numbers) become text for DuckDB.
    for col in frame.columns:
        if frame[col].dtype == object:
            frame[col] = frame[col].map(lambda v: None if pd.isna(v) else str(v))
    frame.columns = [str(c) for c in frame.columns]
    con.register("source_frame", frame)
    con.execute("CREATE OR REPLACE VIEW source AS SELECT * FROM source_frame")


def _register_parquet(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    try:
        con.execute(f"CREATE OR REPLACE VIEW source AS SELECT * FROM read_parquet({_sql_str(str(path))})")
        con.execute("SELECT * FROM source LIMIT 1").fetchall()
    except duckdb.Error as exc:
        first = _duck_reason(exc)
        raise UserError(f"{path}: cannot read as Parquet ({first}); fix: check the file or set input.format") from None


def register_source(con: duckdb.DuckDBPyConnection, input_params: Mapping[str, Any]) -> list[str]:
    """Create the view ``source`` over the export, exactly as exported.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
    input_params : mapping
        The ``input`` section of the params.

    Returns
    -------
    list of str
        The export's column names.
    """
    path = Path(input_params["path"])
    if not path.is_file():
        raise UserError(f"{path}: input file not found (key input.path); fix: point input.path at your export")
    if path.stat().st_size == 0:
        raise UserError(f"{path}: the file is empty (0 bytes); fix: export again")
    fmt = detect_format(path, input_params["format"])
    if fmt == "csv":
        _register_csv(con, path, input_params["csv"])
    elif fmt == "excel":
        _register_excel(con, path, input_params["excel"]["sheet"])
    else:
        _register_parquet(con, path)
    return [row[0] for row in con.execute("DESCRIBE source").fetchall()]


def _check_mapping(path: Path, columns: list[str], mapping: Mapping[str, str | None]) -> None:
    for field, source_col in mapping.items():
        if source_col and source_col not in columns:
            by_case = [c for c in columns if c.strip().lower() == source_col.strip().lower()]
            close = by_case or difflib.get_close_matches(source_col, columns, n=1)
            hint = f"did you mean '{close[0]}'?" if close else "available: " + ", ".join(columns[:20])
            raise UserError(
                f"{path}: column '{source_col}' (mapped to {field}) not found; "
                f"fix: set input.columns.{field} in your params ({hint})"
            )


def _text(expr: str) -> str:
    return f"NULLIF(trim(CAST({expr} AS VARCHAR)), '')"


def _number(expr: str, decimal: str) -> str:
    text = _text(expr)
    if decimal == ",":
        text = f"replace(replace({text}, '.', ''), ',', '.')"
    return f"TRY_CAST({text} AS DOUBLE)"


def _date(expr: str, column_type: str, date_format: str) -> str:
    if column_type.startswith(("TIMESTAMP", "DATE")) and date_format == "auto":
        return f"CAST({expr} AS TIMESTAMP)"
    text = _text(expr)
    if date_format == "auto":
        return f"TRY_CAST({text} AS TIMESTAMP)"
    return f"try_strptime({text}, {_sql_str(date_format)})"


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
    cols = {f: _quote(c) for f, c in mapping.items() if c}
    exprs: dict[str, str] = {}
    # Ids are text; integral floats from Excel/Parquet ("17850.0") lose the ".0".
    exprs["customer_id"] = f"regexp_replace({_text(cols['customer_id'])}, '\\.0+$', '')"
    if "invoice_id" in cols:
        exprs["invoice_id"] = f"regexp_replace({_text(cols['invoice_id'])}, '\\.0+$', '')"
    else:  # no invoice id: every row is its own order
        exprs["invoice_id"] = "'row-' || CAST(row_id AS VARCHAR)"
    exprs["invoice_date"] = _date(
        cols["invoice_date"], types[mapping["invoice_date"]], input_params["date_format"]
    )
    for field in _TEXT_FIELDS:
        exprs[field] = _text(cols[field]) if field in cols else "CAST(NULL AS VARCHAR)"
    if "product_id" in cols and types[mapping["product_id"]] in {"DOUBLE", "FLOAT", "REAL"}:
        exprs["product_id"] = f"regexp_replace({exprs['product_id']}, '\\.0+$', '')"
    for field in _NUMERIC_FIELDS:
        exprs[field] = _number(cols[field], decimal) if field in cols else "CAST(NULL AS DOUBLE)"
    if "amount" not in cols:
        exprs["amount"] = f"({exprs['quantity']}) * ({exprs['unit_price']})"
    return exprs


def header_row_condition(mapping: Mapping[str, str | None]) -> str:
    """SQL condition true on a copy of the header row inside the data (concatenated exports)."""
    names = [mapping[f] for f in ("customer_id", "invoice_date") if mapping.get(f)]
    return "(" + " AND ".join(f"coalesce({_text(_quote(n))} = {_sql_str(n)}, false)" for n in names) + ")"


def _check_parsing(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    mapping: Mapping[str, str | None],
    exprs: Mapping[str, str],
    input_params: Mapping[str, Any],
) -> dict[str, int]:
    """Count values that did not parse per field; fail when a column is mostly unparseable."""
    fields = [f for f in ("invoice_date", *_NUMERIC_FIELDS) if mapping.get(f)]
    if not fields:
        return {}
    not_header = f"NOT {header_row_condition(mapping)}"
    parts = []
    for i, field in enumerate(fields):
        raw = _text(_quote(mapping[field]))
        bad = f"{raw} IS NOT NULL AND ({exprs[field]}) IS NULL AND {not_header}"
        parts += [
            f"count({raw}) FILTER (WHERE {not_header}) AS filled_{i}",
            f"count(*) FILTER (WHERE {bad}) AS bad_{i}",
            f"any_value({raw}) FILTER (WHERE {bad}) AS example_{i}",
        ]
    row = con.execute(
        f"SELECT {', '.join(parts)} FROM (SELECT 0 AS row_id, * FROM source)"
    ).fetchall()[0]
    bad_counts: dict[str, int] = {}
    for i, field in enumerate(fields):
        filled, bad, example = row[3 * i : 3 * i + 3]
        bad_counts[field] = int(bad)
        if filled and bad / filled > MAX_BAD_SHARE:
            if field == "invoice_date":
                fix = (
                    "set input.date_format to the export's format, e.g. \"%d/%m/%Y %H:%M\" "
                    "(day first) or \"%Y%m%d\""
                )
            else:
                fix = f"check that input.columns.{field} names a numeric column" + (
                    " and input.csv.decimal" if input_params["csv"]["decimal"] == "." else ""
                )
            raise UserError(
                f"{path}: column '{mapping[field]}' ({field}): {bad:,} of {filled:,} values do not "
                f"parse, e.g. {str(example)[:40]!r}; fix: {fix}"
            )
    return bad_counts


def load_transactions(con: duckdb.DuckDBPyConnection, input_params: Mapping[str, Any]) -> dict[str, Any]:
    """Load the export into the DuckDB table ``canonical`` and validate it.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Connection that receives the views ``source`` and the table ``canonical``.
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
    path = Path(input_params["path"])
    columns = register_source(con, input_params)
    mapping = {f: input_params["columns"].get(f) for f in CANONICAL_FIELDS}
    _check_mapping(path, columns, mapping)
    types = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE source)").fetchall())
    exprs = canonical_exprs(types, mapping, input_params)
    unparsed = _check_parsing(con, path, mapping, exprs, input_params)
    select = ",\n       ".join(f"{expr} AS {field}" for field, expr in exprs.items())
    select += f",\n       {header_row_condition(mapping)} AS is_header_row"
    try:
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE canonical AS
                SELECT row_id, {select}
                FROM (SELECT row_number() OVER () AS row_id, * FROM source)"""
        )
    except duckdb.Error as exc:
        first = _duck_reason(exc)
        raise UserError(f"{path}: cannot convert the mapped columns ({first}); fix: check input.columns") from None
    rows = con.execute("SELECT count(*) FROM canonical").fetchall()[0][0]
    if rows == 0:
        raise UserError(f"{path}: the file has a header but no data rows; fix: export again with data")
    return {"file": path.name, "rows": int(rows), "columns": columns, "unparsed": unparsed}


def mapping_table(input_params: Mapping[str, Any], source: Mapping[str, Any]) -> pd.DataFrame:
    """Return canonical field, source column and unparsed values, for the report."""
    records = []
    for field in CANONICAL_FIELDS:
        column = input_params["columns"].get(field)
        if column:
            how = column
        elif field == "amount":
            how = "(quantity x unit_price)"
        elif field == "invoice_id":
            how = "(one order per row)"
        else:
            how = "(not in export)"
        records.append((field, how, int(source["unparsed"].get(field, 0))))
    return pd.DataFrame(records, columns=["canonical field", "source column", "values not parsed"])
