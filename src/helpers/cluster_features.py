"""Settings and features of the clustering step (04_clustering): the first stage.

`ClusterSettings` holds every choice of the step (built from the ``clustering`` params
block). `make_transform` builds one scikit-learn Pipeline that selects the feature
columns, takes ``log1p(max(x, 0))`` of the skewed money/count columns and scales
(standard or robust). The same fitted Pipeline, with K-Means as its last step, is saved
and used to score new customers, so scoring applies exactly the fitted transform.

**Categorical features.** A feature column holding text, categories or true/false
(`categorical_features`: gender, education, country, age band, ...) is one-hot encoded
inside the same Pipeline (a ColumnTransformer beside the numeric part) by `WeightedOneHot`:

- a missing or empty value is its own level, ``"missing"`` (`CATEGORY_MISSING`);
- levels held by fewer than `CATEGORY_MIN_SHARE` (1%) of the training customers share one
  column, ``"rare levels"`` (`CATEGORY_RARE`), so a long tail of levels adds one column;
- a level never seen in training (at scoring) gets zeros in every column of its feature:
  it is equally far from every known level, and the other features place the customer;
- **weighting**: the columns of each categorical feature are multiplied by
  ``1 / sqrt(sum_j p_j (1 - p_j))``, ``p_j`` the share of training customers at level j.
  ``sum_j p_j (1 - p_j)`` is the total variance of the feature's 0/1 columns, so after the
  weight each categorical feature has total variance 1, the variance of one standardized
  numeric feature. Two customers drawn at random are then, on average, as far apart on
  one categorical feature as on one numeric feature (expected squared distance 2 on each),
  however many levels it has: a 50-level country weighs as much as recency, no more. A
  feature with a single level (variance 0) keeps weight 1 and, being constant, does not
  move anyone. With the robust scaler the numeric features do not have variance exactly 1
  (interquartile range 1 instead); the categorical blocks are still weighted to variance 1.

With no categorical feature the transform is exactly the numeric Pipeline of before, so
numeric-only runs give the same labels and save the same model as before.

Customers without a kept order (frequency 0: everything they bought was cancelled) have no
recency, tenure or order value; `split_by_kept_order` sets them aside and they get the label
`NO_KEPT_ORDER` (-2) in every column. -1 (`NOISE`) is kept for DBSCAN noise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, RobustScaler, StandardScaler

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
CATEGORY_MISSING = "missing"  # level of a missing or empty categorical value
CATEGORY_RARE = "rare levels"  # one column for the levels below CATEGORY_MIN_SHARE
CATEGORY_MIN_SHARE = 0.01  # share of training customers a level needs for a column of its own


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
        DBSCAN ``min_samples``; 0 means twice the number of features (input features: a
        categorical feature counts once, however many one-hot columns it has).
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
        """DBSCAN ``min_samples`` actually used (twice the feature count when 0).

        The count is of input features, not of encoded columns: the one-hot columns of one
        categorical feature vary together (a customer has one level), so they add one
        dimension of spread, not one per level; counting columns would make a 50-level
        country raise ``min_samples`` by 100 and turn small groups into noise.
        """
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


def is_categorical(values: pd.Series) -> bool:
    """Return True for a column clustered as categories: text, category or true/false.

    Examples
    --------
    >>> [is_categorical(pd.Series(v)) for v in (["F", "M"], [True, False], [1.5, 2.0])]
    [True, True, False]
    """
    dtype = values.dtype
    return bool(
        pd.api.types.is_bool_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
    )


def categorical_features(table: pd.DataFrame, features: Sequence[str]) -> tuple[str, ...]:
    """Return the features of `table` that are categorical (`is_categorical`), in order.

    Examples
    --------
    >>> t = pd.DataFrame({"monetary": [1.0], "gender": ["F"], "newsletter": [True]})
    >>> categorical_features(t, ["monetary", "gender", "newsletter", "absent"])
    ('gender', 'newsletter')
    """
    return tuple(f for f in features if f in table.columns and is_categorical(table[f]))


def check_features(table: pd.DataFrame, features: Sequence[str], categorical: Sequence[str] = ()) -> None:
    """Fail with a message naming the column unless every feature is present and usable.

    Numeric features must be numeric and finite; categorical ones (`categorical`) may hold
    any values, missing ones included (they become the level ``"missing"``).

    Parameters
    ----------
    table : pandas.DataFrame
        Customers to cluster (after `split_by_kept_order`).
    features : sequence of str
        Feature columns.
    categorical : sequence of str, default ()
        The features clustered as categories (`categorical_features`); the others must be numeric.

    Raises
    ------
    UserError
        A feature column is missing, or a numeric one is not numeric or has missing or
        infinite values.
    """
    for column in features:
        if column not in table.columns:
            raise UserError(
                f"column '{column}' (clustering.features) is not in the customer table; fix: "
                f"use columns of rfm.parquet or customers.parquet, e.g. {', '.join(DEFAULT_FEATURES)}"
            )
        if column in categorical:
            continue
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


def category_text(values: pd.Series) -> pd.Series:
    """Return a categorical column as text levels: missing or empty values become ``"missing"``.

    Whole numbers stored as floats lose their ``.0`` (a code read as 2.0 is level "2"),
    so a column read from CSV at scoring gets the levels it had in training.

    Examples
    --------
    >>> category_text(pd.Series(["F", None, " ", "M "])).tolist()
    ['F', 'missing', 'missing', 'M']
    >>> category_text(pd.Series([True, None], dtype="boolean")).tolist()
    ['True', 'missing']
    """
    if pd.api.types.is_float_dtype(values) and (values.dropna() % 1 == 0).all():
        values = values.astype("Int64")
    text = values.astype("string").str.strip()
    empty = (text.isna() | text.eq("")).fillna(True).to_numpy(dtype=bool)
    return pd.Series(np.where(empty, CATEGORY_MISSING, text.astype(object)), index=values.index, dtype=object)


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


class WeightedOneHot(TransformerMixin, BaseEstimator):
    """One-hot encode categorical features, each feature's columns weighted to total variance 1.

    Fitted on the training customers: the levels (missing = ``"missing"``, levels under
    `min_share` of the customers pooled as ``"rare levels"``), each level's share ``p_j``
    and each feature's weight ``1 / sqrt(sum_j p_j (1 - p_j))`` (1 when the feature has a
    single level). `transform` writes ``weight`` in the column of the customer's level and 0
    elsewhere; a level unseen in training gets 0 in every column of its feature. See the
    module docstring for why this weighting.

    Parameters
    ----------
    features : sequence of str
        Categorical columns to select from the input DataFrame, in this order.
    min_share : float, default `CATEGORY_MIN_SHARE`
        Levels held by fewer than this share of the training customers share one column
        (0 = every level has its own column).

    Attributes
    ----------
    levels_ : list of (str, str)
        (feature, level) of each output column.
    shares_ : numpy.ndarray
        Share of training customers at each output column's level.
    weights_ : dict
        Feature -> weight of its columns.

    Examples
    --------
    Shares 3/4 and 1/4: variance 2 x 3/4 x 1/4 = 0.375, weight 1 / sqrt(0.375) = 1.633.

    >>> step = WeightedOneHot(["gender"], min_share=0).fit(pd.DataFrame({"gender": ["F", "F", "F", "M"]}))
    >>> round(step.weights_["gender"], 3), step.levels_
    (1.633, [('gender', 'F'), ('gender', 'M')])
    >>> step.transform(pd.DataFrame({"gender": ["M", "X"]})).round(3).tolist()
    [[0.0, 1.633], [0.0, 0.0]]
    """

    # Pickled by the public path, like SelectAndLog (see there).
    __module__ = "helpers.cluster"

    def __init__(self, features: Sequence[str] = (), min_share: float = CATEGORY_MIN_SHARE) -> None:
        self.features = features
        self.min_share = min_share

    def fit(self, X: pd.DataFrame, y: Any = None) -> WeightedOneHot:
        """Learn the levels, their shares and each feature's weight from the training customers."""
        text = self._text(X)
        self.encoder_ = OneHotEncoder(
            handle_unknown="ignore", min_frequency=self.min_share or None, sparse_output=False, dtype=np.float64
        ).fit(text)
        self.levels_ = self._levels()
        self.shares_ = self.encoder_.transform(text).mean(axis=0)
        owner = np.array([feature for feature, _ in self.levels_], dtype=object)
        spread = self.shares_ * (1.0 - self.shares_)
        variance = {f: float(spread[owner == f].sum()) for f in self.features}
        self.weights_ = {f: 1.0 / math.sqrt(v) if v > 0 else 1.0 for f, v in variance.items()}
        self.column_weights_ = np.array([self.weights_[f] for f in owner], dtype=np.float64)
        self.n_features_in_ = len(self.features)
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Return the weighted one-hot columns, one block per feature in `features` order."""
        return self.encoder_.transform(self._text(X)) * self.column_weights_

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Return ``feature=level`` for each output column."""
        return np.asarray([f"{feature}={level}" for feature, level in self.levels_], dtype=object)

    def _levels(self) -> list[tuple[str, str]]:
        """(feature, level) per output column: the encoder's frequent levels, then the rare column."""
        infrequent = getattr(self.encoder_, "infrequent_categories_", [None] * len(self.features))
        levels = []
        for feature, categories, rare in zip(self.features, self.encoder_.categories_, infrequent, strict=True):
            pooled = set() if rare is None else set(rare)
            levels += [(feature, str(c)) for c in categories if c not in pooled]
            if pooled:
                levels.append((feature, CATEGORY_RARE))
        return levels

    def _text(self, X: pd.DataFrame) -> pd.DataFrame:
        if not isinstance(X, pd.DataFrame):
            raise TypeError("WeightedOneHot needs a DataFrame with the feature columns")
        missing = [f for f in self.features if f not in X.columns]
        if missing:
            raise UserError(
                f"column '{missing[0]}' is missing from the customer table; the model uses "
                f"{', '.join(self.features)}"
            )
        return pd.DataFrame({f: category_text(X[f]).to_numpy() for f in self.features}, index=X.index)


