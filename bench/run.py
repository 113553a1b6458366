"""Benchmark the pipeline on synthetic transactions: wall time and peak memory per stage.

Usage::

    python -m bench.run                         # 1M and 10M lines
    python -m bench.run --large                 # also 100M lines (Parquet only, ~1.5 GB disk)
    python -m bench.run --sizes 1M --report     # also the full report (all notebooks)
    python -m bench.run --sizes 100M --stages clean_parquet,eda_customer_table,pandas_eda_table
    python -m bench.run --sizes 1M --stages clv --clv-customers 1M   # clv on 1M customers, lifetimes beside
    python -m bench.run --sizes 10M --stages clean_parquet,eda_customer_table,rfm_metrics --spark

Per size, the data are generated (or reused) under ``data/bench/`` by `bench.generate`,
then each stage runs in its own process (`bench.stages`), so its peak resident memory
(``ru_maxrss`` from ``os.wait4``) is its own:

- ``ingest_csv`` / ``clean_csv``: `helpers.io.load_transactions` alone, and the whole
  01_clean sequence, from the CSV (sizes up to ``--csv-max``);
- ``clean_parquet``: the whole 01_clean sequence from the Parquet export; its output
  feeds the next stages;
- ``eda_customer_table``: 02_eda's `helpers.eda.customer_summary`;
- ``rfm_metrics``, ``rfm_scoring``: 03_rfm's `customer_metrics`, then scores and segments;
- ``clustering``: 04_clustering's `run_clustering`, when `helpers.cluster` exists (sizes
  up to ``--cluster-max``: its cost grows with customers, not lines);
- ``pandas_eda_table``: 02_eda's customer table in plain pandas
  (`bench.baseline.pandas_customer_summary`), the baseline for ``eda_customer_table``;
- ``pandas_rfm_metrics``: 03_rfm's metrics in plain pandas, the baseline for
  ``rfm_metrics``: the same work (invoices, LIFO matching of cancellations to orders, kept
  frequency, recency, monetary in cents), vectorised (`bench.baseline.pandas_customer_metrics`);
- ``verify``: the engine's tables against the pandas ones, column by column;
- with ``--clv-customers 1M``: that many customers simulated from known BG/NBD and
  Gamma-Gamma parameters (`helpers.synth_btyd`, CDNOW-like truth), written as cleaned
  transactions (reused when present), then ``clv`` (cleaned transactions to
  ``clv.parquet``) and ``clv_reference`` (the `lifetimes` library's default path on the
  same inputs, skipped when lifetimes is not installed), and their agreement (fitted
  parameters, P(alive), expected orders);
- ``report``: the full report (``--report``);
- with ``--spark``: after each of `SPARK_STAGES` (``clean_parquet``, ``eda_customer_table``,
  ``rfm_metrics``) the same stage with ``engine.kind: spark`` (Spark local mode, by default
  ``local[2]``, ``spark.driver.memory`` 6g, ``spark.sql.shuffle.partitions`` 8), as the row
  ``<stage>_spark``, on the same input (the DuckDB-cleaned lines for the table stages); then
  ``verify_spark``: Spark's outputs against DuckDB's (the cleaned lines by count and line
  hashes, the tables column by column). Its wall time excludes starting the Spark session (``session_s``, in
  the notes); its CPU time includes the JVM (the stage reaps it, `bench.stages.on_spark`);
  its peak memory is the stage process plus its descendants (the JVM and pyspark's worker
  processes), see `TreeSampler`.

Every stage's process tree is also sampled (`TreeSampler`, ``tree_peak_mib`` in the CSV);
the DuckDB rows' ``peak_mib`` stays the process's own ``ru_maxrss``.

Results go to ``reports/bench/bench-<time>.csv`` and ``.md`` (and ``latest.csv`` /
``latest.md``), with the machine (cores, RAM, versions) and the load average at each
stage's start: other work on the machine slows stages down, so check it is near zero.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.clv_bench import bench_clv, clv_label
from bench.generate import DEFAULT_OUT, generate, parse_rows, rows_label
from bench.spark import (
    SAMPLE_INTERVAL_S,
    SPARK_DRIVER_MEMORY,
    SPARK_MASTER,
    SPARK_SHUFFLE_PARTITIONS,
    SPARK_STAGES,
    SPARK_SUFFIX,
    TreeSampler,
    spark_params,
    spark_settings,
    verify_spark,
    with_spark_twins,
)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
REPORT_DIR = PROJECT_ROOT / "reports" / "bench"
STAGE_ORDER = (
    "ingest_csv", "clean_csv", "clean_parquet", "eda_customer_table", "rfm_metrics",
    "rfm_scoring", "clv", "clustering", "pandas_eda_table", "pandas_rfm_metrics", "report",
)
# Each engine stage checked against the targets, and its plain-pandas baseline.
# The "customer features" are what RFM scoring and clustering run on: 03_rfm's
# metrics. 02_eda's wider table (distinct products, main country, ...) is held to the same
# targets and reported beside them.
BASELINES = {"rfm_metrics": "pandas_rfm_metrics", "eda_customer_table": "pandas_eda_table"}
TARGET_LABELS = {"rfm_metrics": "customer features (rfm_metrics, 03_rfm)",
                 "eda_customer_table": "wider EDA customer table (eda_customer_table, 02_eda)"}
DEFAULT_STAGES = tuple(s for s in STAGE_ORDER if s != "report")
# Targets on the reference machine (2 cores, 24 GiB), checked in the Markdown report.
TARGET_FEATURES_ROWS = 100_000_000
TARGET_FEATURES_WALL_S = 20.0
TARGET_FEATURES_PEAK_MIB = 3 * 1024
TARGET_SPEEDUP = 3.0
TARGET_MEMORY_RATIO = 4.0
TARGET_CLEAN_CSV_ROWS = 10_000_000
TARGET_CLEAN_CSV_WALL_S = 10.0  # issue 16 (it was 30 s before)
# Issue 16 at 100M lines: 01_clean from Parquet, and the whole report (time and kernel peak).
TARGET_CLEAN_PARQUET_WALL_S = 60.0
TARGET_REPORT_WALL_S = 180.0
TARGET_REPORT_PEAK_MIB = 3 * 1024
TARGET_CLV_CUSTOMERS = 1_000_000
TARGET_CLV_WALL_S = 30.0
TARGET_CLV_PEAK_MIB = 1.5 * 1024
# --clv-customers: CDNOW-like truth (alpha and v per day), T of 200-400 days, fixed seed.
# --spark: the stages run again on Spark, as "<stage>_spark" rows, with these defaults.


def machine(spark: bool = False) -> dict[str, Any]:
    """Describe the machine and the package versions (with `spark`, pyspark's and Java's too)."""
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") if hasattr(os, "sysconf") else 0
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        model = next((ln.split(":", 1)[1].strip() for ln in cpuinfo.read_text().splitlines()
                      if ln.startswith("model name")), "")
    info = {"cores": os.cpu_count(), "ram_gib": round(ram / 2**30, 1), "cpu": model,
            "os": platform.platform(), "python": platform.python_version()}
    for package in ("duckdb", "pandas", "pyarrow", "numpy"):
        info[package] = importlib.metadata.version(package)
    if spark:
        info["pyspark"] = importlib.metadata.version("pyspark")
        try:
            shown = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=60).stderr
            info["java"] = shown.splitlines()[0].strip() if shown else "unknown"
        except (OSError, subprocess.SubprocessError):
            info["java"] = "not found"
    return info


def run_stage(name: str, arguments: dict[str, Any], env: dict[str, str], log: Path,
              tree: bool = False) -> dict[str, Any]:
    """Run one stage in a child process; return its figures plus peak memory and CPU time.

    ``peak_mib`` is the child's ``ru_maxrss`` (from ``wait4``), or with `tree` (the Spark
    rows) the peak of the child's and its descendants' summed RSS (`TreeSampler`); the
    other figure is kept as ``maxrss_mib`` or ``tree_peak_mib``. ``wait4`` gives the largest
    ``ru_maxrss`` of the child and the descendants it waited for, not their sum: for a
    Spark stage that is about the JVM alone.
    """
    load = os.getloadavg()[0]
    start = time.perf_counter()
    with open(log, "a", encoding="utf-8") as err:
        err.write(f"\n=== {name} {json.dumps(arguments)}\n")
        err.flush()
        child = subprocess.Popen(
            [sys.executable, "-m", "bench.stages", name, json.dumps(arguments)],
            stdout=subprocess.PIPE, stderr=err, cwd=PROJECT_ROOT, env=env, text=True,
        )
        # Stopped before wait4 reaps the child, so its process id cannot be reused meanwhile.
        with TreeSampler(child.pid) as sampler:
            output = child.stdout.read()
            child.stdout.close()
        # wait4, not wait: it returns this child's own resource usage (peak RSS, CPU), with
        # that of the descendants it waited for (a Spark stage's JVM).
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    result: dict[str, Any] = {
        "process_s": round(time.perf_counter() - start, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_mib": round(usage.ru_maxrss / 1024),  # KiB on Linux
        "tree_peak_mib": round(sampler.peak / 2**20),
        "load_1min": round(load, 2),
        "ok": child.returncode == 0,
    }
    if tree:
        result["maxrss_mib"] = result["peak_mib"]
        result["peak_mib"] = result["tree_peak_mib"]
        result["jvm_at_peak_mib"] = round(sampler.peak_descendants / 2**20)
    lines = [ln for ln in output.splitlines() if ln.startswith("{")]
    if child.returncode == 0 and lines:
        result.update(json.loads(lines[-1]))
    else:
        result["error"] = f"exit {child.returncode}, see {log}"
    return result


def best_of(function: str, arguments: dict[str, Any], repeat: int, env: dict[str, str], log: Path,
            labels: dict[str, Any], tree: bool = False) -> dict[str, Any]:
    """Run a stage `repeat` times, keep the fastest successful run, tag it with `labels`, print it."""
    best: dict[str, Any] | None = None
    for _ in range(repeat):
        result = run_stage(function, arguments, env, log, tree=tree)
        if best is None or (result["ok"] and result.get("wall_s", math.inf) < best.get("wall_s", math.inf)):
            best = result
    assert best is not None
    best.update(labels)
    shown = (f"{best['wall_s']:.1f} s wall, {best['cpu_s']:.0f} s CPU, {best['peak_mib']:,} MiB peak"
             if best["ok"] and not math.isnan(best.get("wall_s", math.nan))
             else best.get("skipped") or best.get("error"))
    if best["ok"] and "session_s" in best:
        shown += f" (+{best['session_s']:.1f} s Spark session start)"
    print(f"[{labels['size']}] {labels['stage']:<18} {shown} (load {best['load_1min']})", flush=True)
    return best


def engine_params(args: argparse.Namespace) -> Path:
    """Write the params every stage loads: the engine's memory limit and work folder.

    Settings reach the stages (and the report's kernels) through a params file, as in a
    real run: `helpers.engine.EngineSettings.from_params`.
    """
    import yaml

    run: dict[str, Any] = {"temp_dir": str(Path(args.data).resolve() / "tmp")}
    if args.memory_limit:
        run["memory_limit"] = args.memory_limit
    path = Path(args.data) / "engine_params.yaml"
    path.write_text(yaml.safe_dump({"run": run}), encoding="utf-8")
    return path


def _report_params(raw: Path, work: Path, engine_file: Path) -> Path:
    import yaml

    tree = {"input": {"path": str(raw)},
            "paths": {"interim_dir": str(work / "report" / "interim"),
                      "processed_dir": str(work / "report" / "processed"),
                      "reports_dir": str(work / "report" / "reports")},
            **yaml.safe_load(engine_file.read_text(encoding="utf-8"))}
    path = work / "report_params.yaml"
    path.write_text(yaml.safe_dump(tree), encoding="utf-8")
    return path


def bench_size(rows: int, stages: Sequence[str], args: argparse.Namespace, env: dict[str, str],
               log: Path) -> list[dict[str, Any]]:
    """Generate (or reuse) one size and run the stages on it."""
    label = rows_label(rows)
    with_csv = rows <= args.csv_max and any(s.endswith("_csv") for s in stages)
    formats = ["parquet", *(["csv"] if with_csv else [])]
    start = time.perf_counter()
    files = generate(rows, args.data, formats, seed=args.seed)
    print(f"[{label}] data ready in {time.perf_counter() - start:.0f} s: "
          + ", ".join(f"{p.name} ({p.stat().st_size / 2**20:,.0f} MiB)" for p in files.values()), flush=True)
    work = Path(args.data) / "work" / label
    work.mkdir(parents=True, exist_ok=True)
    cleaned = work / "parquet" / "transactions.parquet"
    plan: list[tuple[str, dict[str, Any], str]] = []
    for name in stages:
        if name == "ingest_csv" and with_csv:
            plan.append((name, {"raw": str(files["csv"])}, "ingest"))
        elif name == "clean_csv" and with_csv:
            plan.append((name, {"raw": str(files["csv"]), "out_dir": str(work / "csv")}, "clean"))
        elif name == "clean_parquet":
            plan.append((name, {"raw": str(files["parquet"]), "out_dir": str(work / "parquet")}, "clean"))
        elif name == "eda_customer_table":
            plan.append((name, {"transactions": str(cleaned), "out": str(work / "customers.parquet")}, name))
        elif name == "rfm_metrics":
            plan.append((name, {"transactions": str(cleaned), "out": str(work / "rfm_metrics.parquet")}, name))
        elif name == "rfm_scoring":
            plan.append((name, {"metrics": str(work / "rfm_metrics.parquet"), "out": str(work / "rfm.parquet")}, name))
        elif name == "clv":
            plan.append((name, {"transactions": str(cleaned), "out": str(work / "clv.parquet")}, name))
        elif name == "clustering" and rows <= args.cluster_max:
            plan.append((name, {"rfm_table": str(work / "rfm.parquet"),
                                "customers": str(work / "customers.parquet")}, name))
        elif name in ("pandas_eda_table", "pandas_rfm_metrics"):
            plan.append((name, {"transactions": str(cleaned), "out": str(work / f"{name}.parquet")}, name))
        elif name == "report":
            plan.append((name, {"params_file": str(_report_params(files["parquet"], work, args.engine_params))}, name))
    if args.spark:
        plan = with_spark_twins(plan, work)
    results = []
    for name, arguments, function in plan:
        labels = {"size": label, "rows": rows, "stage": name}
        if name.endswith(SPARK_SUFFIX):
            arguments = {**arguments, "params_file": str(args.spark_params)}
            results.append(best_of("on_spark", {"stage": function, "arguments": arguments}, args.repeat, env,
                                   log, labels, tree=True))
            continue
        if function != "report":
            arguments = {**arguments, "params_file": str(args.engine_params)}
        results.append(best_of(function, arguments, args.repeat, env, log, labels))
    if {"eda_customer_table", "rfm_metrics", "pandas_eda_table", "pandas_rfm_metrics"} & set(stages):
        results.append(verify(label, rows, work))
        print(f"[{label}] verify             {results[-1]['detail']}", flush=True)
    if args.spark and set(SPARK_STAGES) & set(stages):
        results.append(verify_spark(label, rows, work, results, args, env, log))
        print(f"[{label}] verify_spark       {results[-1]['detail']}", flush=True)
    return results


def verify(label: str, rows: int, work: Path) -> dict[str, Any]:
    """Compare the engine's tables with the pandas baselines written in this run.

    02_eda's customer table against `pandas_customer_summary` and 03_rfm's metrics against
    `pandas_customer_metrics`, every column (kept frequency, recency and cancelled orders
    exactly, money to the cent). Pairs whose files are missing (stage not run) are skipped.
    """
    import pandas as pd

    from bench.baseline import compare_customer_metrics, compare_customer_summary, mismatches

    def read(name: str) -> pd.DataFrame | None:
        path = work / f"{name}.parquet"
        return pd.read_parquet(path) if path.is_file() else None

    customers, features, metrics, metrics_base = (
        read("customers"), read("pandas_eda_table"), read("rfm_metrics"), read("pandas_rfm_metrics"))
    checks: list[tuple[str, dict[str, int]]] = []
    if customers is not None and features is not None:
        checks.append(("02_eda customer table (all columns)", compare_customer_summary(customers, features)))
    if metrics is not None and metrics_base is not None:
        checks.append(("03_rfm metrics (all columns)", compare_customer_metrics(metrics, metrics_base)))
    if not checks:
        return {"size": label, "rows": rows, "stage": "verify", "ok": False, "detail": "nothing to compare"}
    parts = []
    for name, comparison in checks:
        same = mismatches(comparison) == 0
        differing = {k: v for k, v in comparison.items() if k != "customers" and v}
        parts.append(f"{name} {'identical' if same else 'DIFFERENT'} ({comparison['customers']:,} customers"
                     + "".join(f", {k} {v:,}" for k, v in differing.items()) + ")")
    identical = all(mismatches(c) == 0 for _, c in checks)
    return {"size": label, "rows": rows, "stage": "verify", "ok": identical, "detail": "; ".join(parts)}


# --------------------------------------------------------------------------- output

CSV_FIELDS = ("size", "rows", "stage", "ok", "wall_s", "process_s", "cpu_s", "peak_mib", "load_1min",
              "customers", "kept", "ingest_s", "rules_s", "summary_s", "outputs_s", "inputs_s", "fit_s",
              "predict_s", "library_s", "write_s", "steps", "detail", "tree_peak_mib", "maxrss_mib",
              "jvm_at_peak_mib", "self_maxrss_mib", "children_maxrss_mib", "session_s", "spark_master",
              "spark_driver_memory", "spark_shuffle_partitions")


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _note(result: dict[str, Any]) -> str:
    if result["stage"] in ("verify", "verify_spark", "clv_agreement"):
        return result["detail"]
    if not result.get("ok"):
        return result.get("error", "failed")
    if result.get("skipped"):
        return "skipped: " + result["skipped"]
    parts = [f"{k.removesuffix('_s')} {result[k]:.1f} s"
             for k in ("ingest_s", "rules_s", "summary_s", "outputs_s", "inputs_s", "fit_s", "predict_s",
                       "library_s", "write_s") if k in result]
    if result.get("lifetimes"):
        parts.append(f"lifetimes {result['lifetimes']}")
    for key in ("kept", "customers"):
        if key in result:
            parts.append(f"{key} {result[key]:,}")
    if result.get("steps"):
        parts.append(f"per notebook (time, kernel peak): {result['steps']}")
    if "session_s" in result:
        parts.append(f"Spark session start {result['session_s']:.1f} s (not in wall)")
        parts.append(f"peak = process tree (Python + JVM + pyspark workers) sampled every {SAMPLE_INTERVAL_S} s, "
                     f"{result.get('jvm_at_peak_mib', 0):,} MiB of it outside the Python process; ru_maxrss: "
                     f"Python {result.get('self_maxrss_mib', 0):,}, JVM {result.get('children_maxrss_mib', 0):,} MiB")
    return "; ".join(parts)


def targets(results: Sequence[dict[str, Any]]) -> list[tuple[str, str, bool | None]]:
    """Check the issue's targets: (target, measured, met or None when not measured).

    Both engine stages that build customer tables are checked (`TARGET_LABELS`).
    """
    def find(stage: str, rows: int) -> dict[str, Any] | None:
        return next((r for r in results if r["stage"] == stage and r["rows"] == rows and r.get("ok")), None)

    checks: list[tuple[str, str, bool | None]] = []
    size = rows_label(TARGET_FEATURES_ROWS)
    for stage, baseline_stage in BASELINES.items():
        label = TARGET_LABELS[stage]
        features = find(stage, TARGET_FEATURES_ROWS)
        baseline = find(baseline_stage, TARGET_FEATURES_ROWS)
        if not features:
            checks.append((f"{label} from {size} lines", "not run (use --large)", None))
            continue
        checks.append((f"{label} from {size} lines: wall <= {TARGET_FEATURES_WALL_S:.0f} s",
                       f"{features['wall_s']:.1f} s", features["wall_s"] <= TARGET_FEATURES_WALL_S))
        checks.append((f"{label} from {size} lines: peak <= {TARGET_FEATURES_PEAK_MIB / 1024:.0f} GiB",
                       f"{features['peak_mib']:,} MiB", features["peak_mib"] <= TARGET_FEATURES_PEAK_MIB))
        if baseline:
            speedup = baseline["wall_s"] / features["wall_s"]
            memory = baseline["peak_mib"] / features["peak_mib"]
            checks.append((f"{label}: >= {TARGET_SPEEDUP:.0f}x faster than {baseline_stage} "
                           f"({baseline['wall_s']:.1f} s)", f"{speedup:.1f}x", speedup >= TARGET_SPEEDUP))
            checks.append((f"{label}: >= {TARGET_MEMORY_RATIO:.0f}x less peak memory than {baseline_stage} "
                           f"({baseline['peak_mib']:,} MiB)", f"{memory:.1f}x", memory >= TARGET_MEMORY_RATIO))
        else:
            checks.append((f"{label} against {baseline_stage}", "baseline not run", None))
    clean = find("clean_csv", TARGET_CLEAN_CSV_ROWS)
    label = rows_label(TARGET_CLEAN_CSV_ROWS)
    if clean:
        checks.append((f"{label}-line CSV ingested and cleaned in <= {TARGET_CLEAN_CSV_WALL_S:.0f} s",
                       f"{clean['wall_s']:.1f} s", clean["wall_s"] <= TARGET_CLEAN_CSV_WALL_S))
    else:
        checks.append((f"{label}-line CSV ingested and cleaned", "not run", None))
    checks += _large_run_targets(find("clean_parquet", TARGET_FEATURES_ROWS), find("report", TARGET_FEATURES_ROWS))
    clv_size = clv_label(TARGET_CLV_CUSTOMERS)
    clv = next((r for r in results if r["stage"] == "clv" and r["size"] == clv_size and r.get("ok")), None)
    clv_target = (f"clv.parquet for {clv_size} <= {TARGET_CLV_WALL_S:.0f} s and "
                  f"<= {TARGET_CLV_PEAK_MIB / 1024:.1f} GiB")
    if clv:
        reference = next((r for r in results if r["stage"] == "clv_reference" and r["size"] == clv_size
                          and r.get("ok") and not math.isnan(r.get("wall_s", math.nan))), None)
        beside = (f" (lifetimes {reference['wall_s']:.1f} s, {reference['peak_mib']:,} MiB)" if reference
                  else " (lifetimes not timed)")
        checks.append((clv_target, f"{clv['wall_s']:.1f} s, {clv['peak_mib']:,} MiB{beside}",
                       clv["wall_s"] <= TARGET_CLV_WALL_S and clv["peak_mib"] <= TARGET_CLV_PEAK_MIB))
    else:
        checks.append((clv_target, "not run (use --clv-customers 1M)", None))
    verified = [r for r in results if r["stage"] == "verify"]
    if verified:
        checks.append(("engine and pandas tables identical",
                       ", ".join(f"{r['size']}: {'yes' if r['ok'] else 'NO'}" for r in verified),
                       all(r["ok"] for r in verified)))
    return checks


def _large_run_targets(clean: dict[str, Any] | None, report: dict[str, Any] | None
                       ) -> list[tuple[str, str, bool | None]]:
    """Issue 16's 100M-line targets: clean from Parquet, and the whole report."""
    size = rows_label(TARGET_FEATURES_ROWS)
    clean_target = f"{size} lines cleaned from Parquet in <= {TARGET_CLEAN_PARQUET_WALL_S:.0f} s"
    report_target = (f"whole report on {size} lines <= {TARGET_REPORT_WALL_S:.0f} s and "
                     f"<= {TARGET_REPORT_PEAK_MIB / 1024:.0f} GiB")
    return [
        (clean_target, f"{clean['wall_s']:.1f} s", clean["wall_s"] <= TARGET_CLEAN_PARQUET_WALL_S) if clean
        else (clean_target, "not run (use --large)", None),
        (report_target, f"{report['wall_s']:.1f} s, {report['peak_mib']:,} MiB",
         report["wall_s"] <= TARGET_REPORT_WALL_S and report["peak_mib"] <= TARGET_REPORT_PEAK_MIB) if report
        else (report_target, "not run (use --large --report)", None),
    ]


def write_report(results: Sequence[dict[str, Any]], info: dict[str, Any], args: argparse.Namespace,
                 out_dir: Path) -> tuple[Path, Path]:
    """Write the CSV and the Markdown table; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    csv_path, md_path = out_dir / f"bench-{stamp}.csv", out_dir / f"bench-{stamp}.md"
    with open(csv_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for result in results:
            writer.writerow({k: result.get(k, "") for k in CSV_FIELDS})
    lines = [
        f"# Benchmark {stamp}",
        "",
        f"Machine: {info['cores']} cores ({info['cpu'] or 'unknown CPU'}), {info['ram_gib']} GiB RAM, "
        f"{info['os']}; Python {info['python']}, duckdb {info['duckdb']}, pandas {info['pandas']}, "
        f"pyarrow {info['pyarrow']}, numpy {info['numpy']}.",
        f"DuckDB memory limit (ingest, clean, eda_customer_table): "
        f"{args.memory_limit or 'run.memory_limit of params.yaml'}; "
        f"best of {args.repeat} run(s) per stage. Command: `python -m bench.run {' '.join(args.argv)}`".rstrip(),
        "",
        "Each stage runs in its own process; *wall* is the stage's work (imports excluded), "
        "*CPU* its user + system time, *peak* its maximum resident memory, *load* the 1-minute "
        "load average when it started (other work on the machine slows a stage down).",
        "",
        *([f"Rows `*{SPARK_SUFFIX}`: the same stage with `engine.kind: spark`, Spark local mode "
           f"({spark_settings(args)}; pyspark {info.get('pyspark')}, {info.get('java')}). Their *wall* "
           "excludes the Spark session start (in the notes); *CPU* includes the JVM's and its "
           "pyspark workers' (the stage waits for the JVM to exit, so `wait4` counts them); *peak* "
           "is the largest sum of the resident memory (RSS) of the stage process and all its "
           "descendants (the JVM and the pyspark worker processes it starts), sampled every "
           f"{SAMPLE_INTERVAL_S} s with psutil (pages shared between them count once per process). "
           "The other rows' *peak* is the stage process's own `ru_maxrss` (it has no child "
           "processes).", ""] if getattr(args, "spark", False) else []),
        "| size | stage | wall s | CPU s | peak MiB | load | notes |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for r in results:
        if r["stage"] == "verify":
            lines.append(f"| {r['size']} | verify (engine vs pandas) | | | | | {r['detail']} |")
            continue
        if r["stage"] == "verify_spark":
            lines.append(f"| {r['size']} | verify (Spark vs DuckDB) | | | | | {r['detail']} |")
            continue
        if r["stage"] == "clv_agreement":
            lines.append(f"| {r['size']} | clv vs clv_reference | | | | | {r['detail']} |")
            continue
        lines.append(f"| {r['size']} | {r['stage']} | {_fmt(r.get('wall_s'))} | {_fmt(r.get('cpu_s'))} | "
                     f"{_fmt(r.get('peak_mib'))} | {_fmt(r.get('load_1min'), 2)} | {_note(r)} |")
    lines += ["", "## Targets", "", "| target | measured | met |", "|---|---|---|"]
    for target, measured, met in targets(results):
        lines.append(f"| {target} | {measured} | {'' if met is None else ('yes' if met else 'NO')} |")
    md_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    shutil.copyfile(csv_path, out_dir / "latest.csv")
    shutil.copyfile(md_path, out_dir / "latest.md")
    return csv_path, md_path


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1M,10M", help="comma-separated line counts (default 1M,10M)")
    parser.add_argument("--large", action="store_true", help="add 100M lines (Parquet only)")
    parser.add_argument("--stages", default=",".join(DEFAULT_STAGES),
                        help=f"comma-separated, from: {', '.join(STAGE_ORDER)}")
    parser.add_argument("--report", action="store_true", help="also time the full report (all notebooks)")
    parser.add_argument("--csv-max", type=parse_rows, default=parse_rows("10M"),
                        help="largest size also written and read as CSV (default 10M)")
    parser.add_argument("--cluster-max", type=parse_rows, default=parse_rows("10M"),
                        help="largest size the clustering stage runs on (default 10M lines)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per stage; the fastest is kept")
    parser.add_argument("--memory-limit", default="", help="DuckDB memory limit, e.g. 4GB (run.memory_limit)")
    parser.add_argument("--data", type=Path, default=DEFAULT_OUT, help="folder for generated data (gitignored)")
    parser.add_argument("--out", type=Path, default=REPORT_DIR, help="folder for the CSV and Markdown results")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--spark", action="store_true",
                        help=f"also run {', '.join(SPARK_STAGES)} on Spark (local mode), as <stage>{SPARK_SUFFIX} rows")
    parser.add_argument("--spark-master", default=SPARK_MASTER, help=f"with --spark (default {SPARK_MASTER})")
    parser.add_argument("--spark-driver-memory", default=SPARK_DRIVER_MEMORY,
                        help=f"with --spark: spark.driver.memory (default {SPARK_DRIVER_MEMORY})")
    parser.add_argument("--spark-shuffle-partitions", type=int, default=SPARK_SHUFFLE_PARTITIONS,
                        help=f"with --spark: spark.sql.shuffle.partitions (default {SPARK_SHUFFLE_PARTITIONS})")
    parser.add_argument("--clv-customers", type=parse_rows, default=0,
                        help="also simulate this many BTYD customers (e.g. 1M) and time clv and "
                             "clv_reference (lifetimes) on them (default off)")
    args = parser.parse_args(argv)
    args.argv = argv
    sizes = [parse_rows(s) for s in args.sizes.split(",") if s.strip()]
    if args.large and TARGET_FEATURES_ROWS not in sizes:
        sizes.append(TARGET_FEATURES_ROWS)
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = set(stages) - set(STAGE_ORDER)
    if unknown:
        parser.error(f"unknown stage(s) {', '.join(sorted(unknown))}")
    if args.report and "report" not in stages:
        stages.append("report")
    stages = [s for s in STAGE_ORDER if s in stages]
    if args.spark and importlib.util.find_spec("pyspark") is None:
        parser.error("--spark needs pyspark and sqlglot: run make setup-spark")
    env = dict(os.environ, MPLBACKEND="Agg")
    Path(args.data).mkdir(parents=True, exist_ok=True)
    args.engine_params = engine_params(args)
    if args.spark:
        args.spark_params = spark_params(args)
    log = Path(args.data) / "bench.log"
    info = machine(spark=args.spark)
    print(f"machine: {info['cores']} cores, {info['ram_gib']} GiB, load {os.getloadavg()[0]:.2f}; "
          f"stage errors go to {log}", flush=True)
    if args.spark:
        print(f"spark: {spark_settings(args)}; pyspark {info['pyspark']}, {info['java']}", flush=True)
    results: list[dict[str, Any]] = []
    for rows in sorted(sizes):
        results += bench_size(rows, stages, args, env, log)
    if args.clv_customers:
        results += bench_clv(args.clv_customers, args, env, log)
    csv_path, md_path = write_report(results, info, args, args.out)
    print(f"wrote {csv_path} and {md_path}")
    for target, measured, met in targets(results):
        print(f"  {target}: {measured}{'' if met is None else (' (met)' if met else ' (NOT met)')}")
    return 0 if all(r.get("ok") or r["stage"] == "clv_agreement" and r["ok"] is None for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
