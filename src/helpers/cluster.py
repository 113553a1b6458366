"""Clustering of customers (step 04_clustering): features, choice of K, three methods, checks.

The step reads the one-row-per-customer RFM table of 03_rfm and works in five stages:

1. **Features.** `make_transform` builds one scikit-learn Pipeline that selects the
   feature columns, takes ``log1p(max(x, 0))`` of the skewed money/count columns and
   scales (standard or robust). The same fitted Pipeline, with K-Means as its last step, is
   saved and used to score new customers, so scoring applies exactly the fitted transform.
2. **K.** `scan_k` fits K-Means for every K of the range and records inertia,
   silhouette, Calinski-Harabasz and Davies-Bouldin; `choose_k` applies the rule in `K_RULE`.
3. **Methods.** K-Means on the whole training split; Ward (`fit_ward`) and DBSCAN
   (`fit_dbscan`, eps at the knee of the k-distance curve) on a sample, the other customers
   assigned to the nearest Ward centroid or the nearest DBSCAN core point (a KD-tree), so
   nothing is quadratic in the number of customers.
4. **Checks.** `method_comparison` (sizes, silhouette, Davies-Bouldin, Calinski-Harabasz,
   noise share, adjusted Rand index between methods), `holdout_check` (the training model
   on held-out customers against a model refitted on them) and `bootstrap_stability`.
5. **Output and scoring.** `labels_frame` gives one row per customer; `save_model`,
   `load_model`, `score_customers` and the command
   ``python -m helpers.cluster score --model PATH --transactions PATH --out PATH``.

Customers without a kept order (frequency 0: everything they bought was cancelled) have no
recency, tenure or order value. They are left out of fitting and get the label
`NO_KEPT_ORDER` (-2) in every column, so each customer still has exactly one row; -1 is
kept for DBSCAN noise. `run_clustering` runs stages 1-4 in one call.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import math
import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.stats import skew
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.cluster import DBSCAN, KMeans
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    pairwise_distances_argmin,
    silhouette_score,
)
from sklearn.metrics.cluster import contingency_matrix
from sklearn.neighbors import KDTree, NearestNeighbors
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import RobustScaler, StandardScaler

from helpers.config import problems_message
from helpers.errors import UserError
from helpers.params_checks import SCHEMA, max_clusters, settings_problems
from helpers.publish import file_sha256

DEFAULT_FEATURES: tuple[str, ...] = (
    "recency_days",
    "frequency",
    "monetary",
    "avg_order_value",
    "tenure_days",
)
# Money and counts are right-skewed over orders of magnitude; days are bounded by the data window.
DEFAULT_LOG_FEATURES: tuple[str, ...] = ("frequency", "monetary", "avg_order_value")
SCALERS: tuple[str, ...] = tuple(SCHEMA["clustering.scaler"])  # "standard", "robust"
METHODS: tuple[str, ...] = ("kmeans", "hierarchical", "dbscan")
METHOD_NAMES: dict[str, str] = {
    "kmeans": "K-Means",
    "hierarchical": "Ward (hierarchical)",
    "dbscan": "DBSCAN",
}
LABEL_COLUMNS: tuple[str, ...] = ("customer_id", *METHODS, "cluster")
NOISE = -1
NO_KEPT_ORDER = -2
MODEL_FORMAT = "helpers.cluster/1"
MODEL_FILE = "cluster_model.joblib"
CLUSTERS_FILE = "clusters.parquet"
VERSIONED_PACKAGES: tuple[str, ...] = ("scikit-learn", "numpy", "pandas")
_CHUNK = 200_000  # rows per KD-tree query: bounds the memory of assigning a large table

K_RULE = (
    "Every K of the range is fitted with K-Means; K that leave a cluster with less than "
    "{min_share:.0%} of the customers are set aside (unless every K does). Among the rest, "
    "the K whose silhouette is within {tolerance:g} of the best silhouette are candidates, and "
    "the chosen K is the candidate closest to the elbow of the inertia curve (the smaller K "
    "on a tie); when the inertia curve has no elbow, the candidate with the best silhouette "
    "wins. clustering.k forces K."
)


# --------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClusterSettings:
    """Every choice of the clustering step; `from_params` builds it from the params block.

    Attributes
    ----------
    features : tuple of str
        Customer-table columns used as features.
    log_features : tuple of str
        Subset of `features` transformed with ``log1p(max(x, 0))`` before scaling.
    scaler : {"standard", "robust"}
        Standard (mean 0, sd 1) or robust (median 0, interquartile range 1) scaling.
    k : int or None
        Forced number of clusters; None lets `choose_k` pick it.
    k_min, k_max : int
        Range of K scanned (inclusive).
    silhouette_tolerance : float
        K whose silhouette is this close to the best are candidates (see `K_RULE`).
    min_cluster_share : float
        K whose smallest cluster holds less than this share of customers are set aside
        (a handful of extreme customers in their own cluster inflates the silhouette).
    n_init : int
        K-Means restarts (k-means++ initialisation).
    test_size : float
        Share of customers held out from fitting.
    bootstrap_resamples : int
        K-Means refits on bootstrap resamples for the stability figure.
    stability_threshold : float
        Mean adjusted Rand index below which the solution is flagged as not stable.
    sample_size : int
        Customers sampled for the steps whose cost grows with the square of the number of
        customers: silhouette, Ward and DBSCAN.
    scan_sample_size : int
        Customers used to scan K and in each bootstrap resample.
    dbscan_min_samples : int
        DBSCAN ``min_samples``; 0 means twice the number of features.
    seed : int
        Random seed for splits, samples, K-Means and resamples.
    """

    features: tuple[str, ...] = DEFAULT_FEATURES
    log_features: tuple[str, ...] = DEFAULT_LOG_FEATURES
    scaler: str = "standard"
    k: int | None = None
    k_min: int = 2
    k_max: int = 10
    silhouette_tolerance: float = 0.02
    min_cluster_share: float = 0.01
    n_init: int = 10
    test_size: float = 0.25
    bootstrap_resamples: int = 20
    stability_threshold: float = 0.75
    sample_size: int = 5_000
    scan_sample_size: int = 50_000
    dbscan_min_samples: int = 0
    seed: int = 42

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", tuple(self.features))
        object.__setattr__(self, "log_features", tuple(self.log_features))
        _check_settings(self)

    @classmethod
    def from_params(cls, block: Mapping[str, Any], seed: int = 42) -> ClusterSettings:
        """Build settings from the ``clustering`` params block and the run seed.

        Parameters
        ----------
        block : mapping
            Keys named like the attributes (except ``seed``); missing keys keep the default.
        seed : int, default 42
            ``run.seed``.

        Raises
        ------
        UserError
            Unknown key or a value out of range, naming the key.
        """
        known = {f.name for f in fields(cls)} - {"seed"}
        for key in block:
            if key not in known:
                raise UserError(
                    f"unknown key 'clustering.{key}'; fix: use one of {', '.join(sorted(known))}"
                )
        return cls(**dict(block), seed=seed)

    @property
    def min_samples(self) -> int:
        """DBSCAN ``min_samples`` actually used (twice the feature count when 0)."""
        return self.dbscan_min_samples or 2 * len(self.features)


def _plain(value: Any) -> Any:
    """Return a setting as a params file holds it: numpy scalars as Python ones, tuples as lists."""
    if isinstance(value, np.generic):
        return value.item()
    return list(value) if isinstance(value, tuple) else value


def _check_settings(s: ClusterSettings) -> None:
    """Raise UserError naming every setting that breaks the params rules (`params_checks`).

    The types, bounds and rules between keys are those `config.load_params` checks, so a
    params file that loads always builds; the rules that need the data (the number of
    customers) are checked in `run_clustering`.
    """
    values = {f"clustering.{f.name}": _plain(getattr(s, f.name)) for f in fields(s) if f.name != "seed"}
    values["run.seed"] = _plain(s.seed)
    problems = settings_problems(values)
    if problems:
        raise UserError(problems_message([("clustering settings", text) for text in problems]))


# --------------------------------------------------------------------------------------
# Features
# --------------------------------------------------------------------------------------


def split_by_kept_order(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Separate customers with a kept order (clustered) from those without (label -2).

    Parameters
    ----------
    table : pandas.DataFrame
        Customer table; when it has a ``frequency`` column, rows with frequency 0 (every
        order fully cancelled, or only returns) have no recency or order value and are set
        aside. Without that column every row is kept.

    Returns
    -------
    (DataFrame, DataFrame)
        Customers to cluster and customers set aside, each with a fresh index.

    Examples
    --------
    >>> t = pd.DataFrame({"customer_id": ["a", "b"], "frequency": [2, 0]})
    >>> [len(part) for part in split_by_kept_order(t)]
    [1, 1]
    """
    if "frequency" not in table.columns:
        return table.reset_index(drop=True), table.iloc[:0].reset_index(drop=True)
    kept = table["frequency"].fillna(0).to_numpy() > 0
    return table.loc[kept].reset_index(drop=True), table.loc[~kept].reset_index(drop=True)


