"""Seeded synthetic shop data with planted customer segments, calibrated to real data.

``python -m helpers.synth --customers 5000 --segments 4 --seed 42 --out data/synthetic/``
writes four Parquet files:

- ``transactions.parquet``: order lines with the Online Retail column names (``InvoiceNo,
  StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID, Country``), so the
  default ``input.columns`` mapping of ``params.yaml`` reads them unchanged. Like the real
  export it holds guest orders without a customer id, ``C`` cancellation invoices with
  negative quantities, exact duplicate lines, ``POST``/``DOT`` postage lines and zero-price
  stock adjustments.
- ``customers.parquet``: one row per registered customer (``customer_id, birth_date,
  gender, country, city, signup_date``).
- ``sessions.parquet``: web sessions of the registered customers (``customer_id,
  session_start, pages_viewed, product_views, clicks, session_duration_s, converted``).
  Every purchase invoice is preceded by one converting session.
- ``labels.parquet``: the planted truth (``customer_id, segment``).

How it works. Each customer belongs to one planted segment (`SEGMENTS`, the first K are
used). The segment fixes when the customer first buys, how long they stay active and the
median gap between orders, so segments differ clearly in recency, frequency, monetary value,
order value and tenure, and mildly in age, gender, conversion and pages per session.
Orders are drawn in "shop time" (a clock that runs faster on busy days) and mapped to
calendar days through the real daily intensity (month x weekday, closed on Saturdays and
holidays), so every customer's orders follow the November peak. Order contents, prices,
cancellations, guest orders, duplicates and sessions follow constants measured on the
shipped data (block "Calibration constants" below; docs/calibration.md compares real and
generated statistics, both computed by `calibration_table`).

Scale. Customers are generated in fixed blocks of `BLOCK_CUSTOMERS`, each from its own
random stream (``SeedSequence([seed, block])``), and written every ``chunk_customers``
customers as row groups of open ``ParquetWriter`` objects. Memory is bounded by one chunk
whatever the number of customers, and the files do not depend on the chunk size. Within a
block, lines are in time order and invoices numbered in time order; across blocks the
numbering continues, so the file as a whole is ordered by block, not by date.

``python -m helpers.synth --calibrate DIR --real online_retail.csv.gz --real-sessions
online_shoppers_intention.csv`` prints that comparison as a Markdown table instead.

Sources (both CC BY 4.0): UCI Online Retail (Chen, Sain & Guo 2012, DOI 10.24432/C5BW33)
and UCI Online Shoppers Purchasing Intention (Sakar & Kastro 2018, DOI 10.24432/C5F88Q).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from scipy.special import ndtr, ndtri

from helpers.errors import UserError

GENERATOR_VERSION = 1
BLOCK_CUSTOMERS = 1_000  # customers per random stream; fixed so output never depends on chunking
PILOT_BLOCKS = 5  # blocks measured to turn a row target into a number of customers
DEFAULT_CHUNK_CUSTOMERS = 10_000  # customers per written row group (memory bound)
FIRST_CUSTOMER_ID = 12_346  # the real ids run 12346-18287
FIRST_INVOICE = 536_365  # the real first invoice number
UK = "United Kingdom"
OUTPUT_FILES = ("transactions", "customers", "sessions", "labels")

# --------------------------------------------------------------------------------------
# Calibration constants
#
# Measured once on /work/shared/data/online_retail.csv.gz (UCI Online Retail, 541,909
# lines, 2010-12-01..2011-12-09) and online_shoppers_intention.csv (12,330 sessions) with
# DuckDB; the queries are those of `calibration_table` plus the per-value counts named in
# each comment. "Registered" = lines with a CustomerID; "purchase" = invoice not starting
# with C. Tests never read the real files: these numbers are the only link to them.
# --------------------------------------------------------------------------------------

WINDOW_START = np.datetime64("2010-12-01", "D")
WINDOW_DAYS = 374  # 2010-12-01 .. 2011-12-09
ANALYSIS_REFERENCE = np.datetime64("2011-12-10", "D")  # day after the window (ages, signups)

# Days without a single invoice in the real data besides Saturdays (no Saturday has one):
# the Christmas break and the 2011 UK bank holidays (plus the royal wedding, 29 April).
CLOSED_RANGES = (("2010-12-24", "2011-01-03"),)
CLOSED_DAYS = ("2011-04-22", "2011-04-24", "2011-04-25", "2011-04-29", "2011-05-02",
               "2011-05-30", "2011-08-29")

# Purchase invoices per open day, by month: count(DISTINCT InvoiceNo) / open days.
MONTH_INVOICES_PER_OPEN_DAY = {
    (2010, 12): 85.0, (2011, 1): 50.7, (2011, 2): 48.9, (2011, 3): 61.7, (2011, 4): 71.6,
    (2011, 5): 73.9, (2011, 6): 64.7, (2011, 7): 63.7, (2011, 8): 56.1, (2011, 9): 76.7,
    (2011, 10): 87.5, (2011, 11): 116.2, (2011, 12): 108.6,
}
# Purchase invoices per open day by weekday (Monday=0); Saturday never has one.
WEEKDAY_INVOICES_PER_OPEN_DAY = (72.8, 76.4, 78.2, 88.5, 72.7, 0.0, 44.1)
# Purchase invoices by hour of day (06..20).
HOUR_INVOICES = {6: 1, 7: 29, 8: 570, 9: 1590, 10: 2564, 11: 2642, 12: 3464, 13: 2939,
                 14: 2737, 15: 2668, 16: 1552, 17: 901, 18: 244, 19: 146, 20: 18}

# Lines per registered purchase invoice: quantiles at these probabilities (quantile_disc).
INVOICE_LINE_PROBS = (0.0, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5,
                      0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99, 0.995,
                      0.999, 1.0)
REGISTERED_INVOICE_LINES = (1, 1, 1, 1, 2, 4, 5, 6, 8, 10, 11, 13, 15, 17, 19, 21, 24, 28, 32,
                            38, 48, 65, 89, 111, 136, 239, 542)
# Lines per guest (no CustomerID) invoice with a positive price: far more skewed.
GUEST_INVOICE_LINES = (1, 1, 1, 1, 1, 2, 2, 4, 6, 10, 18, 28, 38, 48, 58, 73, 110, 150, 176,
                       203, 253, 414, 560, 628, 675, 748, 1113)

# Quantity on registered purchase product lines: the 24 commonest values (97.8% of lines),
# the rest log-normal (log mean 4.31, log sd 1.14, at least 11).
REGISTERED_QUANTITIES = (1, 12, 2, 6, 4, 3, 24, 10, 8, 5, 48, 25, 20, 16, 36, 72, 100, 96, 18,
                         7, 9, 30, 40, 144)
REGISTERED_QUANTITY_SHARES = (0.1833, 0.1514, 0.1455, 0.0949, 0.0809, 0.0675, 0.0599, 0.0535,
                              0.0293, 0.0204, 0.0151, 0.0126, 0.0120, 0.0100, 0.0095, 0.0049,
                              0.0045, 0.0045, 0.0039, 0.0032, 0.0029, 0.0027, 0.0026, 0.0026)
REGISTERED_QUANTITY_TAIL = (4.31, 1.14, 11)
# Guests buy single items: 12 commonest values (96.7%), tail log mean 3.22, sd 0.64, >= 13.
GUEST_QUANTITIES = (1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 9, 11)
GUEST_QUANTITY_SHARES = (0.5611, 0.1803, 0.0767, 0.0476, 0.0272, 0.0240, 0.0122, 0.0111,
                         0.0080, 0.0077, 0.0065, 0.0046)
GUEST_QUANTITY_TAIL = (3.22, 0.64, 13)

# Unit price of registered product lines: log-normal, mean of ln(price) 0.633, sd 0.916
# (median 1.95). Guest lines pay the same products exp(1.126 - 0.633) = 1.64 times more
# (guest ln(price) mean 1.126, sd 0.867): retail versus wholesale price.
PRICE_LOG_MEAN, PRICE_LOG_SD = 0.633, 0.916
# corr(ln quantity, ln price) on registered product lines is -0.405; the copula parameter
# below gives that after quantities are rounded to the common values.
QUANTITY_PRICE_CORRELATION = -0.42
GUEST_PRICE_FACTOR = 1.64
N_PRODUCTS = 3_900  # 4,070 StockCodes in the real data, ~170 of them non-product codes
PRODUCT_POPULARITY_LOG_SD = 1.3  # lines per product: median 62, p90 346, max 2313

# Shares of all lines.
MISSING_CUSTOMER_SHARE = 0.2493  # 135,080 / 541,909 lines without CustomerID
ADJUSTMENT_SHARE = 0.0046  # 2,515 zero-price lines (stock adjustments, all but 40 guests)
ADJUSTMENT_NEGATIVE_SHARE = 0.53  # of those, 1,336 have a negative quantity
ADJUSTMENT_NO_DESCRIPTION_SHARE = 0.58  # 1,454 lines have no Description
ADJUSTMENT_NOTES = ("damaged", "check", "?", "found", "lost", "wet damaged", "adjustment")
CANCELLATION_LINE_SHARE = 0.0171  # 9,288 lines on C invoices (the segments' cancel_rate hit it)
DUPLICATE_LINE_SHARE = 0.0097  # 5,268 extra copies of an identical line, 99% registered
# A C invoice returns the whole order (exact opposite total) in 251 of 3,654 cases; the
# others return a few lines (median 1, mean 2.4 lines per C invoice).
FULL_CANCELLATION_SHARE = 0.07
# POST (postage) lines: 56.8% of non-UK registered purchase invoices have one, 0.16% of UK.
POST_SHARE_ABROAD, POST_SHARE_UK = 0.568, 0.0016
POST_PRICES = (15.0, 18.0, 18.0, 18.0, 28.0, 40.0)  # median 18
DOT_SHARE = 0.57  # DOTCOM POSTAGE on guest invoices of 2+ product lines (694 of 1,210)
DOT_LOG_MEDIAN, DOT_LOG_SD = math.log(185.0), 0.9

# Registered customers by country (mode of each customer's lines; 4,372 customers).
CUSTOMER_COUNTRIES = {
    UK: 3950, "Germany": 95, "France": 87, "Spain": 30, "Belgium": 24, "Switzerland": 20,
    "Portugal": 19, "Italy": 15, "Finland": 12, "Norway": 10, "Netherlands": 9, "Austria": 9,
    "Channel Islands": 9, "Australia": 9, "Japan": 8, "Sweden": 8, "Denmark": 8, "Cyprus": 6,
    "Poland": 6, "USA": 4, "Canada": 4, "Greece": 4, "Unspecified": 4, "Israel": 4, "EIRE": 3,
    "Malta": 2, "United Arab Emirates": 2, "Bahrain": 2, "Singapore": 1, "Saudi Arabia": 1,
    "RSA": 1, "Brazil": 1, "Lebanon": 1, "Czech Republic": 1, "European Community": 1,
    "Lithuania": 1, "Iceland": 1,
}
# Guest lines by country: 98.9% UK.
GUEST_COUNTRIES = {UK: 0.9890, "EIRE": 0.0053, "Hong Kong": 0.0021, "Unspecified": 0.0015,
                   "Switzerland": 0.0009, "France": 0.0006, "Germany": 0.0006}
_COUNTRY_NAMES = pa.array(
    [*CUSTOMER_COUNTRIES, *(c for c in GUEST_COUNTRIES if c not in CUSTOMER_COUNTRIES)], pa.string())
_UK_INDEX = 0  # the first of CUSTOMER_COUNTRIES
_GUEST_COUNTRY_INDEX = np.array([_COUNTRY_NAMES.to_pylist().index(c) for c in GUEST_COUNTRIES])

# Web sessions (online_shoppers_intention.csv; pages = Administrative + Informational +
# ProductRelated, duration = the sum of the three durations, in seconds).
SESSION_CONVERSION = 0.1547  # Revenue True: 1,908 of 12,330
SESSION_BOUNCE_NONCONVERTED = 0.0565  # sessions of <= 1 page: 5.65% without, 0.4% with revenue
CONVERTED_PAGES_LOG = (3.485, 0.991)  # ln(pages) of converting sessions: mean, sd
NONCONVERTED_PAGES_LOG = (2.937, 1.08)  # ln(pages) of non-bounce non-converting sessions
# (2.771 and 1.253 including bounces, solved for the non-bounce part)
# ln(1+duration) = 2.391 + 1.289 ln(1+pages) + shift + N(0, sd) for sessions of 2+ pages,
# shift and sd by pages (the residual is far wider for short sessions): pages below each
# bound -> (mean, sd) of the residual.
DURATION_FIT = (2.391, 1.289)
DURATION_RESIDUAL = ((5, -0.569, 1.699), (15, 0.174, 0.889), (40, 0.134, 0.603),
                     (100, -0.083, 0.479), (math.inf, -0.343, 0.387))
PRODUCT_PAGE_SHARE = 0.918  # ProductRelated / all pages
WEEKEND_SESSION_WEIGHT = 0.76  # 23.3% of sessions on weekends -> a weekend day is 0.76 weekday
# Not in the data (assumptions, documented in docs/calibration.md): sessions by hour, clicks.
WEB_HOUR_WEIGHTS = (1, 0.6, 0.4, 0.3, 0.3, 0.5, 1.2, 2.5, 4, 5, 5.5, 5.8, 6, 5.8, 5.6, 5.4,
                    5.2, 5, 5.2, 5.8, 6.2, 5.5, 3.8, 2)
ADD_TO_BASKET_RATE = (0.03, 0.12)  # clicks on "add to basket" per product page: not / converted

# Not in the data (assumption): rough weights of UK customers' cities, and a few cities per
# country for the others (None for the rest).
UK_CITIES = {"London": 0.13, "Birmingham": 0.09, "Manchester": 0.09, "Leeds": 0.08,
             "Glasgow": 0.06, "Bristol": 0.06, "Liverpool": 0.05, "Sheffield": 0.05,
             "Edinburgh": 0.05, "Cardiff": 0.05, "Newcastle": 0.05, "Nottingham": 0.05,
             "Southampton": 0.05, "Norwich": 0.04, "Belfast": 0.04, "Brighton": 0.06}
CITIES = {
    "Germany": ("Berlin", "Hamburg", "Munich", "Cologne"), "France": ("Paris", "Lyon", "Lille"),
    "Spain": ("Madrid", "Barcelona"), "Belgium": ("Brussels", "Antwerp"),
    "Switzerland": ("Zurich", "Geneva"), "Portugal": ("Lisbon", "Porto"),
    "Italy": ("Milan", "Rome"), "Finland": ("Helsinki",), "Norway": ("Oslo", "Bergen"),
    "Netherlands": ("Amsterdam", "Rotterdam"), "Austria": ("Vienna",),
    "Channel Islands": ("St Helier", "St Peter Port"), "Australia": ("Sydney", "Melbourne"),
    "Japan": ("Tokyo", "Osaka"), "Sweden": ("Stockholm",), "Denmark": ("Copenhagen",),
    "Cyprus": ("Nicosia",), "Poland": ("Warsaw",), "USA": ("New York", "Chicago"),
    "Canada": ("Toronto",), "Greece": ("Athens",), "Israel": ("Tel Aviv",), "EIRE": ("Dublin",),
}
MISSING_BIRTH_DATE_SHARE = 0.06  # assumption: birth date optional at signup
MISSING_GENDER_SHARE = 0.03  # assumption

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
# Planted segments
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# Calendar and catalogue (the same for every block)
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


# --------------------------------------------------------------------------------------
# One block of customers
# --------------------------------------------------------------------------------------


@dataclass
class _Lines:
    """Order lines of one kind, grouped by invoice (local invoice index)."""

    invoice: np.ndarray
    code: np.ndarray
    description: np.ndarray
    quantity: np.ndarray
    price: np.ndarray

    @staticmethod
    def concat(parts: Sequence[_Lines]) -> _Lines:
        return _Lines(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                        ("invoice", "code", "description", "quantity", "price")))

    def take(self, index: np.ndarray) -> _Lines:
        return _Lines(self.invoice[index], self.code[index], self.description[index],
                      self.quantity[index], self.price[index])


@dataclass
class _Block:
    transactions: pa.Table
    customers: pa.Table
    sessions: pa.Table
    labels: pa.Table
    invoices: int


def _draw_products(rng: np.random.Generator, catalog: _Catalog, n: int) -> np.ndarray:
    """Products by popularity."""
    return np.minimum(np.searchsorted(catalog.popularity_cum, rng.random(n), side="right"), N_PRODUCTS - 1)


def _product_lines(rng: np.random.Generator, catalog: _Catalog, invoice: np.ndarray,
                   guest: bool, quantity_shift: np.ndarray | float = 0.0) -> _Lines:
    n = len(invoice)
    product = _draw_products(rng, catalog, n)
    # An invoice lists a product once: redraw repeats (a few rounds leave almost none).
    for _ in range(8):
        order = np.lexsort((product, invoice))
        repeat = np.zeros(n, bool)
        repeat[order[1:]] = (np.diff(invoice[order]) == 0) & (np.diff(product[order]) == 0)
        if not repeat.any():
            break
        product[repeat] = _draw_products(rng, catalog, int(repeat.sum()))
    # Cheap products sell by the dozen: quantity and price are tied by a Gaussian copula.
    rho = QUANTITY_PRICE_CORRELATION
    # A segment's shift moves its customers towards larger packs of the same pack sizes.
    latent = rho * catalog.price_z[product] + math.sqrt(1 - rho**2) * rng.normal(size=n)
    u = ndtr(latent + quantity_shift)
    if guest:
        quantity = _quantities(u, GUEST_QUANTITIES, GUEST_QUANTITY_SHARES, GUEST_QUANTITY_TAIL)
        price = np.round(catalog.prices[product] * GUEST_PRICE_FACTOR, 2)
    else:
        quantity = _quantities(u, REGISTERED_QUANTITIES, REGISTERED_QUANTITY_SHARES,
                               REGISTERED_QUANTITY_TAIL)
        price = catalog.prices[product]
    return _Lines(invoice, product, product, quantity, price)


@dataclass
class _Orders:
    """Registered purchase orders of a block, sorted by customer and time."""

    customer: np.ndarray  # index into the block's customers
    shop_time: np.ndarray  # shop days
    day: np.ndarray  # calendar day index
    at: np.ndarray  # datetime64[s]


def _orders(rng: np.random.Generator, seg: np.ndarray, segments: Sequence[Segment]) -> _Orders:
    """Draw each customer's orders: a renewal process in shop time, then calendar times."""
    cal = _calendar()
    customer_parts, time_parts = [], []
    for s_index, s in enumerate(segments):
        members = np.flatnonzero(seg == s_index)
        m = len(members)
        first = rng.uniform(*s.first_order, m)
        if s.active_days is None:
            end = np.full(m, float(WINDOW_DAYS))
        else:
            end = np.minimum(first + rng.uniform(*s.active_days, m), WINDOW_DAYS)
        single = s.active_days == (0, 0) or s.gap_log_sd <= 0
        # Enough columns that even short gaps reach the end of the window.
        max_orders = 1 if single else int(math.ceil(3 * WINDOW_DAYS / s.gap_median_days)) + 2
        gaps = rng.lognormal(math.log(s.gap_median_days), max(s.gap_log_sd, 1e-9), (m, max_orders - 1))
        times = first[:, None] + np.concatenate([np.zeros((m, 1)), np.cumsum(gaps, axis=1)], axis=1)
        keep = times < end[:, None]
        keep[:, 0] = True
        row, col = np.nonzero(keep)
        customer_parts.append(members[row])
        time_parts.append(times[row, col])
    customer = np.concatenate(customer_parts)
    shop_time = np.concatenate(time_parts)
    day = _shop_day(shop_time)
    at = _timestamps(rng, day, cal.hour_cum)
    # Same-day follow-up orders (14% of the real gaps between a customer's orders are under
    # a day), placed 10 minutes to 4 hours later but before midnight.
    same_day_share = np.array([s.same_day_share for s in segments])[seg[customer]]
    follow = np.flatnonzero(rng.random(len(customer)) < same_day_share)
    customer = np.r_[customer, customer[follow]]
    shop_time = np.r_[shop_time, shop_time[follow]]
    day = np.r_[day, day[follow]]
    at = np.r_[at, _later_same_day(rng, at[follow], 10, 240)]
    order = np.lexsort((at, customer))
    return _Orders(customer[order], shop_time[order], day[order], at[order])


