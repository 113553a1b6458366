"""``engine.spark.master: sc://...``: 01_clean and the 02/03/05 queries over Spark Connect.

The throwaway Spark Connect server of `spark_server.spark_connect` serves the test session.
The comparison runs in a separate Python process, because a process holds one kind of Spark
session: the other Spark tests use a classic local one.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("pyspark")
pytest.importorskip("grpc")

from spark_server import spark_connect  # noqa: E402, F401 - the fixture
from test_spark_engine import ROOT, slice_lines  # noqa: E402

pytestmark = pytest.mark.slow  # a Spark Connect server and a client process: about 40 s

COMPARE = """
import sys
import pandas as pd
from pandas.testing import assert_frame_equal
from helpers import clean, eda, engine, io, persona_rankings, rfm
from helpers.config import load_params

url, export, out = sys.argv[1:4]
params = load_params("params.yaml", check_input=False)
params["input"]["path"] = export
results = {}
for kind, master in (("duckdb", "local[*]"), ("spark", url)):
    con = engine.connect(engine.EngineSettings(kind=kind, spark_master=master))
    io.load_transactions(con, params["input"])
    log = clean.apply_cleaning(con, params["cleaning"])
    path = io.write_cleaned(con, f"{out}/{kind}.parquet")
    as_of = rfm.day_after_last_line(con, path)
    clusters = pd.DataFrame({"customer_id": sorted(pd.read_parquet(path)["customer_id"].unique())})
    clusters["cluster"] = range(len(clusters))
    clusters["cluster"] %= 3
    results[kind] = [pd.read_parquet(path), log, eda.customer_summary(con, path), eda.monthly_summary(con, path),
                     rfm.customer_metrics(con, path, as_of),
                     persona_rankings.top_by_cluster(con, path, clusters, "product", 3, as_of)]
for got, expected in zip(results["spark"], results["duckdb"], strict=True):
    assert_frame_equal(got, expected, check_exact=False, rtol=1e-9)
    assert got.attrs == expected.attrs
print("EQUAL", len(results["spark"][0]))
"""


def test_01_clean_and_the_queries_give_the_same_results_over_spark_connect(spark_connect, tmp_path):  # noqa: F811
    export = slice_lines(tmp_path / "export.csv")
    done = subprocess.run([sys.executable, "-c", COMPARE, spark_connect, str(export), str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[:1] == ["EQUAL"] and int(done.stdout.split()[1]) > 3000