def check_features(table: pd.DataFrame, features: Sequence[str]) -> None:
    """Fail with a message naming the column unless every feature is present, numeric and finite.

    Parameters
    ----------
    table : pandas.DataFrame
        Customers to cluster (after `split_by_kept_order`).
    features : sequence of str
        Feature columns.

    Raises
    ------
    UserError
        A feature column is missing, not numeric, or has missing or infinite values.
    """
    for column in features:
        if column not in table.columns:
            raise UserError(
                f"column '{column}' (clustering.features) is not in the customer table; fix: "
                f"use columns of rfm.parquet or customers.parquet, e.g. {', '.join(DEFAULT_FEATURES)}"
            )
        values = table[column]
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            raise UserError(
                f"column '{column}' (clustering.features) is not numeric; "
                f"fix: remove it from clustering.features"
            )
        bad = int((~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))).sum())
        if bad:
            raise UserError(
                f"column '{column}' (clustering.features) is missing or infinite for {bad:,} "
                f"customers with a kept order; fix: remove it from clustering.features"
            )


def add_customer_features(
    rfm: pd.DataFrame, features: Sequence[str], customers: pd.DataFrame | None
) -> pd.DataFrame:
    """Join the features that the RFM table lacks from another customer table (e.g. 02_eda's).

    Parameters
    ----------
    rfm : pandas.DataFrame
        The 03_rfm table (one row per customer).
    features : sequence of str
        Wanted feature columns.
    customers : pandas.DataFrame or None
        Another one-row-per-customer table with ``customer_id`` (demographic, web or
        behaviour columns); None when it does not exist.

    Returns
    -------
    pandas.DataFrame
        `rfm` with the missing features added by ``customer_id`` (left join, same rows).
    """
    wanted = [f for f in features if f not in rfm.columns]
    if not wanted or customers is None:
        return rfm
    available = [f for f in wanted if f in customers.columns]
    if not available:
        return rfm
    extra = customers.loc[:, ["customer_id", *available]].drop_duplicates("customer_id")
    return rfm.merge(extra, on="customer_id", how="left", validate="one_to_one")


class SelectAndLog(TransformerMixin, BaseEstimator):
    """Select feature columns in order and take ``log1p(max(x, 0))`` of the skewed ones.

    Clipping at 0 before the log handles negative net revenue (returns exceeding purchases
    in the window): such a customer counts as having spent nothing, instead of landing far
    out on a signed-log axis.

    Parameters
    ----------
    features : sequence of str
        Columns to select from the input DataFrame, in this order.
    log_features : sequence of str
        Columns (of `features`) to log-transform.

    Examples
    --------
    >>> step = SelectAndLog(["m", "d"], ["m"]).fit(pd.DataFrame({"m": [-5.0], "d": [3.0]}))
    >>> step.transform(pd.DataFrame({"d": [3.0, 4.0], "m": [-5.0, np.e - 1]})).tolist()
    [[0.0, 3.0], [1.0, 4.0]]
    """

    def __init__(
        self,
        features: Sequence[str] = DEFAULT_FEATURES,
        log_features: Sequence[str] = DEFAULT_LOG_FEATURES,
    ) -> None:
        self.features = features
        self.log_features = log_features

    def fit(self, X: pd.DataFrame, y: Any = None) -> SelectAndLog:
        """Check the columns; nothing is learned."""
        self._frame(X)
        self.n_features_in_ = len(self.features)
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Return the selected columns as floats, log columns transformed."""
        values = self._frame(X).to_numpy(dtype=float, copy=True)
        for i, name in enumerate(self.features):
            if name in self.log_features:
                values[:, i] = np.log1p(np.clip(values[:, i], 0.0, None))
        return values

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Return the feature names, in output order."""
        return np.asarray(list(self.features), dtype=object)

    def _frame(self, X: pd.DataFrame) -> pd.DataFrame:
        if not isinstance(X, pd.DataFrame):
            raise TypeError("SelectAndLog needs a DataFrame with the feature columns")
        missing = [f for f in self.features if f not in X.columns]
        if missing:
            raise UserError(
                f"column '{missing[0]}' is missing from the customer table; the model uses "
                f"{', '.join(self.features)}"
            )
        return X.loc[:, list(self.features)]


