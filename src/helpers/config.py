"""Project paths and the params file: load, merge, validate.

`params.yaml` at the project root holds every default. Another file given with
``make report PARAMS=other.yaml`` is merged over it key by key, so it only needs the keys
it changes. Every key is checked against `SCHEMA`: unknown keys, wrong types and missing
input files stop with one line that names the file, the key and the fix.
"""

from __future__ import annotations

import copy
import datetime
import difflib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from helpers.errors import UserError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PARAMS = PROJECT_ROOT / "params.yaml"

# The numbered notebooks, in the order the runner executes them.
NOTEBOOKS: tuple[str, ...] = ("01_clean", "02_eda", "03_rfm", "04_clustering", "05_personas")

CANONICAL_FIELDS: tuple[str, ...] = (
    "customer_id",
    "invoice_id",
    "invoice_date",
    "quantity",
    "unit_price",
    "amount",
    "product_id",
    "description",
    "country",
)

_STR = (str,)
_OPT_STR = (str, type(None))
_BOOL = (bool,)
_NUM = (int, float)
_INT = (int,)
_OPT_INT = (int, type(None))
_STR_LIST = ("list[str]",)
_NUM_LIST = ("list[number]",)
_MAPPING = ("mapping",)  # a free mapping whose contents another module checks

# dotted key -> allowed Python types, or a list of allowed string values.
SCHEMA: dict[str, Any] = {
    "input.path": _STR,
    "input.format": ["auto", "csv", "excel", "parquet"],
    "input.csv.delimiter": _STR,
    "input.csv.encoding": _STR,
    "input.csv.decimal": [".", ","],
    "input.csv.header_rows_to_skip": _INT,
    "input.excel.sheet": (str, int),
    "input.date_format": _STR,
    **{f"input.columns.{field}": _OPT_STR for field in CANONICAL_FIELDS},
    "customers_input.path": _OPT_STR,
    **{f"customers_input.columns.{f}": _OPT_STR for f in (
        "customer_id", "birth_date", "age", "gender", "country", "region", "city", "signup_date")},
    "sessions_input.path": _OPT_STR,
    **{f"sessions_input.columns.{f}": _OPT_STR for f in (
        "customer_id", "session_start", "pages_viewed", "duration_s", "clicks", "product_views", "converted")},
    "cleaning.drop_missing_customer_id": _BOOL,
    "cleaning.drop_exact_duplicates": _BOOL,
    "cleaning.drop_future_dates": _BOOL,
    "cleaning.returns": ["net", "drop"],
    "cleaning.cancellation_prefixes": _STR_LIST,
    "cleaning.adjustment_prefixes": _STR_LIST,
    "cleaning.non_product_codes": _STR_LIST,
    "cleaning.non_product_patterns": _STR_LIST,
    "cleaning.drop_nonpositive_prices": _BOOL,
    "cleaning.outliers.method": ["log_iqr", "none"],
    "cleaning.outliers.k": _NUM,
    "cleaning.outliers.action": ["flag", "drop"],
    "eda.top_n": _INT,
    "eda.max_scatter_points": _INT,
    "eda.cohort_months": _INT,
    "rfm.analysis_date": (str, datetime.date),
    "rfm.scoring": ["quintiles", "quartiles", "cuts"],
    "rfm.cuts.recency": _NUM_LIST,
    "rfm.cuts.frequency": _NUM_LIST,
    "rfm.cuts.monetary": _NUM_LIST,
    "rfm.segment_map": _STR,
    "rfm.movement_days": _INT,
    "clustering.features": _STR_LIST,
    "clustering.log_features": _STR_LIST,
    "clustering.scaler": ["standard", "robust"],
    "clustering.k": _OPT_INT,
    **{f"clustering.{key}": _INT for key in (
        "k_min", "k_max", "n_init", "bootstrap_resamples", "sample_size", "scan_sample_size", "dbscan_min_samples")},
    **{f"clustering.{key}": _NUM for key in (
        "silhouette_tolerance", "min_cluster_share", "test_size", "stability_threshold")},
    "personas.ratio": _NUM,
    "personas.top_n": _INT,
    "personas.signature_min_share": _NUM,
    "personas.traits_file": _OPT_STR,
    "personas.overrides": _MAPPING,
    "privacy.pseudonymize_ids": _BOOL,
    "privacy.salt": _STR,
    "privacy.personal_column_patterns": _STR_LIST,
    "paths.interim_dir": _STR,
    "paths.processed_dir": _STR,
    "paths.reports_dir": _STR,
    "run.seed": _INT,
    "run.kernel": _STR,
    "run.memory_limit": _STR,
}

