"""Kernels started ahead of their step, with the step's imports already done.

A step's notebook spends 1-2 s starting a kernel and importing pandas, matplotlib,
scikit-learn and the helpers before its first real cell. The runner starts the kernel of a
coming step while earlier steps run (`WarmKernel`): the kernel imports the modules its
notebook imports (`notebook_imports`) during start-up, through IPython's ``exec_lines``,
which run before the kernel answers and outside the history, so the notebook's cells keep
their numbers and its namespace is untouched. papermill then executes the notebook in that
kernel (``km=``) as it would in a fresh one.

Each kernel gets the run's thread budget in the variables OpenMP and the BLAS libraries
read at start (`thread_environment`), so two steps side by side never start more compute
threads than the machine has cores.
"""

from __future__ import annotations

import ast
import functools
import importlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

# OpenMP runtime settings the kernels inherit, unless the user's environment sets them.
# PASSIVE: an idle OpenMP thread sleeps instead of spinning. Measured on 04_clustering (shipped
# data, 2 cores): 9.2 s quiet either way (9.6 s passive), but with two busy processes beside
# it 78.5 s spinning and 13.9 s passive (issue 16).
KERNEL_ENVIRONMENT: dict[str, str] = {"OMP_WAIT_POLICY": "PASSIVE"}


def kernel_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """Return the variables of `KERNEL_ENVIRONMENT` that `environ` does not set already.

    >>> kernel_environment({}), kernel_environment({"OMP_WAIT_POLICY": "ACTIVE"})
    ({'OMP_WAIT_POLICY': 'PASSIVE'}, {})
    """
    return {key: value for key, value in KERNEL_ENVIRONMENT.items() if key not in environ}


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def thread_environment(threads: int, environ: Mapping[str, str]) -> dict[str, str]:
    """Thread-pool sizes for a kernel given `threads` cores, for the variables `environ` lacks.

    >>> thread_environment(1, {"MKL_NUM_THREADS": "4"})
    {'OMP_NUM_THREADS': '1', 'OPENBLAS_NUM_THREADS': '1'}
    """
    return {name: str(max(1, threads)) for name in THREAD_VARIABLES if name not in environ}


