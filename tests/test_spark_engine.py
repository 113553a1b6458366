"""Engine equality: 01_clean and the transaction-level helpers of 02, 03 and 05 on Spark and DuckDB.

01_clean's sequence runs on both engines over four exports made from a slice of the shipped
export (gzipped CSV, typed Parquet, no invoice ids, semicolons with decimal commas): the
kept lines, the cleaning log and the facts must be exactly equal. Then each helper of 02,
03 and 05 is called unchanged with a DuckDB connection and with a Spark one
(``engine.kind: spark``, a local Spark session started here) over one shop: the cleaned
slice (cancellations, lines without a customer, several countries, a year) plus the hand
fixture of test_eda.py (a customer with only a return, missing descriptions and
countries). Frames must be equal: same columns, dtypes and rows, floats to 1e-9 relative
(unrounded float sums may differ in the last bits between engines; money is rounded to the
cent downstream).

Needs pyspark and Java 17 (``make setup-spark``; CI installs both); skipped without pyspark.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

pytest.importorskip("pyspark")

from conftest import write_params  # noqa: E402
from helpers import (  # noqa: E402  # noqa: E402
    clean,
    clv,
    clv_validation,
    eda,
    eda_cohorts,
    eda_fields,
    eda_histograms,
    engine,
    io,
    persona_rankings,
    rfm,
)
from helpers.config import load_params  # noqa: E402
from helpers.engine import EngineSettings  # noqa: E402
from helpers.errors import UserError  # noqa: E402
from pg_server import SAMPLE_MAPPING, SLICE_ROWS, postgres  # noqa: E402, F401 - the fixture

pytestmark = pytest.mark.slow  # a Spark session: about a minute in all

ROOT = Path(__file__).resolve().parents[1]
# The shipped export's lines of the customers whose id ends in SLICE_ENDING (about 1 in 100,
# with every cancellation of theirs) and 1 in 100 lines without a customer: a year of data.
SLICE_ENDING = "35"


@pytest.fixture(scope="module")
def spark_con():
    settings = EngineSettings(kind="spark", spark_master="local[2]",
                              spark_options=(("spark.sql.shuffle.partitions", "1"),))
    return engine.connect(settings)


@pytest.fixture(scope="module")
def shipped_slice(tmp_path_factory) -> Path:
    """A slice of the shipped export (`SLICE_ENDING`), cleaned as 01_clean cleans it."""
    folder = tmp_path_factory.mktemp("slice")
    params = load_params(ROOT / "params.yaml", check_input=False)
    raw = slice_lines(folder / "export.csv")
    params["input"]["path"] = str(raw)
    con = engine.connect(EngineSettings())
    io.load_transactions(con, params["input"])
    clean.apply_cleaning(con, params["cleaning"])
    return io.write_cleaned(con, folder / "transactions.parquet")


def slice_lines(target: Path) -> Path:
    """Write the `SLICE_ENDING` slice of the shipped export (header included) to `target`."""
    params = load_params(ROOT / "params.yaml", check_input=False)
    opener = gzip.open if target.suffix == ".gz" else open
    with gzip.open(ROOT / params["input"]["path"], "rt", encoding="utf-8") as source, \
            opener(target, "wt", encoding="utf-8") as out:
        out.write(next(source))
        for number, line in enumerate(source):
            customer = line.rstrip("\n").rsplit(",", 2)[-2]
            if customer.endswith(SLICE_ENDING) or (not customer and number % 100 == 0):
                out.write(line)
    return target


@pytest.fixture(scope="module")
def shop(shipped_slice, data) -> Path:
    """The cleaned slice plus the hand fixture's lines (a customer with only a return, missing
    descriptions and countries): one file, so each helper runs once per engine."""
    lines = pd.concat([pd.read_parquet(shipped_slice), pd.read_parquet(data["main"])], ignore_index=True)
    path = shipped_slice.with_name("shop.parquet")
    lines.to_parquet(path, index=False)
    return path


def clusters(con: Any, path: Path) -> pd.DataFrame:
    """Every customer of `path` in one of three clusters, by customer id order."""
    ids = sorted(con.execute("SELECT DISTINCT customer_id FROM read_parquet($p)", {"p": str(path)}).df()["customer_id"])
    return pd.DataFrame({"customer_id": ids, "cluster": [i % 3 for i in range(len(ids))]})


def as_of(path: Path) -> pd.Timestamp:
    return rfm.day_after_last_line(engine.connect(EngineSettings()), path)


HELPERS: dict[str, Callable[[Any, Path], Any]] = {
    "overview": eda.overview,
    "monthly_summary": eda.monthly_summary,
    "country_summary": eda.country_summary,
    "top_products": lambda con, p: eda.top_products(con, p, n=5),
    "orders_by_weekday": eda.orders_by_weekday,
    "orders_by_hour": eda.orders_by_hour,
    "customer_summary": eda.customer_summary,
    "cohort_retention": lambda con, p: eda_cohorts.cohort_retention(con, p, cohort_months=4),
    "field_presence": lambda con, p: pd.DataFrame({"missing": [sorted(eda_fields.field_presence(con, p).missing)]}),
    "order_value_histogram": eda_histograms.order_value_histogram,
    "items_per_order_histogram": lambda con, p: eda_histograms.items_per_order_histogram(con, p, log=True),
    "day_after_last_line": lambda con, p: pd.DataFrame({"day": [rfm.day_after_last_line(con, p)]}),
    "customer_metrics": lambda con, p: rfm.customer_metrics(con, p, as_of(p)),
    "transaction_totals": lambda con, p: pd.DataFrame([rfm.transaction_totals(con, p, as_of(p))]),
    "btyd_inputs": lambda con, p: clv.btyd_inputs(con, p, as_of(p)),
    "calibration_holdout": lambda con, p: pd.concat(clv_validation.calibration_holdout(con, p, as_of(p), 30),
                                                    keys=["calibration", "holdout"]),
    "top_countries": lambda con, p: persona_rankings.top_by_cluster(con, p, clusters(con, p), "country", 3, as_of(p)),
    "top_products_by_cluster": lambda con, p: persona_rankings.top_by_cluster(con, p, clusters(con, p), "product", 3,
                                                                              as_of(p)),
    "signature_products": lambda con, p: persona_rankings.signature_products(con, p, clusters(con, p), 3, as_of(p),
                                                                             min_buyers=1),
}


@pytest.mark.parametrize("name", list(HELPERS))
def test_each_helper_gives_the_same_frame_on_spark(name, shop, spark_con):
    duck = engine.connect(EngineSettings())
    expected = HELPERS[name](duck, shop)
    got = HELPERS[name](spark_con, shop)
    assert_frame_equal(got, expected, check_exact=False, rtol=1e-9)
    assert got.attrs == expected.attrs


def test_the_shipped_slice_has_what_the_comparison_needs(shipped_slice):
    lines = pd.read_parquet(shipped_slice)
    assert lines["is_return"].sum() >= 20 and lines["country"].nunique() >= 3 and lines["customer_id"].nunique() >= 40
    assert (lines["invoice_date"].max() - lines["invoice_date"].min()).days > 300


def test_the_rewrites_that_would_silently_differ_agree_on_spark(spark_con):
    # Monday 2024-01-01 is ISO day 1; a back-reference keeps the digits; DuckDB's / and avg give DOUBLEs.
    sql = r"""SELECT isodow(DATE '2024-01-01') AS monday, isodow(DATE '2024-01-07') AS sunday,
                     regexp_replace('17850.0', '^([+-]?\d+)\.0+$', '\1') AS id,
                     CAST(494.23 AS DECIMAL(38, 6)) / CAST(3 AS BIGINT) AS share,
                     avg(x) AS mean
              FROM (SELECT 1.0 AS x UNION ALL SELECT 0.0 UNION ALL SELECT 0.0)"""
    duck = engine.connect(EngineSettings()).execute(sql).df()
    spark = spark_con.execute(sql).df()
    assert duck.iloc[0].tolist() == [1, 7, "17850", 494.23 / 3, 1 / 3]
    assert_frame_equal(spark, duck, check_dtype=False)


def test_temp_tables_describe_and_registered_frames_work_as_on_duckdb(spark_con):
    spark_con.register("frame", pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", None]}))
    spark_con.execute("CREATE OR REPLACE TEMP TABLE kept AS SELECT a * 2 AS a2, b FROM frame WHERE a > $min", {"min": 1})
    assert spark_con.execute("SELECT a2, b FROM kept ORDER BY a2").fetchall() == [(4, "y"), (6, None)]
    assert spark_con.execute("SELECT column_name, column_type FROM (DESCRIBE kept)").fetchall() == [
        ("a2", "BIGINT"), ("b", "VARCHAR")]
    spark_con.execute("CREATE OR REPLACE TEMP TABLE empty (row_id BIGINT)")
    assert spark_con.execute("SELECT count(*) FROM empty").fetchone() == (0,)
    spark_con.execute("DROP TABLE IF EXISTS temp.main.kept")
    assert not spark_con.spark.catalog.tableExists("kept")
    spark_con.unregister("frame")


def clean_on(kind: str, input_params: dict[str, Any], out: Path) -> tuple[pd.DataFrame, ...]:
    """01_clean's sequence on one engine: transactions, cleaning log, source facts, summary, outliers."""
    params = load_params(ROOT / "params.yaml", check_input=False)
    settings = EngineSettings(kind=kind, spark_master="local[2]", spark_options=(("spark.sql.shuffle.partitions", "1"),))
    con = engine.connect(settings)
    source = io.load_transactions(con, input_params)
    log = clean.apply_cleaning(con, params["cleaning"])
    summary = clean.clean_summary(con)
    lines = pd.read_parquet(io.write_cleaned(con, out / f"{kind}.parquet"))
    return lines, log, pd.DataFrame([source]), pd.DataFrame([summary]), clean.flagged_lines(con, 5)


