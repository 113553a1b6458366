"""Customer traits beyond RFM for the personas (step 05_personas): 02_eda's and the user's.

`read_traits` reads them for a run: from 02_eda's ``customers`` table when it exists,
`EDA_TRAITS`, the demographic `DEMOGRAPHIC_TRAITS` (when ``customers_input`` was given) and
the ``clustering.features`` it holds (so personas describe what they were clustered on);
and ``personas.traits_file`` (demographics, channel, ...) when set. Columns whose name
looks like personal data are dropped on reading (`helpers.exports.personal_columns`).
`customer_traits` merges the two tables; `helpers.personas.join_clusters` adds them to the
customer table, and the profiles summarise them (`trait_figures`).

The categorical traits (text, categories, true/false) also give each persona its
**make-up** (`categorical_make_up`, written by `make_up_text`): per trait, the level that
sets the persona apart, e.g. "62% women (gender; all customers: 50%)".

03_rfm's future-value model (dataset "clv", when the run has it) gives each customer a
P(alive), a predicted value and a churn risk band: `read_clv` and `join_clv` add them to the
customer table and `clv_figures` summarises them per persona; they are what names a cluster
whose median customer is likely lapsed (`helpers.persona_rules`).

An export without product ids or descriptions cannot back the rules' product actions
("Recommend products ...", "Cross-sell ..."): `product_free_actions` leaves them out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from helpers import catalog
from helpers.errors import UserError
from helpers.exports import drop_personal_columns
from helpers.persona_rules import ALIVE_THRESHOLD

# Traits taken from 02_eda's customers table (the others repeat RFM figures).
EDA_TRAITS: tuple[str, ...] = ("distinct_products", "return_share", "country")
# Demographics 02_eda joins from customers_input (helpers.traits); city is left out: too
# fine-grained for a persona, and close to personal data.
DEMOGRAPHIC_TRAITS: tuple[str, ...] = ("gender", "age_band", "home_country", "region")


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
    eda_columns: Sequence[str] = EDA_TRAITS,
) -> pd.DataFrame | None:
    """Collect the extra traits to profile: columns of 02_eda's table and an optional traits table.

    02_eda's ``distinct_products`` is left out when it is 0 for every customer: the export
    has no product ids, and "0 distinct products" would describe the export, not a persona.

    Parameters
    ----------
    eda_customers : pandas.DataFrame or None
        02_eda's ``customers`` table; None when 02_eda has not run.
    extra : pandas.DataFrame or None
        ``personas.traits_file`` as `load_traits` reads it, e.g. demographics or web behaviour.
    extra_patterns : sequence of str
        ``privacy.personal_column_patterns``.
    eda_columns : sequence of str, default `EDA_TRAITS`
        Columns taken from `eda_customers` when it has them.

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
        keep = ["customer_id", *[c for c in dict.fromkeys(eda_columns) if c in eda_customers.columns
                                 and not (c == "distinct_products" and _all_zero(eda_customers[c]))]]
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


def _all_zero(values: pd.Series) -> bool:
    return bool(pd.to_numeric(values, errors="coerce").fillna(0).eq(0).all())


def read_traits(params: Mapping[str, Any], extra_patterns: Sequence[str] = ()) -> pd.DataFrame | None:
    """Read the extra traits of a run: 02_eda's ``customers`` when present and ``personas.traits_file``.

    From 02_eda's table: `EDA_TRAITS`, `DEMOGRAPHIC_TRAITS` and the ``clustering.features``
    that are not RFM columns (e.g. gender or sessions per month), when it has them.

    Parameters
    ----------
    params : mapping
        The run's params (``paths``, ``personas.traits_file`` and, when present,
        ``clustering.features``).
    extra_patterns : sequence of str
        ``privacy.personal_column_patterns``.

    Returns
    -------
    pandas.DataFrame or None
        See `customer_traits`.
    """
    eda_customers = catalog.read(params, "customers") if catalog.path(params, "customers").is_file() else None
    extra = load_traits(params["personas"]["traits_file"], extra_patterns)
    clustered = [f for f in params.get("clustering", {}).get("features", ()) if f not in catalog.RFM_COLUMNS]
    return customer_traits(eda_customers, extra, extra_patterns, (*EDA_TRAITS, *DEMOGRAPHIC_TRAITS, *clustered))


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



# --------------------------------------------------------------------------------------
# Summaries of the traits: figures per persona and the categorical make-up
# --------------------------------------------------------------------------------------


def trait_kind(values: pd.Series) -> str:
    """Return how a trait is summarised: "share" (true/false), "median" (numbers), "top" (the rest).

    Examples
    --------
    >>> [trait_kind(pd.Series(v)) for v in ([True], [1.5], ["web"])]
    ['share', 'median', 'top']
    """
    if pd.api.types.is_bool_dtype(values):
        return "share"
    if pd.api.types.is_numeric_dtype(values):
        return "median"
    return "top"


