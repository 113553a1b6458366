"""`bench.run --spark`'s parts that need no Spark: the process-tree memory sampler, the plan, the report."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from bench import run
from bench import spark as bench_spark

MIB = 2**20
# A child that starts a grandchild holding 200 MiB of written (resident) bytes for a while.
GRANDCHILD = "import time; block = b'x' * (200 * 2**20); time.sleep(1.5)"
CHILD = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {GRANDCHILD!r}], check=True)"


def test_tree_sampler_counts_the_descendants_memory():
    child = subprocess.Popen([sys.executable, "-c", CHILD])
    with bench_spark.TreeSampler(child.pid, interval=0.05) as sampler:
        child.wait(timeout=60)
    assert sampler.samples > 5
    assert sampler.peak_descendants >= 195 * MIB  # the grandchild's block, not the child's memory
    assert sampler.peak >= sampler.peak_descendants + 5 * MIB  # plus the child itself
    assert sampler.peak < 600 * MIB


def test_tree_rss_of_a_finished_process_is_zero():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=60)
    assert bench_spark.tree_rss(child.pid) == (0, 0)
    own, rest = bench_spark.tree_rss(os.getpid())
    assert own > 10 * MIB and rest >= 0


def test_tree_sampler_stops_promptly():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.3)"])
    start = time.perf_counter()
    with bench_spark.TreeSampler(child.pid, interval=5.0) as sampler:
        child.wait(timeout=60)
    assert time.perf_counter() - start < 3.0  # the 5 s wait is cut short on exit
    assert sampler.samples >= 1


def test_spark_twins_follow_their_stage_with_their_own_outputs():
    work = Path("w")
    cleaned = str(work / "parquet" / "transactions.parquet")
    plan = [("clean_parquet", {"raw": "r.parquet", "out_dir": str(work / "parquet")}, "clean"),
            ("eda_customer_table", {"transactions": cleaned, "out": str(work / "customers.parquet")},
             "eda_customer_table"),
            ("rfm_metrics", {"transactions": cleaned, "out": str(work / "rfm_metrics.parquet")}, "rfm_metrics"),
            ("rfm_scoring", {"metrics": "m", "out": str(work / "rfm.parquet")}, "rfm_scoring")]
    twins = bench_spark.with_spark_twins(plan, work)
    assert [name for name, _, _ in twins] == [
        "clean_parquet", "clean_parquet_spark", "eda_customer_table", "eda_customer_table_spark",
        "rfm_metrics", "rfm_metrics_spark", "rfm_scoring"]
    by_name = {name: (arguments, function) for name, arguments, function in twins}
    assert by_name["clean_parquet_spark"] == ({"raw": "r.parquet", "out_dir": str(work / "parquet_spark")}, "clean")
    assert by_name["eda_customer_table_spark"][0] == {"transactions": cleaned,
                                                       "out": str(work / "customers_spark.parquet")}
    assert by_name["rfm_metrics_spark"][0]["out"] == str(work / "rfm_metrics_spark.parquet")
    assert by_name["rfm_metrics"][0]["out"] == str(work / "rfm_metrics.parquet")  # the DuckDB row's unchanged


def test_spark_params_and_report_say_how_spark_ran(tmp_path):
    import yaml

    args = argparse.Namespace(data=tmp_path, memory_limit="", spark=True, spark_master="local[2]",
                              spark_driver_memory="6g", spark_shuffle_partitions=8, repeat=1, argv=["--spark"])
    args.engine_params = run.engine_params(args)
    params = yaml.safe_load(bench_spark.spark_params(args).read_text(encoding="utf-8"))
    assert params["engine"] == {"kind": "spark", "spark": {"master": "local[2]", "options": {
        "spark.driver.memory": "6g", "spark.sql.shuffle.partitions": 8}}}
    assert params["run"]["temp_dir"] == str(tmp_path.resolve() / "tmp")
    results = [
        {"size": "1k", "rows": 1000, "stage": "rfm_metrics", "ok": True, "wall_s": 0.1, "cpu_s": 0.5,
         "peak_mib": 180, "tree_peak_mib": 175, "load_1min": 0.1, "customers": 10},
        {"size": "1k", "rows": 1000, "stage": "rfm_metrics_spark", "ok": True, "wall_s": 9.0, "cpu_s": 20.0,
         "peak_mib": 1100, "maxrss_mib": 900, "jvm_at_peak_mib": 910, "self_maxrss_mib": 190,
         "children_maxrss_mib": 900, "session_s": 7.5, "load_1min": 0.1, "customers": 10},
        {"size": "1k", "rows": 1000, "stage": "verify_spark", "ok": True, "detail": "Spark vs DuckDB: same"},
    ]
    info = {"cores": 2, "cpu": "", "ram_gib": 1.0, "os": "os", "python": "3", "duckdb": "d", "pandas": "p",
            "pyarrow": "a", "numpy": "n", "pyspark": "4.3.0", "java": "openjdk 17"}
    csv_path, md_path = run.write_report(results, info, args, tmp_path / "out")
    text = md_path.read_text(encoding="utf-8")
    assert "master local[2], spark.driver.memory 6g, spark.sql.shuffle.partitions 8" in text
    assert "| 1k | rfm_metrics_spark | 9.0 | 20.0 | 1,100 |" in text
    assert "Spark session start 7.5 s (not in wall)" in text and "JVM 900 MiB" in text
    assert "| 1k | verify (Spark vs DuckDB) |" in text
    assert "rfm_metrics_spark" in csv_path.read_text(encoding="utf-8")


def test_same_lines_tells_equal_reordered_and_different_files(tmp_path):
    import pandas as pd
    from bench import stages

    params_file = str(run.engine_params(argparse.Namespace(data=tmp_path, memory_limit="")))
    lines = pd.DataFrame({"invoice": ["1", "1", "2", "3"], "quantity": [2, 1, 5, -1],
                          "amount": [10.0, 3.5, 25.0, -5.0], "customer_id": [7, 7, None, 8]})
    files = {}
    for name, frame in {"a": lines, "same": lines.copy(), "reordered": lines.iloc[[1, 0, 2, 3]],
                        "changed": lines.assign(amount=[10.0, 3.5, 25.0, -5.01]),
                        "retyped": lines.astype({"quantity": "float64"})}.items():
        files[name] = str(tmp_path / f"{name}.parquet")
        frame.to_parquet(files[name], index=False)

    def compare(other: str) -> dict:
        return stages.same_lines(files["a"], files[other], params_file)

    assert compare("same") | {"wall_s": 0} == {"wall_s": 0, "rows_first": 4, "rows_second": 4,
                                                "same_columns": True, "identical": True, "same_order": True}
    assert (compare("reordered")["identical"], compare("reordered")["same_order"]) == (True, False)
    assert not compare("changed")["identical"]
    assert (compare("retyped")["same_columns"], compare("retyped")["identical"]) == (False, False)
