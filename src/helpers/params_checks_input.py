"""Params checks of the input tables: ``input``, ``customers_input`` and ``sessions_input``.

Each table has its own reading options (``<table>.csv``: delimiter, encoding, decimal,
header_rows_to_skip, max_line_size, header; ``<table>.date_format``) and column mapping.
`helpers.params_checks` builds their `SCHEMA` entries from `INPUT_TABLES` and
`CSV_OPTIONS` and runs the checks below with the others, so every problem of the params
files is still reported at once. Rules as data: `INPUT_TABLES`, `REQUIRED_WHEN_SET`,
`SYNTHETIC_ORDER_PREFIXES`, `DATABASE_SCHEMA`; each function walks one of them.

``input.database`` (read the transactions from PostgreSQL instead of ``input.path``) and
``output.database`` (write the segments back) are checked here too (`check_database`):
without connecting, so a params file loads on a machine without the server.

Nothing from `helpers.params_checks` is imported at import time (it imports this module);
the checks receive its ``_Checks`` object (the merged params, the file of each key and the
problems found so far).
"""

from __future__ import annotations

import codecs
import datetime
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
# input.database and output.database (`helpers.database`, `helpers.database_output`): key -> type.
DATABASE_SCHEMA: dict[str, Any] = {
    "input.database.url": (str, type(None)),
    "input.database.table": (str, type(None)),
    "input.database.query": (str, type(None)),
    "input.database.since": (str, datetime.date, type(None)),
    "input.database.until": (str, datetime.date, type(None)),
    "output.database.url": (str, type(None)),
    "output.database.table": (str,),
    "output.database.personas_table": (str, type(None)),
    "output.database.mode": ["replace", "append"],
}
# Keys that only mean something with their section's url set.
DATABASE_NEEDS_URL: dict[str, tuple[str, ...]] = {
    "input.database.url": ("input.database.table", "input.database.query", "input.database.since", "input.database.until"),
    "output.database.url": (),
}
URL_EXAMPLE = "postgresql://user:password@host:5432/dbname, or env:NAME to read it from a variable"


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
        if not checks.usable(key) or not path or (key == "input.path" and _is_set(flat.get("input.database.url"))):
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


def _is_set(value: Any) -> bool:
    return value is not None and str(value).strip() != ""


def _check_url(checks: _Checks, key: str) -> None:
    """A connection URL: postgresql://..., or env:NAME with NAME set to one (never quoted: it may hold a password)."""
    from helpers.database import env_name, url_problem

    value = str(checks.flat[key]).strip()
    name = env_name(value)
    if name == "":
        checks.add(f"key '{key}' is 'env:' without a variable name; fix: write it like env:SHOP_DATABASE_URL", key)
    elif name and not os.environ.get(name, "").strip():
        state = "is empty" if name in os.environ else "is not set"
        checks.add(f"key '{key}' reads the environment variable {name!r}, which {state}; "
                   f"fix: export {name}=postgresql://user:password@host:5432/dbname before running", key)
    elif (problem := url_problem(os.environ[name] if name else value)) is not None:
        where = f"the environment variable {name!r} of key '{key}'" if name else f"key '{key}'"
        checks.add(f"{where}: {problem}; fix: write it like {URL_EXAMPLE}", key)


def _check_database_source(checks: _Checks) -> None:
    """input.database: one of table and query, dates in order, transaction level (input.path is then not read)."""
    from helpers.database import parse_day

    flat = checks.flat
    chosen = [k for k in ("input.database.table", "input.database.query") if checks.usable(k) and _is_set(flat[k])]
    if len(chosen) != 1:
        text = ("keys 'input.database.table' and 'input.database.query' are both set; fix: keep one" if chosen else
                "key 'input.database.url' is set but neither input.database.table nor input.database.query; "
                "fix: name the table of order lines (table: orders) or write a query")
        checks.add(text, *(chosen or ["input.database.table"]))
    days = {}
    for key in ("input.database.since", "input.database.until"):
        if checks.usable(key) and _is_set(flat[key]):
            try:
                days[key] = parse_day(flat[key], key)
            except UserError as exc:
                checks.add(str(exc), key)
    if len(days) == 2 and days["input.database.since"] >= days["input.database.until"]:
        checks.add(f"key 'input.database.until' ({days['input.database.until']}) must be after input.database.since "
                   f"({days['input.database.since']}); fix: swap them, or set one to null", "input.database.until")
    if checks.usable("input.level") and flat["input.level"] != "transactions":
        checks.add("key 'input.database.url' reads order lines, but input.level is 'customers'; fix: set "
                   "input.level: transactions, or export the customer table to a file (input.path)", "input.database.url")


def _check_database_output(checks: _Checks) -> None:
    """output.database: two different, non-empty table names."""
    flat = checks.flat
    tables = [k for k in ("output.database.table", "output.database.personas_table") if checks.usable(k)]
    for key in tables:
        if flat[key] is not None and not flat[key].strip():
            checks.add(f"key '{key}' is empty; fix: name a table, e.g. customer_segments"
                       + (", or null to skip personas" if key.endswith("personas_table") else ""), key)
    if len(tables) == 2 and flat[tables[0]] == flat[tables[1]]:
        checks.add(f"keys 'output.database.table' and 'output.database.personas_table' both name "
                   f"'{flat[tables[0]]}'; fix: give personas a table of their own", *tables)


def check_database(checks: _Checks) -> None:
    """input.database and output.database: a PostgreSQL URL, what goes with it, and nothing set without it.

    Nothing connects here; `helpers.preflight` opens the input before any step runs.
    """
    flat = checks.flat
    for url_key, dependent in DATABASE_NEEDS_URL.items():
        if not checks.usable(url_key):
            continue
        if not _is_set(flat[url_key]):
            for key in dependent:
                if checks.usable(key) and _is_set(flat[key]):
                    checks.add(f"key '{key}' is set but {url_key} is null; fix: set {url_key} ({URL_EXAMPLE}), "
                               f"or remove {key}", key)
            continue
        _check_url(checks, url_key)
        (_check_database_source if url_key.startswith("input.") else _check_database_output)(checks)
