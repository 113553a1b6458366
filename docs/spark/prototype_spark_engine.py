"""Prototype: a DuckDB-connection-like adapter over a Spark session (issue #18 feasibility).

The steps call ``con.execute(sql, params).df() / .fetchall() / .fetchone()``,
``con.register(name, frame)``, ``con.unregister(name)`` and ``con.close()``. `SparkConnection`
offers exactly that surface, so helpers keep ONE SQL text (DuckDB dialect) and the
adapter transpiles it with SQLGlot:

1. parse with ``read="duckdb"`` (cached per SQL text: the constants are fixed);
2. bind ``$name`` parameters as typed literals in the AST (Spark SQL has named parameter
   markers too, ``spark.sql(sql, args=...)``, but not for every type we pass: lists and
   datetimes go in as literals anyway, so one path for all);
3. apply the dialect fix-ups `FIXUPS` (each one a small AST rewrite for a gap found in the
   study, see docs/spark/plan.md);
4. generate ``write="spark"`` and run ``spark.sql``.

A feasibility prototype kept for issue 18: not part of the helpers package, not imported or
tested by CI; the design and its measured gaps are in docs/spark/plan.md.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import pandas as pd
import sqlglot
from sqlglot import exp

# ----------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class SparkSettings:
    """``engine.spark`` params: master URL and free-form Spark options."""

    master: str = "local[*]"
    options: Mapping[str, str] = field(default_factory=dict)
    app_name: str = "ecomseg"

    @classmethod
    def from_params(cls, params: Mapping[str, Any] | None) -> SparkSettings:
        spark = ((params or {}).get("engine") or {}).get("spark") or {}
        return cls(master=str(spark.get("master") or "local[*]"),
                   options={str(k): str(v) for k, v in (spark.get("options") or {}).items()})


# Options the kit needs for DuckDB-equal results, set before the user's options.
REQUIRED_OPTIONS = {
    # timestamps in the Parquet are zone-less (TIMESTAMP_NTZ); literals and casts to
    # TIMESTAMP (LTZ) must not shift them: evaluate everything in UTC.
    "spark.sql.session.timeZone": "UTC",
    # DuckDB integer / integer is a double; Spark's `/` already is. ANSI on (the 4.x
    # default) makes bad casts fail, as DuckDB's CAST does; TRY_CAST stays lenient.
    "spark.sql.ansi.enabled": "true",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.ui.enabled": "false",
}


def spark_session(settings: SparkSettings):
    from pyspark.sql import SparkSession

    import warnings

    # PySpark 4.3 warns that pandas >= 3 is not fully supported; every path used here
    # (Arrow toPandas / createDataFrame) gave DuckDB-identical frames in the study.
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
    if settings.master.startswith("sc://"):  # Spark Connect: no SparkContext, no RDD API
        builder = SparkSession.builder.remote(settings.master)
    else:
        builder = SparkSession.builder.master(settings.master)
    builder = builder.appName(settings.app_name)
    for key, value in {**REQUIRED_OPTIONS, **settings.options}.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


# ----------------------------------------------------------------------------- literals


def literal(value: Any) -> exp.Expression:
    """A Python parameter value as the SQL literal DuckDB would have bound."""
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int):
        return exp.Literal.number(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return exp.cast(exp.Literal.string(str(value)), "DOUBLE")
        return exp.cast(exp.Literal.number(repr(value)), "DOUBLE")  # DOUBLE, never DECIMAL
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        return exp.cast(exp.Literal.string(pd.Timestamp(value).isoformat(sep=" ")), "TIMESTAMP")
    if isinstance(value, dt.date):
        return exp.cast(exp.Literal.string(value.isoformat()), "DATE")
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, Sequence):
        return exp.Array(expressions=[literal(v) for v in value])
    raise TypeError(f"no SQL literal for {type(value).__name__}")


def bind(tree: exp.Expression, params: Mapping[str, Any] | None) -> exp.Expression:
    """Replace every ``$name`` placeholder by its value's literal."""
    params = params or {}

    def swap(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder) and node.this:
            if node.this not in params:
                raise KeyError(f"missing query parameter ${node.this}")
            return literal(params[node.this])
        return node

    return tree.transform(swap)


