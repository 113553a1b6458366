"""Display helpers for the notebooks: escaped tables and takeaway lines.

Text from the data (product descriptions, country names) is HTML-escaped everywhere, so a
description like ``<script>`` shows as text in the rendered report.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

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
    for col in shown.columns:
        spec = formats.get(col)
        if spec is None and pd.api.types.is_integer_dtype(shown[col]):
            spec = "{:,}"
        if spec is not None:
            shown[col] = shown[col].map(lambda v, s=spec: "" if pd.isna(v) else s.format(v))
    return HTML(shown.to_html(index=index, escape=True, border=0, classes="dataframe", na_rep=""))


def takeaway(text: str) -> HTML:
    """Return one escaped takeaway sentence as a highlighted paragraph."""
    return HTML(f'<p style="border-left:4px solid #1f77b4;padding:.2rem .6rem"><b>Takeaway:</b> {html.escape(text)}</p>')
