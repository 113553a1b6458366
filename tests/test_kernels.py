"""The papermill engine's spaced saves, with papermill's own notebook manager and a real file."""

from __future__ import annotations

from pathlib import Path

import nbformat
from papermill.engines import NotebookExecutionManager
from papermill.execute import prepare_notebook_metadata
from papermill.iorw import load_notebook_node

from helpers.kernels import throttle_saves


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _manager(path: Path) -> NotebookExecutionManager:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"x = {i}") for i in range(3)])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    source = path.with_name("in.ipynb")
    nbformat.write(nb, source)
    nb = prepare_notebook_metadata(load_notebook_node(str(source)), str(source), str(path))
    return NotebookExecutionManager(nb, output_path=str(path), progress_bar=False)


def _count_writes(counter: list[int], manager: NotebookExecutionManager) -> None:
    save = manager.save

    def counted(**kwargs) -> None:
        counter.append(1)
        save(**kwargs)

    manager.save = counted


def test_the_notebook_is_written_at_its_start_then_every_interval_and_at_its_end(tmp_path):
    path, writes, clock = tmp_path / "out.ipynb", [], Clock()
    manager = _manager(path)
    _count_writes(writes, manager)
    throttle_saves(manager, every=10.0, clock=clock)
    manager.notebook_start()
    assert path.is_file() and len(writes) == 1  # written at once: a failed start still leaves a notebook
    for index, cell in enumerate(manager.nb.cells):  # three quick cells: 6 saves asked, none due
        manager.cell_start(cell, index)
        manager.cell_complete(cell, index)
    assert len(writes) == 1
    clock.now = 10.0  # a long cell: its start is written once the interval has passed
    manager.cell_start(manager.nb.cells[0], 0)
    assert len(writes) == 2
    manager.notebook_complete()
    assert len(writes) == 3
    saved = nbformat.read(path, as_version=4)
    assert [c.metadata.papermill["status"] for c in saved.cells] == ["running", "completed", "completed"]
    assert saved.metadata.papermill["end_time"] is not None  # the final state is on disk
