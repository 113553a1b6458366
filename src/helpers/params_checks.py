"""Params checks: what every key of the params files must be before any step runs.

Rules as data, walked by small functions: `SCHEMA` (each key's type), `RANGES` (each
number's bounds), then what the steps need (cut points, regular expressions, the memory
cap, the salt's environment variable, persona overrides, a segment map that fits the
scoring; the input tables' options, column mappings and files come from
`helpers.params_checks_input`). `config.load_params` asks `params_problems` for every
problem at once; `cluster.ClusterSettings` asks `settings_problems`, so the clustering
bounds live here only. No other `helpers` module but `params_checks_input` is imported at
import time (io, rfm and personas import `config`, which imports this).
"""

from __future__ import annotations

import datetime
import difflib
import importlib.util
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers.errors import UserError
from helpers.params_checks_input import (
    CSV_OPTIONS,
    DATABASE_SCHEMA,
    INPUT_TABLES,
    SYNTHETIC_ORDER_PREFIXES,
    check_database,
    check_input_columns,
    check_input_files,
    check_reading_options,
    check_synthetic_order_ids,
)

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
# Fields a one-row-per-customer table (input.level: customers) may map; helpers.customer_level reads them.
CUSTOMER_LEVEL_FIELDS: tuple[str, ...] = (
    "customer_id", "recency_days", "frequency", "monetary", "signup_date", "birth_date", "birth_year",
    "age", "gender", "country", "city", "region",
)

_STR = (str,)
_OPT_STR = (str, type(None))
_BOOL = (bool,)
_NUM = (int, float)
_INT = (int,)
_OPT_INT = (int, type(None))
_STR_LIST = ("list[str]",)
_NUM_LIST = ("list[number]",)
FREE_MAPPING = ("mapping",)  # a mapping kept whole (not flattened); another module checks it
# The type of each key of a table's `csv` block (input, customers_input, sessions_input).
_CSV_TYPES: dict[str, Any] = {"delimiter": _STR, "encoding": _STR, "decimal": [".", ","],
                              "header_rows_to_skip": _INT, "max_line_size": _INT, "header": _BOOL}

# dotted key -> allowed Python types, or a list of allowed string values.
SCHEMA: dict[str, Any] = {
    "input.path": _STR,
    "input.format": ["auto", "csv", "excel", "parquet"],
    "input.orders_without_id": list(SYNTHETIC_ORDER_PREFIXES),
    **{f"{table}.csv.{key}": _CSV_TYPES[key] for table in INPUT_TABLES for key in CSV_OPTIONS},
    **{f"{table}.date_format": _STR for table in INPUT_TABLES},
    "input.excel.sheet": (str, int),
    "input.excel.header_row": _INT,
    "input.level": ["transactions", "customers"],
    **DATABASE_SCHEMA,  # input.database.* and output.database.* (helpers.params_checks_input)
    **{f"input.columns.{field}": _OPT_STR for field in (*CANONICAL_FIELDS, *CUSTOMER_LEVEL_FIELDS)},
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
    **{f"eda.{key}": _INT for key in ("top_n", "max_scatter_points", "cohort_months")},
    "rfm.analysis_date": (str, datetime.date),
    "rfm.scoring": ["quintiles", "quartiles", "cuts"],
    **{f"rfm.cuts.{metric}": _NUM_LIST for metric in ("recency", "frequency", "monetary")},
    "rfm.segment_map": _STR,
    "rfm.movement_days": _INT,
    **{f"clv.{key}": _INT for key in ("horizon_days", "churn_days", "holdout_days")},
    "clv.discount_rate": _NUM,
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
    "personas.overrides": FREE_MAPPING,
    "report.currency": _OPT_STR,
    "report.locale": _STR,
    "privacy.pseudonymize_ids": _BOOL,
    "privacy.salt": _STR,
    "privacy.personal_column_patterns": _STR_LIST,
    **{f"paths.{key}": _STR for key in ("interim_dir", "processed_dir", "reports_dir")},
    "run.seed": _INT,
    "run.kernel": _STR,
    "run.memory_limit": _STR,
    "run.temp_dir": _OPT_STR,
    "run.threads": _OPT_INT,
    "engine.kind": ["duckdb", "spark"],
    "engine.spark.master": _STR,
    "engine.spark.options": FREE_MAPPING,
}