# A DuckDB memory size (run.memory_limit): 2GB, 512 MiB, 1.5TB, or a share of RAM, 50%.
MEMORY_SIZE = re.compile(r"\d+(\.\d+)?\s*([KMGT]i?B|B|%)", re.IGNORECASE)

# Keys holding paths: resolved against the folder of the params file that sets them.
PATH_KEYS = ("input.path", "customers_input.path", "sessions_input.path", "rfm.segment_map", "personas.traits_file", "paths.interim_dir", "paths.processed_dir", "paths.reports_dir")


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested mappings to dotted keys; lists and scalars are leaves."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value and SCHEMA.get(dotted) != _MAPPING:
            flat.update(_flatten(value, f"{dotted}."))
        else:
            flat[dotted] = value
    return flat


def _unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for dotted, value in flat.items():
        node = tree
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise UserError(
            f"{path}: params file not found; fix: pass an existing YAML file, e.g. PARAMS=params.yaml"
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise UserError(f"{path}: not valid YAML{where}; fix: check indentation and quoting") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping of keys at the top level; fix: see params.yaml")
    return data


def _type_name(spec: Any) -> str:
    if isinstance(spec, list):
        return "one of " + ", ".join(repr(v) for v in spec)
    names = {str: "text", int: "an integer", float: "a number", bool: "true/false", type(None): "null",
             datetime.date: "a date"}
    return " or ".join(names.get(t, str(t)) for t in spec)


def _check_value(key: str, value: Any, source: Path) -> None:
    spec = SCHEMA[key]
    if isinstance(spec, list):
        ok = value in spec
    elif spec == _STR_LIST:
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        if not ok:
            raise UserError(
                f"{source}: key '{key}' must be a list of text values, got {value!r}; "
                f'fix: write it like ["A", "B"]'
            )
    elif spec == _MAPPING:
        ok = isinstance(value, Mapping)
    elif spec == _NUM_LIST:
        ok = isinstance(value, list) and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value
        )
        if not ok:
            raise UserError(
                f"{source}: key '{key}' must be a list of numbers, got {value!r}; "
                f"fix: write it like [14, 30, 90, 180]"
            )
    elif spec == _NUM:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif spec in (_INT, (str, int), _OPT_INT):
        ok = isinstance(value, spec) and not isinstance(value, bool)
    else:
        ok = isinstance(value, spec)
    if not ok:
        raise UserError(
            f"{source}: key '{key}' must be {_type_name(spec)}, got {value!r}; "
            f"fix: change it in {source.name} (see params.yaml for the default)"
        )


def _validate_flat(flat: Mapping[str, Any], source: Path) -> None:
    for key, value in flat.items():
        if key not in SCHEMA:
            close = difflib.get_close_matches(key, SCHEMA.keys(), n=1)
            hint = f"did you mean '{close[0]}'?" if close else "see params.yaml for the valid keys"
            raise UserError(f"{source}: unknown key '{key}'; fix: {hint}")
        _check_value(key, value, source)


def _resolve_paths(flat: dict[str, Any], base: Path) -> None:
    for key in PATH_KEYS:
        if key in flat and isinstance(flat[key], str):
            path = Path(flat[key]).expanduser()
            flat[key] = str(path if path.is_absolute() else (base / path).resolve())


