"""The planted customer segments of the synthetic generator (`helpers.synth`), as data.

Each `Segment` fixes when its customers first buy, how long they stay and how often they
order, how large their baskets are, and mildly their age, gender and browsing. `SEGMENTS`
lists six; ``--segments K`` uses the first K, so adding a segment is one entry here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from helpers.errors import UserError


@dataclass(frozen=True)
class Segment:
    """One planted customer segment.

    Times are in shop days: 374 of them span the window, running faster on busy days.
    """

    name: str
    weight: float  # share of customers (renormalised over the segments used)
    first_order: tuple[float, float]  # uniform range of the first order (shop days)
    active_days: tuple[float, float] | None  # lifetime after the first order; None = to the end
    gap_median_days: float  # median gap between orders (log-normal)
    gap_log_sd: float
    same_day_share: float  # orders followed by a second order the same day
    basket_range: tuple[float, float]  # quantile range of the real lines-per-invoice used
    basket_scale: float  # multiplies the lines per invoice drawn from that part
    quantity_shift: float  # moves quantities up the real distribution (copula sd units)
    cancel_rate: float  # share of purchase invoices later (partly) cancelled
    age_mean: float  # mild demographic difference
    female_share: float
    conversion: float  # share of this segment's web sessions that end in an order
    pages_shift: float  # added to ln(pages) of every session
    browse_after_last_days: float | None  # visits go on this long after the last order; None = to the end
    description: str


SEGMENTS: tuple[Segment, ...] = (
    Segment(
        "loyal high-value", weight=0.15, first_order=(0, 90), active_days=None,
        gap_median_days=13.0, gap_log_sd=0.8, same_day_share=0.15,
        basket_range=(0.0, 1.0), basket_scale=1.25, quantity_shift=0.1, cancel_rate=0.20,
        age_mean=47, female_share=0.55, conversion=0.18, pages_shift=0.10,
        browse_after_last_days=None,
        description="orders two or three times a month all year, large baskets",
    ),
    Segment(
        "occasional mid", weight=0.35, first_order=(0, 100), active_days=None,
        gap_median_days=100.0, gap_log_sd=0.3, same_day_share=0.08,
        basket_range=(0.0, 1.0), basket_scale=0.75, quantity_shift=-0.15, cancel_rate=0.20,
        age_mean=42, female_share=0.62, conversion=0.14, pages_shift=-0.05,
        browse_after_last_days=None,
        description="an order every three months or so, ordinary baskets",
    ),
    Segment(
        "one-time recent", weight=0.25, first_order=(300, 373), active_days=(0, 0),
        gap_median_days=1.0, gap_log_sd=0.0, same_day_share=0.0,
        basket_range=(0.35, 0.8), basket_scale=0.6, quantity_shift=-0.25, cancel_rate=0.05,
        age_mean=34, female_share=0.68, conversion=0.085, pages_shift=-0.15,
        browse_after_last_days=None,
        description="a single small order in the last three months",
    ),
    Segment(
        "lapsed", weight=0.25, first_order=(0, 100), active_days=(0, 70),
        gap_median_days=25.0, gap_log_sd=0.6, same_day_share=0.05,
        basket_range=(0.25, 0.85), basket_scale=0.75, quantity_shift=-0.15, cancel_rate=0.15,
        age_mean=45, female_share=0.60, conversion=0.11, pages_shift=-0.20,
        browse_after_last_days=60.0,
        description="one to three orders early in the year, none since",
    ),
    Segment(
        "new promising", weight=0.12, first_order=(260, 320), active_days=None,
        gap_median_days=11.0, gap_log_sd=0.45, same_day_share=0.1,
        basket_range=(0.1, 1.0), basket_scale=1.0, quantity_shift=0.0, cancel_rate=0.15,
        age_mean=31, female_share=0.66, conversion=0.16, pages_shift=0.05,
        browse_after_last_days=None,
        description="started in the autumn and orders every week or two",
    ),
    Segment(
        "bulk wholesale", weight=0.08, first_order=(0, 150), active_days=None,
        gap_median_days=30.0, gap_log_sd=0.45, same_day_share=0.1,
        basket_range=(0.5, 1.0), basket_scale=2.0, quantity_shift=1.0, cancel_rate=0.30,
        age_mean=50, female_share=0.40, conversion=0.22, pages_shift=0.15,
        browse_after_last_days=None,
        description="monthly, very large orders",
    ),
)


def planted_segments(k: int = 4) -> pd.DataFrame:
    """Return the first `k` planted segments with their customer shares and parameters.

    Parameters
    ----------
    k : int, default 4
        Number of segments, 1 to ``len(SEGMENTS)``.

    Returns
    -------
    pandas.DataFrame
        One row per segment: ``segment``, ``share`` (renormalised), the generating parameters
        and a plain-language ``description``.

    Raises
    ------
    UserError
        `k` out of range.

    Examples
    --------
    >>> planted_segments(2)[["segment", "share"]].round(2).to_dict("list")
    {'segment': ['loyal high-value', 'occasional mid'], 'share': [0.3, 0.7]}
    """
    segments = _segments(k)
    table = pd.DataFrame([asdict(s) for s in segments]).rename(columns={"name": "segment"})
    weight = table.pop("weight")
    table.insert(1, "share", weight / weight.sum())
    return table


def _segments(k: int) -> tuple[Segment, ...]:
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or not 1 <= k <= len(SEGMENTS):
        raise UserError(
            f"segments = {k!r}: must be a whole number from 1 to {len(SEGMENTS)}; "
            f"fix: pass --segments between 1 and {len(SEGMENTS)}"
        )
    return SEGMENTS[:k]


def _per_segment(segments: Sequence[Segment], field: str) -> np.ndarray:
    """Return one field of every segment as an array indexed by segment number."""
    return np.array([getattr(s, field) for s in segments])
