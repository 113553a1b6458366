"""The README's tables that repeat code stay true to it."""

from __future__ import annotations

import re

from helpers.config import PROJECT_ROOT
from helpers.persona_rules import PERSONA_RULES
from helpers.steps import STEPS


def _rows(section: str) -> list[list[str]]:
    text = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    body = text.split(section, 1)[1]
    return [[cell.strip() for cell in line.strip().strip("|").split("|")]
            for line in body.splitlines() if re.match(r"\|\s*\d+\s*\|", line)]


def test_persona_rule_table_lists_the_rules_in_order():
    rows = _rows("## Personas and exports")
    assert [(row[1].strip("`"), row[2]) for row in rows[:len(PERSONA_RULES)]] == [
        (rule.key, rule.name) for rule in PERSONA_RULES]


def test_step_table_names_every_step_in_order():
    text = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8").split("## The steps and what they write", 1)[1]
    named = re.findall(r"^\| `(\d\d_\w+)` \|", text, flags=re.MULTILINE)
    assert tuple(named[:len(STEPS)]) == tuple(step.name for step in STEPS)
