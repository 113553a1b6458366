"""Register a shop's export (CSV, Excel, Parquet) in DuckDB as the view ``source``, as exported.

`register_source` is the one entry: it picks the reader from ``input.format`` or the file's
extension (`detect_format`) and turns every reading problem into a one-line `UserError`
that names the file, the line where one is known, and the fix. `helpers.io` then types the
columns (`helpers.io.load_transactions`); `helpers.traits` reads its optional tables here too.

- CSV is read by DuckDB directly (streaming, multi-threaded) and follows RFC 4180: a field
  in double quotes may hold the delimiter, line breaks and doubled quotes (``""``). A
  record longer than ``input.csv.max_line_size`` bytes (default `DEFAULT_MAX_LINE_SIZE`)
  or a quote never closed stops with the line. Line numbers in messages count records as
  DuckDB does (a field spanning lines counts once), except for an over-long line found
  while sniffing, which is the physical line. Options DuckDB cannot read natively
  (whitespace delimiters, codecs other than UTF-8/UTF-16/Latin-1) are converted once to a
  Parquet file in the connection's work folder, in chunks, so memory stays bounded.
- Excel is read with pandas (Excel caps a sheet at about a million rows). The column names
  are on row ``input.excel.header_row`` (1-based); rows above it (titles, notes) are
  skipped, on every sheet with ``sheet: all``.
- Parquet is read by DuckDB directly.
- ``<table>.csv.header: false``: the file has no header row; its columns are named
  ``column0``, ``column1``, ... (`headerless_names`) and the column mapping names those.
  With a header row (the default), a first row whose every value is a number or a date
  is data, not column names: reading stops and suggests ``header: false``
  (`first_row_is_data`).

Messages name the params keys of the table being read (``input.csv.encoding``, or
``customers_input.csv.encoding`` for the customer table): the ``key`` argument.
`register_source`'s ``sample_rows`` reads only the first rows where a reader would
otherwise convert the whole file (Excel, the CSV fallback), for `helpers.preflight`.

Paths and reader options reach SQL through `helpers.engine.quote_literal`: a view cannot
take query parameters.
"""

from __future__ import annotations

import codecs
import gzip
import re
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from helpers import database
from helpers.engine import quote_literal, work_dir
from helpers.errors import UserError

# One CSV record at most (input.csv.max_line_size): a 10 MB text field fits. DuckDB reads
# in buffers that must be larger; 32 MB is its own default, so the default costs no memory.
DEFAULT_MAX_LINE_SIZE = 16_000_000
_CSV_BUFFER_SIZE = 32_000_000
# DuckDB's parallel CSV reader cannot pad short rows when a quoted field spans lines.
QUOTED_NEWLINES = "null_padding in conjunction with quoted new lines"
_DUCKDB_ENCODINGS = {"utf-8": "utf-8", "utf-16": "utf-16", "iso8859-1": "latin-1"}
_CSV_SUFFIXES = {".csv", ".tsv", ".txt", ".dat"}
_EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls"}

# The view ``source`` each reader creates ({path} and options already quoted).
_CSV_VIEW_SQL = "CREATE OR REPLACE VIEW source AS SELECT * FROM read_csv({path}, {options})"
_PARQUET_VIEW_SQL = "CREATE OR REPLACE VIEW source AS SELECT * FROM read_parquet({path})"
_EXCEL_VIEW_SQL = "CREATE OR REPLACE VIEW source AS SELECT * FROM source_frame"
# The dialect and columns DuckDB's sniffer finds for a CSV ({path} and options quoted);
# it writes an empty escape or comment as this text.
_SNIFF_SQL = (
    "SELECT Delimiter, Quote, Escape, NewLineDelimiter, Comment, SkipRows, Columns FROM sniff_csv({path}, {options})"
)
_SNIFF_EMPTY = "(empty)"
# Reading the first row makes DuckDB open and sniff the file, so errors surface here.
_FIRST_ROW_SQL = "SELECT * FROM source LIMIT 1"
_SOURCE_COLUMNS_SQL = "DESCRIBE source"
# What a value of a data row looks like (a header row has at least one name that is neither).
DATA_VALUE_PATTERNS: dict[str, re.Pattern[str]] = {
    "number": re.compile(r"[+-]?(\d[\d.,' ]*)?\d([.,]\d*)?([eE][+-]?\d+)?%?"),
    "date": re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T]\d{1,2}:\d{2}(:\d{2}([.,]\d+)?)?)?"
                       r"( ?[AaPp][Mm])?( ?(Z|UTC|[+-]\d{2}:?\d{2}))?"),
}
# A name the reader made: an empty header cell (DuckDB: column3), or a repeated name made unique
# (DuckDB: 5_1, pandas: 5.1).
_MADE_NAME = re.compile(r"column\d+")
_REPEATED_NAME = re.compile(r"(.+?)(_\d+|\.\d+)")


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


