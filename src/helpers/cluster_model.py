"""The fitted clustering model of 04_clustering: save, load (checksum first) and score.

`save_model` writes the fitted pipeline (transform + K-Means) with its feature list and
package versions, and a ``<model>.sha256`` file beside it; `load_model` checks the file's
sha256 against the recorded one before unpickling. `score_customers` assigns a customer
table to the saved clusters; `score_transactions` first computes the RFM metrics from
cleaned transaction lines (`helpers.rfm.customer_metrics`), and joins the features that
transactions do not give (demographics such as gender or age band, web engagement) from a
customer table. `main` is the command

    python -m helpers.cluster score --model PATH --transactions PATH --out PATH [--customers PATH]

(``python -m helpers.cluster_model`` works too).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import sys
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd

from helpers.catalog import METRIC_COLUMNS, TRANSACTION_COLUMNS, dataset, parse_analysis_date
from helpers.cluster_features import (
    NO_KEPT_ORDER,
    add_customer_features,
    check_features,
    split_by_kept_order,
)
from helpers.engine import EngineSettings, connect
from helpers.errors import UserError, cli_error
from helpers.publish import file_sha256
from helpers.rfm import customer_metrics, day_after_last_line

if TYPE_CHECKING:
    from helpers.cluster import ClusterRun

MODEL_FORMAT = "helpers.cluster/1"  # format tag inside the file; models saved before the split carry it too
MODEL_FILE = dataset("cluster_model").filename  # cluster_model.joblib
VERSIONED_PACKAGES: tuple[str, ...] = ("scikit-learn", "numpy", "pandas")


def model_path(run_dir: str | Path, processed_dir: str | Path) -> Path:
    """Return where the fitted model goes: the run folder, or the processed folder when run_dir is empty."""
    return Path(run_dir or processed_dir) / MODEL_FILE


def _versions() -> dict[str, str]:
    return {name: importlib.metadata.version(name) for name in VERSIONED_PACKAGES}


def save_model(run: ClusterRun, path: str | Path, analysis_date: Any = None) -> Path:
    """Save the fitted pipeline (transform + K-Means), the feature list and package versions.

    Parameters
    ----------
    run : ClusterRun
    path : str or Path
        Target file (joblib), e.g. from `model_path`.
    analysis_date : optional
        The RFM analysis date of the fitted data, kept as information.

    Returns
    -------
    Path
        The written file. Load it with `load_model` (only load model files you made:
        unpickling runs code). With categorical features the bundle also lists them
        (``categorical_features``); a numeric-only model has no such key, so it is saved
        byte for byte as before.
    """
    import joblib

    bundle = {
        "format": MODEL_FORMAT,
        "pipeline": run.model,
        "features": list(run.settings.features),
        "log_features": list(run.settings.log_features),
        "scaler": run.settings.scaler,
        "k": run.choice.k,
        "k_reason": run.choice.reason,
        "no_kept_order_label": NO_KEPT_ORDER,
        "trained_on_customers": len(run.train),
        "analysis_date": None if analysis_date is None else str(analysis_date),
        "versions": _versions(),
    }
    if run.categorical:
        bundle["categorical_features"] = list(run.categorical)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(bundle, path)
    # The checksum `load_model` verifies before unpickling (the runner also records it in
    # the run's manifest.json), in `sha256sum` format.
    checksum_path(path).write_text(f"{file_sha256(path)}  {path.name}\n", encoding="utf-8")
    return path


def checksum_path(model: str | Path) -> Path:
    """Return the checksum file written beside a model file (``<model>.sha256``)."""
    model = Path(model)
    return model.with_name(model.name + ".sha256")


def expected_checksum(path: str | Path, sha256: str | None = None) -> tuple[str, str]:
    """Return the sha256 a model file must have, and where it was recorded.

    In order: `sha256` given by the caller, the run's ``manifest.json`` beside the model
    (key ``model``), the ``<model>.sha256`` file written by `save_model`.

    Raises
    ------
    UserError
        No checksum recorded anywhere.
    """
    path = Path(path)
    if sha256:
        return sha256.strip().lower(), "--sha256"
    manifest = path.with_name("manifest.json")
    if manifest.is_file():
        with contextlib.suppress(ValueError, OSError):
            recorded = json.loads(manifest.read_text(encoding="utf-8")).get("model") or {}
            if Path(str(recorded.get("path", ""))).name == path.name and recorded.get("sha256"):
                return str(recorded["sha256"]).lower(), str(manifest)
    sidecar = checksum_path(path)
    if sidecar.is_file():
        return sidecar.read_text(encoding="utf-8").split()[0].lower(), str(sidecar)
    raise UserError(
        f"{path}: no recorded checksum (no manifest.json or {sidecar.name} beside it), so it is not "
        f"loaded (unpickling runs code); fix: pass the sha256 from the run's manifest.json with --sha256"
    )


def load_model(path: str | Path, sha256: str | None = None) -> dict[str, Any]:
    """Load a model saved by `save_model`, after checking its sha256.

    The file's sha256 must equal the one recorded for it (see `expected_checksum`): a
    changed file is refused before anything is unpickled.

    Returns
    -------
    dict
        ``pipeline``, ``features``, ``k``, ``versions`` and the other saved fields, plus
        ``version_mismatch``: packages whose installed version differs from the saved one
        (package -> "saved X, running Y").

    Raises
    ------
    UserError
        Missing file, no recorded checksum or another one, or not a model saved by this step.
    """
    import joblib

    path = Path(path)
    if not path.is_file():
        raise UserError(
            f"{path}: model file not found; fix: run notebook 04_clustering, which saves {MODEL_FILE}"
        )
    expected, source = expected_checksum(path, sha256)
    if file_sha256(path) != expected:
        raise UserError(
            f"{path}: sha256 differs from the one recorded in {source}: the file changed after it was "
            f"saved, so it is not loaded (unpickling runs code); fix: use the model file of the run"
        )
    try:
        with warnings.catch_warnings():
            # an older/newer scikit-learn is reported in version_mismatch instead
            warnings.simplefilter("ignore", category=UserWarning)
            bundle = joblib.load(path)
    except Exception as exc:  # unpickling can fail in many ways; all mean "not our model"
        raise UserError(f"{path}: cannot read the model ({type(exc).__name__}); fix: pass a {MODEL_FILE}") from None
    if not isinstance(bundle, dict) or bundle.get("format") != MODEL_FORMAT:
        raise UserError(f"{path}: not a model saved by 04_clustering; fix: pass its {MODEL_FILE}")
    running = _versions()
    bundle["version_mismatch"] = {
        name: f"saved {saved}, running {running.get(name)}"
        for name, saved in bundle["versions"].items()
        if running.get(name) != saved
    }
    return bundle


def score_customers(model: Mapping[str, Any], customers: pd.DataFrame) -> pd.DataFrame:
    """Assign customers to the saved clusters.

    Parameters
    ----------
    model : mapping
        Output of `load_model`.
    customers : pandas.DataFrame
        One row per customer with ``customer_id`` and the model's features (e.g. from
        `helpers.rfm.customer_metrics`, with `add_customer_features`). Categorical features
        may hold missing values and levels not seen in training (see `WeightedOneHot`).

    Returns
    -------
    pandas.DataFrame
        ``customer_id`` and ``cluster``, in the input order; customers without a kept
        order get `NO_KEPT_ORDER` (-2).

    Raises
    ------
    UserError
        A feature is missing, or a numeric one is not numeric or not finite.
    """
    kept, _ = split_by_kept_order(customers)
    check_features(kept, model["features"], model.get("categorical_features", ()))
    cluster = pd.Series(NO_KEPT_ORDER, index=customers["customer_id"].to_numpy(), dtype="int64")
    if len(kept):
        cluster.loc[kept["customer_id"].to_numpy()] = model["pipeline"].predict(kept).astype("int64")
    return pd.DataFrame({"customer_id": customers["customer_id"].to_numpy(), "cluster": cluster.to_numpy()})


def score_transactions(
    model: str | Path | Mapping[str, Any],
    transactions: str | Path,
    analysis_date: str | pd.Timestamp | None = None,
    engine_settings: EngineSettings | None = None,
    customers: str | Path | pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Score customers from cleaned transaction lines into the saved clusters.

    Computes RFM metrics with `helpers.rfm.customer_metrics` (same definitions as 03_rfm),
    joins the model's other features from `customers`, then applies the saved pipeline.

    Parameters
    ----------
    model : str, Path or mapping
        A file written by `save_model`, or its `load_model` output.
    transactions : str or Path
        Cleaned lines in the 01_clean contract (Parquet).
    analysis_date : str or Timestamp, optional
        Date recency is measured at; None, "" or "auto" = the day after the last line of
        `transactions`.
    engine_settings : EngineSettings, optional
        For the DuckDB connection (`helpers.engine.connect`); default `EngineSettings()`.
    customers : str, Path or DataFrame, optional
        One row per customer with ``customer_id`` and the model's features that
        transactions do not give (e.g. 02_eda's customers.parquet with gender or age band):
        a table, or a Parquet or CSV file. Customers without a row get missing values
        (a categorical feature's level "missing").

    Returns
    -------
    pandas.DataFrame
        ``customer_id`` and ``cluster``.

    Raises
    ------
    UserError
        Missing or unreadable file, a missing column, a date that is not one, or a model
        feature neither the metrics nor `customers` provide.
    """
    if not isinstance(model, Mapping):
        model = load_model(model)
    table = None if customers is None else _customer_table(customers)
    given = set(METRIC_COLUMNS) | (set(table.columns) if table is not None else set())
    missing = [f for f in model["features"] if f not in given]
    if missing:
        raise UserError(
            f"the model uses feature '{missing[0]}', which is not computed from transactions; "
            f"fix: pass a customer table that has it with --customers (e.g. 02_eda's customers.parquet)"
        )
    _check_transactions(Path(transactions))
    with connect(engine_settings) as con:
        try:
            as_of = _as_of(con, transactions, analysis_date)
            metrics = customer_metrics(con, transactions, as_of)
        except duckdb.Error as exc:
            raise _unreadable(transactions, exc) from None
    return score_customers(model, add_customer_features(metrics, model["features"], table))


