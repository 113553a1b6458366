"""Presentation of step 05_personas: persona cards, tables, charts and report text.

Everything here takes the frames of `helpers.personas` and `helpers.persona_rankings`
and returns something to show: HTML (`persona_cards_html`, from the jinja2 template
``templates/personas/cards.html.j2``), display tables, matplotlib figures or sentences.
Nothing here computes a figure that is exported or writes a file.

Text from the data and from ``personas.overrides`` is escaped in every HTML it ends up in
(the template's autoescape, `helpers.report.table_html` for tables) and protected from
matplotlib's ``$...$`` maths in charts (`helpers.report.plain_text`). Cards and the profile
table take ``formats`` (`helpers.formatting.Formats`): money with the shop's currency and
numbers in its locale; None keeps today's text. The "compared with the average customer"
heatmap colours better and worse by `helpers.colours`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from helpers.colours import draw_direction_heatmap
from helpers.formatting import Formats
from helpers.heatmap import draw_heatmap
from helpers.page_formats import count_cell, is_money, localise_table
from helpers.persona_rules import rule
from helpers.persona_traits import make_up_label, share_text
from helpers.personas import PROFILE_METRICS, format_count, format_days, format_money
from helpers.report import plain_text

TEMPLATES = Path(__file__).parent / "templates" / "personas"
# The figures of each card: label, column of the profile, kind of number (`_CARD_TEXT`).
CARD_FIGURES: tuple[tuple[str, str, str], ...] = (
    ("Days since last order", "median_recency_days", "days"),
    ("Orders", "median_frequency", "count"),
    ("Net revenue", "median_monetary", "money"),
    ("Average order value", "median_avg_order_value", "money"),
    ("Days since first order", "median_tenure_days", "days"),
)
# Added to each card when 03_rfm's future-value model ran (absolute, not relative, evidence).
FUTURE_CARD_FIGURES: tuple[tuple[str, str, str], ...] = (
    ("Share likely lapsed (P(alive) < 50% or churn risk High)", "share_likely_lapsed", "share"),
    ("P(alive)", "median_p_alive", "probability"),
    ("Churn risk: share high", "churn_high_share", "share"),
)
# Kind of number -> (text without Formats, text with Formats): money without decimals.
_CARD_TEXT: dict[str, tuple[Callable[[float], str], Callable[[float, Formats], str]]] = {
    "days": (format_days, lambda v, f: f.number(v, 0)),
    "count": (format_count, lambda v, f: count_cell(v, f)),
    "money": (format_money, lambda v, f: f.money(v, 0)),
    "share": (lambda v: f"{v:.0%}", lambda v, f: f.percent(v, 0)),
    "probability": (lambda v: f"{v:.2f}", lambda v, f: f.number(v, 2)),
}


# --------------------------------------------------------------------------------------
# Cards
# --------------------------------------------------------------------------------------


@functools.cache
def _templates() -> jinja2.Environment:
    """The template environment: autoescape on, a missing value fails instead of printing blank."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def _figure(row: Mapping[str, Any], key: str, kind: str, formats: Formats | None = None) -> str:
    """Write one card figure by its kind (`_CARD_TEXT`); "n/a" when missing."""
    raw = row.get(key)
    if raw is None or pd.isna(raw) or not math.isfinite(float(raw)):
        return "n/a"
    plain, localised = _CARD_TEXT[kind]
    return plain(float(raw)) if formats is None else localised(float(raw), formats)


