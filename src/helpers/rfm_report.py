"""RFM tables and text for the 03_rfm report: readable summaries, scoring notes, flow sentences.

Everything here turns the outputs of `helpers.rfm` and `helpers.rfm_movement` into what a
reader sees: tables with readable headers and numbers as text, sentences, HTML lists.
Charts are in `helpers.rfm_plots`. `segment_evidence` checks the segment names against
the future-value predictions, in absolute terms. Tables and notes that show money take
``formats`` (`helpers.formatting.Formats`): amounts with the shop's currency, numbers in
its locale, returned as text for ``table_html(frame)``; None keeps today's numbers.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence

import pandas as pd

from helpers.eda_tables import summary_table
from helpers.formatting import Formats
from helpers.page_formats import localise_table
from helpers.persona_rules import LIKELY_LAPSED_SHARE
from helpers.persona_traits import clv_figures
from helpers.rfm import (
    HIGHER_IS_BETTER,
    MAX_SCORE,
    METRICS,
    SCORE_COLUMNS,
    SCORING_METHODS,
    VALUE_COLUMNS,
    check_cuts,
)
from helpers.rfm_movement import NEW_ORIGIN, segment_flows

_UNITS: dict[str, str] = {"recency": "days", "frequency": "orders", "monetary": "net revenue"}

# Columns of `customer_metrics` in the metrics summary: label shown and kind of number.
METRIC_SUMMARY_COLUMNS: dict[str, tuple[str, str]] = {
    "recency_days": ("recency (days since last order)", "days"),
    "frequency": ("frequency (kept orders)", "count"),
    "monetary": ("monetary (net revenue)", "money"),
    "tenure_days": ("tenure (days since first order)", "days"),
    "avg_order_value": ("average order value", "money"),
    "avg_days_between_orders": ("average days between orders", "days"),
    "purchase_invoices": ("purchase invoices", "count"),
    "cancelled_orders": ("fully cancelled orders", "count"),
    "first_order_date": ("first kept order", "date"),
    "last_order_date": ("last kept order", "date"),
}

# Numeric columns of `segment_summary` as shown in the report, with their formats.
SEGMENT_TABLE_COLUMNS: dict[str, tuple[str, str]] = {
    "customers": ("customers", "{:,}"),
    "customer_share": ("share of customers", "{:.1%}"),
    "revenue": ("net revenue", "{:,.2f}"),
    "revenue_share": ("share of revenue", "{:.1%}"),
    "mean_r": ("mean R", "{:.2f}"),
    "mean_f": ("mean F", "{:.2f}"),
    "mean_m": ("mean M", "{:.2f}"),
    "median_recency_days": ("median recency (days)", "{:,.0f}"),
}
SEGMENT_TABLE_FORMATS: dict[str, str] = {
    label: fmt for label, fmt in SEGMENT_TABLE_COLUMNS.values()
}


def metric_summary(customers: pd.DataFrame, formats: Formats | None = None) -> pd.DataFrame:
    """Summarise the customer metrics as a readable table, one row per metric.

    Per metric: customers with a value, min, P20, median, P80 (the quintile boundaries
    behind rank scoring) and max; money with 2 decimals, days and counts with at most one,
    dates as first and last date only. See `helpers.eda_tables.summary_table`.

    Parameters
    ----------
    customers : pandas.DataFrame
        Output of `helpers.rfm.customer_metrics`.
    formats : Formats, optional
        Money with the currency, numbers in the locale's style.

    Returns
    -------
    pandas.DataFrame
        Text columns metric, customers with a value, min, P20, median, P80, max.
    """
    return summary_table(customers, METRIC_SUMMARY_COLUMNS, quantiles=(0.2, 0.8), formats=formats)


# --------------------------------------------------------------------------------------
# Scoring notes
# --------------------------------------------------------------------------------------


def _format_value(metric: str, value: float, formats: Formats | None = None) -> str:
    if metric == "monetary":
        return f"{value:,.2f}" if formats is None else formats.money(value)
    return f"{value:g} {_UNITS[metric]}"


def _describe_cuts(metric: str, points: Sequence[float], formats: Formats | None = None) -> str:
    bounds = [_format_value(metric, p, formats) for p in points]
    if HIGHER_IS_BETTER[metric]:
        bands = [f"<= {b}: {i + 1}" for i, b in enumerate(bounds)] + [f"> {bounds[-1]}: 5"]
    else:
        bands = [f"<= {b}: {MAX_SCORE - i}" for i, b in enumerate(bounds)] + [f"> {bounds[-1]}: 1"]
    return "explicit cut points (" + ", ".join(bands) + ")"


def _tie_note(
    values: pd.Series, metric: str, n_levels: int, unused_text: str, formats: Formats | None = None
) -> list[str]:
    """Say when one value holds more than a band of ranked customers (ties are never split)."""
    ties = values.value_counts()
    top_share = ties.iloc[0] / len(values)
    top = float(ties.index[0])
    shown = _format_value(metric, top, formats) if metric == "monetary" else f"{top:g}"
    if ties.iloc[0] > 1 and top_share > 1 / n_levels:
        consequence = f"so {unused_text}" if unused_text else "so the bands are uneven"
        return [
            f"ties are never split: {top_share:.1%} of ranked customers share "
            f"{metric} = {shown}, {consequence}"
        ]
    if unused_text:
        return [f"{unused_text}: only {len(values):,} customers to rank"]
    return []


def _describe_metric(
    ranked: pd.DataFrame,
    metric: str,
    points: Sequence[float] | None,
    n_levels: int,
    formats: Formats | None = None,
) -> list[str]:
    """The notes on one metric's scores among the customers with a kept order (`ranked`)."""
    levels = MAX_SCORE if points is not None else n_levels
    counts = (
        ranked[SCORE_COLUMNS[metric]].value_counts().reindex(range(1, levels + 1), fill_value=0)
    )
    if points is not None:
        parts = [_describe_cuts(metric, points, formats)]
    else:
        band = "quintiles" if n_levels == 5 else "quartiles"
        best = "5 = most recent" if metric == "recency" else f"{n_levels} = highest"
        parts = [
            f"{band} of rank among {len(ranked):,} customers with orders ({best}); tied "
            f"customers share the score of the lowest position of their tie"
        ]
    parts.append(
        f"customers per score 1-{levels}: " + " / ".join(f"{c:,}" for c in counts.to_numpy())
    )
    unused = [str(s) for s, c in counts.items() if c == 0]
    unused_text = f"score{'s' if len(unused) > 1 else ''} {', '.join(unused)} unused" if unused else ""
    if points is not None:
        if unused and len(ranked):
            parts.append(f"{unused_text}: no customer falls in that band")
    elif len(ranked):
        parts.extend(_tie_note(ranked[VALUE_COLUMNS[metric]], metric, n_levels, unused_text, formats))
    if levels < MAX_SCORE:
        parts.append("score 5 is never given, so segment-map cells that need a 5 stay empty")
    return parts


