"""The runner's schedule (issue 16): which steps run side by side, kernels started ahead and stopped.

Kernels and notebooks are stand-ins here: `execute` sleeps and records when each step ran,
so the order, the overlap and the clean-up are checked in a fraction of a second each.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from helpers.progress import Progress
from helpers.schedule import KernelPool, LoadMeter, Plan, run_schedule
from helpers.steps import NOTEBOOKS


class FakeKernel:
    made: list[FakeKernel] = []

    def __init__(self, kernel_name, notebook, cwd, stderr, environment):
        self.notebook, self.environment, self.stderr = notebook, dict(environment), stderr
        self.asked = self.stopped = False
        FakeKernel.made.append(self)

    def request_shutdown(self):
        self.asked = True

    def shutdown(self, wait=5.0):
        self.stopped = True
        self.stderr.close()


@pytest.fixture
def kernels():
    FakeKernel.made = []
    return FakeKernel.made


def plan(tmp_path: Path, threads: int = 2, names=NOTEBOOKS, level="transactions") -> Plan:
    return Plan(names=list(names), level=level, notebooks={n: tmp_path / f"{n}.ipynb" for n in names},
                kernel="fake", cwd=tmp_path, log_dir=tmp_path, threads=threads, environment={"X": "1"})


class QuietMachine:
    """A load meter that reports `busy` cores used by other programs."""

    def __init__(self, busy: float = 0.0):
        self.busy = busy

    def sample(self):
        pass

    def others(self):
        return self.busy


def schedule(p: Plan, execute, render=lambda name, executed: None, progress=None, busy: float = 0.0):
    with KernelPool(p, FakeKernel) as pool:
        return run_schedule(pool, execute, render, progress or Progress(p.names, {}, mode="plain"), QuietMachine(busy))


def recorder(seconds: float = 0.05, fail: str | None = None):
    spans: dict[str, tuple[float, float]] = {}
    lock = threading.Lock()

    def execute(name, kernel, on_cell):
        t0 = time.perf_counter()
        on_cell(1, 2, "Setup")
        time.sleep(seconds)
        if name == fail:
            raise RuntimeError(f"{name} broke")
        on_cell(2, 2, "Results")
        with lock:
            spans[name] = (t0, time.perf_counter())
        return Path(f"{name}.ipynb")

    return spans, execute


def test_02_and_03_run_side_by_side_and_04_waits_for_both(tmp_path, kernels, monkeypatch):
    monkeypatch.setattr("helpers.schedule.available_cores", lambda: 2)
    spans, execute = recorder()
    rendered = []
    seconds = schedule(plan(tmp_path), execute, lambda n, p: rendered.append(n))
    assert set(seconds) == set(NOTEBOOKS) == set(rendered)
    (s1, e1), (s2, e2), (s3, e3), (s4, e4), (s5, _) = (spans[n] for n in NOTEBOOKS)
    assert e1 <= s2 and e1 <= s3  # both need 01's output
    assert s2 < e3 and s3 < e2  # and overlap
    assert max(e2, e3) <= s4 and e4 <= s5
    assert [Path(k.notebook).stem for k in kernels] == list(NOTEBOOKS)  # one kernel each, none extra
    assert all(k.asked and k.stopped and k.stderr.closed for k in kernels)


def test_side_by_side_steps_share_the_threads_and_one_core_runs_one_step_at_a_time(tmp_path, kernels, monkeypatch):
    monkeypatch.setattr("helpers.schedule.available_cores", lambda: 2)
    spans, execute = recorder()
    schedule(plan(tmp_path, threads=2), execute)
    threads = {Path(k.notebook).stem: k.environment["OMP_NUM_THREADS"] for k in kernels}
    assert threads == {"01_clean": "2", "02_eda": "1", "03_rfm": "1", "04_clustering": "2", "05_personas": "2"}
    assert all(k.environment["X"] == "1" for k in kernels)

    FakeKernel.made.clear()
    spans, execute = recorder()
    schedule(plan(tmp_path, threads=1), execute)
    starts = sorted((span[0], span[1]) for span in spans.values())
    assert all(end <= next_start for (_, end), (next_start, _) in zip(starts, starts[1:], strict=False))  # never two at once
    assert {k.environment["OMP_NUM_THREADS"] for k in FakeKernel.made} == {"1"}


def test_a_customer_level_run_keeps_03_after_02(tmp_path, kernels, monkeypatch):
    monkeypatch.setattr("helpers.schedule.available_cores", lambda: 2)
    spans, execute = recorder()
    schedule(plan(tmp_path, level="customers"), execute)
    assert spans["02_eda"][1] <= spans["03_rfm"][0]


def test_a_failing_step_stops_the_run_and_every_kernel(tmp_path, kernels, monkeypatch):
    monkeypatch.setattr("helpers.schedule.available_cores", lambda: 2)
    spans, execute = recorder(fail="03_rfm")
    with pytest.raises(RuntimeError, match="03_rfm broke"):
        schedule(plan(tmp_path), execute)
    assert "04_clustering" not in spans and "05_personas" not in spans
    assert kernels and all(k.stopped and k.stderr.closed for k in kernels)


def test_the_terminal_shows_each_step_start_and_end_in_order(tmp_path, kernels, monkeypatch, capsys):
    monkeypatch.setattr("helpers.schedule.available_cores", lambda: 2)
    _, execute = recorder()
    schedule(plan(tmp_path, names=["01_clean"]), execute,
             progress=Progress(["01_clean"], {"01_clean": [0.5, 1.0]}, mode="plain"))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "[1/1] 01_clean: running ... (previous run: 1.5 s)"
    assert lines[1].startswith("[1/1] 01_clean: done in ") and len(lines) == 2


def _is_module(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:  # "helpers.config.load_params": a function, not a module
        return False


def test_every_notebook_warms_up_with_the_helpers_it_imports():
    from helpers.config import PROJECT_ROOT
    from helpers.kernels import notebook_imports, warm_up_line

    for notebook in sorted((PROJECT_ROOT / "notebooks").glob("0*.ipynb")):
        modules = notebook_imports(notebook)
        assert "helpers.config" in modules and "helpers.catalog" in modules, notebook.name
        real = [m for m in modules if m.startswith("helpers.") and _is_module(m)]
        assert len(real) >= 4, notebook.name
        assert warm_up_line(modules).startswith("__import__('helpers.kernels').kernels.preload([")


def test_04_starts_before_02_ends_when_no_clustering_feature_comes_from_02s_table(tmp_path, kernels, monkeypatch):
    monkeypatch.setattr("helpers.schedule.available_cores", lambda: 2)
    spans: dict[str, tuple[float, float]] = {}

    def execute(name, kernel, on_cell):
        t0 = time.perf_counter()
        time.sleep(0.6 if name == "02_eda" else 0.05)
        spans[name] = (t0, time.perf_counter())
        return Path(f"{name}.ipynb")

    p = plan(tmp_path)
    p.unneeded = (("04_clustering", "02_eda"),)
    schedule(p, execute)
    assert spans["04_clustering"][0] < spans["02_eda"][1]  # 04 ran beside 02
    assert spans["03_rfm"][1] <= spans["04_clustering"][0]
    assert max(spans["02_eda"][1], spans["04_clustering"][1]) <= spans["05_personas"][0]  # 05 reads both


def test_the_kernel_plan_drops_the_04_to_02_link_only_when_the_features_allow(tmp_path):
    from helpers.schedule import kernel_plan

    base = {"input": {"level": "transactions"}, "run": {"kernel": "k", "threads": None}}
    rfm_only = kernel_plan({**base, "clustering": {"features": ["recency_days", "monetary"]}}, NOTEBOOKS, tmp_path, tmp_path)
    with_gender = kernel_plan({**base, "clustering": {"features": ["monetary", "gender"]}}, NOTEBOOKS, tmp_path, tmp_path)
    assert rfm_only.unneeded == (("04_clustering", "02_eda"),) and with_gender.unneeded == ()


def test_steps_side_by_side_get_half_the_threads_and_half_the_memory(tmp_path, monkeypatch):
    monkeypatch.setattr("helpers.schedule.available_cores", lambda: 2)
    pool = KernelPool(plan(tmp_path, threads=2), FakeKernel)
    assert pool.step_settings("01_clean", "2GB") == {"threads": 2, "memory_limit": "2GB"}
    assert pool.step_settings("02_eda", "2GB") == {"threads": 1, "memory_limit": "1000MB"}
    assert pool.step_settings("03_rfm", "50%") == {"threads": 1, "memory_limit": "25%"}
    one_core = KernelPool(plan(tmp_path, threads=1), FakeKernel)  # one step at a time: nothing to share
    assert one_core.step_settings("02_eda", "2GB") == {"threads": 1, "memory_limit": "2GB"}


def test_under_load_the_steps_run_one_at_a_time_with_all_the_threads_and_memory(tmp_path, kernels, monkeypatch):
    monkeypatch.setattr("helpers.schedule.available_cores", lambda: 2)
    spans, execute = recorder()
    settings = {}
    p = plan(tmp_path)
    with KernelPool(p, FakeKernel) as pool:
        def execute_and_note(name, kernel, on_cell):
            settings[name] = pool.step_settings(name, "2GB")
            return execute(name, kernel, on_cell)

        run_schedule(pool, execute_and_note, lambda n, e: None, Progress(p.names, {}, mode="plain"), QuietMachine(2.0))
    starts = sorted(spans.values())
    assert all(end <= next_start for (_, end), (next_start, _) in zip(starts, starts[1:], strict=False))
    assert settings["02_eda"] == settings["03_rfm"] == {"threads": 2, "memory_limit": "2GB"}


def test_the_load_meter_sees_a_busy_program_that_is_not_the_runs_own():
    import os
    import signal
    import subprocess

    # `yes` started by a shell that exits at once: not a child of this process, like another user's job
    pid = int(subprocess.run(["bash", "-c", "yes > /dev/null 2>&1 & echo $!"], capture_output=True, text=True).stdout)
    try:
        meter = LoadMeter(window=5.0)
        meter.sample()
        time.sleep(1.0)
        meter.sample()
        assert meter.others() >= 0.7
    finally:
        os.kill(pid, signal.SIGKILL)
    own = LoadMeter(window=5.0)
    own.sample()
    child = subprocess.Popen(["yes"], stdout=subprocess.DEVNULL)  # the run's own work is not "others"
    try:
        time.sleep(1.0)
        own.sample()
    finally:
        child.kill()
        child.wait()
    (_, _, ours_before), (_, _, ours_after) = own._samples[0], own._samples[-1]
    assert ours_after - ours_before >= 0.5  # the child's second of CPU counted as the run's


def test_big_data_runs_one_step_at_a_time(tmp_path, kernels, monkeypatch):
    """Above SIDE_BY_SIDE_MAX_ROWS cleaned lines each step needs every core and all the memory."""
    import json

    from helpers.schedule import SIDE_BY_SIDE_MAX_ROWS, small_enough

    monkeypatch.setattr("helpers.schedule.available_cores", lambda: 2)
    (tmp_path / "metrics").mkdir()
    assert small_enough(tmp_path)  # no figure yet: customer-level runs, or 01 not in this run
    (tmp_path / "metrics" / "01_clean.json").write_text(json.dumps({"rows": SIDE_BY_SIDE_MAX_ROWS + 1}))
    assert not small_enough(tmp_path)
    spans, execute = recorder()
    p = plan(tmp_path)
    with KernelPool(p, FakeKernel) as pool:
        run_schedule(pool, execute, lambda n, e: None, Progress(p.names, {}, mode="plain"), QuietMachine(0.0),
                     room=lambda: small_enough(tmp_path))
    starts = sorted(spans.values())
    assert all(end <= next_start for (_, end), (next_start, _) in zip(starts, starts[1:], strict=False))
    (tmp_path / "metrics" / "01_clean.json").write_text(json.dumps({"rows": 1000}))
    assert small_enough(tmp_path)


def test_a_step_started_alone_under_load_gets_no_company_when_the_load_ends(tmp_path, kernels, monkeypatch):
    """The first of 02/03 started under load holds all the memory: the other waits for it."""
    monkeypatch.setattr("helpers.schedule.available_cores", lambda: 2)

    class LoadThatEnds(QuietMachine):
        def __init__(self):
            super().__init__(2.0)
            self.calls = 0

        def others(self):
            self.calls += 1
            return 2.0 if self.calls <= 2 else 0.0

    spans, execute = recorder(seconds=0.3)
    p = plan(tmp_path)
    with KernelPool(p, FakeKernel) as pool:
        run_schedule(pool, execute, lambda n, e: None, Progress(p.names, {}, mode="plain"), LoadThatEnds())
    first, second = sorted([spans["02_eda"], spans["03_rfm"]])
    assert first[1] <= second[0]