def register_source(
    con: duckdb.DuckDBPyConnection,
    input_params: Mapping[str, Any],
    null_padding: bool = True,
    *,
    key: str = "input",
    sample_rows: int | None = None,
) -> list[str]:
    """Create the view ``source`` over the export, exactly as exported.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
    input_params : mapping
        The ``input`` section of the params, or a table's section in the same shape (path,
        format, csv, excel).
    null_padding : bool, default True
        CSV only: pad short rows with NULLs. `helpers.io.load_transactions` turns it off when a quoted
        field spans lines, which DuckDB's parallel reader cannot combine with padding.
    key : str, default "input"
        The params section of the table (``customers_input``, ...), named in messages.
    sample_rows : int, optional
        Read at most this many rows where the reader copies the file (Excel, the CSV
        fallback); None reads all. DuckDB's own readers stream, so the caller's ``LIMIT``
        is enough for them.

    Returns
    -------
    list of str
        The export's column names (``column0``, ``column1``, ... for a CSV without header).

    With ``input.database.url`` set, the rows come from that database instead of
    ``input.path`` (`helpers.database.register_database_source`).
    """
    if key == "input" and database.configured(input_params):  # rows from a server, not a file
        return database.register_database_source(con, input_params, sample_rows=sample_rows)
    path = Path(input_params["path"])
    if not path.is_file():
        fix = "point input.path at your export" if key == "input" else f"point {key}.path at the file or set it to null"
        raise UserError(f"{path}: input file not found (key {key}.path); fix: {fix}")
    if path.stat().st_size == 0:
        raise UserError(f"{path}: the file is empty (0 bytes); fix: export again")
    fmt = detect_format(path, input_params["format"])
    _SNIFFED.pop(con, None)
    if fmt == "csv":
        _register_csv(con, path, input_params["csv"], null_padding, key=key, sample_rows=sample_rows)
    elif fmt == "excel":
        _register_excel(con, path, input_params["excel"], sample_rows)
    else:
        _register_parquet(con, path)
    return [row[0] for row in con.execute(_SOURCE_COLUMNS_SQL).fetchall()]


def headerless_names(count: int) -> list[str]:
    """Return the column names of a CSV without header row: column0, column1, ...

    >>> headerless_names(3)
    ['column0', 'column1', 'column2']
    """
    return [f"column{i}" for i in range(count)]


def first_row_is_data(names: Sequence[str]) -> bool:
    """Return True when every value of a header row is a number or a date: it is data, not names.

    Names the reader made (an empty cell: ``column3``; a repeated value made unique: ``5_1``
    or ``5.1``) are left out; `DATA_VALUE_PATTERNS` says what a number and a date look like.

    Examples
    --------
    >>> first_row_is_data(["17850", "2011-01-03 10:00", "5.50", "17850_1"])
    True
    >>> first_row_is_data(["CustomerID", "2011-01-03"])
    False
    """
    seen: set[str] = set()
    values = []
    for name in names:
        repeated = _REPEATED_NAME.fullmatch(name)
        if not (_MADE_NAME.fullmatch(name) or (repeated and repeated.group(1) in seen)):
            values.append(name.strip())
        seen.add(name)
    return bool(values) and all(any(p.fullmatch(v) for p in DATA_VALUE_PATTERNS.values()) for v in values)


