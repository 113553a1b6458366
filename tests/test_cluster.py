"""Tests for helpers.cluster (and the stage modules it re-exports) and helpers.cluster_plots.

Hand-checked pieces (knee, log transform, K rule, Ward cut, core-point assignment, labels of
customers without a kept order) use tiny inputs whose answer is worked out in the comments.
The acceptance tests use generated blobs with known labels: four well-separated groups of
150 customers in 3 features, centred at (0,0,0), (10,0,0), (0,10,0) and (0,0,10) with
standard deviation 1, plus five customers at distance >= 60 from every group.
"""

from __future__ import annotations

import ast
import json
import math
import pickle
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from helpers import cluster, engine
from helpers import cluster_plots as cplots
from helpers.errors import UserError
from helpers.publish import file_sha256
from helpers.rfm import customer_metrics

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

CENTRES = np.array([[0, 0, 0], [10, 0, 0], [0, 10, 0], [0, 0, 10]], dtype=float)
OUTLIERS = np.array([[60, 60, 60], [-60, 60, 0], [60, -60, 0], [0, -60, 60], [-60, -60, -60]], dtype=float)
PER_BLOB = 150
XYZ = ("x", "y", "z")


def _blob_table(with_outliers: bool) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(7)
    points = np.vstack([c + rng.normal(0, 1, size=(PER_BLOB, 3)) for c in CENTRES])
    truth = np.repeat(np.arange(len(CENTRES)), PER_BLOB)
    if with_outliers:
        points = np.vstack([points, OUTLIERS])
        truth = np.concatenate([truth, np.full(len(OUTLIERS), -1)])
    table = pd.DataFrame(points, columns=list(XYZ))
    table.insert(0, "customer_id", [f"c{i:04d}" for i in range(len(table))])
    return table, truth


def _blob_settings(**changes) -> cluster.ClusterSettings:
    base = {"features": XYZ, "log_features": (), "n_init": 3, "bootstrap_resamples": 5, "seed": 0}
    return cluster.ClusterSettings(**{**base, **changes})


@pytest.fixture(scope="module")
def blobs() -> tuple[cluster.ClusterRun, np.ndarray]:
    table, truth = _blob_table(with_outliers=False)
    return cluster.run_clustering(table, _blob_settings()), truth


@pytest.fixture(scope="module")
def blobs_with_outliers() -> tuple[cluster.ClusterRun, np.ndarray]:
    table, truth = _blob_table(with_outliers=True)
    return cluster.run_clustering(table, _blob_settings()), truth


# ---------------------------------------------------------------------------- settings, features


def test_settings_from_params_keep_defaults_and_reject_bad_keys() -> None:
    settings = cluster.ClusterSettings.from_params({"k": 4, "scaler": "robust"}, seed=3)
    assert (settings.k, settings.scaler, settings.seed, settings.k_max) == (4, "robust", 3, 10)
    assert settings.min_samples == 10  # 2 x the 5 default features
    with pytest.raises(UserError, match="unknown key 'clustering.kmax'"):
        cluster.ClusterSettings.from_params({"kmax": 5})
    with pytest.raises(UserError, match="clustering.k_max"):
        cluster.ClusterSettings.from_params({"k_min": 5, "k_max": 3})
    with pytest.raises(UserError, match="clustering.log_features.*'tenure_days'"):
        cluster.ClusterSettings(features=("frequency",), log_features=("tenure_days",))
    with pytest.raises(UserError, match="clustering.k"):
        cluster.ClusterSettings(k=True)


def test_split_by_kept_order_sets_aside_frequency_zero() -> None:
    table = pd.DataFrame({"customer_id": ["a", "b", "c"], "frequency": [2, 0, 1]})
    kept, excluded = cluster.split_by_kept_order(table)
    assert kept["customer_id"].tolist() == ["a", "c"]
    assert excluded["customer_id"].tolist() == ["b"]
    # without a frequency column nobody is set aside
    kept, excluded = cluster.split_by_kept_order(table.drop(columns="frequency"))
    assert (len(kept), len(excluded)) == (3, 0)


