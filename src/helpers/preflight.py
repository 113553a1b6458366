"""Open and check every input before the first step runs (the runner's preflight).

A wrong delimiter, encoding, column name, date format or decimal sign in any input table
stops the run with one line before 01_clean starts and before anything is written, not
after an hour of earlier steps. Each input is checked by the function that reads it in its
step, with the same messages (rules as data: `INPUT_CHECKS`):

- ``input.path`` (01_clean): the first `helpers.io.PREFLIGHT_ROWS` rows
  (`helpers.io.check_transactions`); a problem further down is still found by 01_clean;
  a customer-level table (``input.level: customers``) is read whole
  (`helpers.customer_level.load_customer_table`);
- ``input.database`` (01_clean, instead of ``input.path``): the same check on the first rows
  the server returns (`helpers.database`): the server answers, the login, table or query,
  the mapped columns and their types, and the date window are checked before any step;
- ``customers_input.path`` and ``sessions_input.path`` (02_eda): every row, one count per
  parsed column (`helpers.traits.check_demographics`, `helpers.traits.check_sessions`);
- ``personas.traits_file`` (05_personas): read whole, as 05_personas reads it
  (`helpers.persona_traits.load_traits`; these files have one row per customer).

Only inputs that are set and read by one of the steps being run are checked. The engine
connection is made from the run's params (`helpers.engine.connect`) and closed after.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from helpers import customer_level, database, io, persona_traits, traits
from helpers.engine import EngineSettings, connect
from helpers.steps import NOTEBOOKS


def _transactions(con: duckdb.DuckDBPyConnection, params: Mapping[str, Any]) -> None:
    io.check_transactions(con, params["input"])


def _customer_table(con: duckdb.DuckDBPyConnection, params: Mapping[str, Any]) -> None:
    customer_level.load_customer_table(con, params["input"])


def _customers(con: duckdb.DuckDBPyConnection, params: Mapping[str, Any]) -> None:
    traits.check_demographics(con, params["customers_input"])


def _sessions(con: duckdb.DuckDBPyConnection, params: Mapping[str, Any]) -> None:
    traits.check_sessions(con, params["sessions_input"])


def _traits_file(con: duckdb.DuckDBPyConnection, params: Mapping[str, Any]) -> None:
    persona_traits.load_traits(params["personas"]["traits_file"], params["privacy"]["personal_column_patterns"])


def _transaction_level(params: Mapping[str, Any]) -> bool:
    """True when ``input`` holds order lines (``input.level``; a customer-level table is read otherwise)."""
    return params["input"].get("level", "transactions") == "transactions"


def _transaction_file(params: Mapping[str, Any]) -> bool:
    """True when the order lines come from ``input.path`` (not from ``input.database``)."""
    return _transaction_level(params) and not database.configured(params["input"])


@dataclass(frozen=True)
class InputCheck:
    """One input: the params key of its file, the step that reads it, and how to check it."""

    key: str
    step: str
    check: Callable[[duckdb.DuckDBPyConnection, Mapping[str, Any]], None]
    applies: Callable[[Mapping[str, Any]], bool] = lambda params: True


INPUT_CHECKS: tuple[InputCheck, ...] = (
    InputCheck("input.path", "01_clean", _transactions, _transaction_file),
    InputCheck("input.database", "01_clean", _transactions, lambda params: database.configured(params["input"])),
    InputCheck("input.path", "01_clean", _customer_table, lambda params: not _transaction_level(params)),
    InputCheck("customers_input.path", "02_eda", _customers),
    InputCheck("sessions_input.path", "02_eda", _sessions),
    InputCheck("personas.traits_file", "05_personas", _traits_file),
)


def _value(params: Mapping[str, Any], dotted: str) -> Any:
    section, _, leaf = dotted.partition(".")
    return params.get(section, {}).get(leaf)


def check_inputs(params: Mapping[str, Any], steps: Sequence[str] = NOTEBOOKS) -> list[str]:
    """Open and check every input the `steps` read, before the first of them runs.

    Parameters
    ----------
    params : mapping
        The run's params (`helpers.config.load_params`).
    steps : sequence of str, default all
        The notebooks about to run; inputs only other steps read are not opened.

    Returns
    -------
    list of str
        The keys of the inputs checked, in `INPUT_CHECKS` order.

    Raises
    ------
    UserError
        The first problem found, in one line naming the file, the column or key and the fix.
    """
    due = [c for c in INPUT_CHECKS
           if c.step in steps and str(_value(params, c.key) or "").strip() and c.applies(params)]
    if not due:
        return []
    con = connect(EngineSettings.from_params(params).staging())  # the export is read with DuckDB
    try:
        for entry in due:
            entry.check(con, params)
    finally:
        con.close()
    return [entry.key for entry in due]
