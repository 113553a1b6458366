"""Green means better and pink worse on both "vs the average customer" heatmaps (issue #17).

Each cell's colour is read back from the drawn image: a green cell has more green than red,
a pink one more red than green, a grey one equal channels. The expected colours follow from
`helpers.colours.BETTER_WHEN` by hand: more revenue is better, more days since the last
order is worse, tenure has no better direction.
"""

from __future__ import annotations

import math

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from helpers import cluster_plots, colours, personas_report
from helpers.formatting import Formats

matplotlib.use("Agg")


def _hue(red: float, green: float, blue: float) -> str:
    """Name a colour: grey (equal channels), green, pink (red and blue over green), else red or blue."""
    if math.isclose(red, green, abs_tol=0.02) and math.isclose(green, blue, abs_tol=0.02):
        return "grey"
    if green > red and green > blue:
        return "green"
    if red > green and blue - green > 0.4 * (red - green):  # magenta: blue well above green
        return "pink"
    return "red" if red >= blue else "blue"


def _cell_colour(ax, row: int, column: int) -> str:
    """Return the hue of a drawn heatmap cell (`_hue`), "blank" where no layer paints it."""
    for image in ax.get_images():
        data = image.get_array()
        if not np.ma.is_masked(data[row, column]):
            return _hue(*image.to_rgba(data[row, column])[:3])
    return "blank"


def test_the_hue_reader_tells_the_old_red_blue_palette_apart():
    red_blue = plt.get_cmap("RdBu_r")
    assert _hue(*red_blue(0.95)[:3]) == "red" and _hue(*red_blue(0.05)[:3]) == "blue"
    pink_green = plt.get_cmap(colours.BETTER_CMAP)
    assert _hue(*pink_green(0.05)[:3]) == "pink" and _hue(*pink_green(0.95)[:3]) == "green"
    assert _hue(*pink_green(0.4)[:3]) == "pink" and _hue(*pink_green(0.6)[:3]) == "green"


# ----------------------------------------------------------------------------- the rules table


def test_every_rule_is_higher_or_lower_and_the_known_ones_point_the_right_way():
    assert set(colours.BETTER_WHEN.values()) <= set(colours.DIRECTIONS)
    assert colours.better_when("recency_days") == "lower"
    assert colours.better_when("median_monetary") == "higher"
    for bad in ("churn_risk", "p_no_order", "share_likely_lapsed", "return_share", "churn_high_share"):
        assert colours.better_when(bad) == "lower", bad
    for neutral in ("tenure_days", "age", "sessions", "plan=premium", "gender=F"):
        assert colours.better_when(neutral) is None, neutral


def test_split_flips_lower_is_better_and_keeps_neutral_apart():
    values = pd.DataFrame({"monetary": [0.5, -0.2], "recency_days": [0.5, -0.2], "age": [-0.3, 0.1]})
    better, neutral = colours.split_by_direction(values)
    np.testing.assert_allclose(better.to_numpy(), [[0.5, -0.5, np.nan], [-0.2, 0.2, np.nan]])
    np.testing.assert_allclose(neutral.to_numpy(), [[np.nan, np.nan, 0.3], [np.nan, np.nan, 0.1]])


# ----------------------------------------------------------------------------- personas


RELATIVE = pd.DataFrame(
    # Loyal: +117% revenue, -58% days since last order, +37% tenure.
    # Dormant: -81% revenue, +160% days since last order, +26% tenure.
    {"recency_days": [-0.58, 1.60], "monetary": [1.17, -0.81], "tenure_days": [0.37, 0.26],
     "return_share": [-0.16, 29.0]},
    index=pd.Index([0, 2], name="cluster"),
)
NAMES = {0: "Loyal high-value", 2: "Dormant low-value"}