def make_transform(
    features: Sequence[str] = DEFAULT_FEATURES,
    log_features: Sequence[str] = DEFAULT_LOG_FEATURES,
    scaler: str = "standard",
    categorical: Sequence[str] = (),
) -> Pipeline:
    """Build the (unfitted) feature transform: select, log the skewed columns, scale; one-hot categories.

    Parameters
    ----------
    features, log_features : sequence of str
        See `SelectAndLog`.
    scaler : {"standard", "robust"}, default "standard"
        ``StandardScaler`` or ``RobustScaler`` (median and interquartile range, less
        pulled by the few very large customers).
    categorical : sequence of str, default ()
        Features encoded by `WeightedOneHot` (`categorical_features` of the customer table).

    Returns
    -------
    sklearn.pipeline.Pipeline
        A DataFrame in, a float array out. Without categorical features: steps
        ``features`` (`SelectAndLog`) and ``scale``, as before. With them: one step
        ``features``, a ColumnTransformer whose ``numeric`` part is that Pipeline (when any
        feature is numeric) and whose ``categorical`` part is `WeightedOneHot`; output
        columns are the numeric features, then each categorical feature's levels.

    Raises
    ------
    UserError
        Unknown scaler, or a categorical feature in `log_features`.
    """
    if scaler not in SCALERS:
        raise UserError(f"key 'clustering.scaler': {scaler!r}; fix: use one of {', '.join(SCALERS)}")
    logged = [f for f in log_features if f in categorical]
    if logged:
        raise UserError(
            f"column '{logged[0]}' (clustering.log_features) is categorical (text or true/false), so "
            f"it cannot be log-transformed; fix: remove it from clustering.log_features"
        )
    numeric = tuple(f for f in features if f not in categorical)
    scale = StandardScaler() if scaler == "standard" else RobustScaler()
    numeric_part = Pipeline([("features", SelectAndLog(numeric, tuple(log_features))), ("scale", scale)])
    if not categorical:
        return numeric_part
    parts = [("numeric", numeric_part, list(numeric))] if numeric else []
    parts.append(("categorical", WeightedOneHot(tuple(categorical)), list(categorical)))
    columns = ColumnTransformer(parts, remainder="drop", sparse_threshold=0.0, verbose_feature_names_out=False)
    return Pipeline([("features", columns)])


def category_encoder(transform: Pipeline) -> WeightedOneHot | None:
    """Return the fitted `WeightedOneHot` of a transform (or of a model ending in K-Means); None without one."""
    first = transform[0]
    if isinstance(first, ColumnTransformer):
        return first.named_transformers_.get("categorical")
    return None


def encoded_columns(transform: Pipeline) -> tuple[str, ...]:
    """Return the names of the fitted transform's output columns (``feature=level`` for categories).

    Examples
    --------
    >>> t = pd.DataFrame({"monetary": [1.0, 5.0], "gender": ["F", "M"]})
    >>> encoded_columns(make_transform(["monetary", "gender"], [], categorical=["gender"]).fit(t))
    ('monetary', 'gender=F', 'gender=M')
    """
    return tuple(str(name) for name in transform.get_feature_names_out())
