"""Every dataset of the pipeline, named once: where it lives, its columns, which step writes it.

Notebooks ask the catalog for "rfm" or "transactions"; they never build a path or call
``to_parquet``. `read` and `write` check each table's column contract and fail with one
line naming the file, the column and the step to rerun; writes go to a temporary file that
is renamed into place, so a reader never sees half a file.

Folders: ``interim`` and ``processed`` are the params keys ``paths.interim_dir`` and
``paths.processed_dir`` (during a report run, the runner's staging copies of them); ``run``
is the run folder, or ``paths.processed_dir`` when a notebook runs interactively.

The facts 01_clean records about the cleaned data (first and last date, ...) are a dataset
too ("facts"); `analysis_date` resolves ``rfm.analysis_date`` from them once, for every
later step.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from helpers.errors import UserError

# The cleaned lines' contract (01_clean writes exactly these, in this order).
TRANSACTION_COLUMNS: tuple[str, ...] = (
    "customer_id", "invoice_id", "invoice_date", "product_id", "description", "country",
    "quantity", "unit_price", "amount", "is_return", "is_outlier",
)
CLEANING_LOG_COLUMNS: tuple[str, ...] = ("rule", "action", "rows", "revenue", "customers", "description")
METRIC_COLUMNS: tuple[str, ...] = (
    "customer_id", "recency_days", "frequency", "monetary", "tenure_days", "avg_order_value",
    "avg_days_between_orders", "first_order_date", "last_order_date", "purchase_invoices", "cancelled_orders",
)
RFM_COLUMNS: tuple[str, ...] = (*METRIC_COLUMNS, "r_score", "f_score", "m_score", "rfm_score", "segment")
# Future value per customer (03_rfm, helpers.clv): buy-till-you-die inputs and predictions.
CLV_COLUMNS: tuple[str, ...] = (
    "customer_id", "frequency", "recency", "T", "p_alive", "expected_orders", "next_order_date",
    "expected_spend", "predicted_clv", "p_no_order", "churn_risk",
)
CLUSTER_METHODS: tuple[str, ...] = ("kmeans", "hierarchical", "dbscan")
LABEL_COLUMNS: tuple[str, ...] = ("customer_id", *CLUSTER_METHODS, "cluster")


@dataclass(frozen=True)
class Dataset:
    """One file of the pipeline.

    Parameters
    ----------
    name : str
        What notebooks ask for.
    folder : str
        ``"interim"``, ``"processed"`` or ``"run"`` (see the module docstring).
    filename : str
    writer : str
        The step (notebook) that writes it: the fix when it is missing or stale.
    columns : tuple of str
        Columns it must have (a table may have more, e.g. optional traits).
    """

    name: str
    folder: str
    filename: str
    writer: str
    columns: tuple[str, ...] = ()

    @property
    def format(self) -> str:
        """File format, from the extension: parquet, csv, json or joblib."""
        return Path(self.filename).suffix.lstrip(".")


DATASETS: dict[str, Dataset] = {d.name: d for d in (
    Dataset("transactions", "interim", "transactions.parquet", "01_clean", TRANSACTION_COLUMNS),
    Dataset("cleaning_log", "interim", "cleaning_log.csv", "01_clean", CLEANING_LOG_COLUMNS),
    Dataset("facts", "interim", "facts.json", "01_clean"),
    Dataset("customer_table", "interim", "customer_table.parquet", "01_clean", ("customer_id",)),  # input.level: customers
    Dataset("customers", "processed", "customers.parquet", "02_eda", ("customer_id",)),
    Dataset("rfm", "processed", "rfm.parquet", "03_rfm", RFM_COLUMNS),
    Dataset("clv", "processed", "clv.parquet", "03_rfm", CLV_COLUMNS),
    Dataset("clusters", "processed", "clusters.parquet", "04_clustering", LABEL_COLUMNS),
    Dataset("cluster_model", "run", "cluster_model.joblib", "04_clustering"),
    Dataset("segments", "run", "segments.csv", "05_personas", ("customer_id",)),
    Dataset("personas", "run", "personas.csv", "05_personas", ("persona",)),
)}
_FOLDER_KEYS = {"interim": "interim_dir", "processed": "processed_dir"}


def dataset(name: str) -> Dataset:
    """Return the catalog entry `name`; KeyError names the known ones."""
    try:
        return DATASETS[name]
    except KeyError:
        raise KeyError(f"no dataset {name!r} in the catalog; known: {', '.join(DATASETS)}") from None


def path(params: Mapping[str, Any], name: str, run_dir: str | Path = "") -> Path:
    """Return the file of dataset `name` under the params' folders.

    Examples
    --------
    >>> params = {"paths": {"interim_dir": "/d/interim", "processed_dir": "/d/processed"}}
    >>> str(path(params, "rfm")), str(path(params, "segments")), str(path(params, "segments", "/r/1"))
    ('/d/processed/rfm.parquet', '/d/processed/segments.csv', '/r/1/segments.csv')
    """
    entry = dataset(name)
    if entry.folder == "run":
        folder = Path(run_dir) if str(run_dir or "").strip() else Path(params["paths"]["processed_dir"])
    else:
        folder = Path(params["paths"][_FOLDER_KEYS[entry.folder]])
    return folder / entry.filename


def _missing(entry: Dataset, file: Path) -> UserError:
    return UserError(f"{file}: {entry.name} not found; fix: run notebook {entry.writer} first (make report)")


def _check_columns(entry: Dataset, file: Path, present: Sequence[str]) -> None:
    missing = [c for c in entry.columns if c not in set(present)]
    if missing:
        raise UserError(
            f"{file}: column '{missing[0]}' is missing ({entry.name}); fix: rerun {entry.writer}, "
            f"which writes {', '.join(entry.columns)}"
        )


def require(params: Mapping[str, Any], name: str, run_dir: str | Path = "") -> Path:
    """Return the file of `name` after checking it exists and (Parquet) has its columns.

    Reads only the Parquet schema, so it costs nothing on a 100M-line file; steps that
    query the file with SQL call this instead of reading it.
    """
    entry, file = dataset(name), path(params, name, run_dir)
    if not file.is_file():
        raise _missing(entry, file)
    if entry.format == "parquet" and entry.columns:
        import pyarrow.parquet as pq

        try:
            names = pq.read_schema(file).names
        except Exception as exc:  # pyarrow raises several types for a damaged file
            raise UserError(f"{file}: not a readable Parquet file ({type(exc).__name__}); "
                            f"fix: rerun {entry.writer}") from None
        _check_columns(entry, file, names)
    return file


def read(params: Mapping[str, Any], name: str, run_dir: str | Path = "") -> Any:
    """Read dataset `name` (a DataFrame, or a dict for JSON) and check its columns."""
    entry = dataset(name)
    file = require(params, name, run_dir)
    if entry.format == "json":
        return json.loads(file.read_text(encoding="utf-8"))
    frame = pd.read_parquet(file) if entry.format == "parquet" else pd.read_csv(file)
    _check_columns(entry, file, list(frame.columns))
    return frame


def write(params: Mapping[str, Any], name: str, data: Any, run_dir: str | Path = "") -> Path:
    """Write dataset `name` atomically (temporary file, then rename) after checking its columns.

    Parameters
    ----------
    data : pandas.DataFrame or mapping
        A table (Parquet or CSV) or, for JSON datasets, a JSON-serialisable mapping.
        CSV exports meant for spreadsheets are written by `helpers.exports.write_csv`,
        which the catalog calls for them.
    """
    entry, file = dataset(name), path(params, name, run_dir)
    if isinstance(data, pd.DataFrame):
        _check_columns(entry, file, list(data.columns))
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_name(f".{file.name}.tmp")
    if entry.format == "json":
        tmp.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    elif entry.format == "parquet":
        data.to_parquet(tmp, index=False)
    elif entry.folder == "run":  # exports: spreadsheet-safe CSV
        from helpers.exports import write_csv

        write_csv(data, tmp)
    else:
        data.to_csv(tmp, index=False)
    os.replace(tmp, file)
    return file


def parse_analysis_date(value: Any) -> pd.Timestamp | None:
    """Return `value` as midnight, or None for auto/empty; UserError when it is not a date."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "auto")):
        return None
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        stamp = pd.NaT
    if pd.isna(stamp):
        raise UserError(f"key 'rfm.analysis_date': {value!r} is not a date; "
                        f"fix: write it like 2011-12-10, or auto for the day after the last transaction")
    return stamp.tz_localize(None).normalize() if stamp.tzinfo else stamp.normalize()