def make_transform(
    features: Sequence[str] = DEFAULT_FEATURES,
    log_features: Sequence[str] = DEFAULT_LOG_FEATURES,
    scaler: str = "standard",
) -> Pipeline:
    """Build the (unfitted) feature transform: select, log the skewed columns, scale.

    Parameters
    ----------
    features, log_features : sequence of str
        See `SelectAndLog`.
    scaler : {"standard", "robust"}, default "standard"
        ``StandardScaler`` or ``RobustScaler`` (median and interquartile range, less
        pulled by the few very large customers).

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps ``features`` and ``scale``; a DataFrame in, a float array out.
    """
    if scaler not in SCALERS:
        raise UserError(f"key 'clustering.scaler': {scaler!r}; fix: use one of {', '.join(SCALERS)}")
    scale = StandardScaler() if scaler == "standard" else RobustScaler()
    return Pipeline([("features", SelectAndLog(tuple(features), tuple(log_features))), ("scale", scale)])


# --------------------------------------------------------------------------------------
# Choosing K
# --------------------------------------------------------------------------------------


def knee_index(y: Sequence[float], x: Sequence[float] | None = None) -> int | None:
    """Return the position of the knee of a convex curve (decreasing or increasing).

    Both axes are scaled to [0, 1] and the knee is the point lying furthest below the
    straight line from the first to the last point (the "kneedle" idea). Used for the
    inertia elbow (decreasing) and the DBSCAN k-distance curve (increasing).

    Parameters
    ----------
    y : sequence of float
        Curve values, ordered by `x`.
    x : sequence of float, optional
        Positions; default 0, 1, 2, ...

    Returns
    -------
    int or None
        Position in `y` of the knee; None with fewer than 3 points or when no point lies
        below the line (a straight or concave curve).

    Examples
    --------
    >>> knee_index([100, 40, 20, 15, 10])
    1
    >>> knee_index([3, 2, 1]) is None
    True
    """
    yv = np.asarray(y, dtype=float)
    xv = np.arange(len(yv), dtype=float) if x is None else np.asarray(x, dtype=float)
    if len(yv) < 3 or xv[-1] == xv[0] or np.ptp(yv) == 0:
        return None
    xn = (xv - xv[0]) / (xv[-1] - xv[0])
    yn = (yv - yv.min()) / np.ptp(yv)
    chord = yn[0] + (yn[-1] - yn[0]) * xn
    gap = chord - yn
    position = int(np.argmax(gap))
    return position if gap[position] > 1e-9 else None


