"""Cleaning rules on the hand-worked fixture in conftest.CLEANING_ROWS."""

import copy

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import catalog, clean, clean_report, io
from helpers.config import load_params
from helpers.errors import UserError
from helpers.io import load_transactions


def run_cleaning(csv_path, **cleaning_changes):
    params = load_params()
    params["input"]["path"] = str(csv_path)
    cleaning = copy.deepcopy(params["cleaning"])
    for key, value in cleaning_changes.items():
        if key.startswith("outliers_"):
            cleaning["outliers"][key.removeprefix("outliers_")] = value
        else:
            cleaning[key] = value
    con = duckdb.connect()
    source = load_transactions(con, params["input"])
    log = clean.apply_cleaning(con, cleaning)
    return con, source, log.set_index("rule")


def test_each_rule_removes_the_line_worked_out_by_hand(cleaning_csv):
    con, source, log = run_cleaning(cleaning_csv, outliers_k=1.0)
    expected = {  # rule: (rows, revenue)
        "missing_customer_id": (1, 20.0),
        "invalid_values": (1, 0.0),  # the NaN amount contributes no revenue
        "exact_duplicate": (1, 10.0),
        "adjustment": (1, -50.0),
        "non_product_code": (1, 3.0),
        "nonpositive_price": (1, 0.0),
        "return_dropped": (0, 0.0),
        "outlier_dropped": (0, 0.0),
        "return_netted": (1, -5.0),
        "outlier_flagged": (1, 10000.0),
    }
    for rule, (rows, revenue) in expected.items():
        assert log.loc[rule, "rows"] == rows, rule
        assert log.loc[rule, "revenue"] == pytest.approx(revenue), rule
    assert log.loc["return_dropped", "action"] == "off"
    kept = con.execute("SELECT invoice_id, amount, is_return, is_outlier FROM cleaned").df()
    assert kept["invoice_id"].tolist() == ["1001", "C1003", "1007", "1008"]
    assert kept["amount"].tolist() == pytest.approx([10.0, -5.0, 40.0, 10000.0])
    assert kept["is_return"].tolist() == [False, True, False, False]
    assert kept["is_outlier"].tolist() == [False, False, False, True]
    assert clean.row_arithmetic(log.reset_index(), source["rows"], len(kept)) == {
        "raw_rows": 10, "removed_rows": 6, "kept_rows": 4,
    }
    summary = clean.clean_summary(con)
    assert (summary["customers"], summary["orders"]) == (2, 3)  # 100 and 300; orders 1001, 1007, 1008
    assert summary["net_revenue"] == pytest.approx(10045.0)


def test_outlier_threshold_is_q3_plus_k_iqr_on_log_scale(cleaning_csv):
    # Kept |amounts| 10, 5, 40, 10000 -> log10 quartiles by linear interpolation.
    logs = np.log10([5.0, 10.0, 40.0, 10000.0])
    q1, q3 = np.quantile(logs, [0.25, 0.75])
    threshold = 10 ** (q3 + 1.0 * (q3 - q1))
    assert 40 < threshold < 10000
    _, _, log = run_cleaning(cleaning_csv, outliers_k=1.0)
    assert f"{threshold:,.2f}" in log.loc["outlier_flagged", "description"]
    _, _, default_log = run_cleaning(cleaning_csv)  # k = 3: nothing is extreme enough
    assert default_log.loc["outlier_flagged", "rows"] == 0


def test_returns_drop_and_outliers_drop(cleaning_csv):
    # Without the return, kept |amounts| are 10, 40, 10000: log10 quartiles 1.301 and 2.801,
    # so with k = 0.5 the threshold is 10 ** 3.551 = 3,556 and only the 10,000 line is dropped.
    con, _, log = run_cleaning(cleaning_csv, returns="drop", outliers_k=0.5, outliers_action="drop")
    assert log.loc["return_dropped", ["rows", "revenue"]].tolist() == [1, -5.0]
    assert log.loc["return_netted", "action"] == "off"
    assert log.loc["outlier_dropped", ["rows", "revenue"]].tolist() == [1, 10000.0]
    assert con.execute("SELECT list(invoice_id ORDER BY invoice_id) FROM cleaned").fetchall()[0][0] == ["1001", "1007"]


