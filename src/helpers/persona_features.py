"""Personas of a customer table without RFM: named from the features that set each cluster apart.

When a customer-level export maps no recency, frequency and monetary columns, the RFM naming
rules of `helpers.persona_rules` have nothing to compare. Each cluster is then described by
its clustering features instead: a numeric feature by how far the cluster's mean lies from
the mean of all customers, in standard deviations of all customers (the *contrast*); a
categorical feature by its most over-represented level. A persona's name joins the words of
its two strongest numeric contrasts ("High WebVisitsMonth, low age"); a cluster with no
contrast of at least `MIN_CONTRAST` is "Typical customers". Names are made unique by
numbering. Pure functions: frames in, frames out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from helpers.customer_level import is_categorical

MIN_CONTRAST = 0.5  # standard deviations: smaller differences do not name a persona
NAME_FEATURES = 2  # numeric contrasts joined into a name


def numeric_contrasts(customers: pd.DataFrame, features: Sequence[str]) -> pd.DataFrame:
    """Per cluster, (cluster mean - overall mean) / overall standard deviation of each numeric feature.

    Examples
    --------
    >>> t = pd.DataFrame({"cluster": [0, 0, 1, 1], "x": [1.0, 1.0, 3.0, 3.0]})
    >>> numeric_contrasts(t, ["x"])["x"].round(3).tolist()
    [-0.866, 0.866]
    """
    numeric = [f for f in features if f in customers and not is_categorical(customers[f])]
    spread = customers[numeric].astype(float).std(ddof=1).replace(0.0, np.nan)
    means = customers.groupby("cluster", sort=True)[numeric].mean()
    return (means - customers[numeric].astype(float).mean()) / spread


def categorical_makeup(customers: pd.DataFrame, features: Sequence[str]) -> pd.DataFrame:
    """Per cluster and categorical feature: the most over-represented level, its share here and overall.

    Returns
    -------
    pandas.DataFrame
        cluster, feature, level, share (in the cluster), overall_share, lift (share / overall).

    Examples
    --------
    >>> t = pd.DataFrame({"cluster": [0, 0, 1, 1], "g": ["F", "F", "F", "M"]})
    >>> categorical_makeup(t, ["g"]).to_dict("records")[1]
    {'cluster': 1, 'feature': 'g', 'level': 'M', 'share': 0.5, 'overall_share': 0.25, 'lift': 2.0}
    """
    rows = []
    for feature in [f for f in features if f in customers and is_categorical(customers[f])]:
        values = customers[feature].astype("string").fillna("Unknown")
        overall = values.value_counts(normalize=True)
        for label, group in values.groupby(customers["cluster"], sort=True):
            share = group.value_counts(normalize=True)
            lift = (share / overall.reindex(share.index)).sort_index(kind="mergesort")
            level = lift.idxmax()  # ties: alphabetical, as sort_index put them first
            rows.append({"cluster": label, "feature": feature, "level": str(level), "share": float(share[level]),
                         "overall_share": float(overall[level]), "lift": float(lift[level])})
    return pd.DataFrame(rows, columns=["cluster", "feature", "level", "share", "overall_share", "lift"])


def contrast_name(contrasts: pd.Series) -> str:
    """Name one cluster from its numeric contrasts (strongest first).

    Examples
    --------
    >>> contrast_name(pd.Series({"visits": 1.2, "age": -0.8, "spend": 0.1}))
    'High visits, low age'
    >>> contrast_name(pd.Series({"visits": 0.2}))
    'Typical customers'
    """
    strong = contrasts.dropna()
    strong = strong[strong.abs() >= MIN_CONTRAST]
    strong = strong.reindex(strong.abs().sort_values(ascending=False, kind="mergesort").index)[:NAME_FEATURES]
    if strong.empty:
        return "Typical customers"
    words = [f"{'high' if value > 0 else 'low'} {feature}" for feature, value in strong.items()]
    text = ", ".join(words)
    return text[0].upper() + text[1:]


def _makeup_text(makeup: pd.DataFrame, label: Any) -> str:
    rows = makeup[makeup["cluster"] == label]
    return ", ".join(f"{r.share:.0%} {r.level} ({r.feature}; {r.overall_share:.0%} overall)" for r in rows.itertuples())


def name_by_features(customers: pd.DataFrame, features: Sequence[str],
                     overrides: Mapping[Any, Mapping[str, Any]] | None = None) -> pd.DataFrame:
    """Name and describe every cluster of a customer table without RFM.

    Parameters
    ----------
    customers : pandas.DataFrame
        One row per customer with ``cluster`` (labels below 0 are customers set aside) and the features.
    features : sequence of str
        ``clustering.features``.
    overrides : mapping, optional
        ``personas.overrides`` by cluster number: ``name`` and ``description`` replace ours.

    Returns
    -------
    pandas.DataFrame
        Indexed by cluster, largest first: persona, customers, customer_share, description
        (the strongest contrasts in plain words and the categorical make-up), actions (empty).
    """
    clustered = customers[customers["cluster"] >= 0]
    contrasts = numeric_contrasts(clustered, features)
    makeup = categorical_makeup(clustered, features)
    sizes = clustered["cluster"].value_counts().sort_index()
    rows = {}
    for label in sizes.sort_values(ascending=False, kind="mergesort").index:
        row = contrasts.loc[label] if label in contrasts.index else pd.Series(dtype=float)
        parts = [f"{f} {v:+.1f} sd" for f, v in row.dropna().reindex(row.abs().sort_values(ascending=False).index).items()
                 if abs(v) >= MIN_CONTRAST]
        description = (f"Compared with all customers: {'; '.join(parts) or 'no feature differs by half a standard deviation'}."
                       + (f" Make-up: {_makeup_text(makeup, label)}." if not makeup.empty else ""))
        override = dict((overrides or {}).get(label, {}) or (overrides or {}).get(str(label), {}) or {})
        rows[label] = {"persona": override.get("name", contrast_name(row)), "customers": int(sizes[label]),
                       "customer_share": float(sizes[label] / len(clustered)),
                       "description": override.get("description", description),
                       "actions": list(override.get("actions", []))}
    named = pd.DataFrame.from_dict(rows, orient="index")
    named.index.name = "cluster"
    repeats = named.groupby("persona")["persona"].transform("size") > 1
    named.loc[repeats, "persona"] = named.loc[repeats, "persona"] + " " + (
        named[repeats].groupby("persona").cumcount() + 1).astype(str)
    return named


def feature_segments_table(customers: pd.DataFrame, named: pd.DataFrame) -> pd.DataFrame:
    """The CRM export of a run without RFM: customer_id, cluster, persona (blank when set aside), sorted by id."""
    table = pd.DataFrame({"customer_id": customers["customer_id"].astype(str),
                          "cluster": customers["cluster"].astype("int64"),
                          "persona": customers["cluster"].map(named["persona"].to_dict())})
    return table.sort_values("customer_id", kind="mergesort").reset_index(drop=True)
