"""The papermill engine writes a notebook once per cell, with papermill's own notebook manager and a real file."""

from __future__ import annotations

from pathlib import Path

import nbformat
from papermill.engines import NotebookExecutionManager
from papermill.execute import prepare_notebook_metadata
from papermill.iorw import load_notebook_node

from helpers.kernels import fewer_saves


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


def test_the_notebook_is_written_at_its_start_as_each_cell_starts_and_at_its_end(tmp_path):
    path, writes = tmp_path / "out.ipynb", []
    manager = _manager(path)
    _count_writes(writes, manager)
    fewer_saves(manager)
    manager.notebook_start()
    assert path.is_file() and len(writes) == 1  # written at once: a failed start still leaves a notebook
    manager.cell_start(manager.nb.cells[0], 0)
    on_disk = nbformat.read(path, as_version=4)
    assert len(writes) == 2 and on_disk.cells[0].metadata.papermill["status"] == "running"  # where it is
    manager.cell_complete(manager.nb.cells[0], 0)
    assert len(writes) == 2  # the end of a cell is not written ...
    manager.cell_start(manager.nb.cells[1], 1)
    on_disk = nbformat.read(path, as_version=4)
    assert on_disk.cells[0].metadata.papermill["status"] == "completed"  # ... the next start writes it
    manager.cell_complete(manager.nb.cells[1], 1)
    manager.notebook_complete()
    assert len(writes) == 4
    saved = nbformat.read(path, as_version=4)
    assert [c.metadata.papermill["status"] for c in saved.cells] == ["completed", "completed", "completed"]
    assert saved.metadata.papermill["end_time"] is not None  # the final state is on disk
