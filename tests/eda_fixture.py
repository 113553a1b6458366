"""The 12 cleaned lines behind the 02_eda tests (test_eda.py, test_eda_plots.py), answers worked out by hand.

Fixture (5 customers, 3 months, 7 purchase orders, 2 return lines):

    line invoice cust date              product desc   country  qty   amount  return
    1    INV1    A    2011-01-03 10:15  P1      MUG    UK       2     10      no
    2    INV1    A    2011-01-03 10:15  P2      BAG    UK       1     20      no
    3    INV2    B    2011-01-05 14:30  P1      MUG    France   4     20      no
    4    INV3    C    2011-01-10 10:45  P3      ""     UK       10    10      no
    5    C1      A    2011-02-01 09:00  P2      BAG    UK       -1   -20      yes
    6    INV4    A    2011-02-07 10:20  P1      MUG    UK       3     15      no
    7    INV5    B    2011-02-01 11:00  P2      BAG    France   2     40      no
    8    INV5    B    2011-02-01 11:00  P3      null   France   5      5      no
    9    C2      D    2011-02-07 16:00  P1      MUG    null     -1    -5      yes
    10   INV6    E    2011-03-07 10:30  P2      BAG    UK       3     60      no (outlier)
    11   INV7    A    2011-03-10 14:05  P3      ""     UK       20    20      no
    12   INV7    A    2011-03-10 14:05  P1      MUG    UK       2     10      no

UK is "United Kingdom" in the data. Total net revenue 185. D has only a return.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from helpers.catalog import TRANSACTION_COLUMNS

UK = "United Kingdom"
# invoice, customer, date, product, description, country, quantity, unit_price, amount, return, outlier
LINES = [
    ("INV1", "A", "2011-01-03 10:15", "P1", "MUG", UK, 2, 5.0, 10.0, False, False),
    ("INV1", "A", "2011-01-03 10:15", "P2", "BAG", UK, 1, 20.0, 20.0, False, False),
    ("INV2", "B", "2011-01-05 14:30", "P1", "MUG", "France", 4, 5.0, 20.0, False, False),
    ("INV3", "C", "2011-01-10 10:45", "P3", "", UK, 10, 1.0, 10.0, False, False),
    ("C1", "A", "2011-02-01 09:00", "P2", "BAG", UK, -1, 20.0, -20.0, True, False),
    ("INV4", "A", "2011-02-07 10:20", "P1", "MUG", UK, 3, 5.0, 15.0, False, False),
    ("INV5", "B", "2011-02-01 11:00", "P2", "BAG", "France", 2, 20.0, 40.0, False, False),
    ("INV5", "B", "2011-02-01 11:00", "P3", None, "France", 5, 1.0, 5.0, False, False),
    ("C2", "D", "2011-02-07 16:00", "P1", "MUG", None, -1, 5.0, -5.0, True, False),
    ("INV6", "E", "2011-03-07 10:30", "P2", "BAG", UK, 3, 20.0, 60.0, False, True),
    ("INV7", "A", "2011-03-10 14:05", "P3", "", UK, 20, 1.0, 20.0, False, False),
    ("INV7", "A", "2011-03-10 14:05", "P1", "MUG", UK, 2, 5.0, 10.0, False, False),
]
COLUMNS = [
    "invoice_id",
    "customer_id",
    "invoice_date",
    "product_id",
    "description",
    "country",
    "quantity",
    "unit_price",
    "amount",
    "is_return",
    "is_outlier",
]


def transactions(lines: list[tuple]) -> pd.DataFrame:
    """Build a frame typed like 01_clean's output."""
    frame = pd.DataFrame(lines, columns=COLUMNS)
    frame["invoice_date"] = pd.to_datetime(frame["invoice_date"]).astype("datetime64[us]")
    for column in ("quantity", "unit_price", "amount"):
        frame[column] = frame[column].astype("float64")
    for column in ("is_return", "is_outlier"):
        frame[column] = frame[column].astype("bool")
    return frame[list(TRANSACTION_COLUMNS)]


def write(directory: Path, name: str, lines: list[tuple]) -> str:
    """Write `lines` as ``<directory>/<name>.parquet`` and return its path."""
    path = directory / f"{name}.parquet"
    transactions(lines).to_parquet(path, index=False)
    return str(path)


def fixture_files(directory: Path) -> dict:
    """Write the main fixture, an empty file and a one-line file; return their paths."""
    return {
        "main": write(directory, "main", LINES),
        "empty": write(directory, "empty", []),
        "one": write(directory, "one", [LINES[0]]),
        "directory": directory,
    }

