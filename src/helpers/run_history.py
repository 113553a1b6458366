"""The run history: ``reports/index.html`` lists every finished run and charts its sizes.

The runner rewrites it after each successful run (`write_history`). One row per run folder
``<reports_dir>/<run id>/`` holding a ``manifest.json`` (``.partial`` and ``.failed`` folders
are not runs): when it ran, its params file, its input, how many lines and customers, and
the sizes of its personas and RFM segments. Runs that read the same input with the same
column mapping form a group, and each group gets a chart of its persona and segment sizes
across runs (inline SVG, no script), so a change of data or params that moves customers
between groups shows at a glance.

Sources per run: the manifest (``params_sources``, ``input``, ``params.input``, metrics of
01_clean, 03_rfm ``segments`` and 05_personas ``personas``) and, when the metrics lack the
personas, the run's ``personas.csv``. Gathering (`run_summary`, `size_chart`,
`history_context`) is pure; `read_runs` and `write_history` do the I/O; the page is
``templates/index/history.html.j2``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from helpers.config import PROJECT_ROOT
from helpers.formatting import Formats
from helpers.summary import as_float, display_path, persona_rows, read_personas, render

HISTORY_FILE = "index.html"
CHART_RUNS = 20  # a chart shows a group's newest runs; the list above it has them all
# Okabe-Ito (colour-blind safe), then further distinct colours; cycled beyond 14 names.
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#666666",
           "#6a3d9a", "#b15928", "#1f78b4", "#b2df8a", "#fb9a99", "#a6cee3")


def read_runs(reports_dir: str | Path) -> tuple[list[tuple[Mapping[str, Any], list[dict[str, str]]]], int]:
    """Read every finished run folder of `reports_dir`.

    Parameters
    ----------
    reports_dir : str or Path
        The ``paths.reports_dir`` folder.

    Returns
    -------
    runs : list of (manifest, personas rows)
        One entry per folder with a readable ``manifest.json`` (``latest``, ``bench``,
        ``*.partial`` and ``*.failed`` are skipped), in folder-name order.
    unreadable : int
        Folders whose ``manifest.json`` is not valid JSON.
    """
    runs, unreadable = [], 0
    for folder in sorted(Path(reports_dir).iterdir()) if Path(reports_dir).is_dir() else []:
        manifest_file = folder / "manifest.json"
        if folder.is_symlink() or folder.name.endswith((".partial", ".failed")) or not manifest_file.is_file():
            continue
        try:
            manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            unreadable += 1
            continue
        if isinstance(manifest, dict):
            runs.append(({**manifest, "run_id": folder.name}, read_personas(folder)))
        else:
            unreadable += 1
    return runs, unreadable


def mapping_key(manifest: Mapping[str, Any]) -> str:
    """Return what makes two runs comparable: the input path, its level and column mapping.

    >>> a = {"input": {"path": "/d/x.csv"}, "params": {"input": {"columns": {"customer_id": "Id"}}}}
    >>> mapping_key(a) == mapping_key({**a, "run_id": "2"}), mapping_key(a) == mapping_key({"input": {"path": "/d/y.csv"}})
    (True, False)
    """
    source = (manifest.get("params", {}) or {}).get("input", {}) or {}
    return json.dumps({"path": str((manifest.get("input", {}) or {}).get("path", "")),
                       "level": source.get("level", "transactions"), "columns": source.get("columns", {})},
                      sort_keys=True, default=str)


def _sizes(rows: Any, name_key: str) -> list[tuple[str, float]]:
    """(name, customers) of a metrics list, or [] when it has another shape."""
    if not isinstance(rows, list) or not all(isinstance(r, Mapping) for r in rows):
        return []
    return [(str(r.get(name_key, "")), as_float(r.get("customers")) or 0.0) for r in rows]


def _mapping_label(manifest: Mapping[str, Any], root: str | Path) -> str:
    source = (manifest.get("params", {}) or {}).get("input", {}) or {}
    columns = ", ".join(f"{field} = {column}" for field, column in (source.get("columns", {}) or {}).items() if column)
    level = source.get("level", "transactions")
    return f"{display_path((manifest.get('input', {}) or {}).get('path'), root)} ({level}; columns {columns or 'default'})"


def run_summary(
    manifest: Mapping[str, Any], personas: Sequence[Mapping[str, Any]] = (), root: str | Path = PROJECT_ROOT
) -> dict[str, Any]:
    """Return one run's row of the history: facts and sizes, every path relative.

    Parameters
    ----------
    manifest : mapping
        The run's manifest (``run_id`` is the folder name).
    personas : sequence of mapping
        The run's ``personas.csv`` rows, used when the metrics hold no personas.
    root : str or Path
        Project folder: paths are shown relative to it (others by file name).

    Returns
    -------
    dict
        run_id, finished, params_file, input, mapping, mapping_label, raw_rows, customers,
        chosen_k, personas and segments (lists of (name, customers)).

    Examples
    --------
    >>> row = run_summary({"run_id": "r1", "input": {"path": "/p/data/x.csv"}, "params_sources": ["/p/params.yaml"],
    ...                    "metrics": {"05_personas": {"personas": [{"persona": "A", "customers": 3}]}}}, root="/p")
    >>> row["input"], row["params_file"], row["personas"], row["segments"]
    ('data/x.csv', 'params.yaml', [('A', 3.0)], [])
    """
    metrics = manifest.get("metrics", {}) or {}
    clean = metrics.get("01_clean", {}) or {}
    personas_sizes = _sizes((metrics.get("05_personas", {}) or {}).get("personas"), "persona")
    if not personas_sizes:
        personas_sizes = [(row["persona"], row["customers"] or 0.0) for row in persona_rows(personas, None)]
    sources = [display_path(p, root) for p in manifest.get("params_sources", []) or []]
    return {
        "run_id": str(manifest.get("run_id", "")),
        "finished": str(manifest.get("finished") or manifest.get("started") or "").replace("T", " "),
        "params_file": sources[-1] if sources else "",
        "input": display_path((manifest.get("input", {}) or {}).get("path"), root),
        "mapping": mapping_key(manifest), "mapping_label": _mapping_label(manifest, root),
        "raw_rows": as_float(clean.get("raw_rows")), "customers": as_float(clean.get("customers")),
        "chosen_k": (metrics.get("04_clustering", {}) or {}).get("chosen_k"),
        "personas": personas_sizes, "segments": _sizes((metrics.get("03_rfm", {}) or {}).get("segments"), "segment"),
    }


def size_chart(runs: Sequence[Mapping[str, Any]], kind: str, formats: Formats) -> dict[str, Any] | None:
    """Return a stacked-bar chart of `kind` sizes, one bar per run, or None without sizes.

    Bars are as long as the run's customers relative to the largest run (0-100), so a
    growing base shows too; a name keeps its colour in every run of the chart.

    Parameters
    ----------
    runs : sequence of mapping
        `run_summary` rows, oldest first.
    kind : str
        ``"personas"`` or ``"segments"``.
    formats : Formats
        Number formatting.

    Returns
    -------
    dict or None
        kind, legend (list of (name, colour)) and rows (run_id, total, bars with x, width,
        colour, name, customers).

    Examples
    --------
    >>> chart = size_chart([{"run_id": "1", "personas": [("A", 30.0), ("B", 10.0)]},
    ...                     {"run_id": "2", "personas": [("B", 20.0)]}], "personas", Formats(None, "en_GB"))
    >>> [(b["name"], b["x"], b["width"]) for row in chart["rows"] for b in row["bars"]]
    [('A', 0.0, 75.0), ('B', 75.0, 25.0), ('B', 0.0, 50.0)]
    """
    shown = [run for run in runs if run.get(kind)]
    if not shown:
        return None
    names = list(dict.fromkeys(name for run in shown for name, _ in run[kind]))
    colors = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}
    largest = max(sum(size for _, size in run[kind]) for run in shown) or 1.0
    rows = []
    for run in shown:
        x, bars = 0.0, []
        for name, size in run[kind]:
            width = 100.0 * max(size, 0.0) / largest
            bars.append({"name": name, "x": round(x, 3), "width": round(width, 3), "color": colors[name],
                         "customers": formats.number(size)})
            x += width
        rows.append({"run_id": run["run_id"], "total": formats.number(sum(s for _, s in run[kind])), "bars": bars})
    return {"kind": kind, "legend": [(name, colors[name]) for name in names], "rows": rows}


def history_context(
    summaries: Sequence[Mapping[str, Any]], formats: Formats, latest: str = "", unreadable: int = 0
) -> dict[str, Any]:
    """Return the variables of ``history.html.j2``: the runs (newest first) and one group per input.

    Parameters
    ----------
    summaries : sequence of mapping
        `run_summary` rows, in any order (sorted by run id here, ids are timestamps).
    formats : Formats
        Number formatting (the newest run's).
    latest : str
        Run id that ``latest`` points to (marked in the list).
    unreadable : int
        Run folders whose manifest could not be read (mentioned on the page).

    Returns
    -------
    dict
        runs, groups (label, runs, charts), latest, unreadable.
    """
    ordered = sorted(summaries, key=lambda run: run["run_id"])
    keys = list(dict.fromkeys(run["mapping"] for run in ordered))
    groups = []
    for key in keys:
        members = [run for run in ordered if run["mapping"] == key]
        charts = [size_chart(members[-CHART_RUNS:], kind, formats) for kind in ("personas", "segments")]
        groups.append({"label": members[-1]["mapping_label"], "runs": len(members), "charts": [c for c in charts if c]})
    runs = [{**run, "group": keys.index(run["mapping"]) + 1,
             "raw_rows": formats.number(run["raw_rows"]) if run["raw_rows"] is not None else "",
             "customers": formats.number(run["customers"]) if run["customers"] is not None else "",
             "personas": [(name, formats.number(size)) for name, size in run["personas"]],
             "segments": len(run["segments"])} for run in reversed(ordered)]
    return {"runs": runs, "groups": groups, "latest": latest, "unreadable": unreadable}


def history_html(reports_dir: str | Path, root: str | Path = PROJECT_ROOT) -> str:
    """Return the history page of `reports_dir` (reads every run folder's manifest).

    Parameters
    ----------
    reports_dir : str or Path
        The ``paths.reports_dir`` folder.
    root : str or Path
        Project folder: paths are shown relative to it.

    Returns
    -------
    str
        A self-contained HTML page, rendered with autoescape on.
    """
    reports_dir = Path(reports_dir)
    runs, unreadable = read_runs(reports_dir)
    latest = os.readlink(reports_dir / "latest") if (reports_dir / "latest").is_symlink() else ""
    newest = max(runs, key=lambda run: run[0]["run_id"])[0] if runs else {}
    formats = Formats.from_params(newest.get("params", {}) or {})
    summaries = [run_summary(manifest, personas, root) for manifest, personas in runs]
    return render("history.html.j2", **history_context(summaries, formats, Path(latest).name, unreadable)) + "\n"


def write_history(reports_dir: str | Path, root: str | Path = PROJECT_ROOT) -> Path:
    """Write ``<reports_dir>/index.html``, the list of runs, and return its path.

    The file is replaced in one step (a temporary file, then a rename), so a reader never
    sees half a page. The runner calls this after each successful run.

    Parameters
    ----------
    reports_dir : str or Path
        The ``paths.reports_dir`` folder.
    root : str or Path
        Project folder: paths are shown relative to it.

    Returns
    -------
    Path
        The history page.
    """
    out = Path(reports_dir) / HISTORY_FILE
    tmp = out.with_name(f".{HISTORY_FILE}.{os.getpid()}.tmp")
    tmp.write_text(history_html(reports_dir, root), encoding="utf-8")
    os.replace(tmp, out)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Rewrite the history page of a reports folder (``python -m helpers.run_history [reports]``)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m helpers.run_history", description=__doc__.splitlines()[0])
    parser.add_argument("reports_dir", nargs="?", default=str(PROJECT_ROOT / "reports"))
    print(write_history(parser.parse_args(argv).reports_dir))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
