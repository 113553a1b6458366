"""Customer traits beyond RFM for the personas (step 05_personas): 02_eda's and the user's.

`read_traits` reads them for a run: `EDA_TRAITS` from 02_eda's ``customers`` table when
it exists and ``personas.traits_file`` (demographics, channel, ...) when set; columns whose
name looks like personal data are dropped on reading (`helpers.exports.personal_columns`).
`customer_traits` merges the two tables; `helpers.personas.join_clusters` adds them to the
customer table, and the profiles summarise them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from helpers import catalog
from helpers.errors import UserError
from helpers.exports import drop_personal_columns

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