def test_check_features_names_the_bad_column() -> None:
    table = pd.DataFrame({"customer_id": ["a", "b"], "monetary": [1.0, np.nan], "country": ["UK", "FR"]})
    with pytest.raises(UserError, match="column 'recency_days'.*not in the customer table"):
        cluster.check_features(table, ["recency_days"])
    with pytest.raises(UserError, match="column 'monetary'.*1 customers"):
        cluster.check_features(table, ["monetary"])
    with pytest.raises(UserError, match="column 'country'.*not numeric"):
        cluster.check_features(table, ["country"])
    cluster.check_features(table.iloc[:1], ["monetary"])  # finite: no error


def test_add_customer_features_joins_only_missing_columns() -> None:
    rfm = pd.DataFrame({"customer_id": ["a", "b"], "frequency": [1, 2]})
    extra = pd.DataFrame({"customer_id": ["b", "a"], "return_share": [0.5, 0.0], "frequency": [9, 9]})
    joined = cluster.add_customer_features(rfm, ["frequency", "return_share"], extra)
    assert joined["return_share"].tolist() == [0.0, 0.5]
    assert joined["frequency"].tolist() == [1, 2]  # the RFM column wins
    assert cluster.add_customer_features(rfm, ["frequency"], None) is rfm


def test_log_transform_clips_negative_money_at_zero() -> None:
    # log1p(max(x, 0)): -5 -> 0, 0 -> 0, e - 1 -> 1; days pass through unchanged
    frame = pd.DataFrame({"tenure_days": [4.0, 5.0, 6.0], "monetary": [-5.0, 0.0, math.e - 1]})
    step = cluster.SelectAndLog(["monetary", "tenure_days"], ["monetary"]).fit(frame)
    np.testing.assert_allclose(step.transform(frame), [[0, 4], [0, 5], [1, 6]])
    with pytest.raises(UserError, match="column 'monetary' is missing"):
        step.transform(frame.drop(columns="monetary"))


def test_standard_and_robust_scaling() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0, 100.0]})
    standard = cluster.make_transform(["a"], [], "standard").fit_transform(frame)
    robust = cluster.make_transform(["a"], [], "robust").fit_transform(frame)
    assert standard.mean() == pytest.approx(0) and standard.std() == pytest.approx(1)
    # robust: (x - median 3) / IQR (4 - 2 = 2)
    np.testing.assert_allclose(robust[:, 0], [-1, -0.5, 0, 0.5, 48.5])
    with pytest.raises(UserError, match="clustering.scaler"):
        cluster.make_transform(["a"], [], "minmax")


# ---------------------------------------------------------------------------- choosing K


def test_knee_index_on_hand_worked_curves() -> None:
    # decreasing: scaled y = [1, .33, .11, .06, 0], chord 1 - x: gaps [0, .42, .39, .19, 0]
    assert cluster.knee_index([100, 40, 20, 15, 10]) == 1
    # increasing (k-distance): scaled y = [0, .025, .05, .075, 1], chord = x: gap peaks at 3
    assert cluster.knee_index([1, 1.1, 1.2, 1.3, 5]) == 3
    assert cluster.knee_index([3, 2, 1]) is None  # straight line
    assert cluster.knee_index([5, 1]) is None  # too short


def test_choose_k_breaks_silhouette_ties_toward_the_elbow() -> None:
    table = pd.DataFrame(
        {
            "k": [2, 3, 4, 5, 6],
            "inertia": [100, 40, 20, 15, 10],  # elbow at K = 3 (position 1, see above)
            "silhouette": [0.50, 0.49, 0.30, 0.28, 0.27],
        }
    )
    choice = cluster.choose_k(table, tolerance=0.02)
    assert (choice.k, choice.elbow_k, choice.best_silhouette_k, choice.candidates) == (3, 3, 2, (2, 3))
    assert "within 0.02 of the best (0.50 at K = 2), and is the elbow" in choice.reason
    # a tolerance of 0 leaves only the best silhouette
    assert cluster.choose_k(table, tolerance=0.0).k == 2
    forced = cluster.choose_k(table, forced=5)
    assert (forced.k, forced.forced) == (5, True) and "forced" in forced.reason
    # inertia on a straight line has no elbow: best silhouette wins
    no_elbow = table.assign(inertia=[50, 40, 30, 20, 10])
    assert cluster.choose_k(no_elbow).k == 2


