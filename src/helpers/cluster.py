"""Clustering of customers (step 04_clustering): the whole step in one call, and its tables.

The step reads the one-row-per-customer RFM table of 03_rfm and works in five stages,
each in its own module:

1. **Features** (`helpers.cluster_features`): `ClusterSettings`, the customers set aside
   (no kept order), and `make_transform`, one scikit-learn Pipeline that selects the
   features, takes ``log1p(max(x, 0))`` of the skewed ones and scales; categorical features
   (text, categories, true/false) are one-hot encoded beside them, each weighted to the
   variance of one scaled numeric feature (`WeightedOneHot`).
2. **K** (`helpers.cluster_select`): `scan_k` fits K-Means for every K of the range;
   `choose_k` applies the rule in `K_RULE`.
3. **Methods** (`helpers.cluster_methods`): K-Means on the training split; Ward and DBSCAN
   on a sample, the other customers assigned to the nearest centroid or core point;
   `method_comparison` sets them side by side.
4. **Checks** (`helpers.cluster_stability`): `holdout_check` and `bootstrap_stability`.
5. **Output and scoring**: `labels_frame` here gives one row per customer;
   `helpers.cluster_model` saves, loads and scores with the fitted model, and is the
   command ``python -m helpers.cluster score --model PATH --transactions PATH --out PATH``
   (``--customers PATH`` adds the features transactions do not give, e.g. gender).

`run_clustering` runs stages 1-4 and returns a `ClusterRun`; the functions below it turn
that into tables (`cluster_summary`, `feature_overview`, ...). Charts are in
`helpers.cluster_plots`. Every public name of the stage modules is importable from here.
Customers without a kept order get `NO_KEPT_ORDER` (-2) in every column; -1 is DBSCAN noise.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import skew
from sklearn.pipeline import Pipeline

from helpers.catalog import CLUSTER_METHODS, LABEL_COLUMNS, dataset
from helpers.cluster_features import (
    CATEGORY_MIN_SHARE,
    CATEGORY_MISSING,
    CATEGORY_RARE,
    DEFAULT_FEATURES,
    DEFAULT_LOG_FEATURES,
    NO_KEPT_ORDER,
    NOISE,
    SCALERS,
    ClusterSettings,
    SelectAndLog,
    WeightedOneHot,
    add_customer_features,
    categorical_features,
    category_encoder,
    category_text,
    check_features,
    encoded_columns,
    is_categorical,
    make_transform,
    split_by_kept_order,
)
from helpers.cluster_methods import (
    DbscanResult,
    WardResult,
    assign_nearest,
    assign_to_core_points,
    choose_eps,
    dbscan_on_sample,
    fit_dbscan,
    fit_kmeans,
    fit_ward,
    k_distances,
    method_comparison,
    ward_on_sample,
)
from helpers.cluster_model import (
    MODEL_FILE,
    MODEL_FORMAT,
    VERSIONED_PACKAGES,
    checksum_path,
    expected_checksum,
    load_model,
    main,
    model_path,
    save_model,
    score_customers,
    score_transactions,
)
from helpers.cluster_select import (
    K_RULE,
    KChoice,
    annotate_k_table,
    choose_k,
    internal_scores,
    k_range,
    kmeans_estimator,
    knee_index,
    sample_distances,
    sample_positions,
    sample_silhouette,
    scan_k,
    silhouette_from_distances,
)
from helpers.cluster_stability import (
    Stability,
    bootstrap_stability,
    holdout_check,
    stability_verdict,
)
from helpers.errors import UserError
from helpers.matching import is_in
from helpers.params_checks import max_clusters

__all__ = [
    # this module
    "CLUSTERS_FILE", "LABEL_COLUMNS", "METHODS", "METHOD_NAMES", "ClusterRun", "CustomerRows",
    "check_labels", "cluster_profile", "cluster_summary", "customer_counts", "draw_rows",
    "feature_overview", "headline_metrics", "labels_frame", "run_clustering",
    # helpers.cluster_features
    "CATEGORY_MIN_SHARE", "CATEGORY_MISSING", "CATEGORY_RARE", "DEFAULT_FEATURES",
    "DEFAULT_LOG_FEATURES", "NOISE", "NO_KEPT_ORDER", "SCALERS", "ClusterSettings",
    "SelectAndLog", "WeightedOneHot", "add_customer_features", "categorical_features",
    "category_encoder", "category_text", "check_features", "encoded_columns", "is_categorical",
    "make_transform", "split_by_kept_order",
    # helpers.cluster_select
    "K_RULE", "KChoice", "annotate_k_table", "choose_k", "internal_scores", "k_range",
    "kmeans_estimator", "knee_index", "sample_distances", "sample_positions", "sample_silhouette", "scan_k",
    "silhouette_from_distances",
    # helpers.cluster_methods
    "DbscanResult", "WardResult", "assign_nearest", "assign_to_core_points", "choose_eps",
    "dbscan_on_sample", "fit_dbscan", "fit_kmeans", "fit_ward", "k_distances",
    "method_comparison", "ward_on_sample",
    # helpers.cluster_stability
    "Stability", "bootstrap_stability", "holdout_check", "stability_verdict",
    # helpers.cluster_model
    "MODEL_FILE", "MODEL_FORMAT", "VERSIONED_PACKAGES", "checksum_path", "expected_checksum",
    "load_model", "main", "model_path", "save_model", "score_customers", "score_transactions",
]

METHODS: tuple[str, ...] = CLUSTER_METHODS  # "kmeans", "hierarchical", "dbscan": a column each
METHOD_NAMES: dict[str, str] = {
    "kmeans": "K-Means",
    "hierarchical": "Ward (hierarchical)",
    "dbscan": "DBSCAN",
}
CLUSTERS_FILE = dataset("clusters").filename  # clusters.parquet


# --------------------------------------------------------------------------------------
# The whole step
# --------------------------------------------------------------------------------------


@dataclass
class ClusterRun:
    """Everything `run_clustering` computed, for the report and the output files.

    Rows of `X` and of every label array follow `customers` (customers with a kept order).
    Positions in `train`, `test`, `scan` (K scan and bootstrap), `sample` (Ward, DBSCAN)
    and `evaluation` (silhouette of the comparison) index those rows. `categorical` lists
    the features clustered as categories and `columns` names the columns of `X` (the
    numeric features, then ``feature=level`` per one-hot column; just the features when
    every feature is numeric).
    """

    settings: ClusterSettings
    customer_ids: pd.Series
    customers: pd.DataFrame
    excluded: pd.DataFrame
    k_values: tuple[int, ...]
    X: np.ndarray
    train: np.ndarray
    test: np.ndarray
    scan: np.ndarray
    sample: np.ndarray
    evaluation: np.ndarray
    k_table: pd.DataFrame
    choice: KChoice
    model: Pipeline
    labels: dict[str, np.ndarray]
    ward: WardResult
    dbscan: DbscanResult
    comparison: pd.DataFrame
    holdout: dict[str, float]
    stability: Stability
    timings: dict[str, float] = field(default_factory=dict)
    categorical: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()



@dataclass(frozen=True)
class CustomerRows:
    """Which customers each stage uses: positions in the table of customers with a kept order.

    Attributes
    ----------
    train, test : numpy.ndarray
        The random split: transform and K-Means are fitted on `train`; `test` is held out.
    scan : numpy.ndarray
        Training customers for the K scan and the bootstrap (at most ``scan_sample_size``).
    scan_silhouette : numpy.ndarray
        Positions *within* `scan` on which the scan's silhouette is computed.
    sample : numpy.ndarray
        Training customers for Ward and DBSCAN (at most ``sample_size``).
    evaluation : numpy.ndarray
        Customers (any split) for the silhouette of the method comparison.
    """

    train: np.ndarray
    test: np.ndarray
    scan: np.ndarray
    scan_silhouette: np.ndarray
    sample: np.ndarray
    evaluation: np.ndarray


def draw_rows(n_customers: int, settings: ClusterSettings) -> CustomerRows:
    """Split and sample the customers with one generator seeded by ``settings.seed``.

    The draws happen in a fixed order (split, scan, scan silhouette, sample, evaluation),
    so the same seed gives the same rows.

    Examples
    --------
    >>> rows = draw_rows(1000, ClusterSettings(sample_size=100))
    >>> len(rows.train), len(rows.test), len(rows.scan), len(rows.sample), len(rows.evaluation)
    (750, 250, 750, 100, 100)
    """
    s = settings
    rng = np.random.default_rng(s.seed)
    order = rng.permutation(n_customers)
    n_test = min(max(1, round(n_customers * s.test_size)), n_customers - 2 * max(s.k_min, 2))
    test, train = np.sort(order[:n_test]), np.sort(order[n_test:])
    scan = train[sample_positions(len(train), s.scan_sample_size, rng)]
    scan_silhouette = sample_positions(len(scan), s.sample_size, rng)
    sample = train[sample_positions(len(train), s.sample_size, rng)]
    evaluation = sample_positions(n_customers, s.sample_size, rng)
    return CustomerRows(train, test, scan, scan_silhouette, sample, evaluation)


def _customers_to_cluster(table: pd.DataFrame, s: ClusterSettings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split off the customers without a kept order; check features and the number of customers."""
    if "customer_id" not in table.columns:
        raise UserError("column 'customer_id' is missing from the customer table; fix: run 03_rfm")
    customers, excluded = split_by_kept_order(table)
    check_features(customers, s.features, categorical_features(customers, s.features))
    n = len(customers)
    if n < 2 * max(s.k_min, 2) + 2:
        raise UserError(
            f"only {n:,} customers with a kept order; clustering needs at least "
            f"{2 * max(s.k_min, 2) + 2}; fix: use a larger export"
        )
    if s.k is not None and s.k > max_clusters(n):
        raise UserError(
            f"key 'clustering.k': {s.k} clusters for {n:,} customers is too many; fix: use a smaller K"
        )
    return customers, excluded