def describe_scoring(
    scored: pd.DataFrame,
    method: str = "quintiles",
    cuts: Mapping[str, Sequence[float]] | None = None,
    formats: Formats | None = None,
) -> dict[str, str]:
    """Say, per metric, how scores were given and whether ties left scores unused.

    Parameters
    ----------
    scored : pandas.DataFrame
        Output of `helpers.rfm.score_customers` called with the same ``method`` and ``cuts``.
    method, cuts
        As passed to `helpers.rfm.score_customers`.
    formats : Formats, optional
        Writes monetary cut points and tied amounts with the currency.

    Returns
    -------
    dict of str to str
        ``{"recency": "...", "frequency": "...", "monetary": "..."}``, one sentence group
        each, e.g. ``"quintiles of rank ...; customers per score 1-5: 610 / 0 / 0 / ...;
        ties are never split: 61.0% of ranked customers share frequency = 1, so scores
        2, 3 unused"``. A tie larger than one band is always mentioned.
    """
    checked = check_cuts(method, cuts)
    active = scored["frequency"].to_numpy() > 0
    ranked = scored.loc[active]
    n_inactive = len(scored) - len(ranked)
    descriptions: dict[str, str] = {}
    for metric in METRICS:
        parts = _describe_metric(ranked, metric, checked.get(metric), SCORING_METHODS[method], formats)
        if n_inactive:
            parts.append(
                f"{n_inactive:,} customer{'s' if n_inactive != 1 else ''} without a kept order score 1"
            )
        descriptions[metric] = "; ".join(parts)
    return descriptions


