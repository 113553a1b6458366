"""Read a shop's transaction export into canonical, typed columns with DuckDB.

Any export (CSV, Excel, Parquet) with any column names becomes one table with the
canonical fields of `helpers.config.CANONICAL_FIELDS`. CSV and Parquet are read by DuckDB
directly (streaming, multi-threaded); options DuckDB cannot read natively (whitespace
delimiters, codecs other than UTF-8/UTF-16/Latin-1) are converted once to a temporary
Parquet file in chunks, so memory stays bounded. Excel is read with pandas (Excel caps a
sheet at about a million rows).

The export is read once: one streaming statement writes the typed canonical rows to a
*staging* table in a DuckDB database file in the connection's work folder (`work_dir`),
and ``canonical`` is a view over it. Nothing holds all rows in memory, so 100M-line
exports load on a laptop: DuckDB's memory is capped (`configure_engine`) and what does
not fit goes to the work folder. ``row_id`` is the record number in the export: 1 for
the first data record, header and skipped lines not counted, a quoted field that spans
lines counted once (the staged table keeps insertion order). A DuckDB table rather than a
Parquet file because it is written about 1.5x faster and can take an extra column later
(`mark_lines`), which lets 01_clean flag lines without a join: joins do not keep row
order, and outputs must be in input order.

How values are read (each case ends in a documented handling or a one-line `UserError`):

- CSV follows RFC 4180: a field in double quotes may hold the delimiter, line breaks and
  doubled quotes (``""``). A record longer than ``input.csv.max_line_size`` bytes (default
  `DEFAULT_MAX_LINE_SIZE`) or a quote never closed stops with the line. Line numbers in
  messages count records as DuckDB does (a field spanning lines counts once), except for
  an over-long line found while sniffing, which is the physical line.
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
- Excel: the column names are on row ``input.excel.header_row`` (1-based); rows above it
  (titles, notes) are skipped, on every sheet with ``sheet: all``.

Values that do not parse (text in a number column, a date in another format) are counted.
If more than `MAX_BAD_SHARE` of a column's non-empty values fail, loading stops with a
message that names the file, the column, an example value and the fix; below that, the
rows keep a NULL and 01_clean removes and logs them as ``invalid_values``.

DuckDB's memory cap is the params key ``run.memory_limit`` (a DuckDB size such as ``4GB``
or a share of RAM such as ``50%``; default `DEFAULT_MEMORY_LIMIT`). Environment variables
(optional): ``ECOMSEG_MEMORY_LIMIT`` overrides that key for one run; ``ECOMSEG_TEMP_DIR``
is where work folders are made (default: the system temp folder).
"""

from __future__ import annotations

import codecs
import difflib
import gzip
import os
import re
import shutil
import tempfile
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from helpers.config import CANONICAL_FIELDS
from helpers.errors import UserError

MAX_BAD_SHARE = 0.01
# One CSV record at most (input.csv.max_line_size): a 10 MB text field fits. DuckDB reads
# in buffers that must be larger; 32 MB is its own default, so the default costs no memory.
DEFAULT_MAX_LINE_SIZE = 16_000_000
_CSV_BUFFER_SIZE = 32_000_000
# DuckDB's parallel CSV reader cannot pad short rows when a quoted field spans lines.
_QUOTED_NEWLINES = "null_padding in conjunction with quoted new lines"
# A number in the "," convention that contains a dot: the dots separate thousands.
_GROUPED_COMMA_NUMBER = r"[+-]?\d{1,3}(\.\d{3})+(,\d*)?"
# Text with a letter, "+" or "-" after the time of day: a UTC offset or zone (a regex is
# faster here than GLOB or several LIKEs).
_ZONE_AFTER_TIME = ":.*[A-Za-z+-]"
# 2 GB keeps a 100M-line export within 2.5 GiB per step at about 20% more time than
# half the RAM (bench/run.py): the laptop stays usable, and the work spills to disk.
DEFAULT_MEMORY_LIMIT = "2GB"
ENV_MEMORY_LIMIT = "ECOMSEG_MEMORY_LIMIT"
ENV_TEMP_DIR = "ECOMSEG_TEMP_DIR"
STAGING_DB = "ecomseg_staging"  # DuckDB database attached from the work folder
STAGED_LINES = f"{STAGING_DB}.lines"  # the typed canonical rows, in export order
_DUCKDB_ENCODINGS = {"utf-8": "utf-8", "utf-16": "utf-16", "iso8859-1": "latin-1"}
_NUMERIC_FIELDS = ("quantity", "unit_price", "amount")
_TEXT_FIELDS = ("product_id", "description", "country")
_CSV_SUFFIXES = {".csv", ".tsv", ".txt", ".dat"}
_EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls"}
_INTEGER_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
                  "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"}
