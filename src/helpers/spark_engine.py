"""The Spark engine: a connection with the small surface the steps use, over a Spark session.

With ``engine.kind: spark`` `helpers.engine.connect` returns a `SparkConnection` instead of
a DuckDB connection. The steps keep calling ``con.execute(sql, params)`` and then
``.df()``, ``.fetchall()`` or ``.fetchone()``, and ``con.register(name, frame)``; the SQL
stays the helpers' one text in DuckDB's dialect, rewritten by `helpers.spark_sql`.

A few statements are DuckDB mechanics rather than queries, and the connection carries them
out itself:

- ``DESCRIBE x`` (and ``SELECT column_name[, column_type] FROM (DESCRIBE x)``) is answered
  from the Spark schema with DuckDB's type names, so the helpers branch on types alike;
- ``CREATE [OR REPLACE] TEMP TABLE x AS q`` names a snapshot of ``q`` (a local checkpoint:
  computed once, and unaffected when a view it read is redefined), and
  ``CREATE TEMP TABLE x (columns)`` an empty one;
- ``CREATE [OR REPLACE] TABLE ecomseg_staging.x AS q`` (01_clean's staged lines) writes ``q``
  to Parquet in the connection's work folder and names it ``x``; the staging database's
  name is dropped wherever a query names its tables;
- ``COPY (q) TO 'file.parquet' (...)`` writes one Parquet file; when ``q`` reads a relation
  with ``row_id`` (the record number), the rows are written in that order, as DuckDB keeps
  insertion order;
- ``DROP TABLE|VIEW [IF EXISTS] [temp.main.]x`` drops the temporary view.

The hidden column `RECORD_COLUMN` plays DuckDB's rowid (an unquoted ``rowid`` in a statement
names it): it numbers the export's records, travels into the staged table, and no DESCRIBE
shows it.
Errors from Spark come out as `SparkQueryError`, with Spark's first line.

Spark is imported only here, and this module only when a step asks for Spark: pyspark is an
optional extra (``make setup-spark``). The session is shared by the connections of a
process (starting one takes seconds) and started with `REQUIRED_OPTIONS`, which the
results depend on.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from sqlglot import exp

from helpers.engine import STAGING_DB, EngineSettings, connect, work_dir
from helpers.errors import SparkQueryError
from helpers.spark_sql import parse, rewrite

# Options the results depend on, set before the user's engine.spark.options.
REQUIRED_OPTIONS = {
    # Parquet timestamps are zone-less; casts and literals must not shift them.
    "spark.sql.session.timeZone": "UTC",
    # Bad casts fail as in DuckDB (TRY_CAST stays lenient); the Spark 4 default, made explicit.
    "spark.sql.ansi.enabled": "true",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.ui.enabled": "false",
}
# Spark's simple type names -> DuckDB's, for the helpers that branch on a column's type.
_DUCKDB_TYPES = {
    "string": "VARCHAR", "double": "DOUBLE", "float": "FLOAT", "bigint": "BIGINT", "int": "INTEGER",
    "smallint": "SMALLINT", "tinyint": "TINYINT", "boolean": "BOOLEAN", "date": "DATE",
    "timestamp": "TIMESTAMP WITH TIME ZONE", "timestamp_ntz": "TIMESTAMP",
}
_DESCRIBE = re.compile(
    r'\s*(SELECT\s+column_name\s*(,\s*column_type\s*)?FROM\s*\(\s*)?DESCRIBE\s+"?([\w.]+?)"?\s*\)?\s*', re.IGNORECASE
)
# The record number's column on Spark: DuckDB's rowid, under a name no export uses (an
# export column named rowid stays an ordinary column, as in DuckDB); the helpers' SQL says
# rowid, and `_record_column` renames it.
RECORD_COLUMN = "__ecomseg_record"


def duckdb_type(spark_type: str) -> str:
    """Return DuckDB's name for a Spark type.

    >>> duckdb_type("string"), duckdb_type("timestamp_ntz"), duckdb_type("decimal(38,6)")
    ('VARCHAR', 'TIMESTAMP', 'DECIMAL(38,6)')
    """
    return _DUCKDB_TYPES.get(spark_type, spark_type.upper())


def session(master: str, options: Mapping[str, str]) -> Any:
    """Return the process's Spark session, started at `master` with `options` (after
    `REQUIRED_OPTIONS`) when there is none."""
    from pyspark.sql import SparkSession

    # pyspark 4.3 warns that pandas >= 3 is not fully supported; the paths used here (Arrow
    # toPandas and createDataFrame) give frames equal to DuckDB's (tests/test_spark_engine.py).
    warnings.filterwarnings("ignore", message=".*does not yet fully support pandas.*")
    if master.startswith("sc://"):  # Spark Connect: a remote session
        builder = SparkSession.builder.remote(master)
    else:
        builder = SparkSession.builder.master(master)
    builder = builder.appName("ecommerce-customer-segmentation")
    # Python workers Spark starts on this machine run this interpreter (the venv), not the first python on PATH.
    local_python = {"spark.pyspark.python": sys.executable} if master.startswith("local") else {}
    for key, value in {**REQUIRED_OPTIONS, **local_python, **options}.items():
        builder = builder.config(key, str(value))
    return builder.getOrCreate()


def normalise(frame: pd.DataFrame) -> pd.DataFrame:
    """Give Spark's ``toPandas()`` columns the dtypes of DuckDB's ``.df()``.

    Timestamps become ``datetime64[us]``; DATE columns, which Spark returns as
    ``datetime.date`` objects, become ``datetime64[us]`` as DuckDB gives them; a text
    column without any value (or without rows) is ``object`` holding None, as DuckDB gives it.
    """
    for i in range(frame.shape[1]):
        column = frame.iloc[:, i]
        if isinstance(column.dtype, pd.StringDtype) and column.isna().all():  # no rows, or no value
            frame.isetitem(i, pd.Series([None] * len(column), index=column.index, dtype=object))
        elif pd.api.types.is_datetime64_any_dtype(column):
            frame.isetitem(i, column.astype("datetime64[us]"))
        elif column.dtype == object and column.notna().any() and column.map(
            lambda v: v is None or (isinstance(v, dt.date) and not isinstance(v, dt.datetime))
        ).all():
            frame.isetitem(i, pd.to_datetime(column).astype("datetime64[us]"))
    return frame


class SparkResult:
    """What `SparkConnection.execute` returns: ``.df()``, ``.fetchall()``, ``.fetchone()``."""

    def __init__(self, frame: Any = None) -> None:
        self._frame = frame  # a lazy pyspark DataFrame; None for a statement without rows

    def df(self) -> pd.DataFrame:
        if self._frame is None:
            return pd.DataFrame()
        frame = self._frame.toPandas()
        frame.attrs.clear()  # Spark Connect leaves its plan metrics there; DuckDB's frames have none
        return normalise(frame)

    def fetchall(self) -> list[tuple[Any, ...]]:
        return [] if self._frame is None else [tuple(row) for row in self._frame.collect()]

    def fetchone(self) -> tuple[Any, ...] | None:
        rows = [] if self._frame is None else self._frame.take(1)
        return tuple(rows[0]) if rows else None


class SparkConnection:
    """The connection surface of the steps (execute, register, unregister, close) on Spark."""

    def __init__(self, spark: Any, local_settings: EngineSettings | None = None) -> None:
        self.spark = spark
        self._local_settings = local_settings or EngineSettings()
        self._local: Any = None

    def __enter__(self) -> SparkConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def local(self) -> Any:
        """The DuckDB connection this connection keeps for files on this machine (sniffing, copies)."""
        if self._local is None:
            self._local = connect(self._local_settings)
        return self._local

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> SparkResult:
        """Run one statement of the helpers (DuckDB dialect) on Spark."""
        try:
            return self._execute(sql, params)
        except Exception as exc:
            if type(exc).__module__.split(".")[0] not in ("pyspark", "py4j"):
                raise
            first = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
            raise SparkQueryError(first.strip()[:300]) from None

    def _execute(self, sql: str, params: Mapping[str, Any] | None) -> SparkResult:
        described = _DESCRIBE.fullmatch(sql)
        if described:
            frame = self.describe(described.group(3).split(".")[-1])
            return SparkResult(frame.select("column_name") if described.group(1) and not described.group(2) else frame)
        tree = parse(sql).transform(_local_name).transform(_record_column)
        if isinstance(tree, exp.Drop) and tree.args.get("kind") in ("TABLE", "VIEW"):
            for table in tree.args.get("tables") or [tree.this]:
                self.spark.catalog.dropTempView(table.name)  # temp.main.x -> x
            return SparkResult()
        if isinstance(tree, exp.Create) and tree.args.get("kind") == "TABLE":
            properties = tree.args.get("properties")
            temporary = properties is not None and any(
                isinstance(p, exp.TemporaryProperty) for p in properties.expressions)
            if temporary or tree.expression is None:
                return self._create_table(tree, params)
            return self._stage_table(tree, params)
        if isinstance(tree, exp.Copy):
            return self._copy(tree, params)
        frame = self.spark.sql(rewrite(tree, params).sql(dialect="spark"))
        return SparkResult(frame if isinstance(tree, exp.Query) else None)

    def _create_table(self, tree: exp.Create, params: Mapping[str, Any] | None) -> SparkResult:
        """``CREATE TEMP TABLE x AS q`` names a snapshot of q; ``(columns)`` an empty table."""
        target = tree.this
        if tree.expression is None:
            schema = ", ".join(f"{c.name} {c.args['kind'].sql('spark')}" for c in target.expressions)
            frame = self.spark.createDataFrame([], schema)
            name = target.this.name
        else:
            frame = self.spark.sql(rewrite(tree.expression, params).sql(dialect="spark"))
            name = target.name
        # A snapshot, as DuckDB's table: computed now, and no longer tied to the views it read.
        frame.localCheckpoint(eager=True).createOrReplaceTempView(name)
        return SparkResult()

    def _stage_table(self, tree: exp.Create, params: Mapping[str, Any] | None) -> SparkResult:
        """``CREATE TABLE x AS q``: q (with ``rowid`` when it reads it) written once to the work folder."""
        name = tree.this.name
        frame, _ = self._frame_keeping(tree.expression, params, RECORD_COLUMN)
        folder = work_dir(self) / f"{name}.parquet"
        frame.write.mode("overwrite").parquet(str(folder))
        self.spark.read.parquet(str(folder)).createOrReplaceTempView(name)
        return SparkResult()

    def _copy(self, tree: exp.Copy, params: Mapping[str, Any] | None) -> SparkResult:
        """``COPY (q) TO 'f.parquet'``: one Parquet file, in ``row_id`` order when q reads it."""
        query = tree.this.this if isinstance(tree.this, exp.Subquery) else exp.select("*").from_(tree.this)
        frame, added = self._frame_keeping(query, params, "row_id")
        if added:
            frame = frame.repartition(1).sortWithinPartitions("row_id").drop("row_id")
        write_one_parquet(frame.coalesce(1), Path(tree.args["files"][0].this))  # one partition, one file
        return SparkResult()

    def _frame_keeping(self, query: exp.Expression, params: Mapping[str, Any] | None, column: str) -> tuple[Any, bool]:
        """The DataFrame of `query`, with `column` added when the relation it reads has it.

        Only for a plain projection of one table (no DISTINCT, GROUP BY, ORDER BY or ``*``),
        where one more column changes no row; the second value says whether it was added.
        """
        source = query.args.get("from_") or query.args.get("from")
        relation = source.this if source is not None else None
        listed = [s.alias_or_name for s in query.expressions]
        plain = isinstance(query, exp.Select) and not any(
            query.args.get(key) for key in ("distinct", "group", "order", "joins", "having", "limit"))
        added = (plain and isinstance(relation, exp.Table) and column not in listed and "*" not in listed
                 and column in self.spark.table(relation.name).columns)
        if added:
            query = query.copy().select(exp.column(column), copy=False)
        return self.spark.sql(rewrite(query, params).sql(dialect="spark")), added

    def describe(self, name: str) -> Any:
        """Return ``column_name, column_type`` of a table or view, with DuckDB's type names."""
        fields = [f for f in self.spark.table(name).schema.fields if f.name != RECORD_COLUMN]
        rows = [(f.name, duckdb_type(f.dataType.simpleString())) for f in fields]
        return self.spark.createDataFrame(rows, "column_name string, column_type string")

    def register_export(self, input_params: Mapping[str, Any]) -> list[str]:
        """Make the view ``source`` over the export (`helpers.spark_sources`); return its column names."""
        from helpers.spark_sources import register_source

        return register_source(self, input_params)

    def mark(self, table: str, column: str, row_ids_table: str) -> None:
        """Give `table` a boolean `column`, true where ``rowid + 1`` is a row_id of `row_ids_table`.

        DuckDB adds the column and updates the few marked rows; here the view is redefined
        with a broadcast join on the record number (the order is the record number's).
        """
        from pyspark.sql import functions as F  # noqa: N812

        name = table.split(".")[-1]
        lines = self.spark.table(name)
        if column in lines.columns:
            lines = lines.drop(column)
        marked = self.spark.table(row_ids_table).select((F.col("row_id") - 1).alias(RECORD_COLUMN)).distinct()
        marked = marked.withColumn(column, F.lit(True))
        lines = lines.join(F.broadcast(marked), on=RECORD_COLUMN, how="left").fillna(False, subset=[column])
        lines.createOrReplaceTempView(name)  # no drop first: over Spark Connect the plan names the view

    def register(self, name: str, frame: pd.DataFrame) -> None:
        """Make a pandas frame queryable as `name`, as ``duckdb.register`` does."""
        self.spark.createDataFrame(frame).createOrReplaceTempView(name)

    def unregister(self, name: str) -> None:
        self.spark.catalog.dropTempView(name)

    def close(self) -> None:
        """Close the local DuckDB connection; the Spark session serves the process until it exits."""
        if self._local is not None:
            self._local.close()
            self._local = None


