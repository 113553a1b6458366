"""Display helpers for the notebooks: escaped tables, takeaway lines and chart titles.

Text from the data (product descriptions, country names) is HTML-escaped everywhere, so a
description like ``<script>`` shows as text in the rendered report. `label_figures` makes
each chart a notebook shows carry its title, which `helpers.pages` turns into the image's
alt text on the step page.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from IPython.display import HTML

PHONE_TABLE_PX = 340  # a table that cannot wrap narrower than this stacks its rows on a phone
STACK_CLASS = "stack-narrow"  # templates/page/page.css
_CHAR_PX = 7.5  # mean character width at a phone's table font size (0.78rem), erring wide
_CELL_PADDING_PX = 7.5
_DATA_CELL = re.compile(r'class="data row\d+ col(\d+)"')
TAKEAWAY_CLASS = "takeaway"  # helpers.pages finds a chart's takeaway by this class
ALT_KEY = "alt"  # output metadata key, as nbconvert's classic template reads it


def table_html(frame: pd.DataFrame, formats: Mapping[str, str] | None = None, index: bool = False) -> HTML:
    """Return a DataFrame as escaped HTML, numbers formatted per column.

    Parameters
    ----------
    frame : pandas.DataFrame
    formats : mapping, optional
        Column -> format spec, e.g. ``{"revenue": "{:,.2f}"}``. Integers get thousands
        separators by default.
    index : bool, default False
        Show the index.

    Notes
    -----
    Headers may wrap after underscores. A table too wide for a phone even when wrapped
    (`phone_min_width` above `PHONE_TABLE_PX`) gets the class ``stack-narrow`` and a
    ``data-label`` on every cell: on a phone (``templates/page/page.css``) each row then
    reads as a small card of "label value" lines instead of scrolling sideways.
    """
    formats = dict(formats or {})
    shown = frame.copy()
    numeric = [c for c in shown.columns if pd.api.types.is_numeric_dtype(shown[c]) and not pd.api.types.is_bool_dtype(shown[c])]
    for col in shown.columns:
        spec = formats.get(col)
        if spec is None and pd.api.types.is_integer_dtype(shown[col]):
            spec = "{:,}"
        if spec is not None:
            shown[col] = shown[col].map(lambda v, s=spec: "" if pd.isna(v) else s.format(v))
    labels = [str(c) for c in shown.columns]
    stack = phone_min_width(shown) > PHONE_TABLE_PX
    shown.columns = [_header(c) for c in shown.columns]
    numeric = [_header(c) for c in numeric]
    text = [c for c in shown.columns if c not in numeric]
    styler = shown.style.format(escape="html", na_rep="")
    styler = styler.set_properties(subset=text, **{"text-align": "left"})
    styler = styler.set_table_styles([{"selector": "th", "props": [("text-align", "left")]}])
    if not index:
        styler = styler.hide(axis="index")
    if not stack:
        return HTML(styler.to_html())
    styler = styler.set_table_attributes(f'class="{STACK_CLASS}"')
    return HTML(_DATA_CELL.sub(lambda m: f'{m.group(0)} data-label="{html.escape(labels[int(m.group(1))])}"',
                               styler.to_html()))


def phone_min_width(shown: pd.DataFrame) -> float:
    """Estimate the narrowest a table can be on a phone, in CSS px: its longest word per column.

    Header words break at spaces and underscores (`_header`); values at spaces.

    Examples
    --------
    >>> phone_min_width(pd.DataFrame({"net_revenue": ["1,234.50"], "segment": ["At Risk"]}))
    127.5
    """
    total = 0.0
    for label in shown.columns:
        words = re.split(r"[\s_]+", str(label)) + [w for value in shown[label].astype(str) for w in value.split()]
        total += max(map(len, words), default=0) * _CHAR_PX + _CELL_PADDING_PX
    return total


def _header(label: Any) -> str:
    """Escape a column label and let it wrap after underscores on a narrow screen.

    Examples
    --------
    >>> _header("calinski_harabasz")
    'calinski_<wbr>harabasz'
    >>> _header("<b>")
    '&lt;b&gt;'
    """
    return html.escape(str(label)).replace("_", "_<wbr>")


def takeaway(text: str) -> HTML:
    """Return one escaped takeaway sentence as a highlighted paragraph."""
    return HTML(f'<p class="{TAKEAWAY_CLASS}" style="border-left:4px solid #1f77b4;padding:.2rem .6rem">'
                f"<b>Takeaway:</b> {html.escape(text)}</p>")


def show_takeaway(text: str) -> None:
    """Display one takeaway sentence (escaped) below a chart."""
    from IPython.display import display

    display(takeaway(text))


def format_number(value: float, decimals: int = 2) -> str:
    """Format a number for a sentence: thousands separators, no currency symbol.

    Whole numbers and values of 100 or more get no decimals, values below 1 two
    significant digits, others `decimals` decimals.

    Examples
    --------
    >>> [format_number(v) for v in (1234.5, 12.345, 0.0421, float("nan"))]
    ['1,234', '12.35', '0.042', 'n/a']
    >>> format_number(12.345, decimals=1)
    '12.3'
    """
    value = float(value)
    if not math.isfinite(value):
        return "n/a"
    if value.is_integer() or abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) < 1:
        return f"{value:.2g}"
    return f"{value:,.{decimals}f}"


def shown_path(path: str | Path, root: str | Path | None = None) -> str:
    """Return a path as a page may show it: relative to the project, else the file name alone.

    Pages are shared; the folders of the machine that made them are not the reader's
    business (and may name a person).

    Parameters
    ----------
    path : str or Path
    root : str or Path, optional
        Default: the project folder (`helpers.config.PROJECT_ROOT`).

    Examples
    --------
    >>> shown_path("/home/ana/shop/params/segments.csv", root="/home/ana/shop")
    'params/segments.csv'
    >>> shown_path("/tmp/exports/segments.csv", root="/home/ana/shop")
    'segments.csv'
    """
    from helpers.config import PROJECT_ROOT

    path = Path(path)
    try:
        return path.relative_to(Path(root or PROJECT_ROOT)).as_posix()
    except ValueError:
        return path.name


def plain_text(text: Any) -> str:
    """Escape text from the data so matplotlib does not read ``$...$`` as math."""
    return str(text).replace("$", r"\$")


def figure_title(fig: Any) -> str:
    """Return what a figure's titles say: its suptitle, then each panel's title.

    Parameters
    ----------
    fig : matplotlib.figure.Figure

    Returns
    -------
    str
        ``"Suptitle: panel a; panel b"``, either part alone, or ``""`` without titles.
        Dollar signs escaped for matplotlib (`plain_text`) are shown plain.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig, axes = plt.subplots(1, 2)
    >>> _ = axes[0].set_title("Orders"), axes[1].set_title(plain_text("Revenue $"))
    >>> figure_title(fig)
    'Orders; Revenue $'
    >>> _ = fig.suptitle("Per month")
    >>> figure_title(fig)
    'Per month: Orders; Revenue $'
    >>> plt.close(fig)
    """
    suptitle = fig.get_suptitle().strip()
    panels: list[str] = []
    for ax in fig.axes:
        for loc in ("left", "center", "right"):
            text = ax.get_title(loc).strip()
            if text and text not in panels:
                panels.append(text)
    joined = "; ".join(panels)
    title = f"{suptitle}: {joined}" if suptitle and joined else suptitle or joined
    return title.replace(r"\$", "$")


def label_figures(shell: Any = None) -> None:
    """Make every matplotlib figure the notebook shows carry its title in the output metadata.

    Call it after ``%matplotlib inline`` (which sets the figure formatter this wraps). The
    PNG is unchanged; its output gets ``metadata["image/png"]["alt"]`` = `figure_title`,
    which `helpers.pages` completes with the chart's takeaway into the image's alt text.
    Calling it twice wraps once.

    Parameters
    ----------
    shell : IPython InteractiveShell, optional
        Default: the running one; without one (plain Python) nothing happens.
    """
    from IPython import get_ipython
    from matplotlib.figure import Figure

    shell = shell or get_ipython()
    if shell is None:
        return
    formatter = shell.display_formatter.formatters["image/png"]
    try:
        draw = formatter.lookup_by_type(Figure)
    except KeyError:  # inline figures are off: nothing to label
        return
    if getattr(draw, "labels_figures", False):
        return

    def png_with_title(fig: Figure) -> Any:
        result = draw(fig)
        data, metadata = result if isinstance(result, tuple) else (result, None)
        if data is None:
            return None
        return data, {**(metadata or {}), ALT_KEY: figure_title(fig)}

    png_with_title.labels_figures = True
    formatter.for_type(Figure, png_with_title)
