"""Build the customer-level example: one row per Online Retail customer, as a CRM would export it.

The purchase columns are real: aggregates of the shipped Online Retail export (UCI #352,
CC BY 4.0) per customer, computed here with plain SQL on the raw file (not with the
pipeline's cleaning), as a shop's CRM would export them: days since the last purchase,
purchases (invoices not starting with C), net spend, share of spend on Christmas items,
country and the first purchase date. Online Retail has no demographics or web data, so
birth year, gender, education, marital status and monthly web visits are **synthetic**:
drawn with a fixed seed, mildly linked to spending so that clusters have something to find.
Run ``python -m helpers.customer_example --out data/examples/online_retail_customers.csv``
(``make customers-report`` does it and runs the report with ``params/customers.example.yaml``).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from helpers.config import PROJECT_ROOT

RAW_FILE = PROJECT_ROOT / "data" / "raw" / "online_retail.csv.gz"
EXPORT_DATE = pd.Timestamp("2011-12-10")  # the day after the export's last invoice
EDUCATION = {"Graduate": 0.50, "Postgraduate": 0.20, "Secondary": 0.25, "Basic": 0.05}
MARITAL = {"Married": 0.45, "Single": 0.30, "Together": 0.20, "Divorced": 0.05}

_AGGREGATE_SQL = """
SELECT CAST(CAST(CustomerID AS BIGINT) AS VARCHAR) AS CustomerID,
       arg_max(Country, InvoiceDate) AS Country,
       date_diff('day', CAST(max(InvoiceDate) FILTER (WHERE NOT cancelled) AS DATE), DATE '2011-12-10') AS DaysSinceLastPurchase,
       count(DISTINCT InvoiceNo) FILTER (WHERE NOT cancelled) AS Purchases,
       round(sum(Quantity * UnitPrice), 2) AS TotalSpend,
       round(coalesce(sum(Quantity * UnitPrice) FILTER (WHERE Description ILIKE '%CHRISTMAS%'), 0)
             / nullif(sum(Quantity * UnitPrice) FILTER (WHERE Quantity > 0), 0), 3) AS ChristmasShare,
       strftime(min(InvoiceDate), '%d-%m-%Y') AS CustomerSince
FROM (SELECT *, starts_with(InvoiceNo, 'C') AS cancelled
      FROM read_csv($path, timestampformat = '%Y-%m-%d %H:%M:%S', types = {'CustomerID': 'DOUBLE', 'InvoiceNo': 'VARCHAR'}))
WHERE CustomerID IS NOT NULL
GROUP BY 1
ORDER BY 1
"""


def customer_aggregates(raw_file: Path = RAW_FILE) -> pd.DataFrame:
    """Aggregate the Online Retail export to one row per customer (real figures).

    Returns
    -------
    pandas.DataFrame
        CustomerID, Country, DaysSinceLastPurchase (NaN for a customer with only
        cancellations), Purchases, TotalSpend, ChristmasShare, CustomerSince (DD-MM-YYYY).
    """
    with duckdb.connect() as con:
        return con.execute(_AGGREGATE_SQL, {"path": str(raw_file)}).df()


def _draw(rng: np.random.Generator, shares: dict[str, float], n: int) -> np.ndarray:
    return rng.choice(list(shares), size=n, p=list(shares.values()))


def add_synthetic_traits(customers: pd.DataFrame, seed: int = 42) -> pd.DataFrame:
    """Add synthetic BirthYear, Gender, Education, MaritalStatus and WebVisitsMonth.

    Older customers spend a little more and visit the site a little less, and web visits
    grow with purchases, as in the synthetic data of `helpers.synth`; 6% of birth years
    and 3% of genders are missing (the generator's shares).

    Examples
    --------
    >>> t = add_synthetic_traits(pd.DataFrame({"Purchases": [1, 10], "TotalSpend": [10.0, 900.0]}))
    >>> sorted(t.columns)[:3], len(t)
    (['BirthYear', 'Education', 'Gender'], 2)
    """
    rng = np.random.default_rng(seed)
    n = len(customers)
    spend_rank = customers["TotalSpend"].rank(pct=True).fillna(0.5).to_numpy()
    age = np.clip(rng.normal(38 + 14 * spend_rank, 11), 18, 85)
    birth_year = (EXPORT_DATE.year - np.round(age)).astype("float64")  # NaN = missing, Int64 below
    birth_year[rng.random(n) < 0.06] = np.nan
    gender = np.where(rng.random(n) < 0.55 - 0.1 * spend_rank, "F", "M").astype(object)
    gender[rng.random(n) < 0.03] = None
    per_month = customers["Purchases"].fillna(0).to_numpy() / 12
    visits = rng.poisson(1 + 3 * per_month + 4 * (age < 35))
    return customers.assign(BirthYear=pd.array(birth_year, dtype="Int64"), Gender=gender, Education=_draw(rng, EDUCATION, n),
                            MaritalStatus=_draw(rng, MARITAL, n), WebVisitsMonth=visits)


def build(out: Path, raw_file: Path = RAW_FILE, seed: int = 42) -> Path:
    """Write the example table to `out` (CSV, comma, header); return the path."""
    table = add_synthetic_traits(customer_aggregates(raw_file), seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.customer_example", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(PROJECT_ROOT / "data" / "examples" / "online_retail_customers.csv"))
    parser.add_argument("--raw", default=str(RAW_FILE))
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    path = build(Path(args.out), Path(args.raw), args.seed)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
