"""Run the numbered notebooks with papermill and render them to HTML.

Usage::

    python -m helpers.runner --params params.yaml

Each run writes into ``reports/<run id>.partial/``: the executed notebooks, their HTML
(code hidden, images embedded), ``manifest.json``, ``index.html`` and, under ``data/``, the
data files the steps made. Only when every step succeeded are the data files swapped into
``paths.interim_dir`` / ``paths.processed_dir``, the folder renamed to ``reports/<run id>/``
and ``reports/latest`` switched to it, all or nothing (`helpers.publish`): a failed, killed
or interrupted run changes no output. A failed run is kept as ``reports/<run id>.failed/``
for inspection; an interrupted one is removed (exit status 130 for Ctrl-C, 143 for
SIGTERM), and leftovers of killed runs are cleaned up by the next run. One run at a time
may use the same output folders (a lock); a second one stops with one line.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime as dt
import importlib.metadata
import json
import logging
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from helpers import database, database_output
from helpers.config import PROJECT_ROOT, load_params
from helpers.engine import EngineSettings
from helpers.errors import UserError
from helpers.kernels import WarmKernel, register_engine
from helpers.metrics import PEAK_MEMORY_KEY, metrics_file
from helpers.preflight import check_inputs
from helpers.progress import LIVE_MODES, Progress, previous_timings, summary_line
from helpers.publish import Interrupts, OutputLock, Promotion, file_sha256, recover, rewrite_paths
from helpers.run_history import write_history
from helpers.schedule import KernelPool, kernels_ahead, run_schedule, small_enough
from helpers.steps import NOTEBOOKS, notebook_file, step_title
from helpers.summary import write_index

# jsonschema (under nbformat, which papermill and nbconvert import here) imports rfc3987_syntax
# when it is installed (jupyterlab brings it), building a Lark grammar for IRI formats: 0.9 s of
# CPU on a quiet machine, 1.7 s beside the first kernel. Notebook schemas have no IRI field.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

NOTEBOOK_DIR = PROJECT_ROOT / "notebooks"
TEMPLATE_DIR = Path(__file__).parent / "templates"  # nbconvert template "report": lab without CDN scripts
PACKAGES = (
    "numpy", "pandas", "matplotlib", "scikit-learn", "duckdb", "pyarrow",
    "papermill", "nbconvert", "nbformat", "ipykernel", "PyYAML", "openpyxl", "scipy", "jinja2", "babel",
    "adbc-driver-manager", "adbc-driver-postgresql",
)
SPARK_PACKAGES = ("pyspark", "sqlglot")  # listed too when engine.kind is spark


class StepFailed(Exception):
    """A notebook raised; the message is one line naming the notebook and the error."""


def package_versions(names: Sequence[str] = PACKAGES) -> dict[str, str]:
    """Return installed versions of `names` (``"missing"`` when not installed)."""
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "missing"
    return versions


def _new_run_id(reports_dir: Path) -> str:
    base = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_id, n = base, 1
    while any((reports_dir / f"{run_id}{sfx}").exists() for sfx in ("", ".partial", ".failed")):
        n += 1
        run_id = f"{base}-{n}"
    return run_id


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_partials(reports_dir: Path) -> list[str]:
    """Delete ``*.partial`` run folders whose runner process no longer exists."""
    removed = []
    for folder in sorted(reports_dir.glob("*.partial")):
        pid_file = folder / ".pid"
        try:
            pid = int(pid_file.read_text())
        except (OSError, ValueError):
            pid = -1
        if pid <= 0 or not _pid_alive(pid):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
    return removed


def _point_latest(reports_dir: Path, run_id: str) -> None:
    tmp = reports_dir / f".latest-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(run_id, target_is_directory=True)
    latest = reports_dir / "latest"
    if latest.is_dir() and not latest.is_symlink():
        shutil.rmtree(latest)
    os.replace(tmp, latest)


def _cell_error(exc: Exception) -> str:
    ename = getattr(exc, "ename", type(exc).__name__)
    evalue = " ".join(str(getattr(exc, "evalue", exc)).split())
    count = getattr(exc, "exec_count", None)
    where = f" in cell [{count}]" if count else ""
    return f"{where}: {ename}: {evalue}" if evalue else f"{where}: {ename}"


@contextlib.contextmanager
def _stderr_to(path: Path):
    """Send this process's and child kernels' stderr (fd 2) to `path` for the block.

    The kernel and papermill write warnings there; the terminal keeps only the runner's
    progress and, on failure, one error line.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "ab") as handle:
        os.dup2(handle.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def execute_step(
    name: str, run_dir: Path, params_file: str, kernel: str, notebook_dir: Path, level: str,
    warm: WarmKernel, on_cell: Callable[[int, int, str], None] | None = None,
) -> Path:
    """Execute step `name` (its notebook for input `level`) with papermill into `run_dir`; raise StepFailed on error.

    The notebook runs in `warm`, a kernel started for it ahead (`helpers.kernels`; its working
    folder is set there, so papermill changes no folder beside other steps).
    `on_cell(number, count, section)` hears of each code cell as it starts.
    """
    import papermill

    source = notebook_dir / notebook_file(name, level)
    target = run_dir / f"{name}.ipynb"
    try:
        papermill.execute_notebook(
            str(source),
            str(target),
            parameters={"params_file": params_file, "run_dir": str(run_dir)},
            kernel_name=kernel,
            progress_bar=False,
            log_output=False,
            engine_name=register_engine(),
            on_cell=on_cell,
            km=warm.manager,
        )
    except Exception as exc:  # papermill raises PapermillExecutionError for cell errors
        raise StepFailed(f"{name}.ipynb failed{_cell_error(exc)} (executed notebook kept in {target})") from None
    return target


def render_html(executed: Path, title: str) -> Path:
    """Render an executed notebook to a self-contained HTML page next to it (`helpers.pages`).

    Code, prompts and stderr are hidden; charts carry alt text and keep legible labels;
    the page reads at phone and laptop widths.
    """
    from helpers.pages import render_page

    out = executed.with_suffix(".html")
    out.write_text(render_page(executed, title, TEMPLATE_DIR), encoding="utf-8")
    return out


STAGED_KEYS = ("interim_dir", "processed_dir")
STAGED_PARAMS = ".staged-params.yaml"  # params with paths into the run folder, for the kernels


def _step_params(partial: Path, name: str, run_settings: Mapping[str, Any]) -> Path:
    """The staged params of step `name`: the run's, with its share of threads and memory (`run_settings`)."""
    import yaml

    staged = partial / STAGED_PARAMS
    tree = yaml.safe_load(staged.read_text(encoding="utf-8"))
    tree["run"].update(run_settings)
    path = partial / f".staged-params-{name}.yaml"
    path.write_text(yaml.safe_dump(tree, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def _remove_staged_params(partial: Path) -> None:
    """Delete the kernels' params files (they hold unredacted values) from the run folder."""
    for path in partial.glob(".staged-params*.yaml"):
        path.unlink(missing_ok=True)


def _write_params(
    path: Path, params: Mapping[str, Any], path_overrides: Mapping[str, str], redact: bool = True
) -> None:
    """Write the merged params as one YAML file, with some `paths` entries replaced."""
    import yaml

    tree = _public_params(params) if redact else copy.deepcopy({k: v for k, v in params.items() if k[0] != "_"})
    tree["paths"].update(path_overrides)
    path.write_text(
        "# Params of this run (params.yaml merged with the run's file); reusable with PARAMS=\n"
        + yaml.safe_dump(tree, sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )


def _log(message: str) -> None:
    print(message, flush=True)


def _public_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Params without internal keys, with a literal privacy salt and database passwords redacted.

    The salt must not sit next to the hashed ids it protects; "env:NAME" salts name only
    the variable and are kept, so the file stays reusable.
    """
    public = copy.deepcopy({k: v for k, v in params.items() if not k.startswith("_")})
    salt = str(public.get("privacy", {}).get("salt", ""))
    if salt and not salt.startswith("env:"):
        public["privacy"]["salt"] = "<redacted>"
    return database.redact_params(public)  # database URLs: the password, as the salt


def _check_reports_dir(reports_dir: Path) -> None:
    try:
        reports_dir.mkdir(parents=True, exist_ok=True)
        probe = reports_dir / f".write-test-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UserError(
            f"{reports_dir}: cannot write reports here ({exc.strerror}); fix: set paths.reports_dir to a writable folder"
        ) from None


def _prepare_run(params: Mapping[str, Any], reports_dir: Path, notebooks: Sequence[str]) -> tuple[str, Path, dict[str, Path]]:
    """Make the run's ``.partial`` folder with its params files; return run id, folder, staging folders."""
    run_id = _new_run_id(reports_dir)
    partial = reports_dir / f"{run_id}.partial"
    partial.mkdir()
    (partial / ".pid").write_text(str(os.getpid()))
    # Notebooks write their data into the run folder (one folder per key, so two paths that
    # end in the same name stay apart); it replaces data/interim and data/processed only
    # when every step succeeded (see `helpers.publish`).
    staged_dirs = {key: partial / "data" / key for key in STAGED_KEYS}
    _write_params(partial / STAGED_PARAMS, params, {k: str(v) for k, v in staged_dirs.items()}, redact=False)
    _write_params(partial / "params.yaml", params, {})
    if tuple(notebooks) != tuple(NOTEBOOKS[: len(notebooks)]):
        # A later step run alone reads what earlier runs left in data/: start from a copy.
        for key, folder in staged_dirs.items():
            source = Path(params["paths"][key])
            if source.is_dir():
                shutil.copytree(source, folder, ignore=shutil.ignore_patterns(".*"))
    return run_id, partial, staged_dirs


def _run_steps(
    params: Mapping[str, Any], partial: Path, notebooks: Sequence[str], notebook_dir: Path, manifest: dict[str, Any],
    progress: Progress, pool: KernelPool,
) -> None:
    """Execute and render each notebook into `partial` (`helpers.schedule`), recording timings in `manifest`.

    `pool` holds the kernels, some already started (`helpers.schedule.kernels_ahead`); their
    logs are moved from its temporary folder into the run's ``logs/``.
    """
    if not notebooks:
        return
    level = params["input"].get("level", "transactions")
    log_dir = partial / "logs"
    log_dir.mkdir(exist_ok=True)
    renders: dict[str, float] = {}

    def execute(name: str, warm: WarmKernel, on_cell: Callable[[int, int, str], None]) -> Path:
        step_params = _step_params(partial, name, pool.step_settings(name, params["run"]["memory_limit"]))
        return execute_step(name, partial, str(step_params), params["run"]["kernel"], notebook_dir, level, warm, on_cell)

    def render(name: str, executed: Path) -> None:
        t0 = time.perf_counter()
        render_html(executed, f"{name} - {step_title(name, level)}")
        renders[name] = time.perf_counter() - t0

    try:
        with _stderr_to(log_dir / "runner.stderr.log"):
            seconds = run_schedule(pool, execute, render, progress, room=lambda: small_enough(partial))
    finally:
        for log in pool.plan.log_dir.glob("*.stderr.log"):
            shutil.move(log, log_dir / log.name)
    for name in notebooks:
        step_metrics = metrics_file(partial, name)
        peak = (json.loads(step_metrics.read_text(encoding="utf-8")).get(PEAK_MEMORY_KEY)
                if step_metrics.is_file() else None)
        manifest["steps"].append(
            {"notebook": name, "seconds": round(seconds[name] + renders[name], 2),
             "execute_seconds": round(seconds[name], 2), "render_seconds": round(renders[name], 2),
             "peak_memory_mib": peak}
        )


def _keep_failed(partial: Path, reports_dir: Path, run_id: str, keep_data: bool = True) -> Path:
    """Rename the run folder to ``<run id>.failed`` (kept for inspection) and return it.

    With ``keep_data=False`` (pseudonymised runs) the staged data files, which hold raw
    customer ids, are deleted first: no raw id may stay in a run folder.
    """
    failed = reports_dir / f"{run_id}.failed"
    (partial / ".pid").unlink(missing_ok=True)
    _remove_staged_params(partial)
    if not keep_data:
        shutil.rmtree(partial / "data", ignore_errors=True)
    partial.rename(failed)
    return failed


def _finish_manifest(manifest: dict[str, Any], partial: Path, started: float) -> None:
    manifest["metrics"] = {
        p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted((partial / "metrics").glob("*.json"))
    }
    manifest["row_counts"] = {
        step: {k: v for k, v in m.items() if k.endswith(("rows", "customers"))}
        for step, m in manifest["metrics"].items()
    }
    model = manifest["metrics"].get("04_clustering", {}).get("model")
    if model and Path(model).is_file():  # `helpers.cluster.load_model` checks it before unpickling
        manifest["model"] = {"path": model, "sha256": file_sha256(Path(model))}
    manifest["total_seconds"] = round(time.perf_counter() - started, 2)
    manifest["finished"] = dt.datetime.now().isoformat(timespec="seconds")


def _publish(
    run_id: str, partial: Path, staged_dirs: Mapping[str, Path], params: Mapping[str, Any],
    manifest: dict[str, Any], started: float,
) -> Path:
    """Swap the staged data in, write manifest and index, point ``latest`` at the run.

    All or nothing: on any failure the data folders are rolled back, ``latest`` is left
    as it was and the run folder is kept as ``<run id>.failed``. ``output.database``'s tables
    are written first, in a transaction committed just after the commit point (`_commit_tables`).
    """
    reports_dir = partial.parent
    targets = {k: Path(params["paths"][k]) for k in STAGED_KEYS}
    final = reports_dir / run_id
    promotion = Promotion(run_id, staged_dirs, targets)
    tables = None
    try:
        tables = _stage_tables(params, partial, manifest)
        manifest["outputs"] = promotion.apply()
        _remove_staged_params(partial)
        shutil.rmtree(partial / "data", ignore_errors=True)
        _finish_manifest(manifest, partial, started)
        # Paths recorded during the run point into the .partial folder, which is renamed below,
        # and data written there now lives in data/interim and data/processed.
        rewrite_paths(partial, {**{str(staged_dirs[k]): str(targets[k]) for k in STAGED_KEYS},
                                str(partial): str(final)})
        manifest_text = json.dumps(manifest, indent=2, default=str).replace(str(partial), str(final))
        (partial / "manifest.json").write_text(manifest_text, encoding="utf-8")
        write_index(partial, manifest)
        (partial / ".pid").unlink(missing_ok=True)
        partial.rename(final)
        try:
            _point_latest(reports_dir, run_id)  # the commit point
        except BaseException:
            final.rename(partial)
            raise
    except database_output.OutputWriteError as exc:  # raised before anything moved
        failed = _keep_failed(partial, reports_dir, run_id, keep_data=not params["privacy"]["pseudonymize_ids"])
        raise UserError(exc.message(f"nothing was published (the tables, reports/latest and the data folders are "
                                    f"as they were), the run is kept in {failed}")) from None
    except Exception as exc:
        database_output.discard(tables)
        promotion.rollback()
        failed = _keep_failed(partial, reports_dir, run_id, keep_data=not params["privacy"]["pseudonymize_ids"])
        where = getattr(exc, "filename", None) or reports_dir
        reason = getattr(exc, "strerror", None) or f"{type(exc).__name__}: {exc}"
        raise UserError(
            f"{where}: cannot publish the run ({reason}); no output was changed, the run is kept in "
            f"{failed}; fix: make paths.interim_dir, paths.processed_dir and paths.reports_dir writable, then rerun"
        ) from None
    except BaseException:
        database_output.discard(tables)
        promotion.rollback()
        raise
    promotion.commit()
    if tables is not None:
        _commit_tables(tables, final)
    return final


def _stage_tables(params: Mapping[str, Any], partial: Path,
                  manifest: dict[str, Any]) -> database_output.SegmentsWrite | None:
    """Write ``output.database``'s tables from the run folder, uncommitted; record their rows in `manifest`."""
    tables = database_output.stage_outputs(params, partial)
    if tables is not None:
        manifest["database_output"] = {"rows": tables.rows}
    return tables


def _commit_tables(tables: database_output.SegmentsWrite, final: Path) -> None:
    """Commit ``output.database``'s tables once the run is published; one line when the commit fails."""
    try:
        _log(tables.commit())
    except database_output.OutputWriteError as exc:
        raise UserError(exc.message(f"the report was published ({final}) but the database tables are unchanged")) from None


def _update_history(reports_dir: Path) -> None:
    """Rewrite ``<reports_dir>/index.html``, the list of runs (`helpers.run_history`).

    Called once the run is published (``latest`` switched): a failure here costs the
    history page one update, never the run, so it is one line on the terminal.
    """
    try:
        write_history(reports_dir)
    except Exception as exc:  # the run is already committed; the page is rebuilt by the next run
        _log(f"run history not updated ({type(exc).__name__}: {exc}); the run itself is published")


def _clean_leftovers(targets: Mapping[str, Path], reports_dir: Path) -> None:
    """Finish or undo a publication a killed run left half done; remove its run folder."""
    for line in recover(targets, reports_dir):
        _log(line)
    for name in remove_stale_partials(reports_dir):
        _log(f"removed leftover folder of an interrupted run: {name}")


def _start_manifest(run_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest's opening facts: params (salt redacted), input checksum (or database source), package versions."""
    input_path = Path(params["input"]["path"])
    source = (database.input_facts(params["input"]) if database.configured(params["input"]) else
              {"path": str(input_path), "bytes": input_path.stat().st_size, "sha256": file_sha256(input_path)})
    return {
        "run_id": run_id,
        "started": dt.datetime.now().isoformat(timespec="seconds"),
        "params_sources": params["_sources"],
        "params": _public_params(params),
        "input": source,
        "packages": package_versions(PACKAGES + (SPARK_PACKAGES if EngineSettings.from_params(params).kind == "spark" else ())),
        "steps": [],
    }


def run_report(
    params_file: str | None = None,
    notebooks: Sequence[str] = NOTEBOOKS,
    notebook_dir: Path = NOTEBOOK_DIR,
    interrupts: Interrupts | None = None,
    progress_mode: str = "auto",
) -> Path:
    """Execute `notebooks` in order, render them and publish the run as ``reports/latest``.

    Parameters
    ----------
    params_file : str, optional
        YAML merged over params.yaml.
    notebooks : sequence of str
        Notebook names, in order (default: all, see `helpers.config.NOTEBOOKS`).
    notebook_dir : Path
        Folder holding the notebooks.
    interrupts : helpers.publish.Interrupts, optional
        The command line's signal handling (`main`); signals wait while publishing.
    progress_mode : {"auto", "live", "plain"}
        Terminal output (`helpers.progress.Progress`): a live status line on a terminal.

    Returns
    -------
    Path
        The finished run folder.

    Raises
    ------
    UserError
        Invalid params or an unreadable input (before anything is written, `helpers.preflight`),
        another run using the same folders, or outputs not published (nothing changed).
    StepFailed
        A notebook raised; the run folder is kept as ``<run id>.failed``.
    """
    interrupts = interrupts or Interrupts()
    started = time.perf_counter()
    params = load_params(params_file)
    with kernels_ahead(params, notebooks, notebook_dir) as pool:  # kernels start up while the inputs are checked
        final, line = _checked_run(params, notebooks, notebook_dir, interrupts, progress_mode, pool, started)
    _log(line)
    return final


def _checked_run(params: Mapping[str, Any], notebooks: Sequence[str], notebook_dir: Path, interrupts: Interrupts,
                 progress_mode: str, pool: KernelPool, t0: float) -> tuple[Path, str]:
    """`run_report` once the params are loaded: check the inputs, run the steps, publish.

    Returns the run folder and the summary line (`helpers.progress.summary_line`), printed once
    the kernels have exited.
    """
    check_inputs(params, notebooks)  # every input opened and checked before any step runs or anything is written
    reports_dir = Path(params["paths"]["reports_dir"])
    _check_reports_dir(reports_dir)
    targets = {k: Path(params["paths"][k]) for k in STAGED_KEYS}
    with OutputLock({"paths.reports_dir": reports_dir, **{f"paths.{k}": v for k, v in targets.items()}}):
        _clean_leftovers(targets, reports_dir)
        run_id, partial, staged_dirs = _prepare_run(params, reports_dir, notebooks)
        manifest = _start_manifest(run_id, params)
        started = time.perf_counter()
        level = params["input"].get("level", "transactions")
        progress = Progress(notebooks, previous_timings(reports_dir / "latest", notebooks, level), mode=progress_mode)
        _log(f"report {run_id}: {len(notebooks)} notebooks, input {database.source_of(params['input'])[0].name}")
        try:
            _run_steps(params, partial, notebooks, notebook_dir, manifest, progress, pool)
        except StepFailed as exc:
            if interrupts.received is not None:  # the kernel got the same Ctrl-C
                shutil.rmtree(partial, ignore_errors=True)
                raise KeyboardInterrupt from None
            failed = _keep_failed(partial, reports_dir, run_id, keep_data=not params["privacy"]["pseudonymize_ids"])
            raise StepFailed(str(exc).replace(str(partial), str(failed))) from None
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        with interrupts.deferred():
            final = _publish(run_id, partial, staged_dirs, params, manifest, started)
        _update_history(reports_dir)
    return final, summary_line(manifest, reports_dir / "latest" / "index.html", time.perf_counter() - t0)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m helpers.runner", description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml", help="YAML merged over params.yaml")
    parser.add_argument("--only", default="", help="comma-separated notebook names to run (default: all)")
    parser.add_argument("--progress", choices=LIVE_MODES, default="auto",
                        help="live: a status line rewritten as cells run; plain: a line per step (auto: live on a terminal)")
    args = parser.parse_args(argv)
    notebooks = [n.strip() for n in args.only.split(",") if n.strip()] or list(NOTEBOOKS)
    unknown = [n for n in notebooks if n not in NOTEBOOKS]
    # A kernel stopped by an interrupt leaves nbclient's asyncio tasks failing with
    # DeadKernelError; asyncio would print their tracebacks on the terminal after the
    # runner's one line. The runner reports the outcome itself.
    logging.getLogger("asyncio").addHandler(logging.NullHandler())
    logging.getLogger("asyncio").propagate = False
    with Interrupts() as interrupts:
        return _main(args.params, notebooks, unknown, interrupts, args.progress)


def _main(params_file: str, notebooks: Sequence[str], unknown: Sequence[str], interrupts: Interrupts,
          progress_mode: str = "auto") -> int:
    try:
        if unknown:
            raise UserError(f"--only: unknown notebook '{unknown[0]}'; fix: use one of {', '.join(NOTEBOOKS)}")
        run_report(params_file, notebooks, interrupts=interrupts, progress_mode=progress_mode)
        if interrupts.received is not None:
            _log("an interrupt arrived while publishing; the run was completed first")
    except (UserError, StepFailed) as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    except Exception as exc:  # a bug: one line on the terminal, the traceback in a log file
        import tempfile
        import traceback

        log = Path(tempfile.gettempdir()) / "ecomseg-runner-error.log"
        log.write_text(traceback.format_exc(), encoding="utf-8")
        print(f"error: unexpected {type(exc).__name__}: {exc} (traceback in {log}; please report it)",
              file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("interrupted: nothing was published (reports/latest and the data folders are unchanged)",
              file=sys.stderr, flush=True)
        return interrupts.exit_status
    return 0


if __name__ == "__main__":
    sys.exit(main())
