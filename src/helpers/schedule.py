"""Run a report's steps: independent steps side by side, each in a kernel started ahead.

`run_schedule` executes the notebooks of one run in dependency order (`helpers.steps.
dependencies`: 02_eda and 03_rfm both need only 01_clean's output, so they run at the same
time on a machine with two cores or more). Each step runs in a worker thread that calls
papermill with a kernel started beforehand (`helpers.kernels.WarmKernel`), then renders its
page; the main thread starts kernels and steps, shows progress (`helpers.progress`) and
stops everything on the first failure or interrupt. Signals reach the main thread only,
so Ctrl-C and SIGTERM stop the run as before: every kernel is shut down, none is left.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers.errors import UserError
from helpers.kernels import (
    WarmKernel,
    available_cores,
    kernel_environment,
    register_engine,
    thread_environment,
)
from helpers.metrics import metrics_file
from helpers.params_checks import MEMORY_SIZE, UNIT_BYTES
from helpers.steps import dependencies, notebook_file, unneeded_links

MAX_SIDE_BY_SIDE = 2  # steps running at once on a machine with at least this many cores
# Above this many cleaned lines a step's engine work fills every core by itself and needs the
# whole run.memory_limit (02_eda's distinct-product bitmaps at 100M lines), so steps run one
# at a time; below it most of a step is single-threaded Python (charts, pages) and two steps
# side by side use two cores.
SIDE_BY_SIDE_MAX_ROWS = 5_000_000


def small_enough(run_dir: Path) -> bool:
    """Whether 01_clean's kept lines (its metrics in `run_dir`) allow steps side by side.

    True when the run has no such figure (a customer-level table, or 01 not in this run).
    """
    try:
        rows = json.loads(metrics_file(run_dir, "01_clean").read_text(encoding="utf-8")).get("rows")
    except (OSError, ValueError):
        return True
    return rows is None or rows <= SIDE_BY_SIDE_MAX_ROWS


@dataclass
class Plan:
    """What to run and how.

    Parameters
    ----------
    names : sequence of str
        Steps of this run, in registry order.
    level : str
        ``input.level`` (the customer-level notebooks have other dependencies).
    notebooks : mapping
        Step name -> source notebook.
    kernel : str
        Jupyter kernel name.
    cwd : Path
        The kernels' working folder.
    log_dir : Path
        Where each kernel writes ``<step>.stderr.log``.
    threads : int
        Cores the run may use (``run.threads``, default all): side-by-side steps share them.
    environment : mapping
        Variables every kernel gets (e.g. the OpenMP wait policy).
    unneeded : tuple of (str, str)
        Links between steps this run's params make void (`helpers.steps.dependencies`).
    """

    names: Sequence[str]
    level: str
    notebooks: Mapping[str, Path]
    kernel: str
    cwd: Path
    log_dir: Path
    threads: int
    environment: Mapping[str, str] = field(default_factory=dict)
    unneeded: tuple[tuple[str, str], ...] = ()

    @property
    def side_by_side(self) -> int:
        """How many steps may run at once: two on two cores or more, else one."""
        return max(1, min(MAX_SIDE_BY_SIDE, self.threads, available_cores()))


class LoadMeter:
    """How many cores other programs keep busy, measured while the run goes on.

    Each `sample` reads the machine's CPU time (psutil) and that of this process and its
    children (the kernels); `others` is the difference over the last `window` seconds, in
    cores. Under load, steps run one at a time: beside two busy programs on two cores,
    two steps at once would get half a core each, one step two thirds of one.
    """

    def __init__(self, window: float = 2.0) -> None:
        self.window = window
        self._samples: list[tuple[float, float, float]] = []  # (time, machine busy s, ours s)
        self._ours: dict[int, float] = {}
        self._our_total = 0.0

    def _our_seconds(self) -> float:
        import psutil

        me = psutil.Process()
        for process in (me, *me.children(recursive=True)):
            try:
                times = process.cpu_times()
            except psutil.Error:  # exited meanwhile
                continue
            seconds = times.user + times.system
            self._our_total += max(0.0, seconds - self._ours.get(process.pid, 0.0))
            self._ours[process.pid] = seconds
        return self._our_total

    def sample(self) -> None:
        import psutil

        times = psutil.cpu_times()
        busy = times.user + times.nice + times.system + getattr(times, "irq", 0.0) + getattr(times, "softirq", 0.0)
        now = time.monotonic()
        self._samples.append((now, busy, self._our_seconds()))
        self._samples = [s for s in self._samples if now - s[0] <= self.window] or self._samples[-1:]

    def others(self) -> float:
        """Cores other programs used over the window (0 until two samples exist)."""
        if len(self._samples) < 2:
            return 0.0
        (t0, busy0, ours0), (t1, busy1, ours1) = self._samples[0], self._samples[-1]
        return max(0.0, ((busy1 - busy0) - (ours1 - ours0)) / max(t1 - t0, 1e-6))


def steps_at_once(side_by_side: int, cores: int, others: float) -> int:
    """Steps to run at once: `side_by_side`, fewer when other programs keep cores busy.

    >>> steps_at_once(2, 2, 0.1), steps_at_once(2, 2, 0.8), steps_at_once(2, 2, 2.0), steps_at_once(2, 4, 2.0)
    (2, 1, 1, 2)
    """
    return max(1, min(side_by_side, int(cores - others + 0.5)))


def concurrent_steps(deps: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """For each step, 1 + the steps that could run at the same time (no path either way).

    >>> concurrent_steps({"a": (), "b": ("a",), "c": ("a",), "d": ("a", "b", "c")})
    {'a': 1, 'b': 2, 'c': 2, 'd': 1}
    """
    return {name: 1 + sum(1 for other in deps if other != name and other not in deps[name]
                          and name not in deps[other]) for name in deps}


@dataclass
class StepOutcome:
    """A worker's report on one step (`kind`: ``executed``, ``rendered`` or ``failed``)."""

    name: str
    kind: str
    seconds: float = 0.0
    value: Any = None