def _card_figures(row: pd.Series, overall: Mapping[str, Any], horizon_days: int | None,
                  formats: Formats | None) -> list[tuple[str, str, str]]:
    """The (label, persona, all) rows of a card; the future-value rows when the model ran."""
    figures = [(label, _figure(row, key, kind, formats), _figure(overall, key, kind, formats))
               for label, key, kind in CARD_FIGURES]
    if "share_likely_lapsed" not in row.index:
        return figures
    figures += [(label, _figure(row, key, kind, formats), _figure(overall, key, kind, formats))
                for label, key, kind in FUTURE_CARD_FIGURES]
    horizon = f", next {horizon_days:,} days" if horizon_days else ""
    value_share = row.get("predicted_value_share")
    value = _figure(row, "predicted_value", "money", formats)
    if value_share is not None and pd.notna(value_share):
        value += f" ({float(value_share):.1%})" if formats is None else f" ({formats.percent(float(value_share))})"
    figures.append((f"Predicted value{horizon} (share)", value, _figure(overall, "predicted_value", "money", formats)))
    return figures


def card_fields(
    row: pd.Series,
    overall: Mapping[str, Any],
    signature: str | None = None,
    horizon_days: int | None = None,
    formats: Formats | None = None,
) -> dict[str, Any]:
    """Return the texts of one persona card, formatted and not yet escaped.

    Parameters
    ----------
    row : pandas.Series
        One row of `helpers.personas.name_personas`.
    overall : mapping
        `helpers.personas.overall_profile` (the "all" column).
    signature : str, optional
        The persona's signature products (`signature_text`).
    horizon_days : int, optional
        ``clv.horizon_days``, named in the predicted value's label.
    formats : Formats, optional
        Writes money with the currency (no decimals) and numbers in the locale's style;
        None keeps plain numbers.

    Returns
    -------
    dict
        color (its rule's, `helpers.persona_rules.PersonaRule.color`), name, customers,
        customer_share, revenue, figures (label, persona, all; with the future-value model
        also the share likely lapsed, P(alive), predicted value and its share, and the share
        at high churn risk), make_up (label, persona share, all customers' share: one row
        per categorical trait, e.g. ("women (gender)", "62%", "50%"); empty without such
        traits), description, signature, actions.

    Raises
    ------
    KeyError
        The row's rule is not in `helpers.persona_rules.PERSONA_RULES`.
    """
    share = row["revenue_share"]
    percent = (lambda v: f"{v:.1%}") if formats is None else formats.percent
    return {
        "color": rule(str(row["rule"])).color,
        "name": str(row["persona"]),
        "customers": f"{int(row['customers']):,}" if formats is None else formats.number(int(row["customers"])),
        "customer_share": percent(float(row["customer_share"])),
        "revenue": f"{percent(float(share))} of net revenue" if pd.notna(share) and share > 0 else "no net revenue",
        "figures": _card_figures(row, overall, horizon_days, formats),
        "make_up": make_up_rows(row.get("make_up")),
        "description": str(row["description"]),
        "signature": str(signature) if signature else "",
        "actions": [str(action) for action in row["actions"]],
    }


def make_up_rows(make_up: Any) -> list[tuple[str, str, str]]:
    """Return a persona's make-up as card rows: (level label, share in the persona, share of all).

    Examples
    --------
    >>> from helpers.persona_traits import TraitLevel
    >>> make_up_rows((TraitLevel("gender", "women", 0.62, 0.5, True),))
    [('women (gender)', '62%', '50%')]
    >>> make_up_rows(None)
    []
    """
    if not isinstance(make_up, tuple):
        return []
    return [(make_up_label(item), share_text(item.share), share_text(item.overall_share)) for item in make_up]


