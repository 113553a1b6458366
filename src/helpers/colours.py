"""Colours that mean better and worse the same way on every heatmap of the report.

A heatmap of "compared with the average customer" (04's cluster profiles, 05's persona
means) used to paint every value above the average red: more revenue (good) and more days
since the last order (bad) looked alike. Here the colour says better or worse:

* a metric whose good direction is known (`BETTER_WHEN`, a table: one entry per metric)
  is drawn on a diverging green/pink palette (ColorBrewer's PiYG, safe for colour-blind
  readers): green = better than the average customer, pink = worse, with the sign flipped
  for metrics where lower is better (days since the last order, churn risk, ...);
* a metric without a known direction (age, tenure, web visits, a category's levels) is
  drawn in grey: darker = further from the average, above or below (the cell text says).

The cell texts keep the true values (``-58%`` days since last order is green), every
column label says which way is better, and each colour bar says what its colours mean.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap

# Metric -> the direction that is better for the shop; a metric not listed has none.
# Keys are column names of the customer tables; profile prefixes (median_) are stripped.
BETTER_WHEN: dict[str, str] = {
    # buying more, more often and for more
    "frequency": "higher",
    "orders": "higher",
    "monetary": "higher",
    "net_revenue": "higher",
    "revenue": "higher",
    "revenue_share": "higher",
    "avg_order_value": "higher",
    "distinct_products": "higher",
    "converted_session_share": "higher",
    # the future-value model (03_rfm)
    "p_alive": "higher",
    "predicted_clv": "higher",
    "predicted_value": "higher",
    "predicted_value_share": "higher",
    # lapsing, waiting, returning
    "recency_days": "lower",
    "days_since_last_order": "lower",
    "avg_days_between_orders": "lower",
    "return_share": "lower",
    "cancelled_orders": "lower",
    "single_order_share": "lower",
    "no_order_share": "lower",
    "churn_risk": "lower",
    "churn_high_share": "lower",
    "p_no_order": "lower",
    "share_likely_lapsed": "lower",
}
DIRECTIONS: tuple[str, ...] = ("higher", "lower")

BETTER_CMAP = "PiYG"  # pink (worse) .. white (average) .. green (better)
# Light greys: the darkest cell still takes black text.
NEUTRAL_CMAP = ListedColormap(plt.get_cmap("Greys")(np.linspace(0.04, 0.5, 256)), name="light_greys")
_DARK_SHARE = 0.6  # cells beyond this share of the colour range get white text


def better_when(metric: str) -> str | None:
    """Return ``"higher"`` or ``"lower"`` (which is better) for a metric, None when neither is.

    A one-hot column ``feature=level`` (a category's level) has no direction.

    Examples
    --------
    >>> better_when("monetary"), better_when("median_recency_days"), better_when("age")
    ('higher', 'lower', None)
    >>> better_when("plan=premium") is None
    True
    """
    name = str(metric)
    if "=" in name:
        return None
    return BETTER_WHEN.get(name.removeprefix("median_").removeprefix("mean_"))


def direction_sign(metric: str) -> int:
    """Return +1 when higher is better, -1 when lower is better, 0 without a direction.

    >>> [direction_sign(m) for m in ("frequency", "recency_days", "tenure_days")]
    [1, -1, 0]
    """
    return {"higher": 1, "lower": -1, None: 0}[better_when(metric)]


def direction_note(metric: str) -> str:
    """Say which way is better, for a column label.

    >>> direction_note("recency_days"), direction_note("age")
    ('lower is better', 'no better or worse')
    """
    direction = better_when(metric)
    return f"{direction} is better" if direction else "no better or worse"


def split_by_direction(values: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split differences from the average into "how much better" and "how far, no direction".

    Parameters
    ----------
    values : pandas.DataFrame
        Rows (clusters, personas) x metric columns: a difference from the average customer,
        0 = average, positive = above.

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame)
        ``better``: the value times `direction_sign` (positive = better than average), NaN
        in columns without a direction; ``neutral``: the absolute value in the columns
        without a direction, NaN elsewhere.

    Examples
    --------
    >>> values = pd.DataFrame({"monetary": [0.5], "recency_days": [0.5], "age": [-0.3]})
    >>> better, neutral = split_by_direction(values)
    >>> better.iloc[0].tolist(), neutral.iloc[0].tolist()
    ([0.5, -0.5, nan], [nan, nan, 0.3])
    """
    signs = pd.Series([direction_sign(c) for c in values.columns], index=values.columns, dtype="float64")
    numbers = values.astype("float64")
    better = numbers * signs.where(signs != 0)
    neutral = numbers.abs().where(np.broadcast_to((signs == 0).to_numpy(), numbers.shape))
    return better, neutral


def _colour_bar(fig, ax, image, limit: float, magnitude: Callable[[float], str], directed: bool, label: str) -> None:
    """Add one colour bar whose ticks read "50% worse" .. "average" .. "50% better" (or distance)."""
    bar = fig.colorbar(image, ax=ax, label=label, pad=0.01, fraction=0.05)
    if directed:
        ticks = [-limit, -limit / 2, 0.0, limit / 2, limit]
        words = [f"{magnitude(limit)} worse", f"{magnitude(limit / 2)} worse", "average",
                 f"{magnitude(limit / 2)} better", f"{magnitude(limit)} better"]
    else:
        ticks = [0.0, limit / 2, limit]
        words = ["average", f"±{magnitude(limit / 2)}", f"±{magnitude(limit)}"]
    bar.set_ticks(ticks, labels=words)


def draw_direction_heatmap(
    fig,
    ax,
    values: pd.DataFrame,
    cell_text: np.ndarray,
    limit: float,
    magnitude: Callable[[float], str],
    column_labels: Sequence[str],
) -> None:
    """Draw differences from the average: green better, pink worse, grey without a direction.

    Parameters
    ----------
    fig, ax : matplotlib Figure and Axes
    values : pandas.DataFrame
        Rows x metric columns (see `split_by_direction`); column names pick the direction.
    cell_text : numpy.ndarray
        Text of each cell, same shape (the true, signed value).
    limit : float
        Colours saturate at +-`limit` (the labels keep the true values).
    magnitude : callable
        Writes a colour-bar distance, e.g. ``lambda v: f"{v:.0%}"``.
    column_labels : sequence of str
        One label per column; ``(higher is better)`` etc. is added below each.
    """
    better, neutral = split_by_direction(values)
    layers = []  # colour bars: the last one added sits next to the heatmap, so green/pink goes last
    if neutral.notna().to_numpy().any():
        image = ax.imshow(np.ma.masked_invalid(neutral.clip(upper=limit).to_numpy()), cmap=NEUTRAL_CMAP,
                          vmin=0, vmax=limit, aspect="auto")
        layers.append((image, False, "no better or worse: grey = distance from average"))
    if better.notna().to_numpy().any():
        image = ax.imshow(np.ma.masked_invalid(better.clip(-limit, limit).to_numpy()), cmap=BETTER_CMAP,
                          vmin=-limit, vmax=limit, aspect="auto")
        layers.append((image, True, "vs average: green = better, pink = worse"))
    dark = np.abs(better.to_numpy()) > _DARK_SHARE * limit
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            ax.text(j, i, cell_text[i][j], ha="center", va="center", fontsize=8,
                    color="white" if dark[i, j] else "black")
    labels = [f"{textwrap.fill(label, 16)}\n({textwrap.fill(direction_note(column), 16)})"
              for label, column in zip(column_labels, values.columns, strict=True)]
    ax.set_xticks(range(values.shape[1]), labels, fontsize=8)
    ax.set_xticks(np.arange(values.shape[1] + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(values.shape[0] + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="white", linewidth=1.5)
    ax.tick_params(which="minor", length=0)
    for image, directed, label in layers:
        _colour_bar(fig, ax, image, limit, magnitude, directed, label)
