"""Settings and features of the clustering step (04_clustering): the first stage.

`ClusterSettings` holds every choice of the step (built from the ``clustering`` params
block). `make_transform` builds one scikit-learn Pipeline that selects the feature
columns, takes ``log1p(max(x, 0))`` of the skewed money/count columns and scales
(standard or robust). The same fitted Pipeline, with K-Means as its last step, is saved
and used to score new customers, so scoring applies exactly the fitted transform.

Customers without a kept order (frequency 0: everything they bought was cancelled) have no
recency, tenure or order value; `split_by_kept_order` sets them aside and they get the label
`NO_KEPT_ORDER` (-2) in every column. -1 (`NOISE`) is kept for DBSCAN noise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import RobustScaler, StandardScaler

from helpers.config import problems_message
from helpers.errors import UserError
from helpers.params_checks import SCHEMA, settings_problems

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
NOISE = -1  # DBSCAN's label for customers in no dense region
NO_KEPT_ORDER = -2  # label of customers set aside by `split_by_kept_order`, in every column


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

    # Saved models pickle this class by this path: the public one, where it lived before the
    # stage modules were split out, so every saved model keeps loading (and saves the same bytes).
    __module__ = "helpers.cluster"

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