def clustering_reads_customers(params: Mapping[str, Any]) -> bool:
    """Whether 04_clustering reads 02_eda's ``customers`` table for this run's params.

    It does for customer-level input, and when a ``clustering.features`` entry is not a
    column of rfm.parquet (`RFM_COLUMNS`); otherwise 04 needs only 03's output, so the runner
    lets it start before 02 has finished (`helpers.steps.dependencies`).

    >>> clustering_reads_customers({"input": {}, "clustering": {"features": ["recency_days", "monetary"]}})
    False
    >>> clustering_reads_customers({"input": {}, "clustering": {"features": ["monetary", "gender"]}})
    True
    """
    if params["input"].get("level", "transactions") != "transactions":
        return True
    return any(feature not in RFM_COLUMNS for feature in params["clustering"]["features"])


def analysis_date(params: Mapping[str, Any]) -> pd.Timestamp:
    """Return the date RFM is measured at, from ``rfm.analysis_date`` and 01_clean's facts.

    ``auto`` is midnight of the day after the last cleaned line, so the latest buyer has a
    recency of 1 day. For a customer-level input (``input.level: customers``) it is the date
    01_clean recorded (`helpers.customer_level.default_analysis_date`). A given date must fall after the first line, or no customer would
    have an order before it.

    Raises
    ------
    UserError
        Unparseable date, a date not after the first line (the message gives the data's
        range), or no facts (01_clean has not run).
    """
    facts = read(params, "facts")
    if facts.get("level") == "customers":  # 01_clean resolved it from the customer table
        return pd.Timestamp(facts["analysis_date"])
    first, last = pd.Timestamp(facts["first_date"]), pd.Timestamp(facts["last_date"])
    given = parse_analysis_date(params["rfm"]["analysis_date"])
    if given is None:
        return last.normalize() + pd.Timedelta(days=1)
    if given <= first:
        raise UserError(
            f"key 'rfm.analysis_date': {given:%Y-%m-%d} is not after the first transaction, so no customer "
            f"has an order before it (the data runs from {first:%Y-%m-%d} to {last:%Y-%m-%d}); fix: set "
            f"rfm.analysis_date to a date after {first:%Y-%m-%d}, e.g. {last.normalize() + pd.Timedelta(days=1):%Y-%m-%d}, "
            f"or to auto"
        )
    return given
