"""What the terminal shows while a report runs, with estimates from the previous run.

Every step prints a line when it starts (with the previous run's time for it) and when its
notebook has run. On a terminal, one status line below them is rewritten four times a second
for the steps running now: the cell being executed out of the notebook's code cells, the
section it belongs to (the notebook's last heading before it) and the time left by the
previous run's cell timings (`previous_timings`, read from ``reports/latest``). The run
ends with one line (`summary_line`): time, customers, personas and the page to open.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

LIVE_MODES = ("auto", "live", "plain")


def code_cell_seconds(notebook: Path) -> list[float]:
    """Execution seconds of each code cell of an executed notebook, in order ([] if unreadable)."""
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError):
        return []
    return [float(c.get("metadata", {}).get("papermill", {}).get("duration") or 0.0)
            for c in cells if c.get("cell_type") == "code"]


def previous_timings(latest: Path, names: Sequence[str], level: str) -> dict[str, list[float]]:
    """Per step, the previous run's code-cell seconds (steps it did not run, or at another level, left out)."""
    try:
        manifest = json.loads((latest / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if manifest.get("params", {}).get("input", {}).get("level", "transactions") != level:
        return {}
    timings = {name: code_cell_seconds(latest / f"{name}.ipynb") for name in names}
    return {name: cells for name, cells in timings.items() if cells}


def seconds_left(previous: Sequence[float], cell: int, cells: int, elapsed_in_cell: float) -> float | None:
    """Seconds the previous run spent from code cell `cell` (1-based) on, less what this cell has taken.

    None when the notebook changed (another number of code cells) or there is no previous run.

    >>> seconds_left([1.0, 2.0, 3.0], 2, 3, 0.5)
    4.5
    >>> seconds_left([1.0, 2.0], 2, 3, 0.0) is None
    True
    """
    if not previous or len(previous) != cells:
        return None
    return max(0.0, sum(previous[cell - 1:]) - elapsed_in_cell)


def stage_of(cells: Sequence[Mapping[str, Any]], index: int) -> str:
    """The last markdown heading before cell `index`, without its ``#`` marks ('' when none).

    >>> cells = [{"cell_type": "markdown", "source": "# Title\\n\\n## Cohorts\\ntext"},
    ...          {"cell_type": "code", "source": "x = 1"}]
    >>> stage_of(cells, 1)
    'Cohorts'
    """
    for cell in reversed(cells[:index]):
        if cell.get("cell_type") != "markdown":
            continue
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        headings = [line.lstrip("#").strip() for line in source.splitlines() if line.startswith("#")]
        if headings:
            return headings[-1]
    return ""


class Progress:
    """The runner's terminal output for one run.

    Parameters
    ----------
    names : sequence of str
        The run's steps, in order.
    previous : mapping
        `previous_timings` of the last run.
    stream : text file, default sys.stdout
    mode : {"auto", "live", "plain"}
        ``live`` rewrites a status line; ``plain`` prints start and end lines only; ``auto``
        is live on a terminal.
    """

    def __init__(self, names: Sequence[str], previous: Mapping[str, Sequence[float]],
                 stream: TextIO | None = None, mode: str = "auto") -> None:
        self.names = list(names)
        self.previous = previous
        self.stream = stream or sys.stdout
        self.live = mode == "live" or (mode == "auto" and self.stream.isatty())
        self._cells: dict[str, tuple[int, int, str, float]] = {}
        self._started: dict[str, float] = {}
        self._status = False

    def _label(self, name: str) -> str:
        return f"[{self.names.index(name) + 1}/{len(self.names)}] {name}"

    def _print(self, line: str) -> None:
        if self._status:
            self.stream.write("\r\x1b[K")
            self._status = False
        self.stream.write(line + "\n")
        self.stream.flush()

    def expected_seconds(self, name: str) -> float | None:
        """The previous run's seconds for step `name`'s cells (None without one)."""
        cells = self.previous.get(name)
        return round(sum(cells), 1) if cells else None

    def start(self, name: str) -> None:
        self._started[name] = time.perf_counter()
        expected = self.expected_seconds(name)
        hint = f" (previous run: {expected:.1f} s)" if expected is not None else ""
        self._print(f"{self._label(name)}: running ...{hint}")

    def cell(self, name: str, number: int, count: int, stage: str) -> None:
        """A worker thread's report: step `name` started code cell `number` of `count`."""
        self._cells[name] = (number, count, stage, time.perf_counter())

    def executed(self, name: str, seconds: float) -> None:
        self._cells.pop(name, None)
        self._print(f"{self._label(name)}: done in {seconds:.1f} s")

    def status_line(self, now: float | None = None) -> str:
        """One line on the running steps: cell n/m, section, elapsed and time left."""
        now = time.perf_counter() if now is None else now
        parts = []
        for name, (number, count, stage, since) in sorted(self._cells.items()):
            elapsed = now - self._started.get(name, now)
            left = seconds_left(self.previous.get(name, ()), number, count, now - since)
            part = f"{name} cell {number}/{count}" + (f" {stage}" if stage else "") + f", {elapsed:.0f} s"
            parts.append(part + (f", about {left:.0f} s left" if left is not None else ""))
        return "  " + " | ".join(parts) if parts else ""

    def tick(self) -> None:
        """Rewrite the status line (live mode only)."""
        line = self.status_line()
        if not self.live or not line:
            return
        width = shutil.get_terminal_size((100, 20)).columns
        self.stream.write("\r\x1b[K" + line[: max(10, width - 1)])
        self.stream.flush()
        self._status = True


def summary_line(manifest: Mapping[str, Any], index: Path, seconds: float | None = None) -> str:
    """The run's last line: time, customers, personas, segments and the page to open.

    `seconds`: the whole run's time, input checks included (default: the manifest's
    ``total_seconds``, from the first step on).

    >>> m = {"total_seconds": 14.62, "metrics": {"05_personas": {"customers": 4362, "personas": 4},
    ...      "03_rfm": {"segments": [{}, {}]}}}
    >>> summary_line(m, Path("reports/latest/index.html"), 17.04)
    'report ready in 17.0 s: 4,362 customers, 4 personas, 2 RFM segments; open reports/latest/index.html'
    """
    metrics = manifest.get("metrics", {})
    last = metrics.get("05_personas", {})
    facts = []
    if last.get("customers") is not None:
        facts.append(f"{last['customers']:,} customers")
    personas = last.get("personas")
    if personas is not None:
        facts.append(f"{len(personas) if isinstance(personas, list) else personas} personas")
    segments = metrics.get("03_rfm", {}).get("segments")
    if segments:
        facts.append(f"{len(segments)} RFM segments")
    about = f": {', '.join(facts)}" if facts else ""
    seconds = manifest.get("total_seconds", 0) if seconds is None else seconds
    return f"report ready in {seconds:.1f} s{about}; open {index}"
