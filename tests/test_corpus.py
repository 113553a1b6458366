"""Run every case of the bad-input corpus (tests/corpus.py) through the runner's CLI.

Each case must end in its documented handling or in one line on stderr naming the file or
key and the fix, exit status 1, no traceback, and the previous `reports/latest`,
`data/interim` and `data/processed` unchanged.
"""

import hashlib
import os
import resource
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from corpus import CASES

pytestmark = pytest.mark.slow


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out.get(key, {}), value) if isinstance(value, dict) else value
    return out


def _tree_digest(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every data file under `folder` (hidden lock files left out)."""
    if not folder.is_dir():
        return {}
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.name.startswith(".")}


def _previous_outputs(params: dict) -> None:
    """Stand-ins for an earlier run's data, which a failed run must leave as they were."""
    for key, name in (("interim_dir", "transactions.parquet"), ("processed_dir", "rfm.parquet")):
        folder = Path(params["paths"][key])
        if folder.parent.is_dir() and os.access(folder.parent, os.W_OK):
            folder.mkdir(parents=True, exist_ok=True)
            if not (folder / name).exists():
                (folder / name).write_bytes(b"previous run")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus_case(tmp_path, case):
    paths = {"interim_dir": str(tmp_path / "interim"), "processed_dir": str(tmp_path / "processed"),
             "reports_dir": str(tmp_path / "reports")}
    params = _merge({"paths": paths}, case.build(tmp_path))
    reports = Path(params["paths"]["reports_dir"])
    previous = None
    if reports.parent.is_dir() and not reports.parent.is_file():
        try:
            (reports / "previous-run").mkdir(parents=True)
            (reports / "previous-run" / "index.html").write_text("previous")
            os.symlink("previous-run", reports / "latest")
            previous = (reports / "latest").resolve()
        except OSError:
            previous = None
    _previous_outputs(params)
    data_before = {key: _tree_digest(Path(params["paths"][key])) for key in ("interim_dir", "processed_dir")}
    params_file = tmp_path / "case.yaml"
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    limit = case.extra.get("file_size_limit")

    def _limit_file_size():  # runs in the child before exec
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = subprocess.run(
        [sys.executable, "-m", "helpers.runner", "--params", str(params_file), "--only", ",".join(case.steps)],
        capture_output=True, text=True, timeout=600, preexec_fn=_limit_file_size if limit else None,
        env={**os.environ, **case.extra.get("env", {})},
    )
    assert "Traceback" not in result.stderr + result.stdout
    kind, detail = case.expect
    if kind == "error":
        assert result.returncode == 1, result.stdout + result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("error: ") and detail in lines[0], lines[0]
        if previous is not None:
            assert (reports / "latest").resolve() == previous
        assert not list(reports.glob("*.partial")) if reports.is_dir() else True
        for key, before in data_before.items():
            assert _tree_digest(Path(params["paths"][key])) == before, f"{key} changed by a failed run"
    else:
        assert result.returncode == 0, result.stderr
        if detail:
            log = pd.read_csv(Path(params["paths"]["interim_dir"]) / "cleaning_log.csv").set_index("rule")
            assert log.loc[detail, "rows"] > 0 and log.loc[detail, "action"] == "removed"
    if case.check is not None:
        case.check(tmp_path, params)
