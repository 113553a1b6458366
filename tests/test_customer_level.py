"""Customer-level input (input.level: customers): loading, cleaning, RFM from columns, naming."""

from __future__ import annotations

import copy

import duckdb
import numpy as np
import pandas as pd
import pytest

from helpers import customer_level, persona_features, rfm, steps
from helpers.config import PROJECT_ROOT, load_params
from helpers.errors import UserError

CSV = """ID;Recency;Purchases;Spend;Since;YearBirth;Gender;Education;Visits;Email
1;10;4;400,50;04-09-2012;1980;F;Graduate;3;a@x.org
2;200;1;50;01-01-2013;1850;M;Basic;1;b@x.org
2;200;1;50;01-01-2013;1850;M;Basic;1;b@x.org
3;30;2;120;15-06-2013;;F;PhD;;c@x.org
3;31;2;120;15-06-2013;1990;F;PhD;5;c@x.org
;5;1;10;01-01-2014;1970;M;Basic;2;d@x.org
4;-3;1;20;02-02-2014;1975;;Basic;4;e@x.org
"""


@pytest.fixture
def input_params(tmp_path):
    path = tmp_path / "crm.csv"
    path.write_text(CSV, encoding="utf-8")
    params = copy.deepcopy(load_params()["input"])
    params.update(path=str(path), level="customers", date_format="%d-%m-%Y")
    params["csv"].update(delimiter=";", decimal=",")
    params["columns"] = {"customer_id": "ID", "recency_days": "Recency", "frequency": "Purchases",
                         "monetary": "Spend", "signup_date": "Since", "birth_year": "YearBirth", "gender": "Gender",
                         "invoice_id": "InvoiceNo"}  # a transaction default: ignored at this level
    return params


def load(input_params):
    with duckdb.connect() as con:
        return customer_level.load_customer_table(con, input_params)


def test_load_maps_fields_and_keeps_other_columns_under_their_names(input_params):
    table, source = load(input_params)
    assert source["rows"] == 7
    assert list(table.columns[:7]) == ["customer_id", "recency_days", "frequency", "monetary", "signup_date",
                                       "birth_year", "gender"]
    assert {"Education", "Visits", "Email"} <= set(table.columns)
    assert table.loc[0, "monetary"] == 400.5  # decimal comma
    assert table.loc[0, "signup_date"] == pd.Timestamp("2012-09-04")  # day first, from input.date_format
    assert pd.api.types.is_numeric_dtype(table["Visits"])  # text column of numbers becomes a number
    assert not pd.api.types.is_numeric_dtype(table["Education"])
    assert table.loc[0, "customer_id"] == "1"


def test_load_names_the_missing_column_and_the_key(input_params):
    input_params["columns"]["monetary"] = "Revenue"
    with pytest.raises(UserError, match=r"column 'Revenue' \(input.columns.monetary\) not found; fix: .*Spend"):
        load(input_params)


def test_load_stops_when_a_date_column_does_not_parse(input_params):
    input_params["date_format"] = "%Y-%m-%d"
    with pytest.raises(UserError, match=r"'Since' \(input.columns.signup_date\): 7 of 7 values do not parse.*input.date_format"):
        load(input_params)


def test_cleaning_rules_count_what_they_did(input_params):
    table, _ = load(input_params)
    cleaned, log = customer_level.clean_customer_table(table, pd.Timestamp("2015-01-01"), ["Visits", "age", "recency_days"])
    counts = log.set_index("rule")[["rows", "customers"]].to_dict("index")
    # 7 rows: one without id, one exact duplicate, customer 3 twice (first row kept)
    assert counts["missing_customer_id"]["rows"] == 1
    assert counts["duplicate_rows"]["rows"] == 1
    assert counts["repeated_customer_id"] == {"rows": 1, "customers": 1}
    assert cleaned["customer_id"].tolist() == ["1", "2", "3", "4"]
    # birth year 1850 (customer 2) and recency -3 (customer 4) cannot be true: set missing
    assert counts["impossible_values"] == {"rows": 2, "customers": 2}
    assert np.isnan(cleaned.loc[1, "birth_year"]) and np.isnan(cleaned.loc[3, "recency_days"])
    # age from birth year at 2015: 35, -, - (customer 3's first row has no year), 40; two filled with the median 37.5
    assert cleaned["age"].tolist() == [35.0, 37.5, 37.5, 40.0]
    # Visits: customer 3's kept row has none: filled with the median of 3, 1, 4 = 3; recency never filled
    assert cleaned["Visits"].tolist() == [3.0, 1.0, 3.0, 4.0]
    assert counts["missing_feature_values"] == {"rows": 3, "customers": 2}  # 3 values of customers 2 and 3
    assert np.isnan(cleaned.loc[3, "recency_days"])


def test_rfm_from_columns_takes_the_metrics_as_exported():
    table = pd.DataFrame({"customer_id": ["b", "a"], "recency_days": [5.0, 40.0], "frequency": [0.0, 3.0],
                          "monetary": [-12.0, 90.0], "signup_date": pd.to_datetime(["2020-01-01", "2019-12-02"])})
    metrics = customer_level.rfm_from_columns(table, pd.Timestamp("2020-01-11"))
    a, b = metrics.iloc[0], metrics.iloc[1]
    assert (a["customer_id"], a["frequency"], a["monetary"], a["avg_order_value"], a["tenure_days"]) == ("a", 3, 90.0, 30.0, 40.0)
    assert a["last_order_date"] == pd.Timestamp("2019-12-02")
    assert b["frequency"] == 0 and np.isnan(b["recency_days"]) and np.isnan(b["avg_order_value"])  # no order: set aside


