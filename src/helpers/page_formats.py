"""Money and numbers on the report pages: `helpers.formatting.Formats` or, without one, today's text.

Every presentation function that shows money takes ``formats: Formats | None = None``.
With None it writes what it always wrote (thousands separators, no currency symbol); with
a `Formats` (``Formats.from_params(params)``) money carries the shop's currency and every
number the locale's grouping and decimal mark. The helpers below make that choice once, so
a table, an axis and a sentence write the same amount the same way.

CSV exports never go through here: their cells stay plain numbers (`helpers.exports`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Mapping

import pandas as pd
from babel.numbers import format_compact_currency, format_compact_decimal
from matplotlib.ticker import FuncFormatter

from helpers.formatting import Formats
from helpers.report import format_number

# Columns (and profile keys without their ``median_`` prefix) that hold amounts of money.
MONEY_COLUMNS: frozenset[str] = frozenset({
    "monetary", "net_revenue", "revenue", "avg_order_value", "order_value", "amount", "unit_price",
    "predicted_clv", "predicted_value",
})


def is_money(column: str) -> bool:
    """Return True when `column` holds money (`MONEY_COLUMNS`, also as ``median_<column>``).

    >>> is_money("median_monetary"), is_money("recency_days")
    (True, False)
    """
    return str(column).removeprefix("median_") in MONEY_COLUMNS


def _missing(value: object) -> bool:
    """True for None, NaN, pd.NA and infinities: a blank table cell."""
    return value is None or bool(pd.isna(value)) or not math.isfinite(float(value))


def _sentence_decimals(value: float, decimals: int) -> int:
    """Decimals of `helpers.report.format_number`: none for whole numbers or from 100 on."""
    if value.is_integer() or abs(value) >= 100:
        return 0
    if abs(value) < 1:
        return max(decimals, 1 - math.floor(math.log10(abs(value))))  # two significant digits
    return decimals


def money_sentence(value: float, formats: Formats | None = None, decimals: int = 2) -> str:
    """Write an amount for a sentence or a bar label: no decimals from 100 on.

    Examples
    --------
    >>> money_sentence(1113102.4), money_sentence(1113102.4, Formats("GBP", "en_GB"))
    ('1,113,102', '£1,113,102')
    >>> money_sentence(12.5, Formats("EUR", "de_DE"))
    '12,50\\xa0€'
    """
    if formats is None:
        return format_number(value, decimals)
    value = float(value)
    if not math.isfinite(value):
        return "n/a"
    return formats.money(value, _sentence_decimals(value, decimals))


def number_sentence(value: float, formats: Formats | None = None, decimals: int = 2) -> str:
    """Write a number for a sentence or a tick label by the rules of `money_sentence`, no symbol.

    >>> number_sentence(1234.5), number_sentence(1234.5, Formats("EUR", "de_DE"))
    ('1,234', '1.234')
    """
    if formats is None:
        return format_number(value, decimals)
    value = float(value)
    if not math.isfinite(value):
        return "n/a"
    return formats.number(value, _sentence_decimals(value, decimals))


def money_cell(value: float, formats: Formats, decimals: int = 2) -> str:
    """Write an amount for a table cell with `decimals` decimals; blank when missing.

    >>> money_cell(8265476.931, Formats("GBP", "en_GB")), money_cell(float("nan"), Formats())
    ('£8,265,476.93', '')
    """
    if _missing(value):
        return ""
    return formats.money(float(value), decimals)


def number_cell(value: float, formats: Formats, decimals: int = 0) -> str:
    """Write a number for a table cell with `decimals` decimals; blank when missing.

    >>> number_cell(4372, Formats("GBP", "en_GB")), number_cell(2.25, Formats("EUR", "de_DE"), 1)
    ('4,372', '2,2')
    """
    if _missing(value):
        return ""
    return formats.number(float(value), decimals)


def count_cell(value: float, formats: Formats, decimals: int = 1) -> str:
    """Write a count or days with at most `decimals` decimals, none when whole (`format_count` rule).

    >>> [count_cell(v, Formats("GBP", "en_GB")) for v in (4324.0, 2.5, -0.01)]
    ['4,324', '2.5', '0']
    """
    if _missing(value):
        return ""
    rounded = round(float(value), decimals) + 0.0  # + 0.0 turns -0.0 into 0.0
    return formats.number(rounded, 0 if rounded.is_integer() else decimals)


def share_cell(share: float, formats: Formats, decimals: int = 1) -> str:
    """Write a share as a percentage for a table cell; blank when missing.

    >>> share_cell(0.1234, Formats("GBP", "en_GB")), share_cell(0.5, Formats("EUR", "de_DE"), 0)
    ('12.3%', '50%')
    """
    if _missing(share):
        return ""
    return formats.percent(float(share), decimals)


def compact_money(value: float, formats: Formats) -> str:
    """Write an amount short, for a crowded chart cell: ``£1.5k``, ``£3.9m`` (CLDR short forms).

    >>> compact_money(1500, Formats("GBP", "en_GB")), compact_money(3_900_000, Formats(None, "en_GB"))
    ('£1.5k', '3.9m')
    """
    if _missing(value):
        return "n/a"
    if formats.currency is None:
        return format_compact_decimal(float(value), locale=formats.locale, fraction_digits=1)
    return format_compact_currency(float(value), formats.currency, locale=formats.locale, fraction_digits=1)


def money_label(label: str, formats: Formats | None = None, note: str = "") -> str:
    """Name the currency in an axis or column label: ``Net revenue (GBP, log scale)``.

    Parameters
    ----------
    label : str
        The label without a unit.
    formats : Formats, optional
        None, or a Formats without a currency, leaves the currency out.
    note : str, default ""
        More for the brackets, e.g. ``"log scale"``.

    Examples
    --------
    >>> money_label("Net revenue", Formats("GBP", "en_GB"), "log scale")
    'Net revenue (GBP, log scale)'
    >>> money_label("Net revenue", None, "log scale"), money_label("Net revenue")
    ('Net revenue (log scale)', 'Net revenue')
    """
    parts = [part for part in ((formats.currency_label if formats else ""), note) if part]
    return f"{label} ({', '.join(parts)})" if parts else label


def tick_formatter(formats: Formats | None = None, decimals: int = 2) -> FuncFormatter:
    """Return a tick formatter writing plain numbers (`number_sentence`) in the locale's style."""
    return FuncFormatter(lambda x, _pos: number_sentence(x, formats, decimals))


