"""Write a run's segments back into the shop's PostgreSQL database (``output.database``).

After every step succeeded, the runner (`helpers.runner._publish`) calls `stage_outputs`:
the rows of the run's ``segments.csv`` go to ``output.database.table`` and those of
``personas.csv`` to ``output.database.personas_table``, both in **one transaction** that is
committed only once the run's files are published (`SegmentsWrite.commit`). A write that
fails, or a publication that fails after it, rolls the transaction back: the tables are as
they were before the run (PostgreSQL's DDL is transactional, so a replaced table comes back
too).

- ``mode: replace`` drops and re-creates each table with the columns of the file;
  ``append`` adds the rows, creating a missing table, and stops with one line when the
  existing table's columns differ from the file's.
- Column types are rules as data (`column_type`): the export's integer columns
  (`INTEGER_COLUMNS`) are ``bigint``, its decimal columns (`helpers.exports.EXPORT_DECIMALS`)
  ``numeric`` with the file's decimals, everything else ``text``, exactly as written in the
  file (a formula-neutralised id keeps its apostrophe). Empty cells are NULL.
- The files are streamed (`pyarrow.csv.open_csv`): a million customers never sit in memory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers.database import driver_reason, open_connection, resolve_url
from helpers.engine import quote_identifier
from helpers.errors import UserError
from helpers.exports import EXPORT_DECIMALS

KEY = "output.database.url"
# The run's files and the params key naming each one's table.
OUTPUT_FILES: tuple[tuple[str, str], ...] = (("segments.csv", "table"), ("personas.csv", "personas_table"))
# Whole-number columns of the exports (`helpers.exports.segments_table`, `personas_table`).
INTEGER_COLUMNS: frozenset[str] = frozenset(
    {"recency_days", "frequency", "r_score", "f_score", "m_score", "cluster", "customers"})
NUMERIC_PRECISION = 38
_LOCK_TIMEOUT_SQL = "SET LOCAL lock_timeout = '30s'"  # a table in use stops the write instead of hanging
_COLUMNS_SQL = ("SELECT column_name FROM information_schema.columns WHERE table_schema = coalesce($1, current_schema()) "
                "AND table_name = $2 ORDER BY ordinal_position")
# What a failed write means, by SQLSTATE: (what happened, fix).
WRITE_PROBLEMS: dict[str, tuple[str, str]] = {
    "42501": ("permission denied", "grant the user CREATE and INSERT on the schema (or use another user in {key})"),
    "3F000": ("schema not found", "create the schema, or name another in output.database.table"),
    "55P03": ("the table is in use (lock not granted within 30 s)", "retry when the readers of the table are done"),
    "25006": ("the server is read-only", "point {key} at a writable server"),
    "2BP01": ("other objects depend on the table (views)", "drop those views first, or use output.database.mode: append"),
}


class OutputWriteError(UserError):
    """The segments could not be written; `message` adds what the runner did about it.

    Parameters
    ----------
    what : str
        What went wrong, naming the table.
    fix : str
        What to change.
    """

    def __init__(self, what: str, fix: str) -> None:
        super().__init__(f"{what}; fix: {fix}")
        self.what, self.fix = what, fix

    def message(self, outcome: str) -> str:
        """Return one line: what went wrong, `outcome` (e.g. nothing was published), the fix."""
        return f"{self.what}; {outcome}; fix: {self.fix}"


def column_type(name: str) -> tuple[str, Any]:
    """Return the PostgreSQL type and the Arrow type a column of the exports is written as.

    Examples
    --------
    >>> [column_type(c)[0] for c in ("frequency", "monetary", "p_alive", "persona")]
    ['bigint', 'numeric(38,2)', 'numeric(38,3)', 'text']
    """
    import pyarrow as pa

    if name in INTEGER_COLUMNS:
        return "bigint", pa.int64()
    if name in EXPORT_DECIMALS:
        return f"numeric({NUMERIC_PRECISION},{EXPORT_DECIMALS[name]})", pa.decimal128(NUMERIC_PRECISION, EXPORT_DECIMALS[name])
    return "text", pa.string()


def read_export(path: Path) -> Any:
    """Open an export CSV as a stream of typed Arrow batches (`column_type`); empty cells are null."""
    import pyarrow.csv as pa_csv

    columns = _header(path)
    options = pa_csv.ConvertOptions(column_types={c: column_type(c)[1] for c in columns},
                                    null_values=[""], strings_can_be_null=True,
                                    quoted_strings_can_be_null=False)  # "NA" is a name, not a gap
    return pa_csv.open_csv(path, convert_options=options)


def _header(path: Path) -> list[str]:
    """Return the column names on the first line of an export."""
    import csv

    with path.open(encoding="utf-8", newline="") as handle:
        return next(csv.reader(handle))


def split_table(name: str) -> tuple[str | None, str]:
    """Return (schema or None, table) of ``schema.table`` or ``table``.

    >>> split_table("crm.customer_segments"), split_table("customer_segments")
    (('crm', 'customer_segments'), (None, 'customer_segments'))
    """
    schema, _, table = name.strip().rpartition(".")
    return (schema or None), table


def _qualified(name: str) -> str:
    schema, table = split_table(name)
    return f"{quote_identifier(schema)}.{quote_identifier(table)}" if schema else quote_identifier(table)


def _existing_columns(cursor: Any, name: str) -> list[str]:
    cursor.execute(_COLUMNS_SQL, parameters=split_table(name))
    return [column for (column,) in cursor.fetchall()]


def write_table(cursor: Any, path: Path, name: str, mode: str) -> int:
    """Write the rows of export `path` into table `name` (`mode` replace or append); return the rows.

    Runs inside the caller's transaction; nothing is committed here.
    """
    columns = _header(path)
    ddl = ", ".join(f"{quote_identifier(c)} {column_type(c)[0]}" for c in columns)
    if mode == "replace":
        cursor.execute(f"DROP TABLE IF EXISTS {_qualified(name)}")
    cursor.execute(f"CREATE TABLE IF NOT EXISTS {_qualified(name)} ({ddl})")
    existing = _existing_columns(cursor, name)
    if existing != columns:
        raise OutputWriteError(
            f"table {name} has the columns ({', '.join(existing)}), {path.name} has ({', '.join(columns)})",
            "set output.database.mode: replace, or write to another output.database.table")
    schema, table = split_table(name)
    return int(cursor.adbc_ingest(table, read_export(path), mode="append", db_schema_name=schema))


@dataclass
class SegmentsWrite:
    """A written, not yet committed, transaction holding the run's tables.

    Parameters
    ----------
    connection : ADBC connection
        Without autocommit; the transaction is open.
    rows : dict
        Table name -> rows written.
    """

    connection: Any
    rows: dict[str, int] = field(default_factory=dict)

    def commit(self) -> str:
        """Commit the tables; return one line saying what was written. Raises `OutputWriteError`."""
        import adbc_driver_manager

        try:
            self.connection.commit()
        except adbc_driver_manager.Error as exc:
            raise OutputWriteError(f"{KEY}: the database did not commit the tables ({driver_reason(exc)})",
                                   "check the server, then rerun") from None
        finally:
            self.connection.close()
        return "output.database: " + ", ".join(f"{n:,} rows written to {t}" for t, n in self.rows.items())

    def rollback(self) -> None:
        """Undo the writes: the tables stay as they were (safe to call after a failed commit)."""
        try:
            self.connection.rollback()
        except Exception:  # a closed or broken connection rolls back on the server anyway
            pass
        finally:
            self.connection.close()


def discard(pending: SegmentsWrite | None) -> None:
    """Roll back `pending` when there is one (the runner's failure paths)."""
    if pending is not None:
        pending.rollback()


def _write_error(exc: Exception, table: str) -> OutputWriteError:
    """Turn a failed write into one line naming the table and the fix (`WRITE_PROBLEMS`)."""
    state = getattr(exc, "sqlstate", None) or ""
    what, fix = WRITE_PROBLEMS.get(state, ("cannot write the table", "check {key} and output.database"))
    return OutputWriteError(f"{KEY}: {what} writing table {table} ({driver_reason(exc)})", fix.format(key=KEY))


def stage_outputs(params: Mapping[str, Any], run_dir: Path, files: Sequence[tuple[str, str]] = OUTPUT_FILES,
                  ) -> SegmentsWrite | None:
    """Write the run's exports into ``output.database``'s tables, in a transaction left open.

    Parameters
    ----------
    params : mapping
        The run's params (``output.database``: url, table, personas_table, mode).
    run_dir : Path
        The run folder holding ``segments.csv`` and ``personas.csv``.
    files : sequence of (file name, params key of its table), default `OUTPUT_FILES`

    Returns
    -------
    SegmentsWrite or None
        The open transaction, to commit once the run is published; None when
        ``output.database.url`` is null or the run made no ``segments.csv`` (``--only``).

    Raises
    ------
    OutputWriteError
        The server cannot be reached or refuses the write; the transaction is rolled back.
    """
    import adbc_driver_manager

    settings = (params.get("output") or {}).get("database") or {}
    if not str(settings.get("url") or "").strip() or not (Path(run_dir) / files[0][0]).is_file():
        return None
    try:
        connection = open_connection(resolve_url(settings["url"], KEY), KEY, autocommit=False)
    except UserError as exc:
        what, _, fix = str(exc).partition("; fix: ")
        raise OutputWriteError(what, fix or f"check {KEY}") from None
    pending = SegmentsWrite(connection)
    table = ""
    try:
        with connection.cursor() as cursor:
            cursor.execute(_LOCK_TIMEOUT_SQL)
            for name, table_key in files:
                table = str(settings.get(table_key) or "").strip()
                if table and (Path(run_dir) / name).is_file():
                    pending.rows[table] = write_table(cursor, Path(run_dir) / name, table, settings["mode"])
    except adbc_driver_manager.Error as exc:
        pending.rollback()
        raise _write_error(exc, table) from None
    except BaseException:
        pending.rollback()
        raise
    return pending