_FLOAT_TYPES = {"FLOAT", "REAL", "DOUBLE"}
_WORK_DIRS: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, Path] = weakref.WeakKeyDictionary()
# Per connection: the memory limit `configure_engine` set.
_LIMITS: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, str] = weakref.WeakKeyDictionary()
# Per connection: canonical fields computed in the view from row_id (unknown while staging).
_ROW_ID_FIELDS: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, dict[str, str]] = (
    weakref.WeakKeyDictionary()
)


def work_dir(con: duckdb.DuckDBPyConnection) -> Path:
    """Return the connection's private work folder, holding the staging database and spills.

    The folder is made on first use under ``$ECOMSEG_TEMP_DIR`` (default: the system temp
    folder), the staging database `STAGING_DB` is attached from it, and it is deleted with
    everything in it when the connection is garbage-collected or Python exits.
    """
    folder = _WORK_DIRS.get(con)
    if folder is None or not folder.is_dir():
        base = os.environ.get(ENV_TEMP_DIR) or None
        if base:
            Path(base).mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix="ecomseg-", dir=base))
        _WORK_DIRS[con] = folder
        weakref.finalize(con, shutil.rmtree, folder, ignore_errors=True)
        con.execute(f"SET temp_directory = {_sql_str(str(folder / 'spill'))}").fetchall()
        con.execute(f"DETACH DATABASE IF EXISTS {STAGING_DB}").fetchall()
        con.execute(f"ATTACH {_sql_str(str(folder / 'staging.duckdb'))} AS {STAGING_DB}").fetchall()
    return folder


def configure_engine(con: duckdb.DuckDBPyConnection, memory_limit: str | None = None) -> Path:
    """Cap DuckDB's memory, let it spill to the work folder, keep row order; return the folder.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
    memory_limit : str, optional
        A DuckDB size (``"4GB"``) or share of RAM (``"50%"``), normally ``run.memory_limit``.
        ``$ECOMSEG_MEMORY_LIMIT`` overrides it; without either, `DEFAULT_MEMORY_LIMIT`.

    Raises
    ------
    UserError
        The memory limit is not a size DuckDB understands.
    """
    folder = work_dir(con)
    from_env = os.environ.get(ENV_MEMORY_LIMIT)
    limit = from_env or memory_limit or DEFAULT_MEMORY_LIMIT
    try:
        con.execute(f"SET memory_limit = {_sql_str(limit)}").fetchall()
    except duckdb.Error:
        where = f"environment variable {ENV_MEMORY_LIMIT}" if from_env else "params key run.memory_limit"
        raise UserError(
            f"memory limit {limit!r} ({where}) is not a size; fix: write it like 4GB or 50%"
        ) from None
    # Outputs must come out in input order; DuckDB keeps it only while this is on.
    con.execute("SET preserve_insertion_order = true").fetchall()
    _LIMITS[con] = limit
    return folder


