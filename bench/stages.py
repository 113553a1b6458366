"""One benchmark stage per process: ``python -m bench.stages STAGE '{"json": "arguments"}'``.

Engine stages time their work including writing their Parquet output; the pandas
baselines stop the clock before writing, which favours the baseline slightly.

`bench.run` starts each stage in a fresh interpreter so that the operating system's peak
resident memory of that process (``ru_maxrss``) belongs to that stage alone. A stage
prints one JSON line on stdout: ``wall_s`` (the work itself, imports excluded) plus
stage-specific figures (rows, customers, sub-step timings).

``on_spark`` runs another stage with ``engine.kind: spark`` (`bench.run --spark`): it starts
the Spark session first (timed apart, ``session_s``), runs the stage, then stops Spark and
waits for the JVM to exit, so the JVM is this process's reaped child and its CPU time and
peak memory show in this process's resource usage.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

STAGES: dict[str, Callable[..., dict[str, Any]]] = {}


class Laps(dict):
    """Sub-step timings of a stage: ``lap(name)`` records the seconds since the previous lap."""

    def __init__(self) -> None:
        super().__init__()
        self.start = self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self[name] = round(now - self._last, 2)
        self._last = now


def stage(function: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """Register a stage under its function name."""
    STAGES[function.__name__] = function
    return function


def _params(params_file: str, raw: str | None = None) -> dict[str, Any]:
    """The params of `bench.run` (engine settings), with `raw` as the input export."""
    from helpers.config import load_params

    params = load_params(params_file, check_input=False)
    if raw is not None:
        params["input"]["path"] = raw
    return params


def _connect(params: dict[str, Any]) -> Any:
    from helpers.engine import EngineSettings, connect

    return connect(EngineSettings.from_params(params))


@stage
def ingest(raw: str, params_file: str) -> dict[str, Any]:
    """Read the export into the staged canonical table (`helpers.io.load_transactions`)."""
    from helpers import io

    params = _params(params_file, raw)
    con = _connect(params)
    start = time.perf_counter()
    source = io.load_transactions(con, params["input"])
    return {"wall_s": time.perf_counter() - start, "rows": source["rows"]}


@stage
def clean(raw: str, out_dir: str, params_file: str) -> dict[str, Any]:
    """Run what 01_clean runs, in its order, and write the cleaned Parquet and log."""
    from helpers import catalog, clean_report, io
    from helpers import clean as cleaning

    params = _params(params_file, raw)
    params["paths"]["interim_dir"] = out_dir
    con = _connect(params)
    laps = Laps()
    start = laps.start

    source = io.load_transactions(con, params["input"])
    clean_report.mapping_table(params["input"], source)
    laps.lap("ingest_s")
    log = cleaning.apply_cleaning(con, params["cleaning"])
    laps.lap("rules_s")
    summary = cleaning.clean_summary(con)
    arithmetic = cleaning.row_arithmetic(log, source["rows"], summary["rows"])
    clean_report.cleaning_takeaway(log, arithmetic)
    laps.lap("summary_s")
    cleaning.flagged_lines(con, limit=10)
    io.write_cleaned(con, catalog.path(params, "transactions"))
    catalog.write(params, "cleaning_log", log)
    catalog.write(params, "facts", cleaning.cleaning_facts(summary, arithmetic))
    clean_report.summary_table(summary)
    laps.lap("outputs_s")
    return {"wall_s": time.perf_counter() - start, "rows": source["rows"], "kept": summary["rows"],
            "customers": summary["customers"], **laps}


@stage
def eda_customer_table(transactions: str, out: str, params_file: str) -> dict[str, Any]:
    """02_eda's customer table (`helpers.eda.customer_summary`), written to Parquet.

    The connection is 02_eda's: `helpers.engine.connect` with the run's engine settings.
    """
    from helpers import eda

    params = _params(params_file)
    start = time.perf_counter()
    with _connect(params) as con:
        customers = eda.customer_summary(con, transactions)
    customers.to_parquet(out, index=False)
    return {"wall_s": time.perf_counter() - start, "customers": len(customers)}


@stage
def rfm_metrics(transactions: str, out: str, params_file: str) -> dict[str, Any]:
    """03_rfm's metrics (`helpers.rfm.customer_metrics`, with cancellation matching)."""
    from helpers import rfm

    params = _params(params_file)
    start = time.perf_counter()
    with _connect(params) as con:
        metrics = rfm.customer_metrics(con, transactions, rfm.day_after_last_line(con, transactions))
    metrics.to_parquet(out, index=False)
    return {"wall_s": time.perf_counter() - start, "customers": len(metrics)}