def typed_parquet(csv: Path, target: Path) -> Path:
    """The slice as a typed Parquet export: timestamps, integer quantities, ids as floats (17850.0)."""
    frame = pd.read_csv(csv, dtype={"InvoiceNo": str, "StockCode": str})
    frame["InvoiceDate"] = pd.to_datetime(frame["InvoiceDate"])
    frame["CustomerID"] = frame["CustomerID"].astype("float64")
    frame.to_parquet(target, index=False)
    return target


def semicolons(csv: Path, target: Path) -> Path:
    """The slice with ';' between fields and decimal commas (2,55), as a continental export."""
    frame = pd.read_csv(csv, dtype={"InvoiceNo": str, "StockCode": str, "CustomerID": str}, keep_default_na=False)
    frame.to_csv(target, sep=";", index=False, decimal=",")
    assert "2,55" in target.read_text(encoding="utf-8")
    return target


def latin1(target: Path) -> Path:
    """A latin-1 export with accents, quoted line breaks and commas, ids padded with spaces,
    numbers and dates padded in every other line, a blank quantity and a padded copy of the
    header (21,000 lines, so the sniffer's sample is all alike)."""
    header = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
    rows = [header]
    for i in range(21_000):
        text = '"Crème, brûlée\nline two"' if i % 1000 == 7 else ("Café" if i % 3 else "")
        pad = " " * (i % 2)
        quantity = "  " if i == 20_500 else f"{pad}{1 + i % 5}{pad}"
        rows.append(f"{500000 + i},P{i % 9},{text},{quantity},{pad}2011-{1 + i % 12:02d}-{1 + i % 28:02d} 10:00:00{pad},"
                    f"{pad}{1.5 + i % 7}{pad}, {10000 + i % 90} ,Österreich")
    rows.insert(15_000, header.replace("CustomerID", " CustomerID ").replace("InvoiceDate", " InvoiceDate"))
    target.write_bytes(("\n".join(rows) + "\n").encode("latin-1"))
    return target