# Keys a params file may set but params.yaml need not list (absent = null): the fields only a
# customer-level table maps, so the transaction mapping in params.yaml stays short.
OPTIONAL_KEYS: frozenset[str] = frozenset(
    f"input.columns.{f}" for f in CUSTOMER_LEVEL_FIELDS if f not in CANONICAL_FIELDS)

# A DuckDB memory size (run.memory_limit): 2GB, 512 MiB, 1.5TB, or a share of RAM, 50%.
MEMORY_SIZE = re.compile(r"\d+(\.\d+)?\s*([KMGT]i?B|B|%)", re.IGNORECASE)
UNIT_BYTES = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
               "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
MIN_MEMORY_BYTES = 10**6  # below this DuckDB cannot allocate one block (tried: 100KB fails)

REQUIRED_TEXT = ("input.path", "paths.interim_dir", "paths.processed_dir", "paths.reports_dir", "run.kernel")
RFM_METRICS = ("recency", "frequency", "monetary")
N_CUTS = 4  # cut points per metric: the upper ends of scores 1-4 (5 is above the last)
# The shipped map for scores 1-4, named by its absolute path: a relative one would be read
# from the folder of the user's params file.
QUARTILE_SEGMENT_MAP = str(Path(__file__).with_name("segment_map_quartiles.csv"))
# A forced K leaves at least this many customers per cluster on average ("a quarter" in messages).
CUSTOMERS_PER_CLUSTER = 4


@dataclass(frozen=True)
class _Range:
    """The values a number key accepts: bounds that are included unless marked open."""

    example: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def contains(self, value: float) -> bool:
        above = self.low is None or (value > self.low if self.low_open else value >= self.low)
        below = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return above and below

    def describe(self) -> str:
        if self.low is not None and self.high is not None and not (self.low_open or self.high_open):
            return f"between {self.low} and {self.high}"
        low = None if self.low is None else f"{'>' if self.low_open else '>='} {self.low}"
        high = None if self.high is None else f"{'<' if self.high_open else '<='} {self.high}"
        return " and ".join(part for part in (low, high) if part)


# Number keys with the range the steps accept; `cluster.ClusterSettings` reads the clustering ones.
RANGES: dict[str, _Range] = {
    **{f"{table}.csv.header_rows_to_skip": _Range("0", 0) for table in INPUT_TABLES},
    **{f"{table}.csv.max_line_size": _Range("16000000", 1) for table in INPUT_TABLES},
    "input.excel.header_row": _Range("1", 1),
    "cleaning.outliers.k": _Range("3.0", 0, low_open=True),
    "eda.top_n": _Range("10", 1),
    "eda.max_scatter_points": _Range("20000", 1),
    "eda.cohort_months": _Range("12", 1),
    "rfm.movement_days": _Range("90", 1),
    "clv.horizon_days": _Range("365", 1),
    "clv.churn_days": _Range("90", 1),
    "clv.holdout_days": _Range("180", 1),
    "clv.discount_rate": _Range("0.10", 0, 1),
    "clustering.k_min": _Range("2", 2),
    "clustering.k_max": _Range("10", 2),
    "clustering.n_init": _Range("10", 1),
    "clustering.bootstrap_resamples": _Range("20", 2),
    "clustering.sample_size": _Range("5000", 100),
    "clustering.scan_sample_size": _Range("50000", 100),
    "clustering.dbscan_min_samples": _Range("0 (twice the number of features)", 0),
    "clustering.test_size": _Range("0.25", 0, 1, low_open=True, high_open=True),
    "clustering.stability_threshold": _Range("0.75", 0, 1, low_open=True, high_open=True),
    "clustering.silhouette_tolerance": _Range("0.02", 0, 1, high_open=True),
    "clustering.min_cluster_share": _Range("0.01", 0, 1, high_open=True),
    "personas.ratio": _Range("1.5", 1, low_open=True),
    "personas.top_n": _Range("3", 1),
    "personas.signature_min_share": _Range("0.05", 0, 1),
    "run.seed": _Range("42", 0, 2**32 - 1),  # scikit-learn's random_state range
    "run.threads": _Range("2, or null for one per core", 1),
}

Problem = tuple[str, str]  # (where: a file or an environment variable, "what is wrong; fix: what to do")


def max_clusters(customers: int) -> int:
    """Return the largest forced K for `customers` customers (checked at load and in 04_clustering).

    Examples
    --------
    >>> max_clusters(5000)
    1250
    """
    return customers // CUSTOMERS_PER_CLUSTER


