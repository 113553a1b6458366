"""The DuckDB -> Spark SQL rewrite (helpers.spark_sql): binding and each fix-up, without Spark.

Runs wherever sqlglot is installed (``make setup-spark``; CI installs it). What each
rewritten statement *computes* on Spark is checked against DuckDB in test_spark_engine.py.
"""

from __future__ import annotations

import datetime as dt

import pytest

pytest.importorskip("sqlglot")

from helpers.errors import UserError  # noqa: E402
from helpers.spark_sql import FIXUPS, java_format, literal, to_spark  # noqa: E402


def spark(sql: str, **params) -> str:
    return to_spark(sql, params)


def test_parameters_become_typed_literals_and_a_missing_one_is_named():
    sql = spark("SELECT $a, $b, $c, $d, $e FROM read_parquet($path)", a=1.0, b=[1, 2], c=dt.datetime(2011, 1, 2, 3, 4),
                d=False, e=None, path="/data/t.parquet")
    assert sql == ("SELECT CAST(1.0 AS DOUBLE), ARRAY(1, 2), CAST('2011-01-02 03:04:00' AS TIMESTAMP_NTZ), FALSE, NULL "
                   "FROM parquet.`/data/t.parquet`")
    with pytest.raises(KeyError, match=r"\$cut"):
        spark("SELECT $cut")
    with pytest.raises(TypeError, match="object"):
        literal(object())


def test_a_zoned_timestamp_parameter_keeps_its_zone():
    import pandas as pd

    assert literal(pd.Timestamp("2011-01-02 03:04", tz="UTC")).sql("spark") == (
        "CAST('2011-01-02 03:04:00+00:00' AS TIMESTAMP)")


def test_a_float_parameter_keeps_every_digit_and_special_values():
    assert literal(0.1 + 0.2).sql("spark") == "CAST(0.30000000000000004 AS DOUBLE)"
    assert literal(float("inf")).sql("spark") == "CAST('inf' AS DOUBLE)"


@pytest.mark.parametrize(("duckdb_sql", "spark_sql"), [
    # the four silent wrong answers of SQLGlot 30.30 as it is
    ("SELECT isodow(d) FROM t", "SELECT (WEEKDAY(d) + 1) FROM t"),
    (r"SELECT regexp_replace(x, '^(\d+)\.0+$', '\1') FROM t", r"SELECT REGEXP_REPLACE(x, '^(\\d+)\\.0+$', '$1') FROM t"),
    ("SELECT a / b FROM t", "SELECT CAST(a AS DOUBLE) / b FROM t"),
    ("SELECT avg(CASE WHEN r THEN 1.0 ELSE 0.0 END) FROM t",
     "SELECT AVG(CAST(CASE WHEN r THEN 1.0 ELSE 0.0 END AS DOUBLE)) FROM t"),
    # the ones that would fail on Spark
    ("WITH x AS MATERIALIZED (SELECT 1 AS a) SELECT a FROM x", "WITH x AS (SELECT 1 AS a) SELECT a FROM x"),
    ("SELECT first(d ORDER BY n DESC, d) FROM t", "SELECT MIN_BY(d, STRUCT(-(n), d)) FROM t"),
    ("SELECT i FROM range(1, 8) AS days(i)", "SELECT i FROM (SELECT id AS i FROM RANGE(1, 8)) AS days"),
    ("SELECT to_months(k) FROM t", "SELECT MAKE_YM_INTERVAL(0, k) FROM t"),
    ("SELECT isfinite(x) FROM t", "SELECT (NOT ISNAN(x) AND ABS(x) <> CAST('Infinity' AS DOUBLE)) FROM t"),
    ("SELECT GROUPING(a, b) FROM t GROUP BY GROUPING SETS ((a), (b))",
     "SELECT GROUPING_ID(a, b) FROM t GROUP BY GROUPING SETS ((a), (b))"),
    ("SELECT list_position(['a', 'b'], r) FROM t", "SELECT NULLIF(ARRAY_POSITION(ARRAY('a', 'b'), r), 0) FROM t"),
    # xxhash64 skips NULLs: a NULL flag per argument keeps ('x', NULL) and (NULL, 'x') apart
    ("SELECT hash(a, b), CAST(0 AS UBIGINT) FROM t",
     "SELECT XXHASH64(ISNULL(a), a, ISNULL(b), b), CAST(0 AS BIGINT) FROM t"),
    ("SELECT timezone('UTC', CAST(x AS TIMESTAMPTZ)) FROM t", "SELECT CAST(CAST(x AS TIMESTAMP) AS TIMESTAMP_NTZ) FROM t"),
    ("SELECT try_strptime(x, '%d/%m/%Y %H:%M') FROM t",
     "SELECT CAST(TRY_TO_TIMESTAMP(x, 'd/M/yyyy H:m') AS TIMESTAMP_NTZ) FROM t"),
    ("SELECT regexp_full_match(x, '\\d+') FROM t", "SELECT x RLIKE '^(?:\\\\d+)$' FROM t"),
    ("SELECT row_number() OVER () FROM t", "SELECT ROW_NUMBER() OVER (ORDER BY MONOTONICALLY_INCREASING_ID() NULLS LAST) FROM t"),
])
def test_each_fixup_rewrites_what_spark_would_get_wrong(duckdb_sql, spark_sql):
    assert spark(duckdb_sql) == spark_sql


def test_every_fixup_is_pinned_by_a_case_above():
    # A new fix-up needs a case in the table above (and one on Spark in test_spark_engine.py).
    assert len(FIXUPS) == 16


def test_rewriting_twice_gives_the_same_text():
    # Parsing is cached per text: a rewrite must not change the cached tree.
    sql = "SELECT a / b, avg(c), isodow(d) FROM t"
    assert spark(sql) == spark(sql)


def test_a_literal_dollar_in_a_replacement_stays_a_dollar():
    assert spark("SELECT regexp_replace(x, 'a', '$') FROM t") == r"SELECT REGEXP_REPLACE(x, 'a', '\\$') FROM t"


def test_strftime_formats_become_java_patterns_with_letters_quoted():
    assert java_format("%Y-%m-%dT%H:%M:%S%z") == "yyyy-M-d'T'H:m:s[XXX][XX][X]"
    assert java_format("%a %d %b %Y") == "EEE d MMM yyyy"
    # digits run together need fixed widths; two-digit years would read as 20xx on Spark
    assert java_format("%Y%m%d%H%M%S") == "yyyyMMddHHmmss"
    with pytest.raises(UserError, match="two-digit years"):
        java_format("%d.%m.%y")
