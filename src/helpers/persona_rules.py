"""Persona naming rules as data: when each fires, its name, description, actions and colour.

A cluster is **high** on a metric when its median is at least ``ratio`` (default 1.5)
times the median of all customers, **low** at most the overall median / ``ratio``. For
recency (days since the last order, smaller is better) high is called **lapsed** and low
**recent**; a low tenure (first order not long ago) is **new**. `cluster_levels` turns a
cluster's medians into these `Levels`.

Relative words alone mislead on a shop where most customers have lapsed: the median
customer is then lapsed too, and a lapsed cluster looks "typical". When 03_rfm's future-value
model ran (dataset "clv"), a cluster is also **likely lapsed** when at least half of its
customers with a P(alive) are likely lapsed (P(alive) < 0.5 or churn risk High), i.e. its median customer is probably no longer
a customer. This absolute evidence wins: a likely-lapsed cluster counts as lapsed and never as
recent, and no rule whose name says loyal, new, frequent or recent names it. Without the
model ``likely_lapsed`` is False and the names are the relative ones.

`PERSONA_RULES` lists the rules in the order they are tried; the first that fires names the
cluster (`match_rule`), and the last always fires. Each rule is one `PersonaRule` entry:
its key (used by ``personas.overrides``), persona name, condition (levels that must all
hold, at least one of which must hold, none of which may hold), the condition in words for
the report (`rules_table`), the sentence that goes into the description, 2-3 actions and the
card colour. Adding a rule is one entry here and one hand-made case in
``tests/test_personas.py``; a rule with an attribute missing fails on import, and the tests
check every attribute is filled in.

``personas.overrides`` renames a rule or one cluster and may replace the description and
actions (`check_overrides`, `override_problems`).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import pandas as pd

from helpers.errors import UserError

DEFAULT_RATIO = 1.5
# P(alive) below this: the customer is likely lapsed; at least this share of them: the cluster is.
ALIVE_THRESHOLD = 0.5
LIKELY_LAPSED_SHARE = 0.5
OVERRIDE_KEYS: tuple[str, ...] = ("name", "actions", "description")
MAX_ACTIONS = 3


@dataclass(frozen=True)
class Levels:
    """Where a cluster stands against all customers (see the module docstring)."""

    recent: bool  # recency low and not likely_lapsed
    lapsed: bool  # recency high or likely_lapsed
    high_frequency: bool
    high_monetary: bool
    low_monetary: bool
    high_order_value: bool
    new: bool  # tenure low: first order not long ago
    single_order: bool  # median frequency <= 1
    no_kept_order: bool  # median frequency < 1
    likely_lapsed: bool = False  # share likely lapsed (P(alive) < 0.5 or churn risk High) >= 0.5; False without clv


LEVEL_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Levels))


@dataclass(frozen=True)
class PersonaRule:
    """One naming rule: when it fires (on `Levels`), the name, why, what to do, its colour.

    Parameters
    ----------
    key : str
        Stable name of the rule (``personas.overrides`` keys, ``personas.csv`` column rule).
    name : str
        Persona name given to the clusters it names.
    when : str
        The condition in words, for the rules table of the report.
    why : str
        Sentence of the persona's description.
    actions : tuple of str
        2 or 3 recommended actions.
    color : str
        Card accent colour (``#rrggbb``, colour-blind safe); overridden personas keep it.
    all_of, any_of, none_of : tuple of str
        `Levels` names: all must hold, at least one must hold (when given), none may hold.
        All empty: the rule always fires (the fallback).
    """

    key: str
    name: str
    when: str
    why: str
    actions: tuple[str, ...]
    color: str
    all_of: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()
    none_of: tuple[str, ...] = ()

    def fires(self, levels: Levels) -> bool:
        """Say whether the rule names a cluster at `levels`.

        Examples
        --------
        >>> at_risk = rule("at_risk_big_spender")  # lapsed, and monetary or frequency high
        >>> lapsed = dict.fromkeys(LEVEL_NAMES, False) | {"lapsed": True}
        >>> at_risk.fires(Levels(**lapsed)), at_risk.fires(Levels(**lapsed | {"high_frequency": True}))
        (False, True)
        """
        return (
            all(getattr(levels, name) for name in self.all_of)
            and (not self.any_of or any(getattr(levels, name) for name in self.any_of))
            and not any(getattr(levels, name) for name in self.none_of)
        )


PERSONA_RULES: tuple[PersonaRule, ...] = (
    PersonaRule(
        key="no_kept_order",
        name="No kept order",
        when="median frequency < 1: most customers have no kept order (all cancelled or returned)",
        why="Everything they ordered was cancelled or returned.",
        actions=("Find out why their orders were cancelled (stock, delivery, payment) and fix the cause",
                 "Leave them out of promotional campaigns until they place an order that is kept",
                 "Offer a service follow-up rather than a discount"),
        color="#b0b0b0",
        all_of=("no_kept_order",),
    ),
    PersonaRule(
        key="loyal_high_value",
        name="Loyal high-value",
        when="monetary high, frequency high, not lapsed (recency not high, median customer not likely lapsed)",
        why="They order often, recently and spend the most: the core of the revenue.",
        actions=("Invite them to a loyalty or VIP programme with early access to new ranges",
                 "Thank them with service perks (free delivery, a personal contact) rather than discounts",
                 "Ask them for reviews and referrals"),
        color="#009e73",
        all_of=("high_monetary", "high_frequency"), none_of=("lapsed", "likely_lapsed"),
    ),
    PersonaRule(
        key="at_risk_big_spender",
        name="At-risk big spenders",
        when="lapsed (recency high or median customer likely lapsed), monetary or frequency high",
        why="They used to buy a lot but have not ordered for a long time.",
        actions=("Win them back with a personal message and a time-limited offer on what they used to buy",
                 "Ask what changed (a short survey or call) before they are lost for good",
                 "Trigger this contact automatically when a big spender passes their usual gap between orders"),
        color="#d55e00",
        all_of=("lapsed",), any_of=("high_monetary", "high_frequency"),
    ),
    PersonaRule(
        key="new_first_time",
        name="New / first-time buyers",
        when=("median frequency <= 1, recency recent or tenure low (first order not long ago), "
              "median customer not likely lapsed"),
        why="Most have placed a single order, not long ago.",
        actions=("Send a welcome series that leads to a second order within 30 days",
                 "Offer an incentive on the second order, such as free delivery",
                 "Recommend products often bought with their first purchase"),
        color="#0072b2",
        all_of=("single_order",), any_of=("recent", "new"), none_of=("likely_lapsed",),
    ),
    PersonaRule(
        key="dormant_low_value",
        name="Dormant low-value",
        when="lapsed (recency high or median customer likely lapsed), monetary low",
        why="They bought little and long ago.",
        actions=("Keep them on low-cost channels only (newsletter, one reactivation e-mail)",
                 "Try a single win-back offer, then stop contacting those who do not respond",
                 "Spend no paid media on this group"),
        color="#666666",
        all_of=("lapsed", "low_monetary"),
    ),
    PersonaRule(
        key="lapsing",
        name="Lapsing customers",
        when="lapsed: recency high or median customer likely lapsed (none of the rules above)",
        why="They have not ordered for a long time and may not come back.",
        actions=("Send a reminder with new products in the categories they bought",
                 "Offer a limited-time incentive to order again before they lapse for good"),
        color="#e69f00",
        all_of=("lapsed",),
    ),
    PersonaRule(
        key="big_basket",
        name="Big-basket occasional buyers",
        when="average order value high, frequency not high",
        why="They order rarely but in large amounts, like trade buyers.",
        actions=("Offer volume pricing or a trade account to turn occasional big orders into regular ones",
                 "Contact them ahead of their usual buying season with a tailored catalogue"),
        color="#cc79a7",
        all_of=("high_order_value",), none_of=("high_frequency",),
    ),
    PersonaRule(
        key="frequent_small_basket",
        name="Frequent small-basket buyers",
        when="frequency high (monetary not high), median customer not likely lapsed",
        why="They order often but spend little per order.",
        actions=("Raise basket size with bundles and a free-delivery threshold just above their usual order",
                 "Cross-sell complementary products at checkout"),
        color="#56b4e9",
        all_of=("high_frequency",), none_of=("likely_lapsed",),
    ),
    PersonaRule(
        key="promising_repeat",
        name="Promising repeat buyers",
        when="recency recent (median customer not likely lapsed), median frequency >= 2",
        why="They came back recently for more than one order.",
        actions=("Nurture them towards loyalty with personalised recommendations",
                 "Offer a loyalty programme membership after their next order"),
        color="#6a3d9a",
        all_of=("recent",), none_of=("single_order", "likely_lapsed"),
    ),
    PersonaRule(
        key="steady_mid_value",
        name="Steady mid-value customers",
        when="always (fallback when no rule above fires; never a likely-lapsed cluster, which a lapsed rule names)",
        why="They are close to the typical customer on every measure.",
        actions=("Keep them engaged with a regular newsletter and seasonal offers",
                 "Test cross-sell offers to lift their spend"),
        color="#4c72b0",
    ),
)
RULE_KEYS: tuple[str, ...] = tuple(rule.key for rule in PERSONA_RULES)


def rule(key: str) -> PersonaRule:
    """Return the rule named `key`; KeyError names the known rules.

    >>> rule("lapsing").color
    '#e69f00'
    """
    for entry in PERSONA_RULES:
        if entry.key == key:
            return entry
    raise KeyError(f"no persona rule {key!r}; rules: {', '.join(RULE_KEYS)}")


def _high(value: float, overall: float, ratio: float) -> bool:
    if not (math.isfinite(value) and math.isfinite(overall)):
        return False
    return value > overall and (value >= overall * ratio if overall > 0 else True)


def _low(value: float, overall: float, ratio: float) -> bool:
    if not (math.isfinite(value) and math.isfinite(overall)):
        return False
    return value < overall and (value <= overall / ratio if overall > 0 else True)


def _median(row: Mapping[str, Any], metric: str) -> float:
    value = row.get(f"median_{metric}")
    return float(value) if value is not None and pd.notna(value) else math.nan


def cluster_levels(profile: Mapping[str, Any], overall: Mapping[str, Any], ratio: float = DEFAULT_RATIO) -> Levels:
    """Compare one cluster's medians with all customers' medians, and read its P(alive) evidence.

    ``likely_lapsed`` is ``share_likely_lapsed >= 0.5`` (a profile without it, i.e. a run
    without the clv model, is never likely lapsed); it makes the cluster lapsed and not recent.

    Parameters
    ----------
    profile, overall : mapping
        A row of `helpers.personas.cluster_profiles` and `helpers.personas.overall_profile`.
    ratio : float, default 1.5
        High = at least ``ratio`` x the overall median, low = at most overall / ``ratio``.

    Returns
    -------
    Levels

    Examples
    --------
    >>> overall = {"median_recency_days": 50, "median_frequency": 2, "median_monetary": 600,
    ...            "median_avg_order_value": 300, "median_tenure_days": 250}
    >>> cluster = {"median_recency_days": 20, "median_frequency": 6, "median_monetary": 2000,
    ...            "median_avg_order_value": 330, "median_tenure_days": 300}
    >>> levels = cluster_levels(cluster, overall)
    >>> levels.recent, levels.high_frequency, levels.high_monetary, levels.high_order_value
    (True, True, True, False)
    >>> levels = cluster_levels(cluster | {"share_likely_lapsed": 0.62}, overall)
    >>> levels.likely_lapsed, levels.lapsed, levels.recent
    (True, True, False)
    """
    r, r0 = _median(profile, "recency_days"), _median(overall, "recency_days")
    f, f0 = _median(profile, "frequency"), _median(overall, "frequency")
    m, m0 = _median(profile, "monetary"), _median(overall, "monetary")
    aov, aov0 = _median(profile, "avg_order_value"), _median(overall, "avg_order_value")
    t, t0 = _median(profile, "tenure_days"), _median(overall, "tenure_days")
    lapsed_share = profile.get("share_likely_lapsed")
    likely_lapsed = lapsed_share is not None and pd.notna(lapsed_share) and float(lapsed_share) >= LIKELY_LAPSED_SHARE
    return Levels(
        recent=_low(r, r0, ratio) and not likely_lapsed,
        lapsed=_high(r, r0, ratio) or likely_lapsed,
        high_frequency=_high(f, f0, ratio),
        high_monetary=_high(m, m0, ratio),
        low_monetary=_low(m, m0, ratio),
        high_order_value=_high(aov, aov0, ratio),
        new=_low(t, t0, ratio),
        single_order=math.isfinite(f) and f <= 1,
        no_kept_order=math.isfinite(f) and f < 1,
        likely_lapsed=likely_lapsed,
    )


def match_rule(levels: Levels) -> PersonaRule:
    """Return the first rule of `PERSONA_RULES` that fires for `levels`."""
    return next(entry for entry in PERSONA_RULES if entry.fires(levels))


def rules_table() -> pd.DataFrame:
    """Return the naming rules as a table for the report (order, rule, persona, when).

    Examples
    --------
    >>> rules_table().iloc[1, 1:3].tolist()
    ['loyal_high_value', 'Loyal high-value']
    """
    return pd.DataFrame(
        [(i, r.key, r.name, r.when) for i, r in enumerate(PERSONA_RULES, 1)],
        columns=["order", "rule", "persona", "fires when"],
    )


# --------------------------------------------------------------------------------------
# personas.overrides
# --------------------------------------------------------------------------------------


def _cluster_key(key: Any) -> int | None:
    """Return the cluster label a key names (an int or integer text), else None."""
    if isinstance(key, bool):
        return None
    if isinstance(key, int):
        return key
    text = str(key).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    return None


def _field_problem(where: str, field_name: Any, field_value: Any) -> tuple[Any, str | None]:
    """Check one field of an override entry; return its normalised value and its problem."""
    if field_name not in OVERRIDE_KEYS:
        close = difflib.get_close_matches(str(field_name), OVERRIDE_KEYS, n=1)
        hint = f"did you mean '{close[0]}'?" if close else "use name, actions or description"
        return None, f"key '{where}.{field_name}': unknown field; fix: {hint}"
    if field_name == "actions":
        # A tuple is this module's own output: checking twice gives the same result.
        if (isinstance(field_value, (list, tuple)) and 1 <= len(field_value) <= MAX_ACTIONS
                and all(isinstance(a, str) and a.strip() for a in field_value)):
            return tuple(a.strip() for a in field_value), None
        return None, (f"key '{where}.actions' must be a list of 1 to {MAX_ACTIONS} non-empty texts, "
                      f"got {field_value!r}; fix: write e.g. [Call them, Send a voucher]")
    if isinstance(field_value, str) and field_value.strip():
        return field_value.strip(), None
    return None, (f"key '{where}.{field_name}' must be a non-empty text, got {field_value!r}; "
                  f"fix: write e.g. {field_name}: VIP regulars")


def _override_entry(key: Any, value: Any) -> tuple[dict[str, Any], list[str]]:
    """Normalise one entry of ``personas.overrides``; return it and its problems ("...; fix: ...")."""
    where = f"personas.overrides.{key}"
    problems: list[str] = []
    if _cluster_key(key) is None and key not in RULE_KEYS:
        close = difflib.get_close_matches(str(key), RULE_KEYS, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"use a cluster number or one of {', '.join(RULE_KEYS)}"
        problems.append(f"key '{where}': unknown rule; fix: {hint}")
    if not isinstance(value, Mapping) or not value:
        problems.append(f"key '{where}' must be a mapping with name, actions or description; "
                        f"fix: write e.g. {{name: VIP regulars}}")
        return {}, problems
    entry: dict[str, Any] = {}
    for field_name, field_value in value.items():
        normalised, problem = _field_problem(where, field_name, field_value)
        if problem:
            problems.append(problem)
        else:
            entry[field_name] = normalised
    return entry, problems


def override_problems(overrides: Mapping[Any, Any] | None) -> list[str]:
    """Return every problem of ``personas.overrides``, one "...; fix: ..." text each (none: valid).

    Examples
    --------
    >>> override_problems({"lapsing": {"name": "Sleepers"}})
    []
    >>> override_problems({"lapsing": {"nmae": "X"}})
    ["key 'personas.overrides.lapsing.nmae': unknown field; fix: did you mean 'name'?"]
    """
    return [problem for key, value in (overrides or {}).items() for problem in _override_entry(key, value)[1]]


def check_overrides(overrides: Mapping[Any, Any] | None) -> dict[Any, dict[str, Any]]:
    """Check ``personas.overrides`` and return it normalised.

    Keys are a rule key of `PERSONA_RULES` (applies to every cluster that rule names) or
    a cluster label such as ``3`` (that cluster only; it wins over the rule). Each value
    may set ``name`` (text), ``actions`` (1-3 texts) and ``description`` (text)::

        personas:
          overrides:
            loyal_high_value: {name: VIP regulars, actions: [Invite to the VIP evening]}
            3: {name: Wholesale accounts}

    Checking the result again returns it unchanged, so callers may check twice.

    Parameters
    ----------
    overrides : mapping or None

    Returns
    -------
    dict
        Keys: rule keys (str) and cluster labels (int); values with the keys given,
        texts stripped and ``actions`` a tuple.

    Raises
    ------
    UserError
        Every unknown rule (with a "did you mean"), unknown field, empty name, wrong type,
        or more than 3 actions, in one message; each names its key.

    Examples
    --------
    >>> check_overrides({"3": {"name": " Trade "}, "lapsing": {"actions": ["Call them"]}})
    {3: {'name': 'Trade'}, 'lapsing': {'actions': ('Call them',)}}
    """
    problems = override_problems(overrides)
    if len(problems) == 1:
        raise UserError(problems[0])
    if problems:
        listed = "; ".join(p.replace("; fix: ", " (fix: ", 1) + (")" if "; fix: " in p else "") for p in problems)
        raise UserError(f"{len(problems)} problems in personas.overrides: {listed}")
    checked: dict[Any, dict[str, Any]] = {}
    for key, value in (overrides or {}).items():
        label = _cluster_key(key)
        checked[label if label is not None else str(key)] = _override_entry(key, value)[0]
    return checked