def _code_lines(source: str) -> str:
    """Cell source without IPython magics and shell escapes, so `ast` can read it."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def notebook_imports(notebook: Path) -> list[str]:
    """Modules the notebook's code cells import, in order, without repeats.

    ``from helpers import eda`` yields ``helpers`` and ``helpers.eda`` (a candidate: `preload`
    skips names that are not modules). Cells that do not parse are skipped.

    >>> import tempfile
    >>> cells = [{"cell_type": "code", "source": "%matplotlib inline\\nimport numpy as np\\n"
    ...           "from helpers import eda, rfm\\nimport os.path"}]
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "n.ipynb"
    ...     _ = path.write_text(json.dumps({"cells": cells}))
    ...     notebook_imports(path)
    ['numpy', 'helpers', 'helpers.eda', 'helpers.rfm', 'os.path']
    """
    modules: list[str] = []
    for cell in json.loads(notebook.read_text(encoding="utf-8")).get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        try:
            tree = ast.parse(_code_lines(source))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules.extend(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                modules.append(node.module)
                modules.extend(f"{node.module}.{alias.name}" for alias in node.names if alias.name != "*")
    return list(dict.fromkeys(modules))


def preload(modules: Iterable[str]) -> None:
    """Import `modules`, skipping names that are not importable modules (the notebook reports those itself)."""
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            continue


def warm_up_line(modules: Iterable[str]) -> str:
    """One statement for ``exec_lines`` that imports `modules` and binds no name in the kernel.

    >>> warm_up_line(["numpy", "helpers.eda"])
    "__import__('helpers.kernels').kernels.preload(['numpy', 'helpers.eda'])"
    """
    return f"__import__('helpers.kernels').kernels.preload({list(modules)!r})"


class WarmKernel:
    """A kernel for one notebook, started now, importing what the notebook imports.

    Parameters
    ----------
    kernel_name : str
        Jupyter kernel (``run.kernel``).
    notebook : Path
        The notebook it will run; its imports are done during start-up.
    cwd : Path
        The kernel's working folder (the notebooks folder, as papermill would set).
    stderr : file object
        Where the kernel process writes its warnings (the step's log).
    environment : mapping
        Variables added to this process's environment for the kernel.

    Raises
    ------
    jupyter_client.kernelspec.NoSuchKernel
        When `kernel_name` is not installed.
    """

    def __init__(self, kernel_name: str, notebook: Path, cwd: Path, stderr: IO[Any],
                 environment: Mapping[str, str]) -> None:
        from jupyter_client import AsyncKernelManager
        from jupyter_core.utils import run_sync

        self.notebook = notebook
        self.manager = AsyncKernelManager(kernel_name=kernel_name)
        self._stderr = stderr
        self._asked = False
        line = warm_up_line(notebook_imports(notebook))
        run_sync(self.manager.start_kernel)(
            cwd=str(cwd), env={**os.environ, **environment}, stderr=stderr,
            extra_arguments=[f"--IPKernelApp.exec_lines={line}"],
        )

    def request_shutdown(self) -> None:
        """Ask the kernel to exit without waiting for it (its step has finished)."""
        from jupyter_core.utils import run_sync

        if self.manager.has_kernel and not self._asked:
            self._asked = True
            run_sync(self.manager.request_shutdown)()

    def shutdown(self, wait: float = 5.0) -> None:
        """Stop the kernel, killing it when it has not exited after `wait` seconds; close its log.

        A kernel that exits by itself removes its temporary folders (DuckDB's work folder).
        """
        from jupyter_core.utils import run_sync

        try:
            if self.manager.has_kernel:
                self.request_shutdown()
                run_sync(self.manager.finish_shutdown)(waittime=wait)
                run_sync(self.manager.cleanup_resources)()
        finally:
            self._stderr.close()


ENGINE_NAME = "ecomseg-cells"  # papermill engine that reports each code cell as it starts

# papermill writes the whole notebook (validated, charts base64) as each cell starts and again
# as it ends: about 40 writes per step. The write at a cell's end is left out (`fewer_saves`):
# the next cell's start, or the notebook's end, writes the same outputs a moment later, and
# the file on disk still shows which cell is running.


def fewer_saves(nb_man: Any) -> None:
    """Make papermill's notebook manager `nb_man` skip the write at the end of each cell.

    The notebook is still written when it starts, as each cell starts (with the previous
    cell's outputs) and when it ends, failed or not (``notebook_complete``).
    """
    save, complete = nb_man.save, nb_man.cell_complete

    def cell_complete(*args: Any, **kwargs: Any) -> Any:
        nb_man.save = lambda **_: None
        try:
            return complete(*args, **kwargs)
        finally:
            nb_man.save = save

    nb_man.cell_complete = cell_complete


@functools.cache
def register_engine() -> str:
    """Register (once) the papermill engine that calls ``on_cell(number, count, stage)``; return its name.

    It is papermill's own nbclient engine; only the notebook manager's ``cell_start`` is wrapped,
    so a notebook runs exactly as with the default engine, with one write per cell instead of
    two (`fewer_saves`).
    """
    from papermill.engines import NBClientEngine, papermill_engines

    from helpers.progress import stage_of

    class CellReportingEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, on_cell: Any = None, **kwargs: Any) -> Any:
            if on_cell is not None:
                start = nb_man.cell_start

                def cell_start(cell: Any, cell_index: int | None = None, **kw: Any) -> Any:
                    cells = nb_man.nb.cells
                    code = [i for i, c in enumerate(cells) if c.cell_type == "code"]
                    if cell.cell_type == "code" and cell_index in code:
                        on_cell(code.index(cell_index) + 1, len(code), stage_of(cells, cell_index))
                    return start(cell, cell_index, **kw)

                nb_man.cell_start = cell_start
            fewer_saves(nb_man)
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)

    papermill_engines.register(ENGINE_NAME, CellReportingEngine)
    return ENGINE_NAME
