"""Shared fixtures: tiny exports written to tmp_path and params files pointing at them."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

# Debian's Chromium, driven by playwright in the browser tests (no browser download).
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"

# Ten lines whose cleaning outcome is worked out by hand in test_clean.py.
CLEANING_ROWS = [
    "1001,A1,Mug,2,2011-01-03 10:00:00,5.00,100,United Kingdom",       # kept: 10.00
    "1001,A1,Mug,2,2011-01-03 10:00:00,5.00,100,United Kingdom",       # exact_duplicate: 10.00
    "1001,POST,Postage,1,2011-01-03 10:00:00,3.00,100,United Kingdom",  # non_product_code: 3.00
    "1002,B2,Bowl,1,2011-02-10 09:30:00,20.00,,France",                # missing_customer_id: 20.00
    "C1003,A1,Mug,-1,2011-02-11 12:00:00,5.00,100,United Kingdom",     # return, netted: -5.00
    "1004,B2,Bowl,3,2011-03-01 08:00:00,0.00,200,France",              # nonpositive_price: 0.00
    "A1005,B,Adjust bad debt,1,2011-03-02 08:00:00,-50.00,200,France",  # adjustment: -50.00
    "1006,C3,Lamp,1,2011-03-05 10:00:00,NaN,200,France",               # invalid_values (NaN amount)
    "1007,C3,Lamp,4,2011-03-06 11:00:00,10.00,300,Germany",            # kept: 40.00
    "1008,C3,Lamp,1000,2011-03-07 11:00:00,10.00,300,Germany",         # kept, outlier when k=1: 10000.00
]


def write_csv(path: Path, rows: list[str], header: str = HEADER, encoding: str = "utf-8") -> Path:
    """Write a header and rows as a CSV file and return its path."""
    path.write_text("\n".join([header, *rows]) + "\n", encoding=encoding)
    return path


def write_params(path: Path, tree: dict[str, Any]) -> Path:
    """Write a params override YAML and return its path."""
    path.write_text(yaml.safe_dump(tree, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def cleaning_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "orders.csv", CLEANING_ROWS)


@pytest.fixture
def workdirs(tmp_path: Path) -> dict[str, Any]:
    """Params `paths` section sending every output under tmp_path."""
    return {
        "interim_dir": str(tmp_path / "interim"),
        "processed_dir": str(tmp_path / "processed"),
        "reports_dir": str(tmp_path / "reports"),
    }


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict:
    """The EDA fixture's Parquet files (tests/eda_fixture.py), written once per test module."""
    from eda_fixture import fixture_files

    return fixture_files(tmp_path_factory.mktemp("eda"))


@pytest.fixture(autouse=True)
def _close_figures():
    """Close every matplotlib figure a test left open (only when pyplot is in use)."""
    yield
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")


@pytest.fixture()
def con():
    """An engine connection with the default settings, closed after the test."""
    from helpers.engine import EngineSettings, connect

    connection = connect(EngineSettings())
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        message = f"Chromium not found at {CHROMIUM}; fix: apt-get install chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