@dataclass
class _Checks:
    """The merged params under check, the file that set each key, and the problems found.

    `default_file` is blamed for a key that no override file set.
    """

    flat: dict[str, Any]
    origin: dict[str, Path]
    default_file: Path
    problems: list[Problem] = field(default_factory=list)
    bad: set[str] = field(default_factory=set)

    def usable(self, *keys: str) -> bool:
        """Return True when every key is present and passed the checks so far."""
        return all(key in self.flat and key not in self.bad for key in keys)

    def add(self, text: str, *keys: str, where: str | Path | None = None) -> None:
        """Record a problem with `keys`, blamed on the override file when it set one of them."""
        self.bad.update(keys)
        if where is None:
            files = [self.origin.get(key, self.default_file) for key in keys]
            where = next((f for f in files if f != self.default_file), self.default_file)
        self.problems.append((str(where), text))


def _type_name(spec: Any) -> str:
    if isinstance(spec, list):
        return "one of " + ", ".join(repr(v) for v in spec)
    names = {str: "text", int: "an integer", float: "a number", bool: "true/false", type(None): "null",
             datetime.date: "a date"}
    return " or ".join(names.get(t, str(t)) for t in spec)


def _type_problem(key: str, value: Any, source: Path | None) -> str | None:
    """Return why `value` does not fit `SCHEMA[key]` ("...; fix: ..."), or None.

    `source` is the params file that set the value, None for settings built in code.
    """
    spec = SCHEMA[key]
    if spec == _STR_LIST:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return None
        return f'key \'{key}\' must be a list of text values, got {value!r}; fix: write it like ["A", "B"]'
    if spec == _NUM_LIST:
        if isinstance(value, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            return None
        return f"key '{key}' must be a list of numbers, got {value!r}; fix: write it like [14, 30, 90, 180]"
    if isinstance(spec, list):
        ok = value in spec
    elif spec == FREE_MAPPING:
        ok = isinstance(value, Mapping)
    elif spec == _NUM:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif spec in (_INT, (str, int), _OPT_INT):
        ok = isinstance(value, spec) and not isinstance(value, bool)
    else:
        ok = isinstance(value, spec)
    if ok:
        return None
    return (f"key '{key}' must be {_type_name(spec)}, got {value!r}; "
            f"fix: change it{f' in {source.name}' if source else ''} (see params.yaml for the default)")


def _check_keys(flat: Mapping[str, Any], source: Path, checks: _Checks) -> None:
    """Record unknown keys (with a "did you mean") and values of the wrong type."""
    for key, value in flat.items():
        if key not in SCHEMA:
            close = difflib.get_close_matches(key, SCHEMA.keys(), n=1)
            hint = f"did you mean '{close[0]}'?" if close else "see params.yaml for the valid keys"
            checks.add(f"unknown key '{key}'; fix: {hint}", where=source)
            continue
        problem = _type_problem(key, value, source)
        if problem:
            checks.add(problem, key, where=source)


def _check_ranges(checks: _Checks) -> None:
    for key, allowed in RANGES.items():
        value = checks.flat.get(key)
        if checks.usable(key) and value is not None and not allowed.contains(value):
            checks.add(f"key '{key}' must be {allowed.describe()}, got {checks.flat[key]!r}; "
                       f"fix: use e.g. {allowed.example}", key)


def _transaction_only_keys(flat: Mapping[str, Any]) -> set[str]:
    """input.columns keys a customer-level table ignores (their defaults name transaction columns)."""
    if flat.get("input.level") != "customers":
        return set()
    return {f"input.columns.{f}" for f in CANONICAL_FIELDS if f not in CUSTOMER_LEVEL_FIELDS}


def _check_texts(checks: _Checks) -> None:
    """Required texts, prefixes and regular expressions the steps would trip over."""
    flat = checks.flat
    for key in REQUIRED_TEXT:
        if checks.usable(key) and not flat[key].strip():
            checks.add(f"key '{key}' is empty; fix: set it (see params.yaml for the default)", key)
    for key in ("cleaning.cancellation_prefixes", "cleaning.adjustment_prefixes", "cleaning.non_product_patterns"):
        if checks.usable(key) and any(not entry.strip() for entry in flat[key]):
            checks.add(f"key '{key}' has an empty entry, which matches every line; fix: remove it", key)
    if checks.usable("cleaning.non_product_patterns"):
        import duckdb  # 01_clean runs these patterns in DuckDB (RE2 syntax), so ask DuckDB

        con = duckdb.connect()
        for pattern in flat["cleaning.non_product_patterns"]:
            try:
                con.execute("SELECT regexp_matches('', ?)", [pattern]).fetchall()
            except duckdb.Error as exc:
                reason = str(exc).splitlines()[0].removeprefix("Invalid Input Error: ")
                checks.add(f"key 'cleaning.non_product_patterns': {pattern!r} is not a regular expression DuckDB "
                           f"understands ({reason}); fix: escape special characters (RE2 syntax: no look-ahead "
                           f"or back-references)", "cleaning.non_product_patterns")
    if checks.usable("privacy.personal_column_patterns"):
        for pattern in flat["privacy.personal_column_patterns"]:
            try:
                re.compile(pattern, re.IGNORECASE)
            except re.error as exc:
                checks.add(f"key 'privacy.personal_column_patterns': {pattern!r} is not a regular expression "
                           f'({exc}); fix: write e.g. "^kunde_"', "privacy.personal_column_patterns")


def _check_rfm(checks: _Checks) -> None:
    """Cut points, the scoring they serve, and the analysis date."""
    flat = checks.flat
    for metric in RFM_METRICS:
        key = f"rfm.cuts.{metric}"
        points = flat.get(key)
        if checks.usable(key) and points and (
            len(points) != N_CUTS or any(a >= b for a, b in zip(points, points[1:], strict=False))
        ):
            checks.add(f"key '{key}': expected {N_CUTS} increasing numbers, got {points!r}; "
                       f"fix: write e.g. [1, 2, 3, 5] (each is the upper end of a score band)", key)
    empty = [f"rfm.cuts.{m}" for m in RFM_METRICS if checks.usable(f"rfm.cuts.{m}") and not flat[f"rfm.cuts.{m}"]]
    if checks.usable("rfm.scoring") and flat["rfm.scoring"] == "cuts" and empty:
        named = ", ".join(f"'{k}'" for k in empty)
        checks.add(f"{'keys' if len(empty) > 1 else 'key'} {named} {'are' if len(empty) > 1 else 'is'} empty but "
                   f"rfm.scoring is 'cuts'; fix: give {N_CUTS} cut points for each, or use quintiles",
                   *empty, "rfm.scoring")
    if checks.usable("rfm.analysis_date"):
        from helpers.catalog import parse_analysis_date  # the parse 03_rfm uses

        try:
            parse_analysis_date(flat.get("rfm.analysis_date"))
        except UserError as exc:
            checks.add(str(exc), "rfm.analysis_date")


def _check_segment_map(checks: _Checks) -> None:
    """The segment map loads, and each of its segments can be reached by the scores given.

    With ``quartiles`` R and F run 1-4 (a metric with cut points: 1-5), so a segment whose
    cells all need a score of 5 would stay empty without a word.
    """
    keys = ("rfm.segment_map", "rfm.scoring", "rfm.cuts.recency", "rfm.cuts.frequency")
    if not checks.usable(*keys):
        return
    from helpers.rfm import SCORING_METHODS
    from helpers.rfm_segment_map import load_segment_map, resolve_segment_map_path

    flat = checks.flat
    path = resolve_segment_map_path(flat["rfm.segment_map"])
    try:
        segment_map = load_segment_map(path)
    except UserError as exc:
        checks.add(f"key 'rfm.segment_map': {exc}", "rfm.segment_map")
        return
    top_r, top_f = (5 if flat[f"rfm.cuts.{m}"] else SCORING_METHODS[flat["rfm.scoring"]] for m in ("recency", "frequency"))
    reachable = segment_map[(segment_map["r_score"] <= top_r) & (segment_map["f_score"] <= top_f)]
    reached = set(reachable["segment"].astype(str))
    empty = [str(s) for s in segment_map["segment"].cat.categories if str(s) not in reached]
    if empty:
        fix = (f"set rfm.segment_map: {QUARTILE_SEGMENT_MAP} (made for scores 1-4), or rfm.scoring: quintiles"
               if (top_r, top_f) == (4, 4) else
               f"use a map where every segment has a cell with R 1-{top_r} and F 1-{top_f}, or rfm.scoring: quintiles")
        checks.add(f"key 'rfm.segment_map': with rfm.scoring '{flat['rfm.scoring']}' R scores run 1-{top_r} and "
                   f"F scores 1-{top_f}, so {', '.join(empty)} of {path.name} would stay empty; fix: {fix}",
                   "rfm.segment_map", "rfm.scoring")


def _check_clustering(checks: _Checks) -> None:
    """K range, forced K, features: the clustering rules beyond single ranges (also `ClusterSettings`)."""
    flat = checks.flat
    if checks.usable("clustering.k_min", "clustering.k_max") and flat["clustering.k_max"] < flat["clustering.k_min"]:
        checks.add(f"key 'clustering.k_max' must be >= clustering.k_min ({flat['clustering.k_min']}), got "
                   f"{flat['clustering.k_max']}; fix: raise k_max or lower k_min", "clustering.k_max", "clustering.k_min")
    k = flat.get("clustering.k")
    sizes = ("clustering.sample_size", "clustering.scan_sample_size")
    if checks.usable("clustering.k") and k is not None and k < 2:
        checks.add(f"key 'clustering.k' must be null (pick K by the rule) or >= 2, got {k}; fix: use e.g. 4, or null",
                   "clustering.k")
    elif checks.usable("clustering.k", *sizes) and k is not None and k > max_clusters(min(flat[s] for s in sizes)):
        sampled = min(flat[s] for s in sizes)
        checks.add(f"key 'clustering.k' is {k}, more than a quarter of the {sampled} customers sampled "
                   f"(clustering.sample_size, scan_sample_size); fix: use a smaller K, or null to pick it",
                   "clustering.k")
    features = flat.get("clustering.features")
    if checks.usable("clustering.features"):
        repeated = sorted({f for f in features if features.count(f) > 1})
        if not features:
            checks.add("key 'clustering.features' is empty; fix: list the customer columns to cluster on, "
                       "e.g. [recency_days, frequency, monetary]", "clustering.features")
        elif repeated:
            checks.add(f"key 'clustering.features' names '{repeated[0]}' twice; fix: list each column once",
                       "clustering.features")
    if checks.usable("clustering.features", "clustering.log_features"):
        stray = [f for f in flat["clustering.log_features"] if f not in features]
        if stray:
            checks.add(f"key 'clustering.log_features': '{stray[0]}' is not in clustering.features; "
                       f"fix: add it to features or remove it from log_features", "clustering.log_features")


def _check_overrides(checks: _Checks) -> None:
    if checks.usable("personas.overrides"):
        from helpers.persona_rules import override_problems

        for problem in override_problems(checks.flat["personas.overrides"]):
            checks.add(problem, "personas.overrides")


def _check_salt(checks: _Checks) -> None:
    """A salt is set when ids are pseudonymized; an ``env:NAME`` salt needs NAME set (as `exports.resolve_salt`)."""
    if not checks.usable("privacy.pseudonymize_ids", "privacy.salt") or not checks.flat["privacy.pseudonymize_ids"]:
        return
    salt = checks.flat["privacy.salt"]
    name = salt.removeprefix("env:").strip() if salt.startswith("env:") else None
    if name is None and not salt.strip():
        checks.add("key 'privacy.salt' is empty while privacy.pseudonymize_ids is true; "
                   "fix: set a secret salt, e.g. salt: env:SEGMENT_SALT", "privacy.salt")
    elif name == "":
        checks.add("key 'privacy.salt' is 'env:' without a variable name; fix: write it like env:SEGMENT_SALT",
                   "privacy.salt")
    elif name and not os.environ.get(name, "").strip():
        state = "is empty" if name in os.environ else "is not set"
        checks.add(f"key 'privacy.salt' reads the environment variable {name!r}, which {state}; "
                   f"fix: export {name}=<secret text> before running, or write the salt in the params file",
                   "privacy.salt")


def _memory_problem(value: str) -> tuple[str, str] | None:
    """Return (what is wrong, fix) for a DuckDB memory cap, or None when DuckDB can use it."""
    text = str(value).strip()
    match = MEMORY_SIZE.fullmatch(text)
    if not match:
        return "not a size", "write it like 2GB, 512MB or 50% (of RAM)"
    number, unit = float(text[: match.start(2)]), match.group(2).lower()
    if unit == "%":
        return None if 0 < number <= 100 else (
            "not a share of RAM above 0% and at most 100%", "write it like 50%, or a size such as 2GB")
    if number * UNIT_BYTES[unit] < MIN_MEMORY_BYTES:
        return "under 1MB (DuckDB needs at least 1MB)", "write it like 2GB, 512MB or 50% (of RAM)"
    return None


def _check_memory(checks: _Checks) -> None:
    """run.memory_limit: a size DuckDB understands, at least 1MB, or a share of RAM up to 100%."""
    value = checks.flat.get("run.memory_limit")
    problem = _memory_problem(value) if checks.usable("run.memory_limit") else None
    if problem:
        checks.add(f"key 'run.memory_limit' is {value!r}, {problem[0]}; fix: {problem[1]}", "run.memory_limit")


def _check_engine(checks: _Checks) -> None:
    """engine.kind spark needs the Spark extra; engine.spark.options are spark.* settings with plain values."""
    if checks.usable("engine.kind") and checks.flat["engine.kind"] == "spark":
        missing = [m for m in ("pyspark", "sqlglot") if importlib.util.find_spec(m) is None]
        if missing:
            verb = "is" if len(missing) == 1 else "are"
            checks.add(f"key 'engine.kind' is 'spark' but {' and '.join(missing)} {verb} not installed; "
                       "fix: run make setup-spark (or set engine.kind: duckdb)", "engine.kind")
    if checks.usable("engine.spark.options"):
        for key, value in (checks.flat["engine.spark.options"] or {}).items():
            if not str(key).startswith("spark.") or isinstance(value, (dict, list)) or value is None:
                checks.add(f"key 'engine.spark.options' has {key}: {value!r}; fix: give spark.* settings "
                           "with a plain value, e.g. spark.driver.memory: 8g", "engine.spark.options")
                break


def _check_report(checks: _Checks) -> None:
    """report.currency is an ISO code and report.locale a known locale (`helpers.formatting`)."""
    from helpers.formatting import Formats

    for key, formats in (("report.locale", lambda v: Formats(None, v)), ("report.currency", lambda v: Formats(v))):
        if checks.usable(key) and checks.flat[key] is not None:
            try:
                formats(checks.flat[key]).check()
            except UserError as exc:
                checks.add(str(exc), key)


# Run in this order after the type checks; each skips keys that already failed.
_CHECKS: tuple[Callable[[_Checks], None], ...] = (
    _check_ranges, check_input_columns, _check_texts, check_reading_options, check_synthetic_order_ids,
    _check_rfm, _check_segment_map, _check_clustering, _check_overrides, _check_salt, _check_memory, _check_engine, _check_report,
    check_database,
)


def params_problems(layers: Sequence[tuple[Path, Mapping[str, Any]]], *, check_input: bool = True) -> list[Problem]:
    """Return every problem of the params files merged in order, the default file first.

    Parameters
    ----------
    layers : sequence of (Path, mapping)
        Each params file with its flat keys (dotted, paths already absolute); later files
        override earlier ones key by key. The first is the default file: a key of `SCHEMA`
        that no file sets is blamed on it, as is a problem with a key no later file set.
    check_input : bool, default True
        Report input files that do not exist.

    Returns
    -------
    list of (str, str)
        (where, "what is wrong; fix: what to do"), in the order found; empty when the
        merged params are fine. `config.problems_message` puts them on one line.
    """
    default_file = layers[0][0]
    checks = _Checks({}, {}, default_file)
    for source, flat in layers:
        _check_keys(flat, source, checks)
        checks.flat.update(flat)
        checks.origin.update(dict.fromkeys(flat, source))
    for key in sorted(set(SCHEMA) - set(checks.flat) - OPTIONAL_KEYS):
        checks.add(f"key '{key}' is missing; fix: restore it from git", key, where=default_file)
    for check in _CHECKS:
        check(checks)
    check_input_files(checks, check_input)
    return checks.problems


def settings_problems(values: Mapping[str, Any]) -> list[str]:
    """Return what is wrong with settings built in code, by the same rules as the params files.

    Only the keys given are checked: their type (`SCHEMA`), range (`RANGES`) and the rules
    between them (K range, forced K, features; see `_check_clustering`). Checks needing a
    file, the environment or another module are left to `params_problems`.

    Parameters
    ----------
    values : mapping
        Dotted keys of `SCHEMA` (``clustering.k_min``) to plain Python values (lists, not
        tuples; int, not numpy integers).

    Returns
    -------
    list of str
        "what is wrong; fix: what to do" per problem; empty when the settings are fine.

    Examples
    --------
    >>> settings_problems({"clustering.k_min": 5, "clustering.k_max": 3})
    ["key 'clustering.k_max' must be >= clustering.k_min (5), got 3; fix: raise k_max or lower k_min"]
    """
    checks = _Checks(dict(values), {}, Path("settings"))
    for key, value in values.items():
        problem = _type_problem(key, value, None)
        if problem:
            checks.add(problem, key)
    _check_ranges(checks)
    _check_clustering(checks)
    return [text for _, text in checks.problems]