def _cancellations(rng: np.random.Generator, orders: _Orders, purchase: _Lines, post: _Lines,
                   cancel_rate: np.ndarray) -> tuple[np.ndarray, np.ndarray, _Lines]:
    """Return the cancelled orders, their C invoices' times and the returned lines.

    A cancelled order is returned a few days later (never after the window) on a C
    invoice, in full (`FULL_CANCELLATION_SHARE`) or a few of its lines. The returned lines'
    invoice is ``len(orders) + position`` in the returned order array.
    """
    cal = _calendar()
    n_orders = len(orders.customer)
    cancelled = np.flatnonzero(rng.random(n_orders) < cancel_rate)
    c_shop_time = orders.shop_time[cancelled] + rng.lognormal(math.log(3.0), 1.3, len(cancelled))
    in_window = c_shop_time < WINDOW_DAYS
    cancelled, c_shop_time = cancelled[in_window], c_shop_time[in_window]
    n_c = len(cancelled)
    c_day = np.maximum(_shop_day(c_shop_time), orders.day[cancelled])
    c_at = _timestamps(rng, c_day, cal.hour_cum)
    same_day = c_day == orders.day[cancelled]
    c_at[same_day] = _later_same_day(rng, orders.at[cancelled][same_day], 5, 180)
    full = rng.random(n_c) < FULL_CANCELLATION_SHARE
    returned_lines = rng.geometric(0.6, n_c)  # mean 1.7 lines when partial
    c_index = np.full(n_orders, -1)
    c_index[cancelled] = np.arange(n_c)
    # Candidates: the order's lines (not the duplicate copies) and its postage.
    first_copy = (np.r_[True, np.diff(purchase.invoice) != 0]
                  | (np.r_[1, np.diff(purchase.code)] != 0))
    candidate = _Lines.concat([
        purchase.take(np.flatnonzero((c_index[purchase.invoice] >= 0) & first_copy)),
        post.take(np.flatnonzero(c_index[post.invoice] >= 0)),
    ])
    which = c_index[candidate.invoice]
    rank = _rank_within(which, rng.random(len(which)))
    returned = candidate.take(np.flatnonzero(full[which] | (rank < returned_lines[which])))
    which = c_index[returned.invoice]
    some = np.ceil(rng.random(len(which)) * returned.quantity).astype(np.int64)
    partial_quantity = np.where(rng.random(len(which)) < 0.7, returned.quantity, some)
    returned.quantity = -np.where(full[which], returned.quantity, partial_quantity)
    returned.invoice = n_orders + which
    return cancelled, c_at, returned