def connect(params: Mapping[str, Any] | None = None) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB connection set up by `configure_engine` with ``run.memory_limit``.

    Helpers that get no params call it bare: during a run the runner passes
    ``run.memory_limit`` to the kernels as ``$ECOMSEG_MEMORY_LIMIT``, which then applies.

    Examples
    --------
    >>> con = connect({"run": {"memory_limit": "1GB"}})
    >>> con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    '953.6 MiB'
    """
    con = duckdb.connect()
    configure_engine(con, ((params or {}).get("run") or {}).get("memory_limit"))
    return con


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


def _register_csv(
    con: duckdb.DuckDBPyConnection, path: Path, csv_params: Mapping[str, Any], null_padding: bool = True
) -> None:
    """Create the view ``source`` over a CSV, natively or through the chunked fallback.

    Short rows are padded with NULLs (`null_padding`) unless a quoted field spans lines,
    which DuckDB's parallel reader cannot combine: then the view is made again without
    padding (single-threaded reading would let a quote that is never closed swallow the
    rest of the file without an error).
    """
    try:
        codec = codecs.lookup(csv_params["encoding"]).name
    except LookupError:
        raise UserError(
            f"{path}: unknown encoding '{csv_params['encoding']}' (key input.csv.encoding); "
            f"fix: use utf-8, latin-1 or cp1252"
        ) from None
    if codec not in _DUCKDB_ENCODINGS or csv_params["delimiter"] == "whitespace":
        _register_converted_csv(con, path, csv_params, codec)
        return
    max_line = int(csv_params.get("max_line_size", DEFAULT_MAX_LINE_SIZE))
    options = [
        "all_varchar = true",
        "header = true",
        f"encoding = {_sql_str(_DUCKDB_ENCODINGS[codec])}",
        f"skip = {int(csv_params['header_rows_to_skip'])}",
        # RFC 4180 quotes: sniffed, quoting is off when the sampled rows hold no quote, and
        # a quoted line break further down would split the record.
        "quote = '\"'",
        f"max_line_size = {max_line}",
        f"buffer_size = {max(_CSV_BUFFER_SIZE, 2 * max_line)}",
        f"null_padding = {str(null_padding).lower()}",
    ]
    if csv_params["delimiter"] != "auto":
        options.append(f"delim = {_sql_str(csv_params['delimiter'])}")
    sql = f"CREATE OR REPLACE VIEW source AS SELECT * FROM read_csv({_sql_str(str(path))}, {', '.join(options)})"
    try:
        con.execute(sql)
        con.execute("SELECT * FROM source LIMIT 1").fetchall()
    except duckdb.Error as exc:
        if null_padding and _QUOTED_NEWLINES in str(exc):
            _register_csv(con, path, csv_params, null_padding=False)
            return
        raise _csv_error(path, exc, csv_params) from None
    if csv_params["delimiter"] == "auto":
        _check_sniffed(con, path)


def _register_converted_csv(
    con: duckdb.DuckDBPyConnection, path: Path, csv_params: Mapping[str, Any], codec: str
) -> None:
    """Create the view ``source`` over a Parquet copy of a CSV DuckDB cannot read natively."""
    tmp = work_dir(con) / "source.parquet"
    try:
        _csv_to_parquet(path, csv_params, tmp)
    except UnicodeDecodeError as exc:
        raise UserError(
            f"{path}: bytes at position {exc.start} are not valid {codec}; "
            f"fix: set input.csv.encoding to the file's encoding (often latin-1 or cp1252)"
        ) from None
    except pd.errors.ParserError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"{path}: cannot read as CSV ({reason}); fix: check input.csv.delimiter and the quotes"
        ) from None
    con.execute(f"CREATE OR REPLACE VIEW source AS SELECT * FROM read_parquet({_sql_str(str(tmp))})")


def _check_sniffed(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Stop when the sniffed header is one column holding delimiters: the sniffer gave up.

    That happens on a quote never closed (named with its line) or a short row next to a
    quoted line break; either beats reporting the mapped columns as missing.
    """
    names = [row[0] for row in con.execute("DESCRIBE source").fetchall()]
    if len(names) == 1 and re.search(r"[,;\t|]", names[0]):
        line = _unclosed_quote_line(path)
        if line:
            raise UserError(_unclosed_quote_message(path, line))
        raise UserError(
            f"{path}: the header reads as one column ({names[0][:40]!r}...), the delimiter was not "
            f"detected; fix: set input.csv.delimiter, and check that quoted fields are closed"
        )


