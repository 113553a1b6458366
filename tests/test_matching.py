"""Matching ids between tables (`helpers.matching.is_in`) means what pandas' isin means."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.matching import is_in


@settings(max_examples=80, deadline=None)
@given(ids=st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "c", "17850", ""])), max_size=20),
       among=st.lists(st.one_of(st.none(), st.sampled_from(["a", "c", "17850", "x"])), max_size=8),
       dtype=st.sampled_from(["str", "object"]))
def test_holdout_customers_are_matched_as_pandas_isin_matches_them(ids, among, dtype):
    left, right = pd.Series(ids, dtype=dtype), pd.Series(among, dtype=dtype)
    assert is_in(left, right).tolist() == left.isin(right).tolist()


def test_whole_number_ids_are_matched_too():
    assert is_in(pd.Series([1, 2, 3]), pd.Series([3, 1])).tolist() == [True, False, True]


def test_ids_of_other_types_never_match_as_in_pandas():
    left = pd.Series([17850, 2])
    right = pd.Series(["17850", "3"], dtype="str")
    assert is_in(left, right).tolist() == left.isin(right).tolist() == [False, False]
    assert is_in(pd.Series(["a"], dtype="str"), pd.Series([], dtype=object)).tolist() == [False]


@pytest.mark.parametrize(("ids", "among"), [
    (pd.Series([None, "a"], dtype=object), pd.Series([None], dtype="str")),
    (pd.Series([pd.NA, 1], dtype="Int64"), pd.Series([pd.NA], dtype="Int64")),
    (pd.Series(["a", "b"], dtype="category"), pd.Series(["b"], dtype="category")),
    (pd.Series([None, "a"], dtype=object), pd.Series([float("nan")], dtype=object)),
    (pd.Series([2**63 + 5, 1], dtype="uint64"), pd.Series([2**63 + 5], dtype="uint64")),
])
def test_missing_values_categories_and_other_dtypes_follow_pandas(ids, among):
    assert is_in(ids, among).tolist() == ids.isin(among).tolist()