def awkward(target: Path) -> Path:
    """Lines that differ only in unmapped columns (x then NULL, NULL then x), an export column
    named rowid, quoted fields ending in a backslash and dates written %Y%m%d %H%M (21,000 lines)."""
    rows = ["InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country,Extra1,Extra2,rowid"]
    for i in range(21_000):
        pair = i // 2  # two lines per pair: alike but for the extras (even pairs) or rowid (odd pairs)
        extra = ("x," if i % 2 else ",x") if pair % 2 == 0 else "y,y"
        record = pair if pair % 2 == 0 else i
        text = '"C:\\dir\\"' if pair % 50 == 3 else "Mug"
        rows.append(f"{500000 + pair},P{pair % 9},{text},{1 + pair % 5},2011{1 + pair % 12:02d}{1 + pair % 28:02d} 1030,"
                    f"{1.5 + pair % 7},{10000 + pair % 90},UK,{extra},{record}")
    target.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return target


EXPORTS = {
    "gzipped CSV": lambda folder: ({"path": str(slice_lines(folder / "export.csv.gz"))}),
    "typed Parquet": lambda folder: ({"path": str(typed_parquet(slice_lines(folder / "s.csv"), folder / "e.parquet")),
                                      "format": "parquet"}),
    "no invoice ids": lambda folder: ({"path": str(slice_lines(folder / "export.csv")),
                                       "columns": {"invoice_id": None}, "orders_without_id": "customer_day"}),
    "latin-1, quoted line breaks": lambda folder: ({"path": str(latin1(folder / "latin.csv")),
                                                    "csv": {"encoding": "latin-1"}}),
    "unmapped NULLs, rowid, backslashes, %Y%m%d": lambda folder: ({"path": str(awkward(folder / "awkward.csv")),
                                                                    "date_format": "%Y%m%d %H%M"}),
    "semicolons": lambda folder: ({"path": str(semicolons(slice_lines(folder / "s.csv"), folder / "semi.csv")),
                                   "csv": {"delimiter": "auto", "decimal": ","}}),
}


