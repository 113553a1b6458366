"""Choosing K for the clustering step (04_clustering): the K scan, the elbow and the K rule.

`scan_k` fits K-Means for every K of the range and records inertia, silhouette,
Calinski-Harabasz and Davies-Bouldin; `choose_k` applies the rule in `K_RULE`, breaking
silhouette ties toward the elbow of the inertia curve (`knee_index`). The measures of a
partition used here (`sample_silhouette`, `internal_scores`) are shared with the method
comparison and the hold-out check.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import (
    calinski_harabasz_score,
    davies_bouldin_score,
    pairwise_distances,
    silhouette_score,
)

from helpers.cluster_features import NOISE

K_RULE = (
    "Every K of the range is fitted with K-Means; K that leave a cluster with less than "
    "{min_share:.0%} of the customers are set aside (unless every K does). Among the rest, "
    "the K whose silhouette is within {tolerance:g} of the best silhouette are candidates, and "
    "the chosen K is the candidate closest to the elbow of the inertia curve (the smaller K "
    "on a tie); when the inertia curve has no elbow, the candidate with the best silhouette "
    "wins. clustering.k forces K."
)


# --------------------------------------------------------------------------------------
# K-Means, samples and the measures of a partition
# --------------------------------------------------------------------------------------


def kmeans_estimator(k: int, seed: int, n_init: int) -> KMeans:
    """Return an unfitted K-Means with k-means++ starts, as every stage of the step fits it."""
    return KMeans(n_clusters=k, init="k-means++", n_init=n_init, random_state=seed)


def sample_positions(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Return sorted positions of a sample without replacement (all positions when n <= size).

    Examples
    --------
    >>> sample_positions(3, 5, np.random.default_rng(0)).tolist()
    [0, 1, 2]
    """
    if n <= size:
        return np.arange(n)
    return np.sort(rng.choice(n, size=size, replace=False))


_PRECOMPUTED_ROWS = 5000


def silhouette_from_distances(distances: np.ndarray, labels: np.ndarray) -> float:
    """Return the mean silhouette of rows with Euclidean `distances` between them and `labels`.

    scikit-learn's ``silhouette_score(..., metric="precomputed")``, computed with one matrix
    product for every row's distance sums to each cluster instead of one ``bincount`` per row
    (0.06 s -> 0.01 s on 4,362 rows); the sums are added in another order, so the result
    agrees to about 1e-13. A row alone in its cluster scores 0, as in scikit-learn. The caller
    ensures 2 <= clusters < rows.

    Examples
    --------
    >>> d = np.abs(np.subtract.outer([0.0, 1.0, 10.0, 12.0], [0.0, 1.0, 10.0, 12.0]))
    >>> round(silhouette_from_distances(d, np.array([0, 0, 1, 1])), 4)  # (10/11 + 9/10 + 7.5/9.5 + 9.5/11.5) / 4
    0.8562
    """
    codes, counts = np.unique(labels, return_inverse=True, return_counts=True)[1:]
    one_hot = np.zeros((len(labels), len(counts)))
    one_hot[np.arange(len(labels)), codes] = 1.0
    sums = distances @ one_hot  # row i, cluster c: sum of distances from i to c's rows
    rows = np.arange(len(labels))
    with np.errstate(divide="ignore", invalid="ignore"):
        intra = sums[rows, codes] / (counts[codes] - 1)
        means = sums / counts
        means[rows, codes] = np.inf
        inter = means.min(axis=1)
        scores = (inter - intra) / np.maximum(intra, inter)
    return float(np.nan_to_num(scores).mean())


def sample_distances(X: np.ndarray, positions: np.ndarray) -> np.ndarray | None:
    """Euclidean distances between the rows at `positions`, when many labellings of them are scored.

    None above `_PRECOMPUTED_ROWS` rows (5,000 rows: 200 MB); `sample_silhouette` then scores
    in chunks each time.
    """
    return pairwise_distances(X[positions]) if len(positions) <= _PRECOMPUTED_ROWS else None


def sample_silhouette(
    X: np.ndarray, labels: np.ndarray, positions: np.ndarray, distances: np.ndarray | None = None
) -> float:
    """Return the silhouette of the rows at `positions`, noise excluded; NaN below two clusters.

    `distances` (optional) are the Euclidean distances between the rows at `positions`
    (`pairwise_distances`), computed once when many labellings of the same rows are scored.
    Up to `_PRECOMPUTED_ROWS` rows they are computed here otherwise; larger samples are
    scored by scikit-learn in chunks.
    """
    inside = labels[positions] != NOISE
    keep = positions[inside]
    if len(np.unique(labels[keep])) < 2 or len(np.unique(labels[keep])) >= len(keep):
        return float("nan")
    if distances is not None:
        return silhouette_from_distances(distances if inside.all() else distances[np.ix_(inside, inside)], labels[keep])
    if len(keep) <= _PRECOMPUTED_ROWS:
        return silhouette_from_distances(pairwise_distances(X[keep]), labels[keep])
    return float(silhouette_score(X[keep], labels[keep]))