def test_rules_can_be_switched_off(cleaning_csv):
    con, _, log = run_cleaning(
        cleaning_csv, drop_exact_duplicates=False, drop_nonpositive_prices=False, non_product_codes=[]
    )
    assert log.loc["exact_duplicate", "action"] == "off"
    assert log.loc["exact_duplicate", "rows"] == 0
    assert log.loc["non_product_code", "rows"] == 0
    assert con.execute("SELECT count(*) FROM cleaned").fetchall()[0][0] == 7


def test_negative_quantity_without_c_prefix_is_a_return(tmp_path):
    from conftest import write_csv

    path = write_csv(tmp_path / "o.csv", ["1,A1,Mug,2,2011-01-03,5.00,100,UK", "2,A1,Mug,-2,2011-01-04,5.00,100,UK"])
    con, _, log = run_cleaning(path)
    assert log.loc["return_netted", "rows"] == 1
    assert clean.clean_summary(con)["net_revenue"] == 0.0


def test_invalid_pattern_is_a_user_error(cleaning_csv):
    with pytest.raises(UserError, match="non_product_patterns"):
        run_cleaning(cleaning_csv, non_product_patterns=["(unclosed"])


def test_every_row_removed_is_a_user_error(tmp_path):
    from conftest import write_csv

    path = write_csv(tmp_path / "o.csv", ["1,A1,Mug,2,2011-01-03,5.00,,UK"])
    con, _, _ = run_cleaning(path)
    with pytest.raises(UserError, match="removed every row"):
        clean.clean_summary(con)


lines = st.fixed_dictionaries({
    "customer_id": st.sampled_from(["1", "2", "3", None]),
    "invoice_id": st.sampled_from(["10", "11", "C12", "A13", None]),
    "invoice_date": st.sampled_from([pd.Timestamp("2011-01-01"), pd.Timestamp("2011-02-01"), None]),
    "product_id": st.sampled_from(["P1", "P2", "POST", None]),
    "quantity": st.sampled_from([1.0, 2.0, -1.0, 0.0, 500.0]),
    "unit_price": st.sampled_from([1.0, 2.5, 0.0, -3.0, float("nan")]),
})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(lines, min_size=1, max_size=40), returns=st.sampled_from(["net", "drop"]),
       outliers=st.sampled_from(["flag", "drop"]))
def test_property_rows_and_revenue_add_up(tmp_path, rows, returns, outliers):
    frame = pd.DataFrame(rows)
    frame["description"] = "d"
    frame["country"] = "UK"
    path = tmp_path / "p.parquet"
    frame.to_parquet(path)
    params = load_params()
    params["input"]["path"] = str(path)
    params["input"]["columns"] = {f: f for f in params["input"]["columns"]} | {"amount": None}
    params["cleaning"]["returns"] = returns
    params["cleaning"]["outliers"].update(action=outliers, k=0.5)
    con = duckdb.connect()
    source = load_transactions(con, params["input"])
    log = clean.apply_cleaning(con, params["cleaning"])
    kept_rows, kept_revenue = con.execute("SELECT count(*), coalesce(sum(amount), 0) FROM cleaned").fetchall()[0]
    clean.row_arithmetic(log, source["rows"], kept_rows)  # raises when raw != kept + removed
    amounts = frame["quantity"] * frame["unit_price"]
    finite_total = amounts[np.isfinite(amounts)].sum()
    removed_revenue = log.loc[log["action"] == "removed", "revenue"].sum()
    assert kept_revenue + removed_revenue == pytest.approx(finite_total)
    assert con.execute("SELECT count(*) FROM cleaned WHERE customer_id IS NULL OR NOT isfinite(amount)").fetchall()[0][0] == 0
    kept_customers = {c for (c,) in con.execute("SELECT DISTINCT customer_id FROM cleaned").fetchall()}
    assert log["customers"].sum() == len(set(frame["customer_id"].dropna()) - kept_customers)


