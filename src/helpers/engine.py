"""One way to reach the query engine: connections from explicit settings, one quoting helper.

Every DuckDB connection of the steps is made by `connect` from an `EngineSettings` that
the caller builds from the params (``run.memory_limit``, ``run.temp_dir``,
``run.threads``); no helper opens a bare connection and no setting travels through
environment variables. Values reach SQL as DuckDB parameters (``$name``); the few
identifiers and settings that cannot be parameters go through `quote_identifier` and
`quote_literal`.

Each connection gets a private work folder (`work_dir`): DuckDB spills there beyond its
memory limit, and 01_clean stages the export there (the attached database `STAGING_DB`).
The folder is deleted when the connection is garbage-collected or Python exits.

``engine.kind: spark`` makes `connect` return a `helpers.spark_engine.SparkConnection`
instead: the same small interface (``execute(sql, params)`` then ``.df()``, ``.fetchall()``
or ``.fetchone()``; ``register``; ``close``), the same SQL text (rewritten for Spark by
`helpers.spark_sql`). `is_duckdb` tells the few DuckDB-only paths (bitmaps, thread
settings, staging mechanics) which engine they have. Files on this machine that only
DuckDB reads (the preflight's sample, the optional customer and session tables) get a
DuckDB connection on either engine (`EngineSettings.staging`, `local_connection`).
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import duckdb

from helpers.errors import UserError

# 2 GB keeps a 100M-line export within 2.5 GiB per step at about 20% more time than
# half the RAM (bench/run.py): the laptop stays usable, and the work spills to disk.
DEFAULT_MEMORY_LIMIT = "2GB"
STAGING_DB = "ecomseg_staging"  # DuckDB database attached from the work folder
ENGINE_KINDS = ("duckdb", "spark")  # engine.kind
_WORK_DIRS: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, Path] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class EngineSettings:
    """How a step may use the engine.

    Parameters
    ----------
    memory_limit : str, default "2GB"
        A DuckDB size (``"4GB"``) or share of RAM (``"50%"``); beyond it DuckDB spills to disk.
    temp_dir : str, optional
        Folder under which each connection makes its work folder; None = the system temp folder.
    threads : int, optional
        Worker threads; None = DuckDB's default (one per core).
    kind : {"duckdb", "spark"}, default "duckdb"
        The engine of the transaction-level queries (``engine.kind``).
    spark_master : str, default "local[*]"
        Where Spark runs (``engine.spark.master``): ``local[N]``, ``spark://host:port`` or a
        Spark Connect ``sc://host:port``. ``local[*]`` becomes ``local[threads]`` with `threads`.
    spark_options : tuple of (str, str)
        ``engine.spark.options``, any ``spark.*`` setting, e.g. ``spark.driver.memory``.
    """

    memory_limit: str = DEFAULT_MEMORY_LIMIT
    temp_dir: str | None = None
    threads: int | None = None
    kind: str = "duckdb"
    spark_master: str = "local[*]"
    spark_options: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_params(cls, params: Mapping[str, Any] | None) -> EngineSettings:
        """Build the settings from the ``run`` section of the params (defaults when absent).

        Examples
        --------
        >>> EngineSettings.from_params({"run": {"memory_limit": "1GB", "threads": 2}}).threads
        2
        >>> EngineSettings.from_params({"engine": {"kind": "spark", "spark": {"options": {"a": 1}}}}).spark_options
        (('a', '1'),)
        """
        run = (params or {}).get("run") or {}
        engine = (params or {}).get("engine") or {}
        spark = engine.get("spark") or {}
        return cls(
            memory_limit=str(run.get("memory_limit") or DEFAULT_MEMORY_LIMIT),
            temp_dir=run.get("temp_dir") or None,
            threads=run.get("threads") or None,
            kind=str(engine.get("kind") or "duckdb"),
            spark_master=str(spark.get("master") or "local[*]"),
            spark_options=tuple((str(k), str(v)) for k, v in (spark.get("options") or {}).items()),
        )

    def staging(self) -> EngineSettings:
        """Return these settings on DuckDB, for files on this machine that DuckDB reads on
        either engine (the preflight's first rows, `helpers.spark_sources`' sniffing)."""
        return replace(self, kind="duckdb")


def quote_identifier(name: str) -> str:
    """Quote a column or table name for SQL.

    >>> quote_identifier('a"b')
    '"a""b"'
    """
    return '"' + str(name).replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """Quote a text value for SQL where a parameter cannot go (SET, ATTACH, DDL).

    >>> quote_literal("it's")
    "'it''s'"
    """
    return "'" + str(value).replace("'", "''") + "'"


def connect(settings: EngineSettings | None = None) -> Any:
    """Open a DuckDB connection with the memory cap, a spill folder and row order kept.

    With ``settings.kind == "spark"``, return a `helpers.spark_engine.SparkConnection` on
    the process's Spark session instead (`spark_connect`).

    Parameters
    ----------
    settings : EngineSettings, optional
        Default: `EngineSettings()` (2 GB, system temp folder, all cores).

    Raises
    ------
    UserError
        The memory limit is not a size DuckDB understands.

    Examples
    --------
    >>> con = connect(EngineSettings(memory_limit="1GB"))
    >>> con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    '953.6 MiB'
    """
    settings = settings or EngineSettings()
    if settings.kind == "spark":
        return spark_connect(settings)
    if settings.kind not in ENGINE_KINDS:
        raise UserError(f"engine.kind is {settings.kind!r}; fix: set it to duckdb or spark")
    con = duckdb.connect()
    work_dir(con, settings.temp_dir)
    try:
        con.execute(f"SET memory_limit = {quote_literal(settings.memory_limit)}").fetchall()
    except duckdb.Error:
        raise UserError(
            f"memory limit {settings.memory_limit!r} (params key run.memory_limit) is not a size; "
            f"fix: write it like 4GB or 50%"
        ) from None
    if settings.threads:
        con.execute(f"SET threads = {int(settings.threads)}").fetchall()
    # Outputs must come out in input order; DuckDB keeps it only while this is on.
    con.execute("SET preserve_insertion_order = true").fetchall()
    return con


def spark_connect(settings: EngineSettings) -> Any:
    """Return a `helpers.spark_engine.SparkConnection` from `settings` (``engine.kind: spark``).

    ``local[*]`` runs on ``run.threads`` cores when set, and ``run.temp_dir`` is Spark's
    spill folder (``spark.local.dir``) unless the options say otherwise.
    """
    try:
        from helpers import spark_engine
    except ImportError:
        raise UserError(
            "engine.kind is spark but pyspark or sqlglot is not installed; fix: run make setup-spark"
        ) from None
    options = dict(settings.spark_options)
    if settings.temp_dir:
        options.setdefault("spark.local.dir", str(settings.temp_dir))
    master = settings.spark_master
    if master == "local[*]" and settings.threads:
        master = f"local[{int(settings.threads)}]"
    spark = spark_engine.session(master, options)
    con = spark_engine.SparkConnection(spark, local_settings=settings.staging())
    work_dir(con, settings.temp_dir)
    return con


def is_duckdb(con: Any) -> bool:
    """True for a DuckDB connection, False for another engine's (`helpers.spark_engine`)."""
    return isinstance(con, duckdb.DuckDBPyConnection)


