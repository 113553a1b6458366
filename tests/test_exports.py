"""Exports and privacy guards: personal columns, pseudonyms, deterministic CSVs, reconciliation."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import catalog, exports, personas, rfm
from helpers.engine import EngineSettings, connect
from helpers.errors import UserError

# --------------------------------------------------------------------------------------
# A fixture run: cleaned transactions -> RFM table -> cluster labels, all in tmp_path.
# Also used by test_browser.py.
# --------------------------------------------------------------------------------------

PRODUCTS = [
    ("P1", "Mug & Co"),
    ("P2", "<img src=x onerror=alert(1)>"),  # must stay text in every report
    ("P3", "Lamp"),
    ("P4", "Bowl"),
]
# Groups by construction; the label numbers deliberately say nothing about the persona.
GROUPS = {
    2: {"customers": 6, "orders": 7, "last_days_ago": (1, 8), "amount": 150.0},  # loyal high-value
    0: {"customers": 6, "orders": 1, "last_days_ago": (2, 12), "amount": 60.0},  # new, one order
    1: {"customers": 6, "orders": 1, "last_days_ago": (150, 170), "amount": 15.0},  # dormant, low
}
LAST_DAY = pd.Timestamp("2011-06-30")


def _lines(customer: str, invoice: str, day: pd.Timestamp, amount: float, country: str, k: int) -> list[dict]:
    product_id, description = PRODUCTS[k % len(PRODUCTS)]
    return [
        {"customer_id": customer, "invoice_id": invoice, "invoice_date": day + pd.Timedelta(hours=10),
         "product_id": product_id, "description": description, "country": country,
         "quantity": 2.0, "unit_price": amount / 2, "amount": amount,
         "is_return": invoice.startswith("C"), "is_outlier": False}
    ]


def fixture_params(paths: dict[str, Path]) -> dict:
    """The params a step needs to find the fixture run through the catalog (defaults otherwise)."""
    return {"paths": {"interim_dir": str(paths["interim_dir"]), "processed_dir": str(paths["processed_dir"])},
            "rfm": {"analysis_date": "auto"}}


def write_fixture_run(folder: Path) -> dict[str, Path]:
    """Write the catalog datasets transactions, facts, rfm, clusters and customers.

    19 customers: three groups of 6 whose persona is known by construction (cluster
    labels 2, 0, 1) and one customer whose only order was cancelled in full (label -2).

    Returns
    -------
    dict
        interim_dir, processed_dir, transactions, rfm, clusters, customers.
    """
    interim, processed = folder / "interim", folder / "processed"
    interim.mkdir(parents=True, exist_ok=True)
    processed.mkdir(parents=True, exist_ok=True)
    rows, labels = [], []
    invoice = 1000
    number = 10000
    for label, spec in GROUPS.items():
        for i in range(spec["customers"]):
            number += 1
            customer = str(number)
            labels.append((customer, label))
            low, high = spec["last_days_ago"]
            last = LAST_DAY - pd.Timedelta(days=low + (high - low) * i // max(spec["customers"] - 1, 1))
            country = "<b>Utopia</b>" if i == 0 else ("France" if i % 2 else "United Kingdom")
            for k in range(spec["orders"]):
                invoice += 1
                day = last - pd.Timedelta(days=20 * k)
                rows += _lines(customer, str(invoice), day, spec["amount"] + 10 * i + k, country, k + i)
    # One customer whose only order was cancelled in full: no kept order.
    number += 1
    labels.append((str(number), -2))
    rows += _lines(str(number), "5000", LAST_DAY - pd.Timedelta(days=30), 40.0, "Germany", 0)
    rows += _lines(str(number), "C5000", LAST_DAY - pd.Timedelta(days=29), -40.0, "Germany", 0)
    transactions = pd.DataFrame(rows)
    transactions["quantity"] = np.where(transactions["amount"] < 0, -2.0, 2.0)
    transactions["unit_price"] = transactions["amount"].abs() / 2
    params = fixture_params({"interim_dir": interim, "processed_dir": processed})
    paths = {"interim_dir": interim, "processed_dir": processed,
             **{name: catalog.path(params, name) for name in ("transactions", "rfm", "clusters", "customers")}}
    catalog.write(params, "transactions", transactions)
    catalog.write(params, "facts", {"first_date": str(transactions["invoice_date"].min()),
                                    "last_date": str(transactions["invoice_date"].max())})
    with connect(EngineSettings()) as con:
        table = rfm.rfm_segments(con, paths["transactions"], rfm.load_segment_map(), catalog.analysis_date(params))
    catalog.write(params, "rfm", table)
    clusters = pd.DataFrame(labels, columns=["customer_id", "cluster"])
    for method in ("kmeans", "hierarchical", "dbscan"):
        clusters[method] = clusters["cluster"]
    catalog.write(params, "clusters", clusters)
    # 02_eda-like traits, plus a personal column that must never reach a report.
    traits = pd.DataFrame({"customer_id": clusters["customer_id"]})
    traits["distinct_products"] = np.arange(len(traits)) % 4 + 1
    traits["return_share"] = 0.0
    traits["country"] = "United Kingdom"
    traits["email"] = "someone@example.com"
    catalog.write(params, "customers", traits)
    return paths


def _named(paths: dict[str, Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    table = pd.read_parquet(paths["rfm"])
    customers = personas.join_clusters(table, pd.read_parquet(paths["clusters"]))
    profiles = personas.cluster_profiles(customers)
    overall = personas.overall_profile(customers)
    return customers, personas.name_personas(profiles, overall)


# --------------------------------------------------------------------------------------
# Privacy
# --------------------------------------------------------------------------------------


def test_personal_columns_match_names_not_lookalikes():
    columns = ["customer_id", "Email", "e-mail address", "first_name", "Kundenname", "Phone no",
               "tel", "Street", "zip", "country", "hotel_nights", "title", "amount", "persona"]
    assert exports.personal_columns(columns) == [
        "Email", "e-mail address", "first_name", "Kundenname", "Phone no", "tel", "Street", "zip"
    ]


def test_export_columns_never_look_personal():
    assert exports.personal_columns([*exports.SEGMENT_COLUMNS, *exports.PERSONA_COLUMNS]) == []


def test_personal_columns_extra_patterns_and_bad_pattern():
    assert exports.personal_columns(["kunde_nr", "orders"], ["^kunde_"]) == ["kunde_nr"]
    with pytest.raises(UserError, match="personal_column_patterns"):
        exports.personal_columns(["a"], ["("])


def test_drop_personal_columns_keeps_the_rest_and_says_what_it_dropped():
    frame = pd.DataFrame({"customer_id": ["1"], "Mobile": ["+44"], "orders": [3]})
    kept = exports.drop_personal_columns(frame)
    assert kept.columns.tolist() == ["customer_id", "orders"]
    assert kept.attrs["dropped_personal_columns"] == ["Mobile"]


def test_pseudonyms_are_salted_sha256_prefixes_and_stable():
    ids = pd.Series(["12346", "12347", "12346"], name="customer_id")
    pseudonyms = exports.pseudonymize_ids(ids, "salt")
    assert pseudonyms.iloc[0] == hashlib.sha256(b"salt12346").hexdigest()[:16]
    assert pseudonyms.iloc[0] == pseudonyms.iloc[2] != pseudonyms.iloc[1]
    assert pseudonyms.str.fullmatch(r"[0-9a-f]{16}").all()
    assert exports.pseudonymize_ids(ids, "other").iloc[0] != pseudonyms.iloc[0]


def test_pseudonymize_needs_a_salt():
    with pytest.raises(UserError, match="privacy.salt"):
        exports.pseudonymize_ids(pd.Series(["1"]), "")
    with pytest.raises(UserError, match="privacy.salt"):
        exports.check_privacy({"pseudonymize_ids": True, "salt": "  "})
    assert exports.check_privacy({"pseudonymize_ids": False, "salt": ""})["pseudonymize_ids"] is False


def test_salt_can_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("ECOMSEG_TEST_SALT", "pepper")
    assert exports.check_privacy({"pseudonymize_ids": True, "salt": "env:ECOMSEG_TEST_SALT"})["salt"] == "pepper"
    monkeypatch.delenv("ECOMSEG_TEST_SALT")
    with pytest.raises(UserError, match="ECOMSEG_TEST_SALT"):
        exports.check_privacy({"pseudonymize_ids": True, "salt": "env:ECOMSEG_TEST_SALT"})


# --------------------------------------------------------------------------------------
# Tables and files
# --------------------------------------------------------------------------------------


def _customers() -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": ["200", "100", "300"],
        "recency_days": [10.0, np.nan, 40.0],
        "frequency": [3, 0, 1],
        "monetary": [100.005, -0.004, 19.999],
        "r_score": [5, 1, 2], "f_score": [4, 1, 1], "m_score": [5, 1, 2],
        "segment": pd.Categorical(["Champions", "Lost", "Hibernating"]),
        "cluster": [1, -2, 0],
    })


def test_segments_table_rows_columns_and_formats():
    table = exports.segments_table(_customers(), {1: "Loyal", -2: "No kept order", 0: "New"})
    assert table.columns.tolist() == list(exports.SEGMENT_COLUMNS)
    assert table["customer_id"].tolist() == ["100", "200", "300"]
    text = exports.format_for_csv(table)
    assert text["monetary"].tolist() == ["0.00", "100.00", "20.00"]  # never "-0.00"
    assert text["recency_days"].tolist() == ["", "10", "40"]
    assert table["persona"].tolist() == ["No kept order", "Loyal", "New"]


def test_segments_table_refuses_an_unnamed_cluster_and_duplicate_ids():
    with pytest.raises(UserError, match="cluster"):
        exports.segments_table(_customers(), {1: "Loyal", 0: "New"})
    doubled = pd.concat([_customers(), _customers().iloc[:1]])
    with pytest.raises(UserError, match="duplicate"):
        exports.segments_table(doubled, {1: "Loyal", -2: "No", 0: "New"})


def test_write_csv_gives_the_same_bytes_whatever_the_input_order(tmp_path):
    names = {1: "Loyal", -2: "No kept order", 0: "New"}
    first = exports.write_csv(exports.segments_table(_customers(), names), tmp_path / "a.csv")
    shuffled = _customers().iloc[[2, 0, 1]]
    second = exports.write_csv(exports.segments_table(shuffled, names), tmp_path / "b.csv")
    assert first.read_bytes() == second.read_bytes()
    assert first.read_text(encoding="utf-8") == (
        "customer_id,recency_days,frequency,monetary,r_score,f_score,m_score,rfm_segment,cluster,persona\n"
        "100,,0,0.00,1,1,1,Lost,-2,No kept order\n"
        "200,10,3,100.00,5,4,5,Champions,1,Loyal\n"
        "300,40,1,20.00,2,1,2,Hibernating,0,New\n"
    )
    assert not list(tmp_path.glob(".*.tmp"))


_CELLS = st.text(alphabet=st.sampled_from(list('ab ,"\'\n\r;=é-0.5')), max_size=6)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(_CELLS, _CELLS, st.one_of(st.none(), st.floats(-1e6, 1e6))), min_size=1, max_size=8),
       single=st.booleans())
def test_write_csv_writes_the_bytes_pandas_to_csv_writes(tmp_path_factory, rows, single):
    """write_csv feeds the csv module whole columns; pandas' to_csv of the same text is the reference."""
    from helpers.csv_text import format_for_csv, write_csv

    frame = pd.DataFrame(rows, columns=["id, \"quoted\"", "persona", "monetary"])
    if single:  # one column: a row holding only an empty field is written as ""
        frame = frame[["persona"]]
    folder = tmp_path_factory.mktemp("csv")
    ours = write_csv(frame, folder / "ours.csv").read_bytes()
    format_for_csv(frame).to_csv(folder / "pandas.csv", index=False, lineterminator="\n", encoding="utf-8")
    assert ours == (folder / "pandas.csv").read_bytes()