def _anonymous_lines(rng: np.random.Generator, catalog: _Catalog, registered_lines: int,
                     first_invoice: int) -> tuple[_Lines, np.ndarray, np.ndarray]:
    """Guest orders and zero-price stock adjustments: lines, invoice times and countries.

    Sized so that they make `MISSING_CUSTOMER_SHARE` of the block's lines. Invoices are
    numbered from `first_invoice`; countries are indices into `_COUNTRY_NAMES`.
    """
    cal = _calendar()
    anonymous = registered_lines * MISSING_CUSTOMER_SHARE / (1 - MISSING_CUSTOMER_SHARE)
    n_adjust = int(rng.poisson(registered_lines * ADJUSTMENT_SHARE / (1 - MISSING_CUSTOMER_SHARE)))
    guest_sizes = _guest_invoice_sizes(rng, max(int(round(anonymous)) - n_adjust, 0))
    n_guest = len(guest_sizes)
    dot = (guest_sizes >= 3) & (rng.random(n_guest) < DOT_SHARE)
    guest_invoice = first_invoice + np.repeat(np.arange(n_guest), guest_sizes - dot)
    guest = _product_lines(rng, catalog, guest_invoice, guest=True)
    dot_invoice = first_invoice + np.flatnonzero(dot)
    n_dot = len(dot_invoice)
    dot_lines = _Lines(dot_invoice, np.full(n_dot, catalog.dot), np.full(n_dot, catalog.dot),
                       np.ones(n_dot, np.int64),
                       np.round(rng.lognormal(DOT_LOG_MEDIAN, DOT_LOG_SD, n_dot), 2))
    code = _draw_products(rng, catalog, n_adjust)
    no_text = rng.random(n_adjust) < ADJUSTMENT_NO_DESCRIPTION_SHARE
    description = np.where(no_text, catalog.no_description,
                           catalog.notes + rng.integers(0, len(ADJUSTMENT_NOTES), n_adjust))
    quantity = np.maximum(np.round(rng.lognormal(2.3, 1.4, n_adjust)), 1).astype(np.int64)
    quantity[rng.random(n_adjust) < ADJUSTMENT_NEGATIVE_SHARE] *= -1
    adjust = _Lines(first_invoice + n_guest + np.arange(n_adjust), code, description, quantity,
                    np.zeros(n_adjust))
    n_invoices = n_guest + n_adjust
    at = _timestamps(rng, _shop_day(rng.uniform(0, WINDOW_DAYS, n_invoices)), cal.hour_cum)
    country = _GUEST_COUNTRY_INDEX[_categorical(rng, list(GUEST_COUNTRIES.values()), n_invoices)]
    country[n_guest:] = _UK_INDEX  # adjustments are booked in the UK
    return _Lines.concat([guest, dot_lines, adjust]), at, country


