"""Tests for `rfm_report.segment_evidence` and its notes: RFM segments in absolute terms (issue 14).

Hand-worked fixture (segments from the shipped map; L2 has no prediction row):

======== ================== ======= ======= ========== ========= ===============
customer segment            recency p_alive churn_risk pred. CLV likely lapsed
======== ================== ======= ======= ========== ========= ===============
C1       Champions          5       0.95    Low        100       no
C2       Champions          15      0.40    Medium     40        yes (P(alive))
L1       Loyal              30      0.90    Low        50        no
L2       Loyal              40      -       -          -         not scored
P1       Potential Loyalist 100     0.90    Low        10        no
P2       Potential Loyalist 261     0.30    Medium     20        yes (P(alive))
P3       Potential Loyalist 300     0.80    High       30        yes (churn High)
X1       Lost               400     0.10    High       0         yes
======== ================== ======= ======= ========== ========= ===============

Total predicted value 250. Champions: median 10 days, 1/2 lapsed, 140/250 = 56%, 0 High.
Loyal: median 35, 0/1 lapsed (L2 unscored), 20%, 0/1 High. Potential Loyalist: median 261,
2/3 lapsed, 24%, 1/3 High. Lost: 400, 1/1, 0%, 1/1. Empty segments: 0 customers, NaN.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from helpers import rfm_report, rfm_segment_map
from helpers.clv_validation import unfitted_predictions
from helpers.persona_traits import clv_figures


@pytest.fixture(scope="module")
def segment_map() -> pd.DataFrame:
    return rfm_segment_map.load_segment_map()


@pytest.fixture()
def segmented(segment_map: pd.DataFrame) -> pd.DataFrame:
    rows = [("C1", 5, "Champions"), ("C2", 15, "Champions"), ("L1", 30, "Loyal"), ("L2", 40, "Loyal"),
            ("P1", 100, "Potential Loyalist"), ("P2", 261, "Potential Loyalist"),
            ("P3", 300, "Potential Loyalist"), ("X1", 400, "Lost")]
    frame = pd.DataFrame(rows, columns=["customer_id", "recency_days", "segment"])
    frame["recency_days"] = frame["recency_days"].astype(float)
    frame["segment"] = pd.Categorical(frame["segment"], categories=segment_map["segment"].cat.categories)
    return frame


@pytest.fixture()
def predictions() -> pd.DataFrame:
    rows = [("C1", 0.95, 100.0, "Low"), ("C2", 0.40, 40.0, "Medium"), ("L1", 0.90, 50.0, "Low"),
            ("P1", 0.90, 10.0, "Low"), ("P2", 0.30, 20.0, "Medium"), ("P3", 0.80, 30.0, "High"),
            ("X1", 0.10, 0.0, "High")]
    frame = pd.DataFrame(rows, columns=["customer_id", "p_alive", "predicted_clv", "churn_risk"])
    frame["churn_risk"] = pd.Categorical(frame["churn_risk"], categories=["Low", "Medium", "High", "unknown"],
                                         ordered=True)
    return frame


def _row(evidence: pd.DataFrame, segment: str) -> pd.Series:
    return evidence.set_index("segment").loc[segment]


def test_segment_evidence_figures_by_hand(segmented, predictions, segment_map) -> None:
    evidence = rfm_report.segment_evidence(segmented, predictions, segment_map)
    assert evidence["segment"].tolist() == [str(s) for s in segment_map["segment"].cat.categories]
    assert evidence["customers"].sum() == len(segmented)
    expected = {  # customers, median recency, lapsed, value share, High share
        "Champions": (2, 10.0, 0.5, 0.56, 0.0),
        "Loyal": (2, 35.0, 0.0, 0.2, 0.0),
        "Potential Loyalist": (3, 261.0, 2 / 3, 0.24, 1 / 3),
        "Lost": (1, 400.0, 1.0, 0.0, 1.0),
    }
    for segment, values in expected.items():
        row = _row(evidence, segment)
        got = tuple(row[c] for c in rfm_report.EVIDENCE_TABLE_COLUMNS)
        assert got == pytest.approx(values), segment
    assert evidence["predicted_value_share"].sum() == pytest.approx(1.0)
    empty = _row(evidence, "New Customers")
    assert empty["customers"] == 0 and np.isnan(empty["share_likely_lapsed"])


def test_segment_evidence_uses_the_persona_lapsed_rule(segmented, predictions, segment_map) -> None:
    evidence = rfm_report.segment_evidence(segmented, predictions, segment_map)
    group = segmented.merge(predictions, on="customer_id").query("segment == 'Potential Loyalist'")
    assert _row(evidence, "Potential Loyalist")["share_likely_lapsed"] == pytest.approx(
        clv_figures(group, 250.0)["share_likely_lapsed"])


def test_notes_flag_lapsed_active_segments_only(segmented, predictions, segment_map) -> None:
    notes = rfm_report.segment_evidence_notes(rfm_report.segment_evidence(segmented, predictions, segment_map))
    assert notes == [
        "Champions: 50% are likely lapsed and the median customer last ordered 10 days ago — "
        "the name is relative to this shop; treat them as lapsing.",
        "Potential Loyalist: 67% are likely lapsed and the median customer last ordered 261 days ago — "
        "the name is relative to this shop; treat them as lapsing.",
    ]  # Lost is 100% lapsed but its name says so


def test_notes_say_the_names_hold_when_healthy(segmented, predictions, segment_map) -> None:
    healthy = predictions.assign(p_alive=0.9, churn_risk=predictions["churn_risk"].where(
        predictions["customer_id"] == "X1", "Low"))
    evidence = rfm_report.segment_evidence(segmented, healthy, segment_map)
    assert _row(evidence, "Potential Loyalist")["share_likely_lapsed"] == 0.0
    notes = rfm_report.segment_evidence_notes(evidence)
    assert len(notes) == 1 and notes[0].startswith("The names hold")


def test_unfitted_predictions_give_nan_and_a_skip_note(segmented, segment_map) -> None:
    inputs = pd.DataFrame({"customer_id": segmented["customer_id"], "frequency": 0, "recency": 0.0, "T": 9.0})
    evidence = rfm_report.segment_evidence(segmented, unfitted_predictions(inputs), segment_map)
    assert _row(evidence, "Potential Loyalist")["median_recency_days"] == 261.0
    for column in ("share_likely_lapsed", "predicted_value_share", "churn_high_share"):
        assert evidence[column].isna().all(), column
    notes = rfm_report.segment_evidence_notes(evidence)
    assert len(notes) == 1 and "not checked" in notes[0]


def test_evidence_table_labels_match_formats(segmented, predictions, segment_map) -> None:
    table = rfm_report.evidence_table(rfm_report.segment_evidence(segmented, predictions, segment_map))
    assert set(rfm_report.EVIDENCE_TABLE_FORMATS) <= set(table.columns)
    assert not math.isnan(table.loc[0, "customers"])
