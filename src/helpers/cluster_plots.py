"""Plots and one-line readings for the clustering step (04_clustering).

Every plot function takes the output of `helpers.cluster.run_clustering` (or a piece of it)
and returns ``(Figure, takeaway)``: a titled figure with labelled axes and one
plain-English sentence computed from the data. Scatter plots draw a sample, so the plots
stay cheap on a million customers. Plots that show money take ``formats``
(`helpers.formatting.Formats`): the currency in the axis labels and amounts; the profile
heatmap colours better and worse than average by `helpers.colours`. The display tables
are in `helpers.cluster_tables`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter
from scipy.cluster.hierarchy import dendrogram
from sklearn.decomposition import PCA

from helpers.cluster import (
    METHOD_NAMES,
    NO_KEPT_ORDER,
    NOISE,
    ClusterRun,
    DbscanResult,
    KChoice,
    WardResult,
)
from helpers.cluster_tables import describe_comparison, describe_holdout  # noqa: F401  (cplots.describe_*)
from helpers.colours import better_when, draw_direction_heatmap
from helpers.formatting import Formats
from helpers.page_formats import is_money, money_label, money_sentence, tick_formatter
from helpers.report import format_number

_NOISE_COLOR = "#9e9e9e"
_NO_ORDER_COLOR = "#d0d0d0"
_FEATURE_LABELS: dict[str, str] = {
    "recency_days": "recency (days)",
    "frequency": "frequency (orders)",
    "monetary": "monetary (net revenue)",
    "avg_order_value": "average order value",
    "tenure_days": "tenure (days)",
    "avg_days_between_orders": "days between orders",
}


_UNITS: dict[str, str] = {
    "recency_days": " days",
    "tenure_days": " days",
    "frequency": " orders",
    "avg_days_between_orders": " days",
}


def _word(feature: str) -> str:
    """Return a feature's name in words, without units: ``recency_days`` -> ``recency``."""
    return feature_label(feature).split(" (")[0]


def cluster_color(cluster: int) -> str:
    """Return the colour of a cluster id, the same in every plot (noise and no-order in grey)."""
    if cluster == NOISE:
        return _NOISE_COLOR
    if cluster == NO_KEPT_ORDER:
        return _NO_ORDER_COLOR
    return plt.get_cmap("tab10")(int(cluster) % 10)


def cluster_name(cluster: int) -> str:
    """Return the display name of a cluster id: ``"2"``, ``"noise"`` or ``"no kept order"``."""
    return {NOISE: "noise", NO_KEPT_ORDER: "no kept order"}.get(int(cluster), str(int(cluster)))


def feature_label(feature: str, formats: Formats | None = None) -> str:
    """Return a readable axis label for a feature column; money features name the currency.

    >>> feature_label("monetary", Formats("GBP", "en_GB")), feature_label("recency_days")
    ('monetary (net revenue, GBP)', 'recency (days)')
    """
    label = _FEATURE_LABELS.get(feature, feature.replace("_", " "))
    if formats is None or not is_money(feature) or not formats.currency_label:
        return label
    return f"{label[:-1]}, {formats.currency_label})" if label.endswith(")") else money_label(label, formats)


def _fmt(value: float) -> str:
    """Format a number for a sentence, with one decimal."""
    return format_number(value, decimals=1)


def _median_text(feature: str, value: float, formats: Formats | None = None) -> str:
    """Write a median in data units: money with its currency (given `formats`), else with its unit."""
    if formats is not None and is_money(feature):
        return money_sentence(value, formats, decimals=1)
    return f"{_fmt(value)}{_UNITS.get(feature, '')}"


def _plain_axis(axis, formats: Formats | None = None) -> None:
    axis.set_minor_formatter(NullFormatter())
    axis.set_major_formatter(tick_formatter(formats, 1) if formats else FuncFormatter(lambda x, _pos: _fmt(x)))


# --------------------------------------------------------------------------------------
# Choosing K
# --------------------------------------------------------------------------------------


