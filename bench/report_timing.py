"""Time the whole report on the shipped data: quiet, then beside two busy processes.

Usage::

    python -m bench.report_timing              # 3 quiet runs, 3 loaded runs (part of make bench)
    python -m bench.report_timing --runs 5 --busy 2

Each run is ``python -m helpers.runner`` on the repo's own params (the shipped Online Retail
sample) with its outputs redirected to ``data/bench/work/report-timing/``, so the project's
``reports/latest`` and ``data/processed`` are untouched. One run first warms the file cache
and gives the others a previous run to estimate from; it is not counted. Then `--runs` quiet
runs, then as many with `--busy` CPU-bound processes (``yes > /dev/null``, as in issue 16)
running beside them. For each phase: the median wall time of a run (process start to exit,
what ``time make report`` shows less make itself) and each step's median time from the
run's manifest; under load, each step's ratio to its quiet time (target: at most 2).

The table goes to ``reports/bench/report-timings.md`` and is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
WORK = PROJECT_ROOT / "data" / "bench" / "work" / "report-timing"
OUT = PROJECT_ROOT / "reports" / "bench" / "report-timings.md"
TARGET_QUIET_S = 15.0
TARGET_LOAD_RATIO = 2.0


def timing_params(work: Path) -> Path:
    """A params file over params.yaml whose outputs go under `work`."""
    work.mkdir(parents=True, exist_ok=True)
    paths = {key: str(work / key.removesuffix("_dir")) for key in ("interim_dir", "processed_dir", "reports_dir")}
    path = work / "params.yaml"
    path.write_text(json.dumps({"paths": paths}), encoding="utf-8")  # JSON is YAML
    return path


def one_run(params: Path) -> dict[str, Any]:
    """Run the report once; return its wall seconds and each step's seconds (from the manifest)."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "helpers.runner", "--params", str(params), "--progress", "plain"],
                            cwd=PROJECT_ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"bench.report_timing: the report failed: {result.stderr.strip()}")
    manifest = json.loads((Path(json.loads(params.read_text())["paths"]["reports_dir"]) / "latest" / "manifest.json")
                          .read_text(encoding="utf-8"))
    return {"wall": wall, "steps": {s["notebook"]: s["seconds"] for s in manifest["steps"]}}


def busy_processes(count: int) -> list[subprocess.Popen]:
    """Start `count` CPU-bound processes (``yes > /dev/null``)."""
    return [subprocess.Popen(["yes"], stdout=subprocess.DEVNULL) for _ in range(count)]


def phase(params: Path, runs: int) -> dict[str, Any]:
    """`runs` runs; the median wall time and each step's median seconds."""
    results = [one_run(params) for _ in range(runs)]
    steps = {name: statistics.median(r["steps"][name] for r in results) for name in results[0]["steps"]}
    return {"walls": [r["wall"] for r in results], "wall": statistics.median(r["wall"] for r in results),
            "steps": steps}


def markdown(quiet: dict[str, Any], loaded: dict[str, Any], busy: int) -> str:
    """The timings as Markdown: the run, then each step quiet and loaded."""
    walls = ", ".join(f"{w:.1f}" for w in quiet["walls"])
    lines = [
        "# Report timings on the shipped data",
        "",
        f"`python -m bench.report_timing` ({os.cpu_count()} cores; load average before the quiet runs: "
        f"{quiet['load']:.2f}). Median of {len(quiet['walls'])} runs each, after one warm-up run;"
        f" *under load*: beside {busy} `yes > /dev/null`.",
        "",
        "| what | quiet s | under load s | load / quiet | target |",
        "|---|---:|---:|---:|---|",
        f"| whole report (wall, runs: {walls} s) | {quiet['wall']:.1f} | {loaded['wall']:.1f} | "
        f"{loaded['wall'] / quiet['wall']:.2f} | quiet <= {TARGET_QUIET_S:.0f} s: "
        f"{'yes' if quiet['wall'] <= TARGET_QUIET_S else 'NO'} |",
    ]
    for name, seconds in quiet["steps"].items():
        ratio = loaded["steps"][name] / seconds
        lines.append(f"| {name} (execute + render) | {seconds:.1f} | {loaded['steps'][name]:.1f} | {ratio:.2f} | "
                     f"load <= {TARGET_LOAD_RATIO:.0f}x: {'yes' if ratio <= TARGET_LOAD_RATIO else 'NO'} |")
    lines += ["", "Steps 02_eda and 03_rfm (and 04_clustering, when no clustering feature comes from 02's table) "
              "run side by side, so the step times add up to more than the wall time.", ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report_timing", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="counted runs per phase (default 3)")
    parser.add_argument("--busy", type=int, default=2, help="CPU-bound processes beside the loaded runs (default 2)")
    parser.add_argument("--out", type=Path, default=OUT, help="Markdown file to write")
    args = parser.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="run-", dir=WORK) as tmp:
        params = timing_params(Path(tmp))
        one_run(params)  # warm-up: file cache, and a previous run for the estimates
        load = os.getloadavg()[0]
        quiet = phase(params, args.runs) | {"load": load}
        busy = busy_processes(args.busy)
        try:
            time.sleep(1.0)
            loaded = phase(params, args.runs)
        finally:
            for process in busy:
                process.kill()
                process.wait()
    text = markdown(quiet, loaded, args.busy)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
