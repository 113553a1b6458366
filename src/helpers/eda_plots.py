"""Charts and one-sentence takeaways for 02_eda: months, order sizes, countries, products, timing.

Presentation only. Each plot takes one of the small frames of `helpers.eda` or
`helpers.eda_histograms` and returns ``(Figure, takeaway)``, where the takeaway is one
plain-English sentence computed from the data. Charts that show money take ``formats``
(`helpers.formatting.Formats`): axis labels name the currency ("Net revenue (GBP)"), ticks
follow the locale and sentences write amounts with the symbol; without it numbers get
thousands separators and no symbol, as before. When there is nothing to draw (no rows, or
the export lacks the column a chart needs) a plot returns ``(None, sentence)``: the report
shows the sentence, not an empty frame. Partial months (`helpers.eda.month_coverage`) are
drawn dashed and hollow, and left out of the monthly comparison.

The customer-level charts (correlations, revenue against orders, cohorts) are in
`helpers.eda_customer_plots`; they share the helpers below.
"""

from __future__ import annotations

import math

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter

from helpers.eda import check_positive
from helpers.eda_tables import format_count
from helpers.formatting import Formats
from helpers.page_formats import money_label, money_sentence, tick_formatter
from helpers.report import format_number

FIGSIZE: tuple[float, float] = (9.0, 4.5)
COLOR = "#4C72B0"

# Why a frame of `helpers.eda` / `helpers.eda_histograms` is empty (``attrs["missing"]``).
_MISSING_SENTENCES: dict[str, str] = {
    "quantity": "The export has no quantities, so items per order cannot be counted "
    "(its {orders} carry amounts only).",
    "product": "The export has no product ids (nor descriptions), so products cannot be ranked.",
}

_fmt = format_number  # sentence formatting shared with the other steps


# --------------------------------------------------------------------------- helpers


def _fmt_median(value: float, integer: bool, formats: Formats | None = None) -> str:
    """Format an exact median: whole-number data as a count, other data with 2 decimals.

    Given `formats` the median is an amount of money, written with the currency.
    """
    if formats is not None:
        return formats.money(float(value), 0 if integer else 2)
    return format_count(value) if integer else f"{float(value):,.2f}"


def format_share(share: float) -> str:
    """Format a share as a percentage with one decimal below 10%."""
    if share is None or not math.isfinite(share):
        return "n/a"
    return f"{share:.1%}" if abs(share) < 0.1 and share != 0 else f"{share:.0%}"


def count_phrase(n: int, plural: str) -> str:
    """Write a count with its noun, singular for 1: ``count_phrase(1, "orders") == "1 order"``."""
    noun = plural[:-1] if n == 1 and plural.endswith("s") else plural
    return f"{n:,} {noun}"


def number_axis(axis, log: bool = False, counts: bool = False, formats: Formats | None = None) -> None:
    """Label an axis with plain numbers (thousands separators), also on a log scale.

    `counts` keeps the ticks on whole numbers (no "1.5 orders"); `formats` writes them in
    the locale's style (the currency goes in the axis label, `money_label`).
    """
    if log:
        axis.set_minor_formatter(NullFormatter())
    elif counts:
        axis.set_major_locator(MaxNLocator(integer=True))
    axis.set_major_formatter(tick_formatter(formats) if formats else FuncFormatter(lambda x, _pos: _fmt(x)))


def no_chart(message: str) -> tuple[None, str]:
    """Return no figure and `message`, for a chart with nothing to draw.

    An empty frame with a sentence in it would only take space in the report; the
    notebook's ``plt.show()`` shows nothing and the sentence becomes the takeaway.
    """
    return None, message


def _partial_months(monthly: pd.DataFrame) -> pd.Series:
    """Return which rows are partial months (all False for a frame without the column)."""
    if "partial" not in monthly.columns:
        return pd.Series(False, index=monthly.index)
    return monthly["partial"].fillna(False).astype(bool)


def _days_text(row: pd.Series, month_format: str = "%B %Y") -> str:
    """Say how much of a month the data cover: ``December 2011 (9 of 31 days of data)``."""
    return f"{row['month']:{month_format}} ({int(row['days_covered'])} of {int(row['days_in_month'])} days of data)"