def plot_k_selection(k_table: pd.DataFrame, choice: KChoice) -> tuple[Figure, str]:
    """Draw inertia, silhouette, Calinski-Harabasz and Davies-Bouldin against K.

    The elbow is circled on the inertia panel and the chosen K is a dashed line on all four.

    Parameters
    ----------
    k_table : pandas.DataFrame
        Output of `helpers.cluster.scan_k`.
    choice : KChoice
        Output of `helpers.cluster.choose_k`.

    Returns
    -------
    (Figure, str)
        The figure and the reason K was chosen.
    """
    panels = (
        ("inertia", "Inertia (lower is tighter)"),
        ("silhouette", "Silhouette (higher is better)"),
        ("calinski_harabasz", "Calinski-Harabasz (higher is better)"),
        ("davies_bouldin", "Davies-Bouldin (lower is better)"),
    )
    fig, axes = plt.subplots(2, 2, figsize=(11, 6.5), layout="constrained")
    for ax, (column, title) in zip(axes.flat, panels, strict=True):
        ax.plot(k_table["k"], k_table[column], marker="o", color="#4C72B0")
        ax.axvline(choice.k, color="#C44E52", linestyle="--", label=f"chosen K = {choice.k}")
        ax.set_title(title)
        ax.set_xlabel("K (number of clusters)")
        ax.set_ylabel(column.replace("_", "-"))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    if choice.elbow_k is not None:
        elbow = k_table.loc[k_table["k"] == choice.elbow_k, "inertia"].iloc[0]
        axes[0, 0].plot(
            choice.elbow_k, elbow, "o", markersize=14, markerfacecolor="none",
            markeredgecolor="#DD8452", markeredgewidth=2, label=f"elbow K = {choice.elbow_k}",
        )
    _plain_axis(axes[0, 0].yaxis)
    _plain_axis(axes[1, 0].yaxis)
    axes[0, 0].legend(loc="upper right")
    fig.suptitle("Choosing K: K-Means fitted for every K of the range")
    return fig, choice.reason


# --------------------------------------------------------------------------------------
# Ward and DBSCAN
# --------------------------------------------------------------------------------------


def _ward_link_colors(ward: WardResult):
    """Return a scipy ``link_color_func``: links below the cut in their cluster's colour, others grey."""
    n = len(ward.labels)
    node_cluster = np.concatenate([ward.labels, np.empty(n - 1, dtype=np.int64)])
    for i, (left, _right, _height, _size) in enumerate(ward.linkage):
        node_cluster[n + i] = node_cluster[int(left)]

    def color(node: int) -> str:
        if ward.linkage[node - n, 2] > ward.cut_height:
            return "#555555"
        return matplotlib.colors.to_hex(cluster_color(int(node_cluster[node])))

    return color


def plot_dendrogram(ward: WardResult, leaves: int = 30) -> tuple[Figure, str]:
    """Draw the top of the Ward tree of the sample with the cut into K clusters.

    Parameters
    ----------
    ward : WardResult
        Output of `helpers.cluster.fit_ward`.
    leaves : int, default 30
        Groups shown at the bottom (the tree is truncated to its last merges).

    Returns
    -------
    (Figure, str)
        The figure and a sentence on the cut: its height and how far the next merge is.
    """
    n = len(ward.labels)
    fig, ax = plt.subplots(figsize=(11, 4.8), layout="constrained")
    dendrogram(
        ward.linkage,
        truncate_mode="lastp",
        p=min(leaves, n),
        link_color_func=_ward_link_colors(ward),
        leaf_rotation=90,
        leaf_font_size=8,
        ax=ax,
    )
    ax.axhline(ward.cut_height, color="#C44E52", linestyle="--", label=f"cut into K = {ward.k}")
    ax.set_title(f"Ward dendrogram of {n:,} sampled customers (last {min(leaves, n)} groups; colours = Ward clusters)")
    ax.set_xlabel("group of customers (size in brackets, or one customer's row)")
    ax.set_ylabel("merge distance (Ward)")
    ax.legend(loc="upper right")
    heights = ward.linkage[:, 2]
    below, above = heights[-ward.k], heights[-ward.k + 1]
    sizes = " / ".join(f"{c:,}" for c in np.bincount(ward.labels))
    takeaway = (
        f"Cutting the tree at height {_fmt(ward.cut_height)} gives {ward.k} clusters of "
        f"{sizes} sampled customers; the merge that would leave {ward.k - 1} happens at "
        f"{_fmt(above)}, {above / below:.1f} times the height of the last merge kept ({_fmt(below)})."
    )
    return fig, takeaway