@stage
def clv(transactions: str, out: str, params_file: str) -> dict[str, Any]:
    """03_rfm's future value: BTYD inputs, BG/NBD and Gamma-Gamma fits, predictions, Parquet.

    The out-of-time validation is not included (it repeats the inputs and the BG/NBD fit on
    the calibration period).
    """
    from helpers import clv as btyd
    from helpers import rfm

    params = _params(params_file)
    settings = params["clv"]
    laps = Laps()
    start = laps.start

    with _connect(params) as con:
        analysis_date = rfm.day_after_last_line(con, transactions)
        inputs = btyd.btyd_inputs(con, transactions, analysis_date)
    laps.lap("inputs_s")
    bgnbd = btyd.fit_bgnbd(inputs)
    gg = btyd.fit_gamma_gamma(inputs)
    laps.lap("fit_s")
    predictions = btyd.predict(inputs, bgnbd, gg, horizon_days=settings["horizon_days"],
                               churn_days=settings["churn_days"],
                               discount_rate=settings["discount_rate"], analysis_date=analysis_date)
    laps.lap("predict_s")
    predictions.to_parquet(out, index=False)
    laps.lap("write_s")
    fitted = {"r": bgnbd.r, "alpha": bgnbd.alpha, "a": bgnbd.a, "b": bgnbd.b,
              "p": gg.p, "q": gg.q, "v": gg.v}
    return {"wall_s": time.perf_counter() - start, "customers": len(predictions), **laps,
            "params": fitted}


@stage
def clv_lines(customers: int, data: str, seed: int) -> dict[str, Any]:
    """Write (or reuse) the simulated customers' cleaned transactions (`bench.clv_bench.write_clv_lines`).

    A stage of its own so the simulation's memory stays out of the parent process: a child
    started by vfork and exec inherits its parent's peak resident memory in ``ru_maxrss``.
    """
    from bench.clv_bench import write_clv_lines

    start = time.perf_counter()
    path = write_clv_lines(customers, Path(data), seed=seed)
    return {"wall_s": time.perf_counter() - start, "path": str(path)}


LIFETIMES_MISSING = "lifetimes not installed (pip install lifetimes==0.11.3 into .venv to time it beside)"


@stage
def clv_reference(transactions: str, out: str, params_file: str) -> dict[str, Any]:
    """The reference library's default path (`lifetimes`), on `clv`'s inputs, for comparison.

    The inputs step (`helpers.clv.btyd_inputs`) is the same as `clv`'s and is timed apart
    (``inputs_s``); ``library_s`` is lifetimes alone: ``BetaGeoFitter().fit(frequency,
    recency, T)``, ``GammaGammaFitter().fit`` on repeat customers, then P(alive), expected
    purchases over the horizon and expected spend per order. ``wall_s`` is the whole, so it
    compares with `clv`'s. The project does not depend on lifetimes (unmaintained since
    2020): without it the stage is skipped.
    """
    try:
        import lifetimes
    except ImportError:
        return {"wall_s": float("nan"), "skipped": LIFETIMES_MISSING}
    import pandas as pd

    from helpers import clv as btyd
    from helpers import rfm

    params = _params(params_file)
    horizon = params["clv"]["horizon_days"]
    start = time.perf_counter()
    with _connect(params) as con:
        inputs = btyd.btyd_inputs(con, transactions, rfm.day_after_last_line(con, transactions))
    inputs_done = time.perf_counter()
    frequency, recency, big_t = inputs["frequency"], inputs["recency"], inputs["T"]
    bgf = lifetimes.BetaGeoFitter().fit(frequency, recency, big_t)
    repeat = inputs[inputs["frequency"] > 0]
    ggf = lifetimes.GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
    fit_done = time.perf_counter()
    alive = bgf.conditional_probability_alive(frequency, recency, big_t)
    orders = bgf.conditional_expected_number_of_purchases_up_to_time(horizon, frequency, recency, big_t)
    spend = ggf.conditional_expected_average_profit(frequency, inputs["monetary_value"])
    library_done = time.perf_counter()
    pd.DataFrame({"customer_id": inputs["customer_id"].to_numpy(), "p_alive": alive,
                  "expected_orders": orders, "expected_spend": spend}).to_parquet(out, index=False)
    end = time.perf_counter()
    fitted = {k: float(bgf.params_[k]) for k in ("r", "alpha", "a", "b")}
    fitted.update({k: float(ggf.params_[k]) for k in ("p", "q", "v")})
    return {"wall_s": end - start, "customers": len(inputs), "inputs_s": round(inputs_done - start, 2),
            "fit_s": round(fit_done - inputs_done, 2), "predict_s": round(library_done - fit_done, 2),
            "library_s": round(library_done - inputs_done, 2), "write_s": round(end - library_done, 2),
            "lifetimes": getattr(lifetimes, "__version__", "?"), "params": fitted}


