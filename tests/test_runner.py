"""The runner end to end on tiny fixtures (executes real kernels: a few seconds each)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import write_params
from helpers.errors import UserError
from helpers.runner import StepFailed, file_sha256, remove_stale_partials, run_report

pytestmark = pytest.mark.slow


def fixture_params(tmp_path, csv_path, workdirs, **extra):
    tree = {"input": {"path": str(csv_path)}, "paths": workdirs, **extra}
    return write_params(tmp_path / "params.yaml", tree)


def run_cli(params_file, *args):
    return subprocess.run(
        [sys.executable, "-m", "helpers.runner", "--params", str(params_file), *args],
        capture_output=True, text=True, timeout=300,
    )


def test_run_publishes_latest_with_manifest_and_html(tmp_path, cleaning_csv, workdirs):
    params_file = fixture_params(tmp_path, cleaning_csv, workdirs)
    run_dir = run_report(str(params_file), notebooks=("01_clean",))
    latest = Path(workdirs["reports_dir"]) / "latest"
    assert latest.is_symlink() and latest.resolve() == run_dir.resolve()
    page = (latest / "01_clean.html").read_text()
    assert "missing_customer_id" in page and "<script" not in page
    assert "Traceback" not in page
    manifest = json.loads((latest / "manifest.json").read_text())
    assert manifest["input"]["sha256"] == file_sha256(cleaning_csv)
    assert manifest["row_counts"]["01_clean"] == {"raw_rows": 10, "removed_rows": 6, "kept_rows": 4,
                                                  "rows": 4, "customers": 2}
    assert manifest["steps"][0]["notebook"] == "01_clean" and manifest["steps"][0]["seconds"] > 0
    # The kernel's own peak memory: more than an idle Python (~10 MiB), far less than the machine.
    assert 50 < manifest["steps"][0]["peak_memory_mib"] < 4096
    assert manifest["packages"]["duckdb"] != "missing"
    assert manifest["params"]["paths"]["interim_dir"] == workdirs["interim_dir"]
    assert (Path(workdirs["interim_dir"]) / "transactions.parquet").is_file()
    index = (latest / "index.html").read_text()
    assert 'href="01_clean.html"' in index
    assert not list(Path(workdirs["reports_dir"]).glob("*.partial"))


def test_failing_notebook_keeps_latest_and_prints_one_line(tmp_path, cleaning_csv, workdirs):
    good = fixture_params(tmp_path, cleaning_csv, workdirs)
    first = run_report(str(good), notebooks=("01_clean",))
    # Readable and well mapped (the preflight passes), but only cancellations: 01_clean stops.
    only_cancellations = tmp_path / "cancellations.csv"
    only_cancellations.write_text(
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "C1,P1,Mug,-1,2011-01-01 10:00:00,2.0,1,France\nC2,P1,Mug,-2,2011-01-02 10:00:00,2.0,2,France\n")
    bad = write_params(tmp_path / "bad.yaml", {"input": {"path": str(only_cancellations)}, "paths": workdirs})
    result = run_cli(bad, "--only", "01_clean")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: 01_clean.ipynb failed in cell")
    assert "every one of the 2 kept lines is a cancellation or return" in lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    reports = Path(workdirs["reports_dir"])
    assert (reports / "latest").resolve() == first.resolve()
    failed = list(reports.glob("*.failed"))
    assert len(failed) == 1 and (failed[0] / "01_clean.ipynb").is_file()


@pytest.mark.parametrize(
    ("tree", "expected"),
    [
        ({"cleaning": {"drop_exact_duplicate": False}}, "unknown key 'cleaning.drop_exact_duplicate'"),
        ({"eda": {"top_n": "many"}}, "key 'eda.top_n' must be an integer"),
        ({"input": {"path": "missing.csv"}}, "input file not found"),
    ],
)
def test_bad_params_stop_before_running(tmp_path, workdirs, tree, expected):
    tree = {**tree, "paths": workdirs}
    result = run_cli(write_params(tmp_path / "p.yaml", tree))
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and expected in result.stderr
    assert "Traceback" not in result.stderr
    assert not Path(workdirs["reports_dir"]).exists()


def test_unreadable_input_file(tmp_path, workdirs):
    broken = tmp_path / "orders.parquet"
    broken.write_bytes(b"\x00garbage")
    result = run_cli(fixture_params(tmp_path, broken, workdirs), "--only", "01_clean")
    assert result.returncode == 1
    assert "orders.parquet: cannot read as Parquet" in result.stderr
    assert not (Path(workdirs["reports_dir"]) / "latest").exists()


def test_unwritable_reports_dir(tmp_path, cleaning_csv, workdirs):
    blocker = tmp_path / "file"
    blocker.write_text("")
    params_file = fixture_params(tmp_path, cleaning_csv, {**workdirs, "reports_dir": str(blocker / "reports")})
    with pytest.raises(UserError, match="cannot write reports here.*paths.reports_dir"):
        run_report(str(params_file), notebooks=("01_clean",))


def test_stale_partial_folders_are_removed_live_ones_kept(tmp_path):
    dead = tmp_path / "20200101-000000.partial"
    live = tmp_path / "20200101-000001.partial"
    for folder, pid in ((dead, 2**22 + 12345), (live, os.getpid())):
        folder.mkdir()
        (folder / ".pid").write_text(str(pid))
    assert remove_stale_partials(tmp_path) == [dead.name]
    assert live.exists() and not dead.exists()


def test_killed_run_leaves_latest_and_no_partial_folder(tmp_path, cleaning_csv, workdirs):
    import signal
    import time

    params_file = fixture_params(tmp_path, cleaning_csv, workdirs)
    first = run_report(str(params_file), notebooks=("01_clean",))
    reports = Path(workdirs["reports_dir"])
    proc = subprocess.Popen(
        [sys.executable, "-m", "helpers.runner", "--params", str(params_file)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 60
    while not list(reports.glob("*.partial")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # inside the first notebook
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert (reports / "latest").resolve() == first.resolve()
    assert not list(reports.glob("*.partial")) and not list(reports.glob(".latest-*"))


def test_failed_run_leaves_data_folders_untouched(tmp_path, cleaning_csv, workdirs):
    params_file = fixture_params(tmp_path, cleaning_csv, workdirs)
    run_report(str(params_file), notebooks=("01_clean",))
    cleaned = Path(workdirs["interim_dir"]) / "transactions.parquet"
    before = file_sha256(cleaned)
    changed = write_params(tmp_path / "changed.yaml", {
        "input": {"path": str(cleaning_csv)}, "paths": workdirs,
        "cleaning": {"drop_exact_duplicates": False},  # would change transactions.parquet
        "clustering": {"k": 5},  # 2 customers: 04_clustering fails after 03_rfm wrote rfm.parquet
    })
    with pytest.raises(StepFailed, match=r"04_clustering\.ipynb failed"):
        run_report(str(changed), notebooks=("01_clean", "03_rfm", "04_clustering"))
    assert file_sha256(cleaned) == before
    assert not (Path(workdirs["processed_dir"]) / "rfm.parquet").exists()
    manifest = json.loads((Path(workdirs["reports_dir"]) / "latest" / "manifest.json").read_text())
    assert sorted(manifest["outputs"]) == sorted(
        [str(cleaned), str(cleaned.with_name("cleaning_log.csv")), str(cleaned.with_name("facts.json"))])


def test_literal_salt_is_redacted_from_run_files_but_used_by_the_notebooks(tmp_path, monkeypatch):
    from helpers.config import load_params
    from helpers.runner import _public_params, _write_params

    override = write_params(tmp_path / "p.yaml", {"privacy": {"pseudonymize_ids": True, "salt": "s3cret"}})
    params = load_params(override)
    assert _public_params(params)["privacy"]["salt"] == "<redacted>"
    _write_params(tmp_path / "public.yaml", params, {})
    _write_params(tmp_path / "staged.yaml", params, {}, redact=False)
    assert "s3cret" not in (tmp_path / "public.yaml").read_text()
    assert "s3cret" in (tmp_path / "staged.yaml").read_text()
    monkeypatch.setenv("SALT", "pepper")
    env_salt = load_params(write_params(tmp_path / "q.yaml", {"privacy": {"pseudonymize_ids": True, "salt": "env:SALT"}}))
    assert _public_params(env_salt)["privacy"]["salt"] == "env:SALT"


def test_kernels_get_the_engine_settings_from_the_staged_params(tmp_path):
    from helpers.config import load_params
    from helpers.engine import EngineSettings
    from helpers.runner import _write_params

    params = load_params(write_params(tmp_path / "p.yaml", {"run": {"memory_limit": "1GB", "threads": 1}}))
    _write_params(tmp_path / "staged.yaml", params, {}, redact=False)  # what the kernels load
    assert EngineSettings.from_params(load_params(tmp_path / "staged.yaml")) == EngineSettings("1GB", None, 1)


# --------------------------------------------------------------------------------------
# Issue 12: all-or-nothing publish, distinct folders, locks, interrupts in every step
# --------------------------------------------------------------------------------------


def _digests(*folders):
    """sha256 of every data file (hidden bookkeeping files left out) under `folders`."""
    return {str(p): file_sha256(p) for folder in folders for p in sorted(Path(folder).rglob("*"))
            if p.is_file() and not p.name.startswith(".")}


def test_failed_promotion_rolls_back_every_output(tmp_path, cleaning_csv, workdirs, monkeypatch):
    import helpers.publish as publish

    params_file = fixture_params(tmp_path, cleaning_csv, workdirs)
    first = run_report(str(params_file), notebooks=("01_clean", "03_rfm"))
    before = _digests(workdirs["interim_dir"], workdirs["processed_dir"])
    assert any(p.endswith("rfm.parquet") for p in before)
    changed = fixture_params(tmp_path, cleaning_csv, workdirs, cleaning={"drop_exact_duplicates": False})
    real_move = publish._move

    def failing_move(source, dest):  # the processed folder refuses writes, as a read-only disk would
        if Path(dest).parent == Path(workdirs["processed_dir"]):
            raise PermissionError(13, "Permission denied", str(dest))
        real_move(source, dest)

    monkeypatch.setattr(publish, "_move", failing_move)
    # 03_rfm publishes clv.parquet and rfm.parquet: the first one refused is named
    with pytest.raises(UserError, match=r"(clv|rfm)\.parquet: cannot publish the run \(Permission denied\); no output was changed"):
        run_report(str(changed), notebooks=("01_clean", "03_rfm"))
    reports = Path(workdirs["reports_dir"])
    assert _digests(workdirs["interim_dir"], workdirs["processed_dir"]) == before
    assert (reports / "latest").resolve() == first.resolve()
    assert not list(reports.glob("*.partial")) and len(list(reports.glob("*.failed"))) == 1
    for key in ("interim_dir", "processed_dir"):
        assert not list(Path(workdirs[key]).glob(".ecomseg-backup-*"))


def test_interrupted_promotion_is_rolled_back_by_the_next_run(tmp_path, cleaning_csv, workdirs):
    from helpers.publish import Promotion, recover

    target = Path(workdirs["processed_dir"])
    target.mkdir(parents=True)
    (target / "rfm.parquet").write_text("old")
    staged = tmp_path / "staged"
    staged.mkdir()
    (staged / "rfm.parquet").write_text("new")
    (staged / "clusters.parquet").write_text("new")
    promotion = Promotion("run-1", {"processed_dir": staged}, {"processed_dir": target})
    promotion.apply()  # then the process "dies": no commit, no rollback
    assert (target / "rfm.parquet").read_text() == "new"
    reports = tmp_path / "reports"
    reports.mkdir()
    assert recover({"processed_dir": target}, reports) == [
        f"rolled back the unfinished publication of run run-1 in {target}"]
    assert (target / "rfm.parquet").read_text() == "old" and not (target / "clusters.parquet").exists()
    assert not list(target.glob(".ecomseg-backup-*"))
    # A publication whose run `latest` points at was committed: only the backups go.
    (staged / "rfm.parquet").write_text("new")
    Promotion("run-2", {"processed_dir": staged}, {"processed_dir": target}).apply()
    os.symlink("run-2", reports / "latest")
    assert recover({"processed_dir": target}, reports) == []
    assert (target / "rfm.parquet").read_text() == "new" and not list(target.glob(".ecomseg-backup-*"))


def test_data_folders_with_the_same_last_name_stay_apart(tmp_path, cleaning_csv, workdirs):
    paths = {**workdirs, "interim_dir": str(tmp_path / "a" / "data"), "processed_dir": str(tmp_path / "b" / "data")}
    params_file = fixture_params(tmp_path, cleaning_csv, paths)
    run_report(str(params_file), notebooks=("01_clean", "03_rfm"))
    assert sorted(p.name for p in (tmp_path / "a" / "data").iterdir() if not p.name.startswith(".")) == [
        "cleaning_log.csv", "facts.json", "transactions.parquet"]
    assert sorted(p.name for p in (tmp_path / "b" / "data").iterdir() if not p.name.startswith(".")) == ["clv.parquet", "rfm.parquet"]


def test_a_second_run_on_the_same_folders_refuses_with_one_line(tmp_path, cleaning_csv, workdirs):
    from helpers.publish import OutputLock

    params_file = fixture_params(tmp_path, cleaning_csv, workdirs)
    with OutputLock({"paths.processed_dir": Path(workdirs["processed_dir"])}):  # a run in progress
        result = run_cli(params_file, "--only", "01_clean")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "another report run is using this folder (paths.processed_dir)" in lines[0]
    assert not (Path(workdirs["reports_dir"]) / "latest").exists()
    assert run_cli(params_file, "--only", "01_clean").returncode == 0  # released with the holder


@pytest.fixture(scope="module")
def prepared_project(tmp_path_factory):
    """A generated shop with every step's outputs in place, so any step can run alone."""
    from test_pipeline import generated_export

    root = tmp_path_factory.mktemp("interrupts")
    generated_export(root / "export.csv", customers=400)
    paths = {"interim_dir": str(root / "interim"), "processed_dir": str(root / "processed"),
             "reports_dir": str(root / "reports")}
    tree = {"input": {"path": str(root / "export.csv")}, "paths": paths, "clustering": {"k_max": 5}}
    first = run_report(str(write_params(root / "setup.yaml", tree)))
    # Many bootstrap refits keep 04_clustering busy in scikit-learn's native code for a minute.
    tree["clustering"]["bootstrap_resamples"] = 400
    return write_params(root / "params.yaml", tree), paths, first


