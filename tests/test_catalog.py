"""The catalog, the step registry, the engine seam and the import graph, without kernels."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pandas as pd
import pytest

from helpers import catalog
from helpers.engine import EngineSettings, connect, quote_identifier, quote_literal
from helpers.errors import UserError
from helpers.steps import NOTEBOOKS, STEPS, step

HELPERS = Path(catalog.__file__).parent


def _params(tmp_path, analysis_date="auto"):
    return {"paths": {"interim_dir": str(tmp_path / "interim"), "processed_dir": str(tmp_path / "processed")},
            "rfm": {"analysis_date": analysis_date}}


def test_write_then_read_round_trips_and_leaves_no_temporary_file(tmp_path):
    params = _params(tmp_path)
    labels = pd.DataFrame({c: [1, 2] for c in catalog.LABEL_COLUMNS}).assign(customer_id=["a", "b"])
    file = catalog.write(params, "clusters", labels)
    assert file == tmp_path / "processed" / "clusters.parquet"
    pd.testing.assert_frame_equal(catalog.read(params, "clusters"), labels)
    assert [p.name for p in file.parent.iterdir()] == ["clusters.parquet"]


def test_contract_violations_name_the_file_the_column_and_the_step(tmp_path):
    params = _params(tmp_path)
    with pytest.raises(UserError, match=r"rfm\.parquet: rfm not found; fix: run notebook 03_rfm first"):
        catalog.read(params, "rfm")
    with pytest.raises(UserError, match=r"column 'kmeans' is missing \(clusters\); fix: rerun 04_clustering"):
        catalog.write(params, "clusters", pd.DataFrame({"customer_id": ["a"]}))
    (tmp_path / "processed").mkdir()
    pd.DataFrame({"customer_id": ["a"]}).to_parquet(tmp_path / "processed" / "rfm.parquet")
    with pytest.raises(UserError, match=r"column 'recency_days' is missing \(rfm\); fix: rerun 03_rfm"):
        catalog.require(params, "rfm")
    (tmp_path / "processed" / "rfm.parquet").write_bytes(b"not parquet")
    with pytest.raises(UserError, match="not a readable Parquet file"):
        catalog.require(params, "rfm")


def test_exports_go_to_the_run_folder_or_processed_when_interactive(tmp_path):
    params = _params(tmp_path)
    assert catalog.path(params, "segments", tmp_path / "run") == tmp_path / "run" / "segments.csv"
    assert catalog.path(params, "segments") == tmp_path / "processed" / "segments.csv"
    file = catalog.write(params, "personas", pd.DataFrame({"persona": ["=cmd()"]}), tmp_path / "run")
    assert file.read_text().splitlines()[1] == "'=cmd()"  # spreadsheet-safe, as helpers.exports writes it


@pytest.mark.parametrize(
    ("given", "expected"),
    [("auto", "2011-03-08"), ("2011-03-01", "2011-03-01"), ("2011-03-01 17:45", "2011-03-01")],
)
def test_analysis_date_comes_from_the_facts_of_01_clean(tmp_path, given, expected):
    params = _params(tmp_path, given)
    catalog.write(params, "facts", {"first_date": "2011-01-03 10:00:00", "last_date": "2011-03-07 16:20:00"})
    assert catalog.analysis_date(params) == pd.Timestamp(expected)


def test_analysis_date_before_the_data_or_without_facts_is_refused(tmp_path):
    params = _params(tmp_path, "2011-01-03")
    with pytest.raises(UserError, match=r"facts\.json: facts not found; fix: run notebook 01_clean"):
        catalog.analysis_date(params)
    catalog.write(params, "facts", {"first_date": "2011-01-03 10:00:00", "last_date": "2011-03-07 16:20:00"})
    with pytest.raises(UserError, match=r"not after the first transaction.* runs from 2011-01-03 to 2011-03-07"):
        catalog.analysis_date(params)
    with pytest.raises(UserError, match="'soon' is not a date"):
        catalog.analysis_date({**params, "rfm": {"analysis_date": "soon"}})
    assert json.loads(catalog.path(params, "facts").read_text())["first_date"].startswith("2011-01-03")


def test_every_step_output_is_a_catalog_dataset_written_by_that_step():
    variants = {f"{entry.customer_level}.ipynb" for entry in STEPS if entry.customer_level}
    files = sorted((HELPERS.parents[1] / "notebooks").glob("*.ipynb"))
    assert NOTEBOOKS == tuple(p.stem for p in files if p.name not in variants)
    assert variants <= {p.name for p in files}
    for entry in STEPS:
        for name in entry.outputs:
            assert catalog.dataset(name).writer == entry.name, (entry.name, name)
    written = {name for entry in STEPS for name in entry.outputs}
    assert written == set(catalog.DATASETS)
    with pytest.raises(KeyError, match="steps: 01_clean"):
        step("06_nothing")


def test_engine_connections_take_explicit_settings(tmp_path):
    con = connect(EngineSettings(memory_limit="1GB", temp_dir=str(tmp_path / "work"), threads=1))
    settings = dict(con.execute("SELECT name, value FROM duckdb_settings() WHERE name IN "
                                "('memory_limit', 'threads', 'preserve_insertion_order')").fetchall())
    assert settings == {"memory_limit": "953.6 MiB", "threads": "1", "preserve_insertion_order": "true"}
    assert any((tmp_path / "work").iterdir())  # the work folder lives under temp_dir
    with pytest.raises(UserError, match="run.memory_limit"):
        connect(EngineSettings(memory_limit="lots"))
    name = 'we"ird col'
    assert con.execute(f"SELECT 1 AS {quote_identifier(name)}, {quote_literal(chr(39))} AS q").df().columns[0] == name


def _module_imports(path: Path) -> set[str]:
    """helpers.* modules imported at module level (imports inside functions are lazy, not edges)."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("helpers"):
            names.add(node.module if node.module != "helpers" else f"helpers.{node.names[0].name}")
            names.update(f"helpers.{a.name}" for a in node.names if node.module == "helpers")
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("helpers."))
    return names


def test_helpers_have_no_import_cycle_and_steps_never_import_the_runner():
    graph = {f"helpers.{p.stem}": _module_imports(p) for p in HELPERS.glob("*.py") if p.stem != "__init__"}
    state: dict[str, str] = {}

    def visit(module: str, trail: tuple[str, ...]) -> None:
        if state.get(module) == "done":
            return
        assert state.get(module) != "open", "import cycle: " + " -> ".join((*trail, module))
        state[module] = "open"
        for target in graph.get(module, ()):
            visit(target, (*trail, module))
        state[module] = "done"

    for module in graph:
        visit(module, ())
    importers = [m for m, targets in graph.items() if "helpers.runner" in targets]
    assert importers == [], f"step modules import the orchestrator: {importers}"
    notebooks = HELPERS.parents[1] / "notebooks"
    for notebook in notebooks.glob("*.ipynb"):
        assert "helpers.runner" not in notebook.read_text(), f"{notebook.name} imports the runner"
