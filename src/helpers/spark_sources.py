"""The export as Spark's view ``source``, in file order, for 01_clean on ``engine.kind: spark``.

DuckDB opens the export first, exactly as on the DuckDB engine (`helpers.readers.register_source`):
the same checks, sniffing and one-line errors. Spark then reads the same rows:

- a CSV DuckDB reads natively: Spark's CSV reader, with the delimiter, quote and escape
  DuckDB's sniffer found, every column as text (DuckDB's ``all_varchar``), a quoted field
  may span lines, and DuckDB's column names;
- a Parquet file: Spark's Parquet reader;
- anything else (Excel, a CSV only the pandas fallback reads, skipped title rows, a
  PostgreSQL query): DuckDB writes the rows to Parquet in the connection's work folder and
  Spark reads that copy (local mode: the folder is on this machine).

Each line gets its record number in the hidden column `RECORD_COLUMN` (0 for the first data
record, as DuckDB's rowid of the staged table), which 01_clean turns into ``row_id`` and
uses to write the kept lines in input order (`with_record_numbers`).
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb

from helpers import readers
from helpers.database import configured as from_database
from helpers.engine import quote_literal, work_dir
from helpers.errors import UserError
from helpers.spark_engine import RECORD_COLUMN

_SOURCE_VIEW_SQL = "SELECT sql FROM duckdb_views() WHERE view_name = 'source'"
_COPY_SOURCE_SQL = "COPY source TO {path} (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)"
_COUNT_SQL = "SELECT count(*) FROM source"
# Python codec names of the encodings DuckDB reads natively -> Spark's names for them.
_SPARK_CHARSETS = {"utf-8": "utf-8", "utf-16": "utf-16", "iso8859-1": "iso-8859-1"}


def with_record_numbers(frame: Any) -> tuple[Any, int]:
    """Return `frame` with `RECORD_COLUMN` (0, 1, 2... in the order Spark reads its partitions), and its rows.

    ``monotonically_increasing_id`` numbers each partition from ``partition << 33``; one
    count per partition gives the offsets that make the numbers consecutive. Only the
    DataFrame API, so it also works over Spark Connect.
    """
    from pyspark.sql import functions as F  # noqa: N812 (Spark's own idiom)

    tagged = frame.withColumn("_partition", F.spark_partition_id()).withColumn("_id", F.monotonically_increasing_id())
    counts = dict(tagged.groupBy("_partition").count().collect())
    offsets, total = [], 0
    for partition in range(max(counts, default=-1) + 1):
        offsets.append(total)
        total += counts.get(partition, 0)
    if not offsets:
        return frame.withColumn(RECORD_COLUMN, F.lit(0).cast("bigint")).limit(0), 0
    start = F.element_at(F.array(*[F.lit(o).cast("bigint") for o in offsets]), F.col("_partition") + 1)
    local = F.col("_id") - F.shiftleft(F.col("_partition").cast("bigint"), 33)
    return tagged.withColumn(RECORD_COLUMN, start + local).drop("_partition", "_id"), total


def register_source(con: Any, input_params: Mapping[str, Any]) -> list[str]:
    """Make the Spark view ``source`` over the export, with `RECORD_COLUMN`; return the export's column names."""
    local = con.local()
    columns = readers.register_source(local, input_params)
    frame, records = _read(con, local, input_params, columns)
    numbered, rows = with_record_numbers(frame)
    if records is not None and rows != records:
        raise UserError(
            f"{input_params['path']}: Spark reads {rows:,} records where DuckDB reads {records:,}; "
            "fix: check input.csv (delimiter, quotes), or set engine.kind: duckdb"
        )
    numbered.createOrReplaceTempView("source")
    return columns


def _read(con: Any, local: Any, input_params: Mapping[str, Any], columns: list[str]) -> tuple[Any, int | None]:
    """Spark's reader for the rows DuckDB's view ``source`` reads (see the module docstring).

    For a CSV Spark parses itself, also the records DuckDB counts in the whole file: a row
    that breaks the format (more fields than the header) stops here with its line number,
    as on the DuckDB engine, instead of losing its extra fields in Spark's lenient reader.
    """
    path = None if from_database(input_params) else Path(input_params["path"])
    (view_sql,) = local.execute(_SOURCE_VIEW_SQL).fetchone()
    if path is not None and f"read_parquet({quote_literal(str(path))})" in view_sql:
        return con.spark.read.parquet(str(path)), None
    if path is not None and "read_csv(" in view_sql and not input_params["csv"]["header_rows_to_skip"]:
        frame = _read_csv(con, local, path, input_params["csv"])
        if frame is not None and len(frame.columns) == len(columns):
            return frame.toDF(*columns), _csv_records(local, path, input_params)
    copy = work_dir(local) / "source-for-spark.parquet"
    local.execute(_COPY_SOURCE_SQL.format(path=quote_literal(str(copy)))).fetchall()
    return con.spark.read.parquet(str(copy)), None


def _csv_records(local: Any, path: Path, input_params: Mapping[str, Any]) -> int:
    """Count the CSV's records with DuckDB (one fast pass); its CSV errors as one line naming the fix."""
    try:
        return int(local.execute(_COUNT_SQL).fetchone()[0])
    except duckdb.Error as exc:
        if readers.QUOTED_NEWLINES not in str(exc):
            raise readers.csv_error(path, exc, input_params["csv"]) from None
    readers.register_source(local, input_params, null_padding=False)  # as helpers.io does
    try:
        return int(local.execute(_COUNT_SQL).fetchone()[0])
    except duckdb.Error as exc:
        raise readers.csv_error(path, exc, input_params["csv"]) from None


def _read_csv(con: Any, local: Any, path: Path, csv: Mapping[str, Any]) -> Any:
    """Spark's CSV reader with the dialect DuckDB's view ``source`` reads with; None when
    that view reads with detection on or Spark's CSV reader lacks the encoding."""
    codec = codecs.lookup(csv["encoding"]).name
    sniffed = readers.source_dialect(local)
    if sniffed is None or codec not in _SPARK_CHARSETS:
        return None
    text = {key: sniffed[key][1:-1].replace("''", "'") for key in ("delim", "quote", "escape")}
    return (con.spark.read
            .option("header", bool(csv.get("header", True)))
            .option("sep", text["delim"])
            .option("quote", text["quote"] or "\u0000")  # no quoting: a character that never occurs
            .option("escape", text["escape"] or text["quote"] or "\u0000")  # never Spark's default backslash
            .option("encoding", _SPARK_CHARSETS[codec])
            .option("multiLine", True)  # a quoted field may hold line breaks
            .option("maxCharsPerColumn", int(csv.get("max_line_size", readers.DEFAULT_MAX_LINE_SIZE)))
            .option("mode", "PERMISSIVE")  # a short row gets NULLs, as DuckDB's null_padding
            .option("enforceSchema", False)
            .csv(str(path)))