def money_formatter(formats: Formats | None, decimals: int = 2) -> Callable[[float], str]:
    """Return ``value -> text`` for amounts in table cells: Babel money, else ``{:,.<decimals>f}``.

    >>> money_formatter(None, 0)(1234.5), money_formatter(Formats("GBP", "en_GB"), 0)(1234.5)
    ('1,234', '£1,234')
    """
    if formats is None:
        return lambda value: "" if not math.isfinite(float(value)) else f"{float(value):,.{decimals}f}"
    return lambda value: money_cell(value, formats, decimals)


_SPEC = re.compile(r"^\{:(,?)(?:\.(\d+))?([f%]?)\}$")


def spec_decimals(spec: str) -> tuple[int, bool]:
    """Read the decimals of a table format string and whether it is a percentage.

    Only the specs the report's tables use: ``{:,}``, ``{:,.2f}``, ``{:.1%}`` and the like.

    Examples
    --------
    >>> spec_decimals("{:,.2f}"), spec_decimals("{:.1%}"), spec_decimals("{:,}")
    ((2, False), (1, True), (0, False))
    >>> spec_decimals("{:.4g}")
    Traceback (most recent call last):
    ...
    ValueError: format '{:.4g}' is not one of {:,}, {:,.Nf}, {:.N%}
    """
    match = _SPEC.match(spec)
    if match is None:
        raise ValueError(f"format {spec!r} is not one of {{:,}}, {{:,.Nf}}, {{:.N%}}")
    return int(match.group(2) or 0), match.group(3) == "%"


def localise_table(
    frame: pd.DataFrame, specs: Mapping[str, str], formats: Formats, money: Collection[str] = ()
) -> pd.DataFrame:
    """Write a display table's numbers as text with Babel, each with the decimals of its spec.

    The tables of the report were shown with ``table_html(frame, specs)``; with a `Formats`
    the same table comes back as text (money with the currency, numbers and percentages in
    the locale's style), to be shown with ``table_html(frame)``.

    Parameters
    ----------
    frame : pandas.DataFrame
        The display table.
    specs : mapping of str to str
        Column -> format string as given to `helpers.report.table_html` (`spec_decimals`).
        Integer columns without a spec are grouped; other columns are left as they are.
    formats : Formats
    money : collection of str, default ()
        Columns that hold money.

    Returns
    -------
    pandas.DataFrame
        A copy of `frame`, formatted columns as text (blank when missing).

    Examples
    --------
    >>> table = pd.DataFrame({"segment": ["Loyal"], "customers": [1234], "net revenue": [98765.4],
    ...                       "share": [0.123]})
    >>> specs = {"net revenue": "{:,.2f}", "share": "{:.1%}"}
    >>> localise_table(table, specs, Formats("EUR", "de_DE"), money={"net revenue"}).iloc[0].tolist()
    ['Loyal', '1.234', '98.765,40\\xa0€', '12,3%']
    """
    shown = frame.copy()
    for column in shown.columns:
        spec = specs.get(column)
        if spec is None and pd.api.types.is_integer_dtype(shown[column]):
            spec = "{:,}"
        if spec is None:
            continue
        decimals, percent = spec_decimals(spec)
        if percent:
            shown[column] = [share_cell(v, formats, decimals) for v in frame[column]]
        elif column in money:
            shown[column] = [money_cell(v, formats, decimals) for v in frame[column]]
        else:
            shown[column] = [number_cell(v, formats, decimals) for v in frame[column]]
    return shown