def test_repeated_header_rows_and_future_dates_are_removed_and_logged(tmp_path):
    from conftest import HEADER, write_csv

    rows = [
        "1,A1,Mug,2,2011-01-03,5.00,100,UK",
        HEADER,  # a second export pasted below the first
        "2,A1,Mug,1,2011-01-04,5.00,100,UK",
        "3,A1,Mug,1,2099-01-01,7.00,100,UK",  # clock error
    ]
    con, source, log = run_cleaning(write_csv(tmp_path / "o.csv", rows))
    assert source["unparsed"]["invoice_date"] == 0  # the header copy is not a parse failure
    assert log.loc["repeated_header", "rows"] == 1
    assert log.loc["future_date", ["rows", "revenue"]].tolist() == [1, 7.0]
    assert con.execute("SELECT list(invoice_id ORDER BY invoice_id) FROM cleaned").fetchall()[0][0] == ["1", "2"]
    _, _, kept_future = run_cleaning(write_csv(tmp_path / "o.csv", rows), drop_future_dates=False)
    assert kept_future.loc["future_date", "action"] == "off" and kept_future.loc["future_date", "rows"] == 0


def test_cleaning_takeaway_names_the_biggest_rule(cleaning_csv):
    _, source, log = run_cleaning(cleaning_csv)
    log = log.reset_index()
    log.loc[log["rule"] == "exact_duplicate", "rows"] = 3  # make one rule clearly the biggest
    sentence = clean_report.cleaning_takeaway(log, {"raw_rows": 10, "kept_rows": 4, "removed_rows": 6})
    assert sentence == ("10 rows read = 4 kept + 6 removed; the biggest removal is exact_duplicate (3 rows, 30% of all rows)."
                        " 1 customer lost every line (invalid_values 1).")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(lines, min_size=1, max_size=60))
def test_property_duplicates_are_the_later_copies_pandas_finds(tmp_path, rows):
    # Few distinct values, so pairs, triples and lines that differ in one field are common.
    frame = pd.DataFrame(rows).assign(description="d", country="UK")
    path = tmp_path / "p.parquet"
    frame.to_parquet(path)
    params = load_params()
    params["input"].update(path=str(path), columns={f: f for f in params["input"]["columns"]} | {"amount": None})
    con = duckdb.connect()
    load_transactions(con, params["input"])
    amount = frame["quantity"] * frame["unit_price"]
    survives = frame["customer_id"].notna() & frame["invoice_date"].notna() & np.isfinite(amount)
    later_copies = frame[survives].astype(str).duplicated(keep="first")
    expected = sorted(int(i) + 1 for i in later_copies[later_copies].index)
    for sort in (True, False):  # DuckDB sorts the hashes, Spark groups them: the same lines
        sql = f"SELECT row_id FROM ({clean._duplicates_sql(params['cleaning'], sort=sort)}) ORDER BY row_id"
        assert [r for (r,) in con.execute(sql).fetchall()] == expected


