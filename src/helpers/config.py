"""Project paths and the params file: load, merge, validate.

`params.yaml` at the project root holds every default. Another file given with
``make report PARAMS=other.yaml`` is merged over it key by key, so it only needs the keys
it changes. Every key is checked before any step runs (`params_checks.params_problems`:
unknown keys, types, ranges and what the steps need), and every problem is reported at
once, in one line naming the file, the key and the fix.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from helpers.errors import UserError
from helpers.params_checks import (
    CANONICAL_FIELDS as CANONICAL_FIELDS,  # defined with the schema; helpers.io reads it from here
)
from helpers.params_checks import FREE_MAPPING, SCHEMA, Problem, params_problems
from helpers.steps import NOTEBOOKS as NOTEBOOKS  # the order lives in the step registry

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PARAMS = PROJECT_ROOT / "params.yaml"

# Keys holding paths: resolved against the folder of the params file that sets them.
PATH_KEYS = ("input.path", "customers_input.path", "sessions_input.path", "rfm.segment_map", "personas.traits_file", "paths.interim_dir", "paths.processed_dir", "paths.reports_dir", "run.temp_dir")


def _in_parentheses(text: str) -> str:
    what, sep, fix = text.partition("; fix: ")
    return f"{what} (fix: {fix})" if sep else text


def problems_message(problems: Sequence[Problem]) -> str:
    """Return one line for all problems: the single-problem wording, or a count and the list.

    Examples
    --------
    >>> problems_message([("p.yaml", "key 'a' is bad; fix: change a")])
    "p.yaml: key 'a' is bad; fix: change a"
    >>> problems_message([("p.yaml", "key 'a' is bad; fix: change a"), ("p.yaml", "key 'b' is bad; fix: change b")])
    "p.yaml: 2 problems: key 'a' is bad (fix: change a); key 'b' is bad (fix: change b)"
    """
    if len(problems) == 1:
        return f"{problems[0][0]}: {problems[0][1]}"
    if len({where for where, _ in problems}) == 1:
        listed = "; ".join(_in_parentheses(text) for _, text in problems)
        return f"{problems[0][0]}: {len(problems)} problems: {listed}"
    return f"{len(problems)} problems: " + "; ".join(f"{where}: {_in_parentheses(text)}" for where, text in problems)


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested mappings to dotted keys; lists and scalars are leaves."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value and SCHEMA.get(dotted) != FREE_MAPPING:
            flat.update(_flatten(value, f"{dotted}."))
        else:
            flat[dotted] = value
    return flat


def _unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for dotted, value in flat.items():
        node = tree
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise UserError(
            f"{path}: params file not found; fix: pass an existing YAML file, e.g. PARAMS=params.yaml"
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise UserError(f"{path}: not valid YAML{where}; fix: check indentation and quoting") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping of keys at the top level; fix: see params.yaml")
    return data


def _resolve_paths(flat: dict[str, Any], base: Path) -> None:
    for key in PATH_KEYS:
        if key in flat and isinstance(flat[key], str) and flat[key].strip():  # "" keeps its meaning (off / default)
            path = Path(flat[key]).expanduser()
            flat[key] = str(path if path.is_absolute() else (base / path).resolve())


def load_params(path: str | Path | None = None, *, check_input: bool = True) -> dict[str, Any]:
    """Load the default params, merge an optional override file and validate the result.

    Every problem of both files is collected first and reported together in one line.

    Parameters
    ----------
    path : str or Path, optional
        A YAML file whose keys override `params.yaml`. None (or the default file itself)
        loads the defaults only.
    check_input : bool, default True
        Fail when an input file (``input.path``, ``customers_input.path``,
        ``sessions_input.path``, ``personas.traits_file``) does not exist.

    Returns
    -------
    dict
        Nested params with absolute paths, plus ``_sources`` (the files merged).

    Raises
    ------
    UserError
        Unreadable params file, or every problem found: unknown key, wrong type, value out
        of range, inconsistent settings, missing input file (see `problems_message`).
    """
    files = [DEFAULT_PARAMS]
    if path not in (None, "") and Path(path).expanduser().resolve() != DEFAULT_PARAMS:
        files.append(Path(path).expanduser().resolve())
    layers = []
    for source in files:  # read both before checking, so problems of both are reported together
        flat = _flatten(_read_yaml(source))
        _resolve_paths(flat, source.parent)
        layers.append((source, flat))
    problems = params_problems(layers, check_input=check_input)
    if problems:
        raise UserError(problems_message(problems))
    params = _unflatten({key: value for _, flat in layers for key, value in flat.items()})
    params["_sources"] = [str(source) for source in files]
    return copy.deepcopy(params)