def notes_html(notes: Mapping[str, str] | Sequence[str]) -> str:
    """Return notes as an HTML bullet list, text escaped; a mapping's keys lead in bold.

    Used for the scoring notes and the biggest flows, so long sentences wrap like normal
    text in the report instead of running off a preformatted block.

    Examples
    --------
    >>> notes_html({"recency": "ranks <5"})
    '<ul><li><b>recency</b>: ranks &lt;5</li></ul>'
    >>> notes_html(["a & b"])
    '<ul><li>a &amp; b</li></ul>'
    """
    if isinstance(notes, Mapping):
        items = [f"<b>{html.escape(str(k))}</b>: {html.escape(str(v))}" for k, v in notes.items()]
    else:
        items = [html.escape(str(note)) for note in notes]
    return "<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>"


# --------------------------------------------------------------------------------------
# Segment tables
# --------------------------------------------------------------------------------------


def segment_table(summary: pd.DataFrame, formats: Formats | None = None) -> pd.DataFrame:
    """Return the numbers of `segment_summary` with readable headers, segment first.

    The text columns (description, action) are left to `segment_actions`, so this table
    stays narrow enough for a laptop screen.

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of `helpers.rfm.segment_summary`.
    formats : Formats, optional
        Given: every number as text with the decimals of `SEGMENT_TABLE_FORMATS`, net
        revenue with the currency; show it with ``table_html(frame)``. None: numbers, shown
        with ``table_html(frame, SEGMENT_TABLE_FORMATS)``.

    Returns
    -------
    pandas.DataFrame
        Columns segment, then the labels of `SEGMENT_TABLE_COLUMNS`, one row per segment.
    """
    table = summary.loc[:, list(SEGMENT_TABLE_COLUMNS)].rename(
        columns={column: label for column, (label, _) in SEGMENT_TABLE_COLUMNS.items()}
    )
    table = table.rename_axis("segment").reset_index()
    if formats is None:
        return table
    return localise_table(table, SEGMENT_TABLE_FORMATS, formats, money={SEGMENT_TABLE_COLUMNS["revenue"][0]})


def segment_actions(summary: pd.DataFrame) -> pd.DataFrame:
    """Return what each segment is and what marketing should do about it.

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of `helpers.rfm.segment_summary`.

    Returns
    -------
    pandas.DataFrame
        Columns segment, customers, description and action ("suggested action"), one row
        per segment in map order.
    """
    actions = summary.loc[:, ["customers", "description", "action"]].rename(
        columns={"action": "suggested action"}
    )
    return actions.rename_axis("segment").reset_index()


# --------------------------------------------------------------------------------------
# Movement
# --------------------------------------------------------------------------------------


def share_label(share: float) -> str:
    """Write a share as a whole percentage that never hides a few customers.

    A share that rounds to 0% but is not 0 reads "<1%"; one that rounds to 100% but is
    not 1 reads ">99%".

    Examples
    --------
    >>> [share_label(s) for s in (0.0, 0.001, 0.25, 0.996, 1.0)]
    ['0%', '<1%', '25%', '>99%', '100%']
    """
    if 0 < share < 0.005:
        return "<1%"
    if 0.995 <= share < 1:
        return ">99%"
    return f"{share:.0%}"