def test_k_rule_recovers_the_true_k_on_blobs(blobs) -> None:
    run, truth = blobs
    assert run.k_values == tuple(range(2, 11))
    assert run.choice.k == 4
    assert run.choice.best_silhouette_k == 4 and run.choice.elbow_k == 4


def test_kmeans_labels_agree_with_the_truth_on_blobs(blobs) -> None:
    run, truth = blobs
    assert adjusted_rand_score(truth, run.labels["kmeans"]) >= 0.9
    # every method sees the same 600 customers; clusters are numbered by size
    assert np.bincount(run.labels["kmeans"]).tolist() == [PER_BLOB] * 4
    assert adjusted_rand_score(truth, run.labels["hierarchical"]) >= 0.9


def test_holdout_and_stability_on_blobs(blobs) -> None:
    run, _ = blobs
    assert run.holdout["test_customers"] == 150 and run.holdout["train_customers"] == 450
    assert run.holdout["silhouette_test"] > 0.6
    assert run.holdout["ari_test_refit"] >= 0.95
    assert run.stability.stable and run.stability.mean_ari >= 0.95
    assert (run.stability.cluster_jaccard >= 0.95).all()


def test_dbscan_marks_far_outliers_as_noise(blobs_with_outliers) -> None:
    run, truth = blobs_with_outliers
    outliers = truth == -1
    assert (run.labels["dbscan"][outliers] == cluster.NOISE).all()
    # the blobs themselves are not noise, and DBSCAN finds them as four clusters
    assert (run.labels["dbscan"][~outliers] == cluster.NOISE).mean() < 0.05
    assert len(np.unique(run.labels["dbscan"][~outliers])) >= 4
    comparison = run.comparison.set_index("method")
    assert comparison.loc["dbscan", "noise_share"] == pytest.approx((run.labels["dbscan"] == -1).mean())


def test_k_rule_sets_aside_k_with_a_tiny_cluster() -> None:
    # K = 3 has the best silhouette only because 0.5% of customers form their own cluster
    table = pd.DataFrame(
        {
            "k": [2, 3, 4, 5, 6],
            "inertia": [100, 40, 20, 15, 10],
            "silhouette": [0.40, 0.60, 0.30, 0.28, 0.27],
            "smallest_cluster_share": [0.30, 0.005, 0.10, 0.08, 0.05],
        }
    )
    assert cluster.choose_k(table, min_cluster_share=0.0).k == 3
    guarded = cluster.choose_k(table, min_cluster_share=0.01)
    assert guarded.k == 2 and "K = 3 was set aside" in guarded.reason


def test_k_range_caps_k_so_each_cluster_can_hold_two_customers() -> None:
    assert cluster.k_range(2, 10, 1000) == tuple(range(2, 11))
    assert cluster.k_range(2, 10, 9) == (2, 3, 4)  # 9 // 2 = 4
    assert cluster.k_range(5, 10, 4) == (2,)  # too few: K = 2 only


def test_draw_rows_splits_and_samples_reproducibly() -> None:
    # 1,000 customers, test_size 0.25: 250 held out; samples of 400 and 100 from the 750 training ones
    settings = cluster.ClusterSettings(sample_size=100, scan_sample_size=400, seed=3)
    rows = cluster.draw_rows(1000, settings)
    assert (len(rows.train), len(rows.test), len(rows.scan), len(rows.sample)) == (750, 250, 400, 100)
    assert sorted(np.concatenate([rows.train, rows.test]).tolist()) == list(range(1000))
    assert set(rows.scan) <= set(rows.train) and set(rows.sample) <= set(rows.train)
    assert rows.scan_silhouette.max() < len(rows.scan) and len(rows.evaluation) == 100
    again = cluster.draw_rows(1000, settings)
    assert all(np.array_equal(getattr(rows, f), getattr(again, f)) for f in rows.__dataclass_fields__)
    other = cluster.draw_rows(1000, cluster.ClusterSettings(sample_size=100, scan_sample_size=400, seed=4))
    assert not np.array_equal(rows.test, other.test)


