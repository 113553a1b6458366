"""SQL that reads one exported value as what it means: text, number, id or timestamp.

Shared by every table the kit reads (`helpers.io` for transactions, `helpers.traits` for
demographics and sessions, `helpers.customer_level` for customer tables), so a number, an
id or a date means the same in each; the rules are those listed in `helpers.io`.
"""

from __future__ import annotations

from helpers.engine import quote_literal

# A number in the "," convention that contains a dot: the dots separate thousands.
_GROUPED_COMMA_NUMBER = r"[+-]?\d{1,3}(\.\d{3})+(,\d*)?"
# Text with a letter, "+" or "-" after the time of day: a UTC offset or zone (a regex is
# faster here than GLOB or several LIKEs).
_ZONE_AFTER_TIME = ":.*[A-Za-z+-]"
_INTEGER_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
                  "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"}
_FLOAT_TYPES = {"FLOAT", "REAL", "DOUBLE"}


def as_text(expr: str) -> str:
    """Trimmed text of a value; an empty string is NULL."""
    return f"NULLIF(trim(CAST({expr} AS VARCHAR)), '')"


def untrimmed_text(expr: str) -> str:
    """Text of a value for a cast that skips spaces itself (TRY_CAST to DOUBLE or TIMESTAMP).

    Such a cast reads " 12.5 " as 12.5 and "" or "  " as NULL, so `as_text`'s trim, a
    copy of every string, is not needed (with the header check of `helpers.io`, 7% less
    CPU to stage a 10M-line CSV).
    """
    return f"CAST({expr} AS VARCHAR)"


def is_number_type(column_type: str) -> bool:
    """True for DuckDB integer, float and decimal types."""
    return column_type in _INTEGER_TYPES or column_type in _FLOAT_TYPES or column_type.startswith("DECIMAL")


def number(expr: str, decimal: str, column_type: str = "VARCHAR") -> str:
    """Number from a typed column or from text in the `decimal` convention (NULL if it does not fit).

    With ``","``, a dot may only separate thousands (``1.234,5`` -> 1234.5, ``1.234`` ->
    1234); ``3.50`` does not fit and is NULL, never 350. Values without a dot skip the regex.
    """
    if is_number_type(column_type):  # already a number: no round trip through text
        return f"CAST({expr} AS DOUBLE)"
    if decimal != ",":
        return f"TRY_CAST({untrimmed_text(expr)} AS DOUBLE)"
    text = as_text(expr)
    return (
        f"CASE WHEN NOT contains({text}, '.') THEN TRY_CAST(replace({text}, ',', '.') AS DOUBLE) "
        f"WHEN regexp_full_match({text}, {quote_literal(_GROUPED_COMMA_NUMBER)}) "
        f"THEN TRY_CAST(replace(replace({text}, '.', ''), ',', '.') AS DOUBLE) END"
    )


def identifier(expr: str, column_type: str) -> str:
    """Text id; integral numbers lose a trailing ".0" ("17850.0" -> "17850"), "A.0" stays."""
    if column_type in _INTEGER_TYPES:
        return f"CAST({expr} AS VARCHAR)"
    text = as_text(expr)
    strip = f"regexp_replace({text}, '^([+-]?\\d+)\\.0+$', '\\1')"
    if column_type == "VARCHAR":  # the regex only runs on values with a dot (2x faster)
        return f"CASE WHEN contains({text}, '.') THEN {strip} ELSE {text} END"
    return strip


def date(expr: str, column_type: str, date_format: str) -> str:
    """Timestamp without zone: offsets and zones converted to UTC, other values as written.

    Typed columns are read as they are (`date_format` is for text). Text that has letters,
    "+" or "-" after the time of day carries a zone: it is read as TIMESTAMPTZ, so the
    offset is applied, never dropped; a value that still fails stays NULL (unparsed).
    """
    if column_type == "TIMESTAMP WITH TIME ZONE":
        return f"timezone('UTC', {expr})"
    if column_type.startswith(("TIMESTAMP", "DATE")):
        return f"CAST({expr} AS TIMESTAMP)"
    if date_format == "auto":  # a plain TIMESTAMP cast would drop the offset
        text = untrimmed_text(expr)  # the regex does not look at the ends
        return (
            f"CASE WHEN regexp_matches({text}, {quote_literal(_ZONE_AFTER_TIME)}) "
            f"THEN timezone('UTC', TRY_CAST({text} AS TIMESTAMPTZ)) ELSE TRY_CAST({text} AS TIMESTAMP) END"
        )
    text = as_text(expr)
    if "%z" in date_format:  # strptime's %z takes +05:00 and +0500, not Z
        text = f"regexp_replace({text}, '[Zz]$', '+00:00')"
    parsed = f"try_strptime({text}, {quote_literal(date_format)})"
    return f"timezone('UTC', {parsed})" if "%z" in date_format or "%Z" in date_format else parsed
