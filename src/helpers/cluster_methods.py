"""The three clustering methods of 04_clustering and their comparison.

K-Means (`fit_kmeans`) on the whole training split; Ward (`fit_ward`) and DBSCAN
(`fit_dbscan`, eps at the knee of the k-distance curve) on a sample, the other customers
assigned to the nearest Ward centroid or the nearest DBSCAN core point (a KD-tree), so
nothing is quadratic in the number of customers (`ward_on_sample`, `dbscan_on_sample`).
Clusters are numbered by size (0 = largest); -1 is DBSCAN noise. `method_comparison`
sets the methods side by side: sizes, internal scores and adjusted Rand index.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import fcluster, linkage
from sklearn.cluster import DBSCAN, KMeans
from sklearn.metrics import adjusted_rand_score, pairwise_distances_argmin
from sklearn.neighbors import KDTree, NearestNeighbors

from helpers.cluster_features import NOISE
from helpers.cluster_select import (
    internal_scores,
    kmeans_estimator,
    knee_index,
    sample_distances,
    sample_silhouette,
)

_CHUNK = 200_000  # rows per KD-tree query: bounds the memory of assigning a large table


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
    model = kmeans_estimator(k, seed, n_init).fit(X)
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


def ward_on_sample(X: np.ndarray, sample: np.ndarray, k: int) -> tuple[WardResult, np.ndarray]:
    """Cut a Ward tree of the rows at `sample` into `k` clusters; label every row of `X`.

    Rows outside the sample go to the nearest Ward centroid; sampled rows keep their
    tree label.

    Returns
    -------
    (WardResult, numpy.ndarray)
        The sample's clustering and a label for every row of `X`.
    """
    ward = fit_ward(X[sample], k)
    labels = assign_nearest(X, ward.centroids)
    labels[sample] = ward.labels
    return ward, labels


def dbscan_on_sample(X: np.ndarray, sample: np.ndarray, min_samples: int) -> tuple[DbscanResult, np.ndarray]:
    """Run DBSCAN on the rows at `sample`; label every row of `X`.

    Rows outside the sample take the cluster of the nearest core point within eps, else
    noise (-1); sampled rows keep their DBSCAN label.

    Returns
    -------
    (DbscanResult, numpy.ndarray)
        The sample's clustering and a label for every row of `X`.
    """
    dbscan = fit_dbscan(X[sample], min_samples)
    labels = assign_to_core_points(X, dbscan.core_points, dbscan.core_labels, dbscan.eps)
    labels[sample] = dbscan.labels
    return dbscan, labels


# --------------------------------------------------------------------------------------
# The methods side by side
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
    distances = sample_distances(X, silhouette_positions)  # the same rows are scored for each method
    ari = _pairwise_ari(labels)
    for name, lab in labels.items():
        ch, db = internal_scores(X, lab)
        row = {
            "method": name,
            "clusters": int(len(np.unique(lab[lab != NOISE]))),
            "sizes": _sizes_text(lab),
            "noise_share": float((lab == NOISE).mean()),
            "silhouette": sample_silhouette(X, lab, silhouette_positions, distances),
            "davies_bouldin": db,
            "calinski_harabasz": ch,
        }
        for other in labels:
            row[f"ari_{other}"] = ari[name, other]
        rows.append(row)
    return pd.DataFrame(rows)


def _pairwise_ari(labels: Mapping[str, np.ndarray]) -> dict[tuple[str, str], float]:
    """Adjusted Rand index of every pair of labellings, each pair computed once.

    The index is symmetric (scikit-learn counts pairs in exact integers), and a labelling
    scores 1.0 against itself.
    """
    names = list(labels)
    ari = {(name, name): 1.0 for name in names}
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            ari[first, second] = ari[second, first] = float(adjusted_rand_score(labels[first], labels[second]))
    return ari
