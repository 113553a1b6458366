"""Every notebook on generated customer-level tables (input.level: customers), with and without RFM."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import write_params
from helpers.config import NOTEBOOKS
from helpers.runner import run_report

pytestmark = pytest.mark.slow


def customer_table(path, customers: int = 240, seed: int = 1) -> pd.DataFrame:
    """Two kinds of customers: young frequent web visitors and older rare big spenders, plus flaws."""
    rng = np.random.default_rng(seed)
    young = rng.random(customers) < 0.5
    frame = pd.DataFrame({
        "Client": [f"K{i:04d}" for i in range(customers)],
        "DaysSince": np.where(young, rng.integers(1, 30, customers), rng.integers(60, 300, customers)),
        "Orders": np.where(young, rng.integers(5, 15, customers), rng.integers(1, 3, customers)),
        "Spend": np.round(np.where(young, rng.uniform(100, 400, customers), rng.uniform(500, 3000, customers)), 2),
        "YearBirth": np.where(young, rng.integers(1990, 2002, customers), rng.integers(1950, 1975, customers)),
        "Sex": np.where(rng.random(customers) < np.where(young, 0.8, 0.3), "F", "M"),
        "Education": np.where(young, "Graduate", rng.choice(["Basic", "PhD"], customers)),
        "WebVisits": np.where(young, rng.integers(6, 12, customers), rng.integers(0, 3, customers)),
    })
    frame.loc[3, "YearBirth"] = 1893  # impossible: set missing, then the median fills it for clustering
    frame = pd.concat([frame, frame.iloc[[5]]], ignore_index=True)  # an exact duplicate row
    frame.to_csv(path, index=False)
    return frame


def run(tmp_path, columns, features, log_features):
    workdirs = {key: str(tmp_path / name) for key, name in (
        ("interim_dir", "interim"), ("processed_dir", "processed"), ("reports_dir", "reports"))}
    customer_table(tmp_path / "crm.csv")
    params_file = write_params(tmp_path / "params.yaml", {
        "input": {"path": "crm.csv", "level": "customers", "columns": columns},
        "rfm": {"analysis_date": "2024-01-01"},
        "clustering": {"features": features, "log_features": log_features, "k_max": 5,
                       "bootstrap_resamples": 5},
        "paths": workdirs})
    return run_report(str(params_file))


def pages(run_dir):
    return {name: (run_dir / f"{name}.html").read_text() for name in NOTEBOOKS}


def test_customer_table_with_rfm_and_categorical_features_runs_end_to_end(tmp_path):
    run_dir = run(tmp_path, {"customer_id": "Client", "recency_days": "DaysSince", "frequency": "Orders",
                             "monetary": "Spend", "birth_year": "YearBirth", "gender": "Sex"},
                  ["recency_days", "frequency", "monetary", "WebVisits", "age", "gender", "Education"],
                  ["frequency", "monetary"])
    html = pages(run_dir)
    for name, page in html.items():
        assert "Traceback" not in page, name
    assert "impossible_values" in html["01_clean"] and "duplicate_rows" in html["01_clean"]
    segments = pd.read_csv(run_dir / "segments.csv")
    assert len(segments) == 240 and segments["customer_id"].is_unique
    assert {"rfm_segment", "cluster", "persona"} <= set(segments.columns)
    personas = pd.read_csv(run_dir / "personas.csv")
    assert personas["persona"].is_unique and personas["customers"].sum() == 240
    assert personas.shape[0] >= 2


def test_customer_table_without_rfm_names_personas_from_features(tmp_path):
    run_dir = run(tmp_path, {"customer_id": "Client", "birth_year": "YearBirth", "gender": "Sex"},
                  ["WebVisits", "age", "Spend"], ["Spend"])
    html = pages(run_dir)
    assert "RFM needs recency_days, frequency and monetary columns" in html["03_rfm"]
    segments = pd.read_csv(run_dir / "segments.csv")
    assert list(segments.columns) == ["customer_id", "cluster", "persona"] and len(segments) == 240
    personas = pd.read_csv(run_dir / "personas.csv")
    assert personas["persona"].is_unique
    assert personas["persona"].str.contains("WebVisits|age|Spend").all()  # named from what sets them apart
