"""Calendar, catalogue and sampling helpers shared by every block of `helpers.synth`.

The calendar maps "shop time" (374 shop days, running faster on busy days) to open
calendar days and hours; the catalogue is the seeded list of products with their codes,
names, prices and popularity. Both are the same for every block of customers and cached.
These are internals of the generator, shared by the ``synth_*`` modules.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyarrow as pa
from scipy.special import ndtri

from helpers.synth_constants import (
    ADJUSTMENT_NOTES,
    CLOSED_DAYS,
    CLOSED_RANGES,
    HOUR_INVOICES,
    INVOICE_LINE_PROBS,
    MONTH_INVOICES_PER_OPEN_DAY,
    N_PRODUCTS,
    PRICE_LOG_MEAN,
    PRICE_LOG_SD,
    PRODUCT_POPULARITY_LOG_SD,
    WEB_HOUR_WEIGHTS,
    WEEKDAY_INVOICES_PER_OPEN_DAY,
    WEEKEND_SESSION_WEIGHT,
    WINDOW_DAYS,
    WINDOW_START,
)

# Product names: combinations in the style of the real catalogue.
_ADJECTIVES = ("VINTAGE", "REGENCY", "RETROSPOT", "JUMBO", "SET OF 3", "SET OF 6", "PACK OF 12",
               "SMALL", "LARGE", "ANTIQUE", "HANGING", "WOODEN", "GLASS", "ENAMEL", "PAPER",
               "CERAMIC", "FELTCRAFT", "CHRISTMAS", "SPOTTY", "FLORAL", "SWEETHEART",
               "PARISIENNE", "SCANDINAVIAN", "HOME SWEET HOME")
_COLOURS = ("WHITE", "RED", "PINK", "BLUE", "GREEN", "IVORY", "BLACK", "CREAM", "SILVER",
            "GOLD", "PASTEL", "ASSORTED")
_NOUNS = ("MUG", "T-LIGHT HOLDER", "CAKE TIN", "CAKESTAND", "BUNTING", "LANTERN", "DOORMAT",
          "TEACUP AND SAUCER", "CANDLE", "ALARM CLOCK", "NOTEBOOK", "HOT WATER BOTTLE",
          "PHOTO FRAME", "COASTER", "STORAGE BOX", "METAL SIGN", "LUNCH BAG", "SHOPPER BAG",
          "CAKE CASES", "WALL CLOCK", "CUSHION COVER", "APRON", "OVEN GLOVE", "JAM JAR", "BOWL",
          "PLATE", "NAPKINS", "WRAP", "GIFT BAG", "TISSUES", "DOILY", "HEART DECORATION",
          "BIRD ORNAMENT", "CHALKBOARD", "BAKING SET", "PICNIC BASKET", "UMBRELLA",
          "HAND WARMER", "PURSE", "PARTY CUPS")


# --------------------------------------------------------------------------------------
# Calendar
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Calendar:
    days: np.ndarray  # datetime64[D] of the window
    shop_cum: np.ndarray  # cumulative share of purchase intensity at the end of each day
    web_cum: np.ndarray  # the same for web sessions (every day open)
    hour_cum: np.ndarray
    web_hour_cum: np.ndarray


@lru_cache(maxsize=1)
def _calendar() -> _Calendar:
    days = WINDOW_START + np.arange(WINDOW_DAYS)
    weekday = (days.astype("int64") - 4) % 7  # 1970-01-01 was a Thursday (3); Monday = 0
    years = days.astype("datetime64[Y]").astype(int) + 1970
    months = days.astype("datetime64[M]").astype(int) % 12 + 1
    month_rate = np.array([MONTH_INVOICES_PER_OPEN_DAY[(y, m)] for y, m in zip(years, months, strict=True)])
    weekday_rate = np.asarray(WEEKDAY_INVOICES_PER_OPEN_DAY)
    shop = month_rate * weekday_rate[weekday] / weekday_rate[weekday_rate > 0].mean()
    closed = np.isin(days, np.array(CLOSED_DAYS, dtype="datetime64[D]"))
    for lo, hi in CLOSED_RANGES:
        closed |= (days >= np.datetime64(lo)) & (days <= np.datetime64(hi))
    shop[closed] = 0.0
    web = month_rate * np.where(weekday >= 5, WEEKEND_SESSION_WEIGHT, 1.0)
    hours = np.zeros(24)
    for hour, count in HOUR_INVOICES.items():
        hours[hour] = count
    return _Calendar(
        days=days,
        shop_cum=np.cumsum(shop) / shop.sum(),
        web_cum=np.cumsum(web) / web.sum(),
        hour_cum=np.cumsum(hours) / hours.sum(),
        web_hour_cum=np.cumsum(WEB_HOUR_WEIGHTS) / np.sum(WEB_HOUR_WEIGHTS),
    )


def _shop_day(shop_days: np.ndarray) -> np.ndarray:
    """Map shop time (0..WINDOW_DAYS) to the index of an open calendar day."""
    cal = _calendar()
    u = np.clip(np.asarray(shop_days, dtype=float) / WINDOW_DAYS, 0.0, 1.0 - 1e-12)
    return np.searchsorted(cal.shop_cum, u, side="right")


def _timestamps(rng: np.random.Generator, day_index: np.ndarray, hour_cum: np.ndarray) -> np.ndarray:
    """Datetimes (seconds) on the given days at hours drawn from `hour_cum`, whole minutes."""
    n = len(day_index)
    hours = np.searchsorted(hour_cum, rng.random(n), side="right")
    minutes = rng.integers(0, 60, n)
    seconds = day_index.astype("int64") * 86_400 + hours * 3_600 + minutes * 60
    return WINDOW_START.astype("datetime64[s]") + seconds


def _later_same_day(rng: np.random.Generator, at: np.ndarray, low: int, high: int) -> np.ndarray:
    """Times `low` to `high` minutes after `at`, but never past 23:59 of the same day."""
    to_midnight = (86_400 - (at - at.astype("datetime64[D]")).astype(np.int64)) // 60 - 1
    minutes = np.minimum(rng.integers(low, high, len(at)), to_midnight)
    return at + minutes.astype("timedelta64[m]")



# --------------------------------------------------------------------------------------
# Catalogue
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Catalog:
    codes: pa.Array  # StockCode per code index (products, then POST, DOT)
    descriptions: pa.Array  # products, POSTAGE, DOTCOM POSTAGE, adjustment notes, null
    prices: np.ndarray  # registered unit price per product
    price_z: np.ndarray  # standardised ln(price) (for the quantity-price copula)
    popularity_cum: np.ndarray
    post: int
    dot: int
    notes: int  # first description index of the adjustment notes
    no_description: int


@lru_cache(maxsize=4)
def _catalog(seed: int) -> _Catalog:
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5EED_CA7A]))
    numbers = rng.choice(np.arange(10_002, 91_000), size=N_PRODUCTS, replace=False)
    suffix = np.where(rng.random(N_PRODUCTS) < 0.12, rng.integers(0, 12, N_PRODUCTS), -1)
    codes = [f"{n}{'ABCDEFGHIJKL'[s] if s >= 0 else ''}" for n, s in zip(numbers, suffix, strict=True)]
    combos = rng.choice(len(_ADJECTIVES) * len(_COLOURS) * len(_NOUNS), size=N_PRODUCTS, replace=False)
    names = []
    for combo in combos:
        adjective, rest = divmod(int(combo), len(_COLOURS) * len(_NOUNS))
        colour, noun = divmod(rest, len(_NOUNS))
        names.append(f"{_COLOURS[colour]} {_ADJECTIVES[adjective]} {_NOUNS[noun]}")
    popularity = rng.lognormal(0.0, PRODUCT_POPULARITY_LOG_SD, N_PRODUCTS)
    weights = popularity / popularity.sum()
    # Standardise ln(price) under the popularity weights, so the price of a random *line*
    # has the real log mean and sd whatever products happen to be popular.
    z = rng.normal(size=N_PRODUCTS)
    z_mean = np.sum(weights * z)
    z_sd = math.sqrt(np.sum(weights * (z - z_mean) ** 2))
    price_z = (z - z_mean) / z_sd
    prices = _price_points(np.exp(PRICE_LOG_MEAN + PRICE_LOG_SD * price_z))
    descriptions = [*names, "POSTAGE", "DOTCOM POSTAGE", *ADJUSTMENT_NOTES, None]
    return _Catalog(
        codes=pa.array([*codes, "POST", "DOT"], pa.string()),
        descriptions=pa.array(descriptions, pa.string()),
        prices=prices,
        price_z=price_z,
        popularity_cum=np.cumsum(weights),
        post=N_PRODUCTS,
        dot=N_PRODUCTS + 1,
        notes=N_PRODUCTS + 2,
        no_description=len(descriptions) - 1,
    )


def _price_points(price: np.ndarray) -> np.ndarray:
    """Round like a shop: whole pence below 1, steps of 0.05 above."""
    rounded = np.where(price < 1.0, np.round(price, 2), np.round(price * 20) / 20)
    return np.maximum(rounded, 0.04)


# --------------------------------------------------------------------------------------
# Sampling helpers
# --------------------------------------------------------------------------------------


def _from_quantiles(u: np.ndarray, values: Sequence[int]) -> np.ndarray:
    """Quantile function at `u` of a distribution given by quantiles (log-linear between them)."""
    return np.exp(np.interp(u, INVOICE_LINE_PROBS, np.log(values)))


def _quantities(u: np.ndarray, values: Sequence[int], shares: Sequence[float],
                tail: tuple[float, float, int]) -> np.ndarray:
    """Quantity at quantile `u`: the common values with their real shares, the rest log-normal.

    The common values are ordered by size and the log-normal rest (mostly large) placed above
    them, so a larger `u` gives a larger quantity (a monotone map, needed for the copula).
    """
    order = np.argsort(values)
    head_values = np.asarray(values)[order]
    cum = np.cumsum(np.asarray(shares)[order])
    in_head = u < cum[-1]
    out = np.empty(len(u), dtype=np.int64)
    out[in_head] = head_values[np.minimum(np.searchsorted(cum, u[in_head], side="right"), len(cum) - 1)]
    mu, sd, low = tail
    tail_u = np.clip((u[~in_head] - cum[-1]) / (1 - cum[-1]), 1e-12, 1 - 1e-12)
    out[~in_head] = np.maximum(np.round(np.exp(mu + sd * ndtri(tail_u))), low)
    return out


def _categorical(rng: np.random.Generator, weights: Sequence[float], n: int) -> np.ndarray:
    cum = np.cumsum(weights, dtype=float)
    return np.searchsorted(cum / cum[-1], rng.random(n), side="right")


def _rank_within(groups: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Rank of each element by `keys` within its group (groups need not be sorted)."""
    order = np.lexsort((keys, groups))
    sorted_groups = groups[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_groups)) + 1]
    sizes = np.diff(np.r_[starts, len(groups)])
    ranks = np.empty(len(groups), dtype=np.int64)
    ranks[order] = np.arange(len(groups)) - np.repeat(starts, sizes)
    return ranks