def persona_cards_html(
    personas: pd.DataFrame,
    overall: Mapping[str, Any],
    signature: Mapping[int, str] | None = None,
    horizon_days: int | None = None,
    formats: Formats | None = None,
) -> str:
    """Return the persona cards as HTML: name, size, revenue share, key figures, actions.

    Every text (names, descriptions, actions, overrides included) is escaped by the
    template. The cards flow in a grid of columns at least 22rem wide, so they fit a
    1280 px laptop screen without horizontal scrolling. A persona with categorical traits
    gets a second small table, its make-up (`make_up_rows`).

    Parameters
    ----------
    personas : pandas.DataFrame
        Output of `helpers.personas.name_personas` (in display order).
    overall : mapping
        Output of `helpers.personas.overall_profile` (the "all customers" column of each card).
    signature : mapping, optional
        Cluster -> text of its signature products (`signature_text`), shown on its card.
    horizon_days : int, optional
        ``clv.horizon_days`` (see `card_fields`).
    formats : Formats, optional
        Money with the shop's currency, numbers in its locale (see `card_fields`).

    Returns
    -------
    str
        A ``<style>`` block and one ``<div class="persona-cards">``.
    """
    signature = signature if signature is not None else {}
    cards = [card_fields(row, overall, signature.get(cluster), horizon_days, formats)
             for cluster, row in personas.iterrows()]
    return _templates().get_template("cards.html.j2").render(cards=cards)


# --------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------

PROFILE_TABLE_COLUMNS: dict[str, tuple[str, str]] = {
    "customers": ("customers", "{:,}"),
    "customer_share": ("share of customers", "{:.1%}"),
    "revenue": ("net revenue", "{:,.0f}"),
    "revenue_share": ("share of revenue", "{:.1%}"),
    "median_recency_days": ("days since last order", "{:,.0f}"),
    "median_frequency": ("orders", "{:,.1f}"),
    "median_monetary": ("net revenue per customer", "{:,.0f}"),
    "median_avg_order_value": ("order value", "{:,.0f}"),
    "median_tenure_days": ("days since first order", "{:,.0f}"),
    "single_order_share": ("one order only", "{:.0%}"),
}
# Added to the profile table when 03_rfm's future-value model ran.
FUTURE_TABLE_COLUMNS: dict[str, tuple[str, str]] = {
    "share_likely_lapsed": ("likely lapsed", "{:.0%}"),
    "median_p_alive": ("P(alive)", "{:.2f}"),
    "predicted_value": ("predicted value", "{:,.0f}"),
    "predicted_value_share": ("share of predicted value", "{:.1%}"),
    "churn_high_share": ("high churn risk", "{:.0%}"),
}
PROFILE_TABLE_FORMATS: dict[str, str] = {
    label: fmt for label, fmt in (*PROFILE_TABLE_COLUMNS.values(), *FUTURE_TABLE_COLUMNS.values())
}


# Labels of the profile table's money columns.
PROFILE_MONEY_LABELS: frozenset[str] = frozenset(
    label for column, (label, _) in {**PROFILE_TABLE_COLUMNS, **FUTURE_TABLE_COLUMNS}.items() if is_money(column)
)


def profile_table(personas: pd.DataFrame, overall: pd.Series, formats: Formats | None = None) -> pd.DataFrame:
    """Return the persona figures with readable headers, one row per persona plus all customers.

    Medians are per customer.

    Parameters
    ----------
    personas : pandas.DataFrame
        Output of `helpers.personas.name_personas`.
    overall : pandas.Series
        Output of `helpers.personas.overall_profile`.
    formats : Formats, optional
        Given: every figure as text (`helpers.page_formats.localise_table`), money with the
        currency; show it with ``table_html(frame)``. None: numbers, shown with
        ``table_html(frame, PROFILE_TABLE_FORMATS)``.

    Returns
    -------
    pandas.DataFrame
        persona, then the labels of `PROFILE_TABLE_COLUMNS` (and of `FUTURE_TABLE_COLUMNS`
        when the future-value model ran).
    """
    rows = pd.concat([personas, overall.to_frame().T.assign(persona="All customers")])
    columns = {**PROFILE_TABLE_COLUMNS, **{c: v for c, v in FUTURE_TABLE_COLUMNS.items() if c in rows.columns}}
    table = rows.loc[:, ["persona", *columns]].rename(columns={c: label for c, (label, _) in columns.items()})
    table["customers"] = table["customers"].astype("int64")
    for column in table.columns[2:]:
        table[column] = table[column].astype("float64")
    table = table.reset_index(drop=True)
    if formats is None:
        return table
    return localise_table(table, PROFILE_TABLE_FORMATS, formats, money=PROFILE_MONEY_LABELS)


