"""Simulated customers from known BG/NBD and Gamma-Gamma parameters, for recovery tests.

Each customer i makes a first purchase at day 0 and is observed for T_i days:

- purchase rate lambda_i ~ Gamma(shape r, rate alpha) per day; while alive, repeat
  purchases arrive as a Poisson process with rate lambda_i;
- dropout probability p_i ~ Beta(a, b): after each *repeat* purchase the customer leaves
  for good with probability p_i, so they leave right after repeat purchase J_i,
  J_i ~ Geometric(p_i) on 1, 2, ... (BG/NBD's timing; nobody leaves after the first);
- spend of each purchase ~ Gamma(shape p, rate nu_i), nu_i ~ Gamma(shape q, rate v).

`simulate_btyd` returns the `helpers.clv.btyd_inputs`-shaped frame straight from these
draws, in continuous time (``recency`` is a fraction of a day, ``T`` whole days). Without
holdout or lines it uses closed forms (N ~ Poisson(lambda T) purchases, the observed last
one the x-th order statistic of N uniforms), so a million customers take about a second.
With ``holdout_days`` or ``lines`` it draws every purchase time instead; the holdout then
holds the purchases in [T, T + holdout_days), and ``lines`` the transaction lines (one per
purchase, 01_clean's columns) with first purchases at midnight of ``analysis_date - T``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from helpers.catalog import TRANSACTION_COLUMNS
from helpers.clv import INPUT_COLUMNS, BgNbd, GammaGamma


@dataclass(frozen=True)
class BtydTruth:
    """What the simulation knows and a fit should recover.

    customers : per customer ``customer_id, purchase_rate, dropout_p, spend_rate,
    dropout_after`` (J) and ``alive`` (still a customer at T).
    holdout_orders : ``customer_id, day, spend`` per holdout purchase (day = whole days
    after T), or None. lines : transaction lines, or None.
    """

    bgnbd: BgNbd
    gamma_gamma: GammaGamma
    customers: pd.DataFrame
    holdout_orders: pd.DataFrame | None = None
    lines: pd.DataFrame | None = None


def _observation_days(T_days, n: int, rng: np.random.Generator) -> np.ndarray:
    """Return T per customer: a scalar, a (low, high) range of whole days, or an array."""
    if np.isscalar(T_days):
        return np.full(n, float(T_days))
    values = np.asarray(T_days, dtype=float)
    if values.shape == (2,) and n != 2:
        return rng.integers(int(values[0]), int(values[1]) + 1, size=n).astype(float)
    return values


def _closed_form(lam, J, nu, big_t, p, rng) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return x, t_x and mean repeat spend without drawing every purchase.

    Of N ~ Poisson(lambda T) purchases, x = min(N, J) are made; the last made is the x-th
    order statistic of N uniforms on (0, T), T * Beta(x, N - x + 1); the sum of x
    Gamma(p, nu) spends is Gamma(p x, nu).
    """
    n_poisson = rng.poisson(lam * big_t)
    x = np.minimum(n_poisson, J)
    t_x, m = np.zeros(len(x)), np.zeros(len(x))
    repeat = x > 0
    t_x[repeat] = big_t[repeat] * rng.beta(x[repeat], n_poisson[repeat] - x[repeat] + 1)
    m[repeat] = rng.gamma(p * x[repeat], 1.0 / nu[repeat]) / x[repeat]
    return x, t_x, m


def _purchase_times(lam, J, end, rng) -> tuple[np.ndarray, np.ndarray]:
    """Return (customer index, time) of every repeat purchase in (0, end), time-sorted."""
    counts = rng.poisson(lam * end)
    customer = np.repeat(np.arange(len(lam)), counts)
    times = rng.random(len(customer)) * end[customer]
    order = np.lexsort((times, customer))
    customer, times = customer[order], times[order]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(len(customer)) - starts[customer]
    kept = rank < J[customer]  # the J-th repeat purchase is the last
    return customer[kept], times[kept]


def _lines(ids, customer, times, spends, first_day) -> pd.DataFrame:
    """Return one transaction line per purchase in 01_clean's columns."""
    stamps = first_day[customer] + pd.to_timedelta(times, unit="D")
    lines = pd.DataFrame({
        "customer_id": ids[customer], "invoice_id": [f"S{i:08d}" for i in range(len(customer))],
        "invoice_date": stamps, "product_id": "P1", "description": "ITEM",
        "country": "United Kingdom", "quantity": 1.0, "unit_price": spends, "amount": spends,
        "is_return": False, "is_outlier": False,
    })
    return lines.sort_values(["invoice_date", "customer_id"]).loc[:, list(TRANSACTION_COLUMNS)]


