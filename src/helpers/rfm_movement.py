"""How customers moved between RFM segments from an earlier cut-off to the analysis date.

03_rfm segments the customers twice, at the analysis date and at a cut-off
``rfm.movement_days`` earlier (`helpers.rfm.rfm_segments` on the lines before it), then
compares the two here. Pure computation: Series and DataFrames in, DataFrames out; the
sentences are in `helpers.rfm_report`, the heatmap in `helpers.rfm_plots`.
"""

from __future__ import annotations

import pandas as pd

from helpers.errors import UserError

NEW_ORIGIN = "(new)"  # row of customers without a line before the cut-off
GONE_DESTINATION = "(gone)"  # column of customers of the cut-off missing now


def movement_cutoff(analysis_date: pd.Timestamp, movement_days: int) -> pd.Timestamp:
    """Return the earlier cut-off, ``movement_days`` before the analysis date.

    Raises
    ------
    UserError
        ``movement_days`` is not a whole number of at least 1.

    Examples
    --------
    >>> movement_cutoff(pd.Timestamp("2024-04-01"), 30)
    Timestamp('2024-03-02 00:00:00')
    """
    if isinstance(movement_days, bool) or not isinstance(movement_days, int) or movement_days < 1:
        raise UserError(
            f"key 'rfm.movement_days': expected a whole number of days >= 1, got {movement_days!r}; "
            f"fix: use e.g. 90"
        )
    return analysis_date - pd.Timedelta(days=movement_days)


def segment_movement(before: pd.Series, after: pd.Series) -> pd.DataFrame:
    """Count customers by segment at the cut-off (rows) and now (columns).

    Parameters
    ----------
    before : pandas.Series
        Segment per customer id at the earlier cut-off.
    after : pandas.Series
        Segment per customer id at the analysis date (categorical: its categories give
        the order of rows and columns).

    Returns
    -------
    pandas.DataFrame
        Counts; rows are the segments plus ``"(new)"`` for customers without a line
        before the cut-off, columns the segments (plus ``"(gone)"`` only if a customer of
        the cut-off is missing now, which cannot happen when both come from one file).
    """
    if isinstance(after.dtype, pd.CategoricalDtype):
        segments = [str(s) for s in after.cat.categories]
    else:
        segments = list(pd.unique(pd.concat([before, after]).dropna().astype(str)))
    customers = after.index.union(before.index)
    origin = before.astype(object).reindex(customers).fillna(NEW_ORIGIN)
    destination = after.astype(object).reindex(customers).fillna(GONE_DESTINATION)
    columns = segments + ([GONE_DESTINATION] if (destination == GONE_DESTINATION).any() else [])
    counts = (
        pd.DataFrame({"origin": origin.to_numpy(), "destination": destination.to_numpy()})
        .groupby(["origin", "destination"])
        .size()
    )
    matrix = counts.unstack("destination").reindex(index=[*segments, NEW_ORIGIN], columns=columns)
    matrix = matrix.fillna(0).astype("int64")
    matrix.index.name = "segment at cut-off"
    matrix.columns.name = "segment now"
    return matrix


def movement_shares(counts: pd.DataFrame) -> pd.DataFrame:
    """Divide each row of a movement matrix by its total (empty rows stay 0)."""
    totals = counts.sum(axis=1)
    return counts.div(totals.where(totals > 0), axis=0).fillna(0.0)


def segment_flows(counts: pd.DataFrame) -> pd.DataFrame:
    """List the moves between different segments, largest first.

    Parameters
    ----------
    counts : pandas.DataFrame
        Output of `segment_movement`.

    Returns
    -------
    pandas.DataFrame
        origin, destination, customers and share_of_origin (share of the origin row),
        largest first (ties by share of origin, then matrix order); customers who stayed
        put and empty cells are left out.

    Examples
    --------
    >>> counts = pd.DataFrame({"A": [3, 1], "B": [1, 0]}, index=["A", "B"])
    >>> segment_flows(counts).values.tolist()
    [['B', 'A', 1, 1.0], ['A', 'B', 1, 0.25]]
    """
    shares = movement_shares(counts)
    rows = []
    for i, origin in enumerate(counts.index):
        for j, destination in enumerate(counts.columns):
            customers = int(counts.iloc[i, j])
            if origin != destination and customers:
                rows.append((origin, destination, customers, float(shares.iloc[i, j]), i, j))
    flows = pd.DataFrame(
        rows, columns=["origin", "destination", "customers", "share_of_origin", "_i", "_j"]
    )
    flows = flows.sort_values(
        ["customers", "share_of_origin", "_i", "_j"], ascending=[False, False, True, True]
    )
    return flows.drop(columns=["_i", "_j"]).reset_index(drop=True)