def _generate_block(seed: int, block: int, n_customers: int, k: int) -> _Block:
    """Generate every table for customers ``block * BLOCK_CUSTOMERS + 0 .. n_customers - 1``.

    Invoice numbers are local (0-based, in time order); `_number_invoices` shifts them.
    """
    segments = _segments(k)
    rng = np.random.default_rng(np.random.SeedSequence([seed, block]))
    catalog = _catalog(seed)
    ids = FIRST_CUSTOMER_ID + block * BLOCK_CUSTOMERS + np.arange(n_customers, dtype=np.int64)

    def per_segment(field: str) -> np.ndarray:
        return np.array([getattr(s, field) for s in segments])

    seg = _categorical(rng, per_segment("weight"), n_customers)
    country = _categorical(rng, list(CUSTOMER_COUNTRIES.values()), n_customers)
    personal_basket = rng.lognormal(0.0, 0.25, n_customers)  # some customers buy more lines
    orders = _orders(rng, seg, segments)
    n_orders = len(orders.customer)
    order_seg = seg[orders.customer]

    # Purchase lines: the segment's part of the real lines-per-invoice distribution.
    lo, hi = per_segment("basket_range")[order_seg].T
    lines_per_order = np.maximum(np.round(
        _from_quantiles(lo + rng.random(n_orders) * (hi - lo), REGISTERED_INVOICE_LINES)
        * per_segment("basket_scale")[order_seg] * personal_basket[orders.customer]), 1)
    line_order = np.repeat(np.arange(n_orders), lines_per_order.astype(np.int64))
    purchase = _product_lines(rng, catalog, line_order, guest=False,
                              quantity_shift=per_segment("quantity_shift")[order_seg][line_order])
    # Exact duplicates: a line written twice in a row (registered lines only, as in the data).
    copies = 1 + (rng.random(len(line_order)) < DUPLICATE_LINE_SHARE / (1 - MISSING_CUSTOMER_SHARE))
    purchase = purchase.take(np.repeat(np.arange(len(line_order)), copies))
    # Postage on most orders from abroad.
    abroad = country[orders.customer] != _UK_INDEX
    post_share = np.where(abroad, POST_SHARE_ABROAD, POST_SHARE_UK)
    post_orders = np.flatnonzero(rng.random(n_orders) < post_share)
    n_post = len(post_orders)
    post = _Lines(post_orders, np.full(n_post, catalog.post), np.full(n_post, catalog.post),
                  rng.choice(np.array([1, 1, 1, 2, 3]), n_post),
                  rng.choice(np.array(POST_PRICES), n_post))
    cancelled, c_at, returned = _cancellations(rng, orders, purchase, post,
                                               per_segment("cancel_rate")[order_seg])
    registered = _Lines.concat([purchase, post, returned])
    invoice_customer = np.r_[orders.customer, orders.customer[cancelled]]
    anonymous, anon_at, anon_country = _anonymous_lines(rng, catalog, len(registered.invoice),
                                                        len(invoice_customer))
    transactions = _transactions_table(
        _Lines.concat([registered, anonymous]),
        invoice_at=np.r_[orders.at, c_at, anon_at],
        invoice_customer=np.r_[ids[invoice_customer], np.full(len(anon_at), -1)],
        invoice_country=np.r_[country[invoice_customer], anon_country],
        invoice_cancel=np.r_[np.zeros(n_orders, bool), np.ones(len(c_at), bool),
                             np.zeros(len(anon_at), bool)],
        catalog=catalog,
    )

    first = np.r_[True, np.diff(orders.customer) != 0]
    last = np.r_[np.diff(orders.customer) != 0, True]
    first_order_at = np.empty(n_customers, dtype="datetime64[s]")
    first_order_at[orders.customer[first]] = orders.at[first]
    last_order_day = np.empty(n_customers, np.int64)
    last_order_day[orders.customer[last]] = orders.day[last]
    # Most sign up with their first order, the others browse for a while first.
    lead = np.where(rng.random(n_customers) < 0.6, 0,
                    np.round(rng.lognormal(math.log(60), 1.0, n_customers)))
    signup = first_order_at.astype("datetime64[D]") - lead.astype("timedelta64[D]")
    customers = _customers_table(rng, ids, seg, segments, country, signup)
    sessions = _sessions_table(rng, ids, seg, segments, orders, signup, last_order_day)
    labels = pa.table({
        "customer_id": pa.array(ids, pa.int64()),
        "segment": pa.array(per_segment("name")[seg], pa.string()),
    })
    return _Block(transactions, customers, sessions, labels,
                  invoices=len(invoice_customer) + len(anon_at))