ExecuteFn = Callable[[str, WarmKernel, Callable[[int, int, str], None]], Path]
RenderFn = Callable[[str, Path], None]


def memory_share(limit: str, parts: int) -> str:
    """One of `parts` equal shares of a DuckDB memory limit (``run.memory_limit``), in MB or %.

    Steps running side by side split the run's limit, so together they stay within it.

    >>> memory_share("2GB", 2), memory_share("1.5GiB", 2), memory_share("50%", 2), memory_share("2GB", 1)
    ('1000MB', '805MB', '25%', '2GB')
    """
    if parts <= 1:
        return limit
    text = limit.strip()
    match = MEMORY_SIZE.fullmatch(text)
    if match is None:  # the params check refuses such a value before any step runs
        return limit
    number, unit = float(text[: match.start(2)]), match.group(2).lower()
    if unit == "%":
        return f"{number / parts:g}%"
    return f"{max(1, int(number * UNIT_BYTES[unit] / parts / 10**6))}MB"


class KernelPool:
    """The run's warm kernels by step, started on demand; leaving the ``with`` block shuts all down.

    The runner makes the pool before it checks the inputs, so the first step's kernel starts
    up meanwhile. `factory` makes a kernel (``WarmKernel``'s arguments; tests pass a stand-in).
    """

    def __init__(self, plan: Plan, factory: Callable[..., WarmKernel] = WarmKernel) -> None:
        self.plan = plan
        self.factory = factory
        self.started: dict[str, WarmKernel] = {}
        self.used: set[str] = set()  # kernels a step ran in (the others hold nothing to clean up)
        self.alone: set[str] = set()  # steps started when the load allowed one step at a time
        self.deps = dependencies(plan.names, plan.level, plan.unneeded)
        self.sharing = {name: min(n, plan.side_by_side) for name, n in concurrent_steps(self.deps).items()}
        self._threads = {name: max(1, plan.threads // n) for name, n in self.sharing.items()}

    def step_settings(self, name: str, memory_limit: str) -> dict[str, Any]:
        """``run`` settings of step `name`: its share of the threads and of `memory_limit` (all of both when alone)."""
        if name in self.alone:
            return {"threads": self.plan.threads, "memory_limit": memory_limit}
        return {"threads": self._threads[name], "memory_limit": memory_share(memory_limit, self.sharing[name])}

    def __enter__(self) -> KernelPool:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close(wait=5.0 if exc[0] is None else 2.0)

    def start(self, name: str) -> WarmKernel:
        if name not in self.started:
            env = {**self.plan.environment, **thread_environment(self._threads[name], self.plan.environment)}
            log = open(self.plan.log_dir / f"{name}.stderr.log", "ab")  # noqa: SIM115 - closed by the kernel
            try:
                self.started[name] = self.factory(self.plan.kernel, self.plan.notebooks[name], self.plan.cwd, log, env)
            except BaseException:
                log.close()
                raise
        return self.started[name]

    def release(self, name: str) -> None:
        """Ask a finished step's kernel to exit (it does so while the run goes on)."""
        if name in self.started:
            self.started[name].request_shutdown()

    def close(self, wait: float = 5.0) -> None:
        """Shut every kernel down (killing those still running after `wait` seconds, unused ones at once); safe to repeat."""
        while self.started:
            name, kernel = self.started.popitem()
            kernel.shutdown(wait if name in self.used else 0.0)


def run_schedule(kernels: KernelPool, execute: ExecuteFn, render: RenderFn, progress: Any,
                 meter: LoadMeter | None = None, room: Callable[[], bool] = lambda: True) -> dict[str, float]:
    """Run every step of the pool's plan, in its kernels; return each step's execution seconds.

    `execute(name, kernel, on_cell)` runs one notebook and returns the executed file,
    raising on failure; `render(name, executed)` makes its page. `progress` gets
    ``start(name)``, ``cell(name, n, m, stage)``, ``executed(name, seconds)`` and ``tick()``.
    The first failure (or an interrupt) shuts every kernel down, waits for the other
    workers to stop and is raised again here. After a success the kernels, each asked to
    exit when its step ended, are waited for when the pool's ``with`` block ends (the runner
    publishes first). `meter` (default: a `LoadMeter`) decides whether other programs leave
    room for a second step at once (`steps_at_once`); `room()` says whether the data are small
    enough for it (`small_enough`).
    """
    plan, deps = kernels.plan, kernels.deps
    meter = meter or LoadMeter()
    meter.sample()
    outcomes: queue.Queue[StepOutcome] = queue.Queue()
    waiting, running, executed, rendered = list(plan.names), {}, {}, set()
    workers: list[threading.Thread] = []
    in_cells: set[str] = set()  # running steps whose kernel has reached the notebook's cells
    try:
        while len(rendered) < len(plan.names):
            ready = [n for n in waiting if all(d in executed for d in deps[n])]
            alone = any(name in kernels.alone for name in running)  # it holds the whole budget
            at_once = (steps_at_once(plan.side_by_side, available_cores(), meter.others())
                       if ready and room() and not alone else 1)
            for name in ready[: max(0, at_once - len(running))]:
                waiting.remove(name)
                running[name] = time.perf_counter()
                workers.append(_start_step(name, kernels, at_once == 1, (execute, render), progress, outcomes, in_cells))
            if all(name in in_cells for name in running):  # once the running kernels are up, the
                for name in waiting[: plan.side_by_side]:  # kernels of steps that can start next warm up
                    if all(d in executed or d in running for d in deps[name]):  # (not sooner: they
                        kernels.start(name)  # would slow the steps running now)
            try:
                outcome = outcomes.get(timeout=0.25)
            except queue.Empty:
                meter.sample()
                progress.tick()
                continue
            if outcome.kind == "failed":
                raise outcome.value
            if outcome.kind == "executed":
                executed[outcome.name] = outcome.seconds
                running.pop(outcome.name, None)
                kernels.release(outcome.name)
                progress.executed(outcome.name, outcome.seconds)
            else:
                rendered.add(outcome.name)
    except BaseException:
        kernels.close(wait=2.0)
        for worker in workers:
            worker.join(timeout=30)
        raise
    for worker in workers:  # each has reported its last outcome
        worker.join(timeout=30)
    return executed


def _start_step(name: str, kernels: KernelPool, alone: bool, work: tuple[ExecuteFn, RenderFn], progress: Any,
                outcomes: queue.Queue[StepOutcome], in_cells: set[str]) -> threading.Thread:
    """Start step `name` in its kernel on a worker thread (`_work`); `alone`: with the run's whole share."""
    kernel = kernels.start(name)
    kernels.used.add(name)
    if alone:
        kernels.alone.add(name)
    progress.start(name)
    worker = threading.Thread(target=_work, args=(name, kernel, *work, progress, outcomes, in_cells),
                              name=f"step-{name}", daemon=True)
    worker.start()
    return worker


def _work(name: str, kernel: WarmKernel, execute: ExecuteFn, render: RenderFn, progress: Any,
          outcomes: queue.Queue[StepOutcome], in_cells: set[str]) -> None:
    """One step in a worker thread: execute, report, render, report (or report the failure)."""

    def on_cell(number: int, count: int, stage: str) -> None:
        in_cells.add(name)
        progress.cell(name, number, count, stage)

    t0 = time.perf_counter()
    try:
        executed = execute(name, kernel, on_cell)
        outcomes.put(StepOutcome(name, "executed", time.perf_counter() - t0, executed))
        render(name, executed)
        outcomes.put(StepOutcome(name, "rendered"))
    except BaseException as exc:  # handed to the main thread, which raises it
        outcomes.put(StepOutcome(name, "failed", value=exc))


def kernel_plan(params: Mapping[str, Any], notebooks: Sequence[str], notebook_dir: Path, log_dir: Path) -> Plan:
    """The kernels' plan: notebooks of the run's level, thread budget (``run.threads``) and environment.

    The kernels inherit this process's environment plus `KERNEL_ENVIRONMENT`; every other
    setting (the engine's memory limit included) they read from the staged params file.
    """
    level = params["input"].get("level", "transactions")
    return Plan(names=list(notebooks), level=level, cwd=notebook_dir, log_dir=log_dir, kernel=params["run"]["kernel"],
                notebooks={n: notebook_dir / notebook_file(n, level) for n in notebooks},
                threads=params["run"].get("threads") or available_cores(),
                environment={**os.environ, **kernel_environment(os.environ)},
                unneeded=unneeded_links(params))


@contextlib.contextmanager
def kernels_ahead(params: Mapping[str, Any], notebooks: Sequence[str], notebook_dir: Path):
    """Start the first steps' kernels and import papermill now, while the inputs are being checked.

    The kernels write their stderr into a temporary folder until the run folder exists
    (the runner moves the logs there); leaving the block shuts every kernel down.
    """
    require_kernel(params["run"]["kernel"])
    with tempfile.TemporaryDirectory(prefix="ecomseg-kernels-") as log_dir:
        with KernelPool(kernel_plan(params, notebooks, notebook_dir, Path(log_dir))) as pool:
            threading.Thread(target=register_engine, name="import-papermill", daemon=True).start()
            for name in notebooks:
                if not pool.deps[name]:
                    pool.start(name)
            yield pool


def require_kernel(name: str) -> None:
    """Stop with one line when Jupyter kernel `name` (``run.kernel``) is not installed."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        raise UserError(f"run.kernel: Jupyter kernel '{name}' not found; fix: run `make setup` "
                        f"(or set run.kernel to an installed kernel)") from None