# ----------------------------------------------------------------------------- fix-ups
# Each fix-up rewrites the DuckDB AST where SQLGlot's Spark output is wrong or missing.
# Names are used in the plan's table.


def _fn(node: exp.Expression, name: str) -> bool:
    return isinstance(node, exp.Anonymous) and node.name.lower() == name


def _fix_materialized(node: exp.Expression) -> exp.Expression:
    """WITH x AS [NOT] MATERIALIZED (...) -> WITH x AS (...): Spark has no such hint."""
    if isinstance(node, exp.CTE) and node.args.get("materialized") is not None:
        node.set("materialized", None)
    return node


def _fix_first_ordered(node: exp.Expression) -> exp.Expression:
    """first(x ORDER BY k1 DESC, k2) -> min_by(x, struct(-k1, k2)).

    Spark has no ordered aggregates; struct keys compare field by field. A DESC key is
    negated, so it must be numeric (true for the kit's three uses: line counts).
    """
    if isinstance(node, exp.First) and isinstance(node.this, exp.Order):
        order = node.this
        keys = []
        for ordered in order.expressions:
            key = ordered.this.copy()
            keys.append(exp.Neg(this=exp.paren(key)) if ordered.args.get("desc") else key)
        struct = exp.Anonymous(this="struct", expressions=keys)
        return exp.Anonymous(this="min_by", expressions=[order.this.copy(), struct])
    return node


def _fix_range_table(node: exp.Expression) -> exp.Expression:
    """FROM range(a, b) AS t(col) -> FROM (SELECT id AS col FROM range(a, b)) AS t.

    SQLGlot turns it into EXPLODE(SEQUENCE(...), _u(t)), which Spark cannot resolve.
    """
    if isinstance(node, exp.Table) and isinstance(node.this, exp.GenerateSeries):
        series, alias = node.this, node.args.get("alias")
        column = alias.columns[0].name if alias is not None and alias.columns else "range"
        start = series.args["start"].sql("spark")
        stop = series.args["end"].sql("spark")
        if not series.args.get("is_end_exclusive"):
            stop = f"({stop}) + 1"
        sub = sqlglot.parse_one(f"(SELECT id AS {column} FROM range({start}, {stop}))", read="spark")
        return exp.Subquery(this=sub.this if isinstance(sub, exp.Subquery) else sub,
                            alias=exp.TableAlias(this=exp.to_identifier(alias.name if alias else "r")))
    return node


def _fix_isodow(node: exp.Expression) -> exp.Expression:
    """isodow(d) -> weekday(d) + 1. SQLGlot writes (DAYOFWEEK(d) % 7) + 1, which makes
    Sunday 2 and Saturday 1 (Spark's dayofweek is 1 = Sunday): wrong days."""
    if type(node).__name__ == "DayOfWeekIso":
        return exp.paren(exp.Add(this=exp.Anonymous(this="weekday", expressions=[node.this.copy()]),
                                 expression=exp.Literal.number(1)))
    return node


def _fix_to_months(node: exp.Expression) -> exp.Expression:
    """to_months(k) -> make_ym_interval(0, k) (timestamp + year-month interval)."""
    if _fn(node, "to_months"):
        return exp.Anonymous(this="make_ym_interval", expressions=[exp.Literal.number(0), node.expressions[0].copy()])
    return node


def _fix_isfinite(node: exp.Expression) -> exp.Expression:
    """isfinite(x) -> (NOT isnan(x) AND abs(x) <> 'Infinity'): no isfinite in Spark."""
    if _fn(node, "isfinite"):
        x = node.expressions[0]
        return exp.paren(exp.and_(
            exp.not_(exp.Anonymous(this="isnan", expressions=[x.copy()])),
            exp.NEQ(this=exp.Abs(this=x.copy()), expression=exp.cast(exp.Literal.string("Infinity"), "DOUBLE")),
        ))
    return node