def _sample_positions(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Return sorted positions of a sample without replacement (all positions when n <= size)."""
    if n <= size:
        return np.arange(n)
    return np.sort(rng.choice(n, size=size, replace=False))


def _silhouette(X: np.ndarray, labels: np.ndarray, positions: np.ndarray) -> float:
    """Silhouette of the sample at `positions`, noise excluded; NaN below two clusters."""
    keep = positions[labels[positions] != NOISE]
    if len(np.unique(labels[keep])) < 2 or len(np.unique(labels[keep])) >= len(keep):
        return float("nan")
    return float(silhouette_score(X[keep], labels[keep]))


def _internal_scores(X: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Calinski-Harabasz and Davies-Bouldin on all rows, noise excluded (NaN below 2 clusters)."""
    keep = labels != NOISE
    n_clusters = len(np.unique(labels[keep]))
    if n_clusters < 2 or n_clusters >= keep.sum():
        return float("nan"), float("nan")
    return (
        float(calinski_harabasz_score(X[keep], labels[keep])),
        float(davies_bouldin_score(X[keep], labels[keep])),
    )


def _kmeans(k: int, seed: int, n_init: int) -> KMeans:
    return KMeans(n_clusters=k, init="k-means++", n_init=n_init, random_state=seed)


def scan_k(
    X: np.ndarray,
    k_values: Sequence[int],
    seed: int = 42,
    n_init: int = 10,
    silhouette_positions: np.ndarray | None = None,
) -> pd.DataFrame:
    """Fit K-Means for each K and measure how well separated the clusters are.

    Parameters
    ----------
    X : numpy.ndarray
        Transformed features, one row per customer.
    k_values : sequence of int
        The K to try, increasing.
    seed : int, default 42
    n_init : int, default 10
        K-Means restarts per K.
    silhouette_positions : numpy.ndarray, optional
        Rows on which silhouette is computed (it is quadratic); default all rows.

    Returns
    -------
    pandas.DataFrame
        One row per K: ``k``, ``inertia`` (within-cluster sum of squares, lower is
        tighter), ``silhouette`` (-1..1, higher is better), ``calinski_harabasz`` (higher is
        better), ``davies_bouldin`` (lower is better) and ``smallest_cluster_share``.
    """
    positions = np.arange(len(X)) if silhouette_positions is None else silhouette_positions
    rows = []
    for k in k_values:
        model = _kmeans(int(k), seed, n_init).fit(X)
        labels = model.labels_
        ch, db = _internal_scores(X, labels)
        rows.append(
            {
                "k": int(k),
                "inertia": float(model.inertia_),
                "silhouette": _silhouette(X, labels, positions),
                "calinski_harabasz": ch,
                "davies_bouldin": db,
                "smallest_cluster_share": float(np.bincount(labels).min() / len(labels)),
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class KChoice:
    """The chosen K and why.

    Attributes
    ----------
    k : int
        Number of clusters used.
    elbow_k : int or None
        Knee of the inertia curve (None when the curve has none).
    best_silhouette_k : int
        K with the highest silhouette.
    candidates : tuple of int
        K within the silhouette tolerance of the best.
    forced : bool
        True when clustering.k set K.
    reason : str
        One sentence stating how K was picked, with the numbers.
    set_aside : tuple of int
        K left out because a cluster was below the minimum share.
    """

    k: int
    elbow_k: int | None
    best_silhouette_k: int
    candidates: tuple[int, ...]
    forced: bool
    reason: str
    set_aside: tuple[int, ...] = ()


def choose_k(
    k_table: pd.DataFrame,
    tolerance: float = 0.02,
    forced: int | None = None,
    min_cluster_share: float = 0.0,
) -> KChoice:
    """Pick K from the output of `scan_k` by the rule in `K_RULE`.

    Parameters
    ----------
    k_table : pandas.DataFrame
        Output of `scan_k` (``k``, ``inertia``, ``silhouette`` and, for
        `min_cluster_share`, ``smallest_cluster_share``).
    tolerance : float, default 0.02
        Silhouette margin within which K count as tied with the best.
    forced : int, optional
        Use this K whatever the scores say (clustering.k).
    min_cluster_share : float, default 0.0
        K whose smallest cluster is below this share are not candidates, unless every K is.

    Returns
    -------
    KChoice

    Examples
    --------
    Silhouette 0.50 at K=2 and 0.49 at K=3 tie within 0.02; the elbow (K=3) breaks the tie:

    >>> table = pd.DataFrame({"k": [2, 3, 4, 5, 6], "inertia": [100, 40, 20, 15, 10],
    ...                       "silhouette": [0.50, 0.49, 0.30, 0.28, 0.27]})
    >>> choose_k(table).k
    3
    """
    table = k_table.sort_values("k").reset_index(drop=True)
    knee = knee_index(table["inertia"].to_numpy(), table["k"].to_numpy())
    elbow = int(table["k"].iloc[knee]) if knee is not None else None
    sil = table["silhouette"].to_numpy(dtype=float)
    small = np.zeros(len(table), dtype=bool)
    if min_cluster_share > 0 and "smallest_cluster_share" in table.columns:
        small = table["smallest_cluster_share"].to_numpy(dtype=float) < min_cluster_share
        if small.all():
            small[:] = False
    allowed = np.where(small, np.nan, sil)
    if np.isnan(allowed).all():
        best_k, best = int(table["k"].iloc[0]), float("nan")
        candidates: tuple[int, ...] = (best_k,)
    else:
        best_pos = int(np.nanargmax(allowed))
        best_k, best = int(table["k"].iloc[best_pos]), float(allowed[best_pos])
        candidates = tuple(int(k) for k, s in zip(table["k"], allowed, strict=True) if s >= best - tolerance)
    elbow_text = f"the elbow of the inertia curve is at K = {elbow}" if elbow else "the inertia curve has no elbow"
    set_aside = [int(k) for k in table["k"][small]]
    aside_text = (
        f" K = {', '.join(map(str, set_aside))} {'was' if len(set_aside) == 1 else 'were'} set "
        f"aside: a cluster under {min_cluster_share:.0%} of customers."
        if set_aside
        else ""
    )
    if forced is not None:
        return KChoice(
            int(forced), elbow, best_k, candidates, True,
            f"K = {forced} is forced by clustering.k (by the rule: best silhouette {best:.2f} at "
            f"K = {best_k}; {elbow_text}).",
            tuple(set_aside),
        )
    if elbow is None:
        k = best_k
        why = f"K = {k} has the best silhouette ({best:.2f}) and {elbow_text}."
    else:
        k = min(candidates, key=lambda c: (abs(c - elbow), c))
        tied = [c for c in candidates if c != k]
        if k == best_k and k == elbow:
            why = f"K = {k} has the best silhouette ({best:.2f}) and is also the elbow of the inertia curve."
        elif k == best_k:
            others = f"; no other K is within {tolerance:g} of it" if not tied else ""
            why = f"K = {k} has the best silhouette ({best:.2f}){others}; {elbow_text}."
        else:
            k_sil = float(table.loc[table["k"] == k, "silhouette"].iloc[0])
            where = "is the elbow of the inertia curve" if k == elbow else f"is the candidate closest to the elbow (K = {elbow})"
            why = (
                f"K = {k} has silhouette {k_sil:.2f}, within {tolerance:g} of the best "
                f"({best:.2f} at K = {best_k}), and {where}."
            )
    return KChoice(k, elbow, best_k, candidates, False, why + aside_text, tuple(set_aside))


def annotate_k_table(k_table: pd.DataFrame, choice: KChoice) -> pd.DataFrame:
    """Add a ``note`` column to the K table: chosen, elbow, best silhouette, candidate, set aside.

    Examples
    --------
    >>> table = pd.DataFrame({"k": [2, 3], "inertia": [2.0, 1.0], "silhouette": [0.5, 0.4]})
    >>> choice = KChoice(2, None, 2, (2,), False, "")
    >>> annotate_k_table(table, choice)["note"].tolist()
    ['chosen, best silhouette', '']
    """
    notes = []
    for k in k_table["k"]:
        parts = []
        if k == choice.k:
            parts.append("chosen (forced)" if choice.forced else "chosen")
        if k == choice.elbow_k:
            parts.append("elbow")
        if k == choice.best_silhouette_k:
            parts.append("best silhouette")
        elif k in choice.candidates and k != choice.k:
            parts.append("candidate")
        if k in choice.set_aside:
            parts.append("set aside: tiny cluster")
        notes.append(", ".join(parts))
    return k_table.assign(note=notes)


# --------------------------------------------------------------------------------------
# Methods
# --------------------------------------------------------------------------------------


def _size_order(labels: np.ndarray) -> np.ndarray:
    """Map old cluster ids to new ones numbered by size (0 = largest; noise stays -1)."""
    ids = np.unique(labels[labels != NOISE])
    counts = np.array([(labels == i).sum() for i in ids])
    order = ids[np.lexsort((ids, -counts))]
    mapping = np.full(int(ids.max()) + 1 if len(ids) else 0, NOISE, dtype=np.int64)
    mapping[order] = np.arange(len(order))
    return mapping


def _relabel(labels: np.ndarray, mapping: np.ndarray) -> np.ndarray:
    out = np.full(labels.shape, NOISE, dtype=np.int64)
    keep = labels != NOISE
    out[keep] = mapping[labels[keep]]
    return out


def fit_kmeans(X: np.ndarray, k: int, seed: int = 42, n_init: int = 10) -> KMeans:
    """Fit K-Means (k-means++, `n_init` restarts) with clusters numbered by size.

    Parameters
    ----------
    X : numpy.ndarray
        Transformed features.
    k : int
        Number of clusters.
    seed : int, default 42
    n_init : int, default 10

    Returns
    -------
    sklearn.cluster.KMeans
        Fitted; cluster 0 is the largest. ``predict`` uses the reordered centres, so new
        customers get the same numbering.
    """
    model = _kmeans(k, seed, n_init).fit(X)
    mapping = _size_order(model.labels_)
    order = np.argsort(mapping)
    model.cluster_centers_ = model.cluster_centers_[order]
    model.labels_ = _relabel(model.labels_, mapping).astype(model.labels_.dtype)
    return model


@dataclass
class WardResult:
    """Ward clustering of a sample.

    Attributes
    ----------
    linkage : numpy.ndarray
        SciPy linkage matrix of the sample (for the dendrogram).
    labels : numpy.ndarray
        Cluster of each sample row, numbered by size.
    centroids : numpy.ndarray
        Mean of each cluster (rows in label order); other customers go to the nearest.
    cut_height : float
        Merge height at which the tree is cut into `k` clusters.
    k : int
    """

    linkage: np.ndarray
    labels: np.ndarray
    centroids: np.ndarray
    cut_height: float
    k: int


def fit_ward(X_sample: np.ndarray, k: int) -> WardResult:
    """Cluster a sample with Ward linkage and cut the tree into `k` clusters.

    Ward's memory and time grow with the square of the rows, so pass a sample (a few
    thousand customers) and give the others the nearest centroid (`assign_nearest`).

    Parameters
    ----------
    X_sample : numpy.ndarray
        Transformed features of the sampled customers.
    k : int
        Number of clusters at the cut.

    Returns
    -------
    WardResult
    """
    tree = linkage(X_sample, method="ward")
    raw = fcluster(tree, t=k, criterion="maxclust") - 1
    labels = _relabel(raw, _size_order(raw))
    centroids = np.vstack([X_sample[labels == c].mean(axis=0) for c in range(labels.max() + 1)])
    heights = tree[:, 2]
    cut = float((heights[-k] + heights[-k + 1]) / 2) if k >= 2 else float(heights[-1])
    return WardResult(tree, labels, centroids, cut, k)


def assign_nearest(X: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Return the position of the nearest centroid for every row (Euclidean, chunked)."""
    return pairwise_distances_argmin(X, centroids).astype(np.int64)


def k_distances(X_sample: np.ndarray, min_samples: int) -> np.ndarray:
    """Return each row's distance to its `min_samples`-th nearest neighbour (itself counted), sorted.

    A row is a DBSCAN core point exactly when this distance is at most eps, so the knee
    of the sorted curve separates dense rows from sparse ones.
    """
    n_neighbors = min(min_samples, len(X_sample))
    distances, _ = NearestNeighbors(n_neighbors=n_neighbors).fit(X_sample).kneighbors(X_sample)
    return np.sort(distances[:, -1])


def choose_eps(kdist: np.ndarray) -> tuple[float, int | None]:
    """Return eps at the knee of the sorted k-distance curve, and the knee's position.

    Falls back to the 95th percentile when the curve has no knee; eps is never 0
    (duplicated customers give zero distances), so the smallest positive distance is the floor.
    """
    knee = knee_index(kdist)
    eps = float(kdist[knee]) if knee is not None else float(np.quantile(kdist, 0.95))
    if eps <= 0:
        positive = kdist[kdist > 0]
        eps = float(positive.min()) if positive.size else 1.0
    return eps, knee


@dataclass
class DbscanResult:
    """DBSCAN of a sample, with what is needed to assign other customers.

    Attributes
    ----------
    eps : float
        Neighbourhood radius (from the k-distance knee).
    min_samples : int
        Points within eps (itself included) that make a core point.
    labels : numpy.ndarray
        Cluster of each sample row, numbered by size; -1 = noise.
    core_points, core_labels : numpy.ndarray
        Core rows of the sample and their clusters.
    kdist : numpy.ndarray
        Sorted k-distance curve of the sample.
    knee : int or None
        Position of eps on that curve.
    """

    eps: float
    min_samples: int
    labels: np.ndarray
    core_points: np.ndarray
    core_labels: np.ndarray
    kdist: np.ndarray
    knee: int | None


def fit_dbscan(X_sample: np.ndarray, min_samples: int, eps: float | None = None) -> DbscanResult:
    """Run DBSCAN on a sample with eps from the knee of the k-distance curve.

    Parameters
    ----------
    X_sample : numpy.ndarray
        Transformed features of the sampled customers.
    min_samples : int
        Points within eps (itself included) that make a core point.
    eps : float, optional
        Radius; default `choose_eps` on the sample's k-distances.

    Returns
    -------
    DbscanResult
    """
    kdist = k_distances(X_sample, min_samples)
    knee = None
    if eps is None:
        eps, knee = choose_eps(kdist)
    model = DBSCAN(eps=eps, min_samples=min_samples).fit(X_sample)
    labels = _relabel(model.labels_, _size_order(model.labels_))
    core = model.core_sample_indices_
    return DbscanResult(eps, min_samples, labels, X_sample[core], labels[core], kdist, knee)


def assign_to_core_points(
    X: np.ndarray, core_points: np.ndarray, core_labels: np.ndarray, eps: float
) -> np.ndarray:
    """Give each row the cluster of its nearest core point within eps, else -1 (noise).

    A KD-tree on the core points answers the queries in chunks, so memory stays bounded
    however many rows there are.

    Examples
    --------
    >>> cores = np.array([[0.0, 0.0], [10.0, 0.0]])
    >>> assign_to_core_points(np.array([[0.5, 0], [9.6, 0], [5, 0]]), cores, np.array([0, 1]), 1.0).tolist()
    [0, 1, -1]
    """
    labels = np.full(len(X), NOISE, dtype=np.int64)
    if len(core_points) == 0:
        return labels
    tree = KDTree(core_points)
    for start in range(0, len(X), _CHUNK):
        block = X[start : start + _CHUNK]
        distance, nearest = tree.query(block, k=1)
        near = distance[:, 0] <= eps
        labels[start : start + len(block)] = np.where(near, core_labels[nearest[:, 0]], NOISE)
    return labels


# --------------------------------------------------------------------------------------
# Checks: comparison, hold-out, stability
# --------------------------------------------------------------------------------------


def _sizes_text(labels: np.ndarray) -> str:
    ids, counts = np.unique(labels[labels != NOISE], return_counts=True)
    return " / ".join(f"{c:,}" for _, c in sorted(zip(ids, counts, strict=True)))


def method_comparison(
    X: np.ndarray, labels: Mapping[str, np.ndarray], silhouette_positions: np.ndarray
) -> pd.DataFrame:
    """Compare clusterings of the same customers side by side.

    Parameters
    ----------
    X : numpy.ndarray
        Transformed features.
    labels : mapping
        Method name -> label per row (-1 = noise).
    silhouette_positions : numpy.ndarray
        Rows used for silhouette (quadratic).

    Returns
    -------
    pandas.DataFrame
        One row per method: ``method``, ``clusters``, ``sizes`` (cluster 0 first),
        ``noise_share``, ``silhouette`` (sample, noise excluded), ``davies_bouldin``,
        ``calinski_harabasz`` (all rows, noise excluded) and ``ari_<method>``: adjusted
        Rand index with each method (1 = identical partitions, 0 = chance; noise counts as
        one group).
    """
    rows = []
    for name, lab in labels.items():
        ch, db = _internal_scores(X, lab)
        row = {
            "method": name,
            "clusters": int(len(np.unique(lab[lab != NOISE]))),
            "sizes": _sizes_text(lab),
            "noise_share": float((lab == NOISE).mean()),
            "silhouette": _silhouette(X, lab, silhouette_positions),
            "davies_bouldin": db,
            "calinski_harabasz": ch,
        }
        for other, other_labels in labels.items():
            row[f"ari_{other}"] = float(adjusted_rand_score(lab, other_labels))
        rows.append(row)
    return pd.DataFrame(rows)


def holdout_check(
    model: Pipeline,
    train: pd.DataFrame,
    test: pd.DataFrame,
    settings: ClusterSettings,
) -> dict[str, float]:
    """Test the training model on held-out customers.

    Parameters
    ----------
    model : sklearn.pipeline.Pipeline
        Transform + K-Means fitted on `train`.
    train, test : pandas.DataFrame
        Training and held-out customers.
    settings : ClusterSettings

    Returns
    -------
    dict
        ``train_customers``, ``test_customers``, ``silhouette_train`` and
        ``silhouette_test`` (training model's labels, on samples of `sample_size`), and
        ``ari_test_refit``: agreement between the training model's labels on the test
        customers and a model (transform + K-Means) refitted on the test customers alone.
        NaN when the test split has too few customers for K clusters.
    """
    k = int(model[-1].n_clusters)
    rng = np.random.default_rng(settings.seed + 1)
    result = {"train_customers": len(train), "test_customers": len(test)}
    for name, part in (("train", train), ("test", test)):
        X = model[:-1].transform(part)
        labels = model[-1].predict(X)
        result[f"silhouette_{name}"] = _silhouette(
            X, labels, _sample_positions(len(X), settings.sample_size, rng)
        )
    if len(test) <= 2 * k:
        result["ari_test_refit"] = float("nan")
        return result
    refit_transform = make_transform(settings.features, settings.log_features, settings.scaler)
    X_test_own = refit_transform.fit_transform(test)
    refit = fit_kmeans(X_test_own, k, settings.seed, settings.n_init)
    result["ari_test_refit"] = float(adjusted_rand_score(model.predict(test), refit.labels_))
    return result


@dataclass
class Stability:
    """Bootstrap stability of a K-Means solution.

    Attributes
    ----------
    aris : numpy.ndarray
        Adjusted Rand index between the reference labels and each resample's model.
    cluster_jaccard : pandas.Series
        Per reference cluster: mean over resamples of the best Jaccard overlap with a
        resample cluster (1 = always recovered exactly).
    threshold : float
        Mean ARI needed to call the solution stable.
    """

    aris: np.ndarray
    cluster_jaccard: pd.Series
    threshold: float

    @property
    def mean_ari(self) -> float:
        """Mean adjusted Rand index over the resamples."""
        return float(np.mean(self.aris))

    @property
    def stable(self) -> bool:
        """True when the mean ARI reaches the threshold."""
        return self.mean_ari >= self.threshold

    def verdict(self) -> str:
        """Return one plain sentence: stable or NOT stable, with the numbers."""
        return stability_verdict(self.mean_ari, self.threshold, len(self.aris))


def stability_verdict(mean_ari: float, threshold: float, resamples: int) -> str:
    """Say plainly whether a mean bootstrap ARI makes a solution stable.

    Examples
    --------
    >>> stability_verdict(0.5, 0.75, 20)
    'NOT STABLE: refitted on 20 bootstrap resamples, the clusters agree with the chosen solution at a mean adjusted Rand index of 0.50, below the 0.75 needed; treat the clusters as a convenient partition, not as natural groups.'
    """
    base = (
        f"refitted on {resamples} bootstrap resamples, the clusters agree with the chosen "
        f"solution at a mean adjusted Rand index of {mean_ari:.2f}"
    )
    if mean_ari >= threshold:
        return f"Stable: {base}, at least the {threshold:.2f} required."
    return (
        f"NOT STABLE: {base}, below the {threshold:.2f} needed; treat the clusters as a "
        f"convenient partition, not as natural groups."
    )


def bootstrap_stability(
    X: np.ndarray,
    reference: np.ndarray,
    k: int,
    resamples: int = 20,
    seed: int = 42,
    n_init: int = 10,
    threshold: float = 0.75,
) -> Stability:
    """Refit K-Means on bootstrap resamples and measure agreement with the reference labels.

    Each resample draws ``len(X)`` rows with replacement, fits K-Means with `k` clusters
    and labels every row of `X`; agreement with `reference` is the adjusted Rand index.
    The transform stays fixed; pass a sample of customers as `X` on large data.

    Parameters
    ----------
    X : numpy.ndarray
        Transformed features of the customers checked.
    reference : numpy.ndarray
        The chosen solution's labels of those rows.
    k : int
    resamples : int, default 20
    seed : int, default 42
    n_init : int, default 10
    threshold : float, default 0.75
        Mean ARI from which the solution counts as stable.

    Returns
    -------
    Stability
    """
    rng = np.random.default_rng(seed)
    ref_ids = np.unique(reference)
    aris = np.empty(resamples)
    jaccard = np.zeros((resamples, len(ref_ids)))
    for b in range(resamples):
        rows = rng.integers(0, len(X), size=len(X))
        predicted = _kmeans(k, seed + b, n_init).fit(X[rows]).predict(X)
        aris[b] = adjusted_rand_score(reference, predicted)
        both = contingency_matrix(reference, predicted)  # rows follow ref_ids (sorted)
        union = both.sum(axis=1, keepdims=True) + both.sum(axis=0, keepdims=True) - both
        jaccard[b] = (both / union).max(axis=1)
    per_cluster = pd.Series(jaccard.mean(axis=0), index=pd.Index(ref_ids, name="cluster"), name="jaccard")
    return Stability(aris, per_cluster, threshold)


# --------------------------------------------------------------------------------------
# The whole step
# --------------------------------------------------------------------------------------


@dataclass
class ClusterRun:
    """Everything `run_clustering` computed, for the report and the output files.

    Rows of `X` and of every label array follow `customers` (customers with a kept order).
    Positions in `train`, `test`, `scan` (K scan and bootstrap), `sample` (Ward, DBSCAN)
    and `evaluation` (silhouette of the comparison) index those rows.
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


def _k_range(settings: ClusterSettings, n_train: int) -> tuple[int, ...]:
    """K values to scan, capped so that each cluster can have at least 2 customers."""
    top = min(settings.k_max, max(2, n_train // 2))
    return tuple(range(min(settings.k_min, top), top + 1))


def run_clustering(table: pd.DataFrame, settings: ClusterSettings | None = None) -> ClusterRun:
    """Run the clustering step: features, K, K-Means, Ward, DBSCAN and the checks.

    Nothing is quadratic in the number of customers: silhouette, Ward and DBSCAN use a
    sample of `settings.sample_size` customers (the others are assigned to the nearest Ward
    centroid or DBSCAN core point), and the K scan and bootstrap use at most
    `settings.scan_sample_size` customers.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per customer with ``customer_id`` and the feature columns (03_rfm's table,
        optionally with columns joined by `add_customer_features`).
    settings : ClusterSettings, optional
        Default settings when omitted.

    Returns
    -------
    ClusterRun

    Raises
    ------
    UserError
        A feature is missing, not numeric or not finite, or there are too few customers.
    """
    s = settings or ClusterSettings()
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 3)
        clock = now

    if "customer_id" not in table.columns:
        raise UserError("column 'customer_id' is missing from the customer table; fix: run 03_rfm")
    customers, excluded = split_by_kept_order(table)
    check_features(customers, s.features)
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
    rng = np.random.default_rng(s.seed)
    order = rng.permutation(n)
    n_test = min(max(1, round(n * s.test_size)), n - 2 * max(s.k_min, 2))
    test, train = np.sort(order[:n_test]), np.sort(order[n_test:])

    transform = make_transform(s.features, s.log_features, s.scaler).fit(customers.iloc[train])
    X = transform.transform(customers)
    lap("features")

    scan = train[_sample_positions(len(train), s.scan_sample_size, rng)]
    k_values = _k_range(s, len(scan))
    scan_silhouette = _sample_positions(len(scan), s.sample_size, rng)
    k_table = scan_k(X[scan], k_values, s.seed, s.n_init, scan_silhouette)
    choice = choose_k(k_table, s.silhouette_tolerance, s.k, s.min_cluster_share)
    k = choice.k
    lap("k_scan")

    kmeans = fit_kmeans(X[train], k, s.seed, s.n_init)
    model = Pipeline([*transform.steps, ("kmeans", kmeans)])
    labels = {"kmeans": kmeans.predict(X).astype(np.int64)}
    lap("kmeans")

    sample = train[_sample_positions(len(train), s.sample_size, rng)]
    ward = fit_ward(X[sample], k)
    hierarchical = assign_nearest(X, ward.centroids)
    hierarchical[sample] = ward.labels
    labels["hierarchical"] = hierarchical
    lap("hierarchical")

    dbscan = fit_dbscan(X[sample], s.min_samples)
    density = assign_to_core_points(X, dbscan.core_points, dbscan.core_labels, dbscan.eps)
    density[sample] = dbscan.labels
    labels["dbscan"] = density
    lap("dbscan")

    evaluation = _sample_positions(n, s.sample_size, rng)
    comparison = method_comparison(X, labels, evaluation)
    lap("comparison")

    holdout = holdout_check(model, customers.iloc[train], customers.iloc[test], s)
    lap("holdout")

    stability = bootstrap_stability(
        X[scan], labels["kmeans"][scan], k, s.bootstrap_resamples, s.seed, s.n_init, s.stability_threshold
    )
    lap("stability")

    return ClusterRun(
        settings=s,
        customer_ids=table["customer_id"].reset_index(drop=True),
        customers=customers,
        excluded=excluded,
        k_values=k_values,
        X=X,
        train=train,
        test=test,
        scan=scan,
        sample=sample,
        evaluation=evaluation,
        k_table=k_table,
        choice=choice,
        model=model,
        labels=labels,
        ward=ward,
        dbscan=dbscan,
        comparison=comparison,
        holdout=holdout,
        stability=stability,
        timings=timings,
    )


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
        (``skew_raw``) and after (``skew_transformed``) the log (0 = symmetric).
    """
    rows = []
    for i, feature in enumerate(run.settings.features):
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
                "skew_transformed": float(skew(run.X[:, i])),
            }
        )
    return pd.DataFrame(rows)


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
    if len(frame) != len(customer_ids) or frame["customer_id"].duplicated().any() or not set(
        frame["customer_id"]
    ) == set(customer_ids):
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
        ``cluster``, ``customers``, ``customer_share``, the median of every feature,
        ``revenue_share`` (when the table has ``monetary``) and ``top_segment`` (the most
        common RFM segment and its share, when the table has ``segment``).
    """
    data = run.customers.assign(cluster=run.labels[method])
    if len(run.excluded):
        data = pd.concat([data, run.excluded.assign(cluster=NO_KEPT_ORDER)], ignore_index=True)
    groups = data.groupby("cluster", sort=True)
    summary = pd.DataFrame({"customers": groups.size()})
    summary["customer_share"] = summary["customers"] / summary["customers"].sum()
    for feature in run.settings.features:
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


def cluster_profile(run: ClusterRun, method: str = "kmeans") -> pd.DataFrame:
    """Return each cluster's mean transformed feature value (0 = average of the training split).

    With the standard scaler a value of 1 means one standard deviation above the average
    customer (after the log transform); with the robust scaler, one interquartile range
    above the median. Rows are clusters (noise excluded), columns the features.
    """
    labels = run.labels[method]
    keep = labels != NOISE
    frame = pd.DataFrame(run.X[keep], columns=list(run.settings.features))
    return frame.groupby(labels[keep]).mean().rename_axis("cluster")


# --------------------------------------------------------------------------------------
# Persist and score
# --------------------------------------------------------------------------------------


def model_path(run_dir: str | Path, processed_dir: str | Path) -> Path:
    """Return where the fitted model goes: the run folder, or the processed folder when run_dir is empty."""
    return Path(run_dir or processed_dir) / MODEL_FILE


def _versions() -> dict[str, str]:
    return {name: importlib.metadata.version(name) for name in VERSIONED_PACKAGES}


def save_model(run: ClusterRun, path: str | Path, analysis_date: Any = None) -> Path:
    """Save the fitted pipeline (transform + K-Means), the feature list and package versions.

    Parameters
    ----------
    run : ClusterRun
    path : str or Path
        Target file (joblib), e.g. from `model_path`.
    analysis_date : optional
        The RFM analysis date of the fitted data, kept as information.

    Returns
    -------
    Path
        The written file. Load it with `load_model` (only load model files you made:
        unpickling runs code).
    """
    import joblib

    bundle = {
        "format": MODEL_FORMAT,
        "pipeline": run.model,
        "features": list(run.settings.features),
        "log_features": list(run.settings.log_features),
        "scaler": run.settings.scaler,
        "k": run.choice.k,
        "k_reason": run.choice.reason,
        "no_kept_order_label": NO_KEPT_ORDER,
        "trained_on_customers": len(run.train),
        "analysis_date": None if analysis_date is None else str(analysis_date),
        "versions": _versions(),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(bundle, path)
    # The checksum `load_model` verifies before unpickling (the runner also records it in
    # the run's manifest.json), in `sha256sum` format.
    checksum_path(path).write_text(f"{file_sha256(path)}  {path.name}\n", encoding="utf-8")
    return path


def checksum_path(model: str | Path) -> Path:
    """Return the checksum file written beside a model file (``<model>.sha256``)."""
    model = Path(model)
    return model.with_name(model.name + ".sha256")


def expected_checksum(path: str | Path, sha256: str | None = None) -> tuple[str, str]:
    """Return the sha256 a model file must have, and where it was recorded.

    In order: `sha256` given by the caller, the run's ``manifest.json`` beside the model
    (key ``model``), the ``<model>.sha256`` file written by `save_model`.

    Raises
    ------
    UserError
        No checksum recorded anywhere.
    """
    path = Path(path)
    if sha256:
        return sha256.strip().lower(), "--sha256"
    manifest = path.with_name("manifest.json")
    if manifest.is_file():
        with contextlib.suppress(ValueError, OSError):
            recorded = json.loads(manifest.read_text(encoding="utf-8")).get("model") or {}
            if Path(str(recorded.get("path", ""))).name == path.name and recorded.get("sha256"):
                return str(recorded["sha256"]).lower(), str(manifest)
    sidecar = checksum_path(path)
    if sidecar.is_file():
        return sidecar.read_text(encoding="utf-8").split()[0].lower(), str(sidecar)
    raise UserError(
        f"{path}: no recorded checksum (no manifest.json or {sidecar.name} beside it), so it is not "
        f"loaded (unpickling runs code); fix: pass the sha256 from the run's manifest.json with --sha256"
    )


def load_model(path: str | Path, sha256: str | None = None) -> dict[str, Any]:
    """Load a model saved by `save_model`, after checking its sha256.

    The file's sha256 must equal the one recorded for it (see `expected_checksum`): a
    changed file is refused before anything is unpickled.

    Returns
    -------
    dict
        ``pipeline``, ``features``, ``k``, ``versions`` and the other saved fields, plus
        ``version_mismatch``: packages whose installed version differs from the saved one
        (package -> "saved X, running Y").

    Raises
    ------
    UserError
        Missing file, no recorded checksum or another one, or not a model saved by this step.
    """
    import joblib

    path = Path(path)
    if not path.is_file():
        raise UserError(
            f"{path}: model file not found; fix: run notebook 04_clustering, which saves {MODEL_FILE}"
        )
    expected, source = expected_checksum(path, sha256)
    if file_sha256(path) != expected:
        raise UserError(
            f"{path}: sha256 differs from the one recorded in {source}: the file changed after it was "
            f"saved, so it is not loaded (unpickling runs code); fix: use the model file of the run"
        )
    try:
        with warnings.catch_warnings():
            # an older/newer scikit-learn is reported in version_mismatch instead
            warnings.simplefilter("ignore", category=UserWarning)
            bundle = joblib.load(path)
    except Exception as exc:  # unpickling can fail in many ways; all mean "not our model"
        raise UserError(f"{path}: cannot read the model ({type(exc).__name__}); fix: pass a {MODEL_FILE}") from None
    if not isinstance(bundle, dict) or bundle.get("format") != MODEL_FORMAT:
        raise UserError(f"{path}: not a model saved by 04_clustering; fix: pass its {MODEL_FILE}")
    running = _versions()
    bundle["version_mismatch"] = {
        name: f"saved {saved}, running {running.get(name)}"
        for name, saved in bundle["versions"].items()
        if running.get(name) != saved
    }
    return bundle


def score_customers(model: Mapping[str, Any], customers: pd.DataFrame) -> pd.DataFrame:
    """Assign customers to the saved clusters.

    Parameters
    ----------
    model : mapping
        Output of `load_model`.
    customers : pandas.DataFrame
        One row per customer with ``customer_id`` and the model's features (e.g. from
        `helpers.rfm.customer_metrics`).

    Returns
    -------
    pandas.DataFrame
        ``customer_id`` and ``cluster``, in the input order; customers without a kept
        order get `NO_KEPT_ORDER` (-2).

    Raises
    ------
    UserError
        A feature is missing, not numeric or not finite.
    """
    kept, _ = split_by_kept_order(customers)
    check_features(kept, model["features"])
    cluster = pd.Series(NO_KEPT_ORDER, index=customers["customer_id"].to_numpy(), dtype="int64")
    if len(kept):
        cluster.loc[kept["customer_id"].to_numpy()] = model["pipeline"].predict(kept).astype("int64")
    return pd.DataFrame({"customer_id": customers["customer_id"].to_numpy(), "cluster": cluster.to_numpy()})


def score_transactions(
    model: str | Path | Mapping[str, Any],
    transactions: str | Path,
    analysis_date: str | None = None,
) -> pd.DataFrame:
    """Score customers from cleaned transaction lines into the saved clusters.

    Computes RFM metrics with `helpers.rfm.customer_metrics` (same definitions as 03_rfm),
    then applies the saved pipeline.

    Parameters
    ----------
    model : str, Path or mapping
        A file written by `save_model`, or its `load_model` output.
    transactions : str or Path
        Cleaned lines in the 01_clean contract (Parquet).
    analysis_date : str, optional
        Date recency is measured at; default the day after the last line of `transactions`.

    Returns
    -------
    pandas.DataFrame
        ``customer_id`` and ``cluster``.

    Raises
    ------
    UserError
        Missing files or columns, or a model feature the metrics do not provide.
    """
    import duckdb

    from helpers.rfm import METRIC_COLUMNS, customer_metrics

    if not isinstance(model, Mapping):
        model = load_model(model)
    missing = [f for f in model["features"] if f not in METRIC_COLUMNS]
    if missing:
        raise UserError(
            f"the model uses feature '{missing[0]}', which is not computed from transactions; "
            f"fix: score with helpers.cluster.score_customers on a table that has it"
        )
    try:
        metrics = customer_metrics(transactions, analysis_date)
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"{transactions}: cannot read the transactions ({first}); fix: pass the "
            f"transactions.parquet written by 01_clean"
        ) from None
    return score_customers(model, metrics)


class _Parser(argparse.ArgumentParser):
    """Argument parser whose errors become one-line UserErrors (exit 1, no usage dump)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UserError(f"{self.prog}: {message}")


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: ``python -m helpers.cluster score ...``; returns the exit status."""
    parser = _Parser(prog="python -m helpers.cluster", description="Score customers into saved clusters.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    score = commands.add_parser("score", help="score cleaned transactions with a saved model")
    score.add_argument("--model", required=True, help=f"{MODEL_FILE} written by 04_clustering")
    score.add_argument("--transactions", required=True, help="cleaned transactions Parquet (01_clean)")
    score.add_argument("--out", required=True, help="output file: .parquet or .csv (customer_id, cluster)")
    score.add_argument("--analysis-date", default=None, help="default: day after the last transaction")
    score.add_argument("--sha256", default=None,
                       help="expected sha256 of the model (default: from manifest.json or <model>.sha256 beside it)")
    try:
        args = parser.parse_args(argv)
        out = Path(args.out)
        if out.suffix.lower() not in (".parquet", ".csv"):
            raise UserError(f"--out {out}: unknown file type; fix: end the name in .parquet or .csv")
        model = load_model(args.model, args.sha256)
        for name, note in model["version_mismatch"].items():
            print(f"note: model {name} version differs ({note})", file=sys.stderr)
        scored = score_transactions(model, args.transactions, args.analysis_date)
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix.lower() == ".csv":
            scored.to_csv(out, index=False)
        else:
            scored.to_parquet(out, index=False)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # the CLI promises one line, never a traceback
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"error: {type(exc).__name__}: {first}", file=sys.stderr)
        return 1
    counts = scored["cluster"].value_counts().sort_index()
    print(
        f"scored {len(scored):,} customers into {out}: "
        + ", ".join(
            f"{'no kept order' if c == NO_KEPT_ORDER else 'cluster'} {c}: {n:,}" for c, n in counts.items()
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