def test_a_carriage_return_inside_a_value_does_not_end_the_row(tmp_path):
    import csv

    from helpers.csv_text import write_csv

    frame = pd.DataFrame({"customer_id": ["A\rB", "C\r\nD", "E"], "persona": ["x", "y", "z"]})
    with open(write_csv(frame, tmp_path / "cr.csv"), newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows == [["customer_id", "persona"], ["A\nB", "x"], ["C\nD", "y"], ["E", "z"]]
    assert len(pd.read_csv(tmp_path / "cr.csv", dtype=str)) == 3


def test_text_a_spreadsheet_would_run_as_a_formula_is_written_as_text(tmp_path):
    customers = _customers()
    customers["customer_id"] = ["=cmd|' /C calc'!A0", "-100", "@300"]
    names = {1: '=HYPERLINK("http://evil.example","Loyal")', -2: "No kept order", 0: "+New"}
    text = exports.write_csv(exports.segments_table(customers, names), tmp_path / "s.csv").read_text(encoding="utf-8")
    rows = pd.read_csv(tmp_path / "s.csv", dtype=str, keep_default_na=False)
    assert rows["customer_id"].tolist() == ["-100", "'=cmd|' /C calc'!A0", "'@300"]  # -100 is a number
    assert set(rows["persona"]) == {"'=HYPERLINK(\"http://evil.example\",\"Loyal\")", "No kept order", "'+New"}
    assert "\n=" not in text and ",=" not in text and ",@" not in text and ",+" not in text


def test_catalog_writes_the_exports_as_write_csv_does(tmp_path):
    names = {1: "Loyal", -2: "No kept order", 0: "New"}
    segments = exports.segments_table(_customers(), names)
    params = {"paths": {"interim_dir": str(tmp_path / "interim"), "processed_dir": str(tmp_path / "processed")}}
    written = catalog.write(params, "segments", segments, tmp_path / "run")
    assert written == tmp_path / "run" / "segments.csv"
    assert written.read_bytes() == exports.write_csv(segments, tmp_path / "direct.csv").read_bytes()
    assert catalog.write(params, "segments", segments).parent == tmp_path / "processed"  # interactive
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["segments.csv"]  # no temporary file left


# --------------------------------------------------------------------------------------
# Fixture run: segments.csv reconciles with the RFM table and the cleaned lines
# --------------------------------------------------------------------------------------


def test_segments_csv_has_one_row_per_cleaned_customer_and_reconciles(tmp_path):
    paths = write_fixture_run(tmp_path)
    customers, named = _named(paths)
    written = exports.write_csv(exports.segments_table(customers, named["persona"].to_dict()), tmp_path / "segments.csv")
    segments = pd.read_csv(written, dtype={"customer_id": str})
    table = pd.read_parquet(paths["rfm"])
    with connect(EngineSettings()) as con:
        totals = rfm.transaction_totals(con, paths["transactions"], catalog.analysis_date(fixture_params(paths)))
    assert len(segments) == totals["customers"] == len(table) == 19
    assert segments["customer_id"].is_unique
    assert set(segments["customer_id"]) == set(table["customer_id"])
    assert segments["monetary"].sum() == pytest.approx(table["monetary"].sum(), abs=0.01)
    assert segments["monetary"].sum() == pytest.approx(totals["net_revenue"], abs=0.01)
    by_segment = segments.groupby("rfm_segment")["monetary"].sum()
    expected = table.groupby(table["segment"].astype(str))["monetary"].sum()
    pd.testing.assert_series_equal(by_segment.sort_index(), expected.sort_index(), check_names=False, atol=0.01)
    exports.check_segments(segments, table)


def test_check_segments_catches_a_lost_customer(tmp_path):
    paths = write_fixture_run(tmp_path)
    customers, named = _named(paths)
    segments = exports.segments_table(customers, named["persona"].to_dict())
    with pytest.raises(UserError, match="18 rows but the RFM table 19"):
        exports.check_segments(segments.iloc[1:], pd.read_parquet(paths["rfm"]))


def test_pseudonymised_export_hides_every_original_id(tmp_path):
    paths = write_fixture_run(tmp_path)
    customers, named = _named(paths)
    segments = exports.segments_table(customers, named["persona"].to_dict(), pseudonymize=True, salt="s3cret")
    text = exports.write_csv(segments, tmp_path / "segments.csv").read_text(encoding="utf-8")
    assert len(segments) == 19 and segments["customer_id"].is_unique
    assert not any(cid in text for cid in customers["customer_id"])
    assert segments["customer_id"].tolist() == sorted(segments["customer_id"])


def test_personas_csv_one_row_per_persona_with_actions(tmp_path):
    paths = write_fixture_run(tmp_path)
    _, named = _named(paths)
    table = exports.personas_table(named)
    assert table.columns.tolist() == list(exports.PERSONA_COLUMNS)
    assert len(table) == 4 and table["persona"].is_unique
    assert table["customers"].sum() == 19
    assert (table["action_1"] != "").all() and (table["action_2"] != "").all()
    first = exports.write_csv(table, tmp_path / "p1.csv").read_bytes()
    assert exports.write_csv(exports.personas_table(named), tmp_path / "p2.csv").read_bytes() == first


def test_ids_in_report_tables_are_the_pseudonyms_of_the_export():
    lines = pd.DataFrame({"customer_id": ["12346", None, "12346"], "amount": [9e4, 5e4, 8e4]})
    privacy = exports.check_privacy({"pseudonymize_ids": True, "salt": "s"})
    shown = exports.ids_for_report(lines, privacy)
    assert shown["customer_id"].tolist()[0] == "9016ac2e72c831dd"  # as pseudonymize_ids' example
    assert pd.isna(shown.loc[1, "customer_id"]) and shown.loc[2, "customer_id"] == shown.loc[0, "customer_id"]
    assert lines["customer_id"].tolist()[0] == "12346"  # a copy: the input is unchanged
    off = exports.check_privacy({"pseudonymize_ids": False, "salt": ""})
    assert exports.ids_for_report(lines, off)["customer_id"].tolist()[0] == "12346"


def test_segments_table_adds_the_clv_columns_when_the_customers_have_them():
    customers = _customers().assign(p_alive=[0.12345, np.nan, 0.9996], predicted_clv=[10.005, np.nan, 250.0],
                                    churn_risk=["High", None, "=cmd|' /C calc'!A0"])
    table = exports.segments_table(customers, {1: "Loyal", -2: "No kept order", 0: "New"})
    assert table.columns.tolist() == [*exports.SEGMENT_COLUMNS, *exports.SEGMENT_FUTURE_COLUMNS]
    text = exports.format_for_csv(table)  # rows by id: 100 (no clv row), 200, 300
    assert text["p_alive"].tolist() == ["", "0.123", "1.000"]
    assert text["predicted_clv"].tolist() == ["", "10.01", "250.00"]
    assert text["churn_risk"].tolist() == ["", "High", "'=cmd|' /C calc'!A0"]  # never a formula
    hidden = exports.segments_table(customers, {1: "L", -2: "N", 0: "W"}, pseudonymize=True, salt="s")
    assert not set(hidden["customer_id"]) & {"100", "200", "300"}
    assert exports.personal_columns([*exports.SEGMENT_FUTURE_COLUMNS, *exports.PERSONA_FUTURE_COLUMNS]) == []
    # Without the clv columns (an older run): today's columns exactly.
    assert exports.segments_table(_customers(), {1: "L", -2: "N", 0: "W"}).columns.tolist() == list(exports.SEGMENT_COLUMNS)


def test_personas_csv_carries_the_clv_figures_when_present(tmp_path):
    paths = write_fixture_run(tmp_path)
    _, named = _named(paths)
    future = named.assign(share_likely_lapsed=0.61234, median_p_alive=0.4321, predicted_value=1234.567,
                          predicted_value_share=0.25, churn_high_share=0.5)
    table = exports.personas_table(future)
    columns = list(exports.PERSONA_COLUMNS)
    at = columns.index("description")
    assert table.columns.tolist() == columns[:at] + list(exports.PERSONA_FUTURE_COLUMNS) + columns[at:]
    text = exports.format_for_csv(table)
    assert (text.loc[0, "share_likely_lapsed"], text.loc[0, "median_p_alive"], text.loc[0, "predicted_value"]) == (
        "0.6123", "0.432", "1234.57")


def _one_by_one(value, decimals: int) -> str:
    """The export's number format, one value at a time (the reference for the vectorised writer)."""
    if value is None or pd.isna(value):
        return ""
    return f"{round(float(value), decimals) + 0.0:.{decimals}f}"


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=False, width=64),
                              st.integers(-10**6, 10**6).map(lambda c: c / 1000)), min_size=1, max_size=30),
    decimals=st.integers(0, 4),
)
def test_numbers_are_written_as_when_each_is_rounded_then_formatted(values, decimals):
    frame = pd.DataFrame({"x": pd.Series(values, dtype="float64")})
    written = exports.format_for_csv(frame, {"x": decimals})["x"].tolist()
    assert written == [_one_by_one(v, decimals) for v in frame["x"]]


def test_whole_numbers_text_and_formulas_are_written_value_by_value():
    frame = pd.DataFrame({
        "n": pd.Series([1, None, -3], dtype="Int64"),
        "id": ["=cmd()", None, "-12.5"],
        "flag": pd.Series([True, None, False], dtype="boolean"),
        "kind": pd.Categorical(["a", None, "@x"]),
    })
    assert exports.format_for_csv(frame).to_dict("list") == {
        "n": ["1", "", "-3"], "id": ["'=cmd()", "", "-12.5"], "flag": ["True", "", "False"], "kind": ["a", "", "'@x"],
    }
