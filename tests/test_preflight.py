"""The runner's preflight (issue 15): every input is opened and checked before the first step runs.

No kernel runs here: `execute_step` is replaced by a function that fails the test, so a
preflight that let a bad input through would show up as that failure.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import write_params
from helpers import preflight, runner
from helpers.config import load_params
from helpers.errors import UserError

BAD_BIRTH_DATES = "customer_id,birth_date,signup_date\n100,04-09-1980,2011-01-01\n300,05-09-1975,2011-01-01\n"


def _tree(tmp_path: Path, csv_path: Path, workdirs: dict, **sections) -> dict:
    return {"input": {"path": str(csv_path)}, "paths": workdirs, **sections}


def _customers(tmp_path: Path, text: str = BAD_BIRTH_DATES) -> dict:
    path = tmp_path / "customers.csv"
    path.write_text(text, encoding="utf-8")
    return {"path": str(path), "columns": {"gender": None, "country": None, "city": None}}


@pytest.fixture
def no_steps(monkeypatch):
    def step_ran(name, *args, **kwargs):
        raise AssertionError(f"step {name} ran although an input was bad")

    monkeypatch.setattr(runner, "execute_step", step_ran)


def test_a_bad_customer_date_stops_the_run_before_01_and_writes_nothing(tmp_path, cleaning_csv, workdirs, no_steps):
    params_file = write_params(tmp_path / "p.yaml", _tree(tmp_path, cleaning_csv, workdirs,
                                                          customers_input=_customers(tmp_path)))
    with pytest.raises(UserError) as caught:
        runner.run_report(str(params_file))
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'customers.csv'}: column 'birth_date' (customers_input.columns.birth_date)")
    assert "fix: set customers_input.date_format" in message and "\n" not in message
    for folder in workdirs.values():
        assert not Path(folder).exists(), folder


def test_the_command_line_prints_the_preflight_problem_in_one_line(tmp_path, cleaning_csv, workdirs):
    params_file = write_params(tmp_path / "p.yaml", _tree(tmp_path, cleaning_csv, workdirs,
                                                          customers_input=_customers(tmp_path)))
    result = subprocess.run([sys.executable, "-m", "helpers.runner", "--params", str(params_file)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "customers_input.date_format" in lines[0]
    assert "running" not in result.stdout and not Path(workdirs["reports_dir"]).exists()


@pytest.mark.parametrize(
    ("changes", "text"),
    [
        ({"date_format": "%d/%m/%Y %H:%M"}, "column 'InvoiceDate' (invoice_date)"),
        ({"columns": {"customer_id": "Client"}}, "column 'Client' (mapped to customer_id) not found"),
        ({"csv": {"decimal": ","}}, "input.csv.decimal"),
    ],
)
def test_transaction_problems_stop_before_any_step(tmp_path, cleaning_csv, workdirs, no_steps, changes, text):
    tree = _tree(tmp_path, cleaning_csv, workdirs)
    tree["input"].update(changes)
    with pytest.raises(UserError, match=r"orders\.csv: ") as caught:
        runner.run_report(str(write_params(tmp_path / "p.yaml", tree)), notebooks=("01_clean",))
    assert text in str(caught.value)
    assert not Path(workdirs["reports_dir"]).exists()


def test_only_inputs_of_the_steps_being_run_are_checked(tmp_path, cleaning_csv, workdirs):
    params = load_params(write_params(tmp_path / "p.yaml", _tree(tmp_path, cleaning_csv, workdirs,
                                                                 customers_input=_customers(tmp_path))))
    assert preflight.check_inputs(params, ["01_clean"]) == ["input.path"]
    assert preflight.check_inputs(params, ["03_rfm", "04_clustering"]) == []
    with pytest.raises(UserError, match="customers_input.date_format"):
        preflight.check_inputs(params, ["02_eda"])


def test_every_input_that_reads_well_passes(tmp_path, cleaning_csv, workdirs):
    good = "customer_id,birth_date,signup_date\n100,1980-09-04,2011-01-01\n"
    sessions = tmp_path / "sessions.csv"
    sessions.write_text("customer_id,session_start\n100,2011-01-02 10:00\n", encoding="utf-8")
    traits_file = tmp_path / "traits.csv"
    traits_file.write_text("customer_id,channel\n100,web\n", encoding="utf-8")
    tree = _tree(tmp_path, cleaning_csv, workdirs, customers_input=_customers(tmp_path, good),
                 sessions_input={"path": str(sessions), "columns": {
                     "pages_viewed": None, "duration_s": None, "clicks": None, "product_views": None, "converted": None}},
                 personas={"traits_file": str(traits_file)})
    params = load_params(write_params(tmp_path / "p.yaml", tree))
    assert preflight.check_inputs(params) == [check.key for check in preflight.INPUT_CHECKS if check.applies(params)]
    assert len(preflight.check_inputs(params)) == 4  # transactions, customers, sessions, traits file


def test_a_traits_file_without_customer_id_stops_before_any_step(tmp_path, cleaning_csv, workdirs, no_steps):
    traits_file = tmp_path / "traits.csv"
    traits_file.write_text("id,channel\n100,web\n", encoding="utf-8")
    tree = _tree(tmp_path, cleaning_csv, workdirs, personas={"traits_file": str(traits_file)})
    with pytest.raises(UserError, match=r"traits\.csv: column 'customer_id' is missing"):
        runner.run_report(str(write_params(tmp_path / "p.yaml", tree)))


def test_a_transactions_check_reads_only_a_sample(tmp_path, cleaning_csv):
    import duckdb

    from helpers import io

    section = load_params()["input"] | {"path": str(cleaning_csv)}
    with duckdb.connect() as con:
        assert io.check_transactions(con, section) == 10
        assert io.check_transactions(con, section, sample_rows=3) == 3
