"""Personas: what each chosen cluster is like and what to call it (step 05_personas, computation).

The step reads the RFM table of 03_rfm, the cluster labels of 04_clustering and, when
present, extra customer traits (`helpers.persona_traits`), and works in three stages here:

1. **Profiles.** `join_clusters` puts one row per customer together; `cluster_profiles`
   and `overall_profile` give each cluster's size, revenue, medians of recency,
   frequency, monetary, average order value and tenure, and of any extra trait
   (numeric: median; true/false: share true; text: most common value and its share), and,
   when 03_rfm's future-value model ran (`helpers.persona_traits.join_clv`), the share of
   customers likely lapsed (P(alive) < 0.5 or churn risk High), the median P(alive), the predicted value and
   its share, and the share at high churn risk.
   `relative_to_overall` and `segment_composition` say how a cluster differs; where it
   buys what is counted with DuckDB in `helpers.persona_rankings`.
2. **Names.** `name_personas` compares each cluster's medians with the medians of all
   customers and gives it the first rule of `helpers.persona_rules.PERSONA_RULES` that
   fires, a one-paragraph description with its figures (`describe_persona`) and 2-3
   actions. Names never depend on a cluster's number, and two clusters never share a name
   (`disambiguate_names`). ``personas.overrides`` renames a rule or one cluster
   (`check_overrides`, kept importable from here for `helpers.params_checks`). Text,
   category and true/false traits add the persona's make-up ("62% women (gender; all
   customers: 50%)", `helpers.persona_traits.categorical_make_up`); without product data the
   actions that need it are left out (`helpers.persona_traits.product_free_actions`).
3. **Metrics.** `persona_metrics` is what ``index.html`` shows (see `helpers.summary`).

Cards, tables, charts and report text are in `helpers.personas_report`; the exports in
`helpers.exports`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from helpers import catalog
from helpers.errors import UserError
from helpers.exports import drop_personal_columns

# check_overrides and override_problems are imported from here by helpers.params_checks.
from helpers.persona_rules import (  # noqa: F401
    DEFAULT_RATIO,
    check_overrides,
    cluster_levels,
    match_rule,
    override_problems,
)
from helpers.persona_traits import (  # noqa: F401  (categorical_make_up importable from here)
    CLV_TRAITS,
    categorical_make_up,
    clv_figures,
    future_sentence,
    make_up_by_cluster,
    make_up_text,
    product_free_actions,
    trait_figures,
    trait_kind,
)

CLUSTER_COLUMN = "cluster"
# Median columns of a profile: column of the customer table -> label in the report.
PROFILE_METRICS: dict[str, str] = {
    "recency_days": "days since last order",
    "frequency": "orders",
    "monetary": "net revenue",
    "avg_order_value": "average order value",
    "tenure_days": "days since first order",
}
# Columns of the RFM table and of clusters.parquet: never treated as extra traits.
_KNOWN_COLUMNS: frozenset[str] = frozenset({*catalog.RFM_COLUMNS, *catalog.LABEL_COLUMNS, *CLV_TRAITS, "persona"})


# --------------------------------------------------------------------------------------
# Profiles
# --------------------------------------------------------------------------------------


def join_clusters(
    rfm: pd.DataFrame,
    clusters: pd.DataFrame,
    traits: pd.DataFrame | None = None,
    cluster_column: str = CLUSTER_COLUMN,
    extra_patterns: Sequence[str] = (),
) -> pd.DataFrame:
    """Put the RFM table, the chosen cluster label and extra traits in one row per customer.

    Parameters
    ----------
    rfm : pandas.DataFrame
        The RFM table of 03_rfm (`helpers.catalog.RFM_COLUMNS`).
    clusters : pandas.DataFrame
        ``customer_id`` and `cluster_column` (04_clustering's ``clusters.parquet``).
    traits : pandas.DataFrame, optional
        ``customer_id`` and any extra columns; customers without a row get missing values.
        Columns whose name looks like personal data are dropped.
    cluster_column : str, default "cluster"
        The label to use.
    extra_patterns : sequence of str, default ()
        ``privacy.personal_column_patterns`` (see `helpers.exports.personal_columns`).

    Returns
    -------
    pandas.DataFrame
        The RFM columns, ``cluster`` (int) and the trait columns, sorted by customer_id.

    Raises
    ------
    UserError
        A column is missing, ids repeat, or a customer of the RFM table has no cluster (the
        message counts them; it names none, as raw ids must not reach the run folder).
    """
    customers = rfm.assign(customer_id=rfm["customer_id"].astype(str))
    customers = customers.drop(columns=[CLUSTER_COLUMN], errors="ignore").merge(
        _cluster_labels(clusters, cluster_column), on="customer_id", how="left", validate="one_to_one"
    )
    unlabelled = customers[CLUSTER_COLUMN].isna()
    if unlabelled.any():
        # No example id: the message lands in the run folder, where raw ids must not (privacy).
        raise UserError(
            f"clusters table: {int(unlabelled.sum()):,} customers of the RFM table have no "
            f"'{cluster_column}' label; fix: re-run 04_clustering after 03_rfm"
        )
    customers[CLUSTER_COLUMN] = customers[CLUSTER_COLUMN].astype("int64")
    if traits is not None:
        customers = customers.merge(_extra_traits(traits, customers.columns, extra_patterns),
                                    on="customer_id", how="left", validate="one_to_one")
    # A canonical row order makes every sum below (and so the exports) bit-for-bit stable.
    return customers.sort_values("customer_id", kind="mergesort").reset_index(drop=True)


def _cluster_labels(clusters: pd.DataFrame, cluster_column: str) -> pd.DataFrame:
    """``customer_id`` (text) and `cluster_column` renamed ``cluster``; UserError on a gap or repeat."""
    for column in (cluster_column, "customer_id"):
        if column not in clusters.columns:
            raise UserError(f"clusters table: column '{column}' is missing; fix: re-run 04_clustering")
    labels = clusters.loc[:, ["customer_id", cluster_column]].copy()
    labels["customer_id"] = labels["customer_id"].astype(str)
    if labels["customer_id"].duplicated().any():
        raise UserError("clusters table: column 'customer_id' has duplicates; fix: re-run 04_clustering")
    return labels.rename(columns={cluster_column: CLUSTER_COLUMN})


def _extra_traits(traits: pd.DataFrame, known: Sequence[str], extra_patterns: Sequence[str]) -> pd.DataFrame:
    """The trait columns not in `known` and not personal, by customer_id (text); UserError on repeats."""
    if "customer_id" not in traits.columns:
        raise UserError("traits table: column 'customer_id' is missing; fix: add it")
    extra = drop_personal_columns(traits, extra_patterns)
    extra = extra.loc[:, [c for c in extra.columns if c == "customer_id" or c not in set(known)]]
    extra = extra.assign(customer_id=extra["customer_id"].astype(str))
    if extra["customer_id"].duplicated().any():
        raise UserError("traits table: column 'customer_id' has duplicates; fix: keep one row per customer")
    return extra


def trait_columns(customers: pd.DataFrame) -> list[str]:
    """Return the extra columns of a joined customer table (not RFM, not labels), in order.

    Examples
    --------
    >>> trait_columns(pd.DataFrame(columns=["customer_id", "monetary", "cluster", "age_band"]))
    ['age_band']
    """
    return [c for c in customers.columns if c not in _KNOWN_COLUMNS]


def _profile(group: pd.DataFrame, total_customers: int, total_revenue: float, traits: Sequence[str],
             total_predicted: float = math.nan) -> dict[str, Any]:
    n = len(group)
    revenue = float(group["monetary"].sum())
    frequency = group["frequency"]
    row: dict[str, Any] = {
        "customers": n,
        "customer_share": n / total_customers if total_customers else np.nan,
        "revenue": revenue,
        "revenue_share": revenue / total_revenue if total_revenue else np.nan,
    }
    for column in PROFILE_METRICS:
        row[f"median_{column}"] = float(group[column].median()) if group[column].notna().any() else np.nan
    row["single_order_share"] = float((frequency == 1).mean()) if n else np.nan
    row["no_order_share"] = float((frequency == 0).mean()) if n else np.nan
    if "p_alive" in group.columns:
        row.update(clv_figures(group, total_predicted))
    row.update(trait_figures(group, traits))
    return row


def cluster_profiles(customers: pd.DataFrame, traits: Sequence[str] | None = None) -> pd.DataFrame:
    """Profile every cluster: size, revenue, shares, medians and extra traits.

    Parameters
    ----------
    customers : pandas.DataFrame
        Output of `join_clusters`.
    traits : sequence of str, optional
        Extra columns to profile (default `trait_columns`): numeric -> ``median_<col>``,
        true/false -> ``share_<col>``, anything else -> ``top_<col>`` (most common value,
        ties alphabetical) and ``top_<col>_share``.

    Returns
    -------
    pandas.DataFrame
        Indexed by cluster label (ascending): customers, customer_share, revenue,
        revenue_share, ``median_<metric>`` for each of `PROFILE_METRICS` (customers
        without a kept order have no recency, tenure or order value and are skipped),
        single_order_share, no_order_share, with the clv columns (`join_clv`) also
        share_likely_lapsed, median_p_alive, predicted_value, predicted_value_share and
        churn_high_share (`helpers.persona_traits.clv_figures`), then the trait columns
        and, when a trait is text, a category or true/false, ``make_up``: a tuple of
        `TraitLevel` per cluster, one per such trait (`categorical_make_up`).
        ``customers``, ``revenue`` and ``predicted_value`` add up to the table's.

    Examples
    --------
    >>> table = pd.DataFrame({"customer_id": ["a", "b", "c"], "cluster": [0, 0, 1],
    ...     "recency_days": [10.0, 30.0, 200.0], "frequency": [4, 2, 1],
    ...     "monetary": [400.0, 200.0, 50.0], "avg_order_value": [100.0, 100.0, 50.0],
    ...     "tenure_days": [300.0, 100.0, 200.0], "channel": ["web", "web", "shop"]})
    >>> profiles = cluster_profiles(table)
    >>> profiles[["customers", "revenue", "median_recency_days", "top_channel"]].to_dict("index")
    {0: {'customers': 2, 'revenue': 600.0, 'median_recency_days': 20.0, 'top_channel': 'web'}, \
1: {'customers': 1, 'revenue': 50.0, 'median_recency_days': 200.0, 'top_channel': 'shop'}}
    """
    traits = trait_columns(customers) if traits is None else list(traits)
    total_customers = len(customers)
    total_revenue = float(customers["monetary"].sum())
    total_predicted = _total_predicted(customers)
    rows = {
        label: _profile(group, total_customers, total_revenue, traits, total_predicted)
        for label, group in customers.groupby(CLUSTER_COLUMN, sort=True)
    }
    profiles = pd.DataFrame.from_dict(rows, orient="index")
    profiles.index.name = CLUSTER_COLUMN
    profiles["customers"] = profiles["customers"].astype("int64")
    make_up = make_up_by_cluster(customers, traits, CLUSTER_COLUMN)
    if make_up is not None:
        profiles["make_up"] = [make_up.get(label, ()) for label in profiles.index]
    return profiles


def overall_profile(customers: pd.DataFrame, traits: Sequence[str] | None = None) -> pd.Series:
    """Profile all customers together, with the columns of `cluster_profiles` (except ``make_up``).

    Returns
    -------
    pandas.Series
        Named ``"All customers"``; shares are 1.
    """
    traits = trait_columns(customers) if traits is None else list(traits)
    row = _profile(customers, len(customers), float(customers["monetary"].sum()), traits,
                   _total_predicted(customers))
    return pd.Series(row, name="All customers")


def _total_predicted(customers: pd.DataFrame) -> float:
    return float(customers["predicted_clv"].sum()) if "predicted_clv" in customers.columns else math.nan


def relative_to_overall(customers: pd.DataFrame, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Return each cluster's mean of each metric relative to the mean of all customers.

    ``mean(cluster) / mean(all) - 1``: 0.5 means 50% above the average customer, -0.5 half
    of it. Missing values are skipped; a metric whose overall mean is 0 gives NaN.

    Parameters
    ----------
    customers : pandas.DataFrame
        Output of `join_clusters`.
    columns : sequence of str, optional
        Numeric columns (default: `PROFILE_METRICS` and the numeric traits).

    Returns
    -------
    pandas.DataFrame
        Clusters (ascending) x columns.

    Examples
    --------
    >>> table = pd.DataFrame({"cluster": [0, 0, 1, 1], "monetary": [30.0, 10.0, 0.0, 0.0]})
    >>> relative_to_overall(table, ["monetary"])["monetary"].tolist()
    [1.0, -1.0]
    """
    if columns is None:
        columns = [*PROFILE_METRICS] + [
            t for t in trait_columns(customers) if trait_kind(customers[t]) == "median"
        ]
    columns = list(columns)
    overall = customers[columns].astype("float64").mean()
    means = customers.groupby(CLUSTER_COLUMN, sort=True)[columns].mean().astype("float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = means / overall.where(overall != 0) - 1
    return relative


def segment_composition(customers: pd.DataFrame) -> pd.DataFrame:
    """Return the share of each RFM segment within each cluster (rows add up to 1).

    Columns follow the segment order of the RFM table (its categories) and segments with
    no customer at all are left out.

    Examples
    --------
    >>> table = pd.DataFrame({"cluster": [0, 0, 1], "segment": ["Lost", "Loyal", "Lost"]})
    >>> segment_composition(table).to_dict("index")
    {0: {'Lost': 0.5, 'Loyal': 0.5}, 1: {'Lost': 1.0, 'Loyal': 0.0}}
    """
    segment = customers["segment"]
    order = (
        [str(s) for s in segment.cat.categories]
        if isinstance(segment.dtype, pd.CategoricalDtype)
        else sorted(segment.astype(str).unique())
    )
    counts = pd.crosstab(customers[CLUSTER_COLUMN], segment.astype(str))
    counts = counts.reindex(columns=[s for s in order if s in counts.columns])
    counts.columns.name = "segment"
    return counts.div(counts.sum(axis=1), axis=0)



# --------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------

# Words used to tell clusters with the same name apart, per metric: larger / smaller value
# for two clusters, largest / smallest for more, and the noun for the ranks in between.
_DISTINGUISH: dict[str, tuple[str, str, str, str, str]] = {
    "monetary": ("higher spend", "lower spend", "highest spend", "lowest spend", "spend"),
    "frequency": ("more orders", "fewer orders", "most orders", "fewest orders", "orders"),
    "recency_days": ("less recent", "more recent", "least recent", "most recent", "recency"),
    "avg_order_value": ("larger baskets", "smaller baskets", "largest baskets", "smallest baskets", "basket size"),
    "tenure_days": ("longer-standing", "newer", "longest-standing", "newest", "tenure"),
}


def _spread(values: pd.Series, overall: float) -> float:
    finite = values.dropna()
    if len(finite) < 2 or finite.nunique() < 2:
        return 0.0
    scale = abs(overall) if math.isfinite(overall) and overall != 0 else float(finite.abs().max()) or 1.0
    return float((finite.max() - finite.min()) / scale)


def disambiguate_names(personas: pd.DataFrame, overall: Mapping[str, Any]) -> pd.Series:
    """Give clusters that share a persona name a suffix from the trait that tells them apart.

    Among the clusters sharing a name, the metric of `_DISTINGUISH` whose medians differ
    most (relative to the overall median) is chosen. Two clusters get the comparative
    ("Lapsing customers (higher spend)" / "(lower spend)"); more get "highest" and
    "lowest" at the ends and a rank in between ("spend rank 2 of 4"). Should names still
    repeat (identical medians), a number follows (" 2", " 3"), by size then label.

    Parameters
    ----------
    personas : pandas.DataFrame
        ``persona``, ``customers`` and ``median_<metric>`` columns, indexed by cluster.
    overall : mapping
        `overall_profile`.

    Returns
    -------
    pandas.Series
        Unique names, same index.

    Examples
    --------
    >>> frame = pd.DataFrame({"persona": ["Lapsing", "Lapsing", "New"], "customers": [5, 3, 2],
    ...     "median_monetary": [100.0, 900.0, 50.0], "median_frequency": [1.0, 1.0, 1.0]})
    >>> disambiguate_names(frame, {"median_monetary": 300.0, "median_frequency": 1.0}).tolist()
    ['Lapsing (lower spend)', 'Lapsing (higher spend)', 'New']
    """
    names = personas["persona"].astype(str).copy()
    for name in sorted(names[names.duplicated(keep=False)].unique()):
        members = personas[names == name]
        for label, suffix in _suffixes(members, overall).items():
            names[label] = f"{name} ({suffix})"
    # Last resort: identical medians, or a suffixed name equal to another persona's name.
    if not names.is_unique:
        names = _number_repeats(names, personas["customers"])
    return names


def _suffixes(members: pd.DataFrame, overall: Mapping[str, Any]) -> dict[Any, str]:
    """Suffix per cluster of one shared name, from the metric that differs most (none: {})."""
    metrics = [m for m in _DISTINGUISH if f"median_{m}" in members.columns]
    spreads = {m: _spread(members[f"median_{m}"], float(overall.get(f"median_{m}", math.nan))) for m in metrics}
    best = max(metrics, key=lambda m: spreads[m]) if metrics else None
    if best is None or spreads[best] == 0:
        return {}
    larger, smaller, largest, smallest, noun = _DISTINGUISH[best]
    order = members[f"median_{best}"].rank(method="first", ascending=False, na_option="bottom").astype(int)
    n = len(members)
    suffixes = {}
    for label, position in order.items():
        if n == 2:
            suffixes[label] = larger if position == 1 else smaller
        elif position == 1:
            suffixes[label] = largest
        elif position == n:
            suffixes[label] = smallest
        else:
            suffixes[label] = f"{noun} rank {position} of {n}"
    return suffixes


def _number_repeats(names: pd.Series, customers: pd.Series) -> pd.Series:
    """Number repeated names (" 2", " 3"): the largest cluster keeps the plain name."""
    names = names.copy()
    seen: dict[str, int] = {}
    for label in customers.sort_values(ascending=False, kind="mergesort").index:
        base = names[label]
        seen[base] = seen.get(base, 0) + 1
        if seen[base] > 1:
            k = seen[base]
            while f"{base} {k}" in set(names):
                k += 1
            names[label] = f"{base} {k}"
    return names


def format_days(value: float) -> str:
    """Write a number of days: ``1,234``, ``n/a`` when missing."""
    return "n/a" if not math.isfinite(value) else f"{value:,.0f}"


def format_count(value: float) -> str:
    """Write a count with at most one decimal: ``5``, ``1.5``, ``n/a`` when missing."""
    return "n/a" if not math.isfinite(value) else f"{value:,.1f}".removesuffix(".0")


def format_money(value: float) -> str:
    """Write an amount without decimals or currency: ``1,910``, ``n/a`` when missing."""
    return "n/a" if not math.isfinite(value) else f"{value:,.0f}"


def describe_persona(profile: Mapping[str, Any], overall: Mapping[str, Any], why: str) -> str:
    """Write one paragraph on a persona with its figures against all customers.

    Examples
    --------
    >>> overall = {"median_recency_days": 51.0, "median_frequency": 2.0, "median_monetary": 642.6,
    ...            "median_avg_order_value": 282.7}
    >>> cluster = {"customers": 1703, "customer_share": 0.39, "revenue_share": 0.848,
    ...            "median_recency_days": 24.0, "median_frequency": 5.0, "median_monetary": 1910.0,
    ...            "median_avg_order_value": 338.0}
    >>> describe_persona(cluster, overall, "They buy often.")  # doctest: +NORMALIZE_WHITESPACE
    '1,703 customers (39.0% of all) bring 84.8% of net revenue. They buy often. The median
    customer last ordered 24 days ago (all customers: 51), placed 5 orders (2) and spent
    1,910 in net revenue (643), 338 per order (283).'

    With the future-value model (``share_likely_lapsed`` and friends, see `cluster_profiles`)
    a sentence in absolute words follows, e.g. "62% are likely lapsed (P(alive) < 50% or churn risk High); they
    hold 3.1% of the predicted value and 70% are at high churn risk." With categorical
    traits (``make_up``) the paragraph ends with the make-up (`make_up_text`), e.g.
    "Make-up: 62% women (gender; all customers: 50%)."
    """
    def get(row: Mapping[str, Any], key: str) -> float:
        value = row.get(key)
        return float(value) if value is not None and pd.notna(value) else math.nan

    n, share = int(profile["customers"]), get(profile, "revenue_share")
    who = f"{n:,} customer{'s' if n != 1 else ''} ({get(profile, 'customer_share'):.1%} of all)"
    verb = "brings" if n == 1 else "bring"
    if math.isfinite(share) and share > 0:
        head = f"{who} {verb} {share:.1%} of net revenue."
    else:
        head = f"{who} {verb} no net revenue ({format_money(get(profile, 'revenue'))} in total)."
    r, f = get(profile, "median_recency_days"), get(profile, "median_frequency")
    m, aov = get(profile, "median_monetary"), get(profile, "median_avg_order_value")
    if not math.isfinite(r):
        figures = (
            f"They have no kept order; their median net revenue is {format_money(m)} "
            f"(all customers: {format_money(get(overall, 'median_monetary'))})."
        )
    else:
        figures = (
            f"The median customer last ordered {format_days(r)} days ago (all customers: "
            f"{format_days(get(overall, 'median_recency_days'))}), placed {format_count(f)} "
            f"order{'' if f == 1 else 's'} "
            f"({format_count(get(overall, 'median_frequency'))}) and spent {format_money(m)} in net "
            f"revenue ({format_money(get(overall, 'median_monetary'))}), {format_money(aov)} per order "
            f"({format_money(get(overall, 'median_avg_order_value'))})."
        )
    make_up = profile.get("make_up")
    mix = f" Make-up: {make_up_text(make_up)}." if isinstance(make_up, tuple) and make_up else ""
    return f"{head} {why} {figures}{future_sentence(profile)}{mix}"


def name_personas(
    profiles: pd.DataFrame,
    overall: Mapping[str, Any],
    ratio: float = DEFAULT_RATIO,
    overrides: Mapping[Any, Any] | None = None,
    product_data: bool = True,
) -> pd.DataFrame:
    """Name every cluster by the first persona rule that fires, with a description and actions.

    Parameters
    ----------
    profiles : pandas.DataFrame
        Output of `cluster_profiles`.
    overall : mapping
        Output of `overall_profile`.
    ratio : float, default 1.5
        See `cluster_levels`; must be > 1.
    overrides : mapping, optional
        ``personas.overrides`` (see `check_overrides`): a cluster label's entry wins over
        its rule's entry; each field replaces the generated one.
    product_data : bool, default True
        False when the export has no product ids or descriptions (no top products): the
        rules' actions that need them (`product_free_actions`) are left out; actions from
        overrides are kept as written.

    Returns
    -------
    pandas.DataFrame
        The profile columns plus ``persona`` (unique), ``rule``, ``description``,
        ``actions`` (tuple), ``overridden`` (bool), indexed by cluster; rows by revenue
        share, largest first (ties: label). ``attrs["unused_overrides"]`` lists cluster
        overrides that match no cluster.

    Raises
    ------
    UserError
        A ratio not above 1, or invalid overrides.
    """
    if not isinstance(ratio, (int, float)) or isinstance(ratio, bool) or not ratio > 1:
        raise UserError(f"key 'personas.ratio' must be a number above 1, got {ratio!r}; fix: use e.g. 1.5")
    checked = check_overrides(overrides)
    rows = [_named_row(label, profile, overall, ratio, checked, product_data) for label, profile in profiles.iterrows()]
    personas = profiles.join(pd.DataFrame(rows).set_index(CLUSTER_COLUMN))
    personas["persona"] = disambiguate_names(personas, overall)
    personas["_label"] = personas.index
    personas = personas.sort_values(
        ["revenue_share", "_label"], ascending=[False, True], kind="mergesort", na_position="last"
    ).drop(columns="_label")
    labels = {int(v) for v in profiles.index}
    personas.attrs["unused_overrides"] = sorted(k for k in checked if isinstance(k, int) and k not in labels)
    first = ["persona", "rule"]
    return personas.loc[:, first + [c for c in personas.columns if c not in first]]


def _named_row(
    label: Any, profile: pd.Series, overall: Mapping[str, Any], ratio: float,
    checked: Mapping[Any, Mapping[str, Any]], product_data: bool = True,
) -> dict[str, Any]:
    """Name one cluster: its rule, then the rule's override, then the cluster's own override."""
    rule = match_rule(cluster_levels(profile, overall, ratio))
    entry = {**checked.get(rule.key, {}), **checked.get(int(label), {})}
    actions = rule.actions if product_data else product_free_actions(rule.actions)
    return {
        CLUSTER_COLUMN: label,
        "persona": entry.get("name", rule.name),
        "rule": rule.key,
        "description": entry.get("description") or describe_persona(profile, overall, rule.why),
        "actions": tuple(entry.get("actions", actions)),
        "overridden": bool(entry),
    }


def persona_metrics(personas: pd.DataFrame) -> dict[str, Any]:
    """Return the figures ``index.html`` shows: ``{"personas": [{persona, customers, ...}]}``.

    With the future-value model each persona also carries ``predicted_value_share``,
    ``likely_lapsed_share`` and ``churn_high_share`` (None when missing).

    Examples
    --------
    >>> frame = pd.DataFrame({"persona": ["A"], "customers": [3], "customer_share": [1.0],
    ...                       "revenue_share": [1.0], "actions": [("Call", "Write")]})
    >>> persona_metrics(frame)
    {'personas': [{'persona': 'A', 'customers': 3, 'customer_share': 1.0, 'revenue_share': 1.0, 'action': 'Call'}]}
    """
    def share(row: pd.Series, column: str) -> float | None:
        value = row.get(column)
        return round(float(value), 6) if value is not None and pd.notna(value) else None

    future = "share_likely_lapsed" in personas.columns
    rows = []
    for _, row in personas.iterrows():
        entry = {
            "persona": str(row["persona"]),
            "customers": int(row["customers"]),
            "customer_share": round(float(row["customer_share"]), 6),
            "revenue_share": share(row, "revenue_share"),
            "action": str(row["actions"][0]) if len(row["actions"]) else "",
        }
        if future:
            entry |= {"predicted_value_share": share(row, "predicted_value_share"),
                      "likely_lapsed_share": share(row, "share_likely_lapsed"),
                      "churn_high_share": share(row, "churn_high_share")}
        rows.append(entry)
    return {"personas": rows}