# Numeric traits shown as percentages (e.g. 02_eda's return_share).
_SHARE_SUFFIXES: tuple[str, ...] = ("_share", "_rate", "_ratio")


def traits_table(personas: pd.DataFrame, overall: pd.Series, traits: Sequence[str]) -> pd.DataFrame:
    """Return the extra traits per persona as text (median, share true, or top value and share).

    Numeric traits named ``*_share``, ``*_rate`` or ``*_ratio`` are written as percentages.
    Returns an empty frame when there are no traits.

    Examples
    --------
    >>> personas = pd.DataFrame({"persona": ["Loyal"], "median_return_share": [0.012],
    ...                          "top_channel": ["web"], "top_channel_share": [0.75]})
    >>> overall = pd.Series({"median_return_share": 0.0, "top_channel": "web", "top_channel_share": 0.6})
    >>> traits_table(personas, overall, ["return_share", "channel"]).to_dict("records")[0]
    {'persona': 'Loyal', 'return share (median)': '1.2%', 'channel (most common)': 'web (75%)'}
    """
    rows = []
    for name, row in [*((r["persona"], r) for _, r in personas.iterrows()), ("All customers", overall)]:
        cells = {"persona": name}
        for trait in traits:
            shown = str(trait).replace("_", " ")
            if f"median_{trait}" in row.index:
                v = row[f"median_{trait}"]
                if pd.isna(v):
                    text = ""
                elif str(trait).lower().endswith(_SHARE_SUFFIXES):
                    text = f"{float(v):.1%}"
                else:
                    text = f"{float(v):,.2f}".rstrip("0").rstrip(".")
                cells[f"{shown} (median)"] = text
            elif f"share_{trait}" in row.index:
                v = row[f"share_{trait}"]
                cells[f"{shown} (share true)"] = "" if pd.isna(v) else f"{float(v):.0%}"
            elif f"top_{trait}" in row.index:
                top, share = row[f"top_{trait}"], row[f"top_{trait}_share"]
                cells[f"{shown} (most common)"] = "" if top is None or pd.isna(share) else f"{top} ({float(share):.0%})"
        rows.append(cells)
    return pd.DataFrame(rows) if traits else pd.DataFrame()


def naming_table(personas: pd.DataFrame) -> pd.DataFrame:
    """Return which rule named each persona: persona, cluster, rule, overridden ("yes" or blank).

    Examples
    --------
    >>> named = pd.DataFrame({"persona": ["VIP"], "rule": ["loyal_high_value"], "overridden": [True]},
    ...                      index=pd.Index([3], name="cluster"))
    >>> naming_table(named).to_dict("records")
    [{'persona': 'VIP', 'cluster': 3, 'rule': 'loyal_high_value', 'overridden': 'yes'}]
    """
    which = personas.reset_index()[["persona", "cluster", "rule", "overridden"]]
    which["overridden"] = which["overridden"].map({True: "yes", False: ""})
    return which


def where_and_what_table(
    personas: pd.DataFrame, countries: pd.DataFrame, products: pd.DataFrame, signature: pd.Series
) -> pd.DataFrame:
    """Return one row per persona: its top countries, top products and signature products as text.

    Parameters
    ----------
    personas : pandas.DataFrame
        `helpers.personas.name_personas` (row order and names).
    countries, products : pandas.DataFrame
        `helpers.persona_rankings.top_by_cluster` by country and by product.
    signature : pandas.Series
        `signature_text` of `helpers.persona_rankings.signature_products`.

    Returns
    -------
    pandas.DataFrame
        persona, top countries, top products, signature products; without any product
        (`products` empty: the export has no product ids or descriptions) the two product
        columns are left out rather than shown blank.
    """
    columns = {
        "persona": personas["persona"],
        "top countries (share of customers)": top_items_text(countries, "customer_share"),
    }
    if not products.empty:
        columns["top products (share of net revenue)"] = top_items_text(products, "revenue_share")
        columns["signature products (lift, share who bought)"] = signature
    return pd.DataFrame(columns).reindex(personas.index).fillna("")


