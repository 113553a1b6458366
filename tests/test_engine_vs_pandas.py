"""The engine path and a plain-pandas baseline give the same customers and the same R/F/M.

A small synthetic export (`bench.generate`, the benchmark's generator: returns, missing
customers, duplicates, postage lines) goes through 01_clean's functions; the customer
tables of 02_eda (`eda.customer_summary`) and 03_rfm (`rfm.customer_metrics`) are then
checked against `bench.baseline.pandas_rfm` on the same cleaned file: recency and
frequency exactly, monetary to the cent.
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `bench` lives next to `tests`, outside the installed package
    sys.path.insert(0, str(ROOT))

from bench.baseline import analysis_date_of, compare_rfm, engine_rfm, mismatches, pandas_rfm  # noqa: E402
from bench.generate import generate  # noqa: E402

from helpers import clean, eda, io, rfm  # noqa: E402
from helpers.config import load_params  # noqa: E402

ROWS = 30_000


@pytest.fixture(scope="module")
def cleaned(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    folder = tmp_path_factory.mktemp("engine_vs_pandas")
    raw = generate(ROWS, folder, formats=("csv",), seed=7)["csv"]
    params = load_params()
    params["input"]["path"] = str(raw)
    con = duckdb.connect()
    source = io.load_transactions(con, params["input"])
    log = clean.apply_cleaning(con, params["cleaning"])
    clean.row_arithmetic(log, source["rows"], clean.clean_summary(con)["rows"])
    paths = {"transactions": folder / "transactions.parquet", "cleaning_log": folder / "cleaning_log.csv"}
    clean.write_outputs(con, log, paths)
    return paths["transactions"], log.set_index("rule")


def test_synthetic_export_exercises_the_rules_that_matter(cleaned):
    _, log = cleaned
    for rule in ("missing_customer_id", "exact_duplicate", "non_product_code", "return_netted"):
        assert log.loc[rule, "rows"] > 0, f"{rule}: the generator should produce such lines"


def test_eda_customer_table_matches_pandas(cleaned):
    path, _ = cleaned
    with duckdb.connect() as con:
        engine = engine_rfm(eda.customer_summary(con, path), analysis_date_of(path))
    comparison = compare_rfm(engine, pandas_rfm(path))
    assert comparison["customers"] > 100
    assert mismatches(comparison) == 0, comparison


def test_rfm_metrics_match_pandas_frequency_and_monetary(cleaned):
    path, _ = cleaned
    metrics = rfm.customer_metrics(path)
    baseline = pandas_rfm(path)
    merged = metrics.merge(baseline, on="customer_id", how="outer", indicator=True, suffixes=("", "_pandas"))
    assert (merged["_merge"] == "both").all(), "engine and pandas disagree on the customers"
    assert (merged["purchase_invoices"] == merged["frequency_pandas"]).all()
    cents = np.round(merged["monetary"] * 100), np.round(merged["monetary_pandas"] * 100)
    assert (cents[0] == cents[1]).all()


def test_comparison_catches_one_cent_and_one_missing_customer(cleaned):
    path, _ = cleaned
    baseline = pandas_rfm(path)
    tampered = baseline.copy()
    tampered.loc[0, "monetary"] += 0.01
    tampered = tampered.drop(index=1)
    comparison = compare_rfm(baseline, tampered)
    assert comparison["monetary_differs"] == 1
    assert comparison["customers_only_engine"] == 1
