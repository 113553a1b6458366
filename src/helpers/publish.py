"""Publish a run all or nothing: one run at a time, staged outputs swapped in or rolled back.

A report run writes every data file into its own staging folder first. Publishing then

1. moves each staged file into its target folder (``data/interim``, ``data/processed``),
   keeping the file it replaces in a backup folder beside it (`Promotion.apply`), and
   writing a journal *before* the first move;
2. switches ``reports/latest`` to the new run (the commit point, an atomic symlink swap);
3. deletes the backups and the journal (`Promotion.commit`).

A failure or interrupt before step 2 restores every replaced file and removes every new one
(`Promotion.rollback`), so either every output changes or none does. A process killed in
between (power loss, SIGKILL) leaves the journal; the next run finds it and rolls back or
commits depending on where ``reports/latest`` points (`recover`).

Only one run may publish into the same folders at a time: `OutputLock` holds an exclusive
``flock`` on an empty ``.ecomseg.lock`` file in each output folder for the whole run (released
by the kernel when the process dies, so a killed run never leaves a stale lock).

Signals: `Interrupts` turns SIGINT and SIGTERM into KeyboardInterrupt outside publishing and
defers them during it (publishing takes milliseconds); the exit status is 128 + the signal
number (130 for Ctrl-C, 143 for SIGTERM).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import shutil
import signal
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

from helpers.errors import UserError

LOCK_FILE = ".ecomseg.lock"
BACKUP_PREFIX = ".ecomseg-backup-"
JOURNAL = "journal.json"


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """Return the hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


class OutputLock:
    """Exclusive lock on a run's output folders, held from start to publish.

    Parameters
    ----------
    folders : mapping
        Params key (e.g. ``"paths.processed_dir"``) -> folder. Missing folders are made.
    """

    def __init__(self, folders: Mapping[str, Path]) -> None:
        # Sorted by path, so two runs never wait on each other in opposite orders.
        self.folders = dict(sorted(folders.items(), key=lambda kv: str(Path(kv[1]).resolve())))
        self._handles: list[TextIO] = []

    def __enter__(self) -> OutputLock:
        seen: set[Path] = set()
        try:
            for key, folder in self.folders.items():
                folder = Path(folder)
                if folder.resolve() in seen:
                    continue
                seen.add(folder.resolve())
                self._handles.append(_lock_folder(key, folder))
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        for handle in self._handles:
            with contextlib.suppress(OSError):
                fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()
        self._handles.clear()


def _lock_folder(key: str, folder: Path) -> TextIO:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = open(folder / LOCK_FILE, "a+", encoding="utf-8")  # noqa: SIM115 - held until __exit__
    except OSError as exc:
        raise UserError(
            f"{folder}: cannot write here ({exc.strerror}); fix: set {key} to a writable folder"
        ) from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise UserError(
            f"{folder}: another report run is using this folder ({key}); "
            f"fix: wait for it to finish, or give this run other folders in its params"
        ) from None
    return handle


class Promotion:
    """Move staged files into their target folders, able to undo the move until committed.

    Parameters
    ----------
    run_id : str
        The run whose files these are (recorded in the journal).
    staged : mapping
        Key -> staging folder; every file directly inside it is published.
    targets : mapping
        Key -> target folder (same keys as `staged`).
    """

    def __init__(self, run_id: str, staged: Mapping[str, Path], targets: Mapping[str, Path]) -> None:
        self.run_id = run_id
        self.staged = dict(staged)
        self.targets = {key: Path(targets[key]) for key in self.staged}
        self.plan: list[dict[str, Any]] = []

    def _backup_dir(self, target: Path) -> Path:
        return target / f"{BACKUP_PREFIX}{self.run_id}"

    def apply(self) -> list[str]:
        """Publish every staged file; on any failure or interrupt, roll back and re-raise.

        Returns
        -------
        list of str
            The published files, at their final paths.
        """
        self.plan = [
            {"source": str(item), "dest": str(self.targets[key] / item.name),
             "existed": (self.targets[key] / item.name).exists(), "backup_dir": str(self._backup_dir(self.targets[key]))}
            for key, folder in self.staged.items() if folder.is_dir()
            for item in sorted(folder.iterdir())
        ]
        try:
            for target in {Path(step["dest"]).parent for step in self.plan}:
                backup = self._backup_dir(target)
                backup.mkdir(parents=True, exist_ok=True)
                _write_journal(backup / JOURNAL, self.run_id, self.plan)
            for step in self.plan:
                dest, backup = Path(step["dest"]), Path(step["backup_dir"]) / Path(step["dest"]).name
                if step["existed"]:
                    os.replace(dest, backup)
                _move(Path(step["source"]), dest)
        except BaseException:
            self.rollback()
            raise
        return [step["dest"] for step in self.plan]

    def rollback(self) -> None:
        """Restore every replaced file and remove every new one (safe to call twice)."""
        _undo(self.plan)
        for folder in {Path(step["backup_dir"]) for step in self.plan}:
            shutil.rmtree(folder, ignore_errors=True)

    def commit(self) -> None:
        """Forget the backups: the run is published."""
        for folder in {Path(step["backup_dir"]) for step in self.plan}:
            with contextlib.suppress(FileNotFoundError):
                (folder / JOURNAL).unlink()
            shutil.rmtree(folder, ignore_errors=True)