def _listed(items: list[str]) -> str:
    """Join ``a``, ``a and b``, ``a, b and c``."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def partial_legend(monthly: pd.DataFrame) -> str:
    """Return the legend entry of the partial months, e.g. ``partial month (9 of 31 days)``.

    Examples
    --------
    >>> monthly = pd.DataFrame({"month": pd.to_datetime(["2011-01-01", "2011-03-01"]),
    ...     "days_covered": [29, 10], "days_in_month": [31, 31], "partial": [True, True]})
    >>> partial_legend(monthly.iloc[1:])
    'partial month (10 of 31 days)'
    >>> partial_legend(monthly)
    'partial months (Jan 2011: 29 of 31 days, Mar 2011: 10 of 31 days)'
    """
    rows = monthly[_partial_months(monthly)]
    if len(rows) == 1:
        row = rows.iloc[0]
        return f"partial month ({int(row['days_covered'])} of {int(row['days_in_month'])} days)"
    parts = [f"{r['month']:%b %Y}: {int(r['days_covered'])} of {int(r['days_in_month'])} days" for _, r in rows.iterrows()]
    return f"partial months ({', '.join(parts)})"


def _draw_month_panel(ax, monthly: pd.DataFrame, column: str, partial: pd.Series) -> None:
    """Draw one monthly series: full months solid, lines to and points of partial months dashed and hollow."""
    months, values = monthly["month"], monthly[column]
    if not partial.any():
        ax.plot(months, values, marker="o", color=COLOR)
        return
    ax.plot(months, values, color=COLOR, linestyle="--", linewidth=1.2)
    ax.plot(months, values.where(~partial), marker="o", color=COLOR)  # NaN breaks the solid line
    ax.plot(months[partial], values[partial], linestyle="none", marker="o", markerfacecolor="white",
            markeredgecolor=COLOR, markeredgewidth=1.5)


def plot_monthly(monthly: pd.DataFrame, formats: Formats | None = None) -> tuple[Figure | None, str]:
    """Plot net revenue, orders and active customers per month in three stacked panels.

    Partial months (the data miss some of their days; ``partial`` of
    `helpers.eda.monthly_summary`) are drawn as hollow points joined by dashed lines, with
    a legend entry such as "partial month (9 of 31 days)", and left out of the sentence's
    comparison, which says so.

    Parameters
    ----------
    monthly : pandas.DataFrame
        Output of `helpers.eda.monthly_summary`.
    formats : Formats, optional
        Names the currency on the revenue axis and in the sentence; None keeps plain numbers.

    Returns
    -------
    (Figure or None, str)
        The figure and a sentence naming the top full month and its share of net revenue.
    """
    title = "Net revenue, orders and active customers per month"
    if monthly.empty:
        return no_chart("There are no transactions, so there is no monthly trend.")
    partial = _partial_months(monthly)
    fig, axes = plt.subplots(3, 1, figsize=(FIGSIZE[0], 6.5), sharex=True, layout="constrained")
    panels = (
        ("net_revenue", money_label("Net revenue", formats)),
        ("orders", "Orders"),
        ("active_customers", "Active customers"),
    )
    for ax, (column, label) in zip(axes, panels, strict=True):
        _draw_month_panel(ax, monthly, column, partial)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        number_axis(ax.yaxis, counts=column != "net_revenue", formats=formats)
    if partial.any():
        handles = [Line2D([], [], color=COLOR, marker="o", label="full month"),
                   Line2D([], [], color=COLOR, marker="o", linestyle="--", markerfacecolor="white",
                          label=partial_legend(monthly))]
        axes[0].legend(handles=handles, loc="upper left", fontsize=8)
    axes[0].set_title(title)
    axes[-1].set_xlabel("Month")
    axes[-1].xaxis.set_major_formatter(mdates.DateFormatter("%b %Y"))
    fig.autofmt_xdate()
    return fig, monthly_takeaway(monthly, formats)


def monthly_takeaway(monthly: pd.DataFrame, formats: Formats | None = None) -> str:
    """Name the top month by net revenue among the full months, and say which were left out.

    With one month only there is nothing to compare and the sentence is as before; when
    every month is partial they are compared as they are, and the sentence says so.

    Parameters
    ----------
    monthly : pandas.DataFrame
        Output of `helpers.eda.monthly_summary` (not empty).
    formats : Formats, optional
        Writes the amount with the currency.

    Returns
    -------
    str
        One sentence, e.g. "November 2011 was the top full month with 1,113,102 net revenue
        (13% of the total); the comparison leaves out the partial month December 2011 (9 of
        31 days of data)."
    """
    partial = _partial_months(monthly) if len(monthly) > 1 else pd.Series(False, index=monthly.index)
    compared = monthly[~partial] if (~partial).any() else monthly
    top = compared.loc[compared["net_revenue"].idxmax()]
    total = monthly["net_revenue"].sum()
    share = f" ({format_share(top['net_revenue'] / total)} of the total)" if total > 0 else ""
    which = "top full month" if partial.any() and (~partial).any() else "top month"
    sentence = f"{top['month']:%B %Y} was the {which} with {money_sentence(top['net_revenue'], formats)} net revenue{share}"
    left_out = [_days_text(row) for _, row in monthly[partial].iterrows()]
    if not left_out:
        return f"{sentence}."
    if (~partial).any():
        noun = "the partial month" if len(left_out) == 1 else "the partial months"
        return f"{sentence}; the comparison leaves out {noun} {_listed(left_out)}."
    return f"{sentence}, though no month is covered in full: {_listed(left_out)}."


def _median_bin_text(left: float, right: float, integer: bool, formats: Formats | None = None) -> str:
    def fmt(v: float) -> str:
        return money_sentence(v, formats) if formats is not None else _fmt(v)

    if integer:
        lo, hi = math.ceil(left), math.floor(right)
        return f"is {fmt(lo)}" if lo == hi else f"lies in the bin {fmt(lo)} to {fmt(hi)}"
    return f"lies in the bin {fmt(left)} to {fmt(right)}"


def _median_text(hist: pd.DataFrame, total: int, integer: bool, formats: Formats | None = None) -> str:
    """Say what the median is: exact from ``attrs["median"]``, else the bin that holds it."""
    exact = hist.attrs.get("median")
    if exact is not None and math.isfinite(exact):
        return f"is {_fmt_median(exact, integer, formats)}"
    # A frame built without its values: all we know is the bin holding the median.
    cumulative = hist["count"].cumsum()
    median_row = hist.loc[(cumulative >= total / 2).idxmax()]
    if not np.isfinite(median_row["bin_left"]):
        return "is 0 or less"
    return _median_bin_text(median_row["bin_left"], median_row["bin_right"], integer, formats)


def empty_sentence(frame: pd.DataFrame, fallback: str) -> str:
    """Say why `frame` is empty: the missing column it records (``attrs``), else `fallback`.

    >>> frame = pd.DataFrame()
    >>> frame.attrs.update(missing="quantity", purchase_orders=7)
    >>> empty_sentence(frame, "There are no orders to show.")
    'The export has no quantities, so items per order cannot be counted (its 7 purchase orders carry amounts only).'
    """
    missing = frame.attrs.get("missing")
    if missing not in _MISSING_SENTENCES:
        return fallback
    orders = count_phrase(int(frame.attrs.get("purchase_orders", 0)), "purchase orders")
    return _MISSING_SENTENCES[missing].format(orders=orders)


def _histogram_axes(ax, log: bool, integer: bool, formats: Formats | None) -> None:
    """Scale and tick a histogram's axes: log x when binned so, whole-number ticks for counts."""
    if log:
        ax.set_xscale("log")
    number_axis(ax.xaxis, log, counts=integer, formats=formats)
    number_axis(ax.yaxis, counts=True, formats=formats)
    ax.grid(axis="y", alpha=0.3)


