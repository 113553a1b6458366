"""Customer-level charts and takeaways for 02_eda: feature correlations, revenue against orders, cohorts.

Presentation only, like `helpers.eda_plots` (whose helpers and style these charts share):
each plot takes a small frame of `helpers.eda` and returns ``(Figure or None, takeaway)``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from helpers.eda import check_positive
from helpers.eda_histograms import wants_log
from helpers.eda_plots import (
    COLOR,
    FIGSIZE,
    count_phrase,
    draw_heatmap,
    format_share,
    no_chart,
    number_axis,
)


def _constant_note(constant: list[str]) -> str:
    """Say which features were left out of the correlations for having one value."""
    if not constant:
        return ""
    names = [name.replace("_", " ") for name in constant]
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    verb = "is" if len(names) == 1 else "are"
    return f"; {listed} {verb} left out because every customer has the same value"


def plot_correlations(corr: pd.DataFrame) -> tuple[Figure | None, str]:
    """Draw the Spearman correlation matrix as an annotated heatmap.

    Parameters
    ----------
    corr : pandas.DataFrame
        Output of `helpers.eda.customer_correlations`.

    Returns
    -------
    (Figure or None, str)
        The figure and a sentence naming the most strongly related pair of features and
        the constant features left out (``attrs["constant"]``).
    """
    title = "Spearman correlation between customer features"
    note = _constant_note(list(corr.attrs.get("constant", [])))
    if corr.shape[0] < 2:
        return no_chart(
            f"Fewer than two customer features vary, so there is nothing to correlate{note}."
        )
    fig, ax = plt.subplots(figsize=(FIGSIZE[0], 6), layout="constrained")
    draw_heatmap(
        corr,
        ax,
        vmin=-1,
        vmax=1,
        center=0,
        cmap="vlag",
        annot=True,
        fmt=".2f",
        linewidths=0.5,
        cbar_kws={"label": "Spearman correlation"},
    )
    ax.set_title(title)
    ax.tick_params(axis="x", labelrotation=30)
    ax.tick_params(axis="y", labelrotation=0)  # seaborn turns them upright for few rows
    plt.setp(ax.get_xticklabels(), ha="right", rotation_mode="anchor")
    ax.set_xlabel("Customer feature")
    ax.set_ylabel("Customer feature")

    upper = corr.where(np.triu(np.ones(corr.shape, dtype=bool), k=1)).stack().dropna()
    if upper.empty:
        return fig, f"Too few customers to measure any correlation{note}."
    first, second = upper.abs().idxmax()
    rho = upper[(first, second)]
    first, second = (str(name).replace("_", " ") for name in (first, second))
    takeaway = f"The strongest link is between {first} and {second} (Spearman {rho:.2f}){note}."
    return fig, takeaway


def plot_revenue_vs_orders(
    customers: pd.DataFrame, max_points: int = 20_000, seed: int = 42
) -> tuple[Figure | None, str]:
    """Scatter customer net revenue against orders, sampling at most `max_points` customers.

    Customers without a purchase order are left out; on a log revenue axis so are
    customers with net revenue <= 0, and the sentence says how many.

    Parameters
    ----------
    customers : pandas.DataFrame
        Output of `helpers.eda.customer_summary`.
    max_points : int, default 20000
        Most customers drawn; a random sample with `seed` beyond that.
    seed : int, default 42
        Random seed of the sample.

    Returns
    -------
    (Figure or None, str)
        The figure and a sentence with the Spearman correlation over all customers shown.
    """
    check_positive("max_points", max_points)
    title = "Customer net revenue vs purchase orders"
    buyers = customers[customers["orders"] > 0]
    if buyers.empty:
        return no_chart("No customer has a purchase order, so there is nothing to plot.")
    orders = buyers["orders"].to_numpy(dtype="float64")
    revenue = buyers["net_revenue"].to_numpy(dtype="float64")
    log_x, log_y = wants_log(orders), wants_log(revenue)
    shown = buyers[buyers["net_revenue"] > 0] if log_y else buyers
    hidden = len(buyers) - len(shown)
    sample = shown.sample(n=min(max_points, len(shown)), random_state=seed)

    fig, ax = plt.subplots(figsize=FIGSIZE, layout="constrained")
    ax.scatter(
        sample["orders"], sample["net_revenue"], s=10, alpha=0.35, color=COLOR, linewidths=0
    )
    if log_x:
        ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log")
    number_axis(ax.xaxis, log_x, counts=True)
    number_axis(ax.yaxis, log_y)
    ax.set_xlabel("Purchase orders" + (" (log scale)" if log_x else ""))
    ax.set_ylabel("Net revenue" + (" (log scale)" if log_y else ""))
    sampled = f", {len(sample):,} of {len(shown):,} shown" if len(sample) < len(shown) else ""
    ax.set_title(f"{title}{sampled}")
    ax.grid(alpha=0.3)

    note = (
        f"; {count_phrase(hidden, 'customers')} with net revenue of 0 or less not shown" if hidden else ""
    )
    return fig, f"{_revenue_orders_relation(buyers)}{note}."


def _revenue_orders_relation(buyers: pd.DataFrame) -> str:
    """Say how net revenue moves with orders (Spearman over every buyer), without a full stop."""
    # DataFrame.corr ranks in pandas itself; Series.corr(method="spearman") would need scipy.
    rho = buyers[["orders", "net_revenue"]].corr(method="spearman").iloc[0, 1]
    if pd.isna(rho):
        return (
            "There are too few distinct values to relate orders and net revenue "
            f"({count_phrase(len(buyers), 'customers')})"
        )
    trend = "rises" if rho >= 0.3 else "falls" if rho <= -0.3 else "barely moves"
    return (
        f"Net revenue {trend} with the number of orders "
        f"(Spearman {rho:.2f} over {count_phrase(len(buyers), 'customers')})"
    )


def plot_cohort_retention(retention: pd.DataFrame) -> tuple[Figure | None, str]:
    """Draw cohort retention as a heatmap: cohorts down, months since first purchase across.

    Parameters
    ----------
    retention : pandas.DataFrame
        Output of `helpers.eda.cohort_retention`.

    Returns
    -------
    (Figure or None, str)
        The figure and a sentence on the average share of customers who buy again in the
        month after their first purchase month.
    """
    title = "Monthly cohort retention"
    if retention.empty:
        return no_chart("There are no purchases, so there are no cohorts.")
    grid = retention.pivot(index="cohort", columns="months_since_first", values="retention")
    sizes = retention.groupby("cohort")["cohort_size"].first()
    grid.index = [f"{cohort:%Y-%m} (n={sizes[cohort]:,})" for cohort in grid.index]
    small = grid.shape[0] <= 24 and grid.shape[1] <= 24
    height = min(max(FIGSIZE[1], 0.32 * grid.shape[0] + 1.5), 14)
    fig, ax = plt.subplots(figsize=(FIGSIZE[0], height), layout="constrained")
    draw_heatmap(
        grid,
        ax,
        vmin=0,
        vmax=1,
        cmap="Blues",
        annot=small,
        fmt=".0%",
        annot_kws={"fontsize": 7},
        cbar_kws={
            "label": "Share of cohort active",
            "format": FuncFormatter(lambda x, _: f"{x:.0%}"),
        },
    )
    ax.set_title(title)
    ax.set_xlabel("Months since first purchase")
    ax.set_ylabel("Cohort (month of first purchase, size)")
    ax.tick_params(axis="y", labelrotation=0)

    month_one = retention[retention["months_since_first"] == 1]
    if month_one.empty:
        return fig, "Retention cannot be measured yet: the data has only the cohorts' first month."
    share = month_one["active_customers"].sum() / month_one["cohort_size"].sum()
    takeaway = (
        f"On average {format_share(share)} of new customers buy again in the month after their first "
        f"purchase ({count_phrase(len(month_one), 'cohorts')} with a following month)."
    )
    return fig, takeaway