def _guest_invoice_sizes(rng: np.random.Generator, target_lines: int) -> np.ndarray:
    """Guest invoice sizes from the real distribution until they add up to `target_lines`."""
    sizes: list[np.ndarray] = []
    total = 0
    while total < target_lines:
        batch = np.round(_from_quantiles(rng.random(64), GUEST_INVOICE_LINES))
        batch = np.maximum(batch, 1).astype(np.int64)
        sizes.append(batch)
        total += int(batch.sum())
    if not sizes:
        return np.zeros(0, np.int64)
    out = np.concatenate(sizes)
    cum = np.cumsum(out)
    n = int(np.searchsorted(cum, target_lines)) + 1
    out = out[:n]
    out[-1] -= int(cum[n - 1] - target_lines)  # trim the last invoice to hit the target
    return out[out > 0]


def _transactions_table(lines: _Lines, *, invoice_at: np.ndarray, invoice_customer: np.ndarray,
                        invoice_country: np.ndarray, invoice_cancel: np.ndarray,
                        catalog: _Catalog) -> pa.Table:
    """Order invoices by time, number them from 0 and build the Online Retail columns."""
    inv_rank = np.empty(len(invoice_at), dtype=np.int64)
    inv_rank[np.argsort(invoice_at, kind="stable")] = np.arange(len(invoice_at))
    order = np.argsort(inv_rank[lines.invoice], kind="stable")
    lines = lines.take(order)
    inv = lines.invoice
    customer = invoice_customer[inv]
    return pa.table({
        "InvoiceNo": pa.array(inv_rank[inv], pa.int64()),  # local; `_number_invoices` formats it
        "StockCode": catalog.codes.take(pa.array(lines.code)),
        "Description": catalog.descriptions.take(pa.array(lines.description)),
        "Quantity": pa.array(lines.quantity, pa.int64()),
        "InvoiceDate": pa.array(invoice_at[inv].astype("datetime64[us]"), pa.timestamp("us")),
        "UnitPrice": pa.array(lines.price, pa.float64()),
        "CustomerID": pa.array(customer, pa.int64(), mask=customer < 0),
        "Country": _COUNTRY_NAMES.take(pa.array(invoice_country[inv])),
        "_cancel": pa.array(invoice_cancel[inv]),
    })


def _number_invoices(table: pa.Table, first: int) -> pa.Table:
    """Replace local invoice indices by text numbers from `first`, ``C`` on cancellations."""
    number = pc.cast(pc.add(table["InvoiceNo"], pa.scalar(first, pa.int64())), pa.string())
    with_c = pc.binary_join_element_wise(pa.scalar("C"), number, "")
    invoice = pc.if_else(table["_cancel"], with_c, number)
    return table.set_column(0, "InvoiceNo", invoice).drop_columns(["_cancel"])


def _customers_table(rng: np.random.Generator, ids: np.ndarray, seg: np.ndarray,
                     segments: Sequence[Segment], country: np.ndarray,
                     signup: np.ndarray) -> pa.Table:
    """Demographics: age and gender differ mildly by segment; cities are an assumption."""
    n = len(ids)
    age = np.clip(rng.normal(np.array([s.age_mean for s in segments])[seg], 12.0), 18, 85)
    birth = ANALYSIS_REFERENCE - np.round(age * 365.25).astype("timedelta64[D]")
    birth_missing = rng.random(n) < MISSING_BIRTH_DATE_SHARE
    female = rng.random(n) < np.array([s.female_share for s in segments])[seg]
    gender = np.where(female, "F", "M").astype(object)
    gender[rng.random(n) < MISSING_GENDER_SHARE] = None
    city = np.full(n, None, dtype=object)
    uk = country == _UK_INDEX
    city[uk] = np.array(list(UK_CITIES), dtype=object)[
        _categorical(rng, list(UK_CITIES.values()), int(uk.sum()))]
    u = rng.random(n)
    names = _COUNTRY_NAMES.to_pylist()
    for i in np.flatnonzero(~uk):
        options = CITIES.get(names[country[i]])
        city[i] = options[int(u[i] * len(options))] if options else None
    return pa.table({
        "customer_id": pa.array(ids, pa.int64()),
        "birth_date": pa.array(birth, pa.date32(), mask=birth_missing),
        "gender": pa.array(gender, pa.string()),
        "country": _COUNTRY_NAMES.take(pa.array(country)),
        "city": pa.array(city, pa.string()),
        "signup_date": pa.array(signup, pa.date32()),
    })


def _sessions_table(rng: np.random.Generator, ids: np.ndarray, seg: np.ndarray,
                    segments: Sequence[Segment], orders: _Orders, signup: np.ndarray,
                    last_order_day: np.ndarray) -> pa.Table:
    """Web sessions: one converting session per order, browsing sessions around them."""
    cal = _calendar()
    order_customer, order_at = orders.customer, orders.at
    conversion = np.array([s.conversion for s in segments])
    shift = np.array([s.pages_shift for s in segments])
    n_customers = len(ids)
    # Browsing sessions: enough that the segment converts at its rate, spread over the time
    # the customer is around (from signup to the end, or a while after the last order).
    n_orders = np.bincount(order_customer, minlength=n_customers)
    n_browse = rng.poisson(n_orders * (1 - conversion[seg]) / conversion[seg])
    lo = np.maximum((signup - WINDOW_START).astype(np.int64), 0)
    tail = np.array([np.inf if s.browse_after_last_days is None else s.browse_after_last_days
                     for s in segments])[seg]
    hi = np.minimum(last_order_day + tail, WINDOW_DAYS - 1).astype(np.int64)
    browse_customer = np.repeat(np.arange(n_customers), n_browse)
    u_lo = np.r_[0.0, cal.web_cum][lo[browse_customer]]
    u_hi = cal.web_cum[hi[browse_customer]]
    u = u_lo + rng.random(len(browse_customer)) * (u_hi - u_lo)
    browse_day = np.minimum(np.searchsorted(cal.web_cum, u, side="right"), WINDOW_DAYS - 1)
    browse_at = _timestamps(rng, browse_day, cal.web_hour_cum)

    n_conv = len(order_customer)
    customer = np.r_[order_customer, browse_customer]
    converted = np.r_[np.ones(n_conv, bool), np.zeros(len(browse_customer), bool)]
    n = len(customer)
    mean = np.where(converted, CONVERTED_PAGES_LOG[0], NONCONVERTED_PAGES_LOG[0])
    sd = np.where(converted, CONVERTED_PAGES_LOG[1], NONCONVERTED_PAGES_LOG[1])
    pages = np.maximum(np.round(np.exp(rng.normal(mean + shift[seg[customer]], sd))), 2).astype(np.int64)
    bounce = ~converted & (rng.random(n) < SESSION_BOUNCE_NONCONVERTED)
    pages[bounce] = 1
    a, b = DURATION_FIT
    group = np.searchsorted(np.array([g[0] for g in DURATION_RESIDUAL]), pages, side="right")
    shift_mean = np.array([g[1] for g in DURATION_RESIDUAL])[group]
    shift_sd = np.array([g[2] for g in DURATION_RESIDUAL])[group]
    duration = np.round(np.expm1(a + b * np.log1p(pages) + rng.normal(shift_mean, shift_sd)))
    duration[bounce] = np.where(rng.random(int(bounce.sum())) < 0.8, 0,
                                np.round(rng.exponential(60, int(bounce.sum()))))
    product_views = rng.binomial(pages, PRODUCT_PAGE_SHARE)
    product_views[converted] = np.maximum(product_views[converted], 1)
    basket_rate = np.where(converted, ADD_TO_BASKET_RATE[1], ADD_TO_BASKET_RATE[0])
    clicks = np.maximum(pages - 1, 0) + rng.binomial(product_views, basket_rate)
    clicks[converted] += 1  # the checkout click
    duration = duration.astype(np.int64)
    # A converting session ends a few minutes before its invoice.
    start = np.r_[order_at - duration[:n_conv].astype("timedelta64[s]")
                  - rng.integers(30, 600, n_conv).astype("timedelta64[s]"), browse_at]
    order = np.lexsort((start, customer))
    return pa.table({
        "customer_id": pa.array(ids[customer[order]], pa.int64()),
        "session_start": pa.array(start[order].astype("datetime64[us]"), pa.timestamp("us")),
        "pages_viewed": pa.array(pages[order], pa.int64()),
        "product_views": pa.array(product_views[order], pa.int64()),
        "clicks": pa.array(clicks[order], pa.int64()),
        "session_duration_s": pa.array(duration[order], pa.int64()),
        "converted": pa.array(converted[order], pa.bool_()),
    })


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GenerationSummary:
    """What `generate` wrote."""

    out_dir: str
    customers: int
    segments: int
    seed: int
    rows: dict[str, int]
    seconds: float

    def line(self) -> str:
        rows = ", ".join(f"{name} {count:,}" for name, count in self.rows.items())
        return (f"wrote {self.out_dir}: {self.customers:,} customers in {self.segments} segments "
                f"(seed {self.seed}); rows: {rows}; {self.seconds:.1f} s")


