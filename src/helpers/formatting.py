"""Money and numbers as the shop writes them: ``report.currency`` and ``report.locale``.

Every page, table and export header that shows money or a count formats it here, with
Babel (CLDR data: symbols, grouping, decimal marks for any locale), so "8,265,476.93"
reads "£8,265,476.93" for an en_GB shop in pounds and "8.265.476,93 €" for a de_DE shop in
euros. ``report.currency: null`` shows amounts without a symbol.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.numbers import (
    format_currency,
    format_decimal,
    format_percent,
    get_currency_name,
    parse_pattern,
)

from helpers.errors import UserError


@dataclass(frozen=True)
class Formats:
    """How to write money and numbers for one run.

    Parameters
    ----------
    currency : str or None
        ISO 4217 code (``GBP``, ``EUR``, ``USD``); None writes amounts without a symbol.
    locale : str
        A CLDR locale such as ``en_GB``, ``de_DE``, ``fr_FR``.

    Examples
    --------
    >>> Formats("GBP", "en_GB").money(1234.5)
    '£1,234.50'
    >>> Formats("EUR", "de_DE").money(1234.5)
    '1.234,50\\xa0€'
    >>> Formats(None, "en_GB").money(-3.0), Formats("GBP", "en_GB").number(1234567)
    ('-3.00', '1,234,567')
    >>> Formats("EUR", "de_DE").money(6022668.4, 0), Formats("GBP", "en_GB").money(6022668.4, 0)
    ('6.022.668\xa0€', '£6,022,668')
    >>> Formats("GBP", "en_GB").percent(0.1234), Formats("GBP", "en_GB").money(float("nan"))
    ('12.3%', 'n/a')
    """

    currency: str | None = None
    locale: str = "en_GB"

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Formats:
        """Read ``report.currency`` and ``report.locale`` (checked by `check`)."""
        report = params.get("report", {}) or {}
        formats = cls(report.get("currency") or None, report.get("locale") or "en_GB")
        formats.check()
        return formats

    def check(self) -> None:
        """Raise UserError naming the key when the locale or currency is unknown."""
        try:
            Locale.parse(self.locale)
        except (UnknownLocaleError, ValueError):
            raise UserError(f"key 'report.locale': {self.locale!r} is not a known locale; "
                            f"fix: use a code like en_GB, en_US, de_DE or fr_FR") from None
        if self.currency is not None and get_currency_name(self.currency, locale="en") == self.currency:
            raise UserError(f"key 'report.currency': {self.currency!r} is not an ISO 4217 currency code; "
                            f"fix: use e.g. GBP, EUR or USD, or null for no symbol")

    def money(self, value: float, decimals: int = 2) -> str:
        """Write an amount with the currency symbol (when set) and `decimals` decimals."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "n/a"
        if self.currency is None:
            return self.number(value, decimals)
        if decimals == 2:  # the currency's own digits (0 for JPY) in the locale's pattern
            return format_currency(value, self.currency, locale=self.locale)
        locale = Locale.parse(self.locale)
        pattern = parse_pattern(locale.currency_formats["standard"])  # symbol placed as the locale does
        pattern.frac_prec = (decimals, decimals)
        return pattern.apply(value, locale, currency=self.currency, currency_digits=False)

    def number(self, value: float, decimals: int = 0) -> str:
        """Write a number with the locale's grouping and decimal mark."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "n/a"
        pattern = f"#,##0{'.' + '0' * decimals if decimals else ''}"
        return format_decimal(value, format=pattern, locale=self.locale)

    def percent(self, share: float, decimals: int = 1) -> str:
        """Write a share (0.123) as a percentage ("12.3%")."""
        if share is None or (isinstance(share, float) and math.isnan(share)):
            return "n/a"
        return format_percent(share, format=f"#,##0{'.' + '0' * decimals if decimals else ''}%", locale=self.locale)

    @property
    def currency_label(self) -> str:
        """The currency for column headers: ``"GBP"``, or ``""`` without one."""
        return self.currency or ""
