"""Customer lifetime value and churn risk: BG/NBD for orders, Gamma-Gamma for spend.

The buy-till-you-die (BTYD) models of Fader, Hardie & Lee (2005, "Counting your customers
the easy way", and "RFM and CLV") turn each customer's purchase history into the chance
they are still a customer, the orders they will place and what those are worth. Time is
counted in **days** throughout.

1. `btyd_inputs`: DuckDB SQL over the cleaned lines of 01_clean, one row per customer with
   a purchase day before the analysis date: ``frequency`` (repeat purchase days),
   ``recency`` (first to last purchase day), ``T`` (first purchase day to the analysis
   date), ``monetary_value`` (mean spend of the repeat days) and ``first_purchase``.
2. `fit_bgnbd` and `fit_gamma_gamma`: maximum likelihood (L-BFGS-B on the log-parameters,
   analytic gradients, vectorised over customers). `frequency_spend_correlation` checks
   the one assumption Gamma-Gamma makes: spend per order does not depend on frequency.
3. `predict`: per customer P(alive), expected orders and spend in a horizon, the
   (discounted) CLV, the median date of the next order, P(no order in ``churn_days``) and
   a churn-risk band (`CHURN_BANDS`).

Out-of-time validation is in `helpers.clv_validation`; simulated data from known parameters
in `helpers.synth_btyd`.

How the inputs sit beside RFM (`helpers.rfm.customer_metrics`):

- RFM ``frequency`` counts kept *orders* (invoices not fully cancelled, several a day
  possible); BTYD ``frequency`` counts *repeat purchase days*: distinct days with a positive
  purchase spend, minus the first. A customer with RFM frequency 1 has frequency 0 here;
  two invoices on one day are one occasion. Returns are ignored for occasions, so a day
  whose order was later cancelled still counts (RFM drops that order).
- RFM ``recency_days`` runs from the last kept order to the analysis date; BTYD ``recency``
  runs from the first to the last purchase day, so RFM recency_days = T - recency whenever
  both see the same first and last day. RFM ``tenure_days`` is T in that case.
- RFM ``monetary`` is the net revenue of all lines, returns included; ``monetary_value`` is
  the mean *purchase* spend (returns not netted) of the repeat days, the first day left out
  as the Gamma-Gamma convention asks, 0 without a repeat day.
- Customers with only returns or only non-positive purchase days are in RFM (frequency 0)
  but not here. Customers whose every order was cancelled (RFM frequency 0 too) are here
  and count in the fit, but 03_rfm gives them no forecast
  (`helpers.clv_validation.future_value`'s ``no_kept_order``): no kept order, no revenue
  to project.

Model facts worth knowing when reading the predictions: in BG/NBD a customer can only drop
out right after a *repeat* purchase, so P(alive) is exactly 1 for every customer without
one (frequency 0); their churn risk comes from P(no order in ``churn_days``), which for
them is the chance that a slow buyer stays silent.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from scipy import optimize, special

from helpers.clv_sql import INPUTS_SQL, PURCHASE_DAYS_SQL, PURCHASE_DAYS_TABLE
from helpers.engine import file_version
from helpers.errors import UserError

INPUT_COLUMNS: tuple[str, ...] = (
    "customer_id", "frequency", "recency", "T", "monetary_value", "first_purchase",
)
PREDICTION_COLUMNS: tuple[str, ...] = (
    "customer_id", "frequency", "recency", "T", "p_alive", "expected_orders", "next_order_date",
    "expected_spend", "predicted_clv", "p_no_order", "churn_risk",
)
# Upper edge of each churn-risk band on P(no order in churn_days); a value on an edge
# belongs to the band above it: Low < 0.3 <= Medium < 0.7 <= High.
CHURN_BANDS: tuple[tuple[float, str], ...] = ((0.3, "Low"), (0.7, "Medium"), (math.inf, "High"))
PERIOD_DAYS = 30  # CLV discounting period: 12 periods make a year
MAX_WAIT_DAYS = 3650  # a median wait beyond ten years is reported as no next order date
_LOG_BOUNDS = (math.log(1e-6), math.log(1e6))  # parameters searched within 1e-6 .. 1e6

_PURCHASE_DAYS_CACHED: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, tuple[Any, ...]] = (
    weakref.WeakKeyDictionary()
)


@dataclass(frozen=True)
class BgNbd:
    """Fitted BG/NBD: purchase rate ~ Gamma(r, rate alpha), dropout ~ Beta(a, b).

    ``alpha`` is in days (r / alpha is the mean purchase rate per day); ``log_likelihood``
    is the total over the ``n_customers`` fitted.
    """

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float = math.nan
    n_customers: int = 0
    converged: bool = True

    def params(self) -> dict[str, float]:
        """Return the four parameters as a dict."""
        return {k: v for k, v in asdict(self).items() if k in ("r", "alpha", "a", "b")}


@dataclass(frozen=True)
class GammaGamma:
    """Fitted Gamma-Gamma: spend per order ~ Gamma(p, rate nu), nu ~ Gamma(q, rate v).

    The population mean spend per order is p * v / (q - 1) (finite only for q > 1).
    """

    p: float
    q: float
    v: float
    log_likelihood: float = math.nan
    n_customers: int = 0
    converged: bool = True

    def params(self) -> dict[str, float]:
        """Return the three parameters as a dict."""
        return {k: v for k, v in asdict(self).items() if k in ("p", "q", "v")}

    @property
    def mean_spend(self) -> float:
        """Population mean spend per order, p * v / (q - 1); NaN when q <= 1."""
        return self.p * self.v / (self.q - 1) if self.q > 1 else math.nan


# --------------------------------------------------------------------------------------
# Inputs (DuckDB over the transaction Parquet)
# --------------------------------------------------------------------------------------


def btyd_inputs(
    con: duckdb.DuckDBPyConnection, transactions: str | Path, analysis_date: pd.Timestamp | str
) -> pd.DataFrame:
    """Aggregate cleaned lines to the BTYD summary of each customer, as of a date.

    Only lines dated before the analysis date count (its time of day is dropped). A
    *purchase day* is a calendar day on which the customer's non-return lines sum to more
    than 0; return lines are ignored. See the module docstring for how the columns relate
    to RFM's.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        From `helpers.engine.connect`.
    transactions : str or Path
        Cleaned lines (01_clean's contract): customer_id, invoice_date, amount, is_return.
    analysis_date : Timestamp or str
        The end of the observation window.

    Returns
    -------
    pandas.DataFrame
        `INPUT_COLUMNS`, one row per customer with a purchase day, sorted by id:
        ``frequency`` = purchase days - 1; ``recency`` = days from first to last purchase
        day; ``T`` = days from first purchase day to the analysis date; ``monetary_value``
        = mean spend of the purchase days after the first (0 when frequency is 0);
        ``first_purchase`` = the first purchase day (midnight).

    Examples
    --------
    Purchases of 10 on Jan 1 and of 20 + 40 on two invoices of Jan 5, analysed on Jan 11:
    frequency 1, recency 4, T 10, monetary_value 60.
    """
    as_of = pd.Timestamp(analysis_date).normalize()
    purchase_days(con, transactions, as_of)
    inputs = con.execute(INPUTS_SQL, {"analysis_date": as_of.to_pydatetime()}).df()
    inputs["first_purchase"] = pd.to_datetime(inputs["first_purchase"])
    return inputs.loc[:, list(INPUT_COLUMNS)].reset_index(drop=True)


def purchase_days(con: duckdb.DuckDBPyConnection, transactions: str | Path, analysis_date: pd.Timestamp) -> None:
    """Make sure `PURCHASE_DAYS_TABLE` holds the purchase days of `transactions` before `analysis_date`.

    The table is kept per connection and reused for any date up to the one it was made for
    (`PURCHASE_DAYS_CTE` filters it); another file, a rewritten one or a later date makes it again.
    """
    key = file_version(transactions)
    cached = _PURCHASE_DAYS_CACHED.get(con)
    as_of = pd.Timestamp(analysis_date).normalize()
    if cached is not None and cached[:-1] == key and as_of <= cached[-1]:
        return
    con.execute(f"CREATE OR REPLACE TEMP TABLE {PURCHASE_DAYS_TABLE} AS {PURCHASE_DAYS_SQL}",
                {"path": str(transactions), "analysis_date": as_of.to_pydatetime()}).fetchall()
    _PURCHASE_DAYS_CACHED[con] = (*key, as_of)


def _arrays(inputs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return frequency, recency and T as float arrays, checking their ranges."""
    x, t_x, big_t = (inputs[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    for name, values in (("frequency", x), ("recency", t_x), ("T", big_t)):
        if np.isnan(values).any() or (values < 0).any():
            raise UserError(f"column '{name}': missing or negative values; fix: build the table "
                            f"with clv.btyd_inputs")
    if (t_x > big_t).any():
        raise UserError("column 'recency': larger than T for some customers; fix: build the table "
                        "with clv.btyd_inputs")
    return x, t_x, big_t


# --------------------------------------------------------------------------------------
# BG/NBD fit
# --------------------------------------------------------------------------------------


def _dot(u: np.ndarray, w: np.ndarray) -> float:
    """Inner product without BLAS: its threads slow these memory-bound sums when cores are busy."""
    return float(np.einsum("i,i->", u, w))


def _bgnbd_nll(log_params: np.ndarray, data: dict) -> tuple[float, np.ndarray]:
    """Mean negative log-likelihood of BG/NBD and its gradient in the log-parameters.

    Terms depending on the frequency only are summed over its distinct values (weights =
    customer counts); one-time buyers, whose likelihood depends on T only, over distinct T.
    """
    r, alpha, a, b = np.exp(log_params)
    xu, nx = data["x_values"], data["x_counts"]
    a1 = special.gammaln(r + xu) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.betaln(a, b + xu) - special.betaln(a, b)
    dig_ab, dig_abx = special.digamma(a + b), special.digamma(a + b + xu)
    grad = np.array([
        nx @ (special.digamma(r + xu) - special.digamma(r) + np.log(alpha)),
        data["n"] * r / alpha,
        nx @ (dig_ab - dig_abx),
        nx @ (dig_ab + special.digamma(b + xu) - special.digamma(b) - dig_abx),
    ])
    ll = nx @ (a1 + a2)
    # one-time buyers: log term = -r log(alpha + T)
    t0, n0 = data["t0_values"], data["t0_counts"]
    log_at0 = np.log(alpha + t0)
    ll -= r * _dot(n0, log_at0)
    grad[0] -= _dot(n0, log_at0)
    grad[1] -= r * _dot(n0, 1.0 / (alpha + t0))
    # repeat buyers: log(exp(A3) + exp(A4))
    x, t_x, big_t = data["x"], data["t_x"], data["T"]
    log_at, log_atx = np.log(alpha + big_t), np.log(alpha + t_x)
    log_bx = np.log(b + x - 1)
    a3 = -(r + x) * log_at
    a4 = np.log(a) - log_bx - (r + x) * log_atx
    both = np.logaddexp(a3, a4)
    w4 = np.exp(a4 - both)
    w3 = 1.0 - w4
    ll += both.sum()
    grad[0] -= _dot(w3, log_at) + _dot(w4, log_atx)
    grad[1] -= _dot(r + x, w3 / (alpha + big_t) + w4 / (alpha + t_x))
    grad[2] += w4.sum() / a
    grad[3] -= _dot(w4, 1.0 / (b + x - 1))
    scale = -1.0 / data["n"]
    return ll * scale, grad * np.array([r, alpha, a, b]) * scale


def _bgnbd_data(inputs: pd.DataFrame) -> dict:
    """Split the inputs into the compressed arrays `_bgnbd_nll` reads."""
    x, t_x, big_t = _arrays(inputs)
    x_values, x_counts = np.unique(x, return_counts=True)
    t0_values, t0_counts = np.unique(big_t[x == 0], return_counts=True)
    repeat = x > 0
    return {"n": len(x), "x_values": x_values, "x_counts": x_counts.astype(float),
            "t0_values": t0_values, "t0_counts": t0_counts.astype(float),
            "x": x[repeat], "t_x": t_x[repeat], "T": big_t[repeat]}


def _minimise(objective, start: np.ndarray, data: dict) -> optimize.OptimizeResult:
    """Run L-BFGS-B on log-parameters within `_LOG_BOUNDS`."""
    return optimize.minimize(
        objective, start, args=(data,), jac=True, method="L-BFGS-B",
        bounds=[_LOG_BOUNDS] * len(start),
        options={"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-9},
    )


def fit_bgnbd(inputs: pd.DataFrame) -> BgNbd:
    """Fit BG/NBD by maximum likelihood to frequency, recency and T (days).

    Parameters
    ----------
    inputs : pandas.DataFrame
        `btyd_inputs` output (needs frequency, recency, T).

    Returns
    -------
    BgNbd
        r, alpha (days), a, b, the total log-likelihood and whether L-BFGS-B converged.

    Raises
    ------
    UserError
        No customer with a repeat purchase (dropout cannot be estimated), or bad inputs.

    Examples
    --------
    >>> frame = pd.DataFrame({"frequency": [0, 1, 2, 0, 5, 1], "recency": [0, 30, 60, 0, 80, 5],
    ...                       "T": [90, 90, 100, 40, 100, 70]})
    >>> model = fit_bgnbd(frame)
    >>> model.r > 0 and model.alpha > 0 and model.log_likelihood < 0
    True
    """
    data = _bgnbd_data(inputs)
    if len(data["x"]) == 0:
        raise UserError("column 'frequency': no customer has a repeat purchase, so BG/NBD cannot "
                        "estimate dropout; fix: use a longer period of transactions")
    rate = data["x_counts"] @ data["x_values"] / max(inputs["T"].sum(), 1.0)
    start = np.log([1.0, 1.0 / max(rate, 1e-6), 1.0, 1.0])
    result = _minimise(_bgnbd_nll, np.clip(start, *_LOG_BOUNDS), data)
    r, alpha, a, b = np.exp(result.x)
    return BgNbd(float(r), float(alpha), float(a), float(b), float(-result.fun * data["n"]),
                 data["n"], bool(result.success))


# --------------------------------------------------------------------------------------
# Gamma-Gamma fit
# --------------------------------------------------------------------------------------


def _repeat_spend(inputs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Return frequency and monetary_value of customers with a repeat purchase and spend > 0."""
    x = inputs["frequency"].to_numpy(dtype=float)
    m = inputs["monetary_value"].to_numpy(dtype=float)
    keep = (x > 0) & (m > 0)
    return x[keep], m[keep]


def _gamma_gamma_nll(log_params: np.ndarray, data: dict) -> tuple[float, np.ndarray]:
    """Mean negative log-likelihood of Gamma-Gamma on mean spends, and its gradient.

    The gamma functions depend on the frequency only, so they are summed over its distinct
    values (weights = customer counts); only log(x m + v) is per customer.
    """
    p, q, v = np.exp(log_params)
    x, m, log_m = data["x"], data["m"], data["log_m"]
    xu, nx = data["x_values"], data["x_counts"]
    pxu = p * xu
    xm_v = x * m + v
    log_xmv = np.log(xm_v)
    ll = (nx @ (special.gammaln(pxu + q) - special.gammaln(pxu) + pxu * np.log(xu))
          + len(x) * (q * math.log(v) - special.gammaln(q))
          + _dot(p * x - 1, log_m) - _dot(p * x + q, log_xmv))
    dig_pxq = special.digamma(pxu + q)
    grad = np.array([
        (nx * xu) @ (dig_pxq - special.digamma(pxu) + np.log(xu)) + _dot(x, log_m - log_xmv),
        nx @ dig_pxq + len(x) * (math.log(v) - special.digamma(q)) - log_xmv.sum(),
        len(x) * q / v - _dot(p * x + q, 1.0 / xm_v),
    ])
    scale = -1.0 / len(x)
    return ll * scale, grad * np.array([p, q, v]) * scale


def fit_gamma_gamma(inputs: pd.DataFrame) -> GammaGamma:
    """Fit Gamma-Gamma by maximum likelihood to the repeat buyers' mean spend.

    Uses customers with frequency > 0 and monetary_value > 0: each contributes the density
    of the mean of ``frequency`` Gamma(p, nu) spends, nu ~ Gamma(q, rate v) integrated out.

    Parameters
    ----------
    inputs : pandas.DataFrame
        `btyd_inputs` output (needs frequency and monetary_value).

    Returns
    -------
    GammaGamma
        p, q, v, total log-likelihood, customers used, convergence.

    Raises
    ------
    UserError
        Fewer than two repeat buyers with a positive spend.
    """
    x, m = _repeat_spend(inputs)
    if len(x) < 2:
        raise UserError("column 'monetary_value': fewer than two repeat buyers with a positive "
                        "spend, so Gamma-Gamma cannot be fitted; fix: use a longer period")
    x_values, x_counts = np.unique(x, return_counts=True)
    data = {"x": x, "m": m, "log_m": np.log(m), "x_values": x_values,
            "x_counts": x_counts.astype(float)}
    start = np.log([1.0, 2.0, float(np.mean(m))])
    result = _minimise(_gamma_gamma_nll, np.clip(start, *_LOG_BOUNDS), data)
    p, q, v = np.exp(result.x)
    return GammaGamma(float(p), float(q), float(v), float(-result.fun * len(x)), len(x),
                      bool(result.success))


def frequency_spend_correlation(inputs: pd.DataFrame) -> float:
    """Return the Pearson correlation of frequency and monetary_value among repeat buyers.

    Gamma-Gamma assumes spend per order is independent of how often a customer buys; a
    correlation far from 0 (say beyond +-0.3) means its spend predictions are biased.

    Examples
    --------
    >>> frame = pd.DataFrame({"frequency": [0, 1, 2, 3], "monetary_value": [0, 10.0, 20.0, 30.0]})
    >>> round(frequency_spend_correlation(frame), 6)
    1.0
    """
    x, m = _repeat_spend(inputs)
    if len(x) < 2 or x.std() == 0 or m.std() == 0:
        return math.nan
    return float(np.corrcoef(x, m)[0, 1])


# --------------------------------------------------------------------------------------
# Conditional predictions
# --------------------------------------------------------------------------------------


def p_alive(model: BgNbd, x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray) -> np.ndarray:
    """Return P(still a customer at T | x, t_x, T); exactly 1 when x = 0.

    1 / (1 + a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x)) for x > 0.

    Examples
    --------
    >>> model = BgNbd(r=0.24, alpha=4.4, a=0.79, b=2.4)
    >>> p_alive(model, np.array([0.0, 2.0]), np.array([0.0, 30.0]), np.array([100.0, 100.0])).round(4)
    array([1.    , 0.2636])
    """
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    x = np.asarray(x, dtype=float)
    log_odds = np.full(x.shape, -np.inf)
    repeat = x > 0
    xr = x[repeat]
    log_odds[repeat] = (math.log(a) - np.log(b + xr - 1) + (r + xr)
                        * (np.log(alpha + big_t[repeat]) - np.log(alpha + t_x[repeat])))
    return special.expit(-log_odds)


def expected_if_alive(model: BgNbd, x: np.ndarray, big_t: np.ndarray, t: float) -> np.ndarray:
    """Return E[orders in (T, T + t] | alive at T, x, T], BG/NBD.

    The conditional expectation of Fader et al. (2005, eq. 10) is P(alive) times this.
    With z = t / (alpha + T + t) it is (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) /
    (alpha + T + t)) ** (r + x) * 2F1(r + x, b + x; a + b + x - 1; z)); Euler's transform
    turns the last product into (1 - z) ** (a - 1) * 2F1(a + b - 1 - r, a - 1; a + b + x -
    1; z), whose small upper parameters keep scipy's hyp2f1 accurate for large x.

    Examples
    --------
    >>> model = BgNbd(r=0.24, alpha=4.4, a=0.79, b=2.4)
    >>> expected_if_alive(model, np.array([0.0, 5.0]), np.array([300.0, 300.0]), 365.0).round(4)
    array([0.2484, 4.793 ])
    """
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    x = np.asarray(x, dtype=float)
    z = t / (alpha + np.asarray(big_t, dtype=float) + t)
    c = a + b + x - 1
    tail = (1 - z) ** (a - 1) * special.hyp2f1(a + b - 1 - r, a - 1, c, z)
    return c / (a - 1) * (1 - tail)


def expected_orders(model: BgNbd, x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray,
                    horizons: np.ndarray | list[float]) -> np.ndarray:
    """Return E[orders in (T, T + t] | x, t_x, T] for each horizon t (one column each).

    `expected_if_alive` depends on (x, T) only, so it is computed once per distinct pair.

    Returns
    -------
    numpy.ndarray
        Shape (customers, horizons).
    """
    x, big_t = np.asarray(x, dtype=float), np.asarray(big_t, dtype=float)
    # a complex key hashes the (x, T) pairs far faster than np.unique(axis=0) sorts them
    inverse, pairs = pd.factorize(x + 1j * big_t)
    alive = p_alive(model, x, np.asarray(t_x, dtype=float), big_t)
    columns = [expected_if_alive(model, pairs.real, pairs.imag, float(t))[inverse]
               for t in horizons]
    return alive[:, None] * np.column_stack(columns) if columns else np.zeros((len(x), 0))


def expected_spend(gg: GammaGamma, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Return the expected spend per order: Gamma-Gamma's conditional mean.

    p * (v + x * m) / (p * x + q - 1): a weighted mean of the population mean p * v / (q - 1)
    and the customer's own mean m, which is all it is for x = 0.

    Examples
    --------
    >>> gg = GammaGamma(p=6.0, q=4.0, v=15.0)
    >>> expected_spend(gg, np.array([0.0, 3.0]), np.array([0.0, 40.0])).round(2).tolist()
    [30.0, 38.57]
    """
    if gg.q <= 1:
        raise UserError(f"Gamma-Gamma q = {gg.q:.3g} <= 1: the mean spend per order is infinite; "
                        f"fix: check monetary_value for extreme spends (outliers) before fitting")
    x = np.asarray(x, dtype=float)
    m = np.where(x > 0, np.asarray(m, dtype=float), 0.0)
    return gg.p * (gg.v + x * m) / (gg.p * x + gg.q - 1)


def churn_band(p_no_order: np.ndarray) -> pd.Categorical:
    """Return the `CHURN_BANDS` label of each P(no order), as an ordered categorical.

    >>> list(churn_band(np.array([0.0, 0.3, 0.69, 0.7, 1.0])))
    ['Low', 'Medium', 'Medium', 'High', 'High']
    """
    edges = np.array([edge for edge, _ in CHURN_BANDS[:-1]])
    labels = [label for _, label in CHURN_BANDS]
    codes = np.searchsorted(edges, np.asarray(p_no_order, dtype=float), side="right")
    return pd.Categorical.from_codes(codes, categories=labels, ordered=True)


def _discounted_orders(model: BgNbd, x, t_x, big_t, horizon_days: float,
                       discount_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Return expected orders in the horizon and their sum discounted per 30-day period."""
    if discount_rate == 0:
        total = expected_orders(model, x, t_x, big_t, [horizon_days])[:, 0]
        return total, total
    n_periods = max(1, math.ceil(horizon_days / PERIOD_DAYS))
    edges = np.minimum(np.arange(1, n_periods + 1) * PERIOD_DAYS, horizon_days)
    cumulative = expected_orders(model, x, t_x, big_t, edges)
    per_period = np.diff(cumulative, axis=1, prepend=0.0)
    factors = (1 + discount_rate) ** (-np.arange(1, n_periods + 1) / 12)
    return cumulative[:, -1], per_period @ factors


def _next_order_dates(bgnbd: BgNbd, inputs: pd.DataFrame, alive: np.ndarray,
                      analysis_date: pd.Timestamp | str | None) -> np.ndarray:
    """Return analysis date + the median wait of an alive customer (NaT: see `predict`)."""
    x, big_t = inputs["frequency"].to_numpy(dtype=float), inputs["T"].to_numpy(dtype=float)
    wait = (bgnbd.alpha + big_t) * np.expm1(math.log(2) / (bgnbd.r + x))
    wait = np.where((alive >= 0.5) & (wait <= MAX_WAIT_DAYS), np.round(wait), np.nan)
    if analysis_date is None:
        as_of = pd.to_datetime(inputs["first_purchase"]) + pd.to_timedelta(big_t, unit="D")
    else:
        as_of = pd.Series(pd.Timestamp(analysis_date).normalize(), index=inputs.index)
    return (as_of + pd.to_timedelta(wait, unit="D")).to_numpy()


def predict(
    inputs: pd.DataFrame,
    bgnbd: BgNbd,
    gg: GammaGamma,
    horizon_days: float = 365,
    churn_days: float = 90,
    discount_rate: float = 0.0,
    analysis_date: pd.Timestamp | str | None = None,
) -> pd.DataFrame:
    """Predict each customer's survival, orders, spend, CLV and churn risk.

    Parameters
    ----------
    inputs : pandas.DataFrame
        `btyd_inputs` output.
    bgnbd, gg : BgNbd, GammaGamma
        Fitted models (`fit_bgnbd`, `fit_gamma_gamma`).
    horizon_days : float, default 365
        Length of the CLV horizon.
    churn_days : float, default 90
        Window of ``p_no_order``.
    discount_rate : float, default 0.0
        Annual rate. The horizon is cut into 30-day periods (the last may be shorter);
        period k's expected orders (difference of the cumulative BG/NBD expectation) are
        discounted by (1 + discount_rate) ** (-k / 12), i.e. 12 periods = one year and each
        period's orders are discounted as if placed at its end.
    analysis_date : Timestamp or str, optional
        Date T is measured to; default ``first_purchase + T``.

    Returns
    -------
    pandas.DataFrame
        `PREDICTION_COLUMNS`: ``p_alive`` (1 for frequency 0, see the module docstring);
        ``expected_orders`` in the horizon; ``next_order_date`` = analysis date + the
        median wait of an alive customer, (alpha + T) * (2 ** (1 / (r + x)) - 1) days,
        rounded to a day, NaT when p_alive < 0.5 or the wait exceeds `MAX_WAIT_DAYS`;
        ``expected_spend`` per order (`expected_spend`); ``predicted_clv`` = expected_spend
        x discounted expected orders; ``p_no_order`` = 1 - p_alive + p_alive * ((alpha +
        T) / (alpha + T + churn_days)) ** (r + x); ``churn_risk`` its `CHURN_BANDS` label.
    """
    x, t_x, big_t = _arrays(inputs)
    alive = p_alive(bgnbd, x, t_x, big_t)
    orders, discounted = _discounted_orders(bgnbd, x, t_x, big_t, horizon_days, discount_rate)
    spend = expected_spend(gg, x, inputs["monetary_value"].to_numpy(dtype=float))
    log_base = np.log(bgnbd.alpha + big_t)
    silent = np.exp((bgnbd.r + x) * (log_base - np.log(bgnbd.alpha + big_t + churn_days)))
    no_order = np.clip(1 - alive + alive * silent, 0.0, 1.0)
    return pd.DataFrame({
        "customer_id": inputs["customer_id"].to_numpy(),
        "frequency": inputs["frequency"].to_numpy(),
        "recency": t_x, "T": big_t, "p_alive": alive, "expected_orders": orders,
        "next_order_date": _next_order_dates(bgnbd, inputs, alive, analysis_date),
        "expected_spend": spend,
        "predicted_clv": np.maximum(spend * discounted, 0.0),
        "p_no_order": no_order,
        "churn_risk": churn_band(no_order),
    }).loc[:, list(PREDICTION_COLUMNS)]
