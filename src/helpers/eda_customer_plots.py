"""Customer-level charts and takeaways for 02_eda: feature correlations, revenue against orders, cohorts.

Presentation only, like `helpers.eda_plots` (whose helpers and style these charts share):
each plot takes a small frame of `helpers.eda` and returns ``(Figure or None, takeaway)``.
The cohort heatmap hatches the cells of partial months (`helpers.eda.month_coverage`) and
leaves them out of its sentence; the revenue scatter names the currency given ``formats``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import FuncFormatter

from helpers.eda import check_positive
from helpers.eda_histograms import wants_log
from helpers.eda_plots import (
    COLOR,
    FIGSIZE,
    count_phrase,
    format_share,
    no_chart,
    number_axis,
)
from helpers.formatting import Formats
from helpers.heatmap import draw_heatmap
from helpers.page_formats import money_label

PARTIAL_HATCH = "////"


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
        cmap="diverging",
        annot=True,
        fmt=".2f",
        linewidths=0.5,
        cbar_kws={"label": "Spearman correlation"},
    )
    ax.set_title(title)
    ax.tick_params(axis="x", labelrotation=30)
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
    customers: pd.DataFrame, max_points: int = 20_000, seed: int = 42, formats: Formats | None = None
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
    formats : Formats, optional
        Names the currency on the revenue axis, ticks in the locale's style.

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
    number_axis(ax.xaxis, log_x, counts=True, formats=formats)
    number_axis(ax.yaxis, log_y, formats=formats)
    ax.set_xlabel("Purchase orders" + (" (log scale)" if log_x else ""))
    ax.set_ylabel(money_label("Net revenue", formats, "log scale" if log_y else ""))
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


def _hatch_partial_cells(ax, retention: pd.DataFrame, rows: list, columns: list) -> str:
    """Hatch the heatmap cells that fall in a partial month; return the legend text ("" if none).

    Cell (cohort, months since first) sits at column j, row i of the heatmap, as `helpers.heatmap.draw_heatmap` draws it.
    """
    partial = retention[retention["partial"]] if "partial" in retention.columns else retention.iloc[0:0]
    for _, cell in partial.iterrows():
        i, j = rows.index(cell["cohort"]), columns.index(cell["months_since_first"])
        colour = "white" if cell["retention"] > 0.6 else "#555555"  # visible on dark and light blue
        ax.add_patch(Rectangle((j, i), 1, 1, fill=False, hatch=PARTIAL_HATCH, edgecolor=colour, linewidth=0))
    months = partial.drop_duplicates("month").sort_values("month")
    parts = [f"{m['month']:%b %Y}: {int(m['days_covered'])} of {int(m['days_in_month'])} days" for _, m in months.iterrows()]
    return f"partial month, fewer days of data ({'; '.join(parts)})" if parts else ""


def plot_cohort_retention(retention: pd.DataFrame) -> tuple[Figure | None, str]:
    """Draw cohort retention as a heatmap: cohorts down, months since first purchase across.

    Cells in a partial month (``partial`` of `helpers.eda_cohorts.cohort_retention`: the data miss
    some of its days, e.g. the last diagonal when the export ends on 9 December) are
    hatched, with a legend entry saying how many days the data cover.

    Parameters
    ----------
    retention : pandas.DataFrame
        Output of `helpers.eda_cohorts.cohort_retention`.

    Returns
    -------
    (Figure or None, str)
        The figure and a sentence on the average share of customers who buy again in the
        month after their first purchase month, over the cohorts whose following month is
        covered in full (`cohort_takeaway`).
    """
    title = "Monthly cohort retention"
    if retention.empty:
        return no_chart("There are no purchases, so there are no cohorts.")
    grid = retention.pivot(index="cohort", columns="months_since_first", values="retention")
    sizes = retention.groupby("cohort")["cohort_size"].first()
    rows, columns = list(grid.index), list(grid.columns)
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
    legend = _hatch_partial_cells(ax, retention, rows, columns)
    if legend:  # below the chart, where it hides no cell
        fig.legend(handles=[Patch(facecolor="white", edgecolor="#555555", hatch=PARTIAL_HATCH, label=legend)],
                   loc="outside lower center", fontsize=8, frameon=False)
    ax.set_title(title)
    ax.set_xlabel("Months since first purchase")
    ax.set_ylabel("Cohort (month of first purchase, size)")
    ax.tick_params(axis="y", labelrotation=0)
    return fig, cohort_takeaway(retention)


def cohort_takeaway(retention: pd.DataFrame) -> str:
    """Say what share of new customers buy again the month after, over full following months.

    A cohort whose following month is partial (the data miss some of its days) would read
    as a drop in retention, so it is left out, and the sentence says which month and why.

    Parameters
    ----------
    retention : pandas.DataFrame
        Output of `helpers.eda_cohorts.cohort_retention` (not empty).

    Returns
    -------
    str
        One sentence, e.g. "On average 23% of new customers buy again in the month after
        their first purchase (11 cohorts with a following month; left out: 1 cohort whose
        following month, December 2011, has 9 of 31 days of data)."
    """
    month_one = retention[retention["months_since_first"] == 1]
    if month_one.empty:
        return "Retention cannot be measured yet: the data has only the cohorts' first month."
    partial = month_one["partial"].astype(bool) if "partial" in month_one.columns else month_one["cohort"].isna()
    full, left_out = month_one[~partial], month_one[partial]
    note = ""
    if not left_out.empty:  # only the last month of the data can be a partial following month
        month = left_out.iloc[0]
        days = f"{month['month']:%B %Y}, has {int(month['days_covered'])} of {int(month['days_in_month'])} days of data"
        if full.empty:
            return f"Retention cannot be measured yet: the only month after a first purchase month, {days}."
        note = f"; left out: {count_phrase(len(left_out), 'cohorts')} whose following month, {days}"
    share = full["active_customers"].sum() / full["cohort_size"].sum()
    return (
        f"On average {format_share(share)} of new customers buy again in the month after their first "
        f"purchase ({count_phrase(len(full), 'cohorts')} with a following month{note})."
    )
