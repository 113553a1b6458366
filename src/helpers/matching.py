"""Matching ids between tables fast, with the meaning of pandas' ``isin``."""

from __future__ import annotations

import numpy as np
import pandas as pd


def is_in(ids: pd.Series, among: pd.Series) -> np.ndarray:
    """Which of `ids` are among `among`, as ``ids.isin(among)``.

    Arrow's ``is_in`` on the ids as they are: pandas' ``isin`` on Arrow-backed text goes through
    the values one by one in Python (4.2 s for 1.5M holdout orders against 873k customers;
    0.25 s here). A missing id matches a missing id, as in pandas; mixed or unusual types
    fall back to pandas.

    >>> is_in(pd.Series(["a", "c", None]), pd.Series(["a", "b"])).tolist()
    [True, False, False]
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        left, right = pa.array(ids.array), pa.array(among.array)
    except (pa.ArrowException, TypeError, ValueError):  # mixed types in an object column
        return ids.isin(among).to_numpy(dtype=bool)
    if left.type != right.type:
        text = pa.types.is_string(left.type) or pa.types.is_large_string(left.type)
        if not (pa.types.is_null(left.type) or (text and pa.types.is_large_string(right.type))):
            return ids.isin(among).to_numpy(dtype=bool)  # no cast: 17850 never matches "17850", as in pandas
        left = left.cast(right.type)
    return pc.is_in(left, value_set=right).to_numpy(zero_copy_only=False).astype(bool)
