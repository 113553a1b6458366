"""Tests for helpers.synth: determinism, schemas, calibrated shares, chunking, recovery.

Nothing here reads the real data (../shared may be absent in CI): the calibration targets
are the constants of `helpers.synth`, and the real side of `calibration_table` is None.
One generated sample of 3,000 customers in 4 segments (seed 42) is shared by most tests.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import StandardScaler

from helpers import synth
from helpers.errors import UserError

FILES = ("transactions", "customers", "sessions", "labels")
TRANSACTION_COLUMNS = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate",
                       "UnitPrice", "CustomerID", "Country"]


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synthetic")
    synth.generate(out, 3_000, segments=4, seed=42)
    return out


@pytest.fixture(scope="module")
def calibration(sample: Path) -> pd.DataFrame:
    return synth.calibration_table(None, sample).set_index("statistic")


def _rfm(folder: Path) -> pd.DataFrame:
    """Per-customer recency, frequency, monetary, order value and tenure, joined to the labels."""
    lines = pd.read_parquet(folder / "transactions.parquet")
    lines = lines[lines["CustomerID"].notna()].copy()
    lines["amount"] = lines["Quantity"] * lines["UnitPrice"]
    lines["day"] = lines["InvoiceDate"].dt.normalize()
    analysis_date = lines["day"].max() + pd.Timedelta(days=1)
    purchases = lines[~lines["InvoiceNo"].str.startswith("C") & (lines["StockCode"] != "POST")]
    by_customer = purchases.groupby("CustomerID")
    rfm = pd.DataFrame({
        "recency_days": (analysis_date - by_customer["day"].max()).dt.days,
        "frequency": by_customer["InvoiceNo"].nunique(),
        "tenure_days": (analysis_date - by_customer["day"].min()).dt.days,
    })
    rfm["monetary"] = lines.groupby("CustomerID")["amount"].sum()
    rfm["avg_order_value"] = rfm["monetary"] / rfm["frequency"]
    labels = pd.read_parquet(folder / "labels.parquet").set_index("customer_id")
    return rfm.join(labels, how="inner")


# --- determinism and chunking -----------------------------------------------------------


def test_same_seed_gives_identical_files(tmp_path: Path) -> None:
    synth.generate(tmp_path / "a", 1_200, seed=7)
    synth.generate(tmp_path / "b", 1_200, seed=7)
    for name in FILES:
        a = (tmp_path / "a" / f"{name}.parquet").read_bytes()
        b = (tmp_path / "b" / f"{name}.parquet").read_bytes()
        assert a == b, f"{name}.parquet differs between two runs with seed 7"


def test_other_seed_gives_other_data(tmp_path: Path) -> None:
    synth.generate(tmp_path / "a", 500, seed=7)
    synth.generate(tmp_path / "b", 500, seed=8)
    a = pq.read_table(tmp_path / "a" / "transactions.parquet")
    b = pq.read_table(tmp_path / "b" / "transactions.parquet")
    assert not a.equals(b)


def test_chunked_writing_equals_one_chunk(tmp_path: Path) -> None:
    synth.generate(tmp_path / "chunked", 2_500, seed=3, chunk_customers=1_000)
    synth.generate(tmp_path / "whole", 2_500, seed=3, chunk_customers=1_000_000)
    for name in FILES:
        chunked = pq.ParquetFile(tmp_path / "chunked" / f"{name}.parquet")
        whole = pq.ParquetFile(tmp_path / "whole" / f"{name}.parquet")
        assert (chunked.metadata.num_row_groups, whole.metadata.num_row_groups) == (3, 1)
        assert chunked.read().equals(whole.read()), f"{name}: chunked output differs"
    invoices = pq.read_table(tmp_path / "chunked" / "transactions.parquet").column("InvoiceNo")
    numbers = pd.Series(invoices.to_pylist()).str.lstrip("C").astype(int)
    # Numbering continues across chunks: every invoice number is used once.
    per_invoice = pd.Series(invoices.to_pylist()).drop_duplicates()
    assert per_invoice.str.lstrip("C").duplicated().sum() == 0
    assert numbers.min() == synth.FIRST_INVOICE


# --- shapes, columns, types -------------------------------------------------------------


def test_files_have_the_documented_columns_and_types(sample: Path) -> None:
    schemas = {name: pq.read_schema(sample / f"{name}.parquet") for name in FILES}
    assert schemas["transactions"].names == TRANSACTION_COLUMNS
    assert schemas["transactions"].field("Quantity").type == pa.int64()
    assert schemas["transactions"].field("UnitPrice").type == pa.float64()
    assert schemas["transactions"].field("CustomerID").type == pa.int64()
    assert pa.types.is_timestamp(schemas["transactions"].field("InvoiceDate").type)
    assert schemas["customers"].names == ["customer_id", "birth_date", "gender", "country", "city",
                                          "signup_date"]
    assert schemas["customers"].field("birth_date").type == pa.date32()
    assert schemas["sessions"].names == ["customer_id", "session_start", "pages_viewed",
                                         "product_views", "clicks", "session_duration_s", "converted"]
    assert schemas["sessions"].field("converted").type == pa.bool_()
    assert schemas["labels"].names == ["customer_id", "segment"]


def test_tables_fit_together(sample: Path) -> None:
    lines = pd.read_parquet(sample / "transactions.parquet")
    customers = pd.read_parquet(sample / "customers.parquet")
    sessions = pd.read_parquet(sample / "sessions.parquet")
    labels = pd.read_parquet(sample / "labels.parquet")
    assert len(customers) == len(labels) == 3_000
    assert customers["customer_id"].is_unique and labels["customer_id"].is_unique
    assert set(labels["segment"]) == set(synth.planted_segments(4)["segment"])
    assert set(lines["CustomerID"].dropna().astype(int)) == set(customers["customer_id"])
    assert set(sessions["customer_id"]) <= set(customers["customer_id"])
    # Each registered purchase invoice is preceded by exactly one converting session.
    registered = lines[lines["CustomerID"].notna() & ~lines["InvoiceNo"].str.startswith("C")]
    orders = registered.groupby("CustomerID")["InvoiceNo"].nunique()
    conversions = sessions[sessions["converted"]].groupby("customer_id").size()
    pd.testing.assert_series_equal(orders.astype(int), conversions, check_names=False,
                                   check_index_type=False)
    # Customers sign up no later than their first order.
    first_order = registered.groupby("CustomerID")["InvoiceDate"].min().dt.normalize()
    signup = pd.to_datetime(customers.set_index("customer_id")["signup_date"])
    assert (signup.loc[first_order.index.astype(int)].to_numpy() <= first_order.to_numpy()).all()


def test_transactions_look_like_the_export(sample: Path) -> None:
    lines = pd.read_parquet(sample / "transactions.parquet")
    dates = lines["InvoiceDate"]
    assert dates.min() >= pd.Timestamp("2010-12-01") and dates.max() < pd.Timestamp("2011-12-10")
    assert (dates.dt.day_of_week != 5).all(), "the shop is closed on Saturdays"
    cancel = lines["InvoiceNo"].str.startswith("C")
    assert (lines.loc[cancel, "Quantity"] < 0).all()
    assert lines.loc[cancel, "CustomerID"].notna().all()
    assert (lines.loc[~cancel & (lines["UnitPrice"] > 0), "Quantity"] > 0).all()
    assert lines["InvoiceNo"].str.fullmatch(r"C?\d{6,}").all()
    # Every line of an invoice shares its date, customer and country.
    per_invoice = lines.groupby("InvoiceNo")[["InvoiceDate", "Country"]].nunique()
    assert (per_invoice.max() == 1).all()
    assert lines["StockCode"].eq("POST").any() and lines["StockCode"].eq("DOT").any()
    assert lines["Description"].isna().any() and (lines["UnitPrice"] == 0).any()


# --- calibration -------------------------------------------------------------------------


@pytest.mark.parametrize(("statistic", "target", "tolerance"), [
    ("lines without CustomerID", synth.MISSING_CUSTOMER_SHARE, 0.01),
    ("lines on C (cancellation) invoices", synth.CANCELLATION_LINE_SHARE, 0.005),
    ("exact duplicate lines (extra copies)", synth.DUPLICATE_LINE_SHARE, 0.004),
    ("lines from the United Kingdom", 0.914, 0.025),
    ("registered customers from the United Kingdom", 0.903, 0.02),
    ("zero-price lines", synth.ADJUSTMENT_SHARE, 0.002),
    ("purchase invoices on Saturdays", 0.0, 0.0),
    ("sessions ending in a purchase", synth.SESSION_CONVERSION, 0.015),
    ("sessions of at most 1 page (bounces)", 0.049, 0.01),
    ("product pages / all pages", synth.PRODUCT_PAGE_SHARE, 0.01),
])
def test_calibrated_shares(calibration: pd.DataFrame, statistic: str, target: float,
                           tolerance: float) -> None:
    generated = calibration.loc[statistic, "generated"]
    assert abs(generated - target) <= tolerance, f"{statistic}: {generated:.4f} vs {target:.4f}"


def test_november_is_the_busiest_month(sample: Path) -> None:
    lines = pd.read_parquet(sample / "transactions.parquet", columns=["InvoiceNo", "InvoiceDate"])
    invoices = lines.drop_duplicates("InvoiceNo")
    per_month = invoices["InvoiceDate"].dt.to_period("M").value_counts()
    assert per_month.idxmax() == pd.Period("2011-11", "M")


def test_calibration_table_without_real_data(calibration: pd.DataFrame) -> None:
    assert calibration["real"].isna().all()
    assert set(calibration["table"]) == {"transactions", "sessions"}
    markdown = synth.calibration_markdown(calibration.reset_index())
    assert markdown.startswith("| table | statistic | real | generated |")
    assert markdown.count("\n") == len(calibration) + 2


def test_calibration_table_fails_without_generated_data(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="generated transactions not found"):
        synth.calibration_table(None, tmp_path)


# --- planted segments --------------------------------------------------------------------


def test_kmeans_recovers_the_planted_segments(sample: Path) -> None:
    rfm = _rfm(sample)
    features = np.column_stack([
        rfm["recency_days"],
        np.log1p(rfm["frequency"]),
        np.log1p(rfm["monetary"].clip(lower=0)),
        np.log1p(rfm["avg_order_value"].clip(lower=0)),
        rfm["tenure_days"],
    ])
    scaled = StandardScaler().fit_transform(features)
    clusters = KMeans(n_clusters=4, n_init=10, random_state=0).fit_predict(scaled)
    assert adjusted_rand_score(rfm["segment"], clusters) >= 0.8


def test_segments_differ_in_the_planted_direction(sample: Path) -> None:
    medians = _rfm(sample).groupby("segment").median(numeric_only=True)
    loyal, occasional = medians.loc["loyal high-value"], medians.loc["occasional mid"]
    one_time, lapsed = medians.loc["one-time recent"], medians.loc["lapsed"]
    assert loyal["frequency"] > 2 * occasional["frequency"] > 2 * one_time["frequency"]
    assert loyal["avg_order_value"] > occasional["avg_order_value"] > one_time["avg_order_value"]
    assert lapsed["recency_days"] > 180 > 3 * max(loyal["recency_days"], one_time["recency_days"])
    assert one_time["tenure_days"] < 100 < occasional["tenure_days"]


def test_planted_segments_rejects_too_many() -> None:
    assert len(synth.planted_segments(len(synth.SEGMENTS))) == len(synth.SEGMENTS)
    with pytest.raises(UserError, match="segments = 7"):
        synth.planted_segments(7)


# --- sizes and command line ----------------------------------------------------------------


def test_rows_target_is_met_approximately(tmp_path: Path) -> None:
    summary = synth.generate(tmp_path, rows=150_000, seed=5)
    assert abs(summary.rows["transactions"] / 150_000 - 1) < 0.1
    assert summary.customers == synth.customers_for_rows(150_000, seed=5)


def test_parse_count_rejects_text() -> None:
    assert synth.parse_count("1.5M") == 1_500_000
    with pytest.raises(UserError, match="not a count"):
        synth.parse_count("many")


def test_cli_writes_the_four_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = synth.main(["--customers", "300", "--segments", "3", "--seed", "1", "--out", str(tmp_path)])
    assert status == 0
    assert "300 customers in 3 segments" in capsys.readouterr().out
    assert all((tmp_path / f"{name}.parquet").is_file() for name in FILES)
    assert not list(tmp_path.glob(".*partial"))


@pytest.mark.parametrize("argv", [
    ["--customers", "0"],
    ["--segments", "9"],
    ["--customers", "10", "--rows", "1M"],
    ["--rows", "lots"],
    ["--segments", "four"],
    ["--calibrate", "nowhere"],
])
def test_cli_errors_are_one_line(argv: list[str], tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    status = synth.main([*argv, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err


def test_same_day_times_stay_before_midnight() -> None:
    at = np.array(["2011-12-09T23:50:00", "2011-12-09T09:00:00"], dtype="datetime64[s]")
    later = synth._later_same_day(np.random.default_rng(0), at, 10, 240)
    assert later[0] == np.datetime64("2011-12-09T23:59:00")
    assert np.datetime64("2011-12-09T09:10:00") <= later[1] < np.datetime64("2011-12-09T13:00:00")