# ---------------------------------------------------------------------------- methods, by hand


def test_fit_kmeans_numbers_clusters_by_size() -> None:
    X = np.array([[100.0], [101.0], [0.0], [1.0], [2.0]])
    model = cluster.fit_kmeans(X, 2, seed=0, n_init=2)
    assert model.labels_.tolist() == [1, 1, 0, 0, 0]  # three points near 1 = largest = 0
    assert model.predict(np.array([[99.0], [-3.0]])).tolist() == [1, 0]


def test_fit_ward_cuts_between_the_right_merges() -> None:
    # Ward heights: {0,1} 1, {10,11} 1, +{12} sqrt(4/3)*1.5 = 1.732, last sqrt(2.4)*10.5 = 16.27
    X = np.array([[0.0], [1.0], [10.0], [11.0], [12.0]])
    ward = cluster.fit_ward(X, 2)
    assert ward.labels.tolist() == [1, 1, 0, 0, 0]
    assert ward.cut_height == pytest.approx((math.sqrt(4 / 3) * 1.5 + math.sqrt(2.4) * 10.5) / 2)
    np.testing.assert_allclose(ward.centroids, [[11.0], [0.5]])
    assert cluster.assign_nearest(np.array([[6.0], [5.0]]), ward.centroids).tolist() == [0, 1]


def test_assign_to_core_points_within_eps_else_noise() -> None:
    cores = np.array([[0.0, 0.0], [10.0, 0.0]])
    points = np.array([[0.5, 0.0], [9.6, 0.0], [5.0, 0.0]])
    assert cluster.assign_to_core_points(points, cores, np.array([0, 1]), 1.0).tolist() == [0, 1, -1]
    assert cluster.assign_to_core_points(points, cores[:0], np.array([], dtype=int), 1.0).tolist() == [-1] * 3


def test_sampled_methods_keep_sample_labels_and_assign_the_rest() -> None:
    # sample rows 0, 1, 3, 4 form two groups; row 2 (0.6) joins the nearer Ward centroid (0.5)
    X = np.array([[0.0], [1.0], [0.6], [10.0], [11.0], [30.0]])
    sample = np.array([0, 1, 3, 4])
    ward, labels = cluster.ward_on_sample(X, sample, 2)
    assert ward.labels.tolist() == [0, 0, 1, 1] and labels.tolist() == [0, 0, 0, 1, 1, 1]
    # DBSCAN, min_samples 2: every k-distance is 1 (no knee), so eps = the 95th percentile = 1;
    # 0.6 is within 1 of core point 1.0, and 30 is far from every core point: noise
    dbscan, density = cluster.dbscan_on_sample(X, sample, 2)
    assert density[sample].tolist() == dbscan.labels.tolist()
    assert density[5] == cluster.NOISE and density[2] == density[0]


def test_method_comparison_counts_noise_and_agreement() -> None:
    X = np.array([[0.0], [0.1], [5.0], [5.1]])
    labels = {"kmeans": np.array([0, 0, 1, 1]), "dbscan": np.array([0, 0, 1, -1])}
    table = cluster.method_comparison(X, labels, np.arange(4)).set_index("method")
    assert table.loc["kmeans", "ari_kmeans"] == 1.0
    assert table.loc["dbscan", "noise_share"] == 0.25
    assert table.loc["kmeans", "sizes"] == "2 / 2"
    assert table.loc["dbscan", "clusters"] == 2