def _blocks(customers: int) -> Iterator[tuple[int, int]]:
    for block in range(math.ceil(customers / BLOCK_CUSTOMERS)):
        yield block, min(BLOCK_CUSTOMERS, customers - block * BLOCK_CUSTOMERS)


def customers_for_rows(rows: int, segments: int = 4, seed: int = 42) -> int:
    """Return the number of customers whose transactions come to about `rows` lines.

    The lines per customer are measured on the first `PILOT_BLOCKS` blocks (the same ones
    `generate` then writes), so the answer is deterministic and within a few % of `rows`.

    Parameters
    ----------
    rows : int
        Target number of transaction lines (at least 1).
    segments : int, default 4
        Number of planted segments.
    seed : int, default 42
        Random seed.

    Returns
    -------
    int
        Customers to generate (at least 1).
    """
    if rows < 1:
        raise UserError(f"rows = {rows}: must be at least 1; fix: pass e.g. --rows 10M")
    lines = sum(_generate_block(seed, block, BLOCK_CUSTOMERS, segments).transactions.num_rows
                for block in range(PILOT_BLOCKS))
    per_customer = lines / (PILOT_BLOCKS * BLOCK_CUSTOMERS)
    return max(1, int(round(rows / per_customer)))


def generate(out_dir: str | Path, customers: int | None = None, *, rows: int | None = None,
             segments: int = 4, seed: int = 42,
             chunk_customers: int = DEFAULT_CHUNK_CUSTOMERS) -> GenerationSummary:
    """Write transactions, customers, sessions and labels Parquet files for synthetic customers.

    Parameters
    ----------
    out_dir : str or Path
        Folder to write ``transactions.parquet``, ``customers.parquet``,
        ``sessions.parquet``, ``labels.parquet`` and ``synthetic.json`` (how they were made).
    customers : int, optional
        Number of registered customers. Give this or `rows`; neither means 5,000.
    rows : int, optional
        Approximate number of transaction lines instead (see `customers_for_rows`).
    segments : int, default 4
        Number of planted segments (the first ones of `SEGMENTS`).
    seed : int, default 42
        Random seed: the same seed and sizes give byte-identical files.
    chunk_customers : int, default 10,000
        Customers generated and written at once (one Parquet row group per file); only memory
        depends on it, not the content. Rounded up to whole blocks of `BLOCK_CUSTOMERS`.

    Returns
    -------
    GenerationSummary
        Folder, sizes and row counts per file.

    Raises
    ------
    UserError
        Bad sizes, or a folder that cannot be written.
    """
    started = time.perf_counter()
    _segments(segments)
    if customers is not None and rows is not None:
        raise UserError("give either customers or rows, not both; fix: drop --customers or --rows")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise UserError(f"seed = {seed!r}: must be a whole number >= 0; fix: pass e.g. --seed 42")
    if chunk_customers < 1:
        raise UserError(f"chunk_customers = {chunk_customers}: must be at least 1; fix: use e.g. 10000")
    if rows is not None:
        customers = customers_for_rows(rows, segments, seed)
    customers = 5_000 if customers is None else customers
    if customers < 1:
        raise UserError(f"customers = {customers}: must be at least 1; fix: pass e.g. --customers 5000")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: exists and is not a folder; fix: pass a folder to --out")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(
            f"{out}: cannot create the folder ({exc.strerror}); fix: choose a writable --out") from None
    blocks_per_chunk = max(1, math.ceil(chunk_customers / BLOCK_CUSTOMERS))
    partial = {name: out / f".{name}.parquet.partial" for name in OUTPUT_FILES}
    writers: dict[str, pq.ParquetWriter] = {}
    counts = dict.fromkeys(OUTPUT_FILES, 0)
    next_invoice = FIRST_INVOICE
    pending: list[_Block] = []
    try:
        def flush() -> None:
            nonlocal next_invoice
            if not pending:
                return
            numbered = []
            for block in pending:
                numbered.append(_number_invoices(block.transactions, next_invoice))
                next_invoice += block.invoices
            tables = {
                "transactions": pa.concat_tables(numbered),
                "customers": pa.concat_tables([b.customers for b in pending]),
                "sessions": pa.concat_tables([b.sessions for b in pending]),
                "labels": pa.concat_tables([b.labels for b in pending]),
            }
            for name, table in tables.items():
                if name not in writers:
                    writers[name] = pq.ParquetWriter(partial[name], table.schema, compression="zstd")
                writers[name].write_table(table, row_group_size=max(table.num_rows, 1))
                counts[name] += table.num_rows
            pending.clear()

        for block, size in _blocks(customers):
            pending.append(_generate_block(seed, block, size, segments))
            if len(pending) >= blocks_per_chunk:
                flush()
        flush()
        for writer in writers.values():
            writer.close()
        writers.clear()
        for name, path in partial.items():
            path.replace(out / f"{name}.parquet")
    except OSError as exc:
        raise UserError(
            f"{out}: cannot write ({exc.strerror}); fix: free disk space or choose another --out"
        ) from None
    finally:
        for writer in writers.values():
            writer.close()
        for path in partial.values():
            path.unlink(missing_ok=True)
    summary = GenerationSummary(str(out), customers, segments, seed, counts,
                                round(time.perf_counter() - started, 2))
    (out / "synthetic.json").write_text(json.dumps(
        {**asdict(summary), "generator_version": GENERATOR_VERSION, "block_customers": BLOCK_CUSTOMERS,
         "segments_used": [s.name for s in _segments(segments)]}, indent=2) + "\n", encoding="utf-8")
    return summary


# --------------------------------------------------------------------------------------
# Calibration: the same statistics on the real and the generated data
# --------------------------------------------------------------------------------------