def _event_draws(lam, J, nu, big_t, holdout_days, p, rng):
    """Draw every purchase; return x, t_x, mean repeat spend and the holdout purchases."""
    n = len(lam)
    customer, times = _purchase_times(lam, J, big_t + holdout_days, rng)
    spends = rng.gamma(p, 1.0 / nu[customer])
    calibration = times < big_t[customer]
    x = np.bincount(customer[calibration], minlength=n)
    t_x = np.zeros(n)
    np.maximum.at(t_x, customer[calibration], times[calibration])
    total = np.bincount(customer[calibration], weights=spends[calibration], minlength=n)
    m = np.divide(total, x, out=np.zeros(n), where=x > 0)
    return x, t_x, m, customer, times, spends


def _event_route(ids, lam, J, nu, big_t, first_day, holdout_days, lines, p, rng):
    """Draw every purchase; return x, t_x, mean repeat spend, holdout purchases and lines."""
    x, t_x, m, customer, times, spends = _event_draws(lam, J, nu, big_t, holdout_days, p, rng)
    later = times >= big_t[customer]
    holdout = pd.DataFrame({"customer_id": ids[customer[later]],
                            "day": np.floor(times[later] - big_t[customer[later]]).astype(int),
                            "spend": spends[later]})
    line_frame = None
    if lines:  # first purchases at day 0, then every repeat purchase
        n = len(ids)
        line_frame = _lines(ids, np.concatenate([np.arange(n), customer]),
                            np.concatenate([np.zeros(n), times]),
                            np.concatenate([rng.gamma(p, 1.0 / nu), spends]), first_day)
    return x, t_x, m, holdout, line_frame


def simulate_btyd(
    n: int, r: float, alpha: float, a: float, b: float, p: float, q: float, v: float,
    T_days=(200, 400), seed: int = 0, holdout_days: int = 0, lines: bool = False,
    analysis_date: str | pd.Timestamp = "2024-01-01",
) -> tuple[pd.DataFrame, BtydTruth]:
    """Simulate n customers from BG/NBD (r, alpha, a, b) and Gamma-Gamma (p, q, v).

    Parameters
    ----------
    n : int
        Customers.
    r, alpha, a, b, p, q, v : float
        True parameters (alpha and rates per day).
    T_days : float, (low, high) or array, default (200, 400)
        Days observed since the first purchase: one value, whole days drawn uniformly in
        [low, high], or one value per customer.
    seed : int, default 0
    holdout_days : int, default 0
        Also draw the purchases of the ``holdout_days`` after T (``truth.holdout_orders``).
    lines : bool, default False
        Also return transaction lines, first purchases included (``truth.lines``).
    analysis_date : str or Timestamp, default "2024-01-01"
        The date T is measured to (the end of calibration when there is a holdout).

    Returns
    -------
    inputs : pandas.DataFrame
        `helpers.clv.INPUT_COLUMNS`; customer ids ``"C0000001"``, ...
    truth : BtydTruth

    Examples
    --------
    >>> inputs, truth = simulate_btyd(1000, 0.24, 4.4, 0.79, 2.4, 6.25, 3.74, 15.44, seed=1)
    >>> len(inputs), bool((inputs["recency"] <= inputs["T"]).all()), truth.bgnbd.r
    (1000, True, 0.24)
    """
    rng = np.random.default_rng(seed)
    big_t = _observation_days(T_days, n, rng)
    lam = rng.gamma(r, 1.0 / alpha, size=n)
    dropout_p = rng.beta(a, b, size=n)
    J = rng.geometric(np.clip(dropout_p, 1e-12, 1.0))
    nu = rng.gamma(q, 1.0 / v, size=n)
    ids = np.array([f"C{i:07d}" for i in range(1, n + 1)])
    first_day = pd.Timestamp(analysis_date).normalize() - pd.to_timedelta(big_t, unit="D")
    if holdout_days or lines:
        x, t_x, m, holdout, line_frame = _event_route(ids, lam, J, nu, big_t, first_day,
                                                      holdout_days, lines, p, rng)
    else:
        x, t_x, m = _closed_form(lam, J, nu, big_t, p, rng)
        holdout = line_frame = None
    inputs = pd.DataFrame({"customer_id": ids, "frequency": x.astype("int64"), "recency": t_x,
                           "T": big_t, "monetary_value": m, "first_purchase": first_day})
    customers = pd.DataFrame({"customer_id": ids, "purchase_rate": lam, "dropout_p": dropout_p,
                              "spend_rate": nu, "dropout_after": J, "alive": x < J})
    truth = BtydTruth(BgNbd(r, alpha, a, b), GammaGamma(p, q, v), customers, holdout, line_frame)
    return inputs.loc[:, list(INPUT_COLUMNS)], truth
