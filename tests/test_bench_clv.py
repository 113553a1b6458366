"""The benchmark's simulated-customer CLV run (`bench.run --clv-customers`), on a tiny size."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pandas as pd
from bench import clv_bench, run, stages

from helpers.catalog import TRANSACTION_COLUMNS


def _lines(tmp_path: Path, customers: int = 200) -> Path:
    return clv_bench.write_clv_lines(customers, tmp_path / "data")


def test_clv_lines_have_cleaned_columns_and_customer_count(tmp_path):
    path = _lines(tmp_path)
    lines = pd.read_parquet(path)
    assert list(lines.columns) == list(TRANSACTION_COLUMNS)
    assert lines["customer_id"].nunique() == 200
    assert (lines["amount"] > 0).all() and not lines["is_return"].any()
    # Reused, not rewritten, when asked again with the same settings.
    written = path.stat().st_mtime_ns
    assert clv_bench.write_clv_lines(200, tmp_path / "data") == path
    assert path.stat().st_mtime_ns == written


def test_clv_stage_covers_every_customer_with_a_purchase_day(tmp_path):
    path = _lines(tmp_path)
    params_file = run.engine_params(argparse.Namespace(data=tmp_path / "data", memory_limit=""))
    out = tmp_path / "clv.parquet"
    result = stages.clv(transactions=str(path), out=str(out), params_file=str(params_file))
    lines = pd.read_parquet(path)
    buyers = lines.loc[~lines["is_return"] & (lines["amount"] > 0), "customer_id"].nunique()
    assert result["customers"] == buyers == len(pd.read_parquet(out))
    assert set(result["params"]) == set(clv_bench.CLV_TRUTH)


def test_clv_target_and_agreement_rows():
    clv = {"size": "1M customers", "rows": 1_000_000, "stage": "clv", "ok": True, "wall_s": 12.0,
           "peak_mib": 900}
    checks = {target: met for target, _, met in run.targets([clv])}
    assert checks["clv.parquet for 1M customers <= 30 s and <= 1.5 GiB"] is True
    skipped = {"ok": True, "wall_s": math.nan, "skipped": stages.LIFETIMES_MISSING}
    row = clv_bench.compare_clv("1M customers", 1_000_000, Path("."), clv, skipped)
    assert row["ok"] is None and "lifetimes not installed" in row["detail"]