# --------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------


def signature_text(signature: pd.DataFrame, width: int = 40) -> pd.Series:
    """Write each cluster's signature products as one line, e.g. ``MUG ×2.4 (34% bought)``.

    Examples
    --------
    >>> sig = pd.DataFrame({"cluster": [0], "item": ["P1"], "description": ["MUG"],
    ...                     "lift": [2.44], "buyer_share": [0.34]})
    >>> signature_text(sig).tolist()
    ['MUG ×2.4 (34% bought)']
    """
    def label(row: pd.Series) -> str:
        return f"{_item_label(row, width)} ×{row['lift']:.1f} ({row['buyer_share']:.0%} bought)"

    return _join_per_cluster(signature, label)


def _item_label(row: pd.Series, width: int) -> str:
    """The item's description (else its id), cut to `width` characters with an ellipsis."""
    desc = row.get("description")
    text = str(desc) if isinstance(desc, str) and desc.strip() else str(row["item"])
    return text if len(text) <= width else text[: width - 1] + "…"


def _join_per_cluster(items: pd.DataFrame, label: Callable[[pd.Series], str]) -> pd.Series:
    """Join each cluster's labelled rows, in their order, with `` · ``; indexed by cluster."""
    if items.empty:
        return pd.Series(dtype=object)
    return items.groupby("cluster", sort=True).apply(
        lambda g: " · ".join(label(r) for _, r in g.iterrows()), include_groups=False
    )


def top_items_text(top: pd.DataFrame, share: str = "customer_share", width: int = 40) -> pd.Series:
    """Write each cluster's top items as one line, e.g. ``United Kingdom 91% · France 3%``.

    Parameters
    ----------
    top : pandas.DataFrame
        Output of `helpers.persona_rankings.top_by_cluster`.
    share : {"customer_share", "revenue_share"}
        The share written after each item (left out when missing).
    width : int, default 40
        Longer item labels are cut with an ellipsis.

    Returns
    -------
    pandas.Series
        Text indexed by cluster.

    Examples
    --------
    >>> top = pd.DataFrame({"cluster": [0, 0], "item": ["UK", "France"], "description": [None, None],
    ...                     "customer_share": [0.9, 0.05]})
    >>> top_items_text(top).tolist()
    ['UK 90% · France 5%']
    """
    def label(row: pd.Series) -> str:
        text, value = _item_label(row, width), row.get(share)
        return f"{text} {value:.0%}" if value is not None and pd.notna(value) else text

    return _join_per_cluster(top, label)


def persona_takeaway(personas: pd.DataFrame) -> str:
    """Say which persona brings the most revenue and how concentrated revenue is.

    Examples
    --------
    >>> frame = pd.DataFrame({"persona": ["Loyal", "New"], "customer_share": [0.39, 0.61],
    ...                       "revenue_share": [0.85, 0.15]})
    >>> persona_takeaway(frame)
    "'Loyal' (39% of customers) bring 85% of net revenue; the other persona (61% of customers) brings 15%."
    """
    top = personas.sort_values("revenue_share", ascending=False, kind="mergesort").iloc[0]
    rest = personas[personas["persona"] != top["persona"]]
    text = (
        f"'{top['persona']}' ({float(top['customer_share']):.0%} of customers) bring "
        f"{float(top['revenue_share']):.0%} of net revenue"
    )
    if len(rest) == 1:
        text += f"; the other persona ({float(rest['customer_share'].sum()):.0%} of customers) brings"
    elif len(rest) > 1:
        text += f"; the other {len(rest)} personas ({float(rest['customer_share'].sum()):.0%} of customers) bring"
    if len(rest):
        text += f" {float(rest['revenue_share'].sum()):.0%}"
    return text + "."


