"""Params checks of the input tables: ``input``, ``customers_input`` and ``sessions_input``.

Each table has its own reading options (``<table>.csv``: delimiter, encoding, decimal,
header_rows_to_skip, max_line_size, header; ``<table>.date_format``) and column mapping.
`helpers.params_checks` builds their `SCHEMA` entries from `INPUT_TABLES` and
`CSV_OPTIONS` and runs the checks below with the others, so every problem of the params
files is still reported at once. Rules as data: `INPUT_TABLES`, `REQUIRED_WHEN_SET`,
`SYNTHETIC_ORDER_PREFIXES`; each function walks one of them.

Nothing from `helpers.params_checks` is imported at import time (it imports this module);
the checks receive its ``_Checks`` object (the merged params, the file of each key and the
problems found so far).
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import TYPE_CHECKING

from helpers.errors import UserError

if TYPE_CHECKING:  # only for annotations: params_checks imports this module
    from helpers.params_checks import _Checks

# Tables the user maps: each has a path, `csv` options, a `date_format` and `columns`.
INPUT_TABLES: tuple[str, ...] = ("input", "customers_input", "sessions_input")
# The keys of every table's `csv` block (their types live in `params_checks.SCHEMA`).
CSV_OPTIONS: tuple[str, ...] = ("delimiter", "encoding", "decimal", "header_rows_to_skip", "max_line_size", "header")
# Column mappings: within one table, two fields may not name the same source column.
COLUMN_MAPPINGS: tuple[str, ...] = tuple(f"{table}.columns" for table in INPUT_TABLES)
# Optional tables: the columns they need once their path is set.
REQUIRED_WHEN_SET: dict[str, tuple[str, ...]] = {
    "customers_input": ("customer_id",),
    "sessions_input": ("customer_id", "session_start"),
}
# How the order ids made for an export without invoice ids start (`helpers.io.ORDERS_WITHOUT_ID`);
# a cancellation or adjustment prefix that matches them would mark every line.
SYNTHETIC_ORDER_PREFIXES: dict[str, str] = {"customer_day": "day-", "row": "row-"}
PREFIX_KEYS: tuple[str, ...] = ("cleaning.cancellation_prefixes", "cleaning.adjustment_prefixes")


def check_input_columns(checks: _Checks) -> None:
    """Required columns are mapped, and no source column feeds two fields of one table.

    Keys a customer-level table ignores (``input.level: customers``,
    `params_checks._transaction_only_keys`) are neither required nor compared.
    """
    from helpers.params_checks import SCHEMA, _transaction_only_keys

    flat = checks.flat
    ignored = _transaction_only_keys(flat)
    for required in ("customer_id", "invoice_date"):
        key = f"input.columns.{required}"
        if checks.usable(key) and not flat[key] and key not in ignored:
            checks.add(f"key '{key}' is empty; fix: name the column of your export that holds {required}", key)
    amount_keys = [f"input.columns.{f}" for f in ("amount", "quantity", "unit_price")]
    if (checks.usable(*amount_keys) and not ignored.intersection(amount_keys)
            and not flat[amount_keys[0]] and not (flat[amount_keys[1]] and flat[amount_keys[2]])):
        checks.add("neither 'input.columns.amount' nor both 'input.columns.quantity' and 'input.columns.unit_price' "
                   "are set; fix: map an amount column, or quantity and unit price", *amount_keys)
    for table, needed in REQUIRED_WHEN_SET.items():
        for name in needed:
            key = f"{table}.columns.{name}"
            if checks.usable(f"{table}.path", key) and flat[f"{table}.path"] and not flat[key]:
                checks.add(f"key '{key}' is empty while {table}.path is set; "
                           f"fix: name that column, or set {table}.path to null", key)
    for mapping in COLUMN_MAPPINGS:
        keys_by_column: dict[str, list[str]] = {}
        for key in SCHEMA:
            if key.startswith(f"{mapping}.") and key not in ignored and checks.usable(key) and (flat.get(key) or "").strip():
                keys_by_column.setdefault(flat[key].strip(), []).append(key)
        for column, keys in keys_by_column.items():
            if len(keys) > 1:
                named = ", ".join(f"'{k}'" for k in keys[:-1]) + f" and '{keys[-1]}'"
                checks.add(f"keys {named} {'both' if len(keys) == 2 else 'all'} name column '{column}'; "
                           f"fix: map each field to its own column (null for a field the export lacks)", *keys)


def check_reading_options(checks: _Checks) -> None:
    """Each table's encoding is a known codec and its date format a strptime format (or auto)."""
    flat = checks.flat
    for table in INPUT_TABLES:
        key = f"{table}.csv.encoding"
        if checks.usable(key):
            try:
                codecs.lookup(flat[key])
            except LookupError:
                checks.add(f"key '{key}': {flat[key]!r} is not a known encoding; "
                           f"fix: use the file's encoding, e.g. utf-8, latin-1 or cp1252", key)
        key = f"{table}.date_format"
        if checks.usable(key) and flat[key] != "auto" and "%" not in flat[key]:
            checks.add(f"key '{key}': {flat[key]!r} is not a strptime format; "
                       f'fix: write it like "%d/%m/%Y %H:%M" or "%Y%m%d", or auto', key)