def _check_consistency(flat: Mapping[str, Any], source: Path) -> None:
    cols = {f: flat.get(f"input.columns.{f}") for f in CANONICAL_FIELDS}
    for required in ("customer_id", "invoice_date"):
        if not cols[required]:
            raise UserError(
                f"{source}: key 'input.columns.{required}' is empty; "
                f"fix: name the column of your export that holds {required}"
            )
    if not cols["amount"] and not (cols["quantity"] and cols["unit_price"]):
        raise UserError(
            f"{source}: neither 'input.columns.amount' nor both 'input.columns.quantity' and "
            f"'input.columns.unit_price' are set; fix: map an amount column, or quantity and unit price"
        )
    if flat["eda.top_n"] < 1 or flat["eda.max_scatter_points"] < 1 or flat["eda.cohort_months"] < 1:
        raise UserError(f"{source}: eda.top_n, eda.max_scatter_points and eda.cohort_months must be >= 1")
    if flat["personas.ratio"] <= 1:
        raise UserError(f"{source}: key 'personas.ratio' must be > 1; fix: use e.g. 1.5")
    if flat["personas.top_n"] < 1:
        raise UserError(f"{source}: key 'personas.top_n' must be >= 1; fix: use e.g. 3")
    if not 0 <= flat["personas.signature_min_share"] <= 1:
        raise UserError(f"{source}: key 'personas.signature_min_share' must be between 0 and 1; fix: use e.g. 0.05")
    if not MEMORY_SIZE.fullmatch(str(flat["run.memory_limit"]).strip()):
        raise UserError(
            f"{source}: key 'run.memory_limit' is {flat['run.memory_limit']!r}, not a size; "
            f"fix: write it like 2GB, 512MB or 50% (of RAM)"
        )
    if flat["privacy.pseudonymize_ids"] and not str(flat["privacy.salt"]).strip():
        raise UserError(
            f"{source}: key 'privacy.salt' is empty while privacy.pseudonymize_ids is true; "
            f"fix: set a secret salt, e.g. salt: env:SEGMENT_SALT"
        )
    from helpers.personas import check_overrides

    check_overrides(flat["personas.overrides"])
    if flat["rfm.movement_days"] < 1:
        raise UserError(f"{source}: key 'rfm.movement_days' must be >= 1; fix: use e.g. 90")
    if flat["cleaning.outliers.k"] <= 0:
        raise UserError(f"{source}: key 'cleaning.outliers.k' must be > 0; fix: use e.g. 3.0")


def load_params(path: str | Path | None = None, *, check_input: bool = True) -> dict[str, Any]:
    """Load the default params, merge an optional override file and validate the result.

    Parameters
    ----------
    path : str or Path, optional
        A YAML file whose keys override `params.yaml`. None (or the default file itself)
        loads the defaults only.
    check_input : bool, default True
        Fail when `input.path` does not exist.

    Returns
    -------
    dict
        Nested params with absolute paths, plus ``_sources`` (the files merged).

    Raises
    ------
    UserError
        Unknown key, wrong type, inconsistent column mapping or missing input file.
    """
    flat = _flatten(_read_yaml(DEFAULT_PARAMS))
    _validate_flat(flat, DEFAULT_PARAMS)
    _resolve_paths(flat, DEFAULT_PARAMS.parent)
    sources = [str(DEFAULT_PARAMS)]
    source = DEFAULT_PARAMS
    if path not in (None, "") and Path(path).expanduser().resolve() != DEFAULT_PARAMS:
        source = Path(path).expanduser().resolve()
        override = _flatten(_read_yaml(source))
        _validate_flat(override, source)
        _resolve_paths(override, source.parent)
        flat.update(override)
        sources.append(str(source))
    missing = sorted(set(SCHEMA) - set(flat))
    if missing:
        raise UserError(f"{DEFAULT_PARAMS}: key '{missing[0]}' is missing; fix: restore it from git")
    _check_consistency(flat, source)
    for key in ("customers_input.path", "sessions_input.path"):
        if check_input and flat[key] and not Path(flat[key]).is_file():
            raise UserError(f"{flat[key]}: file not found (key '{key}'); fix: point it at the file or set it to null")
    if check_input and not Path(flat["input.path"]).is_file():
        raise UserError(
            f"{flat['input.path']}: input file not found (key 'input.path' in {source.name}); "
            f"fix: point input.path at your export"
        )
    params = _unflatten(flat)
    params["_sources"] = sources
    return copy.deepcopy(params)


def interim_paths(params: Mapping[str, Any]) -> dict[str, Path]:
    """Return the files 01_clean writes, named once here for every later step."""
    interim = Path(params["paths"]["interim_dir"])
    return {
        "transactions": interim / "transactions.parquet",
        "cleaning_log": interim / "cleaning_log.csv",
    }


def processed_paths(params: Mapping[str, Any]) -> dict[str, Path]:
    """Return the customer-level files later steps write."""
    processed = Path(params["paths"]["processed_dir"])
    return {
        "customers": processed / "customers.parquet",
        "rfm": processed / "rfm.parquet",
        "clusters": processed / "clusters.parquet",
    }
