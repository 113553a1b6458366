"""Issue 14 end to end without kernels: a generated shop where most customers lapsed.

Two thirds of the customers bought rarely, long ago, and mostly dropped out; one third buys
often and recently. The lines go through the same code as a run (RFM metrics, the
buy-till-you-die inputs, BG/NBD and Gamma-Gamma, persona naming): with the future-value
model, the lapsed majority must get a lapsing persona, never a steady, loyal, new or
recent one, and its card must say how many are likely lapsed.
"""

from __future__ import annotations

import pandas as pd
import pytest

from helpers import catalog, clv, engine, persona_traits, personas, rfm
from helpers.synth_btyd import simulate_btyd

ANALYSIS_DATE = pd.Timestamp("2024-01-01")
LAPSING_RULES = {"at_risk_big_spender", "dormant_low_value", "lapsing"}
ACTIVE_WORDS = ("steady", "loyal", "recent", "new", "frequent", "promising", "active")


def _group(prefix: str, n: int, seed: int, T_days: tuple[int, int], **truth: float) -> pd.DataFrame:
    _, simulated = simulate_btyd(n, **truth, p=6.25, q=3.74, v=15.44, seed=seed, lines=True,
                                 analysis_date=ANALYSIS_DATE, T_days=T_days)
    lines = simulated.lines.copy()
    lines["customer_id"] = prefix + lines["customer_id"].astype(str)
    lines["invoice_id"] = prefix + lines["invoice_id"].astype(str)
    return lines


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> tuple[pd.DataFrame, pd.DataFrame]:
    lapsed = _group("L", 2000, 1, r=0.3, alpha=60.0, a=3.0, b=1.0, T_days=(450, 700))
    active = _group("A", 1000, 2, r=3.0, alpha=40.0, a=0.2, b=6.0, T_days=(150, 400))
    path = tmp_path_factory.mktemp("lapsed_shop") / "transactions.parquet"
    lines = pd.concat([lapsed, active], ignore_index=True)
    lines.loc[:, list(catalog.TRANSACTION_COLUMNS)].to_parquet(path, index=False)
    with engine.connect() as con:
        metrics = rfm.customer_metrics(con, path, ANALYSIS_DATE)
        inputs = clv.btyd_inputs(con, path, ANALYSIS_DATE)
    predictions = clv.predict(inputs, clv.fit_bgnbd(inputs), clv.fit_gamma_gamma(inputs),
                              horizon_days=365, churn_days=90, discount_rate=0.1, analysis_date=ANALYSIS_DATE)
    # The clusters a segmentation would find: the two groups.
    metrics["cluster"] = metrics["customer_id"].str.startswith("A").astype("int64")
    return metrics, predictions


def _named(customers: pd.DataFrame) -> pd.DataFrame:
    overall = personas.overall_profile(customers, [])
    return personas.name_personas(personas.cluster_profiles(customers, []), overall)


def test_the_lapsed_majority_is_mostly_one_time_buyers_long_ago(shop):
    metrics, _ = shop
    lapsed = metrics[metrics["cluster"] == 0]
    assert len(lapsed) / len(metrics) > 0.6
    assert lapsed["recency_days"].median() > 300 and lapsed["frequency"].median() <= 1


def test_with_the_model_the_lapsed_majority_gets_a_lapsing_persona(shop):
    metrics, predictions = shop
    # Relative words alone: the majority is the "typical" customer (the bug of issue 14).
    assert _named(metrics).loc[0, "rule"] == "steady_mid_value"
    named = _named(persona_traits.join_clv(metrics, predictions))
    biggest = named.loc[0]
    assert biggest["rule"] in LAPSING_RULES, biggest["persona"]
    assert not any(word in biggest["persona"].lower() for word in ACTIVE_WORDS)
    assert biggest["share_likely_lapsed"] >= 0.5
    assert "are likely lapsed" in biggest["description"]
    assert named.loc[1, "share_likely_lapsed"] < 0.5  # the active third is not called lapsed
    assert named.loc[1, "predicted_value_share"] > biggest["predicted_value_share"]