def _customer_table(customers: str | Path | pd.DataFrame) -> pd.DataFrame:
    """Return the customer table of `score_transactions` with text ids, one row per customer."""
    if isinstance(customers, pd.DataFrame):
        table = customers.copy()
    else:
        path = Path(customers)
        if not path.is_file():
            raise UserError(f"{path}: customer table not found (--customers); fix: pass 02_eda's customers.parquet")
        try:
            if path.suffix.lower() == ".parquet":
                table = pd.read_parquet(path)
            else:
                table = pd.read_csv(path, sep=None, engine="python", dtype={"customer_id": str})
        except Exception as exc:  # pandas and pyarrow raise many types for an unreadable file
            raise UserError(f"{path}: cannot read the customer table ({type(exc).__name__}); "
                            f"fix: pass a Parquet or CSV file with customer_id") from None
    if "customer_id" not in table.columns:
        raise UserError("customer table (--customers): column 'customer_id' is missing; fix: name the id column customer_id")
    table["customer_id"] = table["customer_id"].astype(str)
    if table["customer_id"].duplicated().any():
        raise UserError("customer table (--customers): column 'customer_id' has duplicates; fix: keep one row per customer")
    return table


def _unreadable(transactions: str | Path, exc: Exception) -> UserError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return UserError(
        f"{transactions}: cannot read the transactions ({first}); fix: pass the "
        f"transactions.parquet written by 01_clean"
    )