def local_connection(con: Any) -> duckdb.DuckDBPyConnection:
    """Return `con` when it is DuckDB's, else the DuckDB connection the Spark one keeps (the run's settings).

    For the files read on this machine on either engine: the optional customer and
    session tables (`helpers.traits`), read with DuckDB's CSV, Excel and Parquet readers.
    """
    return con if is_duckdb(con) else con.local()


def work_dir(con: duckdb.DuckDBPyConnection, temp_dir: str | None = None) -> Path:
    """Return the connection's private work folder (spills and the staging database).

    Made on first use under `temp_dir` (default: the system temp folder); the staging
    database `STAGING_DB` is attached from it; deleted with the connection.
    """
    folder = _WORK_DIRS.get(con)
    if folder is None or not folder.is_dir():
        if temp_dir:
            Path(temp_dir).mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix="ecomseg-", dir=temp_dir or None))
        _WORK_DIRS[con] = folder
        weakref.finalize(con, shutil.rmtree, folder, ignore_errors=True)
        if not is_duckdb(con):  # Spark spills to spark.local.dir; its staged tables are Parquet here
            return folder
        con.execute(f"SET temp_directory = {quote_literal(str(folder / 'spill'))}").fetchall()
        con.execute(f"DETACH DATABASE IF EXISTS {STAGING_DB}").fetchall()
        con.execute(f"ATTACH {quote_literal(str(folder / 'staging.duckdb'))} AS {STAGING_DB}").fetchall()
    return folder


def memory_limit_bytes(con: duckdb.DuckDBPyConnection) -> float:
    """Return the connection's memory limit in bytes (DuckDB shows it as ``'1.8 GiB'``).

    Examples
    --------
    >>> round(memory_limit_bytes(connect(EngineSettings(memory_limit="1GB"))) / 1e9, 3)
    1.0
    """
    (shown,) = con.execute("SELECT current_setting('memory_limit')").fetchall()[0]
    number, unit = str(shown).split()
    powers = {"bytes": 0, "KiB": 1, "MiB": 2, "GiB": 3, "TiB": 4, "KB": 1, "MB": 2, "GB": 3, "TB": 4}
    return float(number) * (1024 if unit.endswith("iB") else 1000) ** powers[unit]


def file_version(path: str | Path) -> tuple[str, int, int, int, int]:
    """What identifies one version of a file, for tables a connection keeps made from it.

    The resolved path, inode, size, modification and change times: a file rewritten in
    place, even with its old size and modification time put back (``os.utime``), or
    replaced by a rename, gets another version (the change time cannot be set back).
    """
    stat = Path(path).stat()
    return str(Path(path).resolve()), stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns


# Temporary tables a connection keeps: name -> what each was made from (`kept_table`).
_KEPT_TABLES: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, dict[str, tuple[Any, ...]]] = (
    weakref.WeakKeyDictionary()
)


def kept_table(con: duckdb.DuckDBPyConnection, name: str, select_sql: str, made_from: tuple[Any, ...],
               params: Mapping[str, Any] | None = None) -> str:
    """Make the temporary table `name` as `select_sql` unless this connection made it from `made_from`.

    `made_from` says what the rows depend on (a `file_version`, a date, a hash of labels): the
    table is made again when it differs, and kept otherwise. Returns `name`.
    """
    made = _KEPT_TABLES.setdefault(con, {})
    if made.get(name) != made_from:
        made.pop(name, None)  # a failed CREATE leaves nothing that looks current
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {select_sql}", params).fetchall()
        made[name] = made_from
    return name


def drop_kept_table(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Free the kept table `name`; `kept_table` makes it again when asked."""
    if _KEPT_TABLES.get(con, {}).pop(name, None) is not None:
        con.execute(f"DROP TABLE IF EXISTS temp.main.{name}").fetchall()