def plot_histogram(
    hist: pd.DataFrame,
    value_label: str,
    count_label: str,
    title: str | None = None,
    formats: Formats | None = None,
) -> tuple[Figure | None, str]:
    """Draw a binned histogram (log x axis when the bins are log-spaced).

    Parameters
    ----------
    hist : pandas.DataFrame
        Output of `helpers.eda_histograms.order_value_histogram`,
        `~helpers.eda_histograms.items_per_order_histogram` or
        `~helpers.eda_histograms.customer_histogram`.
    value_label : str
        What is binned, e.g. ``"order value"``; used for the x axis and the sentence.
    count_label : str
        What is counted, plural, e.g. ``"orders"``.
    title : str, optional
        Figure title; default "Distribution of <value_label>".
    formats : Formats, optional
        Pass it when the binned values are money (order value, net revenue): the x axis
        names the currency and the median is written with it. Leave None for counts.

    Returns
    -------
    (Figure or None, str)
        The figure and a sentence giving the exact median (``attrs["median"]``; whole
        numbers as counts, other values with 2 decimals). Without values: None and
        `empty_sentence` (e.g. the export has no quantities), else "There are no
        <count_label> to show.".
    """
    title = title or f"Distribution of {value_label}"
    total = int(hist["count"].sum()) if not hist.empty else 0
    if total == 0:
        return no_chart(empty_sentence(hist, f"There are no {count_label} to show."))
    log = bool(hist.attrs.get("log_scale", False))
    integer = bool(hist.attrs.get("integer", False))
    shown = hist[np.isfinite(hist["bin_left"])]
    nonpositive = total - int(shown["count"].sum())

    fig, ax = plt.subplots(figsize=FIGSIZE, layout="constrained")
    if not shown.empty:
        width = shown["bin_right"] - shown["bin_left"]
        ax.bar(shown["bin_left"], shown["count"], width=width, align="edge", color=COLOR,
               edgecolor="white", linewidth=0.5)
    _histogram_axes(ax, log, integer, formats)
    ax.set_xlabel(money_label(f"{value_label[:1].upper()}{value_label[1:]}", formats, "log scale" if log else ""))
    ax.set_ylabel(f"Number of {count_label}")
    ax.set_title(title)

    median = _median_text(hist, total, integer, formats)
    hidden = (
        f", and {nonpositive:,} at 0 or less are not shown on the log axis" if nonpositive else ""
    )
    takeaway = f"The median {value_label} {median} across {count_phrase(total, count_label)}{hidden}."
    return fig, takeaway


