"""Repository-level promises: pinned deps agree, notebooks are clean, CI runs the README command."""

import re
from pathlib import Path

import nbformat
import pytest
import yaml

from helpers.config import NOTEBOOKS, PROJECT_ROOT
from helpers.notebooks import notebook_has_outputs, strip_outputs


def _pins(lines):
    return {
        m.group(1).lower(): m.group(2)
        for line in lines
        if (m := re.match(r"^\s*([A-Za-z0-9_.\-]+)==([^\s#]+)", line))
    }


def test_requirements_and_environment_pin_the_same_versions():
    req = _pins((PROJECT_ROOT / "requirements.txt").read_text().splitlines())
    env = yaml.safe_load((PROJECT_ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert req and req == _pins(pip_section)
    for core in ("numpy", "pandas", "matplotlib", "seaborn", "scikit-learn", "jupyterlab", "papermill", "nbconvert"):
        assert core in req, core


def test_the_spark_extra_is_pinned_exactly_apart_from_the_core_and_installed_by_ci():
    lines = (PROJECT_ROOT / "requirements-spark.txt").read_text().splitlines()
    spark = _pins(lines)
    assert {"pyspark", "py4j", "sqlglot", "grpcio"} <= set(spark)
    assert all("==" in line for line in lines if line.strip() and not line.startswith("#"))
    assert not set(spark) & set(_pins((PROJECT_ROOT / "requirements.txt").read_text().splitlines()))
    ci = (PROJECT_ROOT / ".ci" / "run").read_text()
    assert ci.index("make setup-spark") < ci.index("make test")


def test_every_requirement_is_pinned_exactly():
    for line in (PROJECT_ROOT / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert "==" in line, line


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_committed_without_outputs_and_one_parameters_cell(name):
    path = PROJECT_ROOT / "notebooks" / f"{name}.ipynb"
    assert not notebook_has_outputs(path), f"{path}: run python -m helpers.notebooks --strip notebooks"
    notebook = nbformat.read(path, as_version=4)
    tagged = [c for c in notebook.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1
    assert "params_file" in tagged[0].source and "run_dir" in tagged[0].source


def test_strip_outputs_removes_outputs(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1", execution_count=3, outputs=[
        nbformat.v4.new_output("execute_result", data={"text/plain": "1"}, execution_count=3)])])
    path = tmp_path / "n.ipynb"
    nbformat.write(notebook, path)
    assert notebook_has_outputs(path)
    assert strip_outputs(path)
    assert not notebook_has_outputs(path)


def test_ci_runs_the_readme_test_command():
    ci = (PROJECT_ROOT / ".ci" / "run").read_text()
    readme = (PROJECT_ROOT / "README.md").read_text()
    assert "make test" in ci and "make test" in readme and "make report" in readme


def test_makefile_help_is_default_and_lists_targets():
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    assert ".DEFAULT_GOAL := help" in makefile
    for target in ("setup", "report", "lab", "test", "lint", "clean"):
        assert re.search(rf"^{target}:.*## ", makefile, re.M), target


def test_shipped_data_is_the_original_file():
    from helpers.runner import file_sha256

    path = PROJECT_ROOT / "data" / "raw" / "online_retail.csv.gz"
    assert file_sha256(path) == "69be4ec003a8ff0fd8654a8e79a919325d419463bf8650c4b3612218509d46b5"
    assert (PROJECT_ROOT / "data" / "README.md").is_file()


def test_no_notebook_is_missing_from_the_runner_order():
    from helpers.steps import STEPS

    on_disk = sorted(p.stem for p in (PROJECT_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert on_disk == sorted([*NOTEBOOKS, *(s.customer_level for s in STEPS if s.customer_level)])


def test_project_root_has_required_layout():
    for name in ("notebooks", "src/helpers", "data", "reports", "environment.yml", "requirements.txt",
                 "Makefile", "tests", "README.md", ".ci/run", "params.yaml", "pyproject.toml"):
        assert (PROJECT_ROOT / name).exists(), name
    assert Path(PROJECT_ROOT / "src" / "helpers" / "__init__.py").is_file()
