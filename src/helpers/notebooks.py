"""Keep committed notebooks free of outputs.

``python -m helpers.notebooks --check notebooks`` exits 1 listing notebooks that carry
outputs or execution counts; ``--strip`` removes them in place (cell tags such as
``parameters`` are kept).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import nbformat


def notebook_has_outputs(path: Path) -> bool:
    """Return True when any code cell of the notebook has outputs or an execution count."""
    notebook = nbformat.read(path, as_version=4)
    return any(
        cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count"))
        for cell in notebook.cells
    )


def strip_outputs(path: Path) -> bool:
    """Remove outputs and execution counts in place; return True when the file changed."""
    notebook = nbformat.read(path, as_version=4)
    changed = False
    for cell in notebook.cells:
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count")):
            cell.outputs = []
            cell.execution_count = None
            changed = True
        if cell.get("metadata", {}).pop("execution", None) is not None:
            changed = True
    if changed:
        nbformat.write(notebook, path)
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    """Check or strip every ``*.ipynb`` in the given folders."""
    parser = argparse.ArgumentParser(prog="python -m helpers.notebooks")
    parser.add_argument("folders", nargs="+", type=Path)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--check", action="store_true")
    group.add_argument("--strip", action="store_true")
    args = parser.parse_args(argv)
    paths = sorted(p for folder in args.folders for p in folder.glob("*.ipynb"))
    if args.strip:
        for path in paths:
            if strip_outputs(path):
                print(f"stripped {path}")
        return 0
    dirty = [str(p) for p in paths if notebook_has_outputs(p)]
    for path in dirty:
        print(f"{path}: has outputs; fix: python -m helpers.notebooks --strip notebooks", file=sys.stderr)
    if not dirty:
        print(f"notebooks: {len(paths)} checked, none has outputs")
    return 1 if dirty else 0


if __name__ == "__main__":
    sys.exit(main())