def _write_journal(path: Path, run_id: str, plan: list[dict[str, Any]]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"run_id": run_id, "plan": plan,
                               "written": dt.datetime.now().isoformat(timespec="seconds")}), encoding="utf-8")
    os.replace(tmp, path)


def _move(source: Path, dest: Path) -> None:
    """Move a file into place atomically (a copy then a rename across filesystems)."""
    try:
        os.replace(source, dest)
    except OSError as exc:
        if exc.errno != 18:  # EXDEV: another filesystem
            raise
        tmp = dest.with_name(f".{dest.name}.tmp")
        shutil.copy2(source, tmp)
        os.replace(tmp, dest)
        source.unlink()


def _undo(plan: list[dict[str, Any]]) -> None:
    for step in reversed(plan):
        dest = Path(step["dest"])
        backup = Path(step["backup_dir"]) / dest.name
        if step["existed"]:
            if backup.exists():  # else the old file was never moved away
                os.replace(backup, dest)
        else:
            dest.unlink(missing_ok=True)


def recover(targets: Mapping[str, Path], reports_dir: Path) -> list[str]:
    """Finish publications a killed run left half done; return what was done, for the log.

    A journal whose run ``reports/latest`` points at was committed (only its backups are
    left to delete); any other journal is rolled back.
    """
    latest = reports_dir / "latest"
    current = os.readlink(latest) if latest.is_symlink() else None
    done = []
    for target in {Path(t) for t in targets.values()}:
        for backup in sorted(target.glob(f"{BACKUP_PREFIX}*")):
            try:
                journal = json.loads((backup / JOURNAL).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                journal = None
            if journal and journal["run_id"] != current:
                _undo([s for s in journal["plan"] if Path(s["dest"]).parent == target])
                done.append(f"rolled back the unfinished publication of run {journal['run_id']} in {target}")
            shutil.rmtree(backup, ignore_errors=True)
    return done


class Interrupts:
    """SIGINT/SIGTERM handling for the runner: interrupt now, or after publishing.

    Use as a context manager around the run; `deferred` around publishing.
    ``received`` holds the first signal number.
    """

    def __init__(self) -> None:
        self.received: int | None = None
        self._deferring = False
        self._saved: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.received is None:
            self.received = signum
        if not self._deferring:
            raise KeyboardInterrupt

    def __enter__(self) -> Interrupts:
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._saved[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for signum, handler in self._saved.items():
            signal.signal(signum, handler)

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """Hold signals for the block; an interrupt that arrived before it still interrupts."""
        if self.received is not None:
            raise KeyboardInterrupt
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False

    @property
    def exit_status(self) -> int:
        """128 + the signal received (130 when none was recorded: a KeyboardInterrupt)."""
        return 128 + (self.received or signal.SIGINT)


def rewrite_paths(folder: Path, replacements: Mapping[str, str]) -> None:
    """Replace staged paths with final ones in the executed notebooks and HTML of `folder`.

    Notebooks print where they wrote (e.g. ``reports/<id>.partial/data/processed/rfm.parquet``);
    after a successful run the files are elsewhere, and the reports should say so. Longer
    paths are replaced first, so a folder inside another is rewritten as a whole.
    """
    import html

    pairs = sorted(replacements.items(), key=lambda kv: len(kv[0]), reverse=True)
    for page in [*folder.glob("*.ipynb"), *folder.glob("*.html")]:
        text = original = page.read_text(encoding="utf-8")
        for old, new in pairs:
            text = text.replace(old, new)
            if html.escape(old) != old:
                text = text.replace(html.escape(old), html.escape(new))
        if text != original:
            page.write_text(text, encoding="utf-8")