def _csv_error(path: Path, exc: Exception, csv_params: Mapping[str, Any]) -> UserError:
    """Turn DuckDB's CSV error into one line naming the file, the line and the fix."""
    text, reason = str(exc), _duck_reason(exc)
    found = re.search(r"CSV Error on Line: (\d+)", text)
    line = int(found.group(1)) if found else 0
    if "encod" in reason.lower() or "unicode" in reason.lower():
        return UserError(
            f"{path}: not valid {csv_params['encoding']} text; "
            f"fix: set input.csv.encoding to the file's encoding (often latin-1 or cp1252)"
        )
    too_long = re.search(r"Maximum line size of (\d+) bytes exceeded\. Actual Size:\s*(\d+)", text)
    if too_long:
        limit, size = int(too_long.group(1)), int(too_long.group(2))
        if line <= 1:  # reported while sniffing, where the number is not the line's
            line = _first_long_line(path, limit) or 0
        where = f"line {line:,}" if line else "a line"
        return UserError(
            f"{path}: {where} is {size:,} bytes, over input.csv.max_line_size ({limit:,}): a very long "
            f"field or a quote never closed; fix: raise input.csv.max_line_size above {size:,}, or close the quote"
        )
    if "unterminated quote" in text:
        return UserError(_unclosed_quote_message(path, line))
    opened = _unclosed_quote_line(path) if "Error when sniffing" in text else None
    if opened:  # the sniffer finds no dialect when a quote is never closed
        return UserError(_unclosed_quote_message(path, opened))
    return UserError(f"{path}: cannot read as CSV ({reason}); fix: check input.csv.delimiter and the file")


def _unclosed_quote_message(path: Path, line: int) -> str:
    where = f"line {line:,}" if line else "a line"
    return (f"{path}: {where} opens a quote (\") that is never closed; fix: close it in the export "
            f"(a quote inside a quoted field is written twice: \"\")")


def _unclosed_quote_line(path: Path) -> int | None:
    """Return the physical line where a quote opens that nothing closes, or None.

    The file ends inside a quote when it holds an odd number of quotes (a doubled quote
    counts twice); that quote opened on the line after the last line break outside quotes.
    Vectorized per chunk: no loop over lines.
    """
    import numpy as np

    suffix = path.suffix.lower()
    if suffix == ".zst":
        return None
    quotes, lines, opened = 0, 0, 1
    with (gzip.open(path, "rb") if suffix == ".gz" else open(path, "rb")) as stream:
        while chunk := stream.read(1 << 22):
            data = np.frombuffer(chunk, dtype=np.uint8)
            is_quote = data == ord('"')
            breaks = np.flatnonzero(data == ord("\n"))
            outside = np.flatnonzero((np.cumsum(is_quote, dtype=np.uint32)[breaks] + quotes) % 2 == 0)
            if outside.size:
                opened = lines + int(outside[-1]) + 2
            lines += breaks.size
            quotes += int(is_quote.sum())
    return opened if quotes % 2 else None


def _first_long_line(path: Path, limit: int) -> int | None:
    """Return the 1-based number of the first physical line over `limit` bytes, or None.

    Reads in chunks no longer than `limit`, so only a line that crosses a chunk boundary
    can be too long, and counting newlines per chunk is enough (no loop over lines).
    """
    suffix = path.suffix.lower()
    if suffix == ".zst":
        return None
    chunk_size = max(1, min(limit, 1 << 20))
    line, run = 1, 0  # run: bytes since the last newline
    with (gzip.open(path, "rb") if suffix == ".gz" else open(path, "rb")) as stream:
        while chunk := stream.read(chunk_size):
            first = chunk.find(b"\n")
            if first < 0:
                run += len(chunk)
                if run > limit:
                    return line
                continue
            if run + first > limit:
                return line
            line += chunk.count(b"\n")
            run = len(chunk) - chunk.rfind(b"\n") - 1
    return line if run > limit else None


