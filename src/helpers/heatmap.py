"""Annotated heatmaps drawn with matplotlib alone: cohorts, correlations, R x F grid, movement, personas.

`draw_heatmap` draws what the report's heatmaps need of ``seaborn.heatmap``: one cell per
value of a DataFrame (first row on top, row and column labels at the cell centres, missing
values blank), optional text in each cell in a colour that stays readable on the cell
(`text_colour`), thin white gaps between cells and a colour bar. Importing seaborn imports
``scipy.stats`` and ``scipy.cluster`` (1 s of CPU in each step's kernel, three kernels per
run); this module imports matplotlib only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.colors import Colormap, LinearSegmentedColormap, Normalize, TwoSlopeNorm, to_rgb

# Blue below the centre, red above, a light grey at it (the correlation chart).
DIVERGING = LinearSegmentedColormap.from_list("blue_grey_red", ["#2f6aa8", "#f2f2f2", "#b5332e"])
DARK_TEXT, LIGHT_TEXT = "#262626", "white"
LUMINANCE_SWITCH = 0.408  # above it a cell is light and gets dark text (seaborn's threshold)
LABEL_SPACING = 1.2  # a tick label takes its font size times this along its axis


def relative_luminance(colour: Any) -> float:
    """Relative luminance of a colour (WCAG 2: 0 = black, 1 = white).

    >>> relative_luminance("white"), relative_luminance("black"), round(relative_luminance("#808080"), 3)
    (1.0, 0.0, 0.216)
    """
    channels = np.array(to_rgb(colour))
    linear = np.where(channels <= 0.03928, channels / 12.92, ((channels + 0.055) / 1.055) ** 2.4)
    return float(linear @ np.array([0.2126, 0.7152, 0.0722]))


def text_colour(cell_colour: Any) -> str:
    """Dark text on a light cell, white text on a dark one.

    >>> text_colour("#f7fbff"), text_colour("#08306b")
    ('#262626', 'white')
    """
    return DARK_TEXT if relative_luminance(cell_colour) > LUMINANCE_SWITCH else LIGHT_TEXT


def tick_step(count: int, axis_points: float, font_points: float) -> int:
    """Label every `tick_step`-th row or column so that the labels do not overlap.

    >>> tick_step(12, 400, 10), tick_step(60, 400, 10)
    (1, 2)
    """
    fits = max(1, int(axis_points // (font_points * LABEL_SPACING)))
    return max(1, math.ceil(count / fits))


def _colour_map(cmap: str | Colormap) -> Colormap:
    return cmap if isinstance(cmap, Colormap) else (DIVERGING if cmap == "diverging" else colormaps[cmap])


def _norm(values: np.ndarray, vmin: float | None, vmax: float | None, center: float | None) -> Normalize:
    finite = values[np.isfinite(values)]
    low = float(np.min(finite)) if vmin is None and finite.size else (0.0 if vmin is None else vmin)
    high = float(np.max(finite)) if vmax is None and finite.size else (1.0 if vmax is None else vmax)
    if center is not None and low < center < high:
        return TwoSlopeNorm(vcenter=center, vmin=low, vmax=high)
    return Normalize(vmin=low, vmax=high)


def _cell_texts(data: pd.DataFrame, annot: Any, fmt: str) -> np.ndarray | None:
    """The text of each cell: `annot` True formats the values with `fmt`; an array is used as given."""
    if annot is None or annot is False:
        return None
    values = data.to_numpy(dtype=float) if annot is True else np.asarray(annot, dtype=object)
    return np.array([[format(v, fmt) for v in row] for row in values], dtype=object)


def _write_cells(ax: Any, values: np.ndarray, texts: np.ndarray, colour_of: Any, text_kws: Mapping[str, Any]) -> None:
    """Write each cell's text at its centre, readable on its colour; missing cells stay blank."""
    for (i, j), value in np.ndenumerate(values):
        if np.isfinite(value) and texts[i, j] != "":
            ax.text(j + 0.5, i + 0.5, texts[i, j], ha="center", va="center",
                    color=text_colour(colour_of(value)), **dict(text_kws))