def _csv_to_parquet(path: Path, csv_params: Mapping[str, Any], out: Path, sample_rows: int | None = None) -> None:
    """Convert a CSV that DuckDB cannot read natively to Parquet, chunk by chunk (the first `sample_rows` rows only)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    delim = csv_params["delimiter"]
    header = bool(csv_params.get("header", True))
    sep: str | None = r"\s+" if delim == "whitespace" else (None if delim == "auto" else delim)
    reader = pd.read_csv(
        path,
        sep=sep,
        engine="python" if sep is None or sep == r"\s+" else "c",
        encoding=csv_params["encoding"],
        skiprows=csv_params["header_rows_to_skip"],
        header=0 if header else None,
        dtype=str,
        keep_default_na=False,
        chunksize=500_000,
        nrows=sample_rows,
    )
    writer = None
    try:
        for chunk in reader:
            if not header:
                chunk.columns = headerless_names(len(chunk.columns))
            table = pa.Table.from_pandas(chunk, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(out, table.schema)
            writer.write_table(table.cast(writer.schema))
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        has = "a header but " if header else ""
        raise UserError(f"{path}: the file has {has}no data rows; fix: export again with data")


def _register_csv(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    csv_params: Mapping[str, Any],
    null_padding: bool = True,
    *,
    key: str = "input",
    sample_rows: int | None = None,
) -> None:
    """Create the view ``source`` over a CSV, natively or through the chunked fallback.

    With a header row, a first row that reads as data stops here (`first_row_is_data`).
    """
    try:
        codec = codecs.lookup(csv_params["encoding"]).name
    except LookupError:
        raise UserError(
            f"{path}: unknown encoding '{csv_params['encoding']}' (key {key}.csv.encoding); "
            f"fix: use utf-8, latin-1 or cp1252"
        ) from None
    if codec not in _DUCKDB_ENCODINGS or csv_params["delimiter"] == "whitespace":
        _register_converted_csv(con, path, csv_params, codec, key, sample_rows)
    else:
        _register_native_csv(con, path, csv_params, codec, null_padding, key)
    if csv_params.get("header", True):
        names = [row[0] for row in con.execute(_SOURCE_COLUMNS_SQL).fetchall()]
        if first_row_is_data(names):
            shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
            raise UserError(
                f"{path}: the first row looks like data, not column names ({shown}); fix: set "
                f"{key}.csv.header: false if the file has no header row, and map {key}.columns to column0, column1, ..."
            )


def _csv_options(csv_params: Mapping[str, Any], codec: str, null_padding: bool,
                 names: Sequence[str] | None = None) -> dict[str, str]:
    """Return DuckDB's ``read_csv`` options for the CSV, each as SQL (`names`: without header)."""
    max_line = int(csv_params.get("max_line_size", DEFAULT_MAX_LINE_SIZE))
    options = {
        "all_varchar": "true",
        "header": str(bool(csv_params.get("header", True))).lower(),
        "encoding": quote_literal(_DUCKDB_ENCODINGS[codec]),
        "skip": str(int(csv_params["header_rows_to_skip"])),
        # RFC 4180 quotes: sniffed, quoting is off when the sampled rows hold no quote, and
        # a quoted line break further down would split the record.
        "quote": "'\"'",
        "max_line_size": str(max_line),
        "buffer_size": str(max(_CSV_BUFFER_SIZE, 2 * max_line)),
        "null_padding": str(null_padding).lower(),
    }
    if csv_params["delimiter"] != "auto":
        options["delim"] = quote_literal(csv_params["delimiter"])
    if names:
        options["names"] = "[" + ", ".join(quote_literal(n) for n in names) + "]"
    return options


def _csv_view_sql(path: Path, options: Mapping[str, str]) -> str:
    """Return the statement that makes ``source`` read the CSV with DuckDB's `options`."""
    listed = ", ".join(f"{name} = {value}" for name, value in options.items())
    return _CSV_VIEW_SQL.format(path=quote_literal(str(path)), options=listed)


# The pinned options (`sniffed_options`) the view ``source`` of a connection reads a CSV with.
_SNIFFED: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, dict[str, str]] = weakref.WeakKeyDictionary()


def source_dialect(con: duckdb.DuckDBPyConnection) -> dict[str, str] | None:
    """Return the sniffed options the view ``source`` reads its CSV with (`sniffed_options`);
    None when ``source`` is no natively read CSV, or one read with detection on."""
    return _SNIFFED.get(con)


