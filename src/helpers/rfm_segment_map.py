"""The RFM segment map: an editable CSV that names a segment for every (R score, F score) pair.

The map is a rule table (STYLE.md, "rules as data"): one row per rectangle of the R x F
grid, so a new segment is one row. `load_segment_map` reads it and refuses a map that
leaves a score pair unmapped or maps one twice; `helpers.rfm.assign_segments` walks it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from helpers.errors import UserError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SEGMENT_MAP = Path(__file__).with_name("segment_map.csv")
MAX_SCORE = 5  # scores run 1-5, so the map covers a 5 x 5 grid
_MAP_COLUMNS: tuple[str, ...] = ("r_score", "f_score", "segment", "description", "action")


def resolve_segment_map_path(value: str | Path | None) -> Path:
    """Return the segment-map file: the shipped one for None/"", else the path given.

    Relative paths are taken from the project root, so the result does not depend on the
    folder a notebook runs in.

    Examples
    --------
    >>> resolve_segment_map_path("") == DEFAULT_SEGMENT_MAP
    True
    """
    if value is None or str(value).strip() == "":
        return DEFAULT_SEGMENT_MAP
    path = Path(value).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


def _parse_score_cell(cell: str, column: str, line: int, path: Path) -> range:
    text = cell.strip().replace(" ", "")
    low, sep, high = text.partition("-")
    try:
        first, last = int(low), int(high) if sep else int(low)
    except ValueError:
        first, last = 0, 0
    if not (1 <= first <= last <= MAX_SCORE):
        raise UserError(
            f"{path}: line {line}, column '{column}': {cell!r} is not a score 1-{MAX_SCORE} "
            f"or a range like 3-4; fix: correct that cell"
        )
    return range(first, last + 1)


def _pairs_text(pairs: Sequence[tuple[int, int]], shown: int = 5) -> str:
    """Name score pairs with their verb, e.g. ``score pairs (R=1, F=1), (R=1, F=2) are``.

    Examples
    --------
    >>> _pairs_text([(1, 1)])
    'score pair (R=1, F=1) is'
    >>> _pairs_text([(1, f) for f in range(1, 8)], shown=2)
    'score pairs (R=1, F=1), (R=1, F=2) and 5 more are'
    """
    if len(pairs) == 1:
        r, f = pairs[0]
        return f"score pair (R={r}, F={f}) is"
    listed = ", ".join(f"(R={r}, F={f})" for r, f in pairs[:shown])
    more = f" and {len(pairs) - shown} more" if len(pairs) > shown else ""
    return f"score pairs {listed}{more} are"


def _read_map_file(path: Path) -> pd.DataFrame:
    """Read the CSV as text; UserError when the file or a column is missing."""
    if not path.is_file():
        raise UserError(
            f"{path}: segment map not found; fix: set rfm.segment_map to an existing CSV"
        )
    table = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    for column in _MAP_COLUMNS:
        if column not in table.columns:
            raise UserError(
                f"{path}: column '{column}' is missing; fix: the header must be "
                f"{','.join(_MAP_COLUMNS)}"
            )
    return table


def _map_cells(
    table: pd.DataFrame, path: Path
) -> tuple[dict[tuple[int, int], tuple[int, str]], dict[str, dict[str, str]]]:
    """Walk the rows: the (line, segment) of each score pair, and each segment's texts."""
    cells: dict[tuple[int, int], tuple[int, str]] = {}
    info: dict[str, dict[str, str]] = {}
    for position, row in enumerate(table.itertuples(index=False)):
        line = position + 2  # header is line 1
        segment = str(row.segment).strip()
        if not segment:
            raise UserError(f"{path}: line {line}: empty segment name; fix: name the segment")
        seg_info = info.setdefault(segment, {"description": "", "action": ""})
        for key in ("description", "action"):
            if not seg_info[key]:
                seg_info[key] = str(getattr(row, key)).strip()
        for r in _parse_score_cell(str(row.r_score), "r_score", line, path):
            for f in _parse_score_cell(str(row.f_score), "f_score", line, path):
                if (r, f) in cells:
                    first_line, first_segment = cells[(r, f)]
                    raise UserError(
                        f"{path}: score pair (R={r}, F={f}) is mapped twice (line "
                        f"{first_line} -> {first_segment!r}, line {line} -> {segment!r}); "
                        f"fix: keep it in one row"
                    )
                cells[(r, f)] = (line, segment)
    return cells, info


def load_segment_map(path: str | Path = DEFAULT_SEGMENT_MAP) -> pd.DataFrame:
    """Read and check the segment map: every (R, F) score pair must name exactly one segment.

    The CSV has one row per rectangle of the R x F grid: ``r_score`` and ``f_score`` hold
    a score (``5``) or an inclusive range (``3-4``), then ``segment``, ``description`` and
    ``action``. A segment may span several rows; its description and action come from its
    first row that has them. File order is the display order of the segments.

    Parameters
    ----------
    path : str or Path, default the shipped ``helpers/segment_map.csv``
        The map to read.

    Returns
    -------
    pandas.DataFrame
        25 rows, one per (r_score, f_score), with segment (categorical, in file order),
        description and action.

    Raises
    ------
    UserError
        Missing file or column, a bad score cell, an empty segment name, or a score pair
        that is unmapped or mapped twice (the message names the pair and the file).

    Examples
    --------
    >>> load_segment_map()["segment"].cat.categories[0]
    'Champions'
    """
    path = Path(path)
    cells, info = _map_cells(_read_map_file(path), path)
    grid = [(r, f) for r in range(1, MAX_SCORE + 1) for f in range(1, MAX_SCORE + 1)]
    unmapped = [pair for pair in grid if pair not in cells]
    if unmapped:
        raise UserError(
            f"{path}: {_pairs_text(unmapped)} not mapped to a segment; fix: add a row "
            f"(r_score,f_score,segment,description,action) that covers "
            f"{'it' if len(unmapped) == 1 else 'them'}"
        )
    segment_map = pd.DataFrame(
        [
            {"r_score": r, "f_score": f, "segment": seg, **info[seg]}
            for (r, f), (_, seg) in sorted(cells.items())
        ]
    )
    segment_map["segment"] = pd.Categorical(segment_map["segment"], categories=list(info))
    return segment_map


def segment_info(segment_map: pd.DataFrame) -> pd.DataFrame:
    """Return one row per segment, in map order, with its description and action."""
    first = segment_map.drop_duplicates("segment")
    info = pd.DataFrame(
        {"description": first["description"].to_numpy(), "action": first["action"].to_numpy()},
        index=pd.Index(first["segment"].astype(str).to_numpy(), name="segment"),
    )
    return info.reindex([str(s) for s in segment_map["segment"].cat.categories])
