"""The pipeline's own steps find the segments planted by the synthetic generator."""

import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from helpers import clean, cluster, engine, rfm, synth
from helpers.config import load_params
from helpers.io import load_transactions, write_cleaned

pytestmark = pytest.mark.slow


def test_pipeline_picks_k_4_and_recovers_the_planted_segments(tmp_path):
    synth.generate(tmp_path / "synthetic", customers=3000, segments=4, seed=42)
    params = load_params()
    params["input"]["path"] = str(tmp_path / "synthetic" / "transactions.parquet")
    con = engine.connect(engine.EngineSettings.from_params(params))
    load_transactions(con, params["input"])
    clean.apply_cleaning(con, params["cleaning"])
    transactions = write_cleaned(con, tmp_path / "transactions.parquet")
    table = rfm.customer_metrics(con, transactions, rfm.day_after_last_line(con, transactions))
    settings = cluster.ClusterSettings.from_params(params["clustering"], seed=params["run"]["seed"])
    run = cluster.run_clustering(table, settings)
    assert run.choice.k == 4, run.choice.reason
    labels = cluster.labels_frame(run)
    truth = pd.read_parquet(tmp_path / "synthetic" / "labels.parquet").astype({"customer_id": str})
    joined = labels[labels["cluster"] >= 0].merge(truth, on="customer_id", validate="one_to_one")
    assert len(joined) > 2800
    assert adjusted_rand_score(joined["segment"], joined["cluster"]) >= 0.8
