"""Display helpers for the notebooks: escaped tables and takeaway lines.

Text from the data (product descriptions, country names) is HTML-escaped everywhere, so a
description like ``<script>`` shows as text in the rendered report.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from typing import Any

import pandas as pd
from IPython.display import HTML


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
    shown.columns = [html.escape(str(c)) for c in shown.columns]
    numeric = [html.escape(str(c)) for c in numeric]
    text = [c for c in shown.columns if c not in numeric]
    styler = shown.style.format(escape="html", na_rep="")
    styler = styler.set_properties(subset=text, **{"text-align": "left"})
    styler = styler.set_table_styles([{"selector": "th", "props": [("text-align", "left")]}])
    if not index:
        styler = styler.hide(axis="index")
    return HTML(styler.to_html())


def takeaway(text: str) -> HTML:
    """Return one escaped takeaway sentence as a highlighted paragraph."""
    return HTML(f'<p style="border-left:4px solid #1f77b4;padding:.2rem .6rem"><b>Takeaway:</b> {html.escape(text)}</p>')


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


def plain_text(text: Any) -> str:
    """Escape text from the data so matplotlib does not read ``$...$`` as math."""
    return str(text).replace("$", r"\$")