def sniffed_options(con: duckdb.DuckDBPyConnection, path: Path, options: Mapping[str, str]) -> dict[str, str] | None:
    """Return `options` with the dialect and columns DuckDB's sniffer finds, and detection off.

    A view over ``read_csv`` sniffs the file again each time a query names it (0.14 s on the
    shipped gzipped export, five times while a CSV is opened and checked). With the sniffed
    delimiter, quote, escape, line break, comment, skipped rows and columns written out, it
    reads the same rows without sniffing. None when the sniffer fails: the caller then
    reads with detection on, which reports the problem.
    """
    listed = ", ".join(f"{name} = {value}" for name, value in options.items())
    try:
        found = con.execute(_SNIFF_SQL.format(path=quote_literal(str(path)), options=listed)).fetchone()
    except duckdb.Error:
        return None
    delim, quote, escape, new_line, comment, skip, columns = (
        "" if value == _SNIFF_EMPTY else value for value in found
    )
    pinned = dict(options)
    pinned.update({
        "auto_detect": "false", "delim": quote_literal(delim), "quote": quote_literal(quote),
        "escape": quote_literal(escape), "new_line": quote_literal(new_line), "comment": quote_literal(comment),
        "skip": str(int(skip)),
        "columns": "{" + ", ".join(f"{quote_literal(c['name'])}: {quote_literal(c['type'])}" for c in columns) + "}",
    })
    return pinned


def _register_native_csv(
    con: duckdb.DuckDBPyConnection, path: Path, csv_params: Mapping[str, Any], codec: str, null_padding: bool, key: str
) -> None:
    """Create the view ``source`` over a CSV read by DuckDB itself.

    With a header row, the view reads with the options the sniffer found (`sniffed_options`).
    Any error there, or a file without header row, goes the way below, whose messages
    name the problem.

    Short rows are padded with NULLs (`null_padding`) unless a quoted field spans lines,
    which DuckDB's parallel reader cannot combine: then the view is made again without
    padding (single-threaded reading would let a quote that is never closed swallow the
    rest of the file without an error). Without a header row, the view is made once more
    with the names `headerless_names` (DuckDB would pad them: column00, column01, ...).
    """
    options = _csv_options(csv_params, codec, null_padding)
    pinned = sniffed_options(con, path, options) if csv_params.get("header", True) else None
    if pinned is not None:
        try:
            con.execute(_csv_view_sql(path, pinned))
            con.execute(_FIRST_ROW_SQL).fetchall()
        except duckdb.Error:
            pass  # read again with detection on, whose error names the problem
        else:
            if csv_params["delimiter"] == "auto":
                _check_sniffed(con, path, key)
            _SNIFFED[con] = pinned
            return
    try:
        con.execute(_csv_view_sql(path, options))
        con.execute(_FIRST_ROW_SQL).fetchall()
    except duckdb.Error as exc:
        if null_padding and QUOTED_NEWLINES in str(exc):
            _register_native_csv(con, path, csv_params, codec, False, key)
            return
        raise csv_error(path, exc, csv_params, key) from None
    if not csv_params.get("header", True):
        count = len(con.execute(_SOURCE_COLUMNS_SQL).fetchall())
        con.execute(_csv_view_sql(path, _csv_options(csv_params, codec, null_padding, headerless_names(count))))
    elif csv_params["delimiter"] == "auto":
        _check_sniffed(con, path, key)


def _register_converted_csv(
    con: duckdb.DuckDBPyConnection, path: Path, csv_params: Mapping[str, Any], codec: str, key: str = "input",
    sample_rows: int | None = None,
) -> None:
    """Create the view ``source`` over a Parquet copy of a CSV DuckDB cannot read natively."""
    tmp = work_dir(con) / "source.parquet"
    try:
        _csv_to_parquet(path, csv_params, tmp, sample_rows)
    except UnicodeDecodeError as exc:
        raise UserError(
            f"{path}: bytes at position {exc.start} are not valid {codec}; "
            f"fix: set {key}.csv.encoding to the file's encoding (often latin-1 or cp1252)"
        ) from None
    except pd.errors.ParserError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"{path}: cannot read as CSV ({reason}); fix: check {key}.csv.delimiter and the quotes"
        ) from None
    con.execute(_PARQUET_VIEW_SQL.format(path=quote_literal(str(tmp))))


def _check_sniffed(con: duckdb.DuckDBPyConnection, path: Path, key: str = "input") -> None:
    """Stop when the sniffed header is one column holding delimiters: the sniffer gave up.

    That happens on a quote never closed (named with its line) or a short row next to a
    quoted line break; either beats reporting the mapped columns as missing.
    """
    names = [row[0] for row in con.execute(_SOURCE_COLUMNS_SQL).fetchall()]
    if len(names) == 1 and re.search(r"[,;\t|]", names[0]):
        line = _unclosed_quote_line(path)
        if line:
            raise UserError(_unclosed_quote_message(path, line))
        raise UserError(
            f"{path}: the header reads as one column ({names[0][:40]!r}...), the delimiter was not "
            f"detected; fix: set {key}.csv.delimiter, and check that quoted fields are closed"
        )