class _Stopwatch:
    """Seconds spent in each stage, for `ClusterRun.timings` (bench/bench_cluster.py reads them)."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._clock = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round(now - self._clock, 3)
        self._clock = now


def _fit_methods(
    X: np.ndarray, rows: CustomerRows, transform: Pipeline, k: int, s: ClusterSettings, watch: _Stopwatch
) -> tuple[Pipeline, dict[str, np.ndarray], WardResult, DbscanResult]:
    """Fit K-Means (the saved model: transform + K-Means), Ward and DBSCAN; label every customer."""
    kmeans = fit_kmeans(X[rows.train], k, s.seed, s.n_init)
    model = Pipeline([*transform.steps, ("kmeans", kmeans)])
    labels = {"kmeans": kmeans.predict(X).astype(np.int64)}
    watch.lap("kmeans")
    ward, labels["hierarchical"] = ward_on_sample(X, rows.sample, k)
    watch.lap("hierarchical")
    dbscan, labels["dbscan"] = dbscan_on_sample(X, rows.sample, s.min_samples)
    watch.lap("dbscan")
    return model, labels, ward, dbscan


def run_clustering(table: pd.DataFrame, settings: ClusterSettings | None = None) -> ClusterRun:
    """Run the clustering step: features, K, K-Means, Ward, DBSCAN and the checks.

    Nothing is quadratic in the number of customers: silhouette, Ward and DBSCAN use a
    sample of `settings.sample_size` customers (the others are assigned to the nearest Ward
    centroid or DBSCAN core point), and the K scan and bootstrap use at most
    `settings.scan_sample_size` customers (`draw_rows`).

    Parameters
    ----------
    table : pandas.DataFrame
        One row per customer with ``customer_id`` and the feature columns (03_rfm's table,
        optionally with columns joined by `add_customer_features`). Text, category and
        true/false features are one-hot encoded and weighted (`WeightedOneHot`).
    settings : ClusterSettings, optional
        Default settings when omitted.

    Returns
    -------
    ClusterRun

    Raises
    ------
    UserError
        A feature is missing, a numeric one is not numeric or not finite, or there are too
        few customers.
    """
    s = settings or ClusterSettings()
    watch = _Stopwatch()
    customers, excluded = _customers_to_cluster(table, s)
    rows = draw_rows(len(customers), s)
    categorical = categorical_features(customers, s.features)
    transform = make_transform(s.features, s.log_features, s.scaler, categorical).fit(customers.iloc[rows.train])
    X = transform.transform(customers)
    watch.lap("features")

    k_values = k_range(s.k_min, s.k_max, len(rows.scan))
    k_table = scan_k(X[rows.scan], k_values, s.seed, s.n_init, rows.scan_silhouette)
    choice = choose_k(k_table, s.silhouette_tolerance, s.k, s.min_cluster_share)
    watch.lap("k_scan")

    model, labels, ward, dbscan = _fit_methods(X, rows, transform, choice.k, s, watch)
    comparison = method_comparison(X, labels, rows.evaluation)
    watch.lap("comparison")
    holdout = holdout_check(model, customers.iloc[rows.train], customers.iloc[rows.test], s)
    watch.lap("holdout")
    stability = bootstrap_stability(X[rows.scan], labels["kmeans"][rows.scan], choice.k,
                                    s.bootstrap_resamples, s.seed, s.n_init, s.stability_threshold)
    watch.lap("stability")

    return ClusterRun(
        settings=s, customer_ids=table["customer_id"].reset_index(drop=True), customers=customers,
        excluded=excluded, k_values=k_values, X=X, train=rows.train, test=rows.test, scan=rows.scan,
        sample=rows.sample, evaluation=rows.evaluation, k_table=k_table, choice=choice, model=model,
        labels=labels, ward=ward, dbscan=dbscan, comparison=comparison, holdout=holdout,
        stability=stability, timings=watch.timings, categorical=categorical,
        columns=encoded_columns(transform),
    )


# --------------------------------------------------------------------------------------
# Tables of the run
# --------------------------------------------------------------------------------------


def customer_counts(run: ClusterRun) -> pd.DataFrame:
    """Count the customers at each stage: clustered, set aside, split and sampled.

    Returns
    -------
    pandas.DataFrame
        ``customers`` per ``group``, in the order the step uses them.
    """
    rows = [
        ("customers in the table", len(run.customer_ids)),
        ("with a kept order: clustered", len(run.customers)),
        (f"without a kept order: label {NO_KEPT_ORDER}, not clustered", len(run.excluded)),
        ("training split: transform and K-Means fitted here", len(run.train)),
        ("held out: test of the training model", len(run.test)),
        ("K scan and bootstrap (training customers)", len(run.scan)),
        ("sample for silhouette, Ward and DBSCAN (training customers)", len(run.sample)),
    ]
    return pd.DataFrame(rows, columns=["group", "customers"])


def feature_overview(run: ClusterRun) -> pd.DataFrame:
    """Describe each feature before and after the transform.

    Returns
    -------
    pandas.DataFrame
        One row per feature: ``feature``, ``transform``, ``min``, ``median``, ``p95``,
        ``max`` (data units, customers with a kept order) and the skewness before
        (``skew_raw``) and after (``skew_transformed``) the log (0 = symmetric). A
        categorical feature's ``transform`` names its levels and weight; its numbers are blank.
    """
    columns = list(run.columns or run.settings.features)
    encoder = category_encoder(run.model)
    rows = []
    for feature in run.settings.features:
        if feature in run.categorical and encoder is not None:
            levels = sum(1 for owner, _ in encoder.levels_ if owner == feature)
            rows.append({"feature": feature, "transform": (
                f"one-hot, {levels} level{'s' if levels != 1 else ''} x weight "
                f"{encoder.weights_[feature]:.2f} (total variance 1)")})
            continue
        values = run.customers[feature].to_numpy(dtype=float)
        rows.append(
            {
                "feature": feature,
                "transform": "log1p(max(x, 0))" if feature in run.settings.log_features else "none",
                "min": values.min(),
                "median": float(np.median(values)),
                "p95": float(np.quantile(values, 0.95)),
                "max": values.max(),
                "skew_raw": float(skew(values)),
                "skew_transformed": float(skew(run.X[:, columns.index(feature)])),
            }
        )
    return pd.DataFrame(rows, columns=["feature", "transform", "min", "median", "p95", "max",
                                       "skew_raw", "skew_transformed"])


def labels_frame(run: ClusterRun) -> pd.DataFrame:
    """Return one row per customer: customer_id, kmeans, hierarchical, dbscan and cluster.

    ``cluster`` is the chosen solution (K-Means). Customers without a kept order get
    `NO_KEPT_ORDER` (-2) in every column; DBSCAN noise is -1.
    """
    position = pd.Index(run.customer_ids).get_indexer(run.customers["customer_id"])
    frame = pd.DataFrame({"customer_id": run.customer_ids})
    for method in METHODS:
        column = np.full(len(frame), NO_KEPT_ORDER, dtype=np.int64)
        column[position] = run.labels[method]
        frame[method] = column
    frame["cluster"] = frame["kmeans"]
    return frame


def check_labels(frame: pd.DataFrame, customer_ids: pd.Series) -> None:
    """Fail unless there is exactly one labelled row per customer and labels are in range.

    Raises
    ------
    UserError
        Missing or duplicate customers, or a label below -2, naming the column.
    """
    # Same length, no repeat and every id known: the same set of ids (no Python set of 873k ids)
    if len(frame) != len(customer_ids) or frame["customer_id"].duplicated().any() or not is_in(
        frame["customer_id"], customer_ids
    ).all():
        raise UserError("column 'customer_id': clusters.parquet must have one row per customer")
    for column in (*METHODS, "cluster"):
        if frame[column].isna().any() or (frame[column] < NO_KEPT_ORDER).any():
            raise UserError(f"column '{column}': labels must be >= {NO_KEPT_ORDER}")


def headline_metrics(run: ClusterRun) -> dict[str, Any]:
    """Return the step's headline figures as plain JSON-ready values (NaN as None) for the manifest."""
    kmeans = run.comparison.set_index("method").loc["kmeans"]
    sizes = pd.Series(run.labels["kmeans"]).value_counts().sort_index()

    def number(value: float) -> float | None:
        return round(float(value), 4) if math.isfinite(value) else None

    return {
        "customers": int(len(run.customer_ids)),
        "clustered": int(len(run.customers)),
        "no_kept_order": int(len(run.excluded)),
        "chosen_k": int(run.choice.k),
        "k_forced": bool(run.choice.forced),
        "k_reason": run.choice.reason,
        "sizes": {str(k): int(v) for k, v in sizes.items()},
        "silhouette": number(kmeans["silhouette"]),
        "silhouette_test": number(run.holdout["silhouette_test"]),
        "ari_test_refit": number(run.holdout["ari_test_refit"]),
        "stability_mean_ari": number(run.stability.mean_ari),
        "stable": bool(run.stability.stable),
        "dbscan_noise_share": round(float((run.labels["dbscan"] == NOISE).mean()), 4),
    }