def _duck_reason(exc: Exception) -> str:
    """Return DuckDB's error headline plus its explaining line, without the dump of options."""
    text = str(exc).strip()
    if "\nOriginal Line:" in text:  # the record may span lines; the reason ends its paragraph
        head, _, rest = text.partition("\nOriginal Line:")
        paragraph = rest.split("\n\n")[0].strip().splitlines()
        return f"{head.strip()}: {paragraph[-1].strip()}" if len(paragraph) > 1 else head.strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    skip = ("Original Line", "Possible Solution", "file =", "delimiter =", "quote =", "escape =",
            "new_line =", "header =", "skip_rows =", "comment =", "date_format =", "timestamp_format =",
            "null_padding", "all_varchar", "strict_mode", "sample_size", "ignore_errors", "encoding =")
    detail = next((ln for ln in lines[1:] if not ln.startswith(skip) and "=" not in ln), "")
    return f"{lines[0]}: {detail}" if detail and lines else (lines[0] if lines else type(exc).__name__)


def _read_sheet(book: pd.ExcelFile, sheet: str | int, header_row: int) -> pd.DataFrame | None:
    """Read one sheet with its column names on `header_row` (1-based); None if it has fewer rows."""
    try:
        return pd.read_excel(book, sheet_name=sheet, header=header_row - 1)
    except ValueError:  # pandas says "only N lines" when the header row is past the end
        if _sheet_rows(book, sheet, header_row) >= header_row:
            raise
        return None


def _sheet_rows(book: pd.ExcelFile, sheet: str | int, limit: int) -> int:
    return len(pd.read_excel(book, sheet_name=sheet, header=None, nrows=limit))


def _register_excel(con: duckdb.DuckDBPyConnection, path: Path, excel_params: Mapping[str, Any]) -> None:
    """Create the view ``source`` over one sheet, or every sheet stacked (``sheet: all``).

    The column names are on row ``header_row`` (1-based, default 1); rows above it are
    skipped. With ``all``, sheets without rows below the header row are left out.
    """
    sheet, header_row = excel_params["sheet"], int(excel_params.get("header_row", 1))
    if header_row < 1:
        raise UserError(
            f"{path}: input.excel.header_row is {header_row}; fix: give the 1-based row of the column names"
        )
    try:
        with pd.ExcelFile(path) as book:
            if sheet == "all":
                sheets = {name: _read_sheet(book, name, header_row) for name in book.sheet_names}
                frame = _stack_sheets(path, {n: df for n, df in sheets.items() if df is not None and not df.empty})
            else:
                frame = _read_sheet(book, sheet, header_row)
                if frame is None:
                    name = book.sheet_names[sheet] if isinstance(sheet, int) else sheet
                    rows = _sheet_rows(book, sheet, header_row)
                    raise UserError(
                        f"{path}: input.excel.header_row is {header_row} but sheet {name!r} has only {rows} "
                        f"rows; fix: set input.excel.header_row to the row of the column names"
                    )
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