def test_unstable_solution_is_flagged() -> None:
    jaccard = pd.Series([0.4, 0.9], index=pd.Index([0, 1], name="cluster"))
    shaky = cluster.Stability(np.array([0.5, 0.6]), jaccard, threshold=0.75)
    assert not shaky.stable and shaky.mean_ari == pytest.approx(0.55)
    assert shaky.verdict().startswith("NOT STABLE") and "0.55" in shaky.verdict()
    assert cluster.Stability(np.array([0.8, 0.9]), jaccard, 0.75).verdict().startswith("Stable")


# ---------------------------------------------------------------------------- RFM data, output, scoring

ANALYSIS_DATE = "2024-07-01"


def _transactions(path: Path, customers: range, seed: int = 1) -> Path:
    """Write cleaned lines (01_clean contract) for three kinds of buyers plus an all-cancelled one."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in customers:
        kind = c % 3  # 0: frequent big spender, 1: recent one-off, 2: lapsed one-off
        orders = int(rng.integers(6, 12)) if kind == 0 else 1
        for o in range(orders):
            day = {0: 10 + 15 * o, 1: 170, 2: 20}[kind] + int(rng.integers(0, 8))
            amount = float(rng.uniform(200, 400) if kind == 0 else rng.uniform(10, 40))
            rows.append((f"k{c:03d}", f"{c:03d}-{o}", pd.Timestamp("2024-01-01") + pd.Timedelta(days=day), amount, False))
    rows.append(("zz-cancel", "900", pd.Timestamp("2024-02-01"), 30.0, False))
    rows.append(("zz-cancel", "C900", pd.Timestamp("2024-02-02"), -30.0, True))
    frame = pd.DataFrame(rows, columns=["customer_id", "invoice_id", "invoice_date", "amount", "is_return"])
    frame["product_id"], frame["description"], frame["country"] = "P1", "ITEM", "United Kingdom"
    frame["quantity"], frame["unit_price"], frame["is_outlier"] = 1.0, frame["amount"].abs(), False
    frame.to_parquet(path, index=False)
    return path


@pytest.fixture(scope="module")
def fitted(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("scoring")
    transactions = _transactions(folder / "transactions.parquet", range(60))
    with engine.connect() as con:
        metrics = customer_metrics(con, transactions, ANALYSIS_DATE)
    run = cluster.run_clustering(metrics, cluster.ClusterSettings(n_init=3, bootstrap_resamples=3, k_max=6))
    model = cluster.save_model(run, cluster.model_path("", folder), ANALYSIS_DATE)
    return {"folder": folder, "transactions": transactions, "run": run, "model": model,
            "labels": cluster.labels_frame(run)}


def test_labels_frame_has_one_row_per_customer_and_minus_two_without_kept_order(fitted) -> None:
    labels = fitted["labels"]
    assert list(labels.columns) == list(cluster.LABEL_COLUMNS)
    assert len(labels) == 61 and labels["customer_id"].is_unique
    no_order = labels.set_index("customer_id").loc["zz-cancel"]
    assert no_order.tolist() == [cluster.NO_KEPT_ORDER] * 4
    assert (labels["cluster"] == labels["kmeans"]).all()
    cluster.check_labels(labels, fitted["run"].customer_ids)
    with pytest.raises(UserError, match="one row per customer"):
        cluster.check_labels(labels.iloc[1:], fitted["run"].customer_ids)
    stranger = labels.assign(customer_id=labels["customer_id"].where(labels.index > 0, "not-a-customer"))
    with pytest.raises(UserError, match="one row per customer"):  # as many rows, one of them unknown
        cluster.check_labels(stranger, fitted["run"].customer_ids)


def test_cluster_summary_accounts_for_every_customer(fitted) -> None:
    summary = cluster.cluster_summary(fitted["run"])
    assert summary["customers"].sum() == 61
    assert summary["cluster"].iloc[-1] == "no kept order"
    assert summary["revenue_share"].sum() == pytest.approx(1.0)


def test_saved_model_scores_the_same_labels_as_the_fitted_run(fitted) -> None:
    model = cluster.load_model(fitted["model"])
    assert model["features"] == list(cluster.DEFAULT_FEATURES)
    assert set(model["versions"]) == {"scikit-learn", "numpy", "pandas"} and not model["version_mismatch"]
    scored = cluster.score_transactions(model, fitted["transactions"], ANALYSIS_DATE)
    expected = fitted["labels"].set_index("customer_id")["cluster"]
    assert scored.set_index("customer_id")["cluster"].equals(expected.loc[scored["customer_id"]].rename("cluster"))


def test_new_customers_file_scores_like_the_fitted_run(fitted, tmp_path) -> None:
    # a file holding only some customers' lines, scored at the same analysis date
    subset = _transactions(tmp_path / "new.parquet", range(60))
    lines = pd.read_parquet(subset)
    picked = ["k003", "k004", "k005", "k010", "zz-cancel"]
    lines[lines["customer_id"].isin(picked)].to_parquet(subset, index=False)
    scored = cluster.score_transactions(fitted["model"], subset, ANALYSIS_DATE).set_index("customer_id")
    expected = fitted["labels"].set_index("customer_id").loc[picked, "cluster"]
    assert scored.loc[picked, "cluster"].tolist() == expected.tolist()


def test_cli_scores_to_parquet(fitted, tmp_path, capsys) -> None:
    out = tmp_path / "scores.parquet"
    status = cluster.main(["score", "--model", str(fitted["model"]), "--transactions",
                           str(fitted["transactions"]), "--out", str(out), "--analysis-date", ANALYSIS_DATE])
    assert status == 0
    scored = pd.read_parquet(out)
    assert scored["cluster"].tolist() == fitted["labels"]["cluster"].tolist()
    assert "scored 61 customers" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["score", "--model", "missing.joblib", "--transactions", "t.parquet", "--out", "o.parquet"], "model file not found"),
        (["score", "--model", "m.joblib"], "the following arguments are required"),
        (["score", "--model", "m.joblib", "--transactions", "t.parquet", "--out", "o.xlsx"], "end the name in .parquet or .csv"),
    ],
)
def test_cli_errors_are_one_line_without_traceback(args, message, capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert cluster.main(args) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err
    assert "Traceback" not in err


def test_load_model_rejects_other_files(tmp_path) -> None:
    other = tmp_path / "other.joblib"
    other.write_text("not a model")
    cluster.checksum_path(other).write_text(f"{file_sha256(other)}  other.joblib\n")
    with pytest.raises(UserError, match="cannot read the model"):
        cluster.load_model(other)


def _copy_model(fitted, folder: Path) -> Path:
    copy = folder / cluster.MODEL_FILE
    copy.write_bytes(Path(fitted["model"]).read_bytes())
    return copy


def test_tampered_model_is_refused_before_unpickling(fitted, tmp_path, monkeypatch) -> None:
    import joblib

    model = _copy_model(fitted, tmp_path)
    recorded = file_sha256(fitted["model"])
    (tmp_path / "manifest.json").write_text(json.dumps({"model": {"path": f"/runs/x/{model.name}", "sha256": recorded}}))
    model.write_bytes(model.read_bytes() + b"\0")  # one byte appended
    monkeypatch.setattr(joblib, "load", lambda *a, **k: pytest.fail("unpickled a tampered file"))
    with pytest.raises(UserError, match=r"sha256 differs from the one recorded in .*manifest\.json"):
        cluster.load_model(model)
    with pytest.raises(UserError, match="sha256 differs from the one recorded in --sha256"):
        cluster.load_model(model, sha256=recorded)


def test_model_checksum_comes_from_the_manifest_then_the_sidecar(fitted, tmp_path) -> None:
    assert cluster.checksum_path(fitted["model"]).read_text().split() == [
        file_sha256(fitted["model"]), cluster.MODEL_FILE]
    model = _copy_model(fitted, tmp_path)
    with pytest.raises(UserError, match="no recorded checksum.*--sha256"):
        cluster.load_model(model)
    assert cluster.load_model(model, sha256=file_sha256(model).upper())["k"] == fitted["run"].choice.k
    cluster.checksum_path(model).write_text("0" * 64 + "  x\n")
    with pytest.raises(UserError, match="sha256 differs"):
        cluster.load_model(model)
    (tmp_path / "manifest.json").write_text(json.dumps({"model": {"path": str(model), "sha256": file_sha256(model)}}))
    assert cluster.load_model(model)["k"] == fitted["run"].choice.k  # the manifest comes first


def test_model_path_prefers_the_run_folder(tmp_path) -> None:
    assert cluster.model_path("", tmp_path / "processed") == tmp_path / "processed" / cluster.MODEL_FILE
    assert cluster.model_path(tmp_path / "run", tmp_path / "processed") == tmp_path / "run" / cluster.MODEL_FILE


# ---------------------------------------------------------------------------- plots


def test_plot_cluster_sizes_takeaway_is_computed_from_the_data() -> None:
    summary = pd.DataFrame(
        {"cluster": ["0", "1", "no kept order"], "customers": [6, 3, 1],
         "customer_share": [0.6, 0.3, 0.1], "revenue_share": [0.2, 0.8, 0.0]}
    )
    fig, takeaway = cplots.plot_cluster_sizes(summary)
    assert takeaway == (
        "The largest cluster, 0, holds 60% of customers; cluster 1 brings 80% of net revenue "
        "with 30% of customers."
    )
    assert fig.axes[0].get_title()
    plt.close("all")


def test_every_plot_has_a_title_labelled_axes_and_a_takeaway(fitted) -> None:
    run = fitted["run"]
    summary = cluster.cluster_summary(run)
    figures = [
        cplots.plot_k_selection(run.k_table, run.choice),
        cplots.plot_dendrogram(run.ward),
        cplots.plot_k_distance(run.dbscan),
        cplots.plot_cluster_sizes(summary),
        cplots.plot_projection(run),
        cplots.plot_profiles(cluster.cluster_profile(run), summary),
        cplots.plot_rfm_boxplots(run),
    ]
    for fig, takeaway in figures:
        assert isinstance(takeaway, str) and takeaway.endswith(".") and any(ch.isdigit() for ch in takeaway)
        titled = fig._suptitle is not None or any(ax.get_title() for ax in fig.axes)
        assert titled
        for ax in fig.axes:
            if ax.get_label() != "<colorbar>":
                assert ax.get_xlabel() and ax.get_ylabel(), ax.get_title()
    assert "K = " in cplots.describe_comparison(run.comparison) or "Ward" in cplots.describe_comparison(run.comparison)
    assert str(run.holdout["test_customers"]) in cplots.describe_holdout(run.holdout)
    plt.close("all")


def test_annotate_k_table_marks_chosen_elbow_and_set_aside() -> None:
    table = pd.DataFrame({"k": [2, 3, 4], "inertia": [9.0, 3.0, 2.0], "silhouette": [0.5, 0.49, 0.9]})
    choice = cluster.KChoice(3, 3, 2, (2, 3), False, "", set_aside=(4,))
    assert cluster.annotate_k_table(table, choice)["note"].tolist() == [
        "best silhouette",
        "chosen, elbow",
        "set aside: tiny cluster",
    ]


def test_cli_reports_unreadable_transactions_in_one_line(fitted, tmp_path, capsys) -> None:
    not_parquet = tmp_path / "orders.csv"
    not_parquet.write_text("a,b\n1,2\n")
    status = cluster.main(["score", "--model", str(fitted["model"]), "--transactions", str(not_parquet),
                           "--out", str(tmp_path / "o.parquet")])
    err = capsys.readouterr().err
    assert status == 1 and err.count("\n") == 1
    assert "cannot read the transactions" in err and "01_clean" in err


def test_cli_rejects_a_date_that_is_not_one_and_a_missing_column(fitted, tmp_path, capsys) -> None:
    args = ["score", "--model", str(fitted["model"]), "--out", str(tmp_path / "o.parquet")]
    assert cluster.main([*args, "--transactions", str(fitted["transactions"]), "--analysis-date", "soon"]) == 1
    assert "'soon' (--analysis-date) is not a date" in capsys.readouterr().err
    lines = pd.read_parquet(fitted["transactions"]).drop(columns="is_return")
    lines.to_parquet(tmp_path / "t.parquet", index=False)
    assert cluster.main([*args, "--transactions", str(tmp_path / "t.parquet")]) == 1
    assert "column 'is_return' is missing" in capsys.readouterr().err


def test_python_m_helpers_cluster_still_runs_the_score_command(tmp_path) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "helpers.cluster", "score", "--model", str(tmp_path / "none.joblib"),
         "--transactions", "t.parquet", "--out", "o.parquet"],
        capture_output=True, text=True, check=False,
    )
    assert done.returncode == 1 and "model file not found" in done.stderr


def test_cluster_re_exports_every_stage_name() -> None:
    from helpers import (
        cluster_features,
        cluster_methods,
        cluster_model,
        cluster_select,
        cluster_stability,
    )

    for name in cluster.__all__:
        assert hasattr(cluster, name), name
    for module in (cluster_features, cluster_select, cluster_methods, cluster_stability, cluster_model):
        tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
        defined = [t.id for node in tree.body if isinstance(node, ast.Assign | ast.AnnAssign)
                   for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
                   if isinstance(t, ast.Name)]
        defined += [node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.ClassDef)]
        public = [name for name in defined if not name.startswith("_")]
        assert public and not [n for n in public if n not in cluster.__all__], module.__name__
    # saved models name helpers.cluster.SelectAndLog (before the split too); unpickling looks it up there
    assert cluster.SelectAndLog is cluster_features.SelectAndLog
    assert b"helpers.cluster_features" not in pickle.dumps(cluster.make_transform())


def test_silhouette_from_precomputed_distances_equals_the_direct_one_with_and_without_noise():
    """The K scan computes the sample's distances once (issue 16); the scores must not move."""
    from sklearn.metrics import pairwise_distances

    from helpers.cluster_select import sample_silhouette

    rng = np.random.default_rng(3)
    X = np.vstack([rng.normal(0, 1, (60, 3)), rng.normal(4, 1, (60, 3))])
    positions = np.sort(rng.choice(len(X), 80, replace=False))
    distances = pairwise_distances(X[positions])
    labels = np.repeat([0, 1], 60)
    noisy = labels.copy()
    noisy[::7] = -1  # DBSCAN noise is left out of the score
    for lab in (labels, noisy):
        direct = sample_silhouette(X, lab, positions)
        assert 0.3 < direct < 1
        assert sample_silhouette(X, lab, positions, distances) == pytest.approx(direct, abs=1e-12)