def _label_axes(ax: Any, data: pd.DataFrame) -> None:
    """Row and column labels at the cell centres, thinned when they would overlap; names as axis titles."""
    box = ax.get_window_extent()  # before the figure's layout is done: a close estimate
    to_points = 72.0 / ax.figure.dpi
    font = _font_points("ytick.labelsize")
    rows, columns = data.shape
    for labels, count, length, set_ticks in (
        (data.index, rows, box.height * to_points, ax.set_yticks),
        (data.columns, columns, box.width * to_points, ax.set_xticks),
    ):
        step = tick_step(count, length, font)
        positions = np.arange(0, count, step)
        set_ticks(positions + 0.5, [str(labels[i]) for i in positions])
    ax.set_xlabel("" if data.columns.name is None else str(data.columns.name))
    ax.set_ylabel("" if data.index.name is None else str(data.index.name))


def _font_points(key: str) -> float:
    """A matplotlib font size setting in points (``"medium"`` and the like resolved)."""
    from matplotlib import rcParams
    from matplotlib.font_manager import FontProperties

    value = rcParams[key]
    return float(value) if isinstance(value, int | float) else FontProperties(size=value).get_size_in_points()


def draw_heatmap(
    data: pd.DataFrame,
    ax: Any,
    *,
    cmap: str | Colormap = "Blues",
    vmin: float | None = None,
    vmax: float | None = None,
    center: float | None = None,
    annot: Any = None,
    fmt: str = ".2g",
    annot_kws: Mapping[str, Any] | None = None,
    linewidths: float = 0.0,
    cbar: bool = True,
    cbar_kws: Mapping[str, Any] | None = None,
) -> Any:
    """Draw `data` as a heatmap on `ax`: first row on top, one cell per value, missing cells blank.

    Parameters
    ----------
    data : pandas.DataFrame
        Numbers; the index labels the rows, the columns the columns (their names title the axes).
    ax : matplotlib.axes.Axes
    cmap : str or Colormap, default "Blues"
        A matplotlib colour map name, or ``"diverging"`` for `DIVERGING`.
    vmin, vmax : float, optional
        Ends of the colour scale (default: the data's).
    center : float, optional
        The value at the middle of the colour map (a diverging map), when inside the scale.
    annot : bool or array, optional
        True writes each value with `fmt`; an array of the data's shape gives each cell's text.
    fmt : str, default ".2g"
        Format of the values when `annot` is True (``".0%"``, ``".2f"``).
    annot_kws : mapping, optional
        Text properties of the cell texts (``{"fontsize": 7}``).
    linewidths : float, default 0
        Width of the white gaps between cells.
    cbar : bool, default True
        Draw a colour bar.
    cbar_kws : mapping, optional
        Passed to ``Figure.colorbar`` (``label``, ``format``, ``ticks``).

    Returns
    -------
    matplotlib.collections.QuadMesh
        The cells.
    """
    values = data.to_numpy(dtype=float)
    colours, norm = _colour_map(cmap), _norm(values, vmin, vmax, center)
    mesh = ax.pcolormesh(np.ma.masked_invalid(values), cmap=colours, norm=norm,
                         edgecolors="white" if linewidths else "face", linewidth=linewidths)
    ax.set(xlim=(0, values.shape[1]), ylim=(values.shape[0], 0))  # first row on top
    ax.spines[:].set_visible(False)
    texts = _cell_texts(data, annot, fmt)
    if texts is not None:
        _write_cells(ax, values, texts, lambda value: colours(norm(value)), annot_kws or {})
    if cbar:
        bar = ax.figure.colorbar(mesh, ax=ax, **dict(cbar_kws or {}))
        bar.outline.set_linewidth(0)
    _label_axes(ax, data)
    return mesh