def _running_cell_source(partial_notebook: Path) -> str | None:
    try:
        cells = json.loads(partial_notebook.read_text())["cells"]
    except (OSError, ValueError, KeyError):
        return None
    running = [c for c in cells if c.get("metadata", {}).get("papermill", {}).get("status") == "running"]
    return "".join(running[0]["source"]) if running else None


@pytest.mark.parametrize(
    ("step", "marker", "how"),
    [
        # Small steps: the setup cell (imports, a second or two); 04: the K scan and bootstrap.
        ("01_clean", "load_params", "ctrl-c"),
        ("02_eda", "load_params", "sigterm"),
        ("03_rfm", "load_params", "ctrl-c"),
        ("04_clustering", "run_clustering", "sigterm"),
        ("04_clustering", "run_clustering", "ctrl-c"),
        ("05_personas", "load_params", "sigterm"),
    ],
)
def test_interrupt_during_any_step_publishes_nothing(prepared_project, step, marker, how):
    """Ctrl-C (SIGINT to the whole process group, kernel included) or SIGTERM to the runner."""
    import signal
    import time

    import psutil

    params_file, paths, first = prepared_project
    reports = Path(paths["reports_dir"])
    before = _digests(paths["interim_dir"], paths["processed_dir"])
    proc = subprocess.Popen(
        [sys.executable, "-m", "helpers.runner", "--params", str(params_file), "--only", step],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    deadline, source = time.monotonic() + 120, None
    while time.monotonic() < deadline and proc.poll() is None:
        partial = list(reports.glob("*.partial"))
        source = _running_cell_source(partial[0] / f"{step}.ipynb") if partial else None
        if source and marker in source:
            break
        time.sleep(0.02)
    assert source and marker in source, f"{step} never reached the cell with {marker}"
    time.sleep(0.2)  # inside the cell's work
    kernels = psutil.Process(proc.pid).children(recursive=True)
    if how == "ctrl-c":
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == (130 if how == "ctrl-c" else 143), stderr
    assert stderr.strip().startswith("interrupted: nothing was published") and "Traceback" not in stderr
    assert (reports / "latest").resolve() == first.resolve()
    assert not list(reports.glob("*.partial")) and not list(reports.glob("*.failed"))
    assert _digests(paths["interim_dir"], paths["processed_dir"]) == before
    gone, alive = psutil.wait_procs(kernels, timeout=15)
    assert not alive, f"kernel processes left running: {alive}"


def test_kernels_get_a_passive_openmp_wait_policy_and_a_thread_budget_unless_the_user_set_them(monkeypatch, tmp_path):
    from helpers.schedule import KernelPool, kernel_plan

    params = {"input": {"level": "transactions"}, "run": {"kernel": "none", "threads": 2},
              "clustering": {"features": ["recency_days", "gender"]}}
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    plan = kernel_plan(params, ["01_clean"], tmp_path, tmp_path)
    assert plan.environment["OMP_WAIT_POLICY"] == "PASSIVE" and plan.threads == 2
    made = []
    KernelPool(plan, lambda *args: made.append(args) or None).start("01_clean")
    assert made[0][4]["OMP_NUM_THREADS"] == "2" and Path(made[0][3].name).name == "01_clean.stderr.log"
    made[0][3].close()
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    plan = kernel_plan(params, ["01_clean"], tmp_path, tmp_path)
    assert plan.environment["OMP_WAIT_POLICY"] == "ACTIVE"
    KernelPool(plan, lambda *args: made.append(args) or None).start("01_clean")
    assert made[1][4]["OMP_NUM_THREADS"] == "1"
    made[1][3].close()


def test_02_and_03_run_side_by_side_with_a_live_status_line_and_a_summary(prepared_project):
    """Issue 16: 02 and 03 start together (when the machine has room; the schedule's tests cover
    the load rule); the status line names the cell; warm kernels number cells from 1."""
    params_file, paths, first = prepared_project
    result = run_cli(params_file, "--only", "02_eda,03_rfm", "--progress", "live")
    assert result.returncode == 0, result.stderr
    lines = [line.split("\r\x1b[K")[-1] for line in result.stdout.split("\n")]
    events = [line for line in lines if line.startswith("[")]
    assert [e.split(":")[1].strip()[:4] for e in events].count("runn") == 2, events
    assert all("(previous run: " in e for e in events if "running" in e)
    assert "cell " in result.stdout and "s left" in result.stdout
    assert lines[-2].startswith("report ready in ") and lines[-2].endswith("index.html")
    latest = Path(paths["reports_dir"]) / "latest"
    for name in ("02_eda", "03_rfm"):
        cells = [c for c in json.loads((latest / f"{name}.ipynb").read_text())["cells"] if c["cell_type"] == "code"]
        assert [c["execution_count"] for c in cells] == list(range(1, len(cells) + 1))
        injected = next(c for c in cells if "injected-parameters" in c["metadata"].get("tags", []))
        assert f".staged-params-{name}.yaml" in "".join(injected["source"])  # its share of threads and memory
    assert not list(latest.resolve().glob(".staged-params*"))


def test_a_kernel_that_is_not_installed_stops_the_run_before_anything_is_written(tmp_path, cleaning_csv, workdirs):
    params_file = fixture_params(tmp_path, cleaning_csv, workdirs, run={"kernel": "no-such-kernel"})
    result = run_cli(params_file)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip() == ("error: run.kernel: Jupyter kernel 'no-such-kernel' not found; fix: run `make setup` "
                                     "(or set run.kernel to an installed kernel)")
    assert not Path(workdirs["reports_dir"]).exists()


def test_the_manifest_lists_the_spark_packages_only_for_a_spark_run(tmp_path):
    from helpers.runner import _start_manifest

    export = tmp_path / "export.csv"
    export.write_text("a\n1\n", encoding="utf-8")
    params = {"input": {"path": str(export)}, "_sources": []}
    assert "pyspark" not in _start_manifest("r", params)["packages"]
    spark = _start_manifest("r", {**params, "engine": {"kind": "spark"}})["packages"]
    assert {"pyspark", "sqlglot", "duckdb"} <= set(spark)
