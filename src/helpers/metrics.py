"""A step's headline figures, saved for the run's manifest and ``index.html``.

Notebooks call `record_metrics` last; the runner reads the files back. This module imports
nothing of the orchestrator, so steps never depend on the runner.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PEAK_MEMORY_KEY = "peak_memory_mib"  # added by `record_metrics`, copied to the manifest's steps


def peak_memory_mib() -> int:
    """Return this process's peak resident memory so far, in MiB (the kernel's, in a notebook)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**20 if sys.platform == "darwin" else 2**10))  # bytes on macOS, KiB on Linux


def metrics_file(run_dir: str | Path, step: str) -> Path:
    """Return where step `step` of the run in `run_dir` keeps its figures."""
    return Path(run_dir) / "metrics" / f"{step}.json"


def record_metrics(run_dir: str | Path, step: str, metrics: Mapping[str, Any]) -> None:
    """Save a notebook's headline figures for the manifest (no-op when run interactively).

    Parameters
    ----------
    run_dir : str or Path
        The runner's run folder; "" in interactive sessions.
    step : str
        Notebook name, e.g. ``"01_clean"``.
    metrics : mapping
        JSON-serialisable figures (row counts, customers, revenue). The kernel's peak
        memory so far is added as `PEAK_MEMORY_KEY`, so notebooks call this last.
    """
    if not run_dir:
        return
    file = metrics_file(run_dir, step)
    file.parent.mkdir(parents=True, exist_ok=True)
    figures = {**metrics, PEAK_MEMORY_KEY: peak_memory_mib()}
    file.write_text(json.dumps(figures, indent=2, default=str), encoding="utf-8")
