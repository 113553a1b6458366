"""Is the clustering real? The hold-out check and bootstrap stability of 04_clustering.

`holdout_check` tests the training model on held-out customers (silhouette there, and
agreement with a model refitted on them alone); `bootstrap_stability` refits K-Means on
bootstrap resamples and measures agreement with the chosen solution (adjusted Rand index,
and per cluster the Jaccard overlap), and `stability_verdict` says plainly whether the
clusters are stable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score
from sklearn.metrics.cluster import contingency_matrix
from sklearn.pipeline import Pipeline

from helpers.cluster_features import ClusterSettings, categorical_features, make_transform
from helpers.cluster_methods import fit_kmeans
from helpers.cluster_select import kmeans_estimator, sample_positions, sample_silhouette


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
        customers and a model (transform + K-Means) refitted on the test customers alone
        (categorical features one-hot encoded and weighted on them alone too).
        NaN when the test split has too few customers for K clusters.
    """
    k = int(model[-1].n_clusters)
    rng = np.random.default_rng(settings.seed + 1)
    result = {"train_customers": len(train), "test_customers": len(test)}
    for name, part in (("train", train), ("test", test)):
        X = model[:-1].transform(part)
        labels = model[-1].predict(X)
        result[f"silhouette_{name}"] = sample_silhouette(
            X, labels, sample_positions(len(X), settings.sample_size, rng)
        )
    if len(test) <= 2 * k:
        result["ari_test_refit"] = float("nan")
        return result
    categorical = categorical_features(test, settings.features)
    refit_transform = make_transform(settings.features, settings.log_features, settings.scaler, categorical)
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
        predicted = kmeans_estimator(k, seed + b, n_init).fit(X[rows]).predict(X)
        aris[b] = adjusted_rand_score(reference, predicted)
        both = contingency_matrix(reference, predicted)  # rows follow ref_ids (sorted)
        union = both.sum(axis=1, keepdims=True) + both.sum(axis=0, keepdims=True) - both
        jaccard[b] = (both / union).max(axis=1)
    per_cluster = pd.Series(jaccard.mean(axis=0), index=pd.Index(ref_ids, name="cluster"), name="jaccard")
    return Stability(aris, per_cluster, threshold)