def trait_figures(group: pd.DataFrame, traits: Sequence[str]) -> dict[str, Any]:
    """Summarise a group's traits: ``median_<t>``, ``share_<t>`` (true) or ``top_<t>`` and ``top_<t>_share``.

    Missing values are left out; the most common value's ties go to the alphabetically first.

    Examples
    --------
    >>> group = pd.DataFrame({"age": [30, 50, None], "channel": ["web", "shop", "web"]})
    >>> trait_figures(group, ["age", "channel"])
    {'median_age': 40.0, 'top_channel': 'web', 'top_channel_share': 0.6666666666666666}
    """
    row: dict[str, Any] = {}
    for trait in traits:
        values = group[trait]
        kind = trait_kind(values)
        present = values.dropna()
        if kind == "median":
            row[f"median_{trait}"] = float(present.median()) if len(present) else float("nan")
        elif kind == "share":
            row[f"share_{trait}"] = float(present.astype(bool).mean()) if len(present) else float("nan")
        else:
            counts = present.astype(str).value_counts()
            top = sorted(counts[counts == counts.iloc[0]].index)[0] if len(counts) else None
            row[f"top_{trait}"] = top
            row[f"top_{trait}_share"] = float(counts[top] / len(present)) if top is not None else float("nan")
    return row


# A level is "over-represented" in a persona from this many percentage points above its
# share among all customers, and when at least this many of the persona's customers hold it
# (2 customers of a tiny persona are no evidence); else the most common level describes it.
MAKE_UP_MIN_POINTS = 0.05
MAKE_UP_MIN_CUSTOMERS = 5
_YES_NO = ("yes", "no")


class TraitLevel(NamedTuple):
    """One part of a persona's make-up: a categorical trait's level and its share in the persona and overall."""

    trait: str
    level: str  # true/false traits: "yes" or "no"
    share: float  # of the persona's customers with a known value
    overall_share: float  # of all customers with a known value
    over_represented: bool  # share >= overall_share + MAKE_UP_MIN_POINTS (and MAKE_UP_MIN_CUSTOMERS)


def _levels(values: pd.Series) -> pd.Series:
    """A trait's known values as text levels (true/false as "yes"/"no")."""
    if pd.api.types.is_bool_dtype(values):
        return values.map({True: "yes", False: "no"}).astype(object)
    return values.astype(str).str.strip().astype(object)


def _pick_level(trait: str, counts: pd.Series, overall: pd.Series, min_points: float) -> TraitLevel:
    """Choose one cluster's level of a trait from its level counts: most over-represented, else most common."""
    counts = counts[counts > 0]
    shares = counts / counts.sum()
    table = pd.DataFrame({"level": counts.index.astype(str), "share": shares.to_numpy(),
                          "gap": (shares - overall.reindex(shares.index).fillna(0.0)).to_numpy(),
                          "enough": (counts >= MAKE_UP_MIN_CUSTOMERS).to_numpy()})
    candidates = table[table["enough"] & (table["gap"] >= min_points - 1e-9)]  # 1e-9: 0.55 - 0.5 < 0.05 in floats
    if len(candidates):
        pick, flag = candidates.sort_values(["gap", "share", "level"], ascending=[False, False, True],
                                            kind="mergesort").iloc[0], True
    else:
        pick, flag = table.sort_values(["share", "level"], ascending=[False, True], kind="mergesort").iloc[0], False
    return TraitLevel(trait, pick["level"], float(pick["share"]), float(overall[pick["level"]]), flag)