def csv_error(path: Path, exc: Exception, csv_params: Mapping[str, Any], key: str = "input") -> UserError:
    """Turn DuckDB's CSV error into one line naming the file, the line and the fix (keys under `key`)."""
    text, reason = str(exc), duck_reason(exc)
    found = re.search(r"CSV Error on Line: (\d+)", text)
    line = int(found.group(1)) if found else 0
    if "encod" in reason.lower() or "unicode" in reason.lower():
        return UserError(
            f"{path}: not valid {csv_params['encoding']} text; "
            f"fix: set {key}.csv.encoding to the file's encoding (often latin-1 or cp1252)"
        )
    too_long = re.search(r"Maximum line size of (\d+) bytes exceeded\. Actual Size:\s*(\d+)", text)
    if too_long:
        limit, size = int(too_long.group(1)), int(too_long.group(2))
        if line <= 1:  # reported while sniffing, where the number is not the line's
            line = _first_long_line(path, limit) or 0
        where = f"line {line:,}" if line else "a line"
        return UserError(
            f"{path}: {where} is {size:,} bytes, over {key}.csv.max_line_size ({limit:,}): a very long "
            f"field or a quote never closed; fix: raise {key}.csv.max_line_size above {size:,}, or close the quote"
        )
    if "unterminated quote" in text:
        return UserError(_unclosed_quote_message(path, line))
    opened = _unclosed_quote_line(path) if "Error when sniffing" in text else None
    if opened:  # the sniffer finds no dialect when a quote is never closed
        return UserError(_unclosed_quote_message(path, opened))
    return UserError(f"{path}: cannot read as CSV ({reason}); fix: check {key}.csv.delimiter and the file")


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


def duck_reason(exc: Exception) -> str:
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


def _read_sheet(
    book: pd.ExcelFile, sheet: str | int, header_row: int, nrows: int | None = None
) -> pd.DataFrame | None:
    """Read one sheet (at most `nrows` rows) with its column names on `header_row` (1-based); None if it has fewer rows."""
    try:
        return pd.read_excel(book, sheet_name=sheet, header=header_row - 1, nrows=nrows)
    except ValueError:  # pandas says "only N lines" when the header row is past the end
        if _sheet_rows(book, sheet, header_row) >= header_row:
            raise
        return None


def _sheet_rows(book: pd.ExcelFile, sheet: str | int, limit: int) -> int:
    return len(pd.read_excel(book, sheet_name=sheet, header=None, nrows=limit))


def _register_excel(
    con: duckdb.DuckDBPyConnection, path: Path, excel_params: Mapping[str, Any], sample_rows: int | None = None
) -> None:
    """Create the view ``source`` over one sheet, or every sheet stacked (``sheet: all``).

    The column names are on row ``header_row`` (1-based, default 1); rows above it are
    skipped. With ``all``, sheets without rows below the header row are left out. With
    `sample_rows`, each sheet is read up to that many rows.
    """
    sheet, header_row = excel_params["sheet"], int(excel_params.get("header_row", 1))
    if header_row < 1:
        raise UserError(
            f"{path}: input.excel.header_row is {header_row}; fix: give the 1-based row of the column names"
        )
    try:
        with pd.ExcelFile(path) as book:
            if sheet == "all":
                sheets = {name: _read_sheet(book, name, header_row, sample_rows) for name in book.sheet_names}
                frame = _stack_sheets(path, {n: df for n, df in sheets.items() if df is not None and not df.empty})
            else:
                frame = _read_sheet(book, sheet, header_row, sample_rows)
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
    con.execute(_EXCEL_VIEW_SQL)


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
        con.execute(_PARQUET_VIEW_SQL.format(path=quote_literal(str(path))))
        con.execute(_FIRST_ROW_SQL).fetchall()
    except duckdb.Error as exc:
        first = duck_reason(exc)
        raise UserError(f"{path}: cannot read as Parquet ({first}); fix: check the file or set input.format") from None