def check_synthetic_order_ids(checks: _Checks) -> None:
    """Without an invoice id, no cancellation or adjustment prefix may match the order ids made instead.

    The ids start with `SYNTHETIC_ORDER_PREFIXES` (``day-`` or ``row-``); a prefix such as
    ``d`` would mark every line a cancellation.
    """
    keys = ("input.columns.invoice_id", "input.orders_without_id")
    if not checks.usable(*keys) or checks.flat[keys[0]]:
        return
    made = SYNTHETIC_ORDER_PREFIXES[checks.flat["input.orders_without_id"]]
    for key in PREFIX_KEYS:
        if not checks.usable(key):
            continue
        clashing = [p for p in checks.flat[key] if p and made.startswith(p)]
        if clashing:
            checks.add(f"key '{key}': prefix {clashing[0]!r} matches the order ids made when input.columns.invoice_id "
                       f"is null ('{made}...'), so every line would match; fix: remove it (without invoice ids the "
                       f"prefixes have nothing to match)", key)


def check_input_files(checks: _Checks, check_input: bool) -> None:
    """Input files: a file type the readers know and, when `check_input`, that they exist."""
    from helpers.readers import detect_format

    flat = checks.flat
    for key, fmt_key in (("input.path", "input.format"), ("customers_input.path", None), ("sessions_input.path", None)):
        path = flat.get(key)
        if not checks.usable(key) or not path:
            continue
        if check_input and not Path(path).is_file():
            text = (f"input file not found (key 'input.path' in {checks.origin[key].name}); fix: point input.path at your export"
                    if key == "input.path" else f"file not found (key '{key}'); fix: point it at the file or set it to null")
            checks.add(text, key, where=path)
            continue
        if fmt_key and not checks.usable(fmt_key):
            continue
        try:
            detect_format(Path(path), flat[fmt_key] if fmt_key else "auto")
        except UserError:
            fix = "set input.format to csv, excel or parquet" if fmt_key else "save it as .csv, .xlsx or .parquet"
            checks.add(f"key '{key}': cannot tell the file type of {path} from its extension; fix: {fix}", key)
    traits = flat.get("personas.traits_file")
    if checks.usable("personas.traits_file") and traits and str(traits).strip():
        if check_input and not Path(traits).is_file():
            checks.add("traits file not found (key 'personas.traits_file'); "
                       "fix: point it at a CSV or Parquet file, or set it to null", "personas.traits_file", where=traits)
        elif not "".join(Path(traits).suffixes).lower().endswith((".parquet", ".csv", ".csv.gz", ".tsv", ".txt")):
            checks.add(f"key 'personas.traits_file': {traits} must be .csv or .parquet; fix: save it as one of them",
                       "personas.traits_file")