def _fix_grouping(node: exp.Expression) -> exp.Expression:
    """GROUPING(a, b, c) -> grouping_id(a, b, c): Spark's GROUPING takes one column;
    grouping_id has DuckDB's bit order (first column = highest bit)."""
    if isinstance(node, exp.Grouping) and len(node.expressions) > 1:
        return exp.Anonymous(this="grouping_id", expressions=[e.copy() for e in node.expressions])
    return node


def _fix_list_position(node: exp.Expression) -> exp.Expression:
    """list_position(list, x) -> NULLIF(array_position(list, x), 0) (DuckDB: NULL when absent)."""
    if _fn(node, "list_position"):
        return exp.func("NULLIF", exp.Anonymous(this="array_position", expressions=node.expressions),
                        exp.Literal.number(0))
    return node


def _fix_hash(node: exp.Expression) -> exp.Expression:
    """hash(...) -> xxhash64(...) (64 bits like DuckDB's; values differ, only equality is used);
    UBIGINT/UINTEGER -> DECIMAL(20, 0)/BIGINT (Spark has no unsigned types)."""
    if _fn(node, "hash"):
        return exp.Anonymous(this="xxhash64", expressions=node.expressions)
    if isinstance(node, exp.DataType) and node.this in (exp.DataType.Type.UBIGINT,):
        return exp.DataType.build("BIGINT")
    if isinstance(node, exp.DataType) and node.this in (exp.DataType.Type.UINT,):
        return exp.DataType.build("BIGINT")
    return node


def _histogram_sql(v: exp.Expression, edges: exp.Expression, cond: exp.Expression | None) -> exp.Expression:
    e, vs = edges.sql("spark"), v.sql("spark")
    bucket = f"coalesce(element_at(filter({e}, x -> x >= {vs}), 1), {vs})"
    if cond is not None:
        bucket = f"CASE WHEN {cond.sql('spark')} THEN {bucket} END"  # collect_list skips NULL
    sql = (f"map_from_entries(transform(array_distinct(collect_list({bucket})), "
           f"k -> struct(k, size(filter(collect_list({bucket}), y -> y = k)))))")
    return sqlglot.parse_one(sql, read="spark")


def _fix_histogram(node: exp.Expression) -> exp.Expression:
    """histogram(v, edges) [FILTER (WHERE c)] -> a map right edge -> count built from
    collect_list (DuckDB keys a value by the smallest edge >= v; above the last edge, by itself).

    Holds every value of the group in one array: fine for per-order values at fixture
    scale, NOT at 100M lines; the plan proposes a portable rewrite of the helper instead."""
    if isinstance(node, exp.Filter) and _fn(node.this, "histogram"):
        v, edges = node.this.expressions
        return _histogram_sql(v, edges, node.expression.this)
    if _fn(node, "histogram"):
        v, edges = node.expressions
        return _histogram_sql(v, edges, None)
    return node


def _fix_div_double(node: exp.Expression) -> exp.Expression:
    """a / b -> CAST(a AS DOUBLE) / b. DuckDB's `/` is always DOUBLE (DECIMAL / BIGINT too);
    Spark keeps DECIMAL and rounds to 6 decimals (clv monetary_value was 164.743333)."""
    if isinstance(node, exp.Div) and not node.args.get("_doubled"):
        left = node.this
        if not (isinstance(left, exp.Cast) and left.to.this == exp.DataType.Type.DOUBLE):
            node.set("this", exp.cast(left.copy(), "DOUBLE"))
    return node


def _fix_timezone_utc(node: exp.Expression) -> exp.Expression:
    """timezone('UTC', tstz) -> CAST(tstz AS TIMESTAMP_NTZ): the UTC wall clock, since the
    session time zone is UTC (REQUIRED_OPTIONS). No TIMEZONE function in Spark."""
    if _fn(node, "timezone") and len(node.expressions) == 2:
        zone, value = node.expressions
        if isinstance(zone, exp.Literal) and zone.this.upper() == "UTC":
            return exp.cast(value.copy(), "TIMESTAMP_NTZ")
    return node