def _stack_sheets(path: Path, sheets: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Stack sheets that have the same columns, in workbook order."""
    if not sheets:
        raise UserError(f"{path}: every sheet is empty; fix: export again with data, or set input.excel.header_row")
    columns = list(next(iter(sheets.values())).columns)
    for name, df in sheets.items():
        if list(df.columns) != columns:
            raise UserError(
                f"{path}: sheet '{name}' has other columns than the first sheet; "
                f"fix: give all sheets the same header, or choose one with input.excel.sheet"
            )
    return pd.concat(list(sheets.values()), ignore_index=True)


def _register_parquet(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    try:
        con.execute(f"CREATE OR REPLACE VIEW source AS SELECT * FROM read_parquet({_sql_str(str(path))})")
        con.execute("SELECT * FROM source LIMIT 1").fetchall()
    except duckdb.Error as exc:
        first = _duck_reason(exc)
        raise UserError(f"{path}: cannot read as Parquet ({first}); fix: check the file or set input.format") from None


def register_source(
    con: duckdb.DuckDBPyConnection, input_params: Mapping[str, Any], null_padding: bool = True
) -> list[str]:
    """Create the view ``source`` over the export, exactly as exported.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
    input_params : mapping
        The ``input`` section of the params.
    null_padding : bool, default True
        CSV only: pad short rows with NULLs. `load_transactions` turns it off when a quoted
        field spans lines, which DuckDB's parallel reader cannot combine with padding.

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
        _register_csv(con, path, input_params["csv"], null_padding)
    elif fmt == "excel":
        _register_excel(con, path, input_params["excel"])
    else:
        _register_parquet(con, path)
    return [row[0] for row in con.execute("DESCRIBE source").fetchall()]


def _check_mapping(path: Path, columns: list[str], mapping: Mapping[str, str | None], fmt: str = "csv") -> None:
    for field, source_col in mapping.items():
        if source_col and source_col not in columns:
            by_case = [c for c in columns if c.strip().lower() == source_col.strip().lower()]
            close = by_case or difflib.get_close_matches(source_col, columns, n=1)
            hint = f"did you mean '{close[0]}'?" if close else "available: " + ", ".join(columns[:20])
            # pandas names the columns of an empty header cell "Unnamed: n": title rows above the names
            titled = fmt == "excel" and any(c.startswith("Unnamed: ") for c in columns)
            also = ", or input.excel.header_row to the row of the column names" if titled else ""
            raise UserError(
                f"{path}: column '{source_col}' (mapped to {field}) not found; "
                f"fix: set input.columns.{field} in your params{also} ({hint})"
            )


def _text(expr: str) -> str:
    return f"NULLIF(trim(CAST({expr} AS VARCHAR)), '')"


def _is_number_type(column_type: str) -> bool:
    return column_type in _INTEGER_TYPES or column_type in _FLOAT_TYPES or column_type.startswith("DECIMAL")


def _number(expr: str, decimal: str, column_type: str = "VARCHAR") -> str:
    """Number from a typed column or from text in the `decimal` convention (NULL if it does not fit).

    With ``","``, a dot may only separate thousands (``1.234,5`` -> 1234.5, ``1.234`` ->
    1234); ``3.50`` does not fit and is NULL, never 350. Values without a dot skip the regex.
    """
    if _is_number_type(column_type):  # already a number: no round trip through text
        return f"CAST({expr} AS DOUBLE)"
    text = _text(expr)
    if decimal != ",":
        return f"TRY_CAST({text} AS DOUBLE)"
    return (
        f"CASE WHEN NOT contains({text}, '.') THEN TRY_CAST(replace({text}, ',', '.') AS DOUBLE) "
        f"WHEN regexp_full_match({text}, {_sql_str(_GROUPED_COMMA_NUMBER)}) "
        f"THEN TRY_CAST(replace(replace({text}, '.', ''), ',', '.') AS DOUBLE) END"
    )


def _identifier(expr: str, column_type: str) -> str:
    """Text id; integral numbers lose a trailing ".0" ("17850.0" -> "17850"), "A.0" stays."""
    if column_type in _INTEGER_TYPES:
        return f"CAST({expr} AS VARCHAR)"
    text = _text(expr)
    strip = f"regexp_replace({text}, '^([+-]?\\d+)\\.0+$', '\\1')"
    if column_type == "VARCHAR":  # the regex only runs on values with a dot (2x faster)
        return f"CASE WHEN contains({text}, '.') THEN {strip} ELSE {text} END"
    return strip


def _date(expr: str, column_type: str, date_format: str) -> str:
    """Timestamp without zone: offsets and zones converted to UTC, other values as written.

    Typed columns are read as they are (`date_format` is for text). Text that has letters,
    "+" or "-" after the time of day carries a zone: it is read as TIMESTAMPTZ, so the
    offset is applied, never dropped; a value that still fails stays NULL (unparsed).
    """
    if column_type == "TIMESTAMP WITH TIME ZONE":
        return f"timezone('UTC', {expr})"
    if column_type.startswith(("TIMESTAMP", "DATE")):
        return f"CAST({expr} AS TIMESTAMP)"
    text = _text(expr)
    if date_format == "auto":  # a plain TIMESTAMP cast would drop the offset
        return (
            f"CASE WHEN regexp_matches({text}, {_sql_str(_ZONE_AFTER_TIME)}) "
            f"THEN timezone('UTC', TRY_CAST({text} AS TIMESTAMPTZ)) ELSE TRY_CAST({text} AS TIMESTAMP) END"
        )
    if "%z" in date_format:  # strptime's %z takes +05:00 and +0500, not Z
        text = f"regexp_replace({text}, '[Zz]$', '+00:00')"
    parsed = f"try_strptime({text}, {_sql_str(date_format)})"
    return f"timezone('UTC', {parsed})" if "%z" in date_format or "%Z" in date_format else parsed


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
    kind = {f: types[c] for f, c in mapping.items() if c}
    exprs: dict[str, str] = {}
    exprs["customer_id"] = _identifier(cols["customer_id"], kind["customer_id"])
    if "invoice_id" in cols:
        exprs["invoice_id"] = _identifier(cols["invoice_id"], kind["invoice_id"])
    else:  # no invoice id: every row is its own order
        exprs["invoice_id"] = "'row-' || CAST(row_id AS VARCHAR)"
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


def header_row_condition(mapping: Mapping[str, str | None], types: Mapping[str, str] | None = None) -> str:
    """SQL condition true on a copy of the header row inside the data (concatenated exports).

    With `types` (source column -> DuckDB type), a typed (non-text) column rules the copy
    out, so the condition is ``false`` and costs nothing per row.
    """
    names = [mapping[f] for f in ("customer_id", "invoice_date") if mapping.get(f)]
    if types is not None and any(types.get(n, "VARCHAR") != "VARCHAR" for n in names):
        return "(false)"
    return "(" + " AND ".join(f"coalesce({_text(_quote(n))} = {_sql_str(n)}, false)" for n in names) + ")"


def _parsed_fields(mapping: Mapping[str, str | None], exprs: Mapping[str, str]) -> list[str]:
    """Mapped date and number fields read from text, so parsing can fail (typed columns cannot)."""
    return [f for f in ("invoice_date", *_NUMERIC_FIELDS)
            if mapping.get(f) and ("TRY_CAST" in exprs[f] or "try_strptime" in exprs[f])]


def _stage_select(
    mapping: Mapping[str, str | None], types: Mapping[str, str], exprs: Mapping[str, str]
) -> tuple[str, dict[str, str]]:
    """Return the SELECT list that stages the source, and the fields the view computes from row_id.

    The staged table holds the typed fields, ``is_header_row`` and, per parsed field, the
    raw text of values that did not parse (``unparsed_<field>``, NULL on nearly every row),
    so the parse check needs no second read of the export. Fields computed from ``row_id``
    (the record number, known once the rows are stored) are staged as NULL and filled in by
    the view ``canonical``.
    """
    header = header_row_condition(mapping, types)
    staged, row_id_fields = [], {}
    for field, expr in exprs.items():
        if "row_id" in expr:
            row_id_fields[field] = expr
            staged.append(f"CAST(NULL AS VARCHAR) AS {field}")
        else:
            staged.append(f"{expr} AS {field}")
    staged.append(f"{header} AS is_header_row")
    for field in _parsed_fields(mapping, exprs):
        raw = _text(_quote(mapping[field]))
        staged.append(
            f"CASE WHEN {raw} IS NOT NULL AND ({exprs[field]}) IS NULL AND NOT {header} "
            f"THEN {raw} END AS unparsed_{field}"
        )
    return ",\n       ".join(staged), row_id_fields


def _check_parsing(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    mapping: Mapping[str, str | None],
    exprs: Mapping[str, str],
    input_params: Mapping[str, Any],
) -> tuple[int, dict[str, int]]:
    """Count rows and values that did not parse per field; fail when a column mostly fails."""
    fields = _parsed_fields(mapping, exprs)
    parts = ["count(*)"]
    for field in fields:
        parts += [
            f"count({field}) FILTER (WHERE NOT is_header_row) + count(unparsed_{field})",
            f"count(unparsed_{field})",
            f"any_value(unparsed_{field})",
        ]
    row = con.execute(f"SELECT {', '.join(parts)} FROM {STAGED_LINES}").fetchall()[0]
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

    The export is read once, streaming, into the staged table `STAGED_LINES` in
    `work_dir`; ``canonical`` is a view over it, with ``row_id`` = record number in the
    export (1-based, header not counted; a quoted field spanning lines counts once). The
    connection is set up by `configure_engine` first (memory cap, spill folder, insertion
    order kept).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Connection that receives the views ``source`` and ``canonical``.
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
    if con not in _LIMITS:  # not opened by `connect`
        configure_engine(con)
    columns = register_source(con, input_params)
    mapping = {f: input_params["columns"].get(f) for f in CANONICAL_FIELDS}
    _check_mapping(path, columns, mapping, detect_format(path, input_params["format"]))
    types = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE source)").fetchall())
    exprs = canonical_exprs(types, mapping, input_params)
    stage_list, row_id_fields = _stage_select(mapping, types, exprs)
    _stage(con, path, stage_list, input_params)
    rows, unparsed = _check_parsing(con, path, mapping, exprs, input_params)
    if rows == 0:
        raise UserError(f"{path}: the file has a header but no data rows; fix: export again with data")
    _ROW_ID_FIELDS[con] = row_id_fields
    _create_canonical_view(con)
    return {"file": path.name, "rows": rows, "columns": columns, "unparsed": unparsed}


