"""Categorical features in clustering (issue 15) and the personas' categorical make-up.

Hand-worked answers:

- Weights: shares 3/4 and 1/4 give a block variance of 2 x 3/4 x 1/4 = 0.375, so the weight
  is 1 / sqrt(0.375) = 1.633; shares 1/2, 1/4, 1/4 give 0.25 + 0.1875 + 0.1875 = 0.625, weight
  1 / sqrt(0.625) = 1.265. After the weight each block's column variances add up to 1.
- Generated tables: "plans" are two groups of 200 customers that differ only by a text
  column (basic / premium) and share two pure-noise numeric columns; "cities" are two groups
  far apart on a numeric column (spend -3 / +3, sd 0.5) with a 50-level city drawn at random.
- Make-up: women are 8 of 16 customers (50%) and 5 of the 8 in cluster 0 (62.5%, printed
  "62%": Python rounds the half to even).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from helpers import (
    catalog,
    cluster,
    engine,
    exports,
    persona_rules,
    persona_traits,
    personas,
    personas_report,
)
from helpers import cluster_plots as cplots
from helpers.errors import UserError
from helpers.rfm import customer_metrics

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ANALYSIS_DATE = "2024-07-01"


def _block_variance(X: np.ndarray) -> float:
    return float(X.var(axis=0).sum())  # population variance, as the weights use


# ---------------------------------------------------------------------------- the weighting


def test_each_categorical_block_has_total_variance_one() -> None:
    frame = pd.DataFrame({"gender": ["F", "F", "F", "M"], "band": ["a", "a", "b", "c"], "shop": ["x"] * 4})
    step = cluster.WeightedOneHot(["gender", "band", "shop"], min_share=0).fit(frame)
    assert step.weights_["gender"] == pytest.approx(1 / np.sqrt(0.375))  # 1.633
    assert step.weights_["band"] == pytest.approx(1 / np.sqrt(0.625))  # 1.265
    assert step.weights_["shop"] == 1.0  # one level: variance 0, weight 1, constant column
    X = step.transform(frame)
    assert step.get_feature_names_out().tolist() == ["gender=F", "gender=M", "band=a", "band=b", "band=c", "shop=x"]
    assert _block_variance(X[:, :2]) == pytest.approx(1.0)
    assert _block_variance(X[:, 2:5]) == pytest.approx(1.0)
    np.testing.assert_allclose(X[3, :2], [0.0, 1 / np.sqrt(0.375)])  # M: the weight in its own column


def test_missing_is_a_level_and_rare_levels_share_one_column() -> None:
    # A x5, B x3, C x1, missing x1 of 10: with min_share 0.2, C and missing (10% each) are rare.
    frame = pd.DataFrame({"plan": ["A"] * 5 + ["B"] * 3 + ["C", None]})
    pooled = cluster.WeightedOneHot(["plan"], min_share=0.2).fit(frame)
    assert pooled.levels_ == [("plan", "A"), ("plan", "B"), ("plan", cluster.CATEGORY_RARE)]
    np.testing.assert_allclose(pooled.shares_, [0.5, 0.3, 0.2])
    every = cluster.WeightedOneHot(["plan"], min_share=0).fit(frame)
    assert [level for _, level in every.levels_] == ["A", "B", "C", cluster.CATEGORY_MISSING]
    assert cluster.category_text(pd.Series([2.0, None, 3.0])).tolist() == ["2", "missing", "3"]


def test_a_50_level_categorical_does_not_dominate_a_numeric_feature() -> None:
    rng = np.random.default_rng(5)
    n = 1000
    truth = np.repeat([0, 1], n // 2)
    table = pd.DataFrame({
        "customer_id": [f"c{i:04d}" for i in range(n)],
        "spend": np.where(truth == 0, -3.0, 3.0) + rng.normal(0, 0.5, n),
        "city": [f"city {c:02d}" for c in rng.integers(0, 50, n)],
    })
    transform = cluster.make_transform(["spend", "city"], [], categorical=["city"]).fit(table)
    X = transform.transform(table)
    assert X.shape[1] == 51
    # each feature holds the same total variance: the 50 columns of city together weigh one spend
    assert _block_variance(X[:, :1]) == pytest.approx(1.0) and _block_variance(X[:, 1:]) == pytest.approx(1.0)
    # scaling the one-hot columns one by one (a common pipeline) would hand city 50 of 51 parts
    naive = Pipeline([("onehot", OneHotEncoder(sparse_output=False)), ("scale", StandardScaler())])
    assert _block_variance(naive.fit_transform(table[["city"]])) == pytest.approx(50.0)
    settings = cluster.ClusterSettings(features=("spend", "city"), log_features=(), n_init=3,
                                       bootstrap_resamples=3, seed=0)
    run = cluster.run_clustering(table, settings)
    assert run.choice.k == 2 and adjusted_rand_score(truth, run.labels["kmeans"]) == 1.0
    assert settings.min_samples == 4  # twice the 2 input features, not the 51 encoded columns
    assert run.dbscan.min_samples == 4


# ---------------------------------------------------------------------------- the transform


def test_numeric_only_transform_is_the_pipeline_of_before() -> None:
    transform = cluster.make_transform()
    assert [name for name, _ in transform.steps] == ["features", "scale"]
    assert isinstance(transform[0], cluster.SelectAndLog)
    table = pd.DataFrame({"monetary": [1.0, 5.0, 9.0], "gender": ["F", "M", None]})
    mixed = cluster.make_transform(["monetary", "gender"], [], categorical=["gender"]).fit(table)
    assert cluster.encoded_columns(mixed) == ("monetary", "gender=F", "gender=M", "gender=missing")
    assert cluster.category_encoder(mixed).weights_["gender"] == pytest.approx(1 / np.sqrt(2 / 3))
    # saved models name helpers.cluster only, so they load however the modules are split
    assert b"helpers.cluster_features" not in pickle.dumps(mixed)
    with pytest.raises(UserError, match="column 'gender' \\(clustering.log_features\\) is categorical"):
        cluster.make_transform(["monetary", "gender"], ["gender"], categorical=["gender"])


def test_check_features_accepts_declared_categories_with_gaps() -> None:
    table = pd.DataFrame({"monetary": [1.0, 2.0], "gender": ["F", None], "newsletter": [True, False]})
    assert cluster.categorical_features(table, ["monetary", "gender", "newsletter"]) == ("gender", "newsletter")
    cluster.check_features(table, ["monetary", "gender", "newsletter"], ["gender", "newsletter"])
    with pytest.raises(UserError, match="column 'gender'.*not numeric"):
        cluster.check_features(table, ["gender"])  # not declared categorical


# ---------------------------------------------------------------------------- a mixed run end to end


def _plans(n: int = 400, seed: int = 3) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = np.repeat([0, 1], n // 2)
    table = pd.DataFrame({
        "customer_id": [f"c{i:03d}" for i in range(n)],
        "x": rng.normal(0, 1, n),
        "y": rng.normal(0, 1, n),
        "plan": np.where(truth == 0, "basic", "premium"),
    })
    return table, truth


@pytest.fixture(scope="module")
def plans() -> tuple[cluster.ClusterRun, np.ndarray, pd.DataFrame]:
    table, truth = _plans()
    settings = cluster.ClusterSettings(features=("x", "y", "plan"), log_features=(), n_init=3,
                                       bootstrap_resamples=5, seed=0)
    return cluster.run_clustering(table, settings), truth, table


def test_groups_that_differ_only_by_a_categorical_are_found(plans) -> None:
    run, truth, _ = plans
    assert run.categorical == ("plan",) and run.columns == ("x", "y", "plan=basic", "plan=premium")
    assert run.choice.k == 2 and adjusted_rand_score(truth, run.labels["kmeans"]) == 1.0
    assert adjusted_rand_score(truth, run.labels["hierarchical"]) == 1.0
    assert run.holdout["ari_test_refit"] == 1.0 and run.stability.mean_ari == 1.0
    summary = cluster.cluster_summary(run)
    assert sorted(summary["top_plan"]) == ["basic (100%)", "premium (100%)"]
    overview = cluster.feature_overview(run).set_index("feature")
    basic = float((run.customers["plan"].iloc[run.train] == "basic").mean())  # about 1/2: weight about 1.41
    weight = 1 / np.sqrt(2 * basic * (1 - basic))
    assert overview.loc["plan", "transform"] == f"one-hot, 2 levels x weight {weight:.2f} (total variance 1)"
    assert np.isnan(overview.loc["plan", "median"]) and overview.loc["x", "transform"] == "none"


def test_profile_shows_a_categorical_as_level_shares(plans) -> None:
    run, _, _ = plans
    profile = cluster.cluster_profile(run)
    premium = run.labels["kmeans"][np.asarray(run.customers["plan"] == "premium")][0]
    # weight x (share in the cluster, 1, - share in training, about 1/2)
    weight = cluster.category_encoder(run.model).weights_["plan"]
    in_training = float((run.customers["plan"].iloc[run.train] == "premium").mean())
    assert profile.loc[premium, "plan=premium"] == pytest.approx(weight * (1 - in_training))
    assert profile.attrs["level_shares"].loc[premium, "plan=premium"] == 1.0
    assert profile.attrs["overall_level_shares"]["plan=premium"] == pytest.approx(0.5)
    assert cplots.profile_columns(profile) == ["x", "y", "plan=basic"] or cplots.profile_columns(profile) == [
        "x", "y", "plan=premium"]
    fig, takeaway = cplots.plot_profiles(profile, cluster.cluster_summary(run))
    assert takeaway.startswith("The strongest contrast is cluster") and "of all customers" in takeaway
    assert "plan: " in " ".join(t.get_text() for t in fig.axes[0].get_xticklabels())
    figures = [cplots.plot_projection(run), cplots.plot_dendrogram(run.ward), cplots.plot_k_distance(run.dbscan),
               cplots.plot_k_selection(run.k_table, run.choice)]
    for fig, takeaway in figures:
        assert takeaway.endswith(".") and any(ch.isdigit() for ch in takeaway)
        assert any(ax.get_title() for ax in fig.axes) or fig._suptitle is not None
    plt.close("all")


def test_saved_model_scores_unknown_and_missing_levels(plans, tmp_path) -> None:
    run, _, table = plans
    model = cluster.load_model(cluster.save_model(run, tmp_path / cluster.MODEL_FILE))
    assert model["categorical_features"] == ["plan"]
    labels = cluster.labels_frame(run).set_index("customer_id")["cluster"]
    assert cluster.score_customers(model, table)["cluster"].tolist() == labels.loc[table["customer_id"]].tolist()
    # an unknown level and a missing one get zeros in the plan columns: equally far from
    # basic and premium, so the numbers decide; no error, no warning
    new = table.iloc[[0, 1]].assign(plan=["gold", None])
    X = model["pipeline"][:-1].transform(new)
    np.testing.assert_array_equal(X[:, 2:], 0.0)
    scored = cluster.score_customers(model, new)
    assert scored["cluster"].between(0, run.choice.k - 1).all()


# ---------------------------------------------------------------------------- the score command


def _lines(path: Path, n: int = 60) -> Path:
    """Cleaned lines of n customers: even ones buy 8 times for 300, odd ones once for 20."""
    rows = []
    for c in range(n):
        orders = 8 if c % 2 == 0 else 1
        for o in range(orders):
            day = pd.Timestamp("2024-01-01") + pd.Timedelta(days=10 + 15 * o + c % 5)
            rows.append((f"k{c:03d}", f"{c:03d}-{o}", day, 300.0 if c % 2 == 0 else 20.0, False))
    frame = pd.DataFrame(rows, columns=["customer_id", "invoice_id", "invoice_date", "amount", "is_return"])
    frame["product_id"], frame["description"], frame["country"] = "P1", "ITEM", "United Kingdom"
    frame["quantity"], frame["unit_price"], frame["is_outlier"] = 1.0, frame["amount"].abs(), False
    frame.to_parquet(path, index=False)
    return path


def test_score_command_joins_categorical_features_from_a_customer_table(tmp_path, capsys) -> None:
    transactions = _lines(tmp_path / "transactions.parquet")
    with engine.connect() as con:
        metrics = customer_metrics(con, transactions, ANALYSIS_DATE)
    ids = sorted(metrics["customer_id"])
    table = pd.DataFrame({"customer_id": ids, "plan": ["basic" if int(i[1:]) % 3 else "premium" for i in ids]})
    table.to_csv(tmp_path / "customers.csv", index=False)
    features = (*cluster.DEFAULT_FEATURES, "plan")
    settings = cluster.ClusterSettings(features=features, n_init=3, bootstrap_resamples=3, k_max=5)
    run = cluster.run_clustering(cluster.add_customer_features(metrics, features, table), settings)
    model = cluster.save_model(run, tmp_path / cluster.MODEL_FILE, ANALYSIS_DATE)
    out = tmp_path / "scores.parquet"
    args = ["score", "--model", str(model), "--transactions", str(transactions), "--out", str(out),
            "--analysis-date", ANALYSIS_DATE]
    assert cluster.main([*args, "--customers", str(tmp_path / "customers.csv")]) == 0
    expected = cluster.labels_frame(run).set_index("customer_id")["cluster"]
    scored = pd.read_parquet(out).set_index("customer_id")["cluster"]
    assert scored.equals(expected.loc[scored.index])
    capsys.readouterr()
    assert cluster.main(args) == 1
    assert "feature 'plan', which is not computed from transactions; fix: pass" in capsys.readouterr().err


# ---------------------------------------------------------------------------- personas: make-up


def _gendered() -> pd.DataFrame:
    n = 16
    return pd.DataFrame({
        "customer_id": [f"p{i:02d}" for i in range(n)],
        "cluster": [0] * 8 + [1] * 8,
        "recency_days": [20.0] * n, "frequency": [2] * n, "monetary": [100.0] * n,
        "avg_order_value": [50.0] * n, "tenure_days": [200.0] * n,
        "gender": ["women"] * 5 + ["men"] * 3 + ["women"] * 3 + ["men"] * 5,
        "country": ["UK"] * 16,
        "newsletter": [True] * 2 + [False] * 6 + [True] * 6 + [False] * 2,
    })


def test_make_up_names_the_over_represented_level_with_both_shares() -> None:
    customers = _gendered()
    make_up = personas.categorical_make_up(customers, ["gender", "country", "newsletter"])
    zero = make_up[make_up["cluster"] == 0].set_index("trait")
    assert (zero.loc["gender", "level"], zero.loc["gender", "share"], zero.loc["gender", "overall_share"]) == (
        "women", 0.625, 0.5)
    # nobody stands out on country: the most common level, not over-represented
    assert zero.loc["country", "level"] == "UK" and not zero.loc["country", "over_represented"]
    assert zero.loc["newsletter", "level"] == "no" and zero.loc["newsletter", "share"] == 0.75
    profiles = personas.cluster_profiles(customers)
    text = personas.make_up_text(profiles.loc[0, "make_up"])
    assert text == ("62% women (gender; all customers: 50%), 100% UK (country; all customers: 100%), "
                    "75% no newsletter (all customers: 50%)")
    named = personas.name_personas(profiles, personas.overall_profile(customers))
    assert named.loc[0, "description"].endswith(f" Make-up: {text}.")
    assert "62% women" in exports.personas_table(named).set_index("cluster").loc[0, "description"]  # personas.csv
    card = personas_report.card_fields(named.loc[0], personas.overall_profile(customers))
    assert card["make_up"][0] == ("women (gender)", "62%", "50%")
    page = personas_report.persona_cards_html(named, personas.overall_profile(customers))
    assert page.count('class="persona-figures persona-make-up"') == 2  # one table per card


def test_a_level_held_by_a_handful_is_no_evidence() -> None:
    # cluster 1: 2 of 5 in the US (40%, all customers 2 of 25 = 8%): a 32-point gap, but 2
    # customers are under MAKE_UP_MIN_CUSTOMERS (5), so the most common level, UK (60%), stands
    table = pd.DataFrame({"cluster": [0] * 20 + [1] * 5, "country": ["UK"] * 20 + ["US", "US", "UK", "UK", "UK"]})
    row = personas.categorical_make_up(table, ["country"]).set_index("cluster").loc[1]
    assert (row["level"], row["share"], row["over_represented"]) == ("UK", 0.6, False)
    assert persona_traits.make_up_text([persona_traits.TraitLevel("country", "US", 0.05, 0.002, True)]) == (
        "5% US (country; all customers: 0.2%)")


def test_without_categorical_traits_profiles_have_no_make_up() -> None:
    customers = _gendered().drop(columns=["gender", "country", "newsletter"])
    profiles = personas.cluster_profiles(customers)
    assert "make_up" not in profiles.columns
    assert "Make-up" not in personas.name_personas(profiles, personas.overall_profile(customers)).loc[0, "description"]
    with pytest.raises(KeyError):
        personas.categorical_make_up(customers, ["gender"])


def test_traits_include_clustered_and_demographic_columns_of_02_eda(tmp_path) -> None:
    params = {"paths": {"interim_dir": str(tmp_path / "interim"), "processed_dir": str(tmp_path / "processed")},
              "personas": {"traits_file": None},
              "clustering": {"features": ["recency_days", "sessions_per_active_month", "plan"]}}
    eda = pd.DataFrame({"customer_id": ["1", "2"], "distinct_products": [0, 0], "country": ["FR", "ES"],
                        "gender": ["F", "M"], "city": ["Lyon", "Vigo"], "plan": ["a", "b"],
                        "sessions_per_active_month": [1.0, 2.0], "recency_days": [5.0, 6.0]})
    catalog.write(params, "customers", eda)
    traits = persona_traits.read_traits(params)
    # no product ids in the export: distinct_products (0 for all) is left out; city too fine
    assert traits.columns.tolist() == ["customer_id", "country", "gender", "sessions_per_active_month", "plan"]


# ---------------------------------------------------------------------------- personas: no product data


def test_without_product_data_cards_recommend_no_product_action() -> None:
    for rule in persona_rules.PERSONA_RULES:  # every rule keeps at least one action
        kept = personas.product_free_actions(rule.actions)
        assert kept, rule.key
        assert not any("product" in action.lower() for action in kept)
    # cluster 0: one order, 10 days ago (new / first-time buyers); cluster 1: 4 orders, 100 days ago
    customers = _gendered().assign(frequency=[1] * 8 + [4] * 8, recency_days=[10.0] * 8 + [100.0] * 8)
    profiles = personas.cluster_profiles(customers)
    overall = personas.overall_profile(customers)
    with_products = personas.name_personas(profiles, overall)
    assert any("products" in a for a in with_products.loc[0, "actions"])
    named = personas.name_personas(profiles, overall, product_data=False,
                                   overrides={1: {"actions": ["Recommend products by hand"]}})
    assert named.loc[0, "actions"] == ("Send a welcome series that leads to a second order within 30 days",
                                       "Offer an incentive on the second order, such as free delivery")
    assert named.loc[1, "actions"] == ("Recommend products by hand",)  # an override is kept as written
    countries = pd.DataFrame({"cluster": [0, 1], "item": ["UK", "UK"], "description": [None, None],
                              "customer_share": [1.0, 1.0]})
    no_products = countries.iloc[:0]
    table = personas_report.where_and_what_table(named, countries, no_products, pd.Series(dtype=object))
    assert table.columns.tolist() == ["persona", "top countries (share of customers)"]