def cluster_summary(run: ClusterRun, method: str = "kmeans") -> pd.DataFrame:
    """Describe each cluster in the units of the data: size, medians, revenue, top segment.

    Parameters
    ----------
    run : ClusterRun
    method : str, default "kmeans"

    Returns
    -------
    pandas.DataFrame
        One row per cluster (plus ``no kept order`` when such customers exist):
        ``cluster``, ``customers``, ``customer_share``, ``median_<feature>`` of every
        numeric feature and ``top_<feature>`` of every categorical one (its most common
        level and that level's share, e.g. "F (62%)"), ``revenue_share`` (when the table
        has ``monetary``) and ``top_segment`` (the most common RFM segment and its share,
        when the table has ``segment``).
    """
    data = run.customers.assign(cluster=run.labels[method])
    if len(run.excluded):
        data = pd.concat([data, run.excluded.assign(cluster=NO_KEPT_ORDER)], ignore_index=True)
    groups = data.groupby("cluster", sort=True)
    summary = pd.DataFrame({"customers": groups.size()})
    summary["customer_share"] = summary["customers"] / summary["customers"].sum()
    for feature in run.settings.features:
        if feature in run.categorical:
            summary[f"top_{feature}"] = groups[feature].agg(_top_level)
        else:
            summary[f"median_{feature}"] = groups[feature].median()
    if "monetary" in data.columns:
        total = data["monetary"].sum()
        summary["revenue_share"] = groups["monetary"].sum() / total if total else np.nan
    if "segment" in data.columns:
        top = groups["segment"].agg(lambda s: s.astype(str).value_counts().index[0])
        share = groups["segment"].agg(lambda s: s.astype(str).value_counts(normalize=True).iloc[0])
        summary["top_segment"] = [f"{t} ({p:.0%})" for t, p in zip(top, share, strict=True)]
    # clusters first, then noise and the no-kept-order group
    summary = summary.loc[sorted(summary.index, key=lambda c: (c < 0, abs(c)))].reset_index()
    summary["cluster"] = summary["cluster"].map(
        lambda c: "no kept order" if c == NO_KEPT_ORDER else ("noise" if c == NOISE else str(c))
    )
    return summary