# strftime directive -> Java DateTimeFormatter letters, lenient widths as DuckDB's strptime
# (%d takes 1 or 2 digits: 'd', not 'dd'). Letters outside directives are quoted.
_JAVA = {"%Y": "yyyy", "%y": "yy", "%m": "M", "%d": "d", "%H": "H", "%M": "m", "%S": "s",
         "%f": "SSSSSS", "%z": "[XXX][XX][X]", "%Z": "z", "%b": "MMM", "%B": "MMMM", "%p": "a",
         "%I": "h", "%j": "D", "%%": "%"}


def java_format(fmt: str) -> str:
    out, i = [], 0
    while i < len(fmt):
        two = fmt[i:i + 2]
        if two in _JAVA:
            out.append(_JAVA[two])
            i += 2
            continue
        ch = fmt[i]
        out.append(f"'{ch}'" if ch.isalpha() else ("''" if ch == "'" else ch))
        i += 1
    return "".join(out)


def _fix_strptime(node: exp.Expression) -> exp.Expression:
    """try_strptime(x, fmt) -> try_to_timestamp(x, java fmt) (sqlglot leaves it as is; its
    own StrToTime mapping writes 'T' unquoted, which Java rejects)."""
    if _fn(node, "try_strptime") or _fn(node, "strptime"):
        value, fmt = node.expressions
        func = "try_to_timestamp" if node.name.lower() == "try_strptime" else "to_timestamp"
        return exp.cast(exp.Anonymous(this=func, expressions=[value.copy(), exp.Literal.string(java_format(fmt.this))]),
                        "TIMESTAMP_NTZ")
    return node


def _fix_regexp_full_match(node: exp.Expression) -> exp.Expression:
    """regexp_full_match(x, 're') -> x RLIKE '^(?:re)$'."""
    if type(node).__name__ == "RegexpFullMatch":
        value, pattern = node.this, node.expression
        return exp.RegexpLike(this=value.copy(), expression=exp.Literal.string(f"^(?:{pattern.this})$"))
    return node


def _fix_regexp_replace(node: exp.Expression) -> exp.Expression:
    """regexp_replace(x, re, '\\1') -> Java replacement '$1' (Java reads \\1 as a literal 1:
    17850.0 became '1'); a literal '$' is escaped."""
    if isinstance(node, exp.RegexpReplace):
        repl = node.args.get("replacement")
        if isinstance(repl, exp.Literal) and repl.is_string:
            text = repl.this.replace("$", "\\$")
            text = re.sub(r"\\(\d)", r"$\1", text)
            node.set("replacement", exp.Literal.string(text))
    return node


def _fix_avg_double(node: exp.Expression) -> exp.Expression:
    """avg(x) -> avg(CAST(x AS DOUBLE)): DuckDB's avg is DOUBLE for DECIMAL input (1.0 is a
    DECIMAL literal); Spark's stays DECIMAL with 4 more decimals (0.0303 vs 0.030303...)."""
    if isinstance(node, exp.Avg) and not (isinstance(node.this, exp.Cast) and node.this.to.this == exp.DataType.Type.DOUBLE):
        node.set("this", exp.cast(node.this.copy(), "DOUBLE"))
    return node


def _fix_unordered_row_number(node: exp.Expression) -> exp.Expression:
    """row_number() OVER () -> row_number() OVER (ORDER BY monotonically_increasing_id()):
    Spark requires an order; the id grows with the file's partitions, so this is file order
    (one single-partition window: fine for a customer table, not for 100M lines)."""
    if isinstance(node, exp.Window) and isinstance(node.this, exp.RowNumber) \
            and not node.args.get("order") and not node.args.get("partition_by"):
        node.set("order", exp.Order(expressions=[exp.Ordered(this=exp.Anonymous(this="monotonically_increasing_id"))]))
    return node


