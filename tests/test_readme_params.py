"""Every ```yaml block of the README is a params override that `load_params` accepts.

A block is written to its own folder as a params file, with an empty stand-in for each
input file it names (the README's paths are examples), and loaded with every check on.
Rule for blocks that are not params files: put ``<!-- not a params file -->`` on the line
just above the fence; the test then skips that block and says so. No block uses it today.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import yaml

from helpers.config import PROJECT_ROOT, _flatten, load_params
from helpers.errors import UserError

README = PROJECT_ROOT / "README.md"
NOT_PARAMS = "<!-- not a params file -->"
# Keys naming files the run reads: the test gives each an empty stand-in next to the block.
INPUT_KEYS = ("input.path", "customers_input.path", "sessions_input.path", "personas.traits_file")
SPARK_EXTRA = all(importlib.util.find_spec(m) is not None for m in ("pyspark", "sqlglot"))
FENCE = re.compile(r"^```yaml[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


def yaml_blocks(markdown: str) -> list[tuple[int, str, bool]]:
    """Return (line number, text, marked as not a params file) for each ```yaml block.

    Examples
    --------
    >>> yaml_blocks("intro\\n```yaml\\neda: {top_n: 5}\\n```\\n")
    [(2, 'eda: {top_n: 5}\\n', False)]
    """
    blocks = []
    for match in FENCE.finditer(markdown):
        line = markdown.count("\n", 0, match.start()) + 1
        previous = markdown[: match.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
        blocks.append((line, match.group(1), previous == NOT_PARAMS))
    return blocks


BLOCKS = yaml_blocks(README.read_text(encoding="utf-8"))


def test_the_readme_has_yaml_examples():
    assert BLOCKS, "README.md has no ```yaml block; the test below would check nothing"


@pytest.mark.parametrize(("line", "text", "skipped"), BLOCKS, ids=[f"README.md:{b[0]}" for b in BLOCKS])
def test_readme_yaml_block_is_a_valid_params_file(tmp_path, line, text, skipped):
    if skipped:
        pytest.skip(f"README.md line {line} is marked {NOT_PARAMS}")
    params_file = tmp_path / "example.yaml"
    params_file.write_text(text, encoding="utf-8")
    for key, value in _flatten(yaml.safe_load(text) or {}).items():
        if key in INPUT_KEYS and isinstance(value, str) and not Path(value).is_absolute():
            (tmp_path / value).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / value).touch()
    if yaml.safe_load(text).get("engine", {}).get("kind") == "spark" and not SPARK_EXTRA:
        # Without `make setup-spark` the block must stop with the fix, not pass or crash.
        with pytest.raises(UserError, match=r"engine\.kind' is 'spark' but .* not installed; fix: run make setup-spark"):
            load_params(params_file)
        return
    load_params(params_file)
