"""The rankings of 05_personas share the lines per cluster and product, and per customer and country.

Made once per connection (helpers.persona_rankings._shared_tables, issue 16), they must be
made again for other labels, another analysis date or a rewritten file: each ranking equals
the one a fresh connection gives.
"""

from __future__ import annotations

import pandas as pd
import pytest

from helpers import persona_rankings
from helpers.engine import EngineSettings, connect


def _lines(directory, rows) -> str:
    frame = pd.DataFrame(rows, columns=["customer_id", "product_id", "description", "country", "invoice_date", "amount"])
    frame["invoice_date"] = pd.to_datetime(frame["invoice_date"])
    frame["is_return"] = frame["amount"] < 0
    path = directory / "lines.parquet"
    frame.to_parquet(path, index=False)
    return str(path)


ROWS = [
    ("a", "P1", "MUG", "UK", "2024-01-02", 10.0), ("a", "P2", "BAG", "UK", "2024-01-03", 4.0),
    ("b", "P1", "MUG", "France", "2024-01-02", 6.0), ("b", "P2", "BAG", "France", "2024-01-04", 8.0),
    ("c", "P2", "BAG", "France", "2024-02-10", 9.0),  # after the analysis date used below
]


def _rankings(con, path, customers, analysis_date=None) -> dict[str, pd.DataFrame]:
    return {
        "products": persona_rankings.top_by_cluster(con, path, customers, "product", 1, analysis_date),
        "countries": persona_rankings.top_by_cluster(con, path, customers, "country", 1, analysis_date),
        "signature": persona_rankings.signature_products(con, path, customers, 1, analysis_date, 0.0, 1),
    }


def _fresh(path, customers, analysis_date=None) -> dict[str, pd.DataFrame]:
    with connect(EngineSettings(memory_limit="1GB", threads=1)) as fresh:
        return _rankings(fresh, path, customers, analysis_date)


@pytest.fixture
def con():
    with connect(EngineSettings(memory_limit="1GB", threads=1)) as connection:
        yield connection


def test_rankings_follow_the_labels_the_date_and_the_file(tmp_path, con):
    path = _lines(tmp_path, ROWS)
    together = pd.DataFrame({"customer_id": ["a", "b", "c"], "cluster": [0, 0, 0]})
    apart = pd.DataFrame({"customer_id": ["a", "b", "c"], "cluster": [0, 1, 1]})
    first = _rankings(con, path, together)
    # One cluster: BAG 21 > MUG 16 over all lines; France 2 customers.
    assert first["products"]["item"].tolist() == ["P2"]
    assert first["products"]["revenue"].tolist() == [21.0]
    assert first["countries"]["item"].tolist() == ["France"]
    for customers, date in ((apart, None), (apart, "2024-02-01"), (together, "2024-02-01")):
        again = _rankings(con, path, customers, date)
        for name, frame in _fresh(path, customers, date).items():
            pd.testing.assert_frame_equal(again[name], frame, check_exact=True)
    # Cluster 0 (a): MUG 10; cluster 1 (b, c) before February: BAG 8 > MUG 6.
    before = _rankings(con, path, apart, "2024-02-01")["products"]
    assert before["item"].tolist() == ["P1", "P2"] and before["revenue"].tolist() == [10.0, 8.0]
    _lines(tmp_path, ROWS[:2])  # rewritten: only a's lines
    assert _rankings(con, path, apart)["products"]["item"].tolist() == ["P1"]


def test_signature_alone_reads_no_country(tmp_path, con):
    # An items-only file (no country column) serves the signature, which needs no country.
    frame = pd.DataFrame({"customer_id": ["a", "b"], "product_id": ["P1", "P2"], "description": ["MUG", "BAG"],
                          "invoice_date": pd.to_datetime(["2024-01-02"] * 2), "amount": [1.0, 1.0],
                          "is_return": [False, False]})
    frame.to_parquet(tmp_path / "items.parquet", index=False)
    customers = pd.DataFrame({"customer_id": ["a", "b"], "cluster": [0, 1]})
    sig = persona_rankings.signature_products(con, str(tmp_path / "items.parquet"), customers, 1, None, 0.0, 1)
    assert sig["item"].tolist() == ["P1", "P2"] and sig["lift"].tolist() == [2.0, 2.0]
