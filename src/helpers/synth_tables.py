"""The four tables of one block of customers for `helpers.synth`.

`_generate_block` draws a block of `BLOCK_CUSTOMERS` customers from its own random stream
and returns its transactions (Online Retail columns, invoices numbered locally in time
order; `_number_invoices` gives them their final numbers), customers, web sessions and
planted labels. The order lines come from `helpers.synth_lines`. These are internals of
the generator, shared by the ``synth_*`` modules.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from helpers.synth_constants import (
    _COUNTRY_NAMES,
    _UK_INDEX,
    ADD_TO_BASKET_RATE,
    ANALYSIS_REFERENCE,
    CITIES,
    CONVERTED_PAGES_LOG,
    CUSTOMER_COUNTRIES,
    DURATION_FIT,
    DURATION_RESIDUAL,
    FIRST_CUSTOMER_ID,
    MISSING_BIRTH_DATE_SHARE,
    MISSING_GENDER_SHARE,
    NONCONVERTED_PAGES_LOG,
    PRODUCT_PAGE_SHARE,
    SESSION_BOUNCE_NONCONVERTED,
    UK_CITIES,
    WINDOW_DAYS,
    WINDOW_START,
)
from helpers.synth_lines import (
    _anonymous_lines,
    _cancellations,
    _Lines,
    _Orders,
    _orders,
    _postage_lines,
    _purchase_lines,
)
from helpers.synth_sampling import _calendar, _Catalog, _catalog, _categorical, _timestamps
from helpers.synth_segments import Segment, _per_segment, _segments

BLOCK_CUSTOMERS = 1_000  # customers per random stream; fixed so output never depends on chunking


@dataclass
class _Block:
    """The four tables of one block and its number of invoices (for the numbering)."""

    transactions: pa.Table
    customers: pa.Table
    sessions: pa.Table
    labels: pa.Table
    invoices: int



def _generate_block(seed: int, block: int, n_customers: int, k: int) -> _Block:
    """Generate every table for customers ``block * BLOCK_CUSTOMERS + 0 .. n_customers - 1``.

    Invoice numbers are local (0-based, in time order); `_number_invoices` shifts them.
    The draws from the block's random stream come in a fixed order: changing it changes
    every file, so new draws go at the end.
    """
    segments = _segments(k)
    rng = np.random.default_rng(np.random.SeedSequence([seed, block]))
    catalog = _catalog(seed)
    ids = FIRST_CUSTOMER_ID + block * BLOCK_CUSTOMERS + np.arange(n_customers, dtype=np.int64)
    seg = _categorical(rng, _per_segment(segments, "weight"), n_customers)
    country = _categorical(rng, list(CUSTOMER_COUNTRIES.values()), n_customers)
    personal_basket = rng.lognormal(0.0, 0.25, n_customers)  # some customers buy more lines
    orders = _orders(rng, seg, segments)
    transactions, invoices = _block_transactions(rng, catalog, orders, ids, seg, segments,
                                                 country, personal_basket)
    signup = _signup_dates(rng, orders, n_customers)
    customers = _customers_table(rng, ids, seg, segments, country, signup)
    sessions = _sessions_table(rng, ids, seg, segments, orders, signup,
                               _last_order_days(orders, n_customers))
    labels = pa.table({
        "customer_id": pa.array(ids, pa.int64()),
        "segment": pa.array(_per_segment(segments, "name")[seg], pa.string()),
    })
    return _Block(transactions, customers, sessions, labels, invoices=invoices)


def _block_transactions(rng: np.random.Generator, catalog: _Catalog, orders: _Orders,
                        ids: np.ndarray, seg: np.ndarray, segments: Sequence[Segment],
                        country: np.ndarray, personal_basket: np.ndarray) -> tuple[pa.Table, int]:
    """Build the block's transactions table and count its invoices.

    Registered orders (product lines, postage, returns on ``C`` invoices) and guest orders
    with stock adjustments, ordered by invoice time. `seg`, `country` and `personal_basket`
    are per customer, indexed like `ids`.
    """
    n_orders = len(orders.customer)
    order_seg = seg[orders.customer]
    purchase = _purchase_lines(rng, catalog, orders, order_seg, segments, personal_basket)
    post = _postage_lines(rng, catalog, country[orders.customer])
    cancelled, c_at, returned = _cancellations(rng, orders, purchase, post,
                                               _per_segment(segments, "cancel_rate")[order_seg])
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
    return transactions, len(invoice_customer) + len(anon_at)


def _signup_dates(rng: np.random.Generator, orders: _Orders, n_customers: int) -> np.ndarray:
    """Signup day per customer: most sign up with their first order, the others browse first."""
    first = np.r_[True, np.diff(orders.customer) != 0]
    first_order_at = np.empty(n_customers, dtype="datetime64[s]")
    first_order_at[orders.customer[first]] = orders.at[first]
    lead = np.where(rng.random(n_customers) < 0.6, 0,
                    np.round(rng.lognormal(math.log(60), 1.0, n_customers)))
    return first_order_at.astype("datetime64[D]") - lead.astype("timedelta64[D]")


def _last_order_days(orders: _Orders, n_customers: int) -> np.ndarray:
    """Calendar day index of each customer's last order (every customer has one)."""
    last = np.r_[np.diff(orders.customer) != 0, True]
    last_order_day = np.empty(n_customers, np.int64)
    last_order_day[orders.customer[last]] = orders.day[last]
    return last_order_day


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
    order_customer, order_at = orders.customer, orders.at
    orders_per_customer = np.bincount(order_customer, minlength=len(ids))
    browse_customer, browse_at = _browsing_sessions(rng, seg, segments, orders_per_customer,
                                                    signup, last_order_day)
    n_conv = len(order_customer)
    customer = np.r_[order_customer, browse_customer]
    converted = np.r_[np.ones(n_conv, bool), np.zeros(len(browse_customer), bool)]
    pages_shift = _per_segment(segments, "pages_shift")[seg[customer]]
    pages, product_views, clicks, duration = _session_activity(rng, converted, pages_shift)
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