def _barh(
    ax,
    labels: pd.Series,
    values: pd.Series,
    xlabel: str,
    title: str,
    counts: bool = False,
    formats: Formats | None = None,
) -> None:
    """Draw horizontal bars with the first row at the top; `formats`: the values are money."""
    positions = np.arange(len(labels))
    bars = ax.barh(positions, values, color=COLOR)
    ax.set_yticks(positions, labels=list(labels))
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    # Value labels keep small bars readable when one bar dominates the axis.
    texts = [money_sentence(v, formats) for v in values] if formats else [_fmt(v) for v in values]
    ax.bar_label(bars, labels=texts, padding=2, fontsize=8)
    ax.margins(x=0.18)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=4, integer=counts))
    ax.xaxis.set_major_formatter(tick_formatter(formats) if formats else FuncFormatter(lambda x, _pos: _fmt(x)))


def plot_top_countries(
    countries: pd.DataFrame, n: int = 10, formats: Formats | None = None
) -> tuple[Figure | None, str]:
    """Bar-chart the top `n` countries by net revenue and, separately, by customers.

    Parameters
    ----------
    countries : pandas.DataFrame
        Output of `helpers.eda.country_summary`.
    n : int, default 10
        Bars per panel.
    formats : Formats, optional
        Net revenue with the currency (axis, bar labels, sentence); None keeps plain numbers.

    Returns
    -------
    (Figure or None, str)
        The figure and a sentence on the top country's share of revenue and customers.
    """
    check_positive("n", n)
    title = f"Top {n} countries"
    if countries.empty:
        return no_chart("There are no transactions, so there are no countries to rank.")
    fig, (ax_revenue, ax_customers) = plt.subplots(1, 2, figsize=FIGSIZE, layout="constrained")
    by_revenue = countries.sort_values(["net_revenue", "country"], ascending=[False, True]).head(n)
    by_customers = countries.sort_values(["customers", "country"], ascending=[False, True]).head(n)
    _barh(
        ax_revenue,
        by_revenue["country"],
        by_revenue["net_revenue"],
        money_label("Net revenue", formats),
        "By net revenue",
        formats=formats,
    )
    _barh(
        ax_customers,
        by_customers["country"],
        by_customers["customers"],
        "Customers",
        "By customers",
        counts=True,
    )
    ax_revenue.set_ylabel("Country")
    fig.suptitle(title)

    top = by_revenue.iloc[0]
    revenue_share = (
        f" ({format_share(top['revenue_share'])} of the total)" if pd.notna(top["revenue_share"]) else ""
    )
    takeaway = (
        f"{top['country']} is the top country with {money_sentence(top['net_revenue'], formats)} net revenue"
        f"{revenue_share} and {count_phrase(int(top['customers']), 'customers')} "
        f"({format_share(top['customer_share'])})."
    )
    return fig, takeaway


def _product_label(product_id: str, description: object, width: int = 40) -> str:
    """Label a product by its description, else its id, shortened to `width` characters."""
    label = (
        str(description)
        if isinstance(description, str) and description.strip()
        else str(product_id)
    )
    return label if len(label) <= width else label[: width - 1] + "…"