def plot_k_distance(dbscan: DbscanResult) -> tuple[Figure, str]:
    """Draw the sorted k-distance curve of the sample with eps at its knee.

    Parameters
    ----------
    dbscan : DbscanResult
        Output of `helpers.cluster.fit_dbscan`.

    Returns
    -------
    (Figure, str)
        The figure and a sentence with eps, the noise share and the clusters found.
    """
    kdist = dbscan.kdist
    fig, ax = plt.subplots(figsize=(9, 4.5), layout="constrained")
    ax.plot(np.arange(len(kdist)), kdist, color="#4C72B0")
    ax.axhline(dbscan.eps, color="#C44E52", linestyle="--", label=f"eps = {dbscan.eps:.3g}")
    if dbscan.knee is not None:
        ax.plot(dbscan.knee, kdist[dbscan.knee], "o", color="#DD8452", markersize=9, label="knee")
    top = float(kdist.max()) if len(kdist) else 1.0
    cut = top > 4 * dbscan.eps
    if cut:  # the last few distances dwarf the knee; show the region around eps
        ax.set_ylim(0, 4 * dbscan.eps)
    ax.set_title(
        f"k-distance curve of {len(kdist):,} sampled customers (k = min_samples = {dbscan.min_samples})"
        + (f"\ny axis cut at 4 x eps; the largest distance is {_fmt(top)}" if cut else "")
    )
    ax.set_xlabel("customers, sorted by k-distance")
    ax.set_ylabel(f"distance to the {dbscan.min_samples}th nearest neighbour\n(scaled features)")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{x:,.0f}"))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    noise = float((dbscan.labels == NOISE).mean())
    clusters = len(np.unique(dbscan.labels[dbscan.labels != NOISE]))
    where = "at the knee of the curve" if dbscan.knee is not None else "at the 95th percentile (the curve has no knee)"
    takeaway = (
        f"eps = {dbscan.eps:.3g} {where}: {noise:.1%} of the sampled customers are neither dense "
        f"({dbscan.min_samples} customers within eps) nor within eps of a dense customer, so they "
        f"are noise; DBSCAN finds {clusters} dense cluster{'s' if clusters != 1 else ''}."
    )
    return fig, takeaway


# --------------------------------------------------------------------------------------
# What the clusters look like
# --------------------------------------------------------------------------------------


def plot_cluster_sizes(summary: pd.DataFrame) -> tuple[Figure, str]:
    """Draw each cluster's share of customers next to its share of net revenue.

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of `helpers.cluster.cluster_summary` (``cluster``, ``customers``,
        ``customer_share`` and, when known, ``revenue_share``).

    Returns
    -------
    (Figure, str)
        The figure and a sentence on the largest cluster and the most valuable one.
    """
    has_revenue = "revenue_share" in summary.columns
    positions = np.arange(len(summary))[::-1]
    fig, ax = plt.subplots(figsize=(9, 0.55 * len(summary) + 1.8), layout="constrained")
    height = 0.4 if has_revenue else 0.7
    ax.barh(positions + (0.2 if has_revenue else 0), summary["customer_share"], height=height,
            color="#4C72B0", label="share of customers")
    for y, (share, count) in zip(positions, zip(summary["customer_share"], summary["customers"], strict=True), strict=True):
        ax.text(share, y + (0.2 if has_revenue else 0), f" {count:,}", va="center", fontsize=8)
    if has_revenue:
        ax.barh(positions - 0.2, summary["revenue_share"].fillna(0), height=height,
                color="#55A868", label="share of net revenue")
    ax.set_yticks(positions, [f"cluster {c}" if c[0].isdigit() else c for c in summary["cluster"]])
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{x:.0%}"))
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("share")
    ax.set_ylabel("cluster")
    ax.set_title("Cluster sizes (customers, labelled) and their share of net revenue")
    ax.legend(loc="lower right")
    clusters = summary[summary["cluster"].str[0].str.isdigit()]
    largest = clusters.loc[clusters["customers"].idxmax()]
    takeaway = f"The largest cluster, {largest['cluster']}, holds {largest['customer_share']:.0%} of customers"
    if has_revenue:
        richest = clusters.loc[clusters["revenue_share"].idxmax()]
        if richest["cluster"] == largest["cluster"]:
            takeaway += f" and brings {richest['revenue_share']:.0%} of net revenue."
        else:
            takeaway += (
                f"; cluster {richest['cluster']} brings {richest['revenue_share']:.0%} of net "
                f"revenue with {richest['customer_share']:.0%} of customers."
            )
    else:
        takeaway += "."
    return fig, takeaway