def _browsing_sessions(rng: np.random.Generator, seg: np.ndarray, segments: Sequence[Segment],
                       orders_per_customer: np.ndarray, signup: np.ndarray,
                       last_order_day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Draw the sessions without a purchase: the customer (index) and start time of each.

    Enough of them that each segment converts at its rate, spread over the time the
    customer is around (from signup to the end, or a while after the last order).
    """
    cal = _calendar()
    conversion = _per_segment(segments, "conversion")
    n_browse = rng.poisson(orders_per_customer * (1 - conversion[seg]) / conversion[seg])
    lo = np.maximum((signup - WINDOW_START).astype(np.int64), 0)
    tail = np.array([np.inf if s.browse_after_last_days is None else s.browse_after_last_days
                     for s in segments])[seg]
    hi = np.minimum(last_order_day + tail, WINDOW_DAYS - 1).astype(np.int64)
    browse_customer = np.repeat(np.arange(len(seg)), n_browse)
    u_lo = np.r_[0.0, cal.web_cum][lo[browse_customer]]
    u_hi = cal.web_cum[hi[browse_customer]]
    u = u_lo + rng.random(len(browse_customer)) * (u_hi - u_lo)
    browse_day = np.minimum(np.searchsorted(cal.web_cum, u, side="right"), WINDOW_DAYS - 1)
    return browse_customer, _timestamps(rng, browse_day, cal.web_hour_cum)


def _session_activity(rng: np.random.Generator, converted: np.ndarray,
                      pages_shift: np.ndarray) -> tuple[np.ndarray, ...]:
    """Draw pages, product views, clicks and duration (seconds) of each session.

    Pages are log-normal (converting sessions longer), moved by the segment's `pages_shift`;
    some sessions without a purchase bounce after one page. Duration follows the real fit
    on pages (`DURATION_FIT`, `DURATION_RESIDUAL`).
    """
    n = len(converted)
    mean = np.where(converted, CONVERTED_PAGES_LOG[0], NONCONVERTED_PAGES_LOG[0])
    sd = np.where(converted, CONVERTED_PAGES_LOG[1], NONCONVERTED_PAGES_LOG[1])
    pages = np.maximum(np.round(np.exp(rng.normal(mean + pages_shift, sd))), 2).astype(np.int64)
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
    return pages, product_views, clicks, duration.astype(np.int64)