def categorical_make_up(
    customers: pd.DataFrame, traits: Sequence[str], by: str = "cluster", min_points: float = MAKE_UP_MIN_POINTS
) -> pd.DataFrame:
    """Pick, for each persona and categorical trait, the level that sets the persona apart.

    For each trait holding text, categories or true/false (the others are skipped), among
    customers with a known value: the level whose share in the persona exceeds its share
    among all customers by the most, when that gap is at least `min_points` and at least
    `MAKE_UP_MIN_CUSTOMERS` of the persona's customers hold it; otherwise (the persona
    mirrors all customers) its most common level. Ties: the larger share, then alphabetical.

    Parameters
    ----------
    customers : pandas.DataFrame
        One row per customer with `by` and the trait columns.
    traits : sequence of str
        Trait columns to describe.
    by : str, default "cluster"
        The persona label column.
    min_points : float, default `MAKE_UP_MIN_POINTS`
        Smallest gap (0.05 = 5 percentage points) that counts as over-represented.

    Returns
    -------
    pandas.DataFrame
        One row per persona and trait (personas without a known value of a trait have no
        row), columns `by` and the fields of `TraitLevel`; by persona, then trait order.

    Examples
    --------
    Women are 8 of 16 customers (50%), 5 of the 8 in cluster 0 (62.5%, +12.5 points):

    >>> table = pd.DataFrame({"cluster": [0] * 8 + [1] * 8,
    ...                       "gender": ["women"] * 5 + ["men"] * 3 + ["women"] * 3 + ["men"] * 5})
    >>> categorical_make_up(table, ["gender"])[["cluster", "level", "share", "overall_share"]].to_dict("records")
    [{'cluster': 0, 'level': 'women', 'share': 0.625, 'overall_share': 0.5}, \
{'cluster': 1, 'level': 'men', 'share': 0.625, 'overall_share': 0.5}]
    """
    rows = []
    for order, trait in enumerate(traits):
        if trait_kind(customers[trait]) == "median":
            continue
        known = customers.loc[customers[trait].notna(), [by, trait]]
        levels = _levels(known[trait])
        overall = levels.value_counts(normalize=True)
        within = pd.crosstab(known[by], levels)
        for label, counts in within.iterrows():
            rows.append({by: label, "_order": order, **_pick_level(trait, counts, overall, min_points)._asdict()})
    columns = [by, "_order", *TraitLevel._fields]
    frame = pd.DataFrame(rows, columns=columns).sort_values([by, "_order"], kind="mergesort")
    return frame.drop(columns="_order").reset_index(drop=True)


def make_up_by_cluster(customers: pd.DataFrame, traits: Sequence[str], by: str = "cluster") -> dict[Any, tuple] | None:
    """Return each persona's make-up as a tuple of `TraitLevel` (`categorical_make_up`); None without categorical traits."""
    categorical = [t for t in traits if trait_kind(customers[t]) != "median"]
    if not categorical:
        return None
    make_up = categorical_make_up(customers, categorical, by)
    return {label: tuple(TraitLevel(*row) for row in group.drop(columns=by).itertuples(index=False))
            for label, group in make_up.groupby(by, sort=True)}


def make_up_label(item: TraitLevel) -> str:
    """Name a make-up level: ``women (gender)``; a yes/no trait by itself: ``newsletter``, ``no newsletter``.

    Examples
    --------
    >>> make_up_label(TraitLevel("age_band", "25-34", 0.4, 0.3, True))
    '25-34 (age band)'
    >>> make_up_label(TraitLevel("newsletter", "no", 0.7, 0.4, True))
    'no newsletter'
    """
    words = _words(item.trait)
    if item.level in _YES_NO:
        return words if item.level == "yes" else f"no {words}"
    return f"{item.level} ({words})"


def _words(trait: str) -> str:
    return str(trait).replace("_", " ")


def share_text(share: float) -> str:
    """Write a share as a whole percentage, or with one decimal under 1% (so it never reads 0%).

    Examples
    --------
    >>> [share_text(v) for v in (0.625, 0.0024, 0.0)]
    ['62%', '0.2%', '0%']
    """
    return f"{share:.1%}" if 0 < share < 0.01 else f"{share:.0%}"


def make_up_text(items: Sequence[TraitLevel]) -> str:
    """Write a persona's make-up: share, level, trait and the share among all customers.

    Examples
    --------
    >>> make_up_text([TraitLevel("gender", "women", 0.62, 0.5, True),
    ...               TraitLevel("education", "graduates", 0.48, 0.31, True),
    ...               TraitLevel("newsletter", "yes", 0.7, 0.4, True)])
    '62% women (gender; all customers: 50%), 48% graduates (education; all customers: 31%), 70% newsletter (all customers: 40%)'
    """
    parts = []
    for item in items:
        share, everyone = share_text(item.share), f"all customers: {share_text(item.overall_share)}"
        if item.level in _YES_NO:
            parts.append(f"{share} {make_up_label(item)} ({everyone})")
        else:
            parts.append(f"{share} {item.level} ({_words(item.trait)}; {everyone})")
    return ", ".join(parts)


# --------------------------------------------------------------------------------------
# Product data: the actions that need it
# --------------------------------------------------------------------------------------

# Words of a rule's action that need product data from the export (lower case, as data):
# without product ids or descriptions these actions cannot be carried out.
PRODUCT_ACTION_WORDS: tuple[str, ...] = (
    "product", "cross-sell", "recommendation", "catalogue", "categories they bought", "what they used to buy",
)


def product_free_actions(actions: Sequence[str]) -> tuple[str, ...]:
    """Return the actions that mention none of `PRODUCT_ACTION_WORDS` (case-insensitive), in order.

    Examples
    --------
    >>> product_free_actions(["Cross-sell complementary products", "Offer free delivery"])
    ('Offer free delivery',)
    """
    return tuple(a for a in actions if not any(word in a.lower() for word in PRODUCT_ACTION_WORDS))
