"""Bad-input corpus, issue 12: the runner's faults: folders, leftovers of killed runs, locks.

See tests/corpus.py for the Case contract. Interrupts (Ctrl-C and SIGTERM in every step) and
a failure while publishing need a process to signal or a fault to inject, so they are
tested in tests/test_runner.py instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from corpus import Case, _csv, _input, good_rows


def _same_last_folder_name(folder: Path) -> dict[str, Any]:
    return {**_input(_csv(folder, good_rows())),
            "paths": {"interim_dir": str(folder / "a" / "data"), "processed_dir": str(folder / "b" / "data")}}


def _check_same_last_folder_name(folder: Path, params: dict[str, Any]) -> None:
    interim = {p.name for p in (folder / "a" / "data").iterdir() if not p.name.startswith(".")}
    processed = {p.name for p in (folder / "b" / "data").iterdir() if not p.name.startswith(".")}
    assert interim == {"transactions.parquet", "cleaning_log.csv", "facts.json"}, interim
    assert processed == {"clv.parquet", "rfm.parquet"}, processed


def _same_folder_for_both(folder: Path) -> dict[str, Any]:
    return {**_input(_csv(folder, good_rows())),
            "paths": {"interim_dir": str(folder / "data"), "processed_dir": str(folder / "data")}}


def _check_same_folder_for_both(folder: Path, params: dict[str, Any]) -> None:
    names = {p.name for p in (folder / "data").iterdir() if not p.name.startswith(".")}
    assert {"transactions.parquet", "cleaning_log.csv", "facts.json", "rfm.parquet"} <= names, names


def _processed_dir_under_a_file(folder: Path) -> dict[str, Any]:
    (folder / "a-file").write_text("")
    return {**_input(_csv(folder, good_rows())), "paths": {"processed_dir": str(folder / "a-file" / "processed")}}


def _half_published_run(folder: Path) -> dict[str, Any]:
    """A run killed while publishing: one file replaced, its old version in the backup folder."""
    interim = folder / "interim"
    backup = interim / ".ecomseg-backup-20200101-000000"
    backup.mkdir(parents=True)
    (interim / "cleaning_log.csv").write_text("half-published")
    (backup / "cleaning_log.csv").write_text("old log")
    plan = [{"source": "gone", "dest": str(interim / "cleaning_log.csv"), "existed": True, "backup_dir": str(backup)}]
    (backup / "journal.json").write_text(json.dumps({"run_id": "20200101-000000", "plan": plan}))
    return _input(_csv(folder, good_rows()))


def _check_half_published_run(folder: Path, params: dict[str, Any]) -> None:
    interim = folder / "interim"
    assert not list(interim.glob(".ecomseg-backup-*"))
    log = (interim / "cleaning_log.csv").read_text()
    assert log.startswith("rule,"), log[:40]  # the new run's log replaced the restored old one


def _stale_partial_folder(folder: Path) -> dict[str, Any]:
    stale = folder / "reports" / "20200101-000000.partial"
    stale.mkdir(parents=True)
    (stale / ".pid").write_text(str(2**22 + 4321))  # no such process
    return _input(_csv(folder, good_rows()))


def _check_stale_partial_folder(folder: Path, params: dict[str, Any]) -> None:
    assert not list((folder / "reports").glob("*.partial"))


CASES: tuple[Case, ...] = (
    Case("data_folders_with_same_last_name", _same_last_folder_name, ("ok", None), steps=("01_clean", "03_rfm"),
         check=_check_same_last_folder_name, notes="each staged folder is named by its params key"),
    Case("interim_and_processed_same_folder", _same_folder_for_both, ("ok", None), steps=("01_clean", "03_rfm"),
         check=_check_same_folder_for_both, notes="allowed: the files have distinct names"),
    Case("processed_dir_not_writable", _processed_dir_under_a_file, ("error", "fix: set paths.processed_dir"),
         notes="found before any step runs"),
    Case("half_published_run_left_by_a_kill", _half_published_run, ("ok", None), check=_check_half_published_run,
         notes="the journal is rolled back before the run starts"),
    Case("stale_partial_folder", _stale_partial_folder, ("ok", None), check=_check_stale_partial_folder,
         notes="a killed run's .partial folder is removed"),
)