def test_missing_rfm_fields_and_single_order_warning():
    assert customer_level.missing_rfm_fields(pd.DataFrame(columns=["customer_id", "frequency"])) == ["recency_days", "monetary"]
    assert "input.level: customers" in rfm.single_order_warning(pd.DataFrame({"frequency": [1] * 5}))
    assert rfm.single_order_warning(pd.DataFrame({"frequency": [1, 1, 3]})) is None


def test_default_analysis_date_prefers_the_given_date():
    table = pd.DataFrame({"signup_date": pd.to_datetime(["2020-03-01"])})
    today = pd.Timestamp("2026-11-29 15:00")
    assert customer_level.default_analysis_date(table, pd.Timestamp("2021-01-01"), today) == pd.Timestamp("2021-01-01")
    assert customer_level.default_analysis_date(table, None, today) == pd.Timestamp("2020-03-02")
    assert customer_level.default_analysis_date(table.iloc[:0], None, today) == pd.Timestamp("2026-11-29")


def test_feature_names_say_what_sets_each_cluster_apart():
    customers = pd.DataFrame({
        "customer_id": list("abcdefgh"), "cluster": [0, 0, 0, 0, 1, 1, 2, 2],
        "visits": [1.0, 1.0, 1.0, 1.0, 9.0, 9.0, 5.0, 5.0], "age": [30.0] * 4 + [60.0, 60.0, 30.0, 30.0],
        "gender": ["F", "F", "F", "M", "M", "M", "F", "M"]})
    named = persona_features.name_by_features(customers, ["visits", "age", "gender"])
    # overall: visits mean 4, sd 3.55; age mean 37.5, sd 13.89
    assert named.loc[1, "persona"] == "High age, high visits"  # age +1.62 sd, visits +1.41 sd
    assert named.loc[0, "persona"] == "Low visits, low age"  # visits -0.85 sd, age -0.54 sd
    assert named.loc[2, "persona"] == "Low age"  # age -0.54 sd; visits +0.28 sd is below MIN_CONTRAST
    assert "100% M (gender; 50% overall)" in named.loc[1, "description"]
    assert named["customers"].sum() == 8 and named["persona"].is_unique


def test_feature_names_are_numbered_when_they_repeat_and_overrides_win():
    customers = pd.DataFrame({"customer_id": list("abcd"), "cluster": [0, 0, 1, 1], "x": [1.0, 1.0, 1.0, 1.0]})
    named = persona_features.name_by_features(customers, ["x"], {1: {"name": "Our regulars"}})
    assert set(named["persona"]) == {"Typical customers", "Our regulars"}
    named = persona_features.name_by_features(customers, ["x"])
    assert sorted(named["persona"]) == ["Typical customers 1", "Typical customers 2"]


def test_params_accept_a_customer_level_mapping(tmp_path):
    table = tmp_path / "crm.csv"
    table.write_text("ID,Spend\n1,10\n", encoding="utf-8")
    override = tmp_path / "p.yaml"
    override.write_text(f"input:\n  path: {table}\n  level: customers\n  columns:\n    customer_id: ID\n"
                        f"    invoice_date: null\n    monetary: Spend\n", encoding="utf-8")
    params = load_params(override)
    assert customer_level.customer_mapping(params["input"]) == {"customer_id": "ID", "monetary": "Spend", "country": "Country"}
    with duckdb.connect() as con:  # country: Country is params.yaml's default and not in the table: ignored
        assert customer_level.load_customer_table(con, params["input"])[1]["mapping"] == {"customer_id": "ID", "monetary": "Spend"}
    override.write_text(f"input:\n  path: {table}\n  columns:\n    invoice_date: null\n", encoding="utf-8")
    with pytest.raises(UserError, match="input.columns.invoice_date' is empty"):
        load_params(override)  # transactions still need a date


def test_the_registry_runs_customer_notebooks_only_for_customer_level():
    assert steps.notebook_file("01_clean", "customers") == "01_clean_customers.ipynb"
    assert steps.notebook_file("01_clean", "transactions") == "01_clean.ipynb"
    assert steps.notebook_file("04_clustering", "customers") == "04_clustering.ipynb"
    for step in steps.STEPS:
        if step.customer_level:
            assert (PROJECT_ROOT / "notebooks" / f"{step.customer_level}.ipynb").is_file()


def test_customer_metric_table_leaves_out_what_a_customer_table_cannot_tell():
    from helpers import customer_level_report

    table = pd.DataFrame({"customer_id": ["a", "b"], "recency_days": [3.0, 5.0], "frequency": [1.0, 2.0],
                          "monetary": [10.0, 20.0]})
    shown = customer_level_report.metric_summary(customer_level.rfm_from_columns(table, pd.Timestamp("2020-01-10")))
    assert "monetary (net revenue)" in shown["metric"].tolist()
    assert not shown["metric"].str.contains("between orders|cancelled|first kept|invoices").any()