def _stage(con: duckdb.DuckDBPyConnection, path: Path, stage_list: str, input_params: Mapping[str, Any]) -> None:
    """Write the typed rows to `STAGED_LINES` in one streaming statement.

    A quoted field that spans lines may only show up here, deep in a CSV: the source is
    then registered again without NULL padding and the rows are staged once more.
    """
    sql = f"CREATE OR REPLACE TABLE {STAGED_LINES} AS SELECT {stage_list} FROM source"
    try:
        con.execute(sql).fetchall()
        return
    except duckdb.Error as exc:
        if _QUOTED_NEWLINES not in str(exc):
            raise _staging_error(path, exc, input_params) from None
    register_source(con, input_params, null_padding=False)
    try:
        con.execute(sql).fetchall()
    except duckdb.Error as exc:
        raise _staging_error(path, exc, input_params) from None


def _staging_error(path: Path, exc: Exception, input_params: Mapping[str, Any]) -> UserError:
    first = _duck_reason(exc)
    text = str(exc)
    if any(s in text for s in ("No space left", "File too large", "Could not write")):
        return UserError(
            f"{path}: cannot write the staging copy of the rows ({first}); "
            "fix: free disk space, or point TMPDIR at a disk with room"
        )
    if "CSV Error" in text:
        return _csv_error(path, exc, input_params["csv"])
    return UserError(
        f"{path}: cannot read the rows or convert the mapped columns ({first}); "
        f"fix: check the file, input.csv and input.columns"
    )