def internal_scores(X: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Return Calinski-Harabasz and Davies-Bouldin on all rows, noise excluded (NaN below 2 clusters)."""
    keep = labels != NOISE
    n_clusters = len(np.unique(labels[keep]))
    if n_clusters < 2 or n_clusters >= keep.sum():
        return float("nan"), float("nan")
    return (
        float(calinski_harabasz_score(X[keep], labels[keep])),
        float(davies_bouldin_score(X[keep], labels[keep])),
    )


# --------------------------------------------------------------------------------------
# The K scan
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



def k_range(k_min: int, k_max: int, n_customers: int) -> tuple[int, ...]:
    """Return the K to scan: `k_min` to `k_max`, capped so that each cluster can have 2 customers.

    Examples
    --------
    >>> k_range(2, 10, 9)
    (2, 3, 4)
    """
    top = min(k_max, max(2, n_customers // 2))
    return tuple(range(min(k_min, top), top + 1))


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
    distances = sample_distances(X, positions)  # the same rows are scored for every K
    rows = []
    for k in k_values:
        model = kmeans_estimator(int(k), seed, n_init).fit(X)
        labels = model.labels_
        ch, db = internal_scores(X, labels)
        rows.append(
            {
                "k": int(k),
                "inertia": float(model.inertia_),
                "silhouette": sample_silhouette(X, labels, positions, distances),
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
    small = _set_aside_mask(table, min_cluster_share)
    best_k, best, candidates = _silhouette_candidates(table, small, tolerance)
    set_aside = tuple(int(k) for k in table["k"][small])
    elbow_text = f"the elbow of the inertia curve is at K = {elbow}" if elbow else "the inertia curve has no elbow"
    if forced is not None:
        return KChoice(
            int(forced), elbow, best_k, candidates, True,
            f"K = {forced} is forced by clustering.k (by the rule: best silhouette {best:.2f} at "
            f"K = {best_k}; {elbow_text}).",
            set_aside,
        )
    if elbow is None:
        k = best_k
        why = f"K = {k} has the best silhouette ({best:.2f}) and {elbow_text}."
    else:
        k = min(candidates, key=lambda c: (abs(c - elbow), c))
        why = _elbow_reason(table, k, elbow, (best_k, best), candidates, tolerance)
    return KChoice(k, elbow, best_k, candidates, False, why + _set_aside_text(set_aside, min_cluster_share), set_aside)


def _set_aside_mask(table: pd.DataFrame, min_cluster_share: float) -> np.ndarray:
    """Return which rows of the K table leave a cluster under `min_cluster_share` (none when all do)."""
    small = np.zeros(len(table), dtype=bool)
    if min_cluster_share > 0 and "smallest_cluster_share" in table.columns:
        small = table["smallest_cluster_share"].to_numpy(dtype=float) < min_cluster_share
        if small.all():
            small[:] = False
    return small


def _set_aside_text(set_aside: tuple[int, ...], min_cluster_share: float) -> str:
    """Return the sentence naming the K set aside for a tiny cluster ("" when none)."""
    if not set_aside:
        return ""
    verb = "was" if len(set_aside) == 1 else "were"
    return (
        f" K = {', '.join(map(str, set_aside))} {verb} set aside: a cluster under "
        f"{min_cluster_share:.0%} of customers."
    )


def _silhouette_candidates(
    table: pd.DataFrame, small: np.ndarray, tolerance: float
) -> tuple[int, float, tuple[int, ...]]:
    """Return the best-silhouette K, its silhouette and the K within `tolerance` of it (set-aside K excluded)."""
    allowed = np.where(small, np.nan, table["silhouette"].to_numpy(dtype=float))
    if np.isnan(allowed).all():
        first = int(table["k"].iloc[0])
        return first, float("nan"), (first,)
    best_pos = int(np.nanargmax(allowed))
    best = float(allowed[best_pos])
    candidates = tuple(int(k) for k, s in zip(table["k"], allowed, strict=True) if s >= best - tolerance)
    return int(table["k"].iloc[best_pos]), best, candidates


def _elbow_reason(
    table: pd.DataFrame,
    k: int,
    elbow: int,
    best: tuple[int, float],
    candidates: tuple[int, ...],
    tolerance: float,
) -> str:
    """Return the sentence saying why `k` won when the inertia curve has an elbow."""
    best_k, best_silhouette = best
    if k == best_k and k == elbow:
        return f"K = {k} has the best silhouette ({best_silhouette:.2f}) and is also the elbow of the inertia curve."
    if k == best_k:
        tied = [c for c in candidates if c != k]
        others = f"; no other K is within {tolerance:g} of it" if not tied else ""
        return (
            f"K = {k} has the best silhouette ({best_silhouette:.2f}){others}; "
            f"the elbow of the inertia curve is at K = {elbow}."
        )
    k_sil = float(table.loc[table["k"] == k, "silhouette"].iloc[0])
    where = "is the elbow of the inertia curve" if k == elbow else f"is the candidate closest to the elbow (K = {elbow})"
    return (
        f"K = {k} has silhouette {k_sil:.2f}, within {tolerance:g} of the best "
        f"({best_silhouette:.2f} at K = {best_k}), and {where}."
    )


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

