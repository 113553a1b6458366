"""Bad-input corpus, issue 12: cleaning, RFM numbers, privacy of step outputs (helpers.clean, helpers.rfm). See tests/corpus.py for the Case contract."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from corpus import Case, _csv, _input, _set_field, good_rows

SALT = "corpus-salt-5Yq2"
RAW_ID_MARK = "ZZ9K"  # in every raw customer id of the privacy case, nowhere else


def _customer_lost(folder: Path) -> dict[str, Any]:
    # Customer 999's only lines are free samples (price 0): the customer disappears.
    lost = ["9001,P1,Item 1,1,2011-02-01 10:00:00,0.0,999,United Kingdom",
            "9002,P2,Item 2,2,2011-02-02 10:00:00,0.0,999,United Kingdom"]
    return _input(_csv(folder, good_rows() + lost))


def _check_customer_lost(folder: Path, params: dict[str, Any]) -> None:
    log = pd.read_csv(Path(params["paths"]["interim_dir"]) / "cleaning_log.csv").set_index("rule")
    assert log.loc["nonpositive_price", ["rows", "customers"]].tolist() == [2, 1]
    assert log["customers"].sum() == 1
    page = (folder / "reports" / "latest" / "01_clean.html").read_text(encoding="utf-8")
    assert "1 customer lost every line (nonpositive_price 1)." in page


def _at_outlier_threshold(folder: Path) -> dict[str, Any]:
    # Every line costs 17.85 but one: Q1 = Q3, so the threshold is 17.85 itself, and
    # 10 ** log10(17.85) is 17.849999999999998 in floating point.
    rows = [_set_field(_set_field(r, 3, "1"), 5, "17.85") for r in good_rows()]
    rows.append("9003,P1,Item 1,1,2011-02-03 10:00:00,5000.0,101,United Kingdom")
    return _input(_csv(folder, rows))


def _check_at_outlier_threshold(folder: Path, params: dict[str, Any]) -> None:
    interim = Path(params["paths"]["interim_dir"])
    lines = pd.read_parquet(interim / "transactions.parquet")
    assert lines.loc[lines["is_outlier"], "amount"].tolist() == [5000.0]
    log = pd.read_csv(interim / "cleaning_log.csv").set_index("rule")
    assert log.loc["outlier_flagged", "rows"] == 1


def _sub_cent_amounts(folder: Path) -> dict[str, Any]:
    # 777: one line of 2.675, an exact half cent (stored as 2.67499999999999982);
    # 778: 3 x 0.10 + 0.20, which floating point sums to 0.5000000000000001.
    extra = ["9004,P1,Item 1,1,2011-02-04 10:00:00,2.675,777,United Kingdom",
             "9005,P1,Item 1,3,2011-02-05 10:00:00,0.1,778,United Kingdom",
             "9005,P2,Item 2,1,2011-02-05 10:00:00,0.2,778,United Kingdom"]
    return _input(_csv(folder, good_rows() + extra))


def _check_sub_cent_amounts(folder: Path, params: dict[str, Any]) -> None:
    table = pd.read_parquet(Path(params["paths"]["processed_dir"]) / "rfm.parquet").set_index("customer_id")
    assert table.loc["777", "monetary"] == 2.68 and table.loc["778", "monetary"] == 0.5
    for column in ("monetary", "avg_order_value"):
        values = table[column].dropna().to_numpy()
        assert (np.round(values * 100) / 100 == values).all(), column


def _pseudonymised(folder: Path) -> dict[str, Any]:
    rows = [_set_field(r, 6, f"{RAW_ID_MARK}-{r.split(',')[6]}") for r in good_rows()]
    rows.append(f"9006,P1,Item 1,500,2011-02-06 10:00:00,90.0,{RAW_ID_MARK}-103,France")  # an extreme line
    return {**_input(_csv(folder, rows)), "privacy": {"pseudonymize_ids": True, "salt": SALT}}


def _check_pseudonymised(folder: Path, params: dict[str, Any]) -> None:
    from helpers.exports import pseudonymize_ids

    run = (folder / "reports" / "latest").resolve()
    leaks = [str(p.relative_to(run)) for p in run.rglob("*")
             if p.is_file() and (RAW_ID_MARK.encode() in p.read_bytes() or SALT.encode() in p.read_bytes())]
    assert leaks == [], leaks
    shown = pseudonymize_ids(pd.Series([f"{RAW_ID_MARK}-103"]), SALT).iloc[0]
    assert shown in (run / "01_clean.html").read_text(encoding="utf-8")


CASES: tuple[Case, ...] = (
    Case("customer_lost_to_a_rule", _customer_lost, ("ok", "nonpositive_price"), check=_check_customer_lost,
         notes="the log's customers column and the takeaway count the customer whose every line was removed"),
    Case("line_at_outlier_threshold", _at_outlier_threshold, ("ok", None), check=_check_at_outlier_threshold,
         notes="lines exactly at the threshold (Q1 = Q3) are not flagged; only the 5,000 line is"),
    Case("monetary_rounded_to_cents", _sub_cent_amounts, ("ok", None), steps=("01_clean", "03_rfm"),
         check=_check_sub_cent_amounts, notes="rfm.parquet money in cents, half away from zero"),
    Case("pseudonymised_clean_page", _pseudonymised, ("ok", None), check=_check_pseudonymised,
         notes="01's extreme-lines table shows the pseudonym of segments.csv, no raw id or salt in the run folder"),
)
