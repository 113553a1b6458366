"""Exports for the CRM and privacy guards (step 05_personas).

Two files are written per run, into the run folder (or the processed folder when a
notebook runs interactively): the catalog datasets "segments" and "personas", which
`helpers.catalog.write` writes with `write_csv`:

- ``segments.csv``: one row per customer of the RFM table, columns `SEGMENT_COLUMNS`,
  ready for a CRM import (customer id, the RFM metrics and scores, the RFM segment, the
  cluster and its persona); when 03_rfm's future-value model ran, also
  `SEGMENT_FUTURE_COLUMNS` (P(alive) to 3 decimals, predicted value in cents, churn risk;
  blank for a customer the model did not score).
- ``personas.csv``: one row per persona with its figures and up to three actions,
  columns `PERSONA_COLUMNS` (and `PERSONA_FUTURE_COLUMNS` with the future-value model).

Both are byte-for-byte the same for the same input: rows sorted by a stable key, money
rounded to 2 decimals, shares to 4, every number written by a fixed format, UTF-8 with
``\\n`` line ends, written to a temporary name and renamed. Text that a spreadsheet would
run as a formula (``=...``, ``@...``) gets a leading apostrophe (`neutralise_formula`).

Privacy:

- ``privacy.pseudonymize_ids``: customer ids become ``sha256(salt + id)``, first 16 hex
  digits (`pseudonymize_ids`), in the exports and wherever the report shows ids. The
  salt (``privacy.salt``) must be non-empty; ``env:NAME`` reads it from the environment
  variable NAME so it need not sit in a params file (`resolve_salt`). Report tables that
  show ids go through `ids_for_report`, so no raw id reaches the run folder.
- Columns whose *name* looks like personal data (e-mail, name, phone, address, see
  `PERSONAL_COLUMN_PATTERNS`) are dropped from any frame before display or export
  (`drop_personal_columns`).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from helpers.csv_text import EXPORT_DECIMALS as EXPORT_DECIMALS  # the writing lives there
from helpers.csv_text import format_for_csv as format_for_csv
from helpers.csv_text import neutralise_formula as neutralise_formula
from helpers.csv_text import write_csv as write_csv
from helpers.errors import UserError

# Case-insensitive regular expressions on column names. Long words match anywhere in the
# name (``customer_email``, ``Kundenname``, ``ip_address``); short ones only as a whole
# word between separators (``tel``, ``fax``), so ``hotel`` or ``title`` stay.
PERSONAL_COLUMN_PATTERNS: tuple[str, ...] = (
    r"e[-_ ]?mail",
    r"name",
    r"phone",
    r"telefon",
    r"(^|[^a-z])(tel|fax|mobile|cell)([^a-z]|$)",
    r"address",
    r"street",
    r"post[-_ ]?code",
    r"postal",
    r"(^|[^a-z])zip([^a-z]|$)",
    r"birth",
)

SEGMENT_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "recency_days",
    "frequency",
    "monetary",
    "r_score",
    "f_score",
    "m_score",
    "rfm_segment",
    "cluster",
    "persona",
)
# Added to segments.csv when the customer table carries 03_rfm's clv columns.
SEGMENT_FUTURE_COLUMNS: tuple[str, ...] = ("p_alive", "predicted_clv", "churn_risk")
PERSONA_COLUMNS: tuple[str, ...] = (
    "persona",
    "rule",
    "cluster",
    "customers",
    "customer_share",
    "revenue",
    "revenue_share",
    "median_recency_days",
    "median_frequency",
    "median_monetary",
    "median_avg_order_value",
    "median_tenure_days",
    "description",
    "action_1",
    "action_2",
    "action_3",
)
# Added to personas.csv (before the description) when the profiles carry the clv figures.
PERSONA_FUTURE_COLUMNS: tuple[str, ...] = (
    "share_likely_lapsed",
    "median_p_alive",
    "predicted_value",
    "predicted_value_share",
    "churn_high_share",
)
MAX_ACTIONS = 3
PSEUDONYM_DIGITS = 16


# --------------------------------------------------------------------------------------
# Privacy
# --------------------------------------------------------------------------------------


def personal_columns(columns: Sequence[Any], extra_patterns: Sequence[str] = ()) -> list[str]:
    """Return the column names that look like personal data, in their order.

    Parameters
    ----------
    columns : sequence
        Column names (anything with a ``str``).
    extra_patterns : sequence of str, default ()
        More case-insensitive regular expressions (``privacy.personal_column_patterns``).

    Returns
    -------
    list of str
        The names matching `PERSONAL_COLUMN_PATTERNS` or `extra_patterns`.

    Raises
    ------
    UserError
        An extra pattern that is not a valid regular expression.

    Examples
    --------
    >>> personal_columns(["customer_id", "Email", "first_name", "hotel", "Tel.", "country"])
    ['Email', 'first_name', 'Tel.']
    """
    compiled = []
    for pattern in (*PERSONAL_COLUMN_PATTERNS, *extra_patterns):
        try:
            compiled.append(re.compile(pattern, re.IGNORECASE))
        except re.error as exc:
            raise UserError(
                f"key 'privacy.personal_column_patterns': {pattern!r} is not a regular "
                f"expression ({exc}); fix: write e.g. \"^kunde_\""
            ) from None
    return [str(c) for c in columns if any(p.search(str(c)) for p in compiled)]


def drop_personal_columns(frame: pd.DataFrame, extra_patterns: Sequence[str] = ()) -> pd.DataFrame:
    """Return `frame` without the columns whose name looks like personal data.

    Call it on any frame before it is displayed or exported. The names dropped are kept
    in ``attrs["dropped_personal_columns"]`` so the report can say what was left out.

    Parameters
    ----------
    frame : pandas.DataFrame
    extra_patterns : sequence of str, default ()
        See `personal_columns`.

    Returns
    -------
    pandas.DataFrame
        A copy without those columns (the index is kept).

    Examples
    --------
    >>> frame = pd.DataFrame({"customer_id": ["1"], "e-mail": ["a@b.c"], "orders": [2]})
    >>> drop_personal_columns(frame).columns.tolist()
    ['customer_id', 'orders']
    """
    dropped = personal_columns(frame.columns, extra_patterns)
    kept = frame.drop(columns=dropped)
    kept.attrs["dropped_personal_columns"] = dropped
    return kept


def resolve_salt(value: str | None) -> str:
    """Return the salt text: the value itself, or the environment variable for ``env:NAME``.

    Raises
    ------
    UserError
        ``env:NAME`` with NAME unset or empty.

    Examples
    --------
    >>> resolve_salt("pepper")
    'pepper'
    """
    text = "" if value is None else str(value)
    if text.startswith("env:"):
        name = text.removeprefix("env:").strip()
        found = os.environ.get(name, "")
        if not found:
            raise UserError(
                f"key 'privacy.salt' reads the environment variable {name!r}, which is not set; "
                f"fix: export {name}=<secret text> before running, or write the salt in the params file"
            )
        return found
    return text


def check_privacy(privacy: Mapping[str, Any]) -> dict[str, Any]:
    """Check the ``privacy`` params block and return it with the salt resolved.

    Parameters
    ----------
    privacy : mapping
        ``pseudonymize_ids`` (bool), ``salt`` (str; ``env:NAME`` allowed) and
        ``personal_column_patterns`` (list of regular expressions).

    Returns
    -------
    dict
        The same keys, ``salt`` resolved (see `resolve_salt`), patterns checked.

    Raises
    ------
    UserError
        ``pseudonymize_ids`` is true and the salt is empty, or a pattern is invalid.
    """
    pseudonymize = bool(privacy.get("pseudonymize_ids", False))
    salt = resolve_salt(privacy.get("salt", "")) if pseudonymize else str(privacy.get("salt") or "")
    if pseudonymize and not salt.strip():
        raise UserError(
            "key 'privacy.salt' is empty but privacy.pseudonymize_ids is true; fix: set "
            "privacy.salt to a secret text (or env:NAME to read it from an environment variable)"
        )
    patterns = list(privacy.get("personal_column_patterns") or [])
    personal_columns([], patterns)  # raises on an invalid pattern
    return {"pseudonymize_ids": pseudonymize, "salt": salt, "personal_column_patterns": patterns}


def pseudonymize_ids(ids: pd.Series, salt: str) -> pd.Series:
    """Replace each customer id by the first 16 hex digits of ``sha256(salt + id)``.

    The same id and salt always give the same pseudonym, so exports of different runs can
    be joined; without the salt the original id cannot be recomputed by hashing guesses.

    Parameters
    ----------
    ids : pandas.Series
        Customer ids (turned to text first).
    salt : str
        Non-empty secret text.

    Returns
    -------
    pandas.Series
        Text pseudonyms, same index.

    Raises
    ------
    UserError
        Empty salt, or two different ids with the same pseudonym (practically impossible
        with 64 bits, checked because the exports promise one row per customer).

    Examples
    --------
    >>> pseudonymize_ids(pd.Series(["12346"]), "s").tolist()
    ['9016ac2e72c831dd']
    """
    if not salt:
        raise UserError("key 'privacy.salt' is empty; fix: set it to a secret text")
    text = ids.astype(str)
    unique = pd.unique(text.to_numpy())
    mapping = {
        value: hashlib.sha256((salt + value).encode("utf-8")).hexdigest()[:PSEUDONYM_DIGITS]
        for value in unique
    }
    if len(set(mapping.values())) != len(mapping):
        raise UserError(
            "two customer ids got the same pseudonym; fix: change privacy.salt and run again"
        )
    return text.map(mapping).astype(object).rename(ids.name)


def ids_for_report(
    frame: pd.DataFrame, privacy: Mapping[str, Any], column: str = "customer_id"
) -> pd.DataFrame:
    """Return `frame` with its customer ids as the exports show them.

    Call it on every table of the report that shows customer ids (e.g. 01_clean's extreme
    lines): with ``privacy.pseudonymize_ids`` the ids become the pseudonyms of
    ``segments.csv`` (`pseudonymize_ids`), so an analyst can still find the customer there
    while no raw id reaches the run folder; otherwise they are left as they are.

    Parameters
    ----------
    frame : pandas.DataFrame
        Any table with a `column` of customer ids.
    privacy : mapping
        Output of `check_privacy` (``pseudonymize_ids`` and the resolved ``salt``).
    column : str, default "customer_id"
        The id column; a frame without it is returned as a copy.

    Returns
    -------
    pandas.DataFrame
        A copy; missing ids stay missing.

    Examples
    --------
    >>> lines = pd.DataFrame({"customer_id": ["12346", None], "amount": [9e4, 5e4]})
    >>> ids_for_report(lines, {"pseudonymize_ids": True, "salt": "s"})["customer_id"].tolist()
    ['9016ac2e72c831dd', None]
    """
    shown = frame.copy()
    if privacy["pseudonymize_ids"] and column in shown.columns:
        known = shown[column].notna()
        ids = shown[column].astype(object).where(known, None)
        ids[known] = pseudonymize_ids(shown.loc[known, column].astype(str), privacy["salt"])
        shown[column] = ids
    return shown


# --------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------


def _check_segment_input(ids: pd.Series, clusters: pd.Series, persona_of_cluster: Mapping[Any, str]) -> None:
    """Refuse duplicate customer ids and clusters without a persona (one line, with the fix)."""
    if ids.duplicated().any():
        raise UserError(
            f"column 'customer_id': {int(ids.duplicated().sum()):,} duplicate ids in the customer "
            f"table; fix: re-run 03_rfm and 04_clustering"
        )
    missing = sorted({c for c in clusters.unique() if c not in persona_of_cluster})
    if missing:
        raise UserError(
            f"column 'cluster': label {missing[0]} has no persona; fix: name every cluster "
            f"with name_personas"
        )


def segments_table(
    customers: pd.DataFrame,
    persona_of_cluster: Mapping[Any, str],
    *,
    pseudonymize: bool = False,
    salt: str = "",
) -> pd.DataFrame:
    """Build the CRM export: one row per customer, columns `SEGMENT_COLUMNS`, sorted by id.

    Parameters
    ----------
    customers : pandas.DataFrame
        The RFM table (`helpers.rfm.RFM_COLUMNS`) with a ``cluster`` column, one row per
        customer.
    persona_of_cluster : mapping
        Cluster label -> persona name (every label present must be mapped).
    pseudonymize : bool, default False
        Replace ids by `pseudonymize_ids` (sorted by the pseudonym then).
    salt : str, default ""
        Required when `pseudonymize` is true.

    Returns
    -------
    pandas.DataFrame
        customer_id (text), recency_days (whole days, nullable), frequency, monetary (2
        decimals), r_score, f_score, m_score, rfm_segment (text), cluster, persona; when
        `customers` has them, `SEGMENT_FUTURE_COLUMNS`: p_alive (3 decimals), predicted_clv
        (cents), churn_risk (text), missing for customers the model did not score.

    Raises
    ------
    UserError
        Duplicate ids, or a cluster without a persona.
    """
    ids = customers["customer_id"].astype(str)
    _check_segment_input(ids, customers["cluster"], persona_of_cluster)
    table = pd.DataFrame(
        {
            "customer_id": pseudonymize_ids(ids, salt) if pseudonymize else ids.astype(object),
            "recency_days": customers["recency_days"].round().astype("Int64"),
            "frequency": customers["frequency"].astype("int64"),
            "monetary": _money(customers["monetary"]),
            "r_score": customers["r_score"].astype("int64"),
            "f_score": customers["f_score"].astype("int64"),
            "m_score": customers["m_score"].astype("int64"),
            "rfm_segment": customers["segment"].astype(str).astype(object),
            "cluster": customers["cluster"].astype("int64"),
            "persona": customers["cluster"].map(dict(persona_of_cluster)).astype(object),
        }
    )
    if all(c in customers.columns for c in SEGMENT_FUTURE_COLUMNS):
        table["p_alive"] = customers["p_alive"].astype("float64").round(3) + 0.0
        table["predicted_clv"] = _money(customers["predicted_clv"])
        risk = customers["churn_risk"].astype(object)
        table["churn_risk"] = risk.where(risk.notna(), None).map(lambda v: None if v is None else str(v))
    return table.sort_values("customer_id", kind="mergesort").reset_index(drop=True)


def personas_table(personas: pd.DataFrame) -> pd.DataFrame:
    """Build the persona export: one row per persona, columns `PERSONA_COLUMNS`.

    Parameters
    ----------
    personas : pandas.DataFrame
        Output of `helpers.personas.name_personas` (indexed by cluster, with ``actions``
        as a list per persona).

    Returns
    -------
    pandas.DataFrame
        In the order of `personas`; ``action_1`` to ``action_3`` blank when fewer;
        `PERSONA_FUTURE_COLUMNS` before ``description`` when `personas` has them.
    """
    table = personas.reset_index().rename(columns={"index": "cluster"})
    actions = table["actions"].map(lambda a: list(a)[:MAX_ACTIONS] + [""] * (MAX_ACTIONS - len(a)))
    for i in range(MAX_ACTIONS):
        table[f"action_{i + 1}"] = actions.map(lambda a, i=i: a[i])
    table["cluster"] = table["cluster"].astype("int64")
    columns = list(PERSONA_COLUMNS)
    if all(c in table.columns for c in PERSONA_FUTURE_COLUMNS):
        at = columns.index("description")
        columns[at:at] = PERSONA_FUTURE_COLUMNS
    return table.loc[:, columns]


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------


def _money(values: pd.Series) -> pd.Series:
    """Round to cents; ``+ 0.0`` turns a rounded -0.0 into 0.0 so it never prints as -0.00."""
    return values.astype("float64").round(2) + 0.0


def check_segments(segments: pd.DataFrame, rfm: pd.DataFrame) -> None:
    """Fail unless the export has one row per RFM customer and the same net revenue.

    Parameters
    ----------
    segments : pandas.DataFrame
        Output of `segments_table` (or ``segments.csv`` read back).
    rfm : pandas.DataFrame
        The RFM table it was built from.

    Raises
    ------
    UserError
        Row count, duplicate ids, missing persona, or net revenue not within half a cent
        per customer of the RFM table's.
    """
    if len(segments) != len(rfm):
        raise UserError(
            f"segments export has {len(segments):,} rows but the RFM table {len(rfm):,} customers; "
            f"fix: re-run 04_clustering so every customer has a cluster"
        )
    if segments["customer_id"].duplicated().any():
        raise UserError("segments export: column 'customer_id' has duplicates; fix: check 03_rfm")
    if segments["persona"].isna().any() or (segments["persona"].astype(str) == "").any():
        raise UserError("segments export: column 'persona' is empty for some customers")
    exported = float(np.round(segments["monetary"].astype(float).sum(), 2))
    expected = float(rfm["monetary"].sum())
    if abs(exported - expected) > 0.005 * max(len(rfm), 1) + 1e-6:
        raise UserError(
            f"segments export: net revenue {exported:,.2f} != RFM table {expected:,.2f}; "
            f"fix: check the monetary column"
        )