# --------------------------------------------------------------------------------------
# Charts
# --------------------------------------------------------------------------------------


def _signed_pct(value: float) -> str:
    """Label a relative difference: ``+35%``, ``-60%``, ``x12`` beyond +1000%.

    Examples
    --------
    >>> [_signed_pct(v) for v in (0.354, -0.6, 15.2, float("nan"))]
    ['+35%', '-60%', 'x16', '']
    """
    if not math.isfinite(value):
        return ""
    if value > 10:
        return f"x{value + 1:.0f}"
    return f"{value:+.0%}"


def plot_relative_difference(relative: pd.DataFrame, names: Mapping[Any, str]) -> Figure:
    """Draw each persona's mean against the average customer: green better, pink worse.

    Colours follow `helpers.colours`: for a metric with a better direction green means
    better than the average customer and pink worse, the sign flipped where lower is better
    (``-58%`` days since last order is green); a metric without one (tenure, age, web
    visits) is grey, darker = further from the average. Colours stop at +-100% so one
    extreme cell does not wash the rest out; the labels give the true, signed values, and
    each column label says which way is better.

    Parameters
    ----------
    relative : pandas.DataFrame
        Output of `helpers.personas.relative_to_overall`.
    names : mapping
        Cluster label -> persona name (rows are shown in this mapping's order).

    Returns
    -------
    matplotlib.figure.Figure
        One heatmap, personas down, metrics across, with a colour bar per palette.
    """
    order = [label for label in names if label in relative.index]
    data = relative.loc[order]
    labels = np.array([[_signed_pct(v) for v in row] for row in data.to_numpy(dtype=float)])
    columns = [PROFILE_METRICS.get(c, plain_text(str(c).replace("_", " "))) for c in data.columns]
    fig, ax = plt.subplots(figsize=(max(10.0, 1.2 * len(columns) + 4.5), 0.6 * len(order) + 3.0),
                           constrained_layout=True)
    draw_direction_heatmap(fig, ax, data, labels, 1.0, lambda v: f"{v:.0%}", columns)
    ax.set_yticks(range(len(order)), [plain_text(names[i]) for i in order])
    ax.set_title("Persona mean vs the average customer: green better, pink worse, grey neither "
                 "(colours stop at ±100%)")
    return fig


def plot_segment_composition(composition: pd.DataFrame, names: Mapping[Any, str]) -> Figure:
    """Draw the share of each RFM segment within each persona (rows add up to 100%).

    Parameters
    ----------
    composition : pandas.DataFrame
        Output of `helpers.personas.segment_composition`.
    names : mapping
        Cluster label -> persona name (row order).
    """
    order = [label for label in names if label in composition.index]
    data = composition.loc[order]
    labels = np.array(
        [[f"{v:.0%}" if v >= 0.005 else "" for v in row] for row in data.to_numpy(dtype=float)]
    )
    fig, ax = plt.subplots(
        figsize=(max(8.0, 0.75 * data.shape[1] + 4), 0.55 * len(order) + 2.6), constrained_layout=True
    )
    draw_heatmap(
        data.set_axis([plain_text(names[i]) for i in order], axis=0).set_axis(
            [plain_text(c) for c in data.columns], axis=1
        ),
        ax,
        annot=labels,
        fmt="",
        cmap="Blues",
        vmin=0,
        vmax=1,
        linewidths=0.5,
        cbar_kws={"format": FuncFormatter(lambda x, _: f"{x:.0%}"), "label": "share of the persona"},
    )
    ax.set_title("RFM segments within each persona (each row adds up to 100%)")
    ax.set_xlabel("RFM segment (03_rfm)")
    ax.set_ylabel("")
    ax.set_xticklabels(ax.get_xticklabels(), rotation=35, ha="right")
    ax.set_yticklabels(ax.get_yticklabels(), rotation=0)
    return fig

