"""Optional customer demographics and web sessions: load, validate, turn into features.

Both inputs are optional (``customers_input.path`` / ``sessions_input.path`` null = off).
Each has its own column mapping, validated like the transactions (a missing column or a
mostly unparseable one stops with a line naming the file, column and key).

Join rules (documented in the README):

- The customer base is the customers of the cleaned transactions. Traits are left-joined
  onto it; customers who appear only in the demographics or sessions table (visitors who
  never ordered) are counted and reported, but not segmented.
- A customer with orders but no sessions gets ``sessions = 0``, ``has_sessions = False``,
  zero engagement (sessions per active month, pages per session, session duration,
  click-through rate, converted-session share) and ``days_since_last_visit`` equal to the
  length of the data window, so every customer has a value and clustering can use them.
- Sessions on or after the analysis date are ignored, like transactions.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from helpers.errors import UserError
from helpers.io import (  # connect: DuckDB with the memory cap (run.memory_limit)
    _date,
    _identifier,
    connect,
)

DEMOGRAPHIC_FIELDS = ("customer_id", "birth_date", "age", "gender", "country", "region", "city", "signup_date")
SESSION_FIELDS = (
    "customer_id", "session_start", "pages_viewed", "duration_s", "clicks", "product_views", "converted",
)
AGE_BANDS = (0, 25, 35, 45, 55, 65, 200)
AGE_LABELS = ("<25", "25-34", "35-44", "45-54", "55-64", "65+")
ENGAGEMENT_FEATURES = (
    "sessions", "sessions_per_active_month", "pages_per_session", "mean_session_duration_s",
    "click_through_rate", "converted_session_share", "session_to_order_conversion", "days_since_last_visit",
)


def _source_params(path: str, csv: Mapping[str, Any]) -> dict[str, Any]:
    return {"path": path, "format": "auto", "csv": dict(csv), "excel": {"sheet": 0, "header_row": 1}}


def _register(con: duckdb.DuckDBPyConnection, path: str, csv: Mapping[str, Any], key: str) -> list[str]:
    from helpers.io import register_source

    if not Path(path).is_file():
        raise UserError(f"{path}: file not found (key {key}.path); fix: point {key}.path at the file or set it to null")
    return register_source(con, _source_params(path, csv))


def _check_columns(path: str, columns: list[str], mapping: Mapping[str, str | None], key: str) -> None:
    for field, column in mapping.items():
        if column and column not in columns:
            raise UserError(
                f"{path}: column '{column}' (mapped to {field}) not found; fix: set {key}.columns.{field} "
                f"(available: {', '.join(columns[:15])})"
            )


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _id(col: str) -> str:
    """Customer id as in the transactions: integral numbers lose ".0", "A.0" stays (`helpers.io`)."""
    return _identifier(_q(col), "VARCHAR")


def _parsed(con: duckdb.DuckDBPyConnection, path: str, expr: str, raw: str, column: str, key: str, what: str) -> None:
    """Stop when more than 1% of the non-empty values of a column do not parse."""
    filled, bad, example = con.execute(
        f"""SELECT count(*) FILTER (WHERE r IS NOT NULL), count(*) FILTER (WHERE r IS NOT NULL AND p IS NULL),
                   any_value(r) FILTER (WHERE r IS NOT NULL AND p IS NULL)
            FROM (SELECT NULLIF(trim(CAST({_q(raw)} AS VARCHAR)), '') AS r, {expr} AS p FROM source)"""
    ).fetchall()[0]
    if filled and bad / filled > 0.01:
        raise UserError(
            f"{path}: column '{column}': {bad:,} of {filled:,} values are not {what}, e.g. {str(example)[:30]!r}; "
            f"fix: check {key}.columns"
        )


def load_demographics(block: Mapping[str, Any], csv: Mapping[str, Any]) -> pd.DataFrame | None:
    """Read the optional customer table into canonical columns (None when not configured).

    Parameters
    ----------
    block : mapping
        ``customers_input`` params: ``path`` and ``columns`` (field -> source column).
    csv : mapping
        CSV reading options (``input.csv``), used when the file is a CSV.

    Returns
    -------
    pandas.DataFrame or None
        customer_id (text), birth_date, age, gender, country, region, city, signup_date;
        one row per customer (the first row wins when an id repeats).
    """
    path = block.get("path")
    if not path:
        return None
    mapping = {f: block["columns"].get(f) for f in DEMOGRAPHIC_FIELDS}
    if not mapping["customer_id"]:
        raise UserError("params: customers_input.columns.customer_id is empty; fix: name the id column")
    with connect() as con:
        columns = _register(con, path, csv, "customers_input")
        _check_columns(path, columns, mapping, "customers_input")
        exprs = {"customer_id": _id(mapping["customer_id"])}
        for field in ("birth_date", "signup_date"):
            col = mapping[field]
            exprs[field] = f"TRY_CAST(TRY_CAST({_q(col)} AS VARCHAR) AS DATE)" if col else "CAST(NULL AS DATE)"
            if col:
                _parsed(con, path, exprs[field], col, col, "customers_input", "dates (YYYY-MM-DD)")
        age = mapping["age"]
        exprs["age"] = f"TRY_CAST({_q(age)} AS DOUBLE)" if age else "CAST(NULL AS DOUBLE)"
        if age:
            _parsed(con, path, exprs["age"], age, age, "customers_input", "numbers")
        for field in ("gender", "country", "region", "city"):
            col = mapping[field]
            exprs[field] = f"NULLIF(trim(CAST({_q(col)} AS VARCHAR)), '')" if col else "CAST(NULL AS VARCHAR)"
        select = ", ".join(f"{e} AS {f}" for f, e in exprs.items())
        frame = con.execute(
            f"""SELECT * FROM (SELECT {select}, row_number() OVER () AS _row FROM source)
                WHERE customer_id IS NOT NULL
                QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY _row) = 1
                ORDER BY customer_id"""
        ).df()
    return frame.drop(columns="_row")


def demographic_features(demographics: pd.DataFrame, analysis_date: pd.Timestamp) -> pd.DataFrame:
    """Derive age, age band and tenure since sign-up per customer.

    Age comes from the birth date (whole years at the analysis date) or, without one, from
    the age column. Tenure since sign-up is in days to the analysis date.

    Examples
    --------
    >>> demo = pd.DataFrame({"customer_id": ["a"], "birth_date": [pd.Timestamp("1980-06-30")],
    ...     "age": [np.nan], "gender": ["F"], "country": ["UK"], "region": [None], "city": ["Leeds"],
    ...     "signup_date": [pd.Timestamp("2011-01-01")]})
    >>> row = demographic_features(demo, pd.Timestamp("2011-06-30")).iloc[0]
    >>> int(row["age"]), row["age_band"], int(row["signup_tenure_days"])
    (31, '25-34', 180)
    """
    out = demographics[["customer_id"]].copy()
    as_of = pd.Timestamp(analysis_date)
    birth = pd.to_datetime(demographics["birth_date"])
    before_birthday = (birth.dt.month > as_of.month) | ((birth.dt.month == as_of.month) & (birth.dt.day > as_of.day))
    age_from_birth = as_of.year - birth.dt.year - before_birthday.astype(int)
    age = age_from_birth.where(birth.notna(), pd.to_numeric(demographics["age"], errors="coerce"))
    out["age"] = age.astype("float64")
    out["age_band"] = pd.cut(out["age"], bins=list(AGE_BANDS), labels=list(AGE_LABELS), right=False).astype("string")
    for field in ("gender", "country", "region", "city"):
        if demographics[field].notna().any():
            out[field if field != "country" else "home_country"] = demographics[field].astype("string")
    signup = pd.to_datetime(demographics["signup_date"])
    out["signup_tenure_days"] = (as_of.normalize() - signup).dt.days.astype("float64")
    return out.reset_index(drop=True)


def session_features(
    block: Mapping[str, Any], csv: Mapping[str, Any], analysis_date: pd.Timestamp
) -> pd.DataFrame | None:
    """Aggregate the optional web sessions per customer in DuckDB (None when not configured).

    Per customer, over sessions before the analysis date: ``sessions``, ``active_months``
    (distinct calendar months with a session), ``sessions_per_active_month``,
    ``pages_per_session`` (mean pages viewed), ``mean_session_duration_s``,
    ``click_through_rate`` (clicks / product views; NaN without views),
    ``converted_session_share`` (share of sessions flagged converted) and
    ``days_since_last_visit`` (calendar days to the analysis date).
    """
    path = block.get("path")
    if not path:
        return None
    mapping = {f: block["columns"].get(f) for f in SESSION_FIELDS}
    for required in ("customer_id", "session_start"):
        if not mapping[required]:
            raise UserError(f"params: sessions_input.columns.{required} is empty; fix: name that column")
    with connect() as con:
        columns = _register(con, path, csv, "sessions_input")
        _check_columns(path, columns, mapping, "sessions_input")
        start = _date(_q(mapping["session_start"]), "VARCHAR", "auto")  # offsets converted to UTC, as in io
        _parsed(con, path, start, mapping["session_start"], mapping["session_start"], "sessions_input", "timestamps")

        def num(field: str) -> str:
            col = mapping[field]
            return f"TRY_CAST({_q(col)} AS DOUBLE)" if col else "CAST(NULL AS DOUBLE)"

        converted = (
            f"CAST(TRY_CAST({_q(mapping['converted'])} AS BOOLEAN) AS DOUBLE)" if mapping["converted"]
            else "CAST(NULL AS DOUBLE)"
        )
        frame = con.execute(
            f"""WITH s AS (
                    SELECT {_id(mapping['customer_id'])} AS customer_id, {start} AS started,
                           {num('pages_viewed')} AS pages, {num('duration_s')} AS duration,
                           {num('clicks')} AS clicks, {num('product_views')} AS views, {converted} AS converted
                    FROM source)
                SELECT customer_id,
                       count(*) AS sessions,
                       count(DISTINCT date_trunc('month', started)) AS active_months,
                       avg(pages) AS pages_per_session,
                       avg(duration) AS mean_session_duration_s,
                       sum(clicks) / NULLIF(sum(views), 0) AS click_through_rate,
                       avg(converted) AS converted_session_share,
                       max(started) AS last_visit
                FROM s
                WHERE customer_id IS NOT NULL AND started IS NOT NULL AND started < $as_of
                GROUP BY customer_id ORDER BY customer_id""",
            {"as_of": pd.Timestamp(analysis_date).to_pydatetime()},
        ).df()
    frame["sessions_per_active_month"] = frame["sessions"] / frame["active_months"]
    days = (pd.Timestamp(analysis_date).normalize() - pd.to_datetime(frame["last_visit"]).dt.normalize()).dt.days
    frame["days_since_last_visit"] = days.astype("float64")
    return frame.drop(columns="last_visit")


def join_traits(
    customers: pd.DataFrame,
    demographics: pd.DataFrame | None,
    sessions: pd.DataFrame | None,
    window_days: float,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Left-join demographic and engagement features onto the transaction customers.

    Parameters
    ----------
    customers : pandas.DataFrame
        One row per customer of the cleaned transactions, with ``customer_id`` and
        ``orders`` (purchase orders).
    demographics : pandas.DataFrame or None
        Output of `demographic_features`.
    sessions : pandas.DataFrame or None
        Output of `session_features`.
    window_days : float
        Length of the data window; ``days_since_last_visit`` of customers without a session.

    Returns
    -------
    (pandas.DataFrame, dict)
        The customers with the extra columns (same rows, same order), and the join counts:
        ``with_demographics``, ``demographics_only`` (ids never in the transactions),
        ``with_sessions``, ``sessions_only``.
    """
    out = customers.copy()
    ids = set(out["customer_id"])
    counts: dict[str, int] = {}
    if demographics is not None:
        counts["with_demographics"] = int(demographics["customer_id"].isin(ids).sum())
        counts["demographics_only"] = int((~demographics["customer_id"].isin(ids)).sum())
        out = out.merge(demographics, on="customer_id", how="left", validate="one_to_one")
    if sessions is not None:
        counts["with_sessions"] = int(sessions["customer_id"].isin(ids).sum())
        counts["sessions_only"] = int((~sessions["customer_id"].isin(ids)).sum())
        out = out.merge(sessions.drop(columns="active_months"), on="customer_id", how="left", validate="one_to_one")
        out["has_sessions"] = out["sessions"].notna()
        zero = ["sessions", "sessions_per_active_month", "pages_per_session", "mean_session_duration_s",
                "click_through_rate", "converted_session_share"]
        out[zero] = out[zero].fillna(0.0)
        out["days_since_last_visit"] = out["days_since_last_visit"].fillna(float(window_days))
        orders = out["orders"].astype("float64")
        out["session_to_order_conversion"] = np.where(out["sessions"] > 0, orders / out["sessions"].where(out["sessions"] > 0), 0.0)
    return out, counts


