"""Calibration constants of the synthetic generator (`helpers.synth`), measured on real data.

Measured once on /work/shared/data/online_retail.csv.gz (UCI Online Retail, 541,909
lines, 2010-12-01..2011-12-09) and online_shoppers_intention.csv (12,330 sessions) with
DuckDB; the queries are those of `helpers.synth_calibration.calibration_table` plus the
per-value counts named in each comment. "Registered" = lines with a CustomerID; "purchase"
= invoice not starting with C. Tests never read the real files: these numbers are the only
link to them. Values marked "assumption" are not in the data (docs/calibration.md).

Every public name here is importable from `helpers.synth` too. The underscore names at
the end (country indices) are shared by the other ``synth_*`` modules only.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

FIRST_CUSTOMER_ID = 12_346  # the real ids run 12346-18287
FIRST_INVOICE = 536_365  # the real first invoice number
UK = "United Kingdom"

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

# Every country as an index into one Arrow array: registered countries first, so UK is 0.
_COUNTRY_NAMES = pa.array(
    [*CUSTOMER_COUNTRIES, *(c for c in GUEST_COUNTRIES if c not in CUSTOMER_COUNTRIES)], pa.string())
_UK_INDEX = 0  # the first of CUSTOMER_COUNTRIES
_GUEST_COUNTRY_INDEX = np.array([_COUNTRY_NAMES.to_pylist().index(c) for c in GUEST_COUNTRIES])
