"""One SQL text for two engines: the helpers' DuckDB SQL rewritten for Spark SQL with SQLGlot.

The helpers write every transaction-level query once, in DuckDB's dialect. For
``engine.kind: spark`` (`helpers.spark_engine`), `to_spark` turns a statement into Spark
SQL in three steps:

1. parse it with ``read="duckdb"`` (cached per text: the helpers' SQL is a few constants);
2. bind each ``$name`` parameter as the literal DuckDB would have bound (`literal`):
   Spark's own parameter markers take neither lists nor typed timestamps, and SQLGlot
   writes ``read_parquet($path)`` as a table named after the placeholder;
3. apply the fix-ups `FIXUPS`, then generate ``write="spark"``.

Each fix-up is a small rewrite of one node where SQLGlot 30.30's Spark output fails or,
worse, runs and gives a different answer than DuckDB. Four of the second kind were found
in the feasibility study (docs/spark/plan.md): weekday numbers (``isodow``), regular
expression back-references (``regexp_replace``), division and ``avg`` of DECIMAL values
(Spark keeps 6 decimals where DuckDB gives a DOUBLE). `tests/test_spark_sql.py` pins each
one, and the engine-equality tests run the helpers on both engines. SQLGlot is pinned
exactly because a new version can change any of these.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import sqlglot
from sqlglot import exp

from helpers.errors import UserError


def literal(value: Any) -> exp.Expression:
    """Return the SQL literal of a parameter value, typed as DuckDB binds it.

    Examples
    --------
    >>> [literal(v).sql("spark") for v in (None, True, 3, 2.5, "it's", [1, 2])]
    ['NULL', 'TRUE', '3', 'CAST(2.5 AS DOUBLE)', "'it\\\\'s'", 'ARRAY(1, 2)']
    >>> literal(dt.date(2011, 12, 10)).sql("spark")
    "CAST('2011-12-10' AS DATE)"
    """
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int):
        return exp.Literal.number(value)
    if isinstance(value, float):  # always DOUBLE: a bare 2.5 is a DECIMAL in both dialects
        text = repr(value) if math.isfinite(value) else str(value)
        number = exp.Literal.number(text) if math.isfinite(value) else exp.Literal.string(text)
        return exp.cast(number, "DOUBLE")
    if isinstance(value, dt.datetime):  # pandas.Timestamp too; naive ones are wall-clock times, as in DuckDB
        kind = exp.DataType.Type.TIMESTAMPTZ if value.tzinfo else exp.DataType.Type.TIMESTAMPNTZ
        return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), exp.DataType(this=kind))
    if isinstance(value, dt.date):
        return exp.cast(exp.Literal.string(value.isoformat()), "DATE")
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, Sequence):
        return exp.Array(expressions=[literal(v) for v in value])
    if hasattr(value, "item"):  # numpy scalars
        return literal(value.item())
    raise TypeError(f"no SQL literal for a {type(value).__name__} parameter")


def bind(tree: exp.Expression, params: Mapping[str, Any] | None) -> exp.Expression:
    """Replace every ``$name`` placeholder of `tree` by the literal of ``params[name]``."""
    params = params or {}

    def swap(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder) and node.this:
            if node.this not in params:
                raise KeyError(f"query parameter ${node.this} has no value")
            return literal(params[node.this])
        return node

    return tree.transform(swap)


def _call(node: exp.Expression, name: str) -> bool:
    """True when `node` is a call of a function SQLGlot does not know, named `name`."""
    return isinstance(node, exp.Anonymous) and node.name.lower() == name


def _is_double_cast(node: exp.Expression) -> bool:
    return isinstance(node, exp.Cast) and node.to.this == exp.DataType.Type.DOUBLE


def fix_materialized(node: exp.Expression) -> exp.Expression:
    """``WITH x AS [NOT] MATERIALIZED (...)``: Spark has no such hint; drop it."""
    if isinstance(node, exp.CTE) and node.args.get("materialized") is not None:
        node.set("materialized", None)
    return node


def fix_first_ordered(node: exp.Expression) -> exp.Expression:
    """``first(x ORDER BY k1 DESC, k2)`` -> ``min_by(x, struct(-k1, k2))``.

    Spark has no ordered aggregates; structs compare field by field. A DESC key is negated,
    so it must be numeric (the helpers' uses are counts).
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


def fix_range_table(node: exp.Expression) -> exp.Expression:
    """``FROM range(a, b) AS t(col)`` -> ``FROM (SELECT id AS col FROM range(a, b)) AS t``.

    SQLGlot writes ``EXPLODE(SEQUENCE(...))`` with the alias, which Spark cannot resolve.
    """
    if isinstance(node, exp.Table) and isinstance(node.this, exp.GenerateSeries):
        series, alias = node.this, node.args.get("alias")
        column = alias.columns[0].name if alias is not None and alias.columns else "range"
        start, stop = series.args["start"].sql("spark"), series.args["end"].sql("spark")
        if not series.args.get("is_end_exclusive"):
            stop = f"({stop}) + 1"
        select = sqlglot.parse_one(f"SELECT id AS {column} FROM range({start}, {stop})", read="spark")
        name = alias.name if alias is not None and alias.name else "r"
        return exp.Subquery(this=select, alias=exp.TableAlias(this=exp.to_identifier(name)))
    return node


def fix_isodow(node: exp.Expression) -> exp.Expression:
    """``isodow(d)`` -> ``weekday(d) + 1`` (Monday 1). SQLGlot's ``(DAYOFWEEK(d) % 7) + 1`` runs
    and makes Monday 3: every weekday would be wrong."""
    if isinstance(node, exp.DayOfWeekIso):
        weekday = exp.Anonymous(this="weekday", expressions=[node.this.copy()])
        return exp.paren(exp.Add(this=weekday, expression=exp.Literal.number(1)))
    return node


def fix_to_months(node: exp.Expression) -> exp.Expression:
    """``to_months(k)`` -> ``make_ym_interval(0, k)``."""
    if _call(node, "to_months"):
        return exp.Anonymous(this="make_ym_interval", expressions=[exp.Literal.number(0), node.expressions[0].copy()])
    return node


def fix_isfinite(node: exp.Expression) -> exp.Expression:
    """``isfinite(x)`` -> ``(NOT isnan(x) AND abs(x) <> 'Infinity')``: Spark has no isfinite."""
    if _call(node, "isfinite"):
        value = node.expressions[0]
        infinity = exp.cast(exp.Literal.string("Infinity"), "DOUBLE")
        return exp.paren(exp.and_(
            exp.not_(exp.Anonymous(this="isnan", expressions=[value.copy()])),
            exp.NEQ(this=exp.Abs(this=value.copy()), expression=infinity),
        ))
    return node


def fix_grouping(node: exp.Expression) -> exp.Expression:
    """``GROUPING(a, b, c)`` -> ``grouping_id(a, b, c)``: Spark's GROUPING takes one column, and
    grouping_id orders the bits as DuckDB does (the first column is the highest bit)."""
    if isinstance(node, exp.Grouping) and len(node.expressions) > 1:
        return exp.Anonymous(this="grouping_id", expressions=[e.copy() for e in node.expressions])
    return node


def fix_list_position(node: exp.Expression) -> exp.Expression:
    """``list_position(list, x)`` -> ``NULLIF(array_position(list, x), 0)`` (NULL when absent)."""
    if _call(node, "list_position"):
        position = exp.Anonymous(this="array_position", expressions=[e.copy() for e in node.expressions])
        return exp.func("NULLIF", position, exp.Literal.number(0))
    return node


def fix_hash(node: exp.Expression) -> exp.Expression:
    """``hash(a, b)`` -> ``xxhash64(isnull(a), a, isnull(b), b)``; unsigned types -> BIGINT.

    Both are 64-bit hashes; the values differ, and the helpers only compare them for
    equality. Spark's xxhash64 skips NULL arguments (``('x', NULL)`` and ``(NULL, 'x')`` hash
    alike, so two different lines would be exact duplicates); a NULL flag per argument keeps
    them apart, as DuckDB's hash does.
    """
    if _call(node, "hash"):
        arguments = []
        for argument in node.expressions:
            arguments += [exp.Anonymous(this="isnull", expressions=[argument.copy()]), argument.copy()]
        return exp.Anonymous(this="xxhash64", expressions=arguments)
    if isinstance(node, exp.DataType) and node.this in (exp.DataType.Type.UBIGINT, exp.DataType.Type.UINT):
        return exp.DataType.build("BIGINT")
    return node


def fix_div_double(node: exp.Expression) -> exp.Expression:
    """``a / b`` -> ``CAST(a AS DOUBLE) / b``. DuckDB's ``/`` always gives a DOUBLE; Spark keeps
    DECIMAL / BIGINT as a DECIMAL with 6 decimals (a CLV input came out as 164.743333)."""
    if isinstance(node, exp.Div) and not _is_double_cast(node.this):
        node.set("this", exp.cast(node.this.copy(), "DOUBLE"))
    return node


def fix_avg_double(node: exp.Expression) -> exp.Expression:
    """``avg(x)`` -> ``avg(CAST(x AS DOUBLE))``: DuckDB's avg of a DECIMAL is a DOUBLE, Spark's
    stays DECIMAL (a return share of 0.0303 instead of 0.030303...)."""
    if isinstance(node, exp.Avg) and not _is_double_cast(node.this):
        node.set("this", exp.cast(node.this.copy(), "DOUBLE"))
    return node


def fix_timezone_utc(node: exp.Expression) -> exp.Expression:
    """``timezone('UTC', t)`` -> ``CAST(t AS TIMESTAMP_NTZ)``: the UTC wall clock, since the
    session time zone is UTC (`helpers.spark_engine.REQUIRED_OPTIONS`)."""
    if _call(node, "timezone") and len(node.expressions) == 2:
        zone, value = node.expressions
        if isinstance(zone, exp.Literal) and zone.this.upper() == "UTC":
            return exp.cast(value.copy(), "TIMESTAMP_NTZ")
    return node


# strftime directives -> Java DateTimeFormatter patterns, as lenient as DuckDB's strptime
# (%d takes one or two digits: 'd', not 'dd'); other letters are quoted. A number directly
# next to another (%Y%m%d) takes its fixed width, or Java cannot tell where it ends.
_JAVA_PATTERNS = {"%Y": "yyyy", "%m": "M", "%d": "d", "%H": "H", "%M": "m", "%S": "s",
                  "%f": "SSSSSS", "%z": "[XXX][XX][X]", "%Z": "z", "%b": "MMM", "%B": "MMMM",
                  "%a": "EEE", "%A": "EEEE", "%p": "a", "%I": "h", "%j": "D", "%%": "%"}
_FIXED_WIDTH = {"%m": "MM", "%d": "dd", "%H": "HH", "%M": "mm", "%S": "ss", "%I": "hh", "%j": "DDD"}
_NUMBERS = {"%Y", "%m", "%d", "%H", "%M", "%S", "%f", "%I", "%j"}


def java_format(strftime_format: str) -> str:
    """Return the Java date pattern of a strftime format.

    >>> java_format("%d/%m/%Y %H:%M"), java_format("%Y-%m-%dT%H"), java_format("%Y%m%d %H%M")
    ('d/M/yyyy H:m', "yyyy-M-d'T'H", 'yyyyMMdd HHmm')
    """
    if "%y" in strftime_format:
        raise UserError(
            f"input date format {strftime_format!r} has two-digit years (%y), which Spark reads as 20xx "
            "where DuckDB reads 1969-2068; fix: use %Y, or set engine.kind: duckdb"
        )
    tokens = re.findall(r"%.|.", strftime_format, flags=re.DOTALL)
    out = []
    for i, token in enumerate(tokens):
        if token in _JAVA_PATTERNS:
            glued = token in _NUMBERS and ((i + 1 < len(tokens) and tokens[i + 1] in _NUMBERS)
                                           or (i > 0 and tokens[i - 1] in _NUMBERS))
            out.append(_FIXED_WIDTH.get(token, _JAVA_PATTERNS[token]) if glued else _JAVA_PATTERNS[token])
        else:
            out.append(f"'{token}'" if token.isalpha() else ("''" if token == "'" else token))
    return "".join(out)


def fix_strptime(node: exp.Expression) -> exp.Expression:
    """``try_strptime(x, fmt)`` -> ``CAST(try_to_timestamp(x, java) AS TIMESTAMP_NTZ)``."""
    if _call(node, "try_strptime") or _call(node, "strptime"):
        value, fmt = node.expressions
        function = "try_to_timestamp" if node.name.lower() == "try_strptime" else "to_timestamp"
        parsed = exp.Anonymous(this=function, expressions=[value.copy(), exp.Literal.string(java_format(fmt.this))])
        return exp.cast(parsed, "TIMESTAMP_NTZ")
    return node


def fix_regexp_full_match(node: exp.Expression) -> exp.Expression:
    """``regexp_full_match(x, re)`` -> ``x RLIKE '^(?:re)$'``."""
    if isinstance(node, exp.RegexpFullMatch):
        pattern = exp.Literal.string(f"^(?:{node.expression.this})$")
        return exp.RegexpLike(this=node.this.copy(), expression=pattern)
    return node


def fix_regexp_replace(node: exp.Expression) -> exp.Expression:
    """Back-references ``\\1`` -> ``$1`` in a replacement; a literal ``$`` escaped.

    Java reads ``\\1`` as the digit 1, so the id ``17850.0`` would have become ``1``.
    """
    if isinstance(node, exp.RegexpReplace):
        replacement = node.args.get("replacement")
        if isinstance(replacement, exp.Literal) and replacement.is_string:
            text = re.sub(r"\\(\d)", r"$\1", replacement.this.replace("$", "\\$"))
            node.set("replacement", exp.Literal.string(text))
    return node


def fix_unordered_row_number(node: exp.Expression) -> exp.Expression:
    """``row_number() OVER ()`` -> ``... OVER (ORDER BY monotonically_increasing_id())``: file
    order, which Spark only gives when asked (one partition: for customer tables, not lines)."""
    if (isinstance(node, exp.Window) and isinstance(node.this, exp.RowNumber)
            and not node.args.get("order") and not node.args.get("partition_by")):
        order_key = exp.Ordered(this=exp.Anonymous(this="monotonically_increasing_id"))
        node.set("order", exp.Order(expressions=[order_key]))
    return node


FIXUPS: dict[str, Callable[[exp.Expression], exp.Expression]] = {
    "materialized": fix_materialized,
    "first_ordered": fix_first_ordered,
    "range_table": fix_range_table,
    "isodow": fix_isodow,
    "to_months": fix_to_months,
    "isfinite": fix_isfinite,
    "grouping": fix_grouping,
    "list_position": fix_list_position,
    "hash": fix_hash,
    "div_double": fix_div_double,
    "avg_double": fix_avg_double,
    "timezone_utc": fix_timezone_utc,
    "strptime": fix_strptime,
    "regexp_full_match": fix_regexp_full_match,
    "regexp_replace": fix_regexp_replace,
    "unordered_row_number": fix_unordered_row_number,
}


@lru_cache(maxsize=1024)
def _parsed(sql: str) -> exp.Expression:
    return sqlglot.parse_one(sql, read="duckdb")


def parse(sql: str) -> exp.Expression:
    """Return a fresh copy of the parsed DuckDB statement (parsing is cached per text)."""
    return _parsed(sql).copy()


def rewrite(tree: exp.Expression, params: Mapping[str, Any] | None = None) -> exp.Expression:
    """Bind the parameters of a parsed DuckDB statement and apply every fix-up."""
    tree = bind(tree, params)
    for fixup in FIXUPS.values():
        tree = tree.transform(fixup)
    return tree


def to_spark(sql: str, params: Mapping[str, Any] | None = None) -> str:
    """Return one DuckDB statement as Spark SQL, with its parameters bound as literals.

    Examples
    --------
    >>> to_spark("SELECT isodow(d) AS day, a / n AS share FROM read_parquet($path)", {"path": "/x.parquet"})
    'SELECT (WEEKDAY(d) + 1) AS day, CAST(a AS DOUBLE) / n AS share FROM parquet.`/x.parquet`'
    """
    return rewrite(parse(sql), params).sql(dialect="spark")
