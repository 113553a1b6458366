"""The Spark engine: a connection with the small surface the steps use, over a Spark session.

With ``engine.kind: spark`` `helpers.engine.connect` returns a `SparkConnection` instead of
a DuckDB connection. The steps keep calling ``con.execute(sql, params)`` and then
``.df()``, ``.fetchall()`` or ``.fetchone()``, and ``con.register(name, frame)``; the SQL
stays the helpers' one text in DuckDB's dialect, rewritten by `helpers.spark_sql`.

A few statements are DuckDB mechanics rather than queries, and the connection carries them
out itself:

- ``DESCRIBE x`` (and ``SELECT column_name, column_type FROM (DESCRIBE x)``) is answered
  from the Spark schema with DuckDB's type names, so the helpers branch on types alike;
- ``CREATE [OR REPLACE] TEMP TABLE x AS q`` names the cached result of ``q``, and
  ``CREATE TEMP TABLE x (columns)`` an empty one;
- ``DROP TABLE|VIEW [IF EXISTS] [temp.main.]x`` drops the temporary view.

Spark is imported only here, and this module only when a step asks for Spark: pyspark is an
optional extra (``make setup-spark``). The session is shared by the connections of a
process (starting one takes seconds) and started with `REQUIRED_OPTIONS`, which the
results depend on.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlglot import exp

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
    r"\s*(?:SELECT\s+column_name\s*,\s*column_type\s+FROM\s*\(\s*)?DESCRIBE\s+(\w+)\s*\)?\s*", re.IGNORECASE
)


@dataclass(frozen=True)
class SparkSettings:
    """Where Spark runs (``engine.spark.master``) and the options it starts with."""

    master: str = "local[*]"
    options: Mapping[str, str] = field(default_factory=dict)


def duckdb_type(spark_type: str) -> str:
    """Return DuckDB's name for a Spark type.

    >>> duckdb_type("string"), duckdb_type("timestamp_ntz"), duckdb_type("decimal(38,6)")
    ('VARCHAR', 'TIMESTAMP', 'DECIMAL(38,6)')
    """
    return _DUCKDB_TYPES.get(spark_type, spark_type.upper())


def session(settings: SparkSettings) -> Any:
    """Return the process's Spark session, started with `settings` when there is none."""
    from pyspark.sql import SparkSession

    # pyspark 4.3 warns that pandas >= 3 is not fully supported; the paths used here (Arrow
    # toPandas and createDataFrame) give frames equal to DuckDB's (tests/test_spark_engine.py).
    warnings.filterwarnings("ignore", message=".*does not yet fully support pandas.*")
    if settings.master.startswith("sc://"):  # Spark Connect: a remote session
        builder = SparkSession.builder.remote(settings.master)
    else:
        builder = SparkSession.builder.master(settings.master)
    builder = builder.appName("ecommerce-customer-segmentation")
    for key, value in {**REQUIRED_OPTIONS, **settings.options}.items():
        builder = builder.config(key, str(value))
    return builder.getOrCreate()


def normalise(frame: pd.DataFrame) -> pd.DataFrame:
    """Give Spark's ``toPandas()`` columns the dtypes of DuckDB's ``.df()``.

    Timestamps become ``datetime64[us]``; DATE columns, which Spark returns as
    ``datetime.date`` objects, become ``datetime64[us]`` as DuckDB gives them; a text
    column without any value is ``object`` holding None, as DuckDB gives it.
    """
    for i in range(frame.shape[1]):
        column = frame.iloc[:, i]
        if isinstance(column.dtype, pd.StringDtype) and len(column) and column.isna().all():
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
        return pd.DataFrame() if self._frame is None else normalise(self._frame.toPandas())

    def fetchall(self) -> list[tuple[Any, ...]]:
        return [] if self._frame is None else [tuple(row) for row in self._frame.collect()]

    def fetchone(self) -> tuple[Any, ...] | None:
        rows = [] if self._frame is None else self._frame.take(1)
        return tuple(rows[0]) if rows else None


class SparkConnection:
    """The connection surface of the steps (execute, register, unregister, close) on Spark."""

    kind = "spark"

    def __init__(self, spark: Any) -> None:
        self.spark = spark

    def __enter__(self) -> SparkConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> SparkResult:
        """Run one statement of the helpers (DuckDB dialect) on Spark."""
        described = _DESCRIBE.fullmatch(sql)
        if described:
            return SparkResult(self.describe(described.group(1)))
        tree = parse(sql)
        if isinstance(tree, exp.Drop) and tree.args.get("kind") in ("TABLE", "VIEW"):
            for table in tree.args.get("tables") or [tree.this]:
                self.spark.catalog.dropTempView(table.name)  # temp.main.x -> x
            return SparkResult()
        if isinstance(tree, exp.Create) and tree.args.get("kind") == "TABLE":
            return self._create_table(tree, params)
        frame = self.spark.sql(rewrite(tree, params).sql(dialect="spark"))
        return SparkResult(frame if isinstance(tree, exp.Query) else None)

    def _create_table(self, tree: exp.Create, params: Mapping[str, Any] | None) -> SparkResult:
        """``CREATE TEMP TABLE x AS q`` names the cached result of q; ``(columns)`` an empty table."""
        target = tree.this
        if tree.expression is None:
            schema = ", ".join(f"{c.name} {c.args['kind'].sql('spark')}" for c in target.expressions)
            frame = self.spark.createDataFrame([], schema)
            name = target.this.name
        else:
            frame = self.spark.sql(rewrite(tree.expression, params).sql(dialect="spark"))
            name = target.name
        self.spark.catalog.dropTempView(name)  # its cache goes with it
        frame.cache().createOrReplaceTempView(name)
        return SparkResult()

    def describe(self, name: str) -> Any:
        """Return ``column_name, column_type`` of a table or view, with DuckDB's type names."""
        fields = self.spark.table(name).schema.fields
        rows = [(f.name, duckdb_type(f.dataType.simpleString())) for f in fields]
        return self.spark.createDataFrame(rows, "column_name string, column_type string")

    def register(self, name: str, frame: pd.DataFrame) -> None:
        """Make a pandas frame queryable as `name`, as ``duckdb.register`` does."""
        self.spark.createDataFrame(frame).createOrReplaceTempView(name)

    def unregister(self, name: str) -> None:
        self.spark.catalog.dropTempView(name)

    def close(self) -> None:
        """Nothing to free per connection: the session serves the process until it exits."""