@pytest.mark.parametrize("seed", range(40))
def test_the_silhouette_from_distances_agrees_with_scikit_learn(seed) -> None:
    from sklearn.metrics import pairwise_distances, silhouette_score

    from helpers.cluster_select import silhouette_from_distances

    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 200))
    labels = rng.integers(0, int(rng.integers(2, min(n, 12) + 1)), n)  # some clusters hold one row
    if not 2 <= len(np.unique(labels)) < n:
        labels[: 2] = [0, 1]
    X = rng.normal(size=(n, int(rng.integers(1, 6)))) * rng.uniform(0.01, 100)
    distances = pairwise_distances(X)
    expected = silhouette_score(distances, labels, metric="precomputed")
    assert silhouette_from_distances(distances, labels) == pytest.approx(expected, abs=1e-12)


def test_the_method_comparison_gives_the_rand_index_of_every_pair_as_scikit_learn() -> None:
    from helpers.cluster_methods import method_comparison

    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 3))
    labels = {"kmeans": rng.integers(0, 3, 300), "hierarchical": rng.integers(0, 4, 300),
              "dbscan": np.where(rng.random(300) < 0.2, -1, rng.integers(0, 2, 300))}
    table = method_comparison(X, labels, np.arange(0, 300, 3)).set_index("method")
    for name, lab in labels.items():
        for other, other_lab in labels.items():
            assert table.loc[name, f"ari_{other}"] == adjusted_rand_score(lab, other_lab), (name, other)
