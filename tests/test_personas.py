"""Persona rules on hand-made cluster profiles, unique names, overrides, profiles, rankings, cards."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from helpers import (
    catalog,
    persona_rankings,
    persona_rules,
    persona_traits,
    personas,
    personas_report,
)
from helpers.engine import EngineSettings, connect
from helpers.errors import UserError
from helpers.summary import index_html
from test_exports import PRODUCTS, write_fixture_run

# Medians of "all customers" used by every hand-made profile below (ratio 1.5:
# high >= 1.5x, low <= overall / 1.5).
OVERALL = {
    "median_recency_days": 50.0,
    "median_frequency": 2.0,
    "median_monetary": 600.0,
    "median_avg_order_value": 300.0,
    "median_tenure_days": 240.0,
}


def profile(recency=50.0, frequency=2.0, monetary=600.0, aov=300.0, tenure=240.0, customers=100, revenue_share=0.1):
    return {
        "customers": customers,
        "customer_share": 0.1,
        "revenue": 1000.0,
        "revenue_share": revenue_share,
        "median_recency_days": recency,
        "median_frequency": frequency,
        "median_monetary": monetary,
        "median_avg_order_value": aov,
        "median_tenure_days": tenure,
    }


# One hand-made cluster per rule; each value was checked against the rule table by hand.
CASES = {
    "no_kept_order": profile(recency=math.nan, frequency=0.0, monetary=-20.0, aov=math.nan, tenure=math.nan),
    "loyal_high_value": profile(recency=20.0, frequency=6.0, monetary=2000.0, aov=330.0, tenure=300.0),
    "at_risk_big_spender": profile(recency=200.0, frequency=5.0, monetary=1500.0, tenure=330.0),
    "new_first_time": profile(recency=20.0, frequency=1.0, monetary=300.0, tenure=20.0),
    "dormant_low_value": profile(recency=240.0, frequency=1.0, monetary=250.0, aov=250.0),
    "lapsing": profile(recency=200.0, frequency=2.0, monetary=500.0),
    "big_basket": profile(recency=40.0, frequency=2.0, monetary=800.0, aov=900.0),
    "frequent_small_basket": profile(recency=30.0, frequency=4.0, monetary=700.0, aov=150.0),
    "promising_repeat": profile(recency=20.0, frequency=2.0, monetary=600.0),
    "steady_mid_value": profile(),
}


def rule_for(row, ratio=1.5):
    return persona_rules.match_rule(persona_rules.cluster_levels(row, OVERALL, ratio)).key


@pytest.mark.parametrize("expected", list(CASES))
def test_each_rule_fires_on_its_hand_made_cluster(expected):
    assert rule_for(CASES[expected]) == expected


def test_every_rule_has_a_case_and_two_or_three_actions():
    assert set(CASES) == set(persona_rules.RULE_KEYS)
    assert all(2 <= len(rule.actions) <= 3 for rule in persona_rules.PERSONA_RULES)
    assert len({rule.name for rule in persona_rules.PERSONA_RULES}) == len(persona_rules.PERSONA_RULES)


TEXT_ATTRIBUTES = ("key", "name", "when", "why", "color")


@pytest.mark.parametrize("rule", persona_rules.PERSONA_RULES, ids=lambda rule: rule.key)
def test_every_rule_has_every_attribute(rule):
    # A rule added without a colour (or any other attribute) fails here, not as a grey card.
    for attribute in TEXT_ATTRIBUTES:
        value = getattr(rule, attribute)
        assert isinstance(value, str) and value.strip() == value and value, f"{rule.key}: {attribute} is empty"
    assert re.fullmatch(r"#[0-9a-f]{6}", rule.color), f"{rule.key}: colour {rule.color!r} is not #rrggbb"
    assert all(isinstance(a, str) and a.strip() for a in rule.actions), f"{rule.key}: empty action"
    conditions = (*rule.all_of, *rule.any_of, *rule.none_of)
    assert set(conditions) <= set(persona_rules.LEVEL_NAMES), f"{rule.key}: unknown level in {conditions}"
    assert rule.why.endswith(".") and rule.name[0].isupper()


def test_rules_are_distinct_and_the_last_one_always_fires():
    rules = persona_rules.PERSONA_RULES
    for attribute in ("key", "name", "color"):
        assert len({getattr(rule, attribute) for rule in rules}) == len(rules), f"two rules share a {attribute}"
    nothing = persona_rules.Levels(**dict.fromkeys(persona_rules.LEVEL_NAMES, False))
    everything = persona_rules.Levels(**dict.fromkeys(persona_rules.LEVEL_NAMES, True))
    assert rules[-1].fires(nothing) and rules[-1].fires(everything)
    assert not any(rule.fires(nothing) for rule in rules[:-1])  # each other rule needs a level
    with pytest.raises(KeyError, match="no persona rule 'vip'"):
        persona_rules.rule("vip")


def test_first_rule_wins_and_thresholds_are_inclusive():
    # Loyal figures but lapsed: at-risk, not loyal (rule 3 before the fallback).
    assert rule_for(profile(recency=200.0, frequency=6.0, monetary=2000.0)) == "at_risk_big_spender"
    # New also fires on a low tenure when recency alone is not recent (41 > 50 / 1.5).
    assert rule_for(profile(recency=41.0, frequency=1.0, monetary=400.0, tenure=76.0)) == "new_first_time"
    # Exactly 1.5x is high; just under is not.
    exactly = profile(recency=30.0, frequency=3.0, monetary=900.0)
    assert rule_for(exactly) == "loyal_high_value"
    assert rule_for({**exactly, "median_monetary": 899.0}) == "frequent_small_basket"


def test_ratio_moves_the_thresholds():
    loyal = CASES["loyal_high_value"]  # 3x the orders, 3.3x the spend
    assert rule_for(loyal, ratio=3.0) == "loyal_high_value"
    assert rule_for(loyal, ratio=4.0) != "loyal_high_value"
    with pytest.raises(UserError, match="personas.ratio"):
        personas.name_personas(pd.DataFrame([loyal], index=[0]), OVERALL, ratio=1.0)


def _profiles(rows: dict[int, dict]) -> pd.DataFrame:
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "cluster"
    return frame


def test_names_follow_the_data_not_the_cluster_number():
    rows = {0: CASES["dormant_low_value"], 1: CASES["loyal_high_value"], 7: CASES["new_first_time"]}
    named = personas.name_personas(_profiles(rows), OVERALL)
    swapped = personas.name_personas(_profiles({5: rows[1], 0: rows[7], 3: rows[0]}), OVERALL)
    assert named.loc[1, "persona"] == swapped.loc[5, "persona"] == "Loyal high-value"
    assert named.loc[0, "persona"] == swapped.loc[3, "persona"] == "Dormant low-value"
    assert named.loc[7, "persona"] == swapped.loc[0, "persona"] == "New / first-time buyers"


def test_two_clusters_with_the_same_rule_get_distinct_names():
    rows = {
        0: profile(recency=240.0, frequency=1.0, monetary=100.0, customers=50),
        1: profile(recency=250.0, frequency=1.0, monetary=350.0, customers=80),
    }
    named = personas.name_personas(_profiles(rows), OVERALL)
    assert named.loc[0, "persona"] == "Dormant low-value (lower spend)"
    assert named.loc[1, "persona"] == "Dormant low-value (higher spend)"
    assert (named["rule"] == "dormant_low_value").all()


def test_three_clusters_with_the_same_rule_and_identical_twins_stay_unique():
    spend = {0: 100.0, 1: 380.0, 2: 250.0}
    rows = {k: profile(recency=240.0, frequency=1.0, monetary=m, customers=10 + k) for k, m in spend.items()}
    named = personas.name_personas(_profiles(rows), OVERALL)
    assert named.loc[1, "persona"] == "Dormant low-value (highest spend)"
    assert named.loc[2, "persona"] == "Dormant low-value (spend rank 2 of 3)"
    assert named.loc[0, "persona"] == "Dormant low-value (lowest spend)"
    twins = personas.name_personas(_profiles({4: CASES["lapsing"], 9: {**CASES["lapsing"], "customers": 200}}), OVERALL)
    assert twins["persona"].is_unique
    assert twins.loc[9, "persona"] == "Lapsing customers"  # the larger keeps the plain name
    assert twins.loc[4, "persona"] == "Lapsing customers 2"


def test_overrides_by_rule_and_by_cluster_number():
    rows = {0: CASES["loyal_high_value"], 1: CASES["dormant_low_value"], 2: CASES["new_first_time"]}
    overrides = {
        "loyal_high_value": {"name": "VIP regulars", "actions": ["Invite to the VIP evening"]},
        "dormant_low_value": {"name": "Sleepers"},
        1: {"name": "Wholesale leftovers", "description": "Old trade accounts."},
        42: {"name": "Nobody"},
    }
    named = personas.name_personas(_profiles(rows), OVERALL, overrides=overrides)
    assert named.loc[0, "persona"] == "VIP regulars"
    assert named.loc[0, "actions"] == ("Invite to the VIP evening",)
    assert named.loc[1, "persona"] == "Wholesale leftovers"  # the cluster entry wins over the rule's
    assert named.loc[1, "description"] == "Old trade accounts."
    assert named.loc[1, "actions"] == persona_rules.rule("dormant_low_value").actions  # not overridden: the rule's
    assert named.loc[2, "persona"] == "New / first-time buyers" and not named.loc[2, "overridden"]
    assert named.attrs["unused_overrides"] == [42]


def test_an_override_cannot_make_two_names_equal():
    rows = {0: CASES["loyal_high_value"], 1: CASES["new_first_time"]}
    named = personas.name_personas(_profiles(rows), OVERALL, overrides={1: {"name": "Loyal high-value"}})
    assert named["persona"].is_unique


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"loyal_hgh_value": {"name": "X"}}, "did you mean 'loyal_high_value'"),
        ({"lapsing": {"nmae": "X"}}, "did you mean 'name'"),
        ({"lapsing": {"name": ""}}, "non-empty text"),
        ({"lapsing": {"actions": ["a", "b", "c", "d"]}}, "1 to 3"),
        ({"lapsing": "Sleepers"}, "must be a mapping"),
    ],
)
def test_bad_overrides_name_the_key_and_the_fix(overrides, message):
    with pytest.raises(UserError, match=message):
        personas.check_overrides(overrides)


def test_description_carries_the_figures():
    named = personas.name_personas(_profiles({3: CASES["loyal_high_value"]}), OVERALL)
    text = named.loc[3, "description"]
    assert "last ordered 20 days ago (all customers: 50)" in text
    assert "placed 6 orders (2)" in text and "spent 2,000" in text


# --------------------------------------------------------------------------------------
# Profiles on a tiny joined table (right answers by hand)
# --------------------------------------------------------------------------------------


def _customers() -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": ["a", "b", "c", "d"],
        "cluster": [0, 0, 1, -2],
        "recency_days": [10.0, 30.0, 200.0, np.nan],
        "frequency": [4, 2, 1, 0],
        "monetary": [400.0, 200.0, 50.0, -10.0],
        "avg_order_value": [100.0, 100.0, 50.0, np.nan],
        "tenure_days": [300.0, 100.0, 200.0, np.nan],
        "segment": pd.Categorical(["Champions", "Loyal", "Lost", "Lost"], categories=["Champions", "Loyal", "Lost"]),
        "age": [30, 50, 40, np.nan],
        "newsletter": [True, False, True, False],
        "channel": ["web", "shop", "web", None],
    })


def test_cluster_profiles_by_hand():
    profiles = personas.cluster_profiles(_customers())
    assert profiles.index.tolist() == [-2, 0, 1]
    zero = profiles.loc[0]
    assert zero["customers"] == 2 and zero["customer_share"] == 0.5
    assert zero["revenue"] == 600.0 and zero["revenue_share"] == pytest.approx(600 / 640)
    assert zero["median_recency_days"] == 20.0 and zero["median_frequency"] == 3.0
    assert zero["median_age"] == 40.0 and zero["share_newsletter"] == 0.5
    assert zero["top_channel"] == "shop" and zero["top_channel_share"] == 0.5  # tie: alphabetical
    assert math.isnan(profiles.loc[-2, "median_recency_days"]) and profiles.loc[-2, "no_order_share"] == 1.0
    assert profiles["customers"].sum() == 4 and profiles["revenue"].sum() == 640.0
    overall = personas.overall_profile(_customers())
    assert overall["median_frequency"] == 1.5 and overall["median_recency_days"] == 30.0


def test_no_kept_order_group_is_named_by_rule_whatever_its_label():
    customers = _customers()
    profiles = personas.cluster_profiles(customers)
    named = personas.name_personas(profiles, personas.overall_profile(customers))
    assert named.loc[-2, "persona"] == "No kept order"
    relabelled = customers.assign(cluster=customers["cluster"].replace({-2: 9}))
    named = personas.name_personas(personas.cluster_profiles(relabelled), personas.overall_profile(relabelled))
    assert named.loc[9, "persona"] == "No kept order"


def test_join_clusters_needs_a_label_for_every_customer_and_drops_personal_traits():
    rfm_table = _customers().drop(columns=["cluster", "age", "newsletter", "channel"])
    clusters = pd.DataFrame({"customer_id": ["a", "b", "c"], "cluster": [0, 0, 1]})
    with pytest.raises(UserError, match="1 customers of the RFM table have no 'cluster' label"):
        personas.join_clusters(rfm_table, clusters)
    clusters = pd.concat([clusters, pd.DataFrame({"customer_id": ["d"], "cluster": [-2]})])
    traits = pd.DataFrame({"customer_id": ["a", "d"], "Full Name": ["Ann", "Dan"], "age": [30, 60]})
    joined = personas.join_clusters(rfm_table, clusters, traits)
    assert "Full Name" not in joined.columns
    assert personas.trait_columns(joined) == ["age"]
    assert joined["age"].isna().sum() == 2


def test_composition_and_relative_difference():
    customers = _customers()
    composition = personas.segment_composition(customers)
    assert composition.loc[0].tolist() == [0.5, 0.5, 0.0]  # Champions, Loyal, Lost
    assert composition.sum(axis=1).tolist() == [1.0, 1.0, 1.0]
    relative = personas.relative_to_overall(customers, ["monetary"])
    assert relative.loc[0, "monetary"] == pytest.approx(300 / 160 - 1)


# --------------------------------------------------------------------------------------
# Countries and products per cluster (DuckDB over the fixture transactions)
# --------------------------------------------------------------------------------------


@pytest.fixture
def con():
    with connect(EngineSettings(memory_limit="1GB", threads=1)) as connection:
        yield connection


def test_top_countries_and_products_per_cluster(tmp_path, con):
    paths = write_fixture_run(tmp_path)
    customers = personas.join_clusters(pd.read_parquet(paths["rfm"]), pd.read_parquet(paths["clusters"]))
    countries = persona_rankings.top_by_cluster(con, paths["transactions"], customers, "country", n=2)
    loyal = countries[countries["cluster"] == 2]
    # Group 2: customers 0, 2, 4 (but 0 is Utopia) -> UK 2, France 3, Utopia 1.
    assert loyal["item"].tolist() == ["France", "United Kingdom"]
    assert loyal["customers"].tolist() == [3, 2]
    assert loyal["customer_share"].tolist() == pytest.approx([0.5, 2 / 6])
    products = persona_rankings.top_by_cluster(con, paths["transactions"], customers, "product", n=1)
    assert products.groupby("cluster").size().eq(1).all()
    assert set(products["description"]) <= {description for _, description in PRODUCTS}
    assert products.loc[products["cluster"] == -2, "revenue_share"].isna().all()  # net revenue 0
    text = personas_report.top_items_text(countries, "customer_share")
    assert text.loc[2] == "France 50% · United Kingdom 33%"
    with pytest.raises(UserError, match="country"):
        persona_rankings.top_by_cluster(con, paths["transactions"], customers, "city")
    with pytest.raises(UserError, match="personas.top_n"):
        persona_rankings.top_by_cluster(con, paths["transactions"], customers, "product", n=0)
    # The caller's connection is left as it was: no labels, no candidates table.
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'candidates'").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = 'labels'").fetchone()[0] == 0


def _lines(tmp_path, rows) -> str:
    frame = pd.DataFrame(rows, columns=["customer_id", "product_id", "description", "country", "amount"])
    frame["invoice_date"] = pd.Timestamp("2024-01-02")
    frame["is_return"] = frame["amount"] < 0  # as 01_clean writes it
    path = tmp_path / "lines.parquet"
    frame.to_parquet(path, index=False)
    return str(path)


def test_top_products_rank_by_revenue_then_customers_then_name(tmp_path, con):
    rows = [
        ("a", "P1", "mug", "UK", 10.0), ("b", "P2", "bag", "UK", 5.0), ("c", "P2", "bag", "UK", 5.0),
        ("a", "P3", "pen", "UK", 10.0), ("a", "P4", "cup", "UK", 10.0), ("a", "P5", "hat", "UK", 1.0),
        ("b", None, " tea towel ", "UK", 2.0), ("c", None, "tea towel", "UK", 2.0),
    ]
    customers = pd.DataFrame({"customer_id": ["a", "b", "c"], "cluster": [0, 0, 0]})
    top = persona_rankings.top_by_cluster(con, _lines(tmp_path, rows), customers, "product", n=4)
    # Revenue 10, 10, 10, 10 (P2 from two customers), then 4 (tea towel): P2 first on customers, then by name.
    assert top["item"].tolist() == ["P2", "P1", "P3", "P4"]
    assert top["customers"].tolist() == [2, 1, 1, 1]
    assert top["revenue_share"].tolist() == pytest.approx([10 / 45] * 4)
    towel = persona_rankings.top_by_cluster(con, _lines(tmp_path, rows), customers, "product", n=6)
    assert towel.loc[towel["item"] == "tea towel", "customers"].tolist() == [2]


def test_zero_revenue_cluster_share_is_blank_whatever_the_summation_order(tmp_path, con):
    # 0.1 + 0.2 - 0.3 is 5.6e-17 or -2.8e-17 depending on the order of the sum; rounded, it is 0.
    rows = [("a", "P1", "mug", "UK", 0.1), ("a", "P2", "bag", "UK", 0.2), ("a", "P3", "pen", "UK", -0.3)]
    customers = pd.DataFrame({"customer_id": ["a"], "cluster": [0]})
    path = _lines(tmp_path, rows)
    for by in ("product", "country"):
        top = persona_rankings.top_by_cluster(con, path, customers, by, n=3)
        assert top["revenue_share"].isna().all(), by


def _bought(tmp_path) -> tuple[str, pd.DataFrame]:
    """Cluster 0: a-d, cluster 1: e-j. MUG: everyone; BAG: a, b, c, e; PEN: e-h; HAT: a only."""
    rows = [(c, "P1", "MUG", "2024-01-02", False) for c in "abcdefghij"]
    rows += [(c, "P2", "BAG", "2024-01-03", False) for c in "abce"]
    rows += [(c, "P3", "PEN", "2024-01-04", False) for c in "efgh"]
    rows += [("a", "P4", "HAT", "2024-01-05", False), ("a", "P4", "HAT", "2024-01-06", False)]
    rows += [("j", "P5", "CUP", "2024-01-07", True),  # a return is not a purchase
             ("i", "P3", "PEN", "2024-03-01", False)]  # after the analysis date below
    frame = pd.DataFrame(rows, columns=["customer_id", "product_id", "description", "invoice_date", "is_return"])
    frame["invoice_date"] = pd.to_datetime(frame["invoice_date"])
    frame["amount"] = 1.0  # every cleaned file has it; the signature does not use it
    path = tmp_path / "bought.parquet"
    frame.to_parquet(path, index=False)
    customers = pd.DataFrame({"customer_id": list("abcdefghij"), "cluster": [0] * 4 + [1] * 6})
    return str(path), customers


def test_signature_products_rank_by_lift_of_basket_share(tmp_path, con):
    path, customers = _bought(tmp_path)
    sig = persona_rankings.signature_products(con, path, customers, n=2, analysis_date="2024-02-01", min_buyers=2)
    # 20 purchase lines before the date: cluster 0 has 9 (MUG 4, BAG 3, HAT 2), cluster 1 has
    # 11 (MUG 6, BAG 1, PEN 4). Overall MUG 10/20, BAG 4/20, PEN 4/20, HAT 2/20.
    # Cluster 0: BAG (3/9)/(4/20) = 1.667; MUG 0.889 is not above 1; HAT has one buyer only.
    # Cluster 1: PEN (4/11)/(4/20) = 1.818, MUG (6/11)/(10/20) = 1.091; BAG 0.45.
    assert sig["description"].tolist() == ["BAG", "PEN", "MUG"]
    assert sig["cluster"].tolist() == [0, 1, 1]
    assert sig["lift"].tolist() == pytest.approx([(3 / 9) / 0.2, (4 / 11) / 0.2, (6 / 11) / 0.5])
    assert sig["buyers"].tolist() == [3, 4, 6]
    assert sig["buyer_share"].tolist() == pytest.approx([0.75, 4 / 6, 1.0])
    assert sig["line_share"].tolist() == pytest.approx([3 / 9, 4 / 11, 6 / 11])
    assert personas_report.signature_text(sig).to_dict() == {0: "BAG ×1.7 (75% bought)",
                                                       1: "PEN ×1.8 (67% bought) · MUG ×1.1 (100% bought)"}


def test_signature_products_thresholds(tmp_path, con):
    path, customers = _bought(tmp_path)
    one_buyer = persona_rankings.signature_products(con, path, customers, n=1, analysis_date="2024-02-01", min_buyers=1)
    assert one_buyer["item"].tolist() == ["P4", "P3"]  # HAT: (2/9)/(2/20) = 2.22
    assert one_buyer.loc[0, "lift"] == pytest.approx(20 / 9)
    half = persona_rankings.signature_products(con, path, customers, n=3, analysis_date="2024-02-01",
                                               min_share=0.5, min_buyers=1)
    assert half.groupby("cluster")["item"].agg(list).to_dict() == {0: ["P2"], 1: ["P3", "P1"]}
    # Without the analysis date i's PEN counts: (5/12)/(5/21) = 1.75, bought by 5 of 6.
    later = persona_rankings.signature_products(con, path, customers, n=1, min_buyers=2)
    pen = later[later["cluster"] == 1]
    assert pen["lift"].tolist() == pytest.approx([1.75]) and pen["buyer_share"].tolist() == pytest.approx([5 / 6])
    assert "P5" not in set(later["item"])  # returned, never bought
    with pytest.raises(UserError, match="signature_min_share"):
        persona_rankings.signature_products(con, path, customers, min_share=5)


# --------------------------------------------------------------------------------------
# Report pieces
# --------------------------------------------------------------------------------------


def test_cards_escape_every_text_including_overrides():
    rows = {0: CASES["loyal_high_value"], 1: CASES["dormant_low_value"]}
    overrides = {0: {"name": "<script>alert('x')</script>", "actions": ["Mail <b>them</b> & wait"]}}
    named = personas.name_personas(_profiles(rows), OVERALL, overrides=overrides)
    page = personas_report.persona_cards_html(named, OVERALL)
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert "Mail &lt;b&gt;them&lt;/b&gt; &amp; wait" in page
    assert page.count('class="persona-card"') == 2
    assert 'style="border-left-color:#009e73"' in page  # loyal_high_value's colour, kept when renamed


def test_card_shows_the_figures_and_refuses_an_unknown_rule():
    named = personas.name_personas(_profiles({0: CASES["loyal_high_value"]}), OVERALL)
    card = personas_report.card_fields(named.iloc[0], OVERALL, "MUG ×2.4 (34% bought)")
    assert card["figures"][0] == ("Days since last order", "20", "50")
    assert card["figures"][2] == ("Net revenue", "2,000", "600")
    assert (card["customers"], card["customer_share"], card["revenue"]) == ("100", "10.0%", "10.0% of net revenue")
    assert card["signature"] == "MUG ×2.4 (34% bought)" and len(card["actions"]) == 3
    retired = named.iloc[0].copy()
    retired["rule"] = "retired_rule"
    with pytest.raises(KeyError, match="no persona rule 'retired_rule'"):
        personas_report.card_fields(retired, OVERALL)


def test_metrics_follow_the_summary_contract_and_render_in_the_index():
    rows = {0: CASES["new_first_time"], 1: {**CASES["loyal_high_value"], "revenue_share": 0.8}}
    named = personas.name_personas(_profiles(rows), OVERALL, overrides={0: {"name": "New & <shiny>"}})
    metrics = personas.persona_metrics(named)
    assert [p["persona"] for p in metrics["personas"]] == ["Loyal high-value", "New & <shiny>"]
    assert set(metrics["personas"][0]) == {"persona", "customers", "customer_share", "revenue_share", "action"}
    manifest = {"run_id": "r1", "input": {"path": "x.csv", "sha256": "0" * 64}, "steps": [],
                "metrics": {"05_personas": metrics}}
    page = index_html(manifest)
    assert "Personas at a glance" in page and "New &amp; &lt;shiny&gt;" in page
    assert metrics["personas"][0]["action"] in page.replace("&amp;", "&")


def test_missing_cluster_file_names_the_step_to_run(tmp_path):
    params = {"paths": {"interim_dir": str(tmp_path / "interim"), "processed_dir": str(tmp_path / "processed")}}
    with pytest.raises(UserError, match="run notebook 04_clustering first"):
        catalog.read(params, "clusters")


def test_traits_come_from_02_eda_and_a_traits_file_without_personal_columns(tmp_path):
    params = {"paths": {"interim_dir": str(tmp_path / "interim"), "processed_dir": str(tmp_path / "processed")},
              "personas": {"traits_file": str(tmp_path / "traits.csv")}}
    eda = pd.DataFrame({"customer_id": ["1", "2"], "orders": [3, 1], "return_share": [0.1, 0.0],
                        "country": ["France", "Spain"]})
    catalog.write(params, "customers", eda)
    (tmp_path / "traits.csv").write_text(
        "customer_id;age_band;E-Mail;country\n1.0;25-34;a@b.c;FR\n3;35-44;c@d.e;ES\n", encoding="utf-8"
    )
    traits = persona_traits.read_traits(params)
    assert traits.columns.tolist() == ["customer_id", "return_share", "age_band", "country"]
    assert traits["customer_id"].tolist() == ["1", "2", "3"]
    assert traits.attrs["dropped_personal_columns"] == ["E-Mail"]
    assert traits.loc[0, "country"] == "FR"  # the traits file wins over 02_eda
    assert persona_traits.customer_traits(None, None) is None
    catalog.path(params, "customers").unlink()  # 02_eda not run: the traits file alone
    assert persona_traits.read_traits(params)["customer_id"].tolist() == ["1", "3"]
    with pytest.raises(UserError, match="personas.traits_file"):
        persona_traits.load_traits(tmp_path / "nope.csv")


# --------------------------------------------------------------------------------------
# Absolute evidence: P(alive) from 03_rfm's future-value model (issue 14)
# --------------------------------------------------------------------------------------

LAPSING_RULES = {"at_risk_big_spender", "dormant_low_value", "lapsing"}
ACTIVE_WORDS = ("steady", "loyal", "recent", "new", "frequent", "promising", "active")


def test_likely_lapsed_level_by_hand():
    levels = persona_rules.cluster_levels
    recent = CASES["promising_repeat"]  # recency 20 < 50 / 1.5: recent by the medians
    assert not levels(recent, OVERALL).likely_lapsed  # no clv: today's levels
    assert levels(recent, OVERALL).recent and not levels(recent, OVERALL).lapsed
    lapsed = levels({**recent, "share_likely_lapsed": 0.5}, OVERALL)  # inclusive threshold
    assert lapsed.likely_lapsed and lapsed.lapsed and not lapsed.recent
    alive = levels({**recent, "share_likely_lapsed": 0.49}, OVERALL)
    assert not alive.likely_lapsed and alive.recent and not alive.lapsed
    assert not levels({**recent, "share_likely_lapsed": math.nan}, OVERALL).likely_lapsed


@pytest.mark.parametrize("case", [k for k in CASES if k != "no_kept_order"])
def test_a_likely_lapsed_cluster_is_always_named_by_a_lapsing_rule(case):
    assert rule_for({**CASES[case], "share_likely_lapsed": 0.62}) in LAPSING_RULES
    # Mostly alive customers: the relative names stand.
    assert rule_for({**CASES[case], "share_likely_lapsed": 0.1}) == case


def test_no_level_combination_lets_a_likely_lapsed_cluster_reach_the_fallback():
    names = [n for n in persona_rules.LEVEL_NAMES if n not in ("likely_lapsed", "lapsed", "recent", "no_kept_order")]
    for bits in range(2 ** len(names)):
        chosen = {name: bool(bits >> i & 1) for i, name in enumerate(names)}
        # What cluster_levels gives a likely-lapsed cluster with kept orders.
        levels = persona_rules.Levels(**chosen, likely_lapsed=True, lapsed=True, recent=False, no_kept_order=False)
        rule = persona_rules.match_rule(levels)
        assert rule.key in LAPSING_RULES, f"{chosen} -> {rule.key}"
        assert not any(word in rule.name.lower() for word in ACTIVE_WORDS)


def _lapsed_majority_shop() -> tuple[pd.DataFrame, pd.DataFrame]:
    """A shop where two thirds bought once, long ago: the case of issue 14.

    As BG/NBD has it, the one-time buyers keep P(alive) = 1 (they can only drop out after a
    repeat purchase); their lapse shows in the churn risk (High: no order expected in 90 days).
    """
    rng = np.random.default_rng(14)
    groups = [  # cluster, customers, recency, frequency, monetary, p_alive, churn risk
        (0, 200, (380, 620), (1, 1), (80, 400), (1.0, 1.0), "High"),
        (1, 60, (5, 60), (4, 12), (1500, 6000), (0.8, 0.99), "Low"),
        (2, 40, (100, 300), (2, 3), (300, 900), (0.4, 0.8), "Medium"),
    ]
    rows, model = [], []
    for cluster, n, rec, freq, mon, alive, risk in groups:
        for i in range(n):
            cid = f"{cluster}-{i:03d}"
            recency, frequency = float(rng.uniform(*rec)), int(rng.integers(freq[0], freq[1] + 1))
            monetary = float(rng.uniform(*mon))
            rows.append({"customer_id": cid, "recency_days": recency, "frequency": frequency, "monetary": monetary,
                         "avg_order_value": monetary / frequency,
                         "tenure_days": recency + (0.0 if frequency == 1 else 200.0), "cluster": cluster})
            model.append({"customer_id": cid, "p_alive": float(rng.uniform(*alive)),
                          "predicted_clv": monetary * (0.05 if risk == "High" else float(rng.uniform(*alive))),
                          "churn_risk": risk})
    model.append({"customer_id": "not-a-customer", "p_alive": 0.9, "predicted_clv": 1.0, "churn_risk": "Low"})
    return pd.DataFrame(rows), pd.DataFrame(model)


def _named_shop(customers: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    overall = personas.overall_profile(customers, [])
    return personas.name_personas(personas.cluster_profiles(customers, []), overall), overall


def test_the_biggest_persona_of_a_lapsed_majority_shop_is_not_called_steady():
    customers, model = _lapsed_majority_shop()
    before, _ = _named_shop(customers)  # relative words only: the lapsed majority looks typical
    assert before.loc[0, "rule"] == "steady_mid_value"
    joined = persona_traits.join_clv(customers, model)
    assert len(joined) == len(customers)  # a clv row without a customer is not added
    named, overall = _named_shop(joined)
    biggest = named.sort_values("customers", ascending=False).iloc[0]
    assert biggest["rule"] in LAPSING_RULES
    assert not any(word in biggest["persona"].lower() for word in ACTIVE_WORDS)
    assert biggest["share_likely_lapsed"] == 1.0 and biggest["churn_high_share"] == 1.0
    assert "100% are likely lapsed (P(alive) < 50% or churn risk High)" in biggest["description"]
    assert named["predicted_value"].sum() == pytest.approx(overall["predicted_value"])
    assert named["predicted_value_share"].sum() == pytest.approx(1.0)
    assert named.loc[1, "rule"] == "loyal_high_value"  # the alive core keeps its name
    card = personas_report.card_fields(biggest, overall, horizon_days=365)
    labels = [label for label, _, _ in card["figures"]]
    assert "Share likely lapsed (P(alive) < 50% or churn risk High)" in labels and "Predicted value, next 365 days (share)" in labels
    assert card["figures"][0][0] == "Days since last order"
    page = personas_report.persona_cards_html(named, overall, horizon_days=365)
    assert "Churn risk: share high" in page
    metrics = personas.persona_metrics(named)
    first = next(p for p in metrics["personas"] if p["persona"] == biggest["persona"])
    assert first["likely_lapsed_share"] == 1.0 and first["churn_high_share"] == 1.0
    assert 0 < first["predicted_value_share"] < 1
    manifest = {"run_id": "r1", "input": {"path": "x.csv", "sha256": "0" * 64}, "steps": [],
                "metrics": {"05_personas": metrics}}
    index = index_html(manifest)
    assert "Predicted value share" in index and "100.0% high" in index


def test_without_clv_the_names_and_figures_are_todays():
    customers, _ = _lapsed_majority_shop()
    assert persona_traits.join_clv(customers, None) is customers
    named, overall = _named_shop(customers)
    assert "share_likely_lapsed" not in named.columns and "predicted_value" not in overall.index
    assert "likely lapsed" not in " ".join(named["description"])
    card = personas_report.card_fields(named.iloc[0], overall)
    assert len(card["figures"]) == len(personas_report.CARD_FIGURES)
    assert set(personas.persona_metrics(named)["personas"][0]) == {
        "persona", "customers", "customer_share", "revenue_share", "action"}


def test_clv_customers_without_a_row_get_missing_values_and_bad_tables_fail(tmp_path):
    customers = pd.DataFrame({"customer_id": ["1", "2"], "cluster": [0, 0]})
    model = pd.DataFrame({"customer_id": [1], "p_alive": [0.3], "predicted_clv": [12.5],
                          "churn_risk": pd.Categorical(["High"])})
    joined = persona_traits.join_clv(customers, model)
    assert joined["p_alive"].isna().tolist() == [False, True] and joined["churn_risk"].tolist()[0] == "High"
    figures = persona_traits.clv_figures(joined, 25.0)
    assert figures["share_likely_lapsed"] == 1.0 and figures["predicted_value_share"] == 0.5
    with pytest.raises(UserError, match="duplicates"):
        persona_traits.join_clv(customers, pd.concat([model, model]))
    with pytest.raises(UserError, match="'churn_risk' is missing"):
        persona_traits.join_clv(customers, model.drop(columns="churn_risk"))
    params = {"paths": {"interim_dir": str(tmp_path / "interim"), "processed_dir": str(tmp_path / "processed")}}
    assert persona_traits.read_clv(params) is None  # an older run without the model