# name, unit, SQL over view `t` (Online Retail columns) and the helper views.
_TRANSACTION_STATS: tuple[tuple[str, str, str], ...] = (
    ("lines", "count", "SELECT count(*) FROM t"),
    ("lines without CustomerID", "share",
     "SELECT avg((CustomerID IS NULL)::INT) FROM t"),
    ("lines on C (cancellation) invoices", "share",
     "SELECT avg((InvoiceNo LIKE 'C%')::INT) FROM t"),
    ("exact duplicate lines (extra copies)", "share",
     "SELECT 1 - (SELECT count(*) FROM (SELECT DISTINCT * FROM t)) / count(*) FROM t"),
    ("lines from the United Kingdom", "share",
     "SELECT avg((Country = 'United Kingdom')::INT) FROM t"),
    ("POST lines", "share", "SELECT avg((StockCode = 'POST')::INT) FROM t"),
    ("zero-price lines", "share", "SELECT avg((UnitPrice = 0)::INT) FROM t"),
    ("registered customers from the United Kingdom", "share",
     "SELECT avg((c = 'United Kingdom')::INT) FROM (SELECT mode(Country) c FROM reg GROUP BY CustomerID)"),
    ("lines per registered purchase invoice, median", "lines",
     "SELECT median(n) FROM inv"),
    ("lines per registered purchase invoice, mean", "lines", "SELECT avg(n) FROM inv"),
    ("registered purchase invoices with 1 line", "share", "SELECT avg((n = 1)::INT) FROM inv"),
    ("quantity per product line, median", "units", "SELECT median(Quantity) FROM prod"),
    ("quantity per product line, mean", "units", "SELECT avg(Quantity) FROM prod"),
    ("product lines with quantity 1", "share", "SELECT avg((Quantity = 1)::INT) FROM prod"),
    ("product lines with quantity 12", "share", "SELECT avg((Quantity = 12)::INT) FROM prod"),
    ("unit price, median", "price", "SELECT median(UnitPrice) FROM prod"),
    ("ln(unit price), mean", "log", "SELECT avg(ln(UnitPrice)) FROM prod"),
    ("ln(unit price), sd", "log", "SELECT stddev(ln(UnitPrice)) FROM prod"),
    ("guest unit price / registered, medians", "ratio",
     "SELECT (SELECT median(UnitPrice) FROM t WHERE CustomerID IS NULL AND UnitPrice > 0 "
     "AND Quantity > 0 AND StockCode NOT IN ('POST', 'DOT')) / (SELECT median(UnitPrice) FROM prod)"),
    ("registered invoice value, median", "price", "SELECT median(v) FROM inv"),
    ("orders per customer, median", "orders", "SELECT median(o) FROM cust"),
    ("orders per customer, mean", "orders", "SELECT avg(o) FROM cust"),
    ("customers with one order", "share", "SELECT avg((o = 1)::INT) FROM cust"),
    ("net revenue per customer, median", "price", "SELECT median(m) FROM cust"),
    ("recency (days), median", "days", "SELECT median(recency) FROM cust"),
    ("tenure (days), median", "days", "SELECT median(tenure) FROM cust"),
    ("days between a customer's orders, median", "days", "SELECT median(gap) FROM gaps"),
    ("days between a customer's orders, 25%", "days", "SELECT quantile_cont(gap, 0.25) FROM gaps"),
    ("days between a customer's orders, 75%", "days", "SELECT quantile_cont(gap, 0.75) FROM gaps"),
    ("purchase invoices in November", "share",
     "SELECT avg((month(d) = 11)::INT) FROM pinv"),
    ("purchase invoices in February", "share",
     "SELECT avg((month(d) = 2)::INT) FROM pinv"),
    ("purchase invoices on Sundays", "share",
     "SELECT avg((dayofweek(d) = 0)::INT) FROM pinv"),
    ("purchase invoices on Saturdays", "share",
     "SELECT avg((dayofweek(d) = 6)::INT) FROM pinv"),
    ("purchase invoices 10:00-15:59", "share",
     "SELECT avg((hour(d) BETWEEN 10 AND 15)::INT) FROM pinv"),
)

_TRANSACTION_VIEWS = (
    "CREATE OR REPLACE VIEW reg AS SELECT * FROM t WHERE CustomerID IS NOT NULL",
    "CREATE OR REPLACE VIEW prod AS SELECT * FROM reg WHERE InvoiceNo NOT LIKE 'C%' AND Quantity > 0 "
    "AND UnitPrice > 0 AND StockCode NOT IN ('POST', 'DOT', 'M', 'D', 'C2', 'CRUK', 'BANK CHARGES', 'PADS')",
    "CREATE OR REPLACE VIEW inv AS SELECT InvoiceNo, count(*) n, sum(Quantity * UnitPrice) v FROM reg "
    "WHERE InvoiceNo NOT LIKE 'C%' AND InvoiceNo NOT LIKE 'A%' GROUP BY 1",
    "CREATE OR REPLACE VIEW pinv AS SELECT InvoiceNo, min(InvoiceDate) d FROM t "
    "WHERE InvoiceNo NOT LIKE 'C%' AND InvoiceNo NOT LIKE 'A%' GROUP BY 1",
    "CREATE OR REPLACE VIEW cust AS SELECT CustomerID, "
    "count(DISTINCT InvoiceNo) FILTER (WHERE InvoiceNo NOT LIKE 'C%') o, sum(Quantity * UnitPrice) m, "
    "date_diff('day', CAST(max(InvoiceDate) FILTER (WHERE InvoiceNo NOT LIKE 'C%') AS DATE), "
    "(SELECT CAST(max(InvoiceDate) AS DATE) + 1 FROM t)) recency, "
    "date_diff('day', CAST(min(InvoiceDate) FILTER (WHERE InvoiceNo NOT LIKE 'C%') AS DATE), "
    "(SELECT CAST(max(InvoiceDate) AS DATE) + 1 FROM t)) tenure FROM reg GROUP BY 1",
    "CREATE OR REPLACE VIEW gaps AS SELECT date_diff('second', lag(d) OVER (PARTITION BY CustomerID "
    "ORDER BY d), d) / 86400.0 gap FROM (SELECT DISTINCT CustomerID, InvoiceNo, InvoiceDate d FROM reg "
    "WHERE InvoiceNo NOT LIKE 'C%') QUALIFY gap IS NOT NULL",
)

# name, unit, SQL over view `s` with columns pages, product_pages, duration, converted.
_SESSION_STATS: tuple[tuple[str, str, str], ...] = (
    ("sessions", "count", "SELECT count(*) FROM s"),
    ("sessions ending in a purchase", "share", "SELECT avg(converted::INT) FROM s"),
    ("sessions of at most 1 page (bounces)", "share", "SELECT avg((pages <= 1)::INT) FROM s"),
    ("pages per session, median", "pages", "SELECT median(pages) FROM s"),
    ("pages per session, mean", "pages", "SELECT avg(pages) FROM s"),
    ("pages per converting session, median", "pages", "SELECT median(pages) FROM s WHERE converted"),
    ("product pages / all pages", "share", "SELECT sum(product_pages) / sum(pages) FROM s"),
    ("session duration (s), median", "seconds", "SELECT median(duration) FROM s"),
    ("session duration (s), mean", "seconds", "SELECT avg(duration) FROM s"),
    ("session duration of converting sessions (s), median", "seconds",
     "SELECT median(duration) FROM s WHERE converted"),
)

