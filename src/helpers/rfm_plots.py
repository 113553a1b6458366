"""RFM charts for the 03_rfm report: the R x F grid, segment sizes and the movement matrix.

Each function takes outputs of `helpers.rfm` or `helpers.rfm_movement` and returns a
matplotlib Figure; cell labels use `helpers.rfm_report.share_label`. Text from the data
goes through `helpers.report.plain_text`, so a ``$`` in a segment name is not read as math.
`plot_rf_grid` takes ``formats`` (`helpers.formatting.Formats`) to write revenue with the
shop's currency.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from helpers.formatting import Formats
from helpers.heatmap import draw_heatmap
from helpers.page_formats import compact_money, money_label
from helpers.report import plain_text as _plain
from helpers.rfm import MAX_SCORE, rf_grid
from helpers.rfm_movement import movement_shares
from helpers.rfm_report import share_label


def _compact(value: float) -> str:
    """Write an amount with a k/m/bn suffix and one decimal, dropping a trailing ".0".

    Examples
    --------
    >>> [_compact(v) for v in (0, 950, 1500, 500_000, 3_900_000, -2_000)]
    ['0', '950', '1.5k', '500k', '3.9m', '-2k']
    """
    for size, suffix in ((1e9, "bn"), (1e6, "m"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.1f}".removesuffix(".0") + suffix
    return f"{value:.0f}"


def plot_rf_grid(segmented: pd.DataFrame, segment_map: pd.DataFrame, formats: Formats | None = None) -> Figure:
    """Draw the R x F grid twice, coloured by customers and by revenue, cells labelled with the segment.

    Parameters
    ----------
    segmented : pandas.DataFrame
        Output of `helpers.rfm.assign_segments`.
    segment_map : pandas.DataFrame
        Output of `helpers.rfm_segment_map.load_segment_map` (gives the segment name of each cell).
    formats : Formats, optional
        Writes the revenue cells and colour bar with the currency (``£1.5k``); None keeps
        plain short amounts (``1.5k``).

    Returns
    -------
    matplotlib.figure.Figure
        Two heatmaps side by side.
    """
    names = segment_map.assign(segment=segment_map["segment"].astype(str)).pivot(
        index="r_score", columns="f_score", values="segment"
    )
    names = names.reindex(index=range(MAX_SCORE, 0, -1), columns=range(1, MAX_SCORE + 1))
    money = _compact if formats is None else (lambda v: compact_money(v, formats))
    fig, axes = plt.subplots(1, 2, figsize=(15, 6), constrained_layout=True)
    for ax, value, cmap, fmt, whole in (
        (axes[0], "customers", "Blues", lambda v: f"{v:,.0f}" if formats is None else formats.number(v), True),
        (axes[1], "revenue", "Greens", money, False),
    ):
        grid = rf_grid(segmented, value)
        labels = np.array(
            [
                [
                    f"{fmt(grid.iloc[i, j])}\n{_plain(names.iloc[i, j])}"
                    for j in range(grid.shape[1])
                ]
                for i in range(grid.shape[0])
            ]
        )
        # Colour-bar ticks in the cells' own style (no 1e6 offset text), whole customers.
        draw_heatmap(
            grid,
            ax,
            annot=labels,
            fmt="",
            cmap=cmap,
            cbar=True,
            annot_kws={"fontsize": 8},
            cbar_kws={
                "format": FuncFormatter(lambda x, _pos, fmt=fmt: fmt(x)),
                "ticks": MaxNLocator(integer=whole),
            },
        )
        ax.set_title(f"{money_label(value.capitalize(), formats) if value == 'revenue' else 'Customers'} by R and F score")
        ax.set_xlabel("F score (frequency, 5 = most orders)")
        ax.set_ylabel("R score (recency, 5 = most recent)")
    return fig


def plot_segment_sizes(summary: pd.DataFrame) -> Figure:
    """Draw each segment's share of customers next to its share of revenue.

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of `helpers.rfm.segment_summary`.

    Returns
    -------
    matplotlib.figure.Figure
        Horizontal bars, segments in map order from the top.
    """
    positions = np.arange(len(summary))[::-1]
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(summary) + 1.5), constrained_layout=True)
    ax.barh(
        positions + 0.2, summary["customer_share"].fillna(0), height=0.4, label="share of customers"
    )
    ax.barh(
        positions - 0.2,
        summary["revenue_share"].fillna(0),
        height=0.4,
        label="share of net revenue",
    )
    ax.set_yticks(positions, [_plain(s) for s in summary.index])
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda x, _: f"{x:.0%}"))
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_title("Segment size vs revenue share")
    ax.legend(loc="lower right")
    return fig


def plot_movement(counts: pd.DataFrame) -> Figure:
    """Draw the movement matrix coloured by row share, each cell labelled count and share.

    Parameters
    ----------
    counts : pandas.DataFrame
        Output of `helpers.rfm_movement.segment_movement`.

    Returns
    -------
    matplotlib.figure.Figure
        One heatmap: rows = segment at the cut-off, columns = segment now.
    """
    shares = movement_shares(counts)
    labels = np.array(
        [
            [
                f"{counts.iloc[i, j]:,}\n{share_label(shares.iloc[i, j])}"
                if counts.iloc[i, j]
                else ""
                for j in range(counts.shape[1])
            ]
            for i in range(counts.shape[0])
        ]
    )
    fig, ax = plt.subplots(figsize=(13, 8), constrained_layout=True)
    draw_heatmap(
        shares,
        ax,
        annot=labels,
        fmt="",
        cmap="Purples",
        vmin=0,
        vmax=1,
        annot_kws={"fontsize": 7},
        cbar_kws={
            "label": "share of the row (segment at cut-off)",
            "format": FuncFormatter(lambda x, _pos: f"{x:.0%}"),
        },
    )
    ax.set_xticklabels([_plain(c) for c in counts.columns], rotation=45, ha="right")
    ax.set_yticklabels([_plain(r) for r in counts.index], rotation=0)
    ax.set_title("Customers by segment at the cut-off (rows) and now (columns)")
    return fig
