"""One sentence saying why a chart or table needing a missing optional field is skipped.

Presentation only. `helpers.eda_fields.field_presence` finds the optional fields no
cleaned line carries (country, product, time of day); here they become a plain-English
line that names the params key to set, e.g. "No country column is mapped
(input.columns.country), so the country chart is skipped." 02_eda shows it in place of the
chart, 05_personas (through `helpers.persona_rankings.missing_field_line`) under its tables.

With the ``input`` section of the params the line says whether the column is not mapped
or mapped but blank on every line; without it, only that no line has the field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from helpers.eda_fields import CUSTOMER_FIELD_COLUMNS, OPTIONAL_FIELDS, FieldPresence

# The input columns (``input.columns.<key>``) each optional field comes from, and their names.
FIELD_COLUMNS: dict[str, tuple[str, ...]] = {
    "country": ("country",),
    "product": ("product_id", "description"),
}
COLUMN_NOUNS: dict[str, str] = {
    "country": "country",
    "product_id": "product id",
    "description": "description",
}


def _check_field(field: str) -> None:
    if field not in OPTIONAL_FIELDS:
        raise ValueError(f"unknown optional field {field!r}; choose from {', '.join(OPTIONAL_FIELDS)}")


def _time_reason(input_params: Mapping[str, Any] | None) -> str:
    """Say that the dates carry no time of day, naming ``input.date_format`` when it is set."""
    date_format = (input_params or {}).get("date_format", "auto")
    setting = f"; input.date_format is '{date_format}'" if date_format not in (None, "auto") else ""
    return f"the order dates carry no time of day (every one is at 00:00{setting})"


def _column_reason(field: str, input_params: Mapping[str, Any] | None) -> str:
    """Say which input columns of `field` are not mapped and which are blank on every line."""
    keys = FIELD_COLUMNS[field]
    nouns = " or ".join(COLUMN_NOUNS[k] for k in keys)
    settings = ", ".join(f"input.columns.{k}" for k in keys)
    if input_params is None:
        return f"no line has a {nouns} ({settings})"
    columns = input_params.get("columns", {})
    unmapped = [k for k in keys if not columns.get(k)]
    blank = [k for k in keys if columns.get(k)]
    parts = []
    if unmapped:
        which = " or ".join(COLUMN_NOUNS[k] for k in unmapped)
        parts.append(f"no {which} column is mapped ({', '.join(f'input.columns.{k}' for k in unmapped)})")
    if blank:
        named = " and ".join(f"the {COLUMN_NOUNS[k]} column '{columns[k]}' (input.columns.{k})" for k in blank)
        parts.append(f"{named} {'is' if len(blank) == 1 else 'are'} blank on every line")
    return " and ".join(parts)


def missing_reason(field: str, input_params: Mapping[str, Any] | None = None) -> str:
    """Say why no line carries `field`, as a clause without capital or full stop.

    Parameters
    ----------
    field : {"country", "product", "time_of_day"}
        One of `helpers.eda_fields.OPTIONAL_FIELDS`.
    input_params : mapping, optional
        The ``input`` section of the params (``columns``, ``date_format``).

    Returns
    -------
    str
        E.g. "no country column is mapped (input.columns.country)".

    Examples
    --------
    >>> missing_reason("product", {"columns": {"product_id": "StockCode", "description": None}})
    "no description column is mapped (input.columns.description) and the product id column 'StockCode' (input.columns.product_id) is blank on every line"
    """
    _check_field(field)
    return _time_reason(input_params) if field == "time_of_day" else _column_reason(field, input_params)


def notes_line(
    consequences: Sequence[tuple[str, str]], input_params: Mapping[str, Any] | None = None
) -> str:
    """Join (field, consequence) pairs into one line: "<Reason>, so <consequence>; <reason>, so ...".

    Parameters
    ----------
    consequences : sequence of (str, str)
        Missing field and what it leaves out, e.g. ``("country", "the country chart is skipped")``.
    input_params : mapping, optional
        The ``input`` section of the params.

    Returns
    -------
    str
        One sentence, capitalised and ending in a full stop.

    Examples
    --------
    >>> notes_line([("country", "the country chart is skipped")], {"columns": {"country": None}})
    'No country column is mapped (input.columns.country), so the country chart is skipped.'
    """
    if not consequences:
        raise ValueError("notes_line needs at least one (field, consequence) pair")
    clauses = [f"{missing_reason(field, input_params)}, so {what}" for field, what in consequences]
    line = "; ".join(clauses)
    return f"{line[:1].upper()}{line[1:]}."


def skip_line(
    presence: FieldPresence,
    field: str,
    consequence: str,
    input_params: Mapping[str, Any] | None = None,
) -> str | None:
    """Return the line to show instead of a chart needing `field`, or None when it can be drawn.

    Parameters
    ----------
    presence : helpers.eda_fields.FieldPresence
        Output of `helpers.eda_fields.field_presence`.
    field : {"country", "product", "time_of_day"}
        The field the chart needs.
    consequence : str
        What is left out, e.g. "the country chart is skipped".
    input_params : mapping, optional
        The ``input`` section of the params.

    Returns
    -------
    str or None
        None when some line carries `field` (or there are no lines: the chart then says so
        itself), else the line of `notes_line`.

    Examples
    --------
    >>> presence = FieldPresence(True, True, True, True, False)
    >>> skip_line(presence, "time_of_day", "the orders-by-hour chart is skipped")
    'The order dates carry no time of day (every one is at 00:00), so the orders-by-hour chart is skipped.'
    >>> skip_line(presence, "country", "the country chart is skipped") is None
    True
    """
    _check_field(field)
    if field not in presence.missing:
        return None
    return notes_line([(field, consequence)], input_params)


def skip_lines(
    presence: FieldPresence,
    consequences: Mapping[str, str],
    input_params: Mapping[str, Any] | None = None,
) -> list[str]:
    """Return one `skip_line` per missing field of `consequences` (field -> what is left out)."""
    lines = [skip_line(presence, field, what, input_params) for field, what in consequences.items()]
    return [line for line in lines if line is not None]


def customer_columns_line(
    presence: FieldPresence, input_params: Mapping[str, Any] | None = None
) -> str | None:
    """Say which customer-table columns `helpers.eda_fields.drop_missing_fields` leaves out, and why.

    Parameters
    ----------
    presence : helpers.eda_fields.FieldPresence
        Output of `helpers.eda_fields.field_presence`.
    input_params : mapping, optional
        The ``input`` section of the params.

    Returns
    -------
    str or None
        One line, or None when every column of `CUSTOMER_FIELD_COLUMNS` is kept.

    Examples
    --------
    >>> customer_columns_line(FieldPresence(True, True, False, False, True), {"columns": {}})
    'No product id or description column is mapped (input.columns.product_id, input.columns.description), so the customer table has no distinct products column.'
    """
    consequences = [
        (field, f"the customer table has no {' or '.join(c.replace('_', ' ') for c in columns)} column")
        for field, columns in CUSTOMER_FIELD_COLUMNS.items()
        if field in presence.missing
    ]
    return notes_line(consequences, input_params) if consequences else None