def test_kept_lines_come_out_in_input_order_every_time(tmp_path):
    # 120,000 lines in 24 row groups, read by 4 threads; every 7th line is repeated later
    # (a duplicate far from its original) and every 11th has no customer.
    n = 120_000
    invoice = [f"{i:07d}" for i in range(n)]
    frame = pd.DataFrame({
        "InvoiceNo": invoice, "StockCode": "A1", "Description": "Mug", "Quantity": 1,
        "InvoiceDate": pd.Timestamp("2011-01-03"), "UnitPrice": 1.5,
        "CustomerID": [None if i % 11 == 0 else "100" for i in range(n)], "Country": "UK",
    })
    repeats = frame.iloc[::7]
    frame = pd.concat([frame, repeats], ignore_index=True)
    path = tmp_path / "o.parquet"
    frame.to_parquet(path, row_group_size=5_000)
    expected = [inv for i, inv in enumerate(invoice) if i % 11 != 0]
    runs = []
    for _ in range(2):
        con, _, log = run_cleaning(path)
        runs.append(con.execute("SELECT invoice_id FROM cleaned").fetchnumpy()["invoice_id"].tolist())
        assert log.loc["exact_duplicate", "rows"] == len([i for i in range(0, n, 7) if i % 11 != 0])
    assert runs[0] == expected
    assert runs[1] == runs[0]


def test_quartiles_from_a_frequency_table_equal_duckdb_quantile_cont():
    rng = np.random.default_rng(3)
    values = np.round(rng.lognormal(1, 1.5, 5_000), 1)  # many repeated values
    distinct, counts = np.unique(values, return_counts=True)
    for q in (0.0, 0.25, 0.5, 0.75, 0.9, 1.0):
        expected = duckdb.execute("SELECT quantile_cont(v, ?) FROM (SELECT unnest(?) AS v)",
                                  [q, values.tolist()]).fetchall()[0][0]
        assert clean.quantile_from_counts(distinct, counts, q) == expected, q


def test_write_cleaned_writes_the_cleaned_view_even_when_replaced(cleaning_csv, tmp_path):
    from helpers.io import cleaned_file, write_cleaned

    con, _, _ = run_cleaning(cleaning_csv)
    target = tmp_path / "out" / "t.parquet"
    write_cleaned(con, target)
    assert target.read_bytes() == cleaned_file(con).read_bytes()  # the staged file, copied as it is
    assert pd.read_parquet(target)["invoice_id"].tolist() == ["1001", "C1003", "1007", "1008"]
    con.execute("CREATE OR REPLACE TEMP VIEW cleaned AS SELECT *, false AS is_outlier FROM flagged "
                "WHERE reason IS NULL AND amount > 20")
    write_cleaned(con, target)  # not the staged file: written with COPY
    assert pd.read_parquet(target)["invoice_id"].tolist() == ["1007", "1008"]


def test_cleaning_again_on_the_connection_leaves_a_written_file_as_it_was(cleaning_csv, tmp_path):
    # The written file may be a hard link to the staged one: a rerun must not write through it.
    from helpers.io import write_cleaned

    con, _, _ = run_cleaning(cleaning_csv)
    first = write_cleaned(con, tmp_path / "first.parquet")
    content = first.read_bytes()
    clean.apply_cleaning(con, {**load_params()["cleaning"], "returns": "drop"})
    second = write_cleaned(con, tmp_path / "second.parquet")
    assert first.read_bytes() == content
    assert pd.read_parquet(first)["invoice_id"].tolist() == ["1001", "C1003", "1007", "1008"]
    assert pd.read_parquet(second)["invoice_id"].tolist() == ["1001", "1007", "1008"]


def test_facts_of_01_clean_go_through_the_catalog_and_fix_the_analysis_date(cleaning_csv, tmp_path):
    con, source, log = run_cleaning(cleaning_csv)
    summary = clean.clean_summary(con)
    arithmetic = clean.row_arithmetic(log.reset_index(), source["rows"], summary["rows"])
    facts = clean.cleaning_facts(summary, arithmetic)
    params = {"paths": {"interim_dir": str(tmp_path / "interim"), "processed_dir": str(tmp_path / "processed")},
              "rfm": {"analysis_date": "auto"}}
    catalog.write(params, "facts", facts)
    assert catalog.read(params, "facts") == facts
    assert (facts["raw_rows"], facts["kept_rows"], facts["customers"]) == (10, 4, 2)
    last = con.execute("SELECT max(invoice_date) FROM cleaned").fetchall()[0][0]
    assert catalog.analysis_date(params) == pd.Timestamp(last).normalize() + pd.Timedelta(days=1)
    with pytest.raises(KeyError, match="first_date"):
        clean.cleaning_facts({k: v for k, v in summary.items() if k != "first_date"}, arithmetic)