def plot_projection(run: ClusterRun, method: str = "kmeans", max_points: int = 5_000) -> tuple[Figure, str]:
    """Draw customers on the first two principal components, coloured by cluster.

    PCA is fitted on the training split (linear in the customers); at most `max_points`
    customers (the evaluation sample) are drawn.

    Parameters
    ----------
    run : ClusterRun
    method : str, default "kmeans"
    max_points : int, default 5000

    Returns
    -------
    (Figure, str)
        The figure and a sentence on the variance kept and what the first axis measures.
    """
    features = list(run.columns or run.settings.features)  # one-hot columns are "feature=level"
    pca = PCA(n_components=2, random_state=run.settings.seed).fit(run.X[run.train])
    shown = run.evaluation[:max_points]
    points = pca.transform(run.X[shown])
    labels = run.labels[method][shown]
    fig, ax = plt.subplots(figsize=(9, 6), layout="constrained")
    for cluster in np.unique(labels):
        mask = labels == cluster
        ax.scatter(points[mask, 0], points[mask, 1], s=6, alpha=0.5, color=cluster_color(cluster),
                   label=f"cluster {cluster_name(cluster)}" if cluster >= 0 else "noise")
    if method == "kmeans":
        centres = pca.transform(run.model[-1].cluster_centers_)
        for cluster, (x, y) in enumerate(centres):
            ax.text(x, y, str(cluster), fontsize=13, fontweight="bold", ha="center", va="center",
                    bbox={"boxstyle": "circle", "facecolor": "white", "edgecolor": cluster_color(cluster)})
    ratio = pca.explained_variance_ratio_
    ax.set_xlabel(f"principal component 1 ({ratio[0]:.0%} of variance)")
    ax.set_ylabel(f"principal component 2 ({ratio[1]:.0%} of variance)")
    ax.set_title(f"{METHOD_NAMES[method]} clusters on the first two principal components "
                 f"({len(shown):,} customers)")
    ax.legend(loc="best", markerscale=3, fontsize=8)
    ax.grid(alpha=0.3)
    top = np.argsort(-np.abs(pca.components_[0]))[:2]
    takeaway = (
        f"The two components keep {ratio.sum():.0%} of the variance of the scaled features; "
        f"component 1 is driven mostly by {features[top[0]].replace('_', ' ')} and "
        f"{features[top[1]].replace('_', ' ')}."
    )
    return fig, takeaway


def profile_columns(profile: pd.DataFrame, max_levels: int = 3) -> list[str]:
    """Return the columns of a cluster profile worth a heatmap column, in order.

    Numeric features all; of a categorical feature (``profile.attrs["levels"]``, see
    `helpers.cluster.cluster_profile`) the levels that differ most from the average in some
    cluster: at most `max_levels`, and one fewer than the feature has levels (the last
    level of a feature mirrors the others; of a yes/no feature one column says it all).

    Examples
    --------
    >>> profile = pd.DataFrame({"monetary": [0.5, -0.5], "g=F": [0.9, -0.9], "g=M": [-0.9, 0.9]})
    >>> profile.attrs["levels"] = {"g=F": ("g", "F"), "g=M": ("g", "M")}
    >>> profile_columns(profile)
    ['monetary', 'g=F']
    """
    levels = profile.attrs.get("levels", {})
    shown: list[str] = []
    done: set[str] = set()
    for column in profile.columns:
        if column not in levels:
            shown.append(column)
            continue
        feature = levels[column][0]
        if feature in done:
            continue
        done.add(feature)
        own = [c for c in profile.columns if levels.get(c, ("",))[0] == feature]
        strength = profile[own].abs().max(axis=0)
        keep = max(1, min(max_levels, len(own) - 1))
        picked = set(strength.sort_values(ascending=False, kind="mergesort").index[:keep])
        shown += [c for c in own if c in picked]
    return shown