def test_persona_heatmap_green_for_better_pink_for_worse_whatever_the_sign():
    fig = personas_report.plot_relative_difference(RELATIVE, NAMES)
    ax = fig.axes[0]
    # Loyal: fewer days since the last order (green), more revenue (green).
    assert [_cell_colour(ax, 0, j) for j in range(4)] == ["green", "green", "grey", "green"]
    # Dormant: more days (pink), less revenue (pink), returns x30 (pink).
    assert [_cell_colour(ax, 1, j) for j in range(4)] == ["pink", "pink", "grey", "pink"]


def test_persona_heatmap_says_what_colours_mean():
    fig = personas_report.plot_relative_difference(RELATIVE, NAMES)
    ax = fig.axes[0]
    labels = [t.get_text().replace("\n", " ") for t in ax.get_xticklabels()]
    assert labels[0] == "days since last order (lower is better)"
    assert labels[2] == "days since first order (no better or worse)"
    bars = {a.get_ylabel(): a for a in fig.axes[1:]}
    assert set(bars) == {"vs average: green = better, pink = worse", "no better or worse: grey = distance from average"}
    ticks = [t.get_text() for t in bars["vs average: green = better, pink = worse"].get_yticklabels()]
    assert ticks == ["100% worse", "50% worse", "average", "50% better", "100% better"]
    ticks = [t.get_text() for t in bars["no better or worse: grey = distance from average"].get_yticklabels()]
    assert ticks == ["average", "±50%", "±100%"]
    # The cell text keeps the true sign: fewer days reads -58%.
    assert "-58%" in [t.get_text() for t in ax.texts]
    assert "green better, pink worse" in ax.get_title()


def test_without_a_direction_there_is_no_green_or_pink_and_one_colour_bar():
    fig = personas_report.plot_relative_difference(RELATIVE[["tenure_days"]], NAMES)
    assert [_cell_colour(fig.axes[0], i, 0) for i in range(2)] == ["grey", "grey"]
    assert len(fig.axes) == 2 and "grey" in fig.axes[1].get_ylabel()


def test_missing_values_stay_blank():
    relative = RELATIVE.assign(recency_days=[np.nan, 1.6])
    fig = personas_report.plot_relative_difference(relative, NAMES)
    assert _cell_colour(fig.axes[0], 0, 0) == "blank" and _cell_colour(fig.axes[0], 1, 0) == "pink"


# ----------------------------------------------------------------------------- cluster profiles


def _profile() -> tuple[pd.DataFrame, pd.DataFrame]:
    profile = pd.DataFrame(
        {"recency_days": [-0.54, 1.48], "monetary": [0.88, -0.78], "tenure_days": [0.69, 0.48]},
        index=pd.Index([0, 2], name="cluster"),
    )
    summary = pd.DataFrame({"cluster": ["0", "2"], "median_recency_days": [24.0, 244.0],
                            "median_monetary": [1910.0, 277.0], "median_tenure_days": [319.0, 283.0]})
    return profile, summary


def test_cluster_profiles_colour_recency_by_what_it_means():
    profile, summary = _profile()
    fig, takeaway = cluster_plots.plot_profiles(profile, summary)
    ax = fig.axes[0]
    assert [_cell_colour(ax, 0, j) for j in range(3)] == ["green", "green", "grey"]
    assert [_cell_colour(ax, 1, j) for j in range(3)] == ["pink", "pink", "grey"]
    # Cluster 2's recency is the strongest contrast: 1.48 above the average, which is worse.
    assert takeaway == ("The strongest contrast is cluster 2's recency: 1.5 scaled units above the average "
                        "customer (median 244 days): worse than average, as lower is better.")
    assert ax.get_xlabel() and ax.get_ylabel()  # colour bars are the only unlabelled axes


def test_cluster_profile_medians_carry_the_currency_with_formats():
    profile, summary = _profile()
    fig, _ = cluster_plots.plot_profiles(profile, summary, Formats("GBP", "en_GB"))
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "+0.88\nmedian £1,910" in texts and "-0.54\nmedian 24" in texts
    labels = [t.get_text().replace("\n", " ") for t in fig.axes[0].get_xticklabels()]
    assert "monetary (net revenue, GBP) (higher is better)" in labels
