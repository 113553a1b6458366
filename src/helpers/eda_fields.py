"""Optional fields of the cleaned transactions: which ones the lines carry (steps 02 and 05).

An export may have no country column, neither product ids nor descriptions, or dates
without a time of day. 01_clean still writes every column of the contract
(`helpers.catalog.TRANSACTION_COLUMNS`), so such a field is simply missing on every line,
and a chart needing it would show one "Unknown" bar, no products, or one 00:00 bar.
`field_presence` tells, with one DuckDB query, which fields carry information, so 02_eda
and 05_personas skip what needs a missing one; `drop_missing_fields` takes the matching
columns out of the customer table. The sentence saying why is written by
`helpers.field_notes`.

Computation only, like `helpers.eda` (whose SQL pieces it shares): callers hand in the
connection and the Parquet written by 01_clean.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from helpers.eda import SOURCE, source_params

# Fields a chart or a customer column needs, in the order their notes are written.
OPTIONAL_FIELDS: tuple[str, ...] = ("country", "product", "time_of_day")
# Customer-table columns (`helpers.eda.customer_summary`) that say nothing without their field.
CUSTOMER_FIELD_COLUMNS: dict[str, tuple[str, ...]] = {
    "product": ("distinct_products",),
    "country": ("country",),
}

# Missing or blank text counts as missing, as in `helpers.eda`. EXISTS stops at the first
# line that carries the field; a field no line carries costs one scan of its column
# (50M lines, all four fields absent: 0.2 s on 2 cores).
FIELDS_SQL = f"""
    SELECT EXISTS (SELECT 1 FROM {SOURCE}) AS lines,
           EXISTS (SELECT 1 FROM {SOURCE} WHERE nullif(trim(country), '') IS NOT NULL) AS country,
           EXISTS (SELECT 1 FROM {SOURCE} WHERE product_id IS NOT NULL) AS product_id,
           EXISTS (SELECT 1 FROM {SOURCE} WHERE nullif(trim(description), '') IS NOT NULL) AS description,
           EXISTS (SELECT 1 FROM {SOURCE}
                   WHERE invoice_date <> date_trunc('day', invoice_date)) AS time_of_day
"""


@dataclass(frozen=True)
class FieldPresence:
    """Which optional fields carry information on at least one cleaned line.

    Attributes
    ----------
    lines : bool
        The file has at least one line (without lines nothing counts as missing).
    country, product_id, description : bool
        Some line has a non-blank value.
    time_of_day : bool
        Some invoice date is not at midnight.
    """

    lines: bool
    country: bool
    product_id: bool
    description: bool
    time_of_day: bool

    @property
    def product(self) -> bool:
        """True when products can be told apart: by id, else by description."""
        return self.product_id or self.description

    @property
    def missing(self) -> tuple[str, ...]:
        """Return the `OPTIONAL_FIELDS` no line carries; none for a file without lines.

        >>> FieldPresence(True, False, False, True, False).missing
        ('country', 'time_of_day')
        >>> FieldPresence(False, False, False, False, False).missing
        ()
        """
        return tuple(f for f in OPTIONAL_FIELDS if self.lines and not getattr(self, f))


def field_presence(con: duckdb.DuckDBPyConnection, path: str | Path) -> FieldPresence:
    """Tell which optional fields (country, product, time of day) the cleaned lines carry.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Connection used to run the one query (`FIELDS_SQL`).
    path : str or Path
        Cleaned transactions Parquet written by 01_clean.

    Returns
    -------
    FieldPresence
        One flag per field; ``.missing`` lists the fields whose charts are skipped.
    """
    (row,) = con.execute(FIELDS_SQL, source_params(path)).fetchall()
    return FieldPresence(*(bool(flag) for flag in row))


def drop_missing_fields(customers: pd.DataFrame, presence: FieldPresence) -> pd.DataFrame:
    """Drop the customer columns whose field no line carries (`CUSTOMER_FIELD_COLUMNS`).

    Without products every customer would show 0 distinct products, and without
    countries no main country: columns that look like data but say nothing. Dropped
    here, they are not summarised by 02_eda nor profiled as traits by 05_personas.

    Parameters
    ----------
    customers : pandas.DataFrame
        Output of `helpers.eda.customer_summary` (any frame with some of those columns).
    presence : FieldPresence
        Output of `field_presence` for the same transactions.

    Returns
    -------
    pandas.DataFrame
        `customers` without those columns, same rows; ``attrs["dropped_fields"]`` maps each
        missing field to the columns dropped for it.

    Examples
    --------
    >>> customers = pd.DataFrame({"customer_id": ["A"], "distinct_products": [0], "country": [None]})
    >>> kept = drop_missing_fields(customers, FieldPresence(True, True, False, False, True))
    >>> list(kept.columns), kept.attrs["dropped_fields"]
    (['customer_id', 'country'], {'product': ['distinct_products']})
    """
    dropped = {
        field: [c for c in columns if c in customers.columns]
        for field, columns in CUSTOMER_FIELD_COLUMNS.items()
        if field in presence.missing
    }
    dropped = {field: columns for field, columns in dropped.items() if columns}
    kept = customers.drop(columns=[c for columns in dropped.values() for c in columns])
    kept.attrs["dropped_fields"] = dropped
    return kept
