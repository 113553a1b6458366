"""Customer traits beyond RFM for the personas (step 05_personas): 02_eda's and the user's.

`read_traits` reads them for a run: `EDA_TRAITS` from 02_eda's ``customers`` table when
it exists and ``personas.traits_file`` (demographics, channel, ...) when set; columns whose
name looks like personal data are dropped on reading (`helpers.exports.personal_columns`).
`customer_traits` merges the two tables; `helpers.personas.join_clusters` adds them to the
customer table, and the profiles summarise them.

03_rfm's future-value model (dataset "clv", when the run has it) gives each customer a
P(alive), a predicted value and a churn risk band: `read_clv` and `join_clv` add them to the
customer table and `clv_figures` summarises them per persona; they are what names a cluster
whose median customer is likely lapsed (`helpers.persona_rules`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from helpers import catalog
from helpers.errors import UserError
from helpers.exports import drop_personal_columns
from helpers.persona_rules import ALIVE_THRESHOLD

# Traits taken from 02_eda's customers table (the others repeat RFM figures).
EDA_TRAITS: tuple[str, ...] = ("distinct_products", "return_share", "country")


def load_traits(path: str | Path | None, extra_patterns: Sequence[str] = ()) -> pd.DataFrame | None:
    """Read an optional customer traits file (CSV or Parquet) with ``customer_id``.

    Parameters
    ----------
    path : str, Path or None
        ``personas.traits_file``; None or "" means no file.
    extra_patterns : sequence of str
        ``privacy.personal_column_patterns``: personal columns are dropped on reading.

    Returns
    -------
    pandas.DataFrame or None
        ``customer_id`` as text and the other columns, personal ones dropped (their names
        in ``attrs["dropped_personal_columns"]``).

    Raises
    ------
    UserError
        Missing file, unknown extension, or no ``customer_id`` column.
    """
    if path is None or str(path).strip() == "":
        return None
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: traits file not found (key 'personas.traits_file'); fix: point it at a CSV or Parquet file, or set it to null")
    suffixes = "".join(path.suffixes).lower()
    if suffixes.endswith(".parquet"):
        traits = pd.read_parquet(path)
    elif suffixes.endswith((".csv", ".csv.gz", ".tsv", ".txt")):
        traits = pd.read_csv(path, sep=None, engine="python", dtype={"customer_id": str})
    else:
        raise UserError(f"{path}: traits file must be .csv or .parquet (key 'personas.traits_file')")
    if "customer_id" not in traits.columns:
        raise UserError(f"{path}: column 'customer_id' is missing (key 'personas.traits_file'); fix: name the id column customer_id")
    traits["customer_id"] = traits["customer_id"].astype(str).str.strip().str.removesuffix(".0")
    return drop_personal_columns(traits, extra_patterns)


def customer_traits(
    eda_customers: pd.DataFrame | None,
    extra: pd.DataFrame | None = None,
    extra_patterns: Sequence[str] = (),
) -> pd.DataFrame | None:
    """Collect the extra traits to profile: `EDA_TRAITS` of 02_eda and an optional traits table.

    Parameters
    ----------
    eda_customers : pandas.DataFrame or None
        02_eda's ``customers`` table; None when 02_eda has not run.
    extra : pandas.DataFrame or None
        ``personas.traits_file`` as `load_traits` reads it, e.g. demographics or web behaviour.
    extra_patterns : sequence of str
        ``privacy.personal_column_patterns``.

    Returns
    -------
    pandas.DataFrame or None
        ``customer_id`` and the trait columns (`extra`'s win over 02_eda's on a name
        clash), personal columns dropped and listed in ``attrs["dropped_personal_columns"]``;
        None when there is nothing.

    Examples
    --------
    >>> eda = pd.DataFrame({"customer_id": [1], "orders": [3], "country": ["France"]})
    >>> extra = pd.DataFrame({"customer_id": ["2"], "age_band": ["25-34"]})
    >>> customer_traits(eda, extra).to_dict("list")
    {'customer_id': ['1', '2'], 'country': ['France', nan], 'age_band': [nan, '25-34']}
    """
    frames = []
    if eda_customers is not None:
        keep = ["customer_id", *[c for c in EDA_TRAITS if c in eda_customers.columns]]
        if "customer_id" in eda_customers.columns and len(keep) > 1:
            frames.append(eda_customers.loc[:, keep].assign(customer_id=eda_customers["customer_id"].astype(str)))
    dropped = list(extra.attrs.get("dropped_personal_columns", [])) if extra is not None else []
    if extra is not None:
        frames = [f.drop(columns=[c for c in f.columns if c != "customer_id" and c in extra.columns]) for f in frames]
        frames.append(extra)
    if not frames:
        return None
    traits = frames[0]
    for frame in frames[1:]:
        traits = traits.merge(frame, on="customer_id", how="outer")
    traits = drop_personal_columns(traits, extra_patterns)
    traits.attrs["dropped_personal_columns"] = dropped + traits.attrs["dropped_personal_columns"]
    return traits


def read_traits(params: Mapping[str, Any], extra_patterns: Sequence[str] = ()) -> pd.DataFrame | None:
    """Read the extra traits of a run: 02_eda's ``customers`` when present and ``personas.traits_file``.

    Parameters
    ----------
    params : mapping
        The run's params (``paths`` and ``personas.traits_file``).
    extra_patterns : sequence of str
        ``privacy.personal_column_patterns``.

    Returns
    -------
    pandas.DataFrame or None
        See `customer_traits`.
    """
    eda_customers = catalog.read(params, "customers") if catalog.path(params, "customers").is_file() else None
    extra = load_traits(params["personas"]["traits_file"], extra_patterns)
    return customer_traits(eda_customers, extra, extra_patterns)


# --------------------------------------------------------------------------------------
# Future value (03_rfm's clv model): absolute evidence of who is still a customer
# --------------------------------------------------------------------------------------

# Columns of the clv dataset joined onto the customer table (its frequency, recency and T
# are BTYD counts, not RFM's, and are left out).
CLV_TRAITS: tuple[str, ...] = ("p_alive", "predicted_clv", "churn_risk")
CHURN_BANDS: tuple[str, ...] = ("High", "Medium", "Low")


def read_clv(params: Mapping[str, Any]) -> pd.DataFrame | None:
    """Read 03_rfm's future-value table, or None when this run has none (an older run).

    Parameters
    ----------
    params : mapping
        The run's params (``paths``).

    Returns
    -------
    pandas.DataFrame or None
        The catalog dataset "clv" (`helpers.catalog.CLV_COLUMNS`).
    """
    return catalog.read(params, "clv") if catalog.path(params, "clv").is_file() else None


def join_clv(customers: pd.DataFrame, clv: pd.DataFrame | None) -> pd.DataFrame:
    """Add `CLV_TRAITS` to the customer table by ``customer_id``; without `clv`, return it as is.

    Customers without a clv row (no purchase day) get missing values; ``churn_risk`` is text
    ("Low", "Medium", "High", "unknown" when the model could not be fitted) or missing.

    Raises
    ------
    UserError
        The clv table lacks a column or repeats an id.

    Examples
    --------
    >>> customers = pd.DataFrame({"customer_id": ["1", "2"], "frequency": [3, 0]})
    >>> clv = pd.DataFrame({"customer_id": [1], "p_alive": [0.2], "predicted_clv": [50.0], "churn_risk": ["High"]})
    >>> join_clv(customers, clv)[["customer_id", "p_alive", "churn_risk"]].to_dict("list")
    {'customer_id': ['1', '2'], 'p_alive': [0.2, nan], 'churn_risk': ['High', nan]}
    """
    if clv is None:
        return customers
    missing = [c for c in ("customer_id", *CLV_TRAITS) if c not in clv.columns]
    if missing:
        raise UserError(f"clv table: column '{missing[0]}' is missing; fix: re-run 03_rfm")
    model = clv.loc[:, ["customer_id", *CLV_TRAITS]].copy()
    model["customer_id"] = model["customer_id"].astype(str)
    if model["customer_id"].duplicated().any():
        raise UserError("clv table: column 'customer_id' has duplicates; fix: re-run 03_rfm")
    model["p_alive"] = model["p_alive"].astype("float64")
    model["predicted_clv"] = model["predicted_clv"].astype("float64")
    model["churn_risk"] = model["churn_risk"].astype(object).where(model["churn_risk"].notna(), None)
    joined = customers.drop(columns=[c for c in CLV_TRAITS if c in customers.columns]).merge(
        model, on="customer_id", how="left", validate="one_to_one")
    joined["churn_risk"] = joined["churn_risk"].astype(object)
    return joined


def clv_figures(group: pd.DataFrame, total_predicted: float) -> dict[str, float]:
    """Summarise a group's future value: share likely lapsed, median P(alive), value, churn mix.

    A customer is likely lapsed when P(alive) < 0.5 or the churn risk is High (no order in
    the next ``clv.churn_days`` with probability 70% or more).

    Shares are over the customers the model scored (a P(alive), resp. a Low/Medium/High band);
    ``predicted_value_share`` is the group's part of all customers' predicted value.

    Examples
    --------
    >>> group = pd.DataFrame({"p_alive": [0.2, 0.4, 0.9, None], "predicted_clv": [10.0, 20.0, 70.0, None],
    ...                       "churn_risk": ["High", "High", "Low", None]})
    >>> clv_figures(group, 200.0)
    {'share_likely_lapsed': 0.6666666666666666, 'median_p_alive': 0.4, 'predicted_value': 100.0, \
'predicted_value_share': 0.5, 'churn_high_share': 0.6666666666666666}
    """
    alive = group["p_alive"].dropna()
    value = float(group["predicted_clv"].sum())
    bands = group["churn_risk"].dropna().astype(str)
    bands = bands[bands.isin(CHURN_BANDS)]
    # Likely lapsed: probably dropped out, or probably no order within clv.churn_days. BG/NBD
    # keeps one-time buyers "alive" (they can only drop out after a repeat purchase), so
    # P(alive) alone would call a shop of long-gone one-time buyers active.
    scored = group.loc[group["p_alive"].notna()]
    lapsed = (scored["p_alive"] < ALIVE_THRESHOLD) | (scored["churn_risk"].astype(str) == "High")
    return {
        "share_likely_lapsed": float(lapsed.mean()) if len(scored) else float("nan"),
        "median_p_alive": float(alive.median()) if len(alive) else float("nan"),
        "predicted_value": value,
        "predicted_value_share": value / total_predicted if total_predicted > 0 else float("nan"),
        "churn_high_share": float((bands == "High").mean()) if len(bands) else float("nan"),
    }


def future_sentence(profile: Mapping[str, Any]) -> str:
    """Write a profile's clv figures in absolute words, after a space ('' without them).

    >>> future_sentence({"share_likely_lapsed": 0.62, "predicted_value_share": 0.031, "churn_high_share": 0.7})
    ' 62% are likely lapsed (P(alive) < 50% or churn risk High); they hold 3.1% of the predicted value and 70% are at high churn risk.'
    """
    lapsed = profile.get("share_likely_lapsed")
    if lapsed is None or pd.isna(lapsed):
        return ""
    text = f" {float(lapsed):.0%} are likely lapsed (P(alive) < {ALIVE_THRESHOLD:.0%} or churn risk High)"
    value, high = profile.get("predicted_value_share"), profile.get("churn_high_share")
    parts = []
    if value is not None and pd.notna(value):
        parts.append(f"they hold {float(value):.1%} of the predicted value")
    if high is not None and pd.notna(high):
        parts.append(f"{float(high):.0%} are at high churn risk")
    return text + ("; " + " and ".join(parts) if parts else "") + "."

