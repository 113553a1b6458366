"""Monthly cohort retention of the cleaned transactions (step 02_eda): computation only.

A customer's cohort is the month of their first purchase order; `cohort_retention` counts,
in SQL over 01_clean's Parquet, how many of each cohort order again in each later month.
Definitions (purchase order, partial month) are those of `helpers.eda`; the heatmap is
drawn by `helpers.eda_customer_plots.plot_cohort_retention`.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from helpers.eda import ORDER_PARTS_TABLE, check_positive, date_bounds, month_coverage, shared_table

# The months with a purchase order of each customer, from the invoices' parts of `helpers.eda`.
COHORT_SQL = f"""
    WITH active AS (
        SELECT DISTINCT customer_id, date_trunc('month', first_at) AS month
        FROM {ORDER_PARTS_TABLE}
        WHERE NOT is_return AND first_at IS NOT NULL
    ),
    cohorts AS (
        SELECT customer_id, min(month) AS cohort FROM active GROUP BY customer_id
    ),
    sizes AS (
        SELECT cohort, count(*) AS cohort_size FROM cohorts GROUP BY cohort
    ),
    counts AS (
        SELECT cohorts.cohort,
               (year(active.month) - year(cohorts.cohort)) * 12
                   + month(active.month) - month(cohorts.cohort) AS months_since_first,
               count(*) AS active_customers
        FROM active JOIN cohorts USING (customer_id)
        GROUP BY ALL
    ),
    grid AS (
        SELECT sizes.cohort, ages.months_since_first, sizes.cohort_size
        FROM sizes
        CROSS JOIN range(0, $cohort_months) AS ages(months_since_first)
        CROSS JOIN (SELECT max(month) AS last_month FROM active) AS bounds
        WHERE sizes.cohort + to_months(ages.months_since_first::INTEGER) <= bounds.last_month
    )
    SELECT grid.cohort, grid.months_since_first, grid.cohort_size,
           coalesce(counts.active_customers, 0) AS active_customers,
           coalesce(counts.active_customers, 0) / grid.cohort_size AS retention
    FROM grid LEFT JOIN counts USING (cohort, months_since_first)
    ORDER BY grid.cohort, grid.months_since_first
"""


def cohort_retention(
    con: duckdb.DuckDBPyConnection, path: str | Path, cohort_months: int = 12
) -> pd.DataFrame:
    """Compute monthly cohort retention in SQL.

    A customer's cohort is the month of their first purchase order; they are active in a
    later month when they place a purchase order in it. Customers with only returns belong
    to no cohort. Cells after the last month in the data are left out (not zero).

    Parameters
    ----------
    cohort_months : int, default 12
        Months since first purchase shown: 0 .. cohort_months - 1.

    Returns
    -------
    pandas.DataFrame
        Long format, sorted: cohort (month start), months_since_first, cohort_size,
        active_customers and retention (= active_customers / cohort_size; 1.0 at month 0),
        then month (the calendar month of the cell, cohort + months_since_first) with its
        days_in_month, days_covered and partial (`month_coverage`): a cell in a partial
        month counts only the days the data cover.
    """
    check_positive("cohort_months", cohort_months)
    shared_table(con, path, ORDER_PARTS_TABLE)
    retention = con.execute(COHORT_SQL, {"cohort_months": int(cohort_months)}).df()
    cohorts = pd.to_datetime(retention["cohort"]).dt.to_period("M")
    offsets = retention["months_since_first"].astype("int64")
    months = pd.Series([(c + int(k)).to_timestamp() for c, k in zip(cohorts, offsets, strict=True)],
                       index=retention.index, dtype="datetime64[ns]")
    first, last = date_bounds(con, path)
    return pd.concat([retention.assign(month=months), month_coverage(months, first, last)], axis=1)