def test_mapping_table_names_what_stands_in_for_unmapped_fields():
    params = load_params()["input"]
    params["columns"] = {**params["columns"], "amount": None, "invoice_id": None, "country": None}
    table = clean_report.mapping_table(params, {"unparsed": {"unit_price": 3}}).set_index("canonical field")
    assert table.loc["amount", "source column"] == "(quantity x unit_price)"
    assert table.loc["invoice_id", "source column"] == "(one order per customer and day; that day's return lines one return)"
    assert table.loc["country", "source column"] == "(not in export)"
    assert table.loc["unit_price", "values not parsed"] == 3
    params["orders_without_id"] = "row"
    table = clean_report.mapping_table(params, {"unparsed": {}}).set_index("canonical field")
    assert table.loc["invoice_id", "source column"] == f"({io.ORDERS_WITHOUT_ID['row'][0]})"


def test_only_cancellations_left_is_a_user_error(tmp_path):
    from conftest import write_csv

    path = write_csv(tmp_path / "o.csv", ["C1,A1,Mug,-2,2011-01-03,5.00,100,UK", "C2,A1,Mug,-1,2011-01-04,5.00,101,UK"])
    con, _, _ = run_cleaning(path)
    with pytest.raises(UserError, match="no purchase orders"):
        clean.clean_summary(con)


# ----------------------------------------------------------------------- customers lost


def test_customers_lost_are_counted_once_under_the_first_rule_that_removed_a_line(cleaning_csv):
    # Customer 200 has three lines, all removed: invalid_values (1006), adjustment (A1005)
    # and nonpositive_price (1004); invalid_values comes first in RULES, so it counts there.
    # Customers 100 and 300 keep lines; the line without a customer is no customer.
    _, _, log = run_cleaning(cleaning_csv)
    assert list(log.columns) == ["action", "rows", "revenue", "customers", "description"]
    assert log["customers"].to_dict() == {rule: int(rule == "invalid_values") for rule in log.index}


def test_customer_lost_to_dropped_outliers_and_header_copies_are_no_customer(tmp_path):
    from conftest import HEADER, write_csv

    rows = [f"{i},A1,Mug,1,2011-01-0{1 + i % 5},{price},{customer},UK" for i, (price, customer) in enumerate(
        [(10, 1), (10, 1), (20, 2), (20, 2), (10, 3), (15, 3)])]
    rows += [HEADER, "9,A1,Mug,1000,2011-01-06,100,4,UK",   # customer 4: one extreme line only
             "10,A1,Mug,1,2011-01-06,0,5,UK", "11,A1,Mug,1,2011-01-07,-3,5,UK"]  # 5: no positive price
    _, _, log = run_cleaning(write_csv(tmp_path / "o.csv", rows), outliers_action="drop")
    assert log.loc["outlier_dropped", ["rows", "customers"]].tolist() == [1, 1]
    assert log.loc["nonpositive_price", ["rows", "customers"]].tolist() == [2, 1]
    assert log.loc["repeated_header", ["rows", "customers"]].tolist() == [1, 0]
    assert log["customers"].sum() == 2
    _, _, flagged = run_cleaning(write_csv(tmp_path / "o.csv", rows))  # flagged, kept: 4 stays
    assert flagged.loc["outlier_flagged", "rows"] == 1 and flagged["customers"].sum() == 1