_REAL_SESSIONS = (
    "SELECT Administrative + Informational + ProductRelated AS pages, ProductRelated AS product_pages, "
    "Administrative_Duration + Informational_Duration + ProductRelated_Duration AS duration, "
    "Revenue AS converted FROM read_csv({path}, header = true)"
)
_GENERATED_SESSIONS = (
    "SELECT pages_viewed AS pages, product_views AS product_pages, session_duration_s AS duration, "
    "converted FROM read_parquet({path})"
)


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _read_sql(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".parquet"):
        return f"read_parquet({_sql_str(str(path))})"
    if re.search(r"\.(csv|txt)(\.gz)?$", name):
        return f"read_csv({_sql_str(str(path))}, header = true)"
    raise UserError(f"{path}: unknown file type; fix: pass a .parquet or .csv(.gz) file")


def _stats(query: str, views: Sequence[str], stats: Sequence[tuple[str, str, str]]) -> dict[str, float]:
    import duckdb

    con = duckdb.connect()
    try:
        # Parquet is read in place (the generated file may hold 100M lines); a CSV is parsed once.
        kind = "VIEW" if "read_parquet(" in query else "TABLE"
        con.execute(f"CREATE {kind} t AS {query}").fetchall()
        for view in views:
            con.execute(view).fetchall()
        values = {}
        for name, _unit, sql in stats:
            value = con.execute(sql).fetchall()[0][0]
            values[name] = float("nan") if value is None else float(value)
        return values
    finally:
        con.close()


def _existing(path: str | Path | None) -> Path | None:
    if path is None or str(path) == "":
        return None
    p = Path(path).expanduser()
    return p if p.is_file() else None


def calibration_table(real_transactions_path: str | Path | None, generated_path: str | Path,
                      real_sessions_path: str | Path | None = None) -> pd.DataFrame:
    """Compute the same statistics on the real and the generated data, side by side.

    Parameters
    ----------
    real_transactions_path : str or Path or None
        The real export with Online Retail columns (CSV, optionally gzipped, or Parquet).
        None or a missing file leaves the ``real`` column empty (NaN).
    generated_path : str or Path
        A folder written by `generate` (its ``transactions.parquet`` and, when present,
        ``sessions.parquet`` are used) or a transactions Parquet file.
    real_sessions_path : str or Path, optional
        ``online_shoppers_intention.csv``; with it (and generated sessions) the table also
        compares web sessions.

    Returns
    -------
    pandas.DataFrame
        Columns ``table`` (transactions/sessions), ``statistic``, ``unit``, ``real``,
        ``generated``.

    Raises
    ------
    UserError
        The generated data is missing.
    """
    generated = Path(generated_path).expanduser()
    folder = generated if generated.is_dir() else generated.parent
    transactions = generated / "transactions.parquet" if generated.is_dir() else generated
    if not transactions.is_file():
        raise UserError(
            f"{transactions}: generated transactions not found; fix: run python -m helpers.synth first")
    rows = []
    real = _existing(real_transactions_path)
    gen_values = _stats(f"SELECT * FROM {_read_sql(transactions)}", _TRANSACTION_VIEWS,
                        _TRANSACTION_STATS)
    real_values = (_stats(f"SELECT * FROM {_read_sql(real)}", _TRANSACTION_VIEWS, _TRANSACTION_STATS)
                   if real else {})
    for name, unit, _sql in _TRANSACTION_STATS:
        rows.append(("transactions", name, unit, real_values.get(name, math.nan), gen_values[name]))
    sessions = folder / "sessions.parquet"
    if sessions.is_file():
        gen_s = _stats(_GENERATED_SESSIONS.format(path=_sql_str(str(sessions))),
                       ("CREATE VIEW s AS SELECT * FROM t",), _SESSION_STATS)
        real_s_path = _existing(real_sessions_path)
        real_s = _stats(_REAL_SESSIONS.format(path=_sql_str(str(real_s_path))),
                        ("CREATE VIEW s AS SELECT * FROM t",), _SESSION_STATS) if real_s_path else {}
        for name, unit, _sql in _SESSION_STATS:
            rows.append(("sessions", name, unit, real_s.get(name, math.nan), gen_s[name]))
    return pd.DataFrame(rows, columns=["table", "statistic", "unit", "real", "generated"])


def _fmt(value: float, unit: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if unit == "share":
        return f"{value:.1%}" if value >= 0.001 or value == 0 else f"{value:.2%}"
    if unit == "count":
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}"


def calibration_markdown(table: pd.DataFrame) -> str:
    """Format a `calibration_table` as a Markdown table (shares in %, counts with commas)."""
    lines = ["| table | statistic | real | generated |", "|---|---|---:|---:|"]
    for row in table.itertuples(index=False):
        lines.append(f"| {row.table} | {row.statistic} | {_fmt(row.real, row.unit)} | "
                     f"{_fmt(row.generated, row.unit)} |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------


def parse_count(text: str) -> int:
    """Parse a count such as ``5000``, ``1_000_000``, ``10M``, ``2.5k`` or ``1e6``.

    Examples
    --------
    >>> parse_count("10M"), parse_count("2.5k"), parse_count("1_000")
    (10000000, 2500, 1000)
    """
    match = re.fullmatch(r"\s*([0-9][0-9_]*(?:\.[0-9]+)?(?:e[0-9]+)?)\s*([kKmMgGbB]?)\s*", str(text))
    if not match:
        raise UserError(f"{text!r} is not a count; fix: write e.g. 5000, 10M or 2.5k")
    scale = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "b": 10**9}[match.group(2).lower()]
    return int(round(float(match.group(1).replace("_", "")) * scale))


class _Parser(argparse.ArgumentParser):
    """Argument parser whose errors become one-line UserErrors (exit 1, no usage dump)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UserError(f"{self.prog}: {message}")


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point ``python -m helpers.synth``; returns the exit status."""
    parser = _Parser(prog="python -m helpers.synth",
                     description="Write synthetic transactions, customers, sessions and labels.")
    parser.add_argument("--customers", type=str, default=None, help="registered customers (default 5000)")
    parser.add_argument("--rows", type=str, default=None, help="approximate transaction lines instead, e.g. 10M")
    parser.add_argument("--segments", type=int, default=4, help=f"planted segments, 1-{len(SEGMENTS)} (default 4)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--out", default="data/synthetic", help="output folder (default data/synthetic)")
    parser.add_argument("--chunk-customers", type=str, default=str(DEFAULT_CHUNK_CUSTOMERS),
                        help="customers per written chunk (memory bound; default 10000)")
    parser.add_argument("--calibrate", metavar="DIR", default=None,
                        help="instead of generating, print the real-vs-generated table for DIR")
    parser.add_argument("--real", default=None, help="with --calibrate: the real transactions file")
    parser.add_argument("--real-sessions", default=None, help="with --calibrate: online_shoppers_intention.csv")
    try:
        args = parser.parse_args(argv)
        if args.calibrate is not None:
            for flag, path in (("--real", args.real), ("--real-sessions", args.real_sessions)):
                if path is not None and not Path(path).is_file():
                    raise UserError(
                        f"{flag} {path}: file not found; fix: pass the real data file or drop {flag}")
            table = calibration_table(args.real, args.calibrate, args.real_sessions)
            print(calibration_markdown(table), end="")
            return 0
        summary = generate(
            args.out,
            customers=None if args.customers is None else parse_count(args.customers),
            rows=None if args.rows is None else parse_count(args.rows),
            segments=args.segments,
            seed=args.seed,
            chunk_customers=parse_count(args.chunk_customers),
        )
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # the CLI promises one line, never a traceback
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"error: {type(exc).__name__}: {first}", file=sys.stderr)
        return 1
    print(summary.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