def join_summary(counts: Mapping[str, int], demographics_on: bool, sessions_on: bool) -> list[str]:
    """Return report lines saying which optional inputs were used and how they joined."""
    lines = []
    if demographics_on:
        lines.append(
            f"Demographics: {counts.get('with_demographics', 0):,} customers matched; "
            f"{counts.get('demographics_only', 0):,} ids in the customer table never ordered (not segmented)."
        )
    else:
        lines.append("Demographics: not provided (customers_input.path is null), so age, gender and location are off.")
    if sessions_on:
        lines.append(
            f"Web sessions: {counts.get('with_sessions', 0):,} customers have sessions; "
            f"{counts.get('sessions_only', 0):,} visitors with sessions never ordered (not segmented); "
            "customers without sessions get zero engagement."
        )
    else:
        lines.append("Web sessions: not provided (sessions_input.path is null), so engagement features are off.")
    return lines


# ----------------------------------------------------------------------------- plots


def _fig(width: float = 9, height: float = 4.5):
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height), layout="constrained")


def plot_age_gender(customers: pd.DataFrame) -> tuple[Any, str]:
    """Bar-chart customers per age band, split by gender when known; return (fig, takeaway)."""
    data = customers.dropna(subset=["age_band"])
    if data.empty:
        return None, "No customer has an age or birth date, so the age mix cannot be shown."
    gender = data["gender"].fillna("unknown") if "gender" in data else pd.Series("all", index=data.index)
    table = pd.crosstab(data["age_band"], gender).reindex(list(AGE_LABELS), fill_value=0)
    fig, ax = _fig()
    table.plot.bar(ax=ax, rot=0, width=0.8)
    ax.set(title="Customers by age band and gender", xlabel="Age band (years)", ylabel="Customers")
    ax.legend(title="Gender")
    ax.grid(axis="y", alpha=0.3)
    top_band = table.sum(axis=1).idxmax()
    shares = gender.value_counts(normalize=True)
    mix = ", ".join(f"{k} {v:.0%}" for k, v in shares.items())
    return fig, (f"The largest age band is {top_band} ({table.sum(axis=1).max() / len(data):.0%} of customers "
                 f"with an age); gender mix: {mix}.")