def _column_label(column: str, levels: Mapping[str, tuple[str, str]], formats: Formats | None = None) -> str:
    """Return a heatmap column's label: the feature's, or ``feature: level`` for a one-hot column."""
    if column in levels:
        feature, level = levels[column]
        return f"{feature_label(feature)}: {level}"
    return feature_label(column, formats)


def _cell_text(profile: pd.DataFrame, medians: pd.DataFrame, cluster, column: str,
               formats: Formats | None = None) -> str:
    """Return a heatmap cell's text: scaled value and median, or a level's share against all customers."""
    value = profile.loc[cluster, column]
    if column in profile.attrs.get("levels", {}):
        share = profile.attrs["level_shares"].loc[cluster, column]
        overall = profile.attrs["overall_level_shares"][column]
        return f"{value:+.2f}\n{share:.0%} (all {overall:.0%})"
    median = medians.loc[str(cluster), f"median_{column}"]
    shown = money_sentence(median, formats, 1) if formats and is_money(column) else _fmt(median)
    return f"{value:+.2f}\nmedian {shown}"


def _verdict(column: str, value: float) -> str:
    """Say whether a contrast is better or worse than average, for the takeaway ("" without a direction)."""
    direction = better_when(column)
    if direction is None or value == 0:
        return ""
    better = (value > 0) == (direction == "higher")
    return f": {'better' if better else 'worse'} than average, as {direction} is better"


def _profile_takeaway(profile: pd.DataFrame, medians: pd.DataFrame, values: np.ndarray, columns: list[str],
                      formats: Formats | None = None) -> str:
    """Name the strongest contrast of the heatmap: a numeric feature with its median, or a level's share."""
    i, j = np.unravel_index(np.nanargmax(np.abs(values)), values.shape)
    cluster, column = profile.index[i], columns[j]
    direction = "above" if values[i, j] > 0 else "below"
    levels = profile.attrs.get("levels", {})
    if column in levels:
        feature, level = levels[column]
        share = profile.attrs["level_shares"].loc[cluster, column]
        overall = profile.attrs["overall_level_shares"][column]
        return (
            f"The strongest contrast is cluster {cluster}'s share of {_word(feature)} {level}: "
            f"{share:.0%} of its customers against {overall:.0%} of all customers "
            f"({abs(values[i, j]):.1f} scaled units {direction} the average)."
        )
    median = medians.loc[str(cluster), f"median_{column}"]
    return (
        f"The strongest contrast is cluster {cluster}'s {_word(column)}: "
        f"{abs(values[i, j]):.1f} scaled units {direction} the average customer "
        f"(median {_median_text(column, median, formats)}){_verdict(column, values[i, j])}."
    )


def plot_profiles(
    profile: pd.DataFrame, summary: pd.DataFrame, formats: Formats | None = None
) -> tuple[Figure, str]:
    """Draw a heatmap of each cluster's standardized feature means, labelled with medians.

    Colours say better or worse than the average customer (`helpers.colours`): green
    better, pink worse, with the sign flipped where lower is better (recency); features
    without a better direction (tenure, a category's levels) are grey, darker = further
    from the average. A categorical feature shows up to three of its levels
    (`profile_columns`), each cell labelled with the level's share in the cluster and among
    all customers.

    Parameters
    ----------
    profile : pandas.DataFrame
        Output of `helpers.cluster.cluster_profile` (clusters x features, 0 = average).
    summary : pandas.DataFrame
        Output of `helpers.cluster.cluster_summary` (gives the medians in data units).
    formats : Formats, optional
        Writes money medians with the currency; None keeps plain numbers.

    Returns
    -------
    (Figure, str)
        The figure and a sentence naming the strongest contrast and whether it is better
        or worse than average.
    """
    medians = summary.set_index("cluster")
    columns = profile_columns(profile)
    levels = profile.attrs.get("levels", {})
    values = profile[columns].to_numpy()
    limit = max(1.0, float(np.nanmax(np.abs(values))))
    text = [[_cell_text(profile, medians, cluster, column, formats) for column in columns] for cluster in profile.index]
    fig, ax = plt.subplots(figsize=(1.9 * len(columns) + 4, 0.75 * len(profile) + 2.2), layout="constrained")
    draw_direction_heatmap(fig, ax, profile[columns], np.array(text, dtype=object), limit,
                           lambda v: f"{v:.1f}", [_column_label(c, levels, formats) for c in columns])
    ax.set_yticks(range(len(profile)), [f"cluster {c}" for c in profile.index])
    ax.set_xlabel("feature")
    ax.set_ylabel("cluster")
    title = ("Cluster profiles: colour = standardized mean vs the average customer, text = median in data units"
             "\n(green better, pink worse; grey: no better or worse)")
    if levels:
        title += "\n(categories: share of the cluster at the level, all customers in brackets)"
    ax.set_title(title)
    return fig, _profile_takeaway(profile, medians, values, columns, formats)


