"""Calibration of the synthetic generator: the same statistics on real and generated data.

`calibration_table` runs one list of DuckDB queries (`_TRANSACTION_STATS` over the
transactions, `_SESSION_STATS` over web sessions) on the real exports and on a folder
written by `helpers.synth.generate`; `calibration_markdown` formats the comparison, as
docs/calibration.md shows it (``python -m helpers.synth --calibrate DIR --real ...``).
Adding a statistic is one entry in those lists.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from helpers.errors import UserError

# name, unit, SQL over view `t` (Online Retail columns) and the helper views.
_TRANSACTION_STATS: tuple[tuple[str, str, str], ...] = (
    ("lines", "count", "SELECT count(*) FROM t"),
    ("lines without CustomerID", "share",
     "SELECT avg((CustomerID IS NULL)::INT) FROM t"),
    ("lines on C (cancellation) invoices", "share",
     "SELECT avg((InvoiceNo LIKE 'C%')::INT) FROM t"),
    ("exact duplicate lines (extra copies)", "share",
     "SELECT 1 - (SELECT count(*) FROM (SELECT DISTINCT * FROM t)) / count(*) FROM t"),
    ("lines from the United Kingdom", "share",
     "SELECT avg((Country = 'United Kingdom')::INT) FROM t"),
    ("POST lines", "share", "SELECT avg((StockCode = 'POST')::INT) FROM t"),
    ("zero-price lines", "share", "SELECT avg((UnitPrice = 0)::INT) FROM t"),
    ("registered customers from the United Kingdom", "share",
     "SELECT avg((c = 'United Kingdom')::INT) FROM (SELECT mode(Country) c FROM reg GROUP BY CustomerID)"),
    ("lines per registered purchase invoice, median", "lines",
     "SELECT median(n) FROM inv"),
    ("lines per registered purchase invoice, mean", "lines", "SELECT avg(n) FROM inv"),
    ("registered purchase invoices with 1 line", "share", "SELECT avg((n = 1)::INT) FROM inv"),
    ("quantity per product line, median", "units", "SELECT median(Quantity) FROM prod"),
    ("quantity per product line, mean", "units", "SELECT avg(Quantity) FROM prod"),
    ("product lines with quantity 1", "share", "SELECT avg((Quantity = 1)::INT) FROM prod"),
    ("product lines with quantity 12", "share", "SELECT avg((Quantity = 12)::INT) FROM prod"),
    ("unit price, median", "price", "SELECT median(UnitPrice) FROM prod"),
    ("ln(unit price), mean", "log", "SELECT avg(ln(UnitPrice)) FROM prod"),
    ("ln(unit price), sd", "log", "SELECT stddev(ln(UnitPrice)) FROM prod"),
    ("guest unit price / registered, medians", "ratio",
     "SELECT (SELECT median(UnitPrice) FROM t WHERE CustomerID IS NULL AND UnitPrice > 0 "
     "AND Quantity > 0 AND StockCode NOT IN ('POST', 'DOT')) / (SELECT median(UnitPrice) FROM prod)"),
    ("registered invoice value, median", "price", "SELECT median(v) FROM inv"),
    ("orders per customer, median", "orders", "SELECT median(o) FROM cust"),
    ("orders per customer, mean", "orders", "SELECT avg(o) FROM cust"),
    ("customers with one order", "share", "SELECT avg((o = 1)::INT) FROM cust"),
    ("net revenue per customer, median", "price", "SELECT median(m) FROM cust"),
    ("recency (days), median", "days", "SELECT median(recency) FROM cust"),
    ("tenure (days), median", "days", "SELECT median(tenure) FROM cust"),
    ("days between a customer's orders, median", "days", "SELECT median(gap) FROM gaps"),
    ("days between a customer's orders, 25%", "days", "SELECT quantile_cont(gap, 0.25) FROM gaps"),
    ("days between a customer's orders, 75%", "days", "SELECT quantile_cont(gap, 0.75) FROM gaps"),
    ("purchase invoices in November", "share",
     "SELECT avg((month(d) = 11)::INT) FROM pinv"),
    ("purchase invoices in February", "share",
     "SELECT avg((month(d) = 2)::INT) FROM pinv"),
    ("purchase invoices on Sundays", "share",
     "SELECT avg((dayofweek(d) = 0)::INT) FROM pinv"),
    ("purchase invoices on Saturdays", "share",
     "SELECT avg((dayofweek(d) = 6)::INT) FROM pinv"),
    ("purchase invoices 10:00-15:59", "share",
     "SELECT avg((hour(d) BETWEEN 10 AND 15)::INT) FROM pinv"),
)

_TRANSACTION_VIEWS = (
    "CREATE OR REPLACE VIEW reg AS SELECT * FROM t WHERE CustomerID IS NOT NULL",
    "CREATE OR REPLACE VIEW prod AS SELECT * FROM reg WHERE InvoiceNo NOT LIKE 'C%' AND Quantity > 0 "
    "AND UnitPrice > 0 AND StockCode NOT IN ('POST', 'DOT', 'M', 'D', 'C2', 'CRUK', 'BANK CHARGES', 'PADS')",
    "CREATE OR REPLACE VIEW inv AS SELECT InvoiceNo, count(*) n, sum(Quantity * UnitPrice) v FROM reg "
    "WHERE InvoiceNo NOT LIKE 'C%' AND InvoiceNo NOT LIKE 'A%' GROUP BY 1",
    "CREATE OR REPLACE VIEW pinv AS SELECT InvoiceNo, min(InvoiceDate) d FROM t "
    "WHERE InvoiceNo NOT LIKE 'C%' AND InvoiceNo NOT LIKE 'A%' GROUP BY 1",
    "CREATE OR REPLACE VIEW cust AS SELECT CustomerID, "
    "count(DISTINCT InvoiceNo) FILTER (WHERE InvoiceNo NOT LIKE 'C%') o, sum(Quantity * UnitPrice) m, "
    "date_diff('day', CAST(max(InvoiceDate) FILTER (WHERE InvoiceNo NOT LIKE 'C%') AS DATE), "
    "(SELECT CAST(max(InvoiceDate) AS DATE) + 1 FROM t)) recency, "
    "date_diff('day', CAST(min(InvoiceDate) FILTER (WHERE InvoiceNo NOT LIKE 'C%') AS DATE), "
    "(SELECT CAST(max(InvoiceDate) AS DATE) + 1 FROM t)) tenure FROM reg GROUP BY 1",
    "CREATE OR REPLACE VIEW gaps AS SELECT date_diff('second', lag(d) OVER (PARTITION BY CustomerID "
    "ORDER BY d), d) / 86400.0 gap FROM (SELECT DISTINCT CustomerID, InvoiceNo, InvoiceDate d FROM reg "
    "WHERE InvoiceNo NOT LIKE 'C%') QUALIFY gap IS NOT NULL",
)

# name, unit, SQL over view `s` with columns pages, product_pages, duration, converted.
_SESSION_STATS: tuple[tuple[str, str, str], ...] = (
    ("sessions", "count", "SELECT count(*) FROM s"),
    ("sessions ending in a purchase", "share", "SELECT avg(converted::INT) FROM s"),
    ("sessions of at most 1 page (bounces)", "share", "SELECT avg((pages <= 1)::INT) FROM s"),
    ("pages per session, median", "pages", "SELECT median(pages) FROM s"),
    ("pages per session, mean", "pages", "SELECT avg(pages) FROM s"),
    ("pages per converting session, median", "pages", "SELECT median(pages) FROM s WHERE converted"),
    ("product pages / all pages", "share", "SELECT sum(product_pages) / sum(pages) FROM s"),
    ("session duration (s), median", "seconds", "SELECT median(duration) FROM s"),
    ("session duration (s), mean", "seconds", "SELECT avg(duration) FROM s"),
    ("session duration of converting sessions (s), median", "seconds",
     "SELECT median(duration) FROM s WHERE converted"),
)

_REAL_SESSIONS = (
    "SELECT Administrative + Informational + ProductRelated AS pages, ProductRelated AS product_pages, "
    "Administrative_Duration + Informational_Duration + ProductRelated_Duration AS duration, "
    "Revenue AS converted FROM read_csv({path}, header = true)"
)
_GENERATED_SESSIONS = (
    "SELECT pages_viewed AS pages, product_views AS product_pages, session_duration_s AS duration, "
    "converted FROM read_parquet({path})"
)


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _read_sql(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".parquet"):
        return f"read_parquet({_sql_str(str(path))})"
    if re.search(r"\.(csv|txt)(\.gz)?$", name):
        return f"read_csv({_sql_str(str(path))}, header = true)"
    raise UserError(f"{path}: unknown file type; fix: pass a .parquet or .csv(.gz) file")


def _stats(query: str, views: Sequence[str], stats: Sequence[tuple[str, str, str]]) -> dict[str, float]:
    import duckdb

    con = duckdb.connect()
    try:
        # Parquet is read in place (the generated file may hold 100M lines); a CSV is parsed once.
        kind = "VIEW" if "read_parquet(" in query else "TABLE"
        con.execute(f"CREATE {kind} t AS {query}").fetchall()
        for view in views:
            con.execute(view).fetchall()
        values = {}
        for name, _unit, sql in stats:
            value = con.execute(sql).fetchall()[0][0]
            values[name] = float("nan") if value is None else float(value)
        return values
    finally:
        con.close()


def _existing(path: str | Path | None) -> Path | None:
    if path is None or str(path) == "":
        return None
    p = Path(path).expanduser()
    return p if p.is_file() else None


def calibration_table(real_transactions_path: str | Path | None, generated_path: str | Path,
                      real_sessions_path: str | Path | None = None) -> pd.DataFrame:
    """Compute the same statistics on the real and the generated data, side by side.

    Parameters
    ----------
    real_transactions_path : str or Path or None
        The real export with Online Retail columns (CSV, optionally gzipped, or Parquet).
        None or a missing file leaves the ``real`` column empty (NaN).
    generated_path : str or Path
        A folder written by `generate` (its ``transactions.parquet`` and, when present,
        ``sessions.parquet`` are used) or a transactions Parquet file.
    real_sessions_path : str or Path, optional
        ``online_shoppers_intention.csv``; with it (and generated sessions) the table also
        compares web sessions.

    Returns
    -------
    pandas.DataFrame
        Columns ``table`` (transactions/sessions), ``statistic``, ``unit``, ``real``,
        ``generated``.

    Raises
    ------
    UserError
        The generated data is missing.
    """
    generated = Path(generated_path).expanduser()
    folder = generated if generated.is_dir() else generated.parent
    transactions = generated / "transactions.parquet" if generated.is_dir() else generated
    if not transactions.is_file():
        raise UserError(
            f"{transactions}: generated transactions not found; fix: run python -m helpers.synth first")
    rows = []
    real = _existing(real_transactions_path)
    gen_values = _stats(f"SELECT * FROM {_read_sql(transactions)}", _TRANSACTION_VIEWS,
                        _TRANSACTION_STATS)
    real_values = (_stats(f"SELECT * FROM {_read_sql(real)}", _TRANSACTION_VIEWS, _TRANSACTION_STATS)
                   if real else {})
    for name, unit, _sql in _TRANSACTION_STATS:
        rows.append(("transactions", name, unit, real_values.get(name, math.nan), gen_values[name]))
    sessions = folder / "sessions.parquet"
    if sessions.is_file():
        gen_s = _stats(_GENERATED_SESSIONS.format(path=_sql_str(str(sessions))),
                       ("CREATE VIEW s AS SELECT * FROM t",), _SESSION_STATS)
        real_s_path = _existing(real_sessions_path)
        real_s = _stats(_REAL_SESSIONS.format(path=_sql_str(str(real_s_path))),
                        ("CREATE VIEW s AS SELECT * FROM t",), _SESSION_STATS) if real_s_path else {}
        for name, unit, _sql in _SESSION_STATS:
            rows.append(("sessions", name, unit, real_s.get(name, math.nan), gen_s[name]))
    return pd.DataFrame(rows, columns=["table", "statistic", "unit", "real", "generated"])


def _fmt(value: float, unit: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if unit == "share":
        return f"{value:.1%}" if value >= 0.001 or value == 0 else f"{value:.2%}"
    if unit == "count":
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}"


def calibration_markdown(table: pd.DataFrame) -> str:
    """Format a `calibration_table` as a Markdown table (shares in %, counts with commas)."""
    lines = ["| table | statistic | real | generated |", "|---|---|---:|---:|"]
    for row in table.itertuples(index=False):
        lines.append(f"| {row.table} | {row.statistic} | {_fmt(row.real, row.unit)} | "
                     f"{_fmt(row.generated, row.unit)} |")
    return "\n".join(lines) + "\n"