def _flow_sentence(origin: str, destination: str, customers: int, share: float) -> str:
    who = f"{customers:,} customer{'s' if customers != 1 else ''}"
    if origin == NEW_ORIGIN:
        return f"{who} new since the cut-off now in {destination} ({share_label(share)} of new customers)."
    return f"{who} moved from {origin} to {destination} ({share_label(share)} of {origin} at the cut-off)."


def biggest_flows(counts: pd.DataFrame, n: int = 5) -> pd.DataFrame:
    """List the largest moves between different segments, each with a sentence.

    Parameters
    ----------
    counts : pandas.DataFrame
        Output of `helpers.rfm_movement.segment_movement`.
    n : int, default 5
        How many flows to keep.

    Returns
    -------
    pandas.DataFrame
        The first `n` rows of `helpers.rfm_movement.segment_flows` (origin, destination,
        customers, share_of_origin) and a ``sentence`` for each.
    """
    flows = segment_flows(counts).head(n)
    sentences = [
        _flow_sentence(row.origin, row.destination, row.customers, row.share_of_origin)
        for row in flows.itertuples(index=False)
    ]
    return flows.assign(sentence=pd.Series(sentences, index=flows.index, dtype=str))


# --------------------------------------------------------------------------------------
# Segments in absolute terms (issue 14)
# --------------------------------------------------------------------------------------

# Segments whose name promises an active customer; flagged when most of them are likely lapsed.
ACTIVE_SEGMENTS: tuple[str, ...] = (
    "Champions", "Loyal", "Potential Loyalist", "New Customers", "Promising",
)

# Columns of `segment_evidence` as shown in the report, with their formats.
EVIDENCE_TABLE_COLUMNS: dict[str, tuple[str, str]] = {
    "customers": ("customers", "{:,}"),
    "median_recency_days": ("median days since last order", "{:,.0f}"),
    "share_likely_lapsed": ("share likely lapsed", "{:.0%}"),
    "predicted_value_share": ("share of predicted value", "{:.1%}"),
    "churn_high_share": ("share at high churn risk", "{:.0%}"),
}
EVIDENCE_TABLE_FORMATS: dict[str, str] = {
    label: fmt for label, fmt in EVIDENCE_TABLE_COLUMNS.values()
}


def _evidence_row(group: pd.DataFrame, total_predicted: float) -> dict[str, float]:
    """One segment's figures, by the same rules as the personas' (`persona_traits.clv_figures`)."""
    figures = clv_figures(group, total_predicted)
    scored = bool(group["p_alive"].notna().any())
    return {
        "customers": len(group),
        "median_recency_days": float(group["recency_days"].median()) if len(group) else math.nan,
        "share_likely_lapsed": figures["share_likely_lapsed"],
        "predicted_value_share": figures["predicted_value_share"] if scored else math.nan,
        "churn_high_share": figures["churn_high_share"],
    }