def _check_transactions(path: Path) -> None:
    """Fail unless `path` is a Parquet file with the 01_clean columns (its schema only is read)."""
    import pyarrow.parquet as pq

    if not path.is_file():
        raise UserError(f"{path}: cleaned transactions not found; fix: pass the transactions.parquet written by 01_clean")
    try:
        present = set(pq.read_schema(path).names)
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise _unreadable(path, exc) from None
    missing = [c for c in TRANSACTION_COLUMNS if c not in present]
    if missing:
        raise UserError(
            f"{path}: column '{missing[0]}' is missing; fix: pass the transactions.parquet written "
            f"by 01_clean, which has {', '.join(TRANSACTION_COLUMNS)}"
        )


def _as_of(con: duckdb.DuckDBPyConnection, transactions: str | Path, analysis_date: Any) -> pd.Timestamp:
    """Return the analysis date as midnight: the given date, or the day after the last line."""
    try:
        stamp = parse_analysis_date(analysis_date)  # the parse 03_rfm uses
    except UserError:
        raise UserError(
            f"analysis date {analysis_date!r} (--analysis-date) is not a date; fix: write it like "
            f"2011-12-10, or leave it out for the day after the last transaction"
        ) from None
    return day_after_last_line(con, transactions) if stamp is None else stamp


class _Parser(argparse.ArgumentParser):
    """Argument parser whose errors become one-line UserErrors (exit 1, no usage dump)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UserError(f"{self.prog}: {message}")


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: ``python -m helpers.cluster score ...``; returns the exit status."""
    parser = _Parser(prog="python -m helpers.cluster", description="Score customers into saved clusters.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    score = commands.add_parser("score", help="score cleaned transactions with a saved model")
    score.add_argument("--model", required=True, help=f"{MODEL_FILE} written by 04_clustering")
    score.add_argument("--transactions", required=True, help="cleaned transactions Parquet (01_clean)")
    score.add_argument("--out", required=True, help="output file: .parquet or .csv (customer_id, cluster)")
    score.add_argument("--analysis-date", default=None, help="default: day after the last transaction")
    score.add_argument("--customers", default=None,
                       help="customer table (.parquet or .csv, customer_id + the model's other features, "
                            "e.g. 02_eda's customers.parquet) for features not computed from transactions")
    score.add_argument("--sha256", default=None,
                       help="expected sha256 of the model (default: from manifest.json or <model>.sha256 beside it)")
    try:
        args = parser.parse_args(argv)
        out = Path(args.out)
        if out.suffix.lower() not in (".parquet", ".csv"):
            raise UserError(f"--out {out}: unknown file type; fix: end the name in .parquet or .csv")
        model = load_model(args.model, args.sha256)
        for name, note in model["version_mismatch"].items():
            print(f"note: model {name} version differs ({note})", file=sys.stderr)
        scored = score_transactions(model, args.transactions, args.analysis_date, customers=args.customers)
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix.lower() == ".csv":
            scored.to_csv(out, index=False)
        else:
            scored.to_parquet(out, index=False)
    except Exception as exc:  # noqa: BLE001 - the CLI promises one line, never a traceback
        return cli_error(exc)
    counts = scored["cluster"].value_counts().sort_index()
    print(
        f"scored {len(scored):,} customers into {out}: "
        + ", ".join(
            f"{'no kept order' if c == NO_KEPT_ORDER else 'cluster'} {c}: {n:,}" for c, n in counts.items()
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
