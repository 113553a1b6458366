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


def test_the_stage_table_checks_issue_16s_figures_at_10m_and_100m_lines():
    from bench import run

    def row(stage, rows, wall, peak=1000):
        return {"stage": stage, "rows": rows, "ok": True, "wall_s": wall, "peak_mib": peak}

    checks = {target: (measured, met) for target, measured, met in run.targets([
        row("clean_csv", 10_000_000, 9.4), row("clean_parquet", 100_000_000, 74.2),
        row("report", 100_000_000, 179.0, peak=3_100)])}
    assert checks["10M-line CSV ingested and cleaned in <= 10 s"] == ("9.4 s", True)
    assert checks["100M lines cleaned from Parquet in <= 60 s"] == ("74.2 s", False)
    assert checks["whole report on 100M lines <= 180 s and <= 3 GiB"] == ("179.0 s, 3,100 MiB", False)  # memory
    unmeasured = run.targets([])
    assert ("100M lines cleaned from Parquet in <= 60 s", "not run (use --large)", None) in unmeasured
    assert ("whole report on 100M lines <= 180 s and <= 3 GiB", "not run (use --large --report)", None) in unmeasured
