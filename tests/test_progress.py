"""What the terminal shows during a run (issue 16): cell n/m, section, time left, the summary line."""

from __future__ import annotations

import io
import json
from pathlib import Path

from helpers.progress import Progress, previous_timings, summary_line


def executed_notebook(path: Path, durations: list[float]) -> None:
    cells = [{"cell_type": "markdown", "source": "# Title", "metadata": {}}]
    cells += [{"cell_type": "code", "source": "x = 1", "metadata": {"papermill": {"duration": d}}} for d in durations]
    path.write_text(json.dumps({"cells": cells}), encoding="utf-8")


def latest_run(folder: Path, level: str = "transactions") -> Path:
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({"params": {"input": {"level": level}}}))
    executed_notebook(folder / "01_clean.ipynb", [0.5, 2.0, 1.5])
    return folder


def running(previous: dict, started: dict, cells: dict) -> Progress:
    """A Progress whose steps started at `started` and are in `cells` (number, count, section, since)."""
    progress = Progress(list(started), previous, io.StringIO(), mode="plain")
    progress._started, progress._cells = dict(started), dict(cells)
    return progress


def test_previous_timings_are_the_last_runs_cell_seconds(tmp_path):
    latest = latest_run(tmp_path / "latest")
    assert previous_timings(latest, ["01_clean", "02_eda"], "transactions") == {"01_clean": [0.5, 2.0, 1.5]}
    assert previous_timings(latest, ["01_clean"], "customers") == {}  # other notebooks at the other level
    assert previous_timings(tmp_path / "none", ["01_clean"], "transactions") == {}


def test_the_status_line_gives_cell_section_elapsed_and_time_left():
    progress = running({"01_clean": [0.5, 2.0, 1.5]}, started={"01_clean": 100.0, "02_eda": 101.0},
                       cells={"01_clean": (2, 3, "Rules", 101.0), "02_eda": (4, 20, "", 103.0)})
    # 01: cells 2 and 3 took 3.5 s last time; cell 2 has run 1.5 s -> 2 s left. 02: no previous run.
    assert progress.status_line(now=102.5) == (
        "  01_clean cell 2/3 Rules, 2 s, about 2 s left | 02_eda cell 4/20, 2 s")


def test_a_notebook_with_other_cells_than_last_time_gets_no_estimate():
    progress = running({"01_clean": [0.5, 2.0]}, started={"01_clean": 0.0}, cells={"01_clean": (1, 3, "", 0.0)})
    assert "left" not in progress.status_line(now=1.0)


def test_live_mode_rewrites_one_line_and_clears_it_before_the_next_message():
    out = io.StringIO()
    progress = Progress(["01_clean"], {}, out, mode="live")
    progress.start("01_clean")
    progress.cell("01_clean", 1, 8, "Load")
    progress.tick()
    progress.executed("01_clean", 2.34)
    text = out.getvalue()
    assert "\r\x1b[K  01_clean cell 1/8 Load, 0 s" in text
    assert text.endswith("\r\x1b[K[1/1] 01_clean: done in 2.3 s\n")


def test_plain_mode_prints_no_status_line():
    out = io.StringIO()
    progress = Progress(["01_clean"], {}, out, mode="plain")
    progress.start("01_clean")
    progress.cell("01_clean", 1, 8, "Load")
    progress.tick()
    assert out.getvalue() == "[1/1] 01_clean: running ...\n"


def test_the_summary_line_reads_the_manifest():
    manifest = {"total_seconds": 9.96, "metrics": {"05_personas": {"customers": 12, "personas": [{}, {}, {}]}}}
    assert summary_line(manifest, Path("r/index.html")) == "report ready in 10.0 s: 12 customers, 3 personas; open r/index.html"
    assert summary_line({"total_seconds": 1}, Path("i.html")) == "report ready in 1.0 s; open i.html"
