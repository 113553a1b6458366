"""Charts and report lines for the optional demographics and web sessions (02_eda, section 9).

Presentation only: each plot takes the customer table after `helpers.traits.join_traits`
and returns ``(Figure or None, takeaway)``; `join_summary` says which optional inputs were
used and how they joined. The spend chart names the currency given ``formats``
(`helpers.formatting.Formats`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from helpers.formatting import Formats
from helpers.page_formats import money_label, tick_formatter
from helpers.traits import AGE_LABELS


def join_summary(counts: Mapping[str, int], demographics_on: bool, sessions_on: bool) -> list[str]:
    """Return report lines saying which optional inputs were used and how they joined."""
    lines = []
    if demographics_on:
        lines.append(
            f"Demographics: {counts.get('with_demographics', 0):,} customers matched; "
            f"{counts.get('demographics_only', 0):,} ids in the customer table never ordered (not segmented)."
        )
    else:
        lines.append("Demographics: not provided (customers_input.path is null), so age, gender and location are off.")
    if sessions_on:
        lines.append(
            f"Web sessions: {counts.get('with_sessions', 0):,} customers have sessions; "
            f"{counts.get('sessions_only', 0):,} visitors with sessions never ordered (not segmented); "
            "customers without sessions get zero engagement."
        )
    else:
        lines.append("Web sessions: not provided (sessions_input.path is null), so engagement features are off.")
    return lines


def _fig(width: float = 9, height: float = 4.5):
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height), layout="constrained")


def plot_age_gender(customers: pd.DataFrame) -> tuple[Any, str]:
    """Bar-chart customers per age band, split by gender when known; return (fig, takeaway)."""
    data = customers.dropna(subset=["age_band"])
    if data.empty:
        return None, "No customer has an age or birth date, so the age mix cannot be shown."
    gender = data["gender"].fillna("unknown") if "gender" in data else pd.Series("all", index=data.index)
    table = pd.crosstab(data["age_band"], gender).reindex(list(AGE_LABELS), fill_value=0)
    fig, ax = _fig()
    table.plot.bar(ax=ax, rot=0, width=0.8)
    ax.set(title="Customers by age band and gender", xlabel="Age band (years)", ylabel="Customers")
    ax.legend(title="Gender")
    ax.grid(axis="y", alpha=0.3)
    top_band = table.sum(axis=1).idxmax()
    shares = gender.value_counts(normalize=True)
    mix = ", ".join(f"{k} {v:.0%}" for k, v in shares.items())
    return fig, (f"The largest age band is {top_band} ({table.sum(axis=1).max() / len(data):.0%} of customers "
                 f"with an age); gender mix: {mix}.")


def plot_locations(customers: pd.DataFrame, n: int = 10) -> tuple[Any, str]:
    """Bar-chart the customers' most common cities (or regions, or countries)."""
    column = next((c for c in ("city", "region", "home_country") if c in customers and customers[c].notna().any()), None)
    if column is None:
        return None, "The customer table has no location, so the location mix cannot be shown."
    counts = customers[column].dropna().value_counts().head(n).sort_values()
    fig, ax = _fig(9, max(2.5, 0.35 * len(counts) + 1))
    ax.barh(counts.index.astype(str), counts.to_numpy(), color="#4c72b0")
    ax.set(title=f"Customers by {column.replace('home_', '')} (top {len(counts)})", xlabel="Customers",
           ylabel=column.replace("home_", "").capitalize())
    ax.grid(axis="x", alpha=0.3)
    share = counts.iloc[-1] / customers[column].notna().sum()
    return fig, f"{counts.index[-1]} is the most common {column.replace('home_', '')} ({share:.0%} of customers with one)."


def plot_engagement(customers: pd.DataFrame) -> tuple[Any, str]:
    """Histogram the engagement of customers with sessions (sessions/month, pages, duration)."""
    active = customers[customers.get("has_sessions", False) == True]  # noqa: E712 (pandas mask)
    if active.empty:
        return None, "No customer has a web session before the analysis date."
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, 3, figsize=(10, 3.6), layout="constrained")
    panels = [("sessions_per_active_month", "Sessions per active month"),
              ("pages_per_session", "Pages per session"),
              ("mean_session_duration_s", "Mean session duration (s)")]
    for ax, (col, label) in zip(axes, panels, strict=True):
        ax.hist(active[col].dropna(), bins=30, color="#4c72b0")
        ax.set(xlabel=label, ylabel="Customers")
        ax.xaxis.set_major_locator(MaxNLocator(4))
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("Web engagement of customers with sessions")
    share = len(active) / len(customers)
    return fig, (f"{share:.0%} of customers have web sessions; the median customer with sessions has "
                 f"{active['sessions_per_active_month'].median():.1f} sessions per active month and views "
                 f"{active['pages_per_session'].median():.0f} pages per session.")


def plot_engagement_vs_spend(
    customers: pd.DataFrame, max_points: int = 20000, seed: int = 42, formats: Formats | None = None
) -> tuple[Any, str]:
    """Scatter sessions against net revenue (log axes), with the Spearman correlation.

    Parameters
    ----------
    customers : pandas.DataFrame
        The customer table after `helpers.traits.join_traits`.
    max_points : int, default 20000
        Most customers drawn (a random sample with `seed` beyond that).
    seed : int, default 42
    formats : Formats, optional
        Names the currency on the revenue axis, ticks in the locale's style.

    Returns
    -------
    (Figure or None, str)
        The figure and a sentence with the Spearman correlation.
    """
    active = customers[(customers.get("has_sessions", False) == True) & (customers["net_revenue"] > 0)]  # noqa: E712
    if len(active) < 3:
        return None, "Too few customers with both sessions and positive revenue to relate engagement and spend."
    shown = active.sample(min(len(active), max_points), random_state=seed)
    fig, ax = _fig()
    ax.scatter(shown["sessions"], shown["net_revenue"], s=6, alpha=0.35, color="#4c72b0")
    ax.set(xscale="log", yscale="log", title="Engagement vs spend", xlabel="Web sessions (log scale)",
           ylabel=money_label("Net revenue", formats, "log scale"))
    if formats is not None:
        ax.yaxis.set_major_formatter(tick_formatter(formats))
    ax.grid(alpha=0.3)
    rho = active["sessions"].corr(active["net_revenue"], method="spearman")
    strength = "strongly" if abs(rho) >= 0.6 else ("moderately" if abs(rho) >= 0.3 else "weakly")
    direction = "rises" if rho > 0 else "falls"
    return fig, f"Net revenue {direction} {strength} with the number of sessions (Spearman {rho:.2f}, {len(active):,} customers)."
