"""Demographic and web-session features on hand-worked fixtures."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from helpers import traits, traits_plots
from helpers.config import load_params
from helpers.engine import EngineSettings, connect
from helpers.errors import UserError

AS_OF = pd.Timestamp("2011-07-01")
CSV = load_params()["input"]["csv"]


def session_block(path, **columns):
    base = {f: f for f in traits.SESSION_FIELDS}
    return {"path": str(path), "columns": base | columns}


@pytest.fixture
def con():
    connection = connect(EngineSettings())
    yield connection
    connection.close()


@pytest.fixture
def sessions_file(tmp_path):
    # Customer a: 3 sessions in 2 months; b: 1 session; c: only a session after the analysis date.
    frame = pd.DataFrame({
        "customer_id": ["a", "a", "a", "b", "c"],
        "session_start": pd.to_datetime(["2011-05-01 10:00", "2011-05-20 11:00", "2011-06-29 09:00",
                                         "2011-06-01 12:00", "2011-08-01 12:00"]),
        "pages_viewed": [10, 20, 30, 4, 50],
        "duration_s": [100, 200, 300, 40, 500],
        "clicks": [2, 3, 5, 0, 9],
        "product_views": [10, 10, 20, 4, 10],
        "converted": [True, False, False, False, True],
    })
    path = tmp_path / "sessions.parquet"
    frame.to_parquet(path)
    return path


def test_session_features_hand_worked(con, sessions_file):
    out = traits.session_features(con, session_block(sessions_file), CSV, AS_OF).set_index("customer_id")
    assert list(out.index) == ["a", "b"]  # c's only session is after the analysis date
    a, b = out.loc["a"], out.loc["b"]
    assert (a["sessions"], a["active_months"]) == (3, 2)
    assert a["sessions_per_active_month"] == pytest.approx(1.5)
    assert a["pages_per_session"] == pytest.approx(20.0)
    assert a["mean_session_duration_s"] == pytest.approx(200.0)
    assert a["click_through_rate"] == pytest.approx(10 / 40)
    assert a["converted_session_share"] == pytest.approx(1 / 3)
    assert a["days_since_last_visit"] == 2  # June 29 -> July 1
    assert b["click_through_rate"] == 0.0 and b["days_since_last_visit"] == 30


def test_join_rules_customers_without_sessions_and_visitors_without_orders(con, sessions_file):
    sessions = traits.session_features(con, session_block(sessions_file), CSV, AS_OF)
    customers = pd.DataFrame({"customer_id": ["a", "z"], "orders": [3, 2], "net_revenue": [90.0, 10.0]})
    sessions = pd.concat([sessions, sessions.iloc[[1]].assign(customer_id="visitor")], ignore_index=True)
    joined, counts = traits.join_traits(customers, None, sessions, window_days=200)
    assert list(joined["customer_id"]) == ["a", "z"]  # same rows, same order
    assert counts == {"with_sessions": 1, "sessions_only": 2}  # b and the visitor never ordered
    z = joined.set_index("customer_id").loc["z"]
    assert (z["sessions"], z["pages_per_session"], z["has_sessions"]) == (0, 0, False)
    assert z["days_since_last_visit"] == 200 and z["session_to_order_conversion"] == 0
    assert joined.set_index("customer_id").loc["a", "session_to_order_conversion"] == pytest.approx(1.0)


def test_demographics_age_band_and_signup_tenure(con, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text(
        "id,born,sex,town,joined\n"
        "1,1980-07-02,F,Leeds,2011-01-01\n"  # turns 31 the day after the analysis date: 30
        "2,1950-01-01,M,York,\n"
        "2,1990-01-01,M,York,2011-06-01\n"  # a repeated id: the first row wins
        "3,,F,Leeds,2011-06-30\n"
    )
    block = {"path": str(path), "columns": {"customer_id": "id", "birth_date": "born", "age": None, "gender": "sex",
                                            "country": None, "region": None, "city": "town", "signup_date": "joined"}}
    demo = traits.load_demographics(con, block, CSV)
    assert list(demo["customer_id"]) == ["1", "2", "3"]
    features = traits.demographic_features(demo, AS_OF).set_index("customer_id")
    assert features.loc["1", "age"] == 30 and features.loc["1", "age_band"] == "25-34"
    assert features.loc["2", "age"] == 61 and features.loc["2", "age_band"] == "55-64"
    assert np.isnan(features.loc["3", "age"]) and pd.isna(features.loc["3", "age_band"])
    assert features.loc["1", "signup_tenure_days"] == 181
    assert np.isnan(features.loc["2", "signup_tenure_days"])
    assert features.loc["3", "city"] == "Leeds"


def test_missing_mapped_column_names_file_and_key(con, sessions_file):
    with pytest.raises(UserError, match=r"sessions\.parquet: column 'visits' \(mapped to pages_viewed\).*sessions_input\.columns\.pages_viewed"):
        traits.session_features(con, session_block(sessions_file, pages_viewed="visits"), CSV, AS_OF)


def test_unparseable_session_times_are_an_error(con, tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("customer_id,session_start\na,yesterday\nb,last week\n")
    with pytest.raises(UserError, match="not timestamps"):
        traits.session_features(con, {"path": str(path), "columns": {"customer_id": "customer_id",
                                 "session_start": "session_start"} | dict.fromkeys(traits.SESSION_FIELDS[2:])}, CSV, AS_OF)


def test_off_when_not_configured_and_summary_says_so(con):
    assert traits.load_demographics(con, {"path": None, "columns": {}}, CSV) is None
    assert traits.session_features(con, {"path": None, "columns": {}}, CSV, AS_OF) is None
    lines = traits_plots.join_summary({}, demographics_on=False, sessions_on=False)
    assert "customers_input.path is null" in lines[0] and "sessions_input.path is null" in lines[1]


def test_plots_return_a_sentence_and_handle_missing_data(con, sessions_file):
    sessions = traits.session_features(con, session_block(sessions_file), CSV, AS_OF)
    customers = pd.DataFrame({"customer_id": ["a", "b", "z"], "orders": [3, 1, 2], "net_revenue": [90.0, 5.0, 10.0]})
    joined, _ = traits.join_traits(customers, None, sessions, window_days=100)
    fig, sentence = traits_plots.plot_engagement(joined)
    assert fig is not None and "67% of customers have web sessions" in sentence
    fig, sentence = traits_plots.plot_age_gender(joined.assign(age_band=pd.NA))
    assert fig is None and "no" in sentence.lower()


def test_session_ids_and_offset_times_follow_the_transaction_rules(con, tmp_path):
    # Same rules as helpers.io: "A.0" stays, "12.0" -> "12"; +05:00 and Z converted to UTC.
    path = tmp_path / "sessions.csv"
    path.write_text(
        "customer_id,session_start,pages_viewed,duration_s,clicks,product_views,converted\n"
        "A.0,2011-06-01T02:00:00+05:00,1,10,1,1,false\n"
        "12.0,2011-06-01T10:00:00Z,1,10,1,1,false\n"
        "12.0,2011-06-29 23:30:00,1,10,1,1,false\n"
    )
    out = traits.session_features(con, session_block(path), CSV, AS_OF).set_index("customer_id")
    assert sorted(out.index) == ["12", "A.0"]
    # Calendar days to 1 July: A.0 last visited 31 May 21:00 UTC (not 1 June) -> 31; 12 on 29 June -> 2.
    assert out.loc["A.0", "days_since_last_visit"] == 31
    assert out.loc["12", "days_since_last_visit"] == 2


def test_tables_are_read_on_the_callers_connection_and_leave_no_view_behind(con, sessions_file, tmp_path):
    # 02_eda reads both optional tables on its own connection: the second must not see the first.
    path = tmp_path / "customers.csv"
    path.write_text("customer_id,age\n1,40\n")
    block = {"path": str(path), "columns": dict.fromkeys(traits.DEMOGRAPHIC_FIELDS) | {"customer_id": "customer_id", "age": "age"}}
    assert traits.load_demographics(con, block, CSV)["age"].tolist() == [40.0]
    assert list(traits.session_features(con, session_block(sessions_file), CSV, AS_OF)["customer_id"]) == ["a", "b"]
    views = con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = 'source'").fetchone()[0]
    assert views == 0
    with pytest.raises(UserError, match="not found"):
        traits.session_features(con, session_block(tmp_path / "gone.csv"), CSV, AS_OF)
