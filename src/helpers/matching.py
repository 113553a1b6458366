"""Matching ids between tables fast, with the meaning of pandas' ``isin``."""

from __future__ import annotations

import numpy as np
import pandas as pd


def is_in(ids: pd.Series, among: pd.Series) -> np.ndarray:
    """Which of `ids` are among `among`, as ``ids.isin(among)``.

    Arrow's ``is_in`` on the ids as they are: pandas' ``isin`` on Arrow-backed text goes through
    the values one by one in Python (4.2 s for 1.5M holdout orders against 873k customers;
    0.25 s here). Where Arrow and pandas could disagree, pandas decides: missing values on
    either side (pandas' rules for them vary with the dtype) unless both sides are text of
    one dtype, other types on the two sides, categories, and anything Arrow cannot take.

    >>> is_in(pd.Series(["a", "c", None]), pd.Series(["a", "b"])).tolist()
    [True, False, False]
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    same = ids.dtype == among.dtype and not isinstance(ids.dtype, pd.CategoricalDtype)
    if not same or not (isinstance(ids.dtype, pd.StringDtype) or not (ids.hasnans or among.hasnans)):
        return ids.isin(among).to_numpy(dtype=bool)
    try:
        left, right = pa.array(ids.array), pa.array(among.array)
        if left.type != right.type:  # e.g. an object column of numbers beside one of text
            return ids.isin(among).to_numpy(dtype=bool)
        found = pc.is_in(left, value_set=right)
    except (pa.ArrowException, TypeError, ValueError):  # mixed types in an object column, and the like
        return ids.isin(among).to_numpy(dtype=bool)
    return found.to_numpy(zero_copy_only=False).astype(bool)
