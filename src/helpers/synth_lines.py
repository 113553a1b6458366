"""Order lines of one block of customers for `helpers.synth`: orders, products, returns, guests.

A block's registered customers get their orders (`_orders`, a renewal process in shop
time), the orders their product lines (`_purchase_lines`) and postage (`_postage_lines`),
some of the orders a ``C`` invoice that returns lines (`_cancellations`); guest orders and
stock adjustments without a customer (`_anonymous_lines`) complete the block. Lines are
`_Lines` grouped by a block-local invoice index; `helpers.synth_tables` turns them into the
transactions table. These are internals of the generator, shared by the ``synth_*`` modules.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from helpers.synth_constants import (
    _GUEST_COUNTRY_INDEX,
    _UK_INDEX,
    ADJUSTMENT_NEGATIVE_SHARE,
    ADJUSTMENT_NO_DESCRIPTION_SHARE,
    ADJUSTMENT_NOTES,
    ADJUSTMENT_SHARE,
    DOT_LOG_MEDIAN,
    DOT_LOG_SD,
    DOT_SHARE,
    DUPLICATE_LINE_SHARE,
    FULL_CANCELLATION_SHARE,
    GUEST_COUNTRIES,
    GUEST_INVOICE_LINES,
    GUEST_PRICE_FACTOR,
    GUEST_QUANTITIES,
    GUEST_QUANTITY_SHARES,
    GUEST_QUANTITY_TAIL,
    MISSING_CUSTOMER_SHARE,
    N_PRODUCTS,
    POST_PRICES,
    POST_SHARE_ABROAD,
    POST_SHARE_UK,
    QUANTITY_PRICE_CORRELATION,
    REGISTERED_INVOICE_LINES,
    REGISTERED_QUANTITIES,
    REGISTERED_QUANTITY_SHARES,
    REGISTERED_QUANTITY_TAIL,
    WINDOW_DAYS,
)
from helpers.synth_sampling import (
    _calendar,
    _Catalog,
    _categorical,
    _from_quantiles,
    _later_same_day,
    _quantities,
    _rank_within,
    _shop_day,
    _timestamps,
)
from helpers.synth_segments import Segment, _per_segment


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


def _purchase_lines(rng: np.random.Generator, catalog: _Catalog, orders: _Orders,
                    order_seg: np.ndarray, segments: Sequence[Segment],
                    personal_basket: np.ndarray) -> _Lines:
    """Product lines of every order, each line written twice now and then as in the export.

    Lines per order come from the segment's part of the real lines-per-invoice distribution,
    scaled by the segment and by the customer's own basket size (`personal_basket`).
    """
    n_orders = len(orders.customer)
    lo, hi = _per_segment(segments, "basket_range")[order_seg].T
    lines_per_order = np.maximum(np.round(
        _from_quantiles(lo + rng.random(n_orders) * (hi - lo), REGISTERED_INVOICE_LINES)
        * _per_segment(segments, "basket_scale")[order_seg] * personal_basket[orders.customer]), 1)
    line_order = np.repeat(np.arange(n_orders), lines_per_order.astype(np.int64))
    quantity_shift = _per_segment(segments, "quantity_shift")[order_seg][line_order]
    purchase = _product_lines(rng, catalog, line_order, guest=False, quantity_shift=quantity_shift)
    # Exact duplicates: a line written twice in a row (registered lines only, as in the data).
    copies = 1 + (rng.random(len(line_order)) < DUPLICATE_LINE_SHARE / (1 - MISSING_CUSTOMER_SHARE))
    return purchase.take(np.repeat(np.arange(len(line_order)), copies))


def _postage_lines(rng: np.random.Generator, catalog: _Catalog, order_country: np.ndarray) -> _Lines:
    """POST lines: on most orders from abroad, on a few from the UK (`order_country` per order)."""
    abroad = order_country != _UK_INDEX
    post_share = np.where(abroad, POST_SHARE_ABROAD, POST_SHARE_UK)
    post_orders = np.flatnonzero(rng.random(len(order_country)) < post_share)
    n_post = len(post_orders)
    return _Lines(post_orders, np.full(n_post, catalog.post), np.full(n_post, catalog.post),
                  rng.choice(np.array([1, 1, 1, 2, 3]), n_post),
                  rng.choice(np.array(POST_PRICES), n_post))


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