FIXUPS: dict[str, Callable[[exp.Expression], exp.Expression]] = {
    "materialized": _fix_materialized,
    "first_ordered": _fix_first_ordered,
    "range_table": _fix_range_table,
    "isodow": _fix_isodow,
    "to_months": _fix_to_months,
    "isfinite": _fix_isfinite,
    "grouping": _fix_grouping,
    "list_position": _fix_list_position,
    "hash": _fix_hash,
    "histogram": _fix_histogram,
    "div_double": _fix_div_double,
    "timezone_utc": _fix_timezone_utc,
    "strptime": _fix_strptime,
    "regexp_full_match": _fix_regexp_full_match,
    "regexp_replace": _fix_regexp_replace,
    "avg_double": _fix_avg_double,
    "unordered_row_number": _fix_unordered_row_number,
}


def _apply_all(fixups: Sequence[str] | None) -> Callable[[exp.Expression], exp.Expression]:
    names = list(FIXUPS if fixups is None else fixups)

    def apply(node: exp.Expression) -> exp.Expression:
        for name in names:
            node = FIXUPS[name](node)
        return node

    return apply


@lru_cache(maxsize=512)
def _parse(sql: str) -> exp.Expression:
    return sqlglot.parse_one(sql, read="duckdb")


def to_spark(sql: str, params: Mapping[str, Any] | None = None, fixups: Sequence[str] | None = None) -> str:
    """Transpile one DuckDB statement to Spark SQL with parameters bound as literals."""
    tree = bind(_parse(sql).copy(), params)
    for name in (FIXUPS if fixups is None else fixups):
        tree = tree.transform(FIXUPS[name])
    return tree.sql(dialect="spark")


# ----------------------------------------------------------------------------- connection


class SparkResult:
    """What ``con.execute(...)`` returns: .df(), .fetchall(), .fetchone()."""

    def __init__(self, frame) -> None:
        self._frame = frame  # a pyspark DataFrame (lazy) or None for statements

    def df(self) -> pd.DataFrame:
        if self._frame is None:
            return pd.DataFrame()
        return normalise(self._frame.toPandas())

    def fetchall(self) -> list[tuple]:
        if self._frame is None:
            return []
        return [tuple(row) for row in self._frame.collect()]

    def fetchone(self) -> tuple | None:
        rows = self._frame.take(1) if self._frame is not None else []
        return tuple(rows[0]) if rows else None


def normalise(frame: pd.DataFrame) -> pd.DataFrame:
    """Make Spark's toPandas dtypes those DuckDB's .df() gives: DATE and TIMESTAMP columns
    as datetime64[us] (Spark gives datetime.date objects for DATE)."""
    for i in range(frame.shape[1]):
        col = frame.iloc[:, i]
        if pd.api.types.is_datetime64_any_dtype(col):
            frame.isetitem(i, col.astype("datetime64[us]"))
        elif col.dtype == object and col.notna().any() and \
                col.map(lambda v: v is None or (isinstance(v, dt.date) and not isinstance(v, dt.datetime))).all():
            frame.isetitem(i, pd.to_datetime(col).astype("datetime64[us]"))
    return frame


_SPARK_TO_DUCK = {"string": "VARCHAR", "double": "DOUBLE", "bigint": "BIGINT", "int": "INTEGER",
                  "boolean": "BOOLEAN", "timestamp": "TIMESTAMP WITH TIME ZONE", "timestamp_ntz": "TIMESTAMP",
                  "date": "DATE", "float": "FLOAT", "smallint": "SMALLINT", "tinyint": "TINYINT"}


def duck_type(spark_type: str) -> str:
    """Spark simpleString type -> the DuckDB type name the helpers branch on."""
    if spark_type.startswith("decimal"):
        return spark_type.upper().replace("DECIMAL", "DECIMAL")
    return _SPARK_TO_DUCK.get(spark_type, spark_type.upper())


def _described_relation(sql: str) -> str | None:
    """The relation of `DESCRIBE x` or `SELECT ... FROM (DESCRIBE x)`, else None."""
    found = re.fullmatch(r"\s*(?:SELECT\s+column_name\s*,\s*column_type\s+FROM\s*\(\s*)?DESCRIBE\s+(\w+)\s*\)?\s*",
                         sql, flags=re.IGNORECASE)
    return found.group(1) if found else None