def plot_locations(customers: pd.DataFrame, n: int = 10) -> tuple[Any, str]:
    """Bar-chart the customers' most common cities (or regions, or countries)."""
    column = next((c for c in ("city", "region", "home_country") if c in customers and customers[c].notna().any()), None)
    if column is None:
        return None, "The customer table has no location, so the location mix cannot be shown."
    counts = customers[column].dropna().value_counts().head(n).sort_values()
    fig, ax = _fig(9, max(2.5, 0.35 * len(counts) + 1))
    ax.barh(counts.index.astype(str), counts.to_numpy(), color="#4c72b0")
    ax.set(title=f"Customers by {column.replace('home_', '')} (top {len(counts)})", xlabel="Customers",
           ylabel=column.replace("home_", "").capitalize())
    ax.grid(axis="x", alpha=0.3)
    share = counts.iloc[-1] / customers[column].notna().sum()
    return fig, f"{counts.index[-1]} is the most common {column.replace('home_', '')} ({share:.0%} of customers with one)."


def plot_engagement(customers: pd.DataFrame) -> tuple[Any, str]:
    """Histogram the engagement of customers with sessions (sessions/month, pages, duration)."""
    active = customers[customers.get("has_sessions", False) == True]  # noqa: E712 (pandas mask)
    if active.empty:
        return None, "No customer has a web session before the analysis date."
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, 3, figsize=(10, 3.6), layout="constrained")
    panels = [("sessions_per_active_month", "Sessions per active month"),
              ("pages_per_session", "Pages per session"),
              ("mean_session_duration_s", "Mean session duration (s)")]
    for ax, (col, label) in zip(axes, panels, strict=True):
        ax.hist(active[col].dropna(), bins=30, color="#4c72b0")
        ax.set(xlabel=label, ylabel="Customers")
        ax.xaxis.set_major_locator(MaxNLocator(4))
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("Web engagement of customers with sessions")
    share = len(active) / len(customers)
    return fig, (f"{share:.0%} of customers have web sessions; the median customer with sessions has "
                 f"{active['sessions_per_active_month'].median():.1f} sessions per active month and views "
                 f"{active['pages_per_session'].median():.0f} pages per session.")


def plot_engagement_vs_spend(customers: pd.DataFrame, max_points: int = 20000, seed: int = 42) -> tuple[Any, str]:
    """Scatter sessions against net revenue (log axes), with the Spearman correlation."""
    active = customers[(customers.get("has_sessions", False) == True) & (customers["net_revenue"] > 0)]  # noqa: E712
    if len(active) < 3:
        return None, "Too few customers with both sessions and positive revenue to relate engagement and spend."
    shown = active.sample(min(len(active), max_points), random_state=seed)
    fig, ax = _fig()
    ax.scatter(shown["sessions"], shown["net_revenue"], s=6, alpha=0.35, color="#4c72b0")
    ax.set(xscale="log", yscale="log", title="Engagement vs spend", xlabel="Web sessions (log scale)",
           ylabel="Net revenue (log scale)")
    ax.grid(alpha=0.3)
    rho = active["sessions"].corr(active["net_revenue"], method="spearman")
    strength = "strongly" if abs(rho) >= 0.6 else ("moderately" if abs(rho) >= 0.3 else "weakly")
    direction = "rises" if rho > 0 else "falls"
    return fig, f"Net revenue {direction} {strength} with the number of sessions (Spearman {rho:.2f}, {len(active):,} customers)."