def segment_evidence(
    segmented: pd.DataFrame, predictions: pd.DataFrame, segment_map: pd.DataFrame
) -> pd.DataFrame:
    """Measure each RFM segment in absolute terms with the future-value predictions.

    RFM scores are ranks, so a segment name such as "Potential Loyalist (recent customers)"
    is relative to the shop: where most customers have lapsed, its customers may not have
    ordered for months. A customer is *likely lapsed* when P(alive) < `ALIVE_THRESHOLD` or
    the churn risk is High, as in `helpers.persona_traits.clv_figures`.

    Parameters
    ----------
    segmented : pandas.DataFrame
        Output of `helpers.rfm.assign_segments` (customer_id, recency_days, segment).
    predictions : pandas.DataFrame
        The "clv" dataset (`helpers.catalog.CLV_COLUMNS`): p_alive, predicted_clv and
        churn_risk per customer; NaN and "unknown" when BG/NBD was not fitted.
    segment_map : pandas.DataFrame
        Output of `helpers.rfm_segment_map.load_segment_map`; every segment gets a row.

    Returns
    -------
    pandas.DataFrame
        One row per segment in map order: segment, customers, median_recency_days,
        share_likely_lapsed (over customers with a P(alive)), predicted_value_share (of
        all customers' predicted value), churn_high_share (over customers with a
        Low/Medium/High band). The last three are NaN when the predictions are unfitted.
    """
    model = predictions.loc[:, ["customer_id", "p_alive", "predicted_clv", "churn_risk"]]
    joined = segmented.loc[:, ["customer_id", "recency_days", "segment"]].merge(
        model, on="customer_id", how="left", validate="one_to_one"
    )
    joined["segment"] = joined["segment"].astype(str)
    total_predicted = float(joined["predicted_clv"].sum())
    rows = [
        {"segment": segment,
         **_evidence_row(joined.loc[joined["segment"] == segment], total_predicted)}
        for segment in (str(s) for s in segment_map["segment"].cat.categories)
    ]
    evidence = pd.DataFrame(rows, columns=["segment", *EVIDENCE_TABLE_COLUMNS])
    return evidence.astype({"customers": "int64"})


def evidence_table(evidence: pd.DataFrame, formats: Formats | None = None) -> pd.DataFrame:
    """Return `segment_evidence` with readable headers.

    Without `formats` show it with ``table_html(frame, EVIDENCE_TABLE_FORMATS)``; with one
    the numbers come back as text in the locale's style, for ``table_html(frame)``.
    """
    table = evidence.rename(
        columns={column: label for column, (label, _) in EVIDENCE_TABLE_COLUMNS.items()}
    )
    return table if formats is None else localise_table(table, EVIDENCE_TABLE_FORMATS, formats)


def segment_evidence_notes(evidence: pd.DataFrame) -> list[str]:
    """Say which active-sounding segments are mostly likely lapsed customers.

    A segment of `ACTIVE_SEGMENTS` is flagged when at least `LIKELY_LAPSED_SHARE` of its
    scored customers are likely lapsed, i.e. its median customer is.

    Parameters
    ----------
    evidence : pandas.DataFrame
        Output of `segment_evidence`.

    Returns
    -------
    list of str
        One sentence per flagged segment; otherwise one sentence that the names hold, or
        that the check was skipped because the predictions are unfitted.

    Examples
    --------
    >>> evidence = pd.DataFrame({"segment": ["Potential Loyalist"], "customers": [25],
    ...     "median_recency_days": [261.0], "share_likely_lapsed": [0.64]})
    >>> segment_evidence_notes(evidence)[0]
    'Potential Loyalist: 64% are likely lapsed and the median customer last ordered 261 days ago — the name is relative to this shop; treat them as lapsing.'
    """
    if evidence["share_likely_lapsed"].isna().all():
        return [
            "No future-value predictions (BG/NBD was not fitted), so the segment names "
            "were not checked in absolute terms."
        ]
    active = evidence.loc[evidence["segment"].isin(ACTIVE_SEGMENTS)]
    flagged = active.loc[active["share_likely_lapsed"] >= LIKELY_LAPSED_SHARE]
    notes = []
    for row in flagged.itertuples(index=False):
        ago = (
            f" and the median customer last ordered {row.median_recency_days:,.0f} days ago"
            if pd.notna(row.median_recency_days) else ""
        )
        notes.append(
            f"{row.segment}: {share_label(row.share_likely_lapsed)} are likely lapsed{ago} — "
            f"the name is relative to this shop; treat them as lapsing."
        )
    if notes:
        return notes
    return [
        f"The names hold: in no segment named for activity ({', '.join(ACTIVE_SEGMENTS)}) "
        f"are {LIKELY_LAPSED_SHARE:.0%} or more of the customers likely lapsed."
    ]
