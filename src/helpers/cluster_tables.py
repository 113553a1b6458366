"""Display tables and their sentences for the clustering step (04_clustering).

Presentation only, beside `helpers.cluster_plots`: each function takes a frame of
`helpers.cluster` and returns a table for `helpers.report.table_html` or a sentence. With
``formats`` (`helpers.formatting.Formats`) a table comes back as text: money with the
shop's currency, every number in the locale's style; without, it is returned for the
notebook's own format strings, as before.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd

from helpers.formatting import Formats
from helpers.page_formats import is_money, money_cell, number_cell, share_cell

# Statistics of `helpers.cluster.feature_overview` in data units.
_OVERVIEW_STATS: tuple[str, ...] = ("min", "median", "p95", "max")


def summary_table(summary: pd.DataFrame, features: Sequence[str], formats: Formats | None = None) -> pd.DataFrame:
    """Return `helpers.cluster.cluster_summary` with medians under their feature's name.

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of `helpers.cluster.cluster_summary`.
    features : sequence of str
        ``clustering.features``: their ``median_<feature>`` columns are shown as ``<feature>``.
    formats : Formats, optional
        Given: every number as text, money medians with the currency and no decimals,
        counts grouped, shares as percentages. None: the numbers as they are.

    Returns
    -------
    pandas.DataFrame
        The columns of `summary`, ``median_`` dropped from the names.

    Examples
    --------
    >>> summary = pd.DataFrame({"cluster": ["0"], "customers": [1703], "customer_share": [0.39],
    ...                         "median_monetary": [1910.4], "median_recency_days": [24.0]})
    >>> summary_table(summary, ["monetary", "recency_days"], Formats("GBP", "en_GB")).iloc[0].tolist()
    ['0', '1,703', '39.0%', '£1,910', '24']
    """
    shown = summary.rename(columns=lambda c: c.removeprefix("median_"))
    if formats is None:
        return shown
    for column in shown.columns:
        if column in features and pd.api.types.is_numeric_dtype(shown[column]):
            money = is_money(column)
            shown[column] = [money_cell(v, formats, 0) if money else number_cell(v, formats, 0) for v in shown[column]]
        elif column in ("customer_share", "revenue_share"):
            shown[column] = [share_cell(v, formats) for v in shown[column]]
        elif column == "customers":
            shown[column] = [number_cell(v, formats) for v in shown[column]]
    return shown


def feature_overview_table(overview: pd.DataFrame, formats: Formats | None = None) -> pd.DataFrame:
    """Return `helpers.cluster.feature_overview` for display, money rows with the currency.

    Parameters
    ----------
    overview : pandas.DataFrame
        Output of `helpers.cluster.feature_overview` (one row per feature).
    formats : Formats, optional
        Given: min, median, p95 and max as text, with the currency and 2 decimals in the rows
        of money features, 1 decimal elsewhere; the skews with 2 decimals; a categorical
        feature's blank numbers stay blank. None: `overview` unchanged.

    Returns
    -------
    pandas.DataFrame
        The columns of `overview`.

    Examples
    --------
    >>> overview = pd.DataFrame({"feature": ["monetary", "frequency"], "transform": ["log", "log"],
    ...     "min": [-4.5, 1.0], "median": [642.55, 2.0], "p95": [5000.0, 13.0], "max": [9e4, 200.0],
    ...     "skew_raw": [20.1, 10.0], "skew_transformed": [0.1, 0.6]})
    >>> feature_overview_table(overview, Formats("GBP", "en_GB"))["median"].tolist()
    ['£642.55', '2.0']
    """
    if formats is None:
        return overview
    shown = overview.copy()
    money = shown["feature"].map(is_money)
    for column in _OVERVIEW_STATS:
        shown[column] = [money_cell(v, formats, 2) if is_m else number_cell(v, formats, 1)
                         for v, is_m in zip(overview[column], money, strict=True)]
    for column in ("skew_raw", "skew_transformed"):
        shown[column] = [number_cell(v, formats, 2) for v in overview[column]]
    return shown


def describe_comparison(comparison: pd.DataFrame) -> str:
    """Say in one sentence how far the three methods agree with the chosen K-Means solution.

    Parameters
    ----------
    comparison : pandas.DataFrame
        Output of `helpers.cluster.method_comparison` (with kmeans, hierarchical, dbscan).
    """
    rows = comparison.set_index("method")
    ward_ari = rows.loc["hierarchical", "ari_kmeans"]
    db = rows.loc["dbscan"]
    agreement = "closely" if ward_ari >= 0.8 else ("partly" if ward_ari >= 0.5 else "hardly")
    density = (
        "so the customers form one continuous cloud without density gaps, and the K-Means "
        "clusters are a partition of that cloud rather than separate groups"
        if db["clusters"] <= 1
        else f"so the data have {int(db['clusters'])} dense regions"
    )
    return (
        f"Ward agrees {agreement} with K-Means (adjusted Rand index {ward_ari:.2f}); "
        f"DBSCAN finds {int(db['clusters'])} dense cluster{'s' if db['clusters'] != 1 else ''} "
        f"with {db['noise_share']:.1%} noise, {density}."
    )


def describe_holdout(holdout: Mapping[str, float]) -> str:
    """Say in one sentence how the training model does on the held-out customers."""
    drop = holdout["silhouette_train"] - holdout["silhouette_test"]
    text = (
        f"On {holdout['test_customers']:,} held-out customers the training model's silhouette is "
        f"{holdout['silhouette_test']:.2f} (training {holdout['silhouette_train']:.2f}, "
        f"{'a drop of ' + format(drop, '.2f') if drop > 0.005 else 'no drop'})"
    )
    ari = holdout["ari_test_refit"]
    if not math.isfinite(ari):
        return text + "; too few held-out customers to refit a model on them."
    level = "the same clusters" if ari >= 0.9 else ("similar clusters" if ari >= 0.7 else "different clusters")
    return text + f", and a model refitted on them alone finds {level} (adjusted Rand index {ari:.2f})."
