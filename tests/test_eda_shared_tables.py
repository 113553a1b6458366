"""Tests for the tables 02_eda reads once per connection and file (helpers.eda.shared_table, issue 16).

The aggregates read the lines summed per invoice part (customer, invoice, kind, country,
month), per product and per purchase order. An invoice whose lines fall in two months or
two countries must still count where the lines do, as when every query read the lines.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from eda_fixture import write
from helpers import eda, eda_cohorts
from helpers.engine import memory_limit_bytes

# invoice, customer, date, product, description, country, quantity, unit_price, amount, return, outlier
SPLIT = [
    ("INV1", "A", "2011-01-31 23:00", "P1", "MUG", "UK", 1, 10.0, 10.0, False, False),  # Monday
    ("INV1", "A", "2011-02-01 01:00", "P2", "BAG", "France", 1, 5.0, 5.0, False, False),  # same invoice, next month
    ("INV2", "B", "2011-02-03 09:00", "P1", "MUG", "UK", 1, 7.0, 7.0, False, False),  # Thursday
    ("C1", "A", "2011-02-05 10:00", "P1", "MUG", "UK", -1, 5.0, -5.0, True, False),
]


def test_an_invoice_in_two_months_and_countries_counts_where_its_lines_are(con, tmp_path):
    path = write(tmp_path, "split", SPLIT)
    row = eda.overview(con, path).iloc[0]
    assert (row["lines"], row["customers"], row["purchase_orders"], row["countries"]) == (4, 2, 2, 2)
    assert (row["net_revenue"], row["return_lines"], row["outlier_lines"]) == (17.0, 1, 0)
    monthly = eda.monthly_summary(con, path)
    # January: INV1's first line (A); February: INV1's second line and INV2 (A and B), and the return.
    assert monthly["orders"].tolist() == [1, 2]
    assert monthly["active_customers"].tolist() == [1, 2]
    assert monthly["net_revenue"].tolist() == [10.0, 7.0]
    countries = eda.country_summary(con, path).set_index("country")
    assert countries.loc["UK", ["net_revenue", "customers", "orders"]].tolist() == [12.0, 2, 2]
    assert countries.loc["France", ["net_revenue", "customers", "orders"]].tolist() == [5.0, 1, 1]
    customer_a = eda.customer_summary(con, path).set_index("customer_id").loc["A"]
    assert (customer_a["orders"], customer_a["lines"], customer_a["country"]) == (1, 3, "UK")
    assert customer_a["return_share"] == pytest.approx(1 / 3)
    assert customer_a["distinct_products"] == 2
    # INV1 is one purchase order, timed by its first line (Monday 23:00), worth 15.
    assert eda.orders_by_weekday(con, path)["orders"].tolist() == [1, 0, 0, 1, 0, 0, 0]
    assert eda.orders_by_hour(con, path).set_index("hour")["orders"][[9, 23]].tolist() == [1, 1]
    retention = eda_cohorts.cohort_retention(con, path, cohort_months=2)
    january = retention[retention["cohort"] == pd.Timestamp("2011-01-01")]
    assert january["active_customers"].tolist() == [1, 1]  # A buys again in February (INV1's second line)


def test_shared_tables_are_read_again_when_the_file_changes(con, tmp_path):
    path = tmp_path / "t.parquet"
    write(tmp_path, "t", SPLIT)
    assert eda.overview(con, path)["purchase_orders"].iloc[0] == 2
    write(tmp_path, "t", SPLIT[2:])  # rewritten: INV2 and the return only
    assert eda.overview(con, path)["purchase_orders"].iloc[0] == 1
    assert eda.monthly_summary(con, path)["orders"].tolist() == [1]
    assert eda.customer_summary(con, path)["customer_id"].tolist() == ["A", "B"]
    assert eda.top_products(con, path, n=5)["product_id"].tolist() == ["P1"]


def test_products_keyed_by_description_count_their_orders_and_customers(con, tmp_path):
    lines = [
        ("INV1", "A", "2011-01-03 10:00", "P1", "MUG", "UK", 1, 10.0, 10.0, False, False),
        ("INV1", "A", "2011-01-03 10:00", None, " TEA ", "UK", 1, 4.0, 4.0, False, False),
        ("INV2", "B", "2011-01-04 10:00", None, "TEA", "UK", 1, 4.0, 4.0, False, False),
        ("INV3", "C", "2011-01-05 10:00", "TEA", "Tea (id)", "UK", 1, 3.0, 3.0, False, False),  # an id equal to it
    ]
    top = eda.top_products(con, write(tmp_path, "tea", lines), n=2)
    # TEA: 4 + 4 + 3 = 11 over INV1-3 (A, B, C); its most frequent description "TEA" (2 lines).
    assert top["product_id"].tolist() == ["TEA", "P1"]
    assert top["net_revenue"].tolist() == [11.0, 10.0]
    assert top["orders"].tolist() == [3, 1]
    assert top["customers"].tolist() == [3, 1]
    assert top["description"].tolist() == ["TEA", "MUG"]


def test_bitmaps_split_into_parts_count_the_same_and_the_setting_comes_back(con, tmp_path, monkeypatch):
    path = write(tmp_path, "split", SPLIT)
    monkeypatch.setattr(eda, "PRODUCT_BITMAP_SHARE", 0.0)  # no bitmaps: DISTINCT pairs
    pairs = eda.customer_summary(con, path)
    con.execute("SET threads = 2").fetchall()
    products, customers = 2, 2  # P1, P2 bought; A and B
    assert eda._bitmap_parts(con, products, customers) == 0
    one_thread = 1.1 * products * customers / 8 * 1.5 / memory_limit_bytes(con)  # room for one thread's bitmaps
    monkeypatch.setattr(eda, "PRODUCT_BITMAP_SHARE", one_thread)
    assert eda._bitmap_parts(con, products, customers) == 2  # two parts on the two threads
    split = eda.customer_summary(con, path)
    pd.testing.assert_frame_equal(split, pairs, check_exact=True)
    assert con.execute("SELECT current_setting('threads')").fetchone()[0] == 2
    con.execute("SET threads = 3").fetchall()  # 3 threads' bitmaps are 2 budgets: 2 parts
    assert eda._bitmap_parts(con, products, customers) == 2
    pd.testing.assert_frame_equal(eda.customer_summary(con, path), pairs, check_exact=True)
    con.execute("SET threads = 1").fetchall()
    assert eda._bitmap_parts(con, products, customers) == 1
    pd.testing.assert_frame_equal(eda.customer_summary(con, path), pairs, check_exact=True)
    monkeypatch.setattr(eda, "PRODUCT_BITMAP_SHARE", one_thread / 1.6)  # not even one thread's: pairs
    assert eda._bitmap_parts(con, products, customers) == 0


def test_lines_without_a_customer_count_no_product_on_either_path(con, tmp_path, monkeypatch):
    rows = [*SPLIT, ("INV3", None, "2011-02-04 09:00", "P2", "BAG", "UK", 2, 5.0, 10.0, False, False)]
    path = write(tmp_path, "no_id", rows)
    bitmaps = eda.customer_summary(con, path)
    monkeypatch.setattr(eda, "PRODUCT_BITMAP_SHARE", 0.0)  # no bitmaps: DISTINCT pairs
    pairs = eda.customer_summary(con, path)
    pd.testing.assert_frame_equal(bitmaps, pairs, check_exact=True)
    missing = bitmaps[bitmaps["customer_id"].isna()]
    assert len(missing) == 1 and missing["distinct_products"].tolist() == [0]  # as before issue 16's change


def test_a_file_rewritten_with_its_old_size_and_time_is_read_again(con, tmp_path):
    import os

    path = write(tmp_path, "same_size", SPLIT)
    assert eda.country_summary(con, path)["country"].tolist() == ["UK", "France"]
    before = os.stat(path)
    renamed = [(*row[:5], "Greece" if row[5] == "France" else row[5], *row[6:]) for row in SPLIT]  # as long as "France"
    write(tmp_path, "same_size", renamed)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # the old modification time put back
    assert os.stat(path).st_size == before.st_size
    assert eda.country_summary(con, path)["country"].tolist() == ["UK", "Greece"]


def test_customers_split_into_parts_count_the_same_as_pairs(con, tmp_path, monkeypatch):
    rng = np.random.default_rng(7)
    rows = [
        (f"INV{i // 3}", f"C{rng.integers(60)}", f"2011-0{1 + i % 9}-1{i % 10} 10:00", f"P{rng.integers(25)}",
         "ITEM", "UK", 1, 2.0, 2.0, bool(rng.random() < 0.1), False)
        for i in range(1_500)
    ]
    path = write(tmp_path, "many", rows)
    monkeypatch.setattr(eda, "PRODUCT_BITMAP_SHARE", 0.0)
    pairs = eda.customer_summary(con, path)
    con.execute("SET threads = 3").fetchall()
    products, customers = con.execute(eda.BITMAP_SIZE_SQL).fetchall()[0]
    three_parts = 1.1 * products * customers / 8 * 1.01 / memory_limit_bytes(con)  # one thread's bitmaps
    monkeypatch.setattr(eda, "PRODUCT_BITMAP_SHARE", three_parts)
    assert eda._bitmap_parts(con, products, customers) == 3
    split = eda.customer_summary(con, path)
    pd.testing.assert_frame_equal(split, pairs, check_exact=True)
    assert split["distinct_products"].between(1, 25).all() and len(split) == 60
    temporary = {row[0] for row in con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()}
    assert not {eda.CUSTOMER_PART_TABLE.format(k=k) for k in range(3)} & temporary  # the parts are dropped
    assert eda.ORDER_PARTS_TABLE in temporary  # the shared tables stay
