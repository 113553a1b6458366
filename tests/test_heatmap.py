"""The report's heatmaps: cells, labels, texts and colours, drawn with matplotlib alone."""

from __future__ import annotations

import subprocess
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from helpers.heatmap import DARK_TEXT, LIGHT_TEXT, draw_heatmap, text_colour  # noqa: E402


def _frame() -> pd.DataFrame:
    frame = pd.DataFrame([[0.0, 0.5], [1.0, np.nan]], index=["first", "second"], columns=["a", "b"])
    frame.index.name, frame.columns.name = "row", "column"
    return frame


def test_the_first_row_is_on_top_and_every_cell_has_its_label_and_text():
    fig, ax = plt.subplots()
    mesh = draw_heatmap(_frame(), ax, cmap="Blues", vmin=0, vmax=1, annot=True, fmt=".0%")
    assert ax.get_ylim() == (2.0, 0.0)  # inverted: row 0 at the top
    assert [t.get_text() for t in ax.get_yticklabels()] == ["first", "second"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b"]
    assert list(ax.get_yticks()) == [0.5, 1.5] and (ax.get_xlabel(), ax.get_ylabel()) == ("column", "row")
    texts = {(t.get_position(), t.get_text()): t.get_color() for t in ax.texts}
    # the missing cell is blank; dark text on the palest cell, white on the mid and dark blue ones
    assert texts == {((0.5, 0.5), "0%"): DARK_TEXT, ((1.5, 0.5), "50%"): LIGHT_TEXT, ((0.5, 1.5), "100%"): LIGHT_TEXT}
    assert mesh.get_array().mask.tolist() == [[False, False], [False, True]]
    assert len(fig.axes) == 2  # the colour bar


def test_given_cell_texts_and_a_centred_scale():
    fig, ax = plt.subplots()
    frame = pd.DataFrame([[-0.5, 1.0]], columns=["x", "y"])
    mesh = draw_heatmap(frame, ax, cmap="diverging", vmin=-1, vmax=1, center=0, annot=np.array([["low", ""]]),
                        fmt="", cbar=False)
    assert [t.get_text() for t in ax.texts] == ["low"]  # an empty text draws nothing
    assert mesh.norm(0.0) == 0.5 and len(fig.axes) == 1


def test_text_stays_readable_on_light_and_dark_cells():
    assert text_colour("white") == DARK_TEXT and text_colour("black") == LIGHT_TEXT


def test_a_step_page_draws_its_heatmaps_without_seaborn_or_scipy_stats():
    code = ("import sys; import helpers.eda_customer_plots, helpers.rfm_plots, helpers.personas_report; "
            "print(sorted(m for m in ('seaborn', 'scipy.stats') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