class SparkConnection:
    """The small connection surface the steps use, over a Spark session."""

    def __init__(self, spark, *, fixups: Sequence[str] | None = None) -> None:
        self.spark = spark
        self.fixups = fixups
        self.log: list[tuple[str, float]] = []  # (spark sql, seconds), for the study

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> SparkResult:
        described = _described_relation(sql)
        if described:  # SELECT column_name, column_type FROM (DESCRIBE x) / DESCRIBE x
            return SparkResult(self.describe(described))
        if re.fullmatch(r"\s*SELECT\s+current_setting\('memory_limit'\)\s*", sql, flags=re.I):
            # No DuckDB memory budget: "0 bytes" makes the helpers' size checks pick the
            # portable (non-bitmap) strategies. The real design: an explicit capability.
            return SparkResult(self.spark.createDataFrame([("0 bytes",)], "memory_limit string"))
        tree = _parse(sql)
        if isinstance(tree, exp.Drop) and tree.args.get("kind") in ("TABLE", "VIEW"):
            for table in tree.args.get("tables") or [tree.this]:
                self.spark.catalog.dropTempView(table.name)  # temp.main.x -> x
            return SparkResult(None)
        if isinstance(tree, exp.Create) and tree.args.get("kind") == "TABLE":
            name = tree.this.this.name if isinstance(tree.this, exp.Schema) else tree.this.name
            query = tree.expression
            if query is None:  # CREATE TEMP TABLE x (col TYPE, ...): an empty table
                schema = ", ".join(f"{c.name} {c.args['kind'].sql('spark')}" for c in tree.this.expressions)
                frame = self.spark.createDataFrame([], schema)
            else:
                frame = self.spark.sql(bind(query.copy(), params).transform(_apply_all(self.fixups)).sql("spark"))
            # DuckDB materialises a temp table; Spark: cache (lazy) and name it.
            frame.cache().createOrReplaceTempView(name)
            return SparkResult(None)
        spark_sql = to_spark(sql, params, self.fixups)
        start = time.perf_counter()
        frame = self.spark.sql(spark_sql)
        self.log.append((spark_sql, time.perf_counter() - start))
        is_query = isinstance(_parse(sql), (exp.Query,))
        return SparkResult(frame if is_query else None)

    def register(self, name: str, frame: pd.DataFrame) -> None:
        self.spark.createDataFrame(frame).createOrReplaceTempView(name)

    def describe(self, name: str):
        """column_name, column_type (DuckDB type names) of a view, as a Spark DataFrame."""
        rows = [(f.name, duck_type(f.dataType.simpleString())) for f in self.spark.table(name).schema.fields]
        return self.spark.createDataFrame(rows, "column_name string, column_type string")

    def unregister(self, name: str) -> None:
        self.spark.catalog.dropTempView(name)

    # Inputs and outputs: what DuckDB does with read_csv/read_parquet views and COPY.
    def register_parquet(self, name: str, path: str) -> None:
        self.spark.read.parquet(str(path)).createOrReplaceTempView(name)

    def register_csv(self, name: str, path: str, *, header: bool = True, delimiter: str = ",",
                     encoding: str = "utf-8") -> None:
        # all_varchar = true equivalent: no inferSchema; multiLine for RFC 4180 quoted breaks
        (self.spark.read.option("header", header).option("sep", delimiter).option("encoding", encoding)
         .option("multiLine", True).option("quote", '"').option("escape", '"')
         .csv(str(path)).createOrReplaceTempView(name))

    def write_parquet(self, sql: str, params: Mapping[str, Any] | None, target: str, order_by: str | None = None) -> None:
        """COPY (sql) TO target (FORMAT parquet): one file, optional order (input order = row_id)."""
        frame = self.spark.sql(to_spark(sql, params, self.fixups))
        if order_by:
            frame = frame.orderBy(order_by)
        frame.coalesce(1).write.mode("overwrite").option("compression", "zstd").parquet(str(target))

    def close(self) -> None:
        pass  # the session is shared per process; stop it at exit


def placeholders(sql: str) -> list[str]:
    """Names of the $parameters of a DuckDB statement."""
    return sorted({m.group(1) for m in re.finditer(r"\$([A-Za-z_]\w*)", sql)})
