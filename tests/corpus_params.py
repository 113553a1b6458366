"""Bad-input corpus, issue 12: params validation (helpers.config). See tests/corpus.py for the Case contract.

Each bad file must stop before any step runs, with every problem in one line; the two "ok"
cases are documented uses that used to fail mid-run or to leave segments empty in silence.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from corpus import Case, _csv, _input, good_rows

ALL_STEPS = ("01_clean", "02_eda", "03_rfm", "04_clustering", "05_personas")
UNSET_SALT = "ECOMSEG_CORPUS_SALT_NEVER_SET"
QUARTILE_MAP = Path(__file__).resolve().parents[1] / "src" / "helpers" / "segment_map_quartiles.csv"
# The override of params.yaml's comment (a rule) and of check_overrides' docstring (a cluster).
OVERRIDES = {
    "loyal_high_value": {"name": "VIP regulars", "actions": ["Invite to the VIP evening"]},
    0: {"name": "First cluster", "actions": ["Call them", "Send a voucher"]},
}


def _with(folder: Path, **sections: Any) -> dict[str, Any]:
    """A good export plus the params `sections` under test."""
    return {**_input(_csv(folder, good_rows())), **sections}


def _env_salt_unset(folder: Path) -> dict[str, Any]:
    return _with(folder, privacy={"pseudonymize_ids": True, "salt": f"env:{UNSET_SALT}"})


def _memory_share_above_100(folder: Path) -> dict[str, Any]:
    return _with(folder, run={"memory_limit": "1000%"})


def _k_min_above_k_max(folder: Path) -> dict[str, Any]:
    return _with(folder, clustering={"k_min": 6, "k_max": 4})


def _n_init_zero(folder: Path) -> dict[str, Any]:
    return _with(folder, clustering={"n_init": 0})


def _bad_persona_override(folder: Path) -> dict[str, Any]:
    return _with(folder, personas={"overrides": {"loyal_hgh_value": {"name": "VIP"}}})


def _two_typos(folder: Path) -> dict[str, Any]:
    return _with(folder, cleaning={"drop_exact_duplicate": False}, eda={"topn": 5})


def _column_mapped_twice(folder: Path) -> dict[str, Any]:
    return {**_input(_csv(folder, good_rows()), columns={"amount": "Quantity"})}


def _quartiles_five_level_map(folder: Path) -> dict[str, Any]:
    return _with(folder, rfm={"scoring": "quartiles"})


def _quartiles_quartile_map(folder: Path) -> dict[str, Any]:
    rows = good_rows(n=400, customers=60)
    return {**_input(_csv(folder, rows)), "rfm": {"scoring": "quartiles", "segment_map": str(QUARTILE_MAP)}}


def _scores_1_to_4_and_no_empty_segment(folder: Path, params: dict[str, Any]) -> None:
    rfm = pd.read_parquet(Path(params["paths"]["processed_dir"]) / "rfm.parquet")
    assert rfm[["r_score", "f_score"]].max().max() == 4
    assert rfm["segment"].notna().all()


def _overrides_with_actions(folder: Path) -> dict[str, Any]:
    rows = good_rows(n=400, customers=60)
    return {**_input(_csv(folder, rows)), "personas": {"overrides": OVERRIDES}}


def _override_in_the_export(folder: Path, params: dict[str, Any]) -> None:
    exported = pd.read_csv(Path(params["paths"]["reports_dir"]) / "latest" / "personas.csv")
    first = exported.loc[exported["cluster"] == 0].iloc[0]
    assert (first["persona"], first["action_1"], first["action_2"]) == ("First cluster", "Call them", "Send a voucher")


CASES: tuple[Case, ...] = (
    Case("params_env_salt_unset", _env_salt_unset,
         ("error", f"key 'privacy.salt' reads the environment variable '{UNSET_SALT}', which is not set")),
    Case("params_memory_limit_1000_percent", _memory_share_above_100,
         ("error", "key 'run.memory_limit' is '1000%', not a share of RAM above 0% and at most 100%")),
    Case("params_k_min_above_k_max", _k_min_above_k_max,
         ("error", "key 'clustering.k_max' must be >= clustering.k_min (6), got 4")),
    Case("params_n_init_zero", _n_init_zero, ("error", "key 'clustering.n_init' must be >= 1, got 0; fix: use e.g. 10")),
    Case("params_bad_persona_override", _bad_persona_override,
         ("error", "key 'personas.overrides.loyal_hgh_value': unknown rule; fix: did you mean 'loyal_high_value'?")),
    Case("params_two_typos_at_once", _two_typos,
         ("error", "2 problems: unknown key 'cleaning.drop_exact_duplicate' (fix: did you mean "
                   "'cleaning.drop_exact_duplicates'?); unknown key 'eda.topn' (fix: did you mean 'eda.top_n'?)")),
    Case("params_column_mapped_to_two_fields", _column_mapped_twice,
         ("error", "keys 'input.columns.quantity' and 'input.columns.amount' both name column 'Quantity'")),
    Case("params_quartiles_with_five_level_map", _quartiles_five_level_map,
         ("error", "segment_map_quartiles.csv (made for scores 1-4), or rfm.scoring: quintiles")),
    Case("params_quartiles_with_quartile_map", _quartiles_quartile_map, ("ok", None), steps=("01_clean", "03_rfm"),
         check=_scores_1_to_4_and_no_empty_segment, notes="the shipped 4-level map: every customer gets a segment"),
    Case("params_overrides_with_actions", _overrides_with_actions, ("ok", None), steps=ALL_STEPS,
         check=_override_in_the_export, notes="checked at load and again by name_personas (used to fail)"),
)