@stage
def rfm_scoring(metrics: str, out: str, params_file: str) -> dict[str, Any]:
    """03_rfm's 1-5 scores and segments on the metrics table (pandas, customer level)."""
    import pandas as pd

    from helpers import rfm

    settings = _params(params_file)["rfm"]
    table = pd.read_parquet(metrics)
    start = time.perf_counter()
    scored = rfm.score_customers(table, method=settings["scoring"], cuts=settings["cuts"])
    segment_map = rfm.load_segment_map(rfm.resolve_segment_map_path(settings["segment_map"]))
    segmented = rfm.assign_segments(scored, segment_map).loc[:, list(rfm.RFM_COLUMNS)]
    rfm.segment_summary(segmented, segment_map)
    segmented.to_parquet(out, index=False)
    return {"wall_s": time.perf_counter() - start, "customers": len(segmented)}


@stage
def clustering(rfm_table: str, customers: str, params_file: str) -> dict[str, Any]:
    """04_clustering's `run_clustering` with the default settings, if `helpers.cluster` exists."""
    import pandas as pd

    try:
        from helpers import cluster
    except ImportError:
        return {"wall_s": float("nan"), "skipped": "helpers.cluster not found"}
    params = _params(params_file)
    settings = cluster.ClusterSettings.from_params(params.get("clustering", {}), seed=params["run"]["seed"])
    table = cluster.add_customer_features(pd.read_parquet(rfm_table), settings.features,
                                          pd.read_parquet(customers))
    start = time.perf_counter()
    run = cluster.run_clustering(table, settings)
    labels = cluster.labels_frame(run)
    return {"wall_s": time.perf_counter() - start, "customers": len(labels)}


def _pandas_baseline(compute: Callable[[str], Any], transactions: str, out: str) -> dict[str, Any]:
    """Time a `bench.baseline` function; the clock stops before its table is written."""
    start = time.perf_counter()
    table = compute(transactions)
    wall = time.perf_counter() - start
    table.to_parquet(out, index=False)
    return {"wall_s": wall, "customers": len(table)}


@stage
def pandas_eda_table(transactions: str, out: str, params_file: str = "") -> dict[str, Any]:
    """02_eda's customer table in plain pandas (`bench.baseline.pandas_customer_summary`)."""
    from bench.baseline import pandas_customer_summary

    return _pandas_baseline(pandas_customer_summary, transactions, out)


@stage
def pandas_rfm_metrics(transactions: str, out: str, params_file: str = "") -> dict[str, Any]:
    """03_rfm's metrics in plain pandas, cancellation matching included (`bench.baseline.pandas_customer_metrics`)."""
    from bench.baseline import pandas_customer_metrics

    return _pandas_baseline(pandas_customer_metrics, transactions, out)


@stage
def report(params_file: str) -> dict[str, Any]:
    """The whole report (`python -m helpers.runner`) on the synthetic export."""
    import yaml

    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "helpers.runner", "--params", params_file],
                          capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"report failed: {(done.stderr or done.stdout).strip().splitlines()[-1:]}")
    wall = time.perf_counter() - start
    reports = Path(yaml.safe_load(Path(params_file).read_text())["paths"]["reports_dir"])
    manifest = json.loads((reports / "latest" / "manifest.json").read_text(encoding="utf-8"))
    steps = "; ".join(f"{s['notebook'][:2]} {s['seconds']:.0f} s {s['peak_memory_mib'] or 0:,} MiB"
                      for s in manifest["steps"])
    return {"wall_s": wall, "steps": steps}