def plot_top_products(products: pd.DataFrame, formats: Formats | None = None) -> tuple[Figure | None, str]:
    """Bar-chart the products of `top_products`, labelled with their description.

    Parameters
    ----------
    products : pandas.DataFrame
        Output of `helpers.eda.top_products`.
    formats : Formats, optional
        Net revenue with the currency (axis, bar labels, sentence); None keeps plain numbers.

    Returns
    -------
    (Figure or None, str)
        The figure and a sentence on the top product and the top products' combined share;
        without products None and `empty_sentence` or "There are no products to rank.".
    """
    title = f"Top {len(products)} products by net revenue"
    if products.empty:
        return no_chart(empty_sentence(products, "There are no products to rank."))
    labels = [
        _product_label(pid, desc)
        for pid, desc in zip(products["product_id"], products["description"], strict=True)
    ]
    height = max(FIGSIZE[1], 0.35 * len(products) + 1.2)
    fig, ax = plt.subplots(figsize=(FIGSIZE[0], height), layout="constrained")
    _barh(ax, pd.Series(labels), products["net_revenue"], money_label("Net revenue", formats), title,
          formats=formats)
    ax.set_ylabel("Product")

    top = products.iloc[0]
    name = _product_label(top["product_id"], top["description"], width=60)
    share = products["revenue_share"]
    if share.notna().all():
        together = (
            f"; the top {len(products)} together bring {format_share(share.sum())} of net revenue"
            if len(products) > 1
            else ""
        )
        own = f" ({format_share(top['revenue_share'])})"
    else:
        together, own = "", ""
    takeaway = (
        f"The top product is '{name}' with {money_sentence(top['net_revenue'], formats)} net revenue{own}{together}."
    )
    return fig, takeaway


def plot_orders_by_weekday(weekday: pd.DataFrame) -> tuple[Figure | None, str]:
    """Bar-chart purchase orders per day of the week.

    Parameters
    ----------
    weekday : pandas.DataFrame
        Output of `helpers.eda.orders_by_weekday`.

    Returns
    -------
    (Figure or None, str)
        The figure and a sentence naming the busiest and the quietest day.
    """
    title = "Purchase orders by day of the week"
    total = int(weekday["orders"].sum())
    if total == 0:
        return no_chart("There are no purchase orders to place in the week.")
    fig, ax = plt.subplots(figsize=FIGSIZE, layout="constrained")
    ax.bar(weekday["day_name"].str[:3], weekday["orders"], color=COLOR)
    ax.set_xlabel("Day of the week")
    ax.set_ylabel("Purchase orders")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    number_axis(ax.yaxis, counts=True)

    busiest = weekday.loc[weekday["orders"].idxmax()]
    quietest = weekday.loc[weekday["orders"].idxmin()]
    takeaway = (
        f"{busiest['day_name']} has the most purchase orders ({int(busiest['orders']):,}, "
        f"{format_share(busiest['orders'] / total)} of all), {quietest['day_name']} the fewest "
        f"({int(quietest['orders']):,})."
    )
    return fig, takeaway


def plot_orders_by_hour(hourly: pd.DataFrame) -> tuple[Figure | None, str]:
    """Bar-chart purchase orders per hour of the day.

    Parameters
    ----------
    hourly : pandas.DataFrame
        Output of `helpers.eda.orders_by_hour`.

    Returns
    -------
    (Figure or None, str)
        The figure and a sentence naming the peak hour. When every order is at 00:00 (dates
        without a time of day) no figure, and a sentence saying so: 02_eda skips the chart
        before, from `helpers.eda_fields.field_presence`.
    """
    title = "Purchase orders by hour of the day"
    total = int(hourly["orders"].sum())
    if total == 0:
        return no_chart("There are no purchase orders to place in the day.")
    peak = hourly.loc[hourly["orders"].idxmax()]
    if int(peak["orders"]) == total and int(peak["hour"]) == 0:
        # One 00:00 bar would only show that the dates carry no time of day.
        return no_chart(
            "Every order is stamped 00:00, so the data likely holds dates without times of day."
        )
    fig, ax = plt.subplots(figsize=FIGSIZE, layout="constrained")
    ax.bar(hourly["hour"], hourly["orders"], color=COLOR)
    ax.set_xticks(range(0, 24, 2))
    ax.set_xlim(-0.6, 23.6)
    ax.set_xlabel("Hour of the day (order time)")
    ax.set_ylabel("Purchase orders")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    number_axis(ax.yaxis, counts=True)

    hour = int(peak["hour"])
    takeaway = (
        f"Orders peak between {hour:02d}:00 and {hour:02d}:59 with "
        f"{count_phrase(int(peak['orders']), 'purchase orders')} ({format_share(peak['orders'] / total)} of all)."
    )
    return fig, takeaway