def test_kept_lines_without_a_customer_lose_no_customer_and_hide_none(tmp_path):
    from conftest import write_csv

    # drop_missing_customer_id off: the lines without an id are kept (NULL in the kept file);
    # customer 6's only line has no positive price, so 6 is lost, under nonpositive_price
    rows = ["1,A1,Mug,1,2011-01-03,5.00,,UK", "2,A1,Mug,1,2011-01-04,5.00,,UK",
            "3,A1,Mug,1,2011-01-04,5.00,7,UK", "4,A1,Mug,1,2011-01-05,0,6,UK"]
    con, _, log = run_cleaning(write_csv(tmp_path / "o.csv", rows), drop_missing_customer_id=False)
    assert log.loc["missing_customer_id", "action"] == "off"
    assert con.execute("SELECT count(*) FROM cleaned WHERE customer_id IS NULL").fetchone()[0] == 2
    assert log["customers"].to_dict() == {rule: int(rule == "nonpositive_price") for rule in log.index}


def test_cleaning_takeaway_reports_the_customers_lost(cleaning_csv):
    _, _, log = run_cleaning(cleaning_csv)
    sentence = clean_report.cleaning_takeaway(log.reset_index(), {"raw_rows": 10, "kept_rows": 4, "removed_rows": 6})
    assert sentence.endswith(" 1 customer lost every line (invalid_values 1).")


# ------------------------------------------------------------------ outlier threshold


def _amount_lines(amounts: list[float]) -> list[str]:
    return [f"{i},A1,Mug,1,2011-01-03,{a!r},{100 + i},UK" for i, a in enumerate(amounts)]


def test_a_line_exactly_at_the_outlier_threshold_is_not_flagged(tmp_path):
    from conftest import write_csv

    # 9 lines: log10 quartiles at ranks 2 and 6 are log10(1) = 0 and log10(7), so with k = 1
    # the threshold is 2 log10(7) = log10(49): 49 is at it (kept unflagged), 50 beyond it.
    # In floating point 10 ** (2 log10 7) is 48.99999999999999, below 49.
    path = write_csv(tmp_path / "o.csv", _amount_lines([1, 1, 1, 3, 5, 7, 7, 49, 50]))
    con, _, log = run_cleaning(path, outliers_k=1.0)
    flagged = con.execute("SELECT amount FROM cleaned WHERE is_outlier").fetchall()
    assert flagged == [(50.0,)]
    assert log.loc["outlier_flagged", "rows"] == 1


def test_lines_at_the_upper_quartile_are_not_flagged_when_the_spread_is_zero(tmp_path):
    from conftest import write_csv

    # Most lines cost 17.85: Q1 = Q3 = log10(17.85), so the threshold is 17.85 itself
    # (10 ** log10(17.85) is 17.849999999999998); only the 500 line is beyond it.
    path = write_csv(tmp_path / "o.csv", _amount_lines([17.85] * 7 + [500.0]))
    con, _, log = run_cleaning(path)
    assert con.execute("SELECT list(amount) FROM cleaned WHERE is_outlier").fetchall()[0][0] == [500.0]
    assert log.loc["outlier_flagged", "rows"] == 1


def test_lines_that_differ_only_in_an_unmapped_column_are_not_duplicates(tmp_path):
    from conftest import write_csv

    """Product columns left unmapped: two products of one order at the same price stay two lines."""
    rows = [
        "1001,A1,Mug,2,2011-01-03 10:00:00,5.00,100,United Kingdom",
        "1001,B7,Bowl,2,2011-01-03 10:00:00,5.00,100,United Kingdom",  # another product: kept
        "1001,B7,Bowl,2,2011-01-03 10:00:00,5.00,100,United Kingdom",  # a true copy: removed
    ]
    params = load_params()
    params["input"].update(path=str(write_csv(tmp_path / "orders.csv", rows)))
    params["input"]["columns"].update(product_id=None, description=None)
    with duckdb.connect() as con:
        load_transactions(con, params["input"])
        log = clean.apply_cleaning(con, params["cleaning"]).set_index("rule")
        kept = con.execute("SELECT count(*) FROM cleaned").fetchone()[0]
    assert log.loc["exact_duplicate", "rows"] == 1
    assert kept == 2