@stage
def same_lines(first: str, second: str, params_file: str) -> dict[str, Any]:
    """Compare two cleaned-lines Parquet files in DuckDB: columns and types, then the lines.

    Each file is read once, in a streaming aggregate (no sort, no spill): its line count and
    two 128-bit sums of 64-bit line hashes, one of each line's values and one of its
    position and values. Equal counts and sums: the same lines (``identical``), and in the
    same order (``same_order``); a chance collision aside. `bench.run --spark` checks
    Spark's 01_clean output against DuckDB's with it.
    """
    from helpers.engine import quote_identifier, quote_literal

    start = time.perf_counter()
    figures: list[tuple[Any, ...]] = []
    with _connect(_params(params_file)) as con:
        schemas = [con.execute(f"DESCRIBE SELECT * FROM read_parquet({quote_literal(f)})").fetchall()
                   for f in (first, second)]
        for path, schema in zip((first, second), schemas, strict=True):
            values = ", ".join(quote_identifier(row[0]) for row in schema)
            figures.append(con.execute(
                f"SELECT count(*), sum(hash({values})), sum(hash(file_row_number, {values})) "
                f"FROM read_parquet({quote_literal(path)}, file_row_number = true)").fetchone())
    columns = [row[:2] for row in schemas[0]] == [row[:2] for row in schemas[1]]
    (rows_a, lines_a, ordered_a), (rows_b, lines_b, ordered_b) = figures
    identical = columns and rows_a == rows_b and lines_a == lines_b
    return {"wall_s": time.perf_counter() - start, "rows_first": rows_a, "rows_second": rows_b,
            "same_columns": columns, "identical": identical,
            "same_order": identical and ordered_a == ordered_b}


def stop_spark(spark: Any, timeout: float = 120.0) -> bool:
    """Stop the Spark session and wait for its JVM to exit; True when the JVM was reaped.

    pyspark starts the JVM (``spark-submit``, which execs ``java``) as a child of this
    process and leaves it running until the process exits; it exits when its stdin closes.
    Waiting for it here makes it a reaped child: ``getrusage(RUSAGE_CHILDREN)`` and the
    parent's ``wait4`` then count its CPU time and peak memory.
    """
    from pyspark import SparkContext

    gateway = SparkContext._gateway
    spark.stop()
    process = getattr(gateway, "proc", None)
    if process is None:  # Spark Connect, or a JVM this process did not start
        return False
    if process.stdin is not None:
        process.stdin.close()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    return True


@stage
def on_spark(stage: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Run `stage` with ``engine.kind: spark`` (the params file in `arguments` says so).

    The Spark session (and its JVM) starts before the stage's clock, timed as ``session_s``;
    the stage's own connections then reuse it. Adds the session's settings, and this
    process's and its reaped children's (the JVM's) peak resident memory in MiB.
    """
    import resource

    params = _params(arguments["params_file"])
    if params["engine"]["kind"] != "spark":
        raise ValueError(f"{arguments['params_file']}: engine.kind is not spark")
    start = time.perf_counter()
    con = _connect(params)
    conf = con.spark.sparkContext.getConf()
    session_s = time.perf_counter() - start
    settings = {"spark_master": con.spark.sparkContext.master,
                "spark_driver_memory": conf.get("spark.driver.memory", "1g"),
                "spark_shuffle_partitions": con.spark.conf.get("spark.sql.shuffle.partitions"),
                "spark_version": con.spark.version}
    try:
        result = STAGES[stage](**arguments)
    finally:
        reaped = stop_spark(con.spark)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {**result, "session_s": round(session_s, 2), **settings, "jvm_reaped": reaped,
            "self_maxrss_mib": round(own), "children_maxrss_mib": round(children)}


def main(argv: list[str] | None = None) -> int:
    """Run one stage and print its JSON result."""
    argv = sys.argv[1:] if argv is None else argv
    name, arguments = argv[0], json.loads(argv[1]) if len(argv) > 1 else {}
    result = STAGES[name](**arguments)
    print(json.dumps(result, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