@pytest.mark.parametrize("export", list(EXPORTS))
def test_01_clean_gives_the_same_lines_log_and_facts_on_spark(export, tmp_path, spark_con):
    base = load_params(ROOT / "params.yaml", check_input=False)["input"]
    change = EXPORTS[export](tmp_path)
    input_params = {**base, **change, "columns": {**base["columns"], **change.get("columns", {})},
                    "csv": {**base["csv"], **change.get("csv", {})}}
    duck = clean_on("duckdb", input_params, tmp_path)
    spark = clean_on("spark", input_params, tmp_path)
    assert len(duck[0]) > 3000  # cleaned lines
    if export.startswith("unmapped"):  # no pair is a duplicate: they differ in unmapped columns
        assert duck[1].set_index("rule").loc["exact_duplicate", "rows"] == 0 and len(duck[0]) == 21_000
    if export.startswith("latin"):  # the padded header copy is found, padded numbers and dates parse
        assert duck[1].set_index("rule").loc["repeated_header", "rows"] == 1 and len(duck[0]) == 20_999
    for got, expected in zip(spark, duck, strict=True):
        assert_frame_equal(got, expected, check_exact=True)


def test_orders_from_postgresql_clean_the_same_on_spark(postgres, tmp_path, spark_con):  # noqa: F811 - the fixture
    # input.database: DuckDB streams the rows from the server and Spark reads a Parquet copy of them.
    block = {"url": postgres.url, "table": "orders"}
    params = load_params(write_params(tmp_path / "db.yaml", {"input": {"database": block, "columns": SAMPLE_MAPPING}}))
    duck = clean_on("duckdb", params["input"], tmp_path)
    spark = clean_on("spark", params["input"], tmp_path)
    assert duck[2]["rows"].iloc[0] == SLICE_ROWS and len(duck[0]) < SLICE_ROWS
    for got, expected in zip(spark, duck, strict=True):
        assert_frame_equal(got, expected, check_exact=True)


def test_a_row_with_an_extra_field_deep_in_a_csv_stops_both_engines_with_its_line(tmp_path, spark_con):
    # Spark's lenient CSV reader would drop the extra field; DuckDB counts the records first.
    # The row is past the 20,480 rows DuckDB's sniffer samples.
    rows = ["InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"]
    rows += [f"{500000 + i},P{i % 9},Item,{1 + i % 5},2011-01-{1 + i % 28:02d} 10:00:00,{1.5 + i % 7},{10000 + i % 90},UK"
             + (",EXTRA" if i == 22_000 else "") for i in range(23_000)]
    (tmp_path / "export.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    input_params = {**load_params(ROOT / "params.yaml", check_input=False)["input"], "path": str(tmp_path / "export.csv")}
    messages = []
    for kind in ("duckdb", "spark"):
        with pytest.raises(UserError, match="CSV Error on Line: 22002") as caught:
            io.load_transactions(engine.connect(EngineSettings(kind=kind, spark_master="local[2]")), input_params)
        messages.append(str(caught.value))
    assert messages[0] == messages[1]


@pytest.mark.parametrize(("rows", "partitions"), [(1000, 7), (3, 5), (0, 2)])
def test_record_numbers_are_consecutive_in_partition_order(rows, partitions, spark_con):
    # Uneven and empty partitions: rowid must be 0..n-1 in the order the rows are read.
    from helpers.spark_engine import RECORD_COLUMN
    from helpers.spark_sources import with_record_numbers

    numbered, count = with_record_numbers(spark_con.spark.range(0, rows, 1, partitions))
    pairs = [(r["id"], r[RECORD_COLUMN]) for r in numbered.collect()]
    assert count == rows and pairs == [(i, i) for i in range(rows)]


def test_the_optional_session_file_is_read_the_same_with_a_spark_connection(tmp_path, spark_con):
    # Files on this machine (customers_input, sessions_input) are read by the DuckDB connection
    # the Spark one keeps: the same features as with DuckDB itself.
    from helpers import traits

    sessions = pd.DataFrame({"customer_id": ["a", "a", "b"], "session_start": pd.to_datetime(
        ["2011-05-01 10:00", "2011-06-29 09:00", "2011-06-01 12:00"]), "pages_viewed": [10, 30, 4],
        "duration_s": [100, 300, 40], "clicks": [2, 5, 0], "product_views": [10, 20, 4], "converted": [True, False, False]})
    sessions.to_parquet(tmp_path / "sessions.parquet")
    block = {"path": str(tmp_path / "sessions.parquet"), "columns": {f: f for f in traits.SESSION_FIELDS}}
    csv = load_params(ROOT / "params.yaml", check_input=False)["input"]["csv"]
    as_of = pd.Timestamp("2011-07-01")
    expected = traits.session_features(engine.connect(EngineSettings()), block, csv, as_of)
    assert_frame_equal(traits.session_features(spark_con, block, csv, as_of), expected)
    assert spark_con.local() is engine.local_connection(spark_con)  # the run's settings, one connection