def _local_name(node: exp.Expression) -> exp.Expression:
    """``ecomseg_staging.lines`` -> ``lines``: the staged tables are views of the session."""
    if isinstance(node, exp.Table) and node.args.get("db") is not None and node.args["db"].name == STAGING_DB:
        table = exp.to_table(node.name)
        table.set("alias", node.args.get("alias"))
        return table
    return node


def _record_column(node: exp.Expression) -> exp.Expression:
    """An unquoted ``rowid`` (DuckDB's record number) -> `RECORD_COLUMN`; a quoted one is an export's."""
    if isinstance(node, exp.Column) and node.name.lower() == "rowid" and not node.this.quoted:
        return exp.column(RECORD_COLUMN, table=node.table or None)
    return node


def write_one_parquet(frame: Any, target: Path) -> None:
    """Write a one-partition DataFrame as the single Parquet file `target` (zstd)."""
    folder = target.with_name(f".{target.name}.spark")
    frame.write.mode("overwrite").option("compression", "zstd").parquet(str(folder))
    parts = sorted(folder.glob("part-*.parquet"))
    if len(parts) != 1:
        raise SparkQueryError(f"{target}: Spark wrote {len(parts)} files instead of one")
    parts[0].replace(target)
    shutil.rmtree(folder, ignore_errors=True)