def _draw_boxes(ax, column: str, values: np.ndarray, labels: np.ndarray, clusters: Sequence[int],
                formats: Formats | None = None) -> None:
    """Draw one panel of `plot_rfm_boxplots`: a box per cluster, frequency and monetary on a log axis."""
    log = column in ("frequency", "monetary")
    groups = [np.clip(values[labels == c], 1, None) if log else values[labels == c] for c in clusters]
    box = ax.boxplot(groups, showfliers=False, patch_artist=True, widths=0.6)
    for patch, cluster in zip(box["boxes"], clusters, strict=True):
        patch.set_facecolor(cluster_color(cluster))
        patch.set_alpha(0.7)
    for median in box["medians"]:
        median.set_color("black")
    ax.set_xticks(range(1, len(clusters) + 1), [str(c) for c in clusters])
    ax.set_xlabel("cluster")
    ax.set_ylabel(feature_label(column, formats) + (" (log scale)" if log else ""))
    if log:
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    _plain_axis(ax.yaxis, formats)
    ax.set_title(feature_label(column).split(" (")[0].capitalize())
    ax.grid(alpha=0.3, axis="y")


def plot_rfm_boxplots(
    run: ClusterRun,
    columns: Sequence[str] = ("recency_days", "frequency", "monetary"),
    method: str = "kmeans",
    formats: Formats | None = None,
) -> tuple[Figure, str]:
    """Draw boxplots of recency, frequency and monetary per cluster (outliers not drawn).

    Frequency and monetary use a log axis; values below 1 (net revenue can be 0 or
    negative) are drawn at 1.

    Parameters
    ----------
    run : ClusterRun
    columns : sequence of str, default recency_days, frequency, monetary
        Columns of the customer table; those absent are skipped.
    method : str, default "kmeans"
    formats : Formats, optional
        Names the currency on the monetary axis and in its median; None keeps plain numbers.

    Returns
    -------
    (Figure, str)
        The figure and a sentence naming the best cluster on each metric (by median).
    """
    columns = [c for c in columns if c in run.customers.columns]
    labels = run.labels[method]
    clusters = [c for c in np.unique(labels) if c != NOISE]
    fig, axes = plt.subplots(1, len(columns), figsize=(4.2 * len(columns), 4.5), layout="constrained", squeeze=False)
    best: list[tuple[str, int, str]] = []
    for ax, column in zip(axes[0], columns, strict=True):
        values = run.customers[column].to_numpy(dtype=float)
        _draw_boxes(ax, column, values, labels, clusters, formats)
        medians = [float(np.median(values[labels == c])) for c in clusters]
        pick = int(np.argmin(medians)) if column == "recency_days" else int(np.argmax(medians))
        word = {"recency_days": "most recent buyers", "frequency": "most orders",
                "monetary": "highest net revenue"}.get(column, f"highest {_word(column)}")
        best.append((word, clusters[pick], f"median {_median_text(column, medians[pick], formats)}"))
    names = ", ".join(_word(c) for c in columns)
    fig.suptitle(f"{names[0].upper() + names[1:]} per {METHOD_NAMES[method]} cluster "
                 f"(box: quartiles, whiskers: 1.5 x IQR)")
    leaders = {cluster for _, cluster, _ in best}
    if len(leaders) == 1 and len(best) > 1:
        takeaway = f"Cluster {best[0][1]} leads on every metric by median: " + "; ".join(
            f"{word} ({median})" for word, _, median in best
        ) + "."
    else:
        takeaway = "By median, " + "; ".join(
            f"{word}: cluster {cluster} ({median})" for word, cluster, median in best
        ) + "."
    return fig, takeaway
