"""bench.report_timing's table (issue 16): medians, ratios and targets, from figures worked out by hand."""

from __future__ import annotations

import json

from bench.report_timing import markdown, timing_params


def test_the_table_gives_the_run_and_each_step_with_the_load_ratio_and_the_targets():
    quiet = {"walls": [14.0, 14.5, 16.0], "wall": 14.5, "load": 0.1, "steps": {"01_clean": 3.0, "04_clustering": 4.0}}
    loaded = {"walls": [20.0], "wall": 21.75, "steps": {"01_clean": 5.4, "04_clustering": 8.4}}
    text = markdown(quiet, loaded, busy=2)
    assert "| whole report (wall, runs: 14.0, 14.5, 16.0 s) | 14.5 | 21.8 | 1.50 | quiet <= 15 s: yes |" in text
    assert "| 01_clean (execute + render) | 3.0 | 5.4 | 1.80 | load <= 2x: yes |" in text
    assert "| 04_clustering (execute + render) | 4.0 | 8.4 | 2.10 | load <= 2x: NO |" in text
    assert "beside 2 `yes > /dev/null`" in text


def test_the_timing_runs_write_under_their_own_folder(tmp_path):
    params = json.loads(timing_params(tmp_path / "w").read_text())
    assert params["paths"] == {"interim_dir": str(tmp_path / "w" / "interim"),
                               "processed_dir": str(tmp_path / "w" / "processed"),
                               "reports_dir": str(tmp_path / "w" / "reports")}