def _create_canonical_view(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)create the view ``canonical``: row_id, the fields, is_header_row and any marks."""
    staged = [
        name for (name,) in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = ? AND table_name = ? "
            "ORDER BY column_index",
            STAGED_LINES.split("."),
        ).fetchall()
        if not name.startswith("unparsed_")
    ]
    row_id_fields = _ROW_ID_FIELDS.get(con, {})
    select = ", ".join(f"{row_id_fields[c]} AS {c}" if c in row_id_fields else c for c in staged)
    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW canonical AS
            SELECT row_id, {select}
            FROM (SELECT rowid + 1 AS row_id, * FROM {STAGED_LINES})"""
    ).fetchall()


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
        Table (or view) with a ``row_id`` column listing the lines to mark.
    """
    if con not in _ROW_ID_FIELDS:
        raise RuntimeError("no staged transactions on this connection; call load_transactions first")
    con.execute(f"ALTER TABLE {STAGED_LINES} ADD COLUMN IF NOT EXISTS {column} BOOLEAN DEFAULT false").fetchall()
    con.execute(f"UPDATE {STAGED_LINES} SET {column} = false WHERE {column}").fetchall()
    con.execute(
        f"UPDATE {STAGED_LINES} SET {column} = true WHERE rowid IN (SELECT row_id - 1 FROM {row_ids_table})"
    ).fetchall()
    _create_canonical_view(con)


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