def _top_level(values: pd.Series) -> str:
    """Write a categorical column's most common level and its share (ties: alphabetical), e.g. "F (62%)"."""
    shares = category_text(values).value_counts(normalize=True)
    top = sorted(shares.index[shares == shares.max()])[0]
    return f"{top} ({shares[top]:.0%})"


def cluster_profile(run: ClusterRun, method: str = "kmeans") -> pd.DataFrame:
    """Return each cluster's mean transformed feature value (0 = average of the training split).

    With the standard scaler a value of 1 means one standard deviation above the average
    customer (after the log transform); with the robust scaler, one interquartile range
    above the median. Rows are clusters (noise excluded), columns the columns of ``run.X``.

    A categorical feature has one column per level (``feature=level``): the cluster's
    mean weighted one-hot value minus the training customers' mean, i.e. the weight times
    (the level's share in the cluster - its share in training), in the same units as the
    numeric features. Then ``attrs`` holds ``levels`` (column -> (feature, level)),
    ``level_shares`` (clusters x level columns: share of the cluster's customers at the
    level) and ``overall_level_shares`` (the share among all clustered customers).
    """
    labels = run.labels[method]
    keep = labels != NOISE
    columns = list(run.columns or run.settings.features)
    frame = pd.DataFrame(run.X[keep], columns=columns)
    profile = frame.groupby(labels[keep]).mean().rename_axis("cluster")
    encoder = category_encoder(run.model)
    if encoder is None:
        return profile
    names = [f"{feature}={level}" for feature, level in encoder.levels_]
    positions = [columns.index(name) for name in names]
    profile[names] = profile[names] - run.X[run.train][:, positions].mean(axis=0)
    shares = frame[names] / encoder.column_weights_
    profile.attrs["levels"] = dict(zip(names, encoder.levels_, strict=True))
    profile.attrs["level_shares"] = shares.groupby(labels[keep]).mean().rename_axis("cluster")
    profile.attrs["overall_level_shares"] = pd.Series(
        run.X[:, positions].mean(axis=0) / encoder.column_weights_, index=names
    )
    return profile


if __name__ == "__main__":
    sys.exit(main())
