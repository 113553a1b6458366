"""Benchmark reading order lines from PostgreSQL (``input.database``) beside the same lines from Parquet.

Usage::

    python -m bench.postgres                     # 10M lines, run.memory_limit 2GB and 512MB
    python -m bench.postgres --rows 1M --memory-limits 1GB

`bench.generate` writes (or reuses) the synthetic lines as Parquet under ``data/bench/``; a
throwaway server (`helpers.database_server`) is started in a temporary folder and the lines
are loaded into its table ``lines`` (the sample's column names and types). Then each stage
runs `helpers.io.load_transactions` (what 01_clean's reading costs: the rows streamed into
the staged, typed table) in its own process, so its peak resident memory is its own
(`bench.run.run_stage`):

- ``ingest_parquet``: from the Parquet file, the baseline;
- ``ingest_postgres``: every row of the table, streamed from the server;
- ``ingest_postgres_window``: ``input.database.since/until`` keeping the second half of the
  data window (the server filters; no index, so it still scans the table).

Each memory limit of ``--memory-limits`` runs the three stages. Results go to
``reports/bench/postgres-<rows>.md`` (and are printed). The server and its folder are
removed at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from bench.generate import DEFAULT_OUT, generate, parse_rows, rows_label
from bench.run import REPORT_DIR, best_of, machine

# The table's columns: (column, Parquet column, PostgreSQL type); the sample's names.
BENCH_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("order_no", "InvoiceNo", "text"),
    ("sku", "StockCode", "text"),
    ("item", "Description", "text"),
    ("qty", "Quantity", "integer"),
    ("ordered_at", "InvoiceDate", "timestamp"),
    ("price", "UnitPrice", "numeric(12,3)"),
    ("customer", "CustomerID", "text"),
    ("country", "Country", "text"),
)
MAPPING = {"customer_id": "customer", "invoice_id": "order_no", "invoice_date": "ordered_at", "quantity": "qty",
           "unit_price": "price", "amount": None, "product_id": "sku", "description": "item", "country": "country"}
WINDOW = {"since": "2011-06-05", "until": None}  # the second half of bench.generate's 2010-12-01 .. 2011-12-09


def _params_file(folder: Path, name: str, tree: dict[str, Any]) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(tree, sort_keys=False), encoding="utf-8")
    return path


def write_report(rows: int, load_s: float, results: list[dict[str, Any]]) -> Path:
    """Write the Markdown table of the results to ``reports/bench/postgres-<rows>.md``; return its path."""
    info = machine()
    lines = [f"# Reading {rows_label(rows)} order lines from PostgreSQL ({dt.datetime.now():%Y-%m-%d %H:%M})", "",
             f"Machine: {info['cores']} cores, {info['ram_gib']} GiB RAM, {info['cpu']}; duckdb {info['duckdb']}, "
             f"pyarrow {info['pyarrow']}. Loading the table took {load_s:.0f} s. CPU s is this process's only "
             f"(the server's COPY runs in its own); load = the 1-minute load average at the stage's start.", "",
             "| stage | run.memory_limit | rows read | wall s | CPU s | peak MiB | load |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r['stage']} | {r['memory_limit']} | {r.get('rows_read', 0):,} | {r.get('wall_s', float('nan')):.1f} "
                     f"| {r['cpu_s']:.0f} | {r['peak_mib']:,} | {r['load_1min']} |" if r["ok"]
                     else f"| {r['stage']} | {r['memory_limit']} | failed: {r['error']} |||||")
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    out = REPORT_DIR / f"postgres-{rows_label(rows)}.md"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def _plan(work: Path, url: str, memory_limit: str) -> dict[str, Path]:
    """Return stage -> params file: Parquet, the whole table, the table within `WINDOW`."""
    run = {"memory_limit": memory_limit, "temp_dir": str(work.resolve() / "tmp")}
    database = {"url": url, "table": "lines"}
    tag = memory_limit.replace("%", "pct")
    return {
        "ingest_parquet": _params_file(work, f"parquet-{tag}", {"run": run}),
        "ingest_postgres": _params_file(work, f"postgres-{tag}", {"run": run, "input": {
            "database": database, "columns": MAPPING}}),
        "ingest_postgres_window": _params_file(work, f"window-{tag}", {"run": run, "input": {
            "database": {**database, **WINDOW}, "columns": MAPPING}}),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return the exit status."""
    from helpers.database_server import load_lines, start_server
    from helpers.engine import quote_literal

    parser = argparse.ArgumentParser(prog="python -m bench.postgres", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="10M")
    parser.add_argument("--data", default=str(DEFAULT_OUT))
    parser.add_argument("--memory-limits", default="2GB,512MB", help="comma-separated run.memory_limit values")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args(argv)
    rows = parse_rows(args.rows)
    parquet = generate(rows, Path(args.data), ["parquet"], seed=42)["parquet"]
    work = Path(args.data) / "work" / f"postgres-{rows_label(rows)}"
    work.mkdir(parents=True, exist_ok=True)
    server = start_server()
    try:
        url = server.url("bench")
        start = time.perf_counter()
        load_lines(url, f"read_parquet({quote_literal(str(parquet))})", BENCH_COLUMNS, "lines")
        load_s = time.perf_counter() - start
        print(f"[{rows_label(rows)}] loaded into PostgreSQL in {load_s:.0f} s", flush=True)
        env, log = dict(os.environ), work / "bench.log"
        results = []
        for limit in (m.strip() for m in args.memory_limits.split(",") if m.strip()):
            for stage, params in _plan(work, url, limit).items():
                result = best_of("ingest", {"raw": str(parquet), "params_file": str(params)}, args.repeat, env, log,
                                 {"size": f"{rows_label(rows)}, {limit}", "stage": stage})
                result.update(rows_read=result.get("rows", 0), memory_limit=limit)  # rows `load_transactions` staged
                results.append(result)
    finally:
        server.stop(remove=True)
    print(f"written: {write_report(rows, load_s, results)}")
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
