"""The ``--spark`` part of `bench.run`: Spark twins of engine stages, their memory, their check.

A Spark stage's memory is mostly its JVM's, a child process of the stage: `TreeSampler`
samples the resident memory of the whole process tree. `with_spark_twins` adds a
``<stage>_spark`` row after each stage of `SPARK_STAGES`, and `verify_spark` compares the
twins' outputs with DuckDB's.
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SPARK_STAGES = ("clean_parquet", "eda_customer_table", "rfm_metrics")
SPARK_SUFFIX = "_spark"
SPARK_MASTER = "local[2]"
SPARK_DRIVER_MEMORY = "6g"
SPARK_SHUFFLE_PARTITIONS = 8
SAMPLE_INTERVAL_S = 0.2  # TreeSampler


def tree_rss(pid: int) -> tuple[int, int]:
    """Return the resident memory in bytes of process `pid` and of all its descendants (summed).

    ``(0, 0)`` when the process is gone (or a zombie); a descendant that exits meanwhile counts 0.
    """
    import psutil

    try:
        root = psutil.Process(pid)
        own = root.memory_info().rss
        descendants = root.children(recursive=True)
    except psutil.Error:
        return 0, 0
    rest = 0
    for process in descendants:
        try:
            rest += process.memory_info().rss
        except psutil.Error:
            pass
    return own, rest


class TreeSampler:
    """Sample a process tree's resident memory every `interval` seconds in a thread; keep the peak.

    Used as a context manager around a child process's life. ``peak`` is the largest sum
    of the process's and its descendants' RSS seen (bytes), ``peak_descendants`` the
    descendants' part of that sample (for a Spark stage: the JVM and its pyspark worker
    processes), ``samples`` how many
    were taken. It misses peaks shorter than the interval, and pages shared between the
    processes count once per process.
    """

    def __init__(self, pid: int, interval: float = SAMPLE_INTERVAL_S) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = self.peak_descendants = self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"tree-sampler-{pid}", daemon=True)

    def sample(self) -> int:
        """Take one sample now; return the tree's RSS in bytes."""
        own, rest = tree_rss(self.pid)
        self.samples += 1
        if own + rest > self.peak:
            self.peak, self.peak_descendants = own + rest, rest
        return own + rest

    def _run(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def spark_params(args: argparse.Namespace) -> Path:
    """Write the params of the ``--spark`` rows: `engine_params`' run section plus ``engine.kind: spark``."""
    import yaml

    tree = yaml.safe_load(Path(args.engine_params).read_text(encoding="utf-8"))
    tree["engine"] = {"kind": "spark", "spark": {"master": args.spark_master, "options": {
        "spark.driver.memory": args.spark_driver_memory,
        "spark.sql.shuffle.partitions": args.spark_shuffle_partitions}}}
    path = Path(args.data) / "engine_params_spark.yaml"
    path.write_text(yaml.safe_dump(tree), encoding="utf-8")
    return path


def spark_settings(args: argparse.Namespace) -> str:
    """The ``--spark`` settings in words, for the output."""
    return (f"master {args.spark_master}, spark.driver.memory {args.spark_driver_memory}, "
            f"spark.sql.shuffle.partitions {args.spark_shuffle_partitions}")


def with_spark_twins(plan: Sequence[tuple[str, dict[str, Any], str]],
                     work: Path) -> list[tuple[str, dict[str, Any], str]]:
    """Put after each stage of `SPARK_STAGES` in `plan` its Spark twin, ``<stage>_spark``.

    The twin has the same arguments (the same input) but its own outputs: 01_clean writes
    to ``work/parquet_spark``, a table stage to ``<out>_spark.parquet``.

    >>> twins = with_spark_twins([("clean_parquet", {"raw": "r", "out_dir": "w/parquet"}, "clean"),
    ...                           ("rfm_scoring", {"out": "w/rfm.parquet"}, "rfm_scoring")], Path("w"))
    >>> [(name, arguments.get("out_dir")) for name, arguments, _ in twins]
    [('clean_parquet', 'w/parquet'), ('clean_parquet_spark', 'w/parquet_spark'), ('rfm_scoring', None)]
    """
    result = []
    for name, arguments, function in plan:
        result.append((name, arguments, function))
        if name in SPARK_STAGES:
            twin = dict(arguments)
            if "out_dir" in twin:
                twin["out_dir"] = str(work / "parquet_spark")
            if "out" in twin:
                out = Path(twin["out"])
                twin["out"] = str(out.with_name(f"{out.stem}{SPARK_SUFFIX}{out.suffix}"))
            result.append((name + SPARK_SUFFIX, twin, function))
    return result


def verify_spark(label: str, rows: int, work: Path, results: Sequence[dict[str, Any]],
                 args: argparse.Namespace, env: dict[str, str], log: Path) -> dict[str, Any]:
    """Compare the ``--spark`` rows' outputs with the DuckDB rows' of this size.

    01_clean's lines (columns, types, line count and sums of line hashes, in a child
    process: `bench.stages.same_lines`), 02_eda's customer table and 03_rfm's metrics column by
    column (`bench.baseline`). Pairs where either stage did not run or failed are skipped.
    """
    import pandas as pd

    from bench.baseline import compare_customer_metrics, compare_customer_summary, mismatches
    from bench.run import run_stage  # bench.run imports this module

    def done(stage: str) -> bool:
        return any(r["stage"] == stage and r["size"] == label and r.get("ok") for r in results)

    parts: list[str] = []
    same: list[bool] = []
    if done("clean_parquet") and done("clean_parquet" + SPARK_SUFFIX):
        lines = run_stage("same_lines", {"first": str(work / "parquet" / "transactions.parquet"),
                                         "second": str(work / "parquet_spark" / "transactions.parquet"),
                                         "params_file": str(args.engine_params)}, env, log)
        if not lines["ok"]:
            same.append(False)
            parts.append(f"01_clean lines not compared: {lines['error']}")
        else:
            same.append(bool(lines["identical"]))
            parts.append(f"01_clean lines {'identical' if lines['identical'] else 'DIFFERENT'} "
                         f"({lines['rows_first']:,} DuckDB, {lines['rows_second']:,} Spark"
                         + ("" if lines["same_columns"] else ", columns or types differ")
                         + (", in the same order" if lines["same_order"] else
                            ", in another order" if lines["identical"] else "")
                         + "; counts and sums of line hashes)")
    for stage, name, compare, what in (
            ("eda_customer_table", "customers", compare_customer_summary, "02_eda customer table"),
            ("rfm_metrics", "rfm_metrics", compare_customer_metrics, "03_rfm metrics")):
        if not (done(stage) and done(stage + SPARK_SUFFIX)):
            continue
        comparison = compare(pd.read_parquet(work / f"{name}{SPARK_SUFFIX}.parquet"),
                             pd.read_parquet(work / f"{name}.parquet"))
        identical = mismatches(comparison) == 0
        same.append(identical)
        differing = {k: v for k, v in comparison.items() if k != "customers" and v}
        parts.append(f"{what} {'identical' if identical else 'DIFFERENT'} ({comparison['customers']:,} customers"
                     + "".join(f", {k} {v:,}" for k, v in differing.items()) + ")")
    if not same:
        return {"size": label, "rows": rows, "stage": "verify_spark", "ok": False,
                "detail": "nothing to compare (a DuckDB or Spark stage failed or did not run)"}
    return {"size": label, "rows": rows, "stage": "verify_spark", "ok": all(same),
            "detail": "Spark vs DuckDB: " + "; ".join(parts)}
