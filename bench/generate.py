"""Write synthetic Online Retail-shaped transactions in chunks, as CSV and/or Parquet.

Usage::

    python -m bench.generate --rows 10M --formats csv,parquet [--out data/bench] [--seed 42]

The files use the Online Retail column names (``InvoiceNo, StockCode, Description,
Quantity, InvoiceDate, UnitPrice, CustomerID, Country``), so the default ``input.columns``
mapping of ``params.yaml`` reads them unchanged. Each chunk of `CHUNK_ROWS` lines is drawn
from its own seeded generator and appended to the open writers, so memory stays at one
chunk whatever the size, and the same ``(rows, seed)`` always gives the same bytes.

Shape (see `Shape`): about 10 lines per invoice and one customer per 100 lines (1M
customers at 100M lines, with a heavy-tailed number of orders each); 20% of invoices have
no customer id; 3% of purchase invoices are later returned on a ``C``-prefixed invoice with
negative quantities (half of them in full, so they cancel the order to the cent); 1% of
lines are written twice in a row (exact duplicates); 5% of invoices carry a ``POST``
postage line; a few lines have a zero price. Dates run from 2010-12-01 to 2011-12-09 during
opening hours, in file order (like a real export).

A file is reused when its ``.json`` sidecar says it was made with the same rows, seed and
`GENERATOR_VERSION`; files are written under a temporary name and renamed when complete,
so an interrupted run is never reused.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

GENERATOR_VERSION = 1
PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = PROJECT_ROOT / "data" / "bench"
CHUNK_ROWS = 1_000_000
FORMATS = ("csv", "parquet")
COLUMNS = (
    "InvoiceNo", "StockCode", "Description", "Quantity",
    "InvoiceDate", "UnitPrice", "CustomerID", "Country",
)
FIRST_DAY = np.datetime64("2010-12-01T00:00:00", "s")
DAYS = 374  # 2010-12-01 .. 2011-12-09
OPEN_MINUTE, OPEN_MINUTES = 7 * 60, 13 * 60  # shop open 07:00-20:00
FIRST_INVOICE = 536_365
FIRST_CUSTOMER = 12_346
COUNTRIES = (
    "United Kingdom", "Germany", "France", "EIRE", "Spain", "Netherlands", "Belgium",
    "Switzerland", "Portugal", "Australia", "Norway", "Italy", "Channel Islands", "Finland",
    "Cyprus", "Sweden", "Austria", "Denmark", "Japan", "Poland", "USA", "Israel",
)
_ADJECTIVES = ("WHITE", "RED", "VINTAGE", "SET OF 3", "PINK", "JUMBO", "REGENCY", "LUNCH",
               "HEART", "RETROSPOT", "PAPER", "GLASS", "WOODEN", "BLUE", "SMALL", "LARGE")
_NOUNS = ("MUG", "BAG", "T-LIGHT HOLDER", "CAKE TIN", "BUNTING", "LANTERN", "DOORMAT", "TEACUP",
          "CANDLE", "CLOCK", "NOTEBOOK", "BOTTLE", "FRAME", "COASTER", "BOX", "SIGN")
_QUANTITIES = np.array([1, 2, 3, 4, 6, 8, 10, 12, 24, 48, 96, 144])
_QUANTITY_WEIGHTS = np.array([20, 12, 6, 8, 10, 4, 6, 14, 8, 4, 1.5, 0.5])


@dataclass(frozen=True)
class Shape:
    """How the synthetic export looks; the defaults follow the shipped Online Retail sample."""

    lines_per_invoice: float = 10.0  # mean lines of a purchase invoice
    rows_per_customer: int = 100  # customers = rows // this
    missing_customer_share: float = 0.20  # invoices without a customer id
    return_share: float = 0.03  # purchase invoices returned later on a C invoice
    full_return_share: float = 0.5  # of those, returned in full (exact opposite total)
    duplicate_share: float = 0.01  # lines written twice in a row
    postage_share: float = 0.05  # invoices with a POST line
    zero_price_share: float = 0.0005  # lines with unit price 0
    bulk_share: float = 0.001  # lines with a bulk quantity (100-5,000): extreme amounts
    products: int = 4_000


def parse_rows(text: str | int) -> int:
    """Return a row count from ``"10M"``, ``"250k"`` or ``"1000"``.

    Examples
    --------
    >>> parse_rows("10M"), parse_rows("250k"), parse_rows(1000)
    (10000000, 250000, 1000)
    """
    if isinstance(text, int):
        return text
    value = text.strip().upper().replace("_", "")
    factor = {"K": 1_000, "M": 1_000_000, "G": 1_000_000_000}.get(value[-1:], 1)
    number = value[:-1] if factor > 1 else value
    return int(float(number) * factor)


def rows_label(rows: int) -> str:
    """Return a short label for a row count.

    Examples
    --------
    >>> rows_label(100_000_000), rows_label(20_000), rows_label(1234)
    ('100M', '20k', '1234')
    """
    for factor, suffix in ((1_000_000, "M"), (1_000, "k")):
        if rows >= factor and rows % factor == 0:
            return f"{rows // factor}{suffix}"
    return str(rows)


# --------------------------------------------------------------------------- catalogue


@dataclass(frozen=True)
class _Catalogue:
    product_codes: pa.Array  # last entry is POST
    product_descriptions: pa.Array
    product_prices: np.ndarray
    product_cdf: np.ndarray
    customer_ids: pa.Array
    customer_country: np.ndarray
    customer_cdf: np.ndarray


def _cdf(weights: np.ndarray) -> np.ndarray:
    cdf = np.cumsum(weights, dtype=np.float64)
    return cdf / cdf[-1]


def _catalogue(rows: int, shape: Shape, seed: int) -> _Catalogue:
    rng = np.random.default_rng([seed, 0xCA7])
    n = shape.products
    numbers = 20_000 + rng.permutation(80_000)[:n]
    suffix = np.where(rng.random(n) < 0.2, rng.choice(list("ABCDEFG"), n), "")
    codes = [f"{num}{suf}" for num, suf in zip(numbers, suffix, strict=True)] + ["POST"]
    adjectives = rng.choice(_ADJECTIVES, n)
    nouns = rng.choice(_NOUNS, n)
    descriptions = [f"{a} {b} {i}" for i, (a, b) in enumerate(zip(adjectives, nouns, strict=True))]
    prices = np.round(np.clip(rng.lognormal(1.0, 0.8, n), 0.19, 650.0), 2)
    prices = np.append(prices, 18.0)  # postage
    product_weights = 1.0 / np.arange(1, n + 1) ** 0.8  # a few bestsellers, a long tail
    customers = max(rows // shape.rows_per_customer, 10)
    customer_weights = rng.lognormal(0.0, 1.2, customers)  # heavy-tailed orders per customer
    is_abroad = rng.random(customers) < 0.1
    country = np.where(is_abroad, rng.integers(1, len(COUNTRIES), customers), 0)
    ids = pa.array(np.arange(FIRST_CUSTOMER, FIRST_CUSTOMER + customers)).cast(pa.string())
    return _Catalogue(
        product_codes=pa.array(codes),
        product_descriptions=pa.array([*descriptions, "POSTAGE"]),
        product_prices=prices,
        product_cdf=_cdf(product_weights),
        customer_ids=ids,
        customer_country=country,
        customer_cdf=_cdf(customer_weights),
    )


# --------------------------------------------------------------------------- one chunk


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenate ``range(start, start + length)`` for each pair, vectorised."""
    total = int(lengths.sum())
    offsets = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.repeat(starts, lengths) + (np.arange(total) - offsets)


def _chunk(cat: _Catalogue, shape: Shape, seed: int, index: int, n_chunks: int,
           rows: int) -> pa.Table:
    """Draw chunk `index` of `n_chunks`: exactly `rows` lines covering its slice of time."""
    rng = np.random.default_rng([seed, index])
    n_inv = int(rows / shape.lines_per_invoice) + 1
    # Invoice times: sorted business minutes within this chunk's slice of the year.
    minutes = DAYS * OPEN_MINUTES
    lo, hi = minutes * index // n_chunks, max(minutes * (index + 1) // n_chunks, minutes * index // n_chunks + 1)
    inv_minute = np.sort(rng.integers(lo, hi, n_inv))
    has_customer = rng.random(n_inv) >= shape.missing_customer_share
    inv_customer = np.searchsorted(cat.customer_cdf, rng.random(n_inv), side="right")
    inv_customer = np.where(has_customer, np.minimum(inv_customer, len(cat.customer_cdf) - 1), -1)
    lines = 1 + rng.poisson(shape.lines_per_invoice - 1, n_inv)
    starts = np.cumsum(lines) - lines

    # Purchase lines.
    line_inv = np.repeat(np.arange(n_inv), lines)
    n_lines = len(line_inv)
    product = np.minimum(np.searchsorted(cat.product_cdf, rng.random(n_lines), side="right"),
                         shape.products - 1)
    quantity = rng.choice(_QUANTITIES, n_lines, p=_QUANTITY_WEIGHTS / _QUANTITY_WEIGHTS.sum())
    bulk = rng.random(n_lines) < shape.bulk_share
    quantity = np.where(bulk, rng.integers(100, 5_000, n_lines), quantity)
    seq = np.arange(n_lines) - np.repeat(starts, lines)

    # Postage lines, last on their invoice.
    post_inv = np.flatnonzero(rng.random(n_inv) < shape.postage_share)
    post = {
        "inv": post_inv, "product": np.full(len(post_inv), shape.products),
        "quantity": rng.integers(1, 4, len(post_inv)), "seq": lines[post_inv],
    }

    # Returns: a C invoice of the same customer, later in the slice, with negative quantities.
    candidates = np.flatnonzero(has_customer)
    n_ret = min(int(round(n_inv * shape.return_share)), len(candidates))
    src = np.sort(rng.choice(candidates, n_ret, replace=False))
    full = rng.random(n_ret) < shape.full_return_share
    ret_lines = np.where(full, lines[src], 1)
    first = np.where(full, 0, rng.integers(0, lines[src]))
    ret_line_idx = _ranges(starts[src] + first, ret_lines)
    ret_inv_local = np.repeat(n_inv + np.arange(n_ret), ret_lines)
    src_q = quantity[ret_line_idx]
    partial = np.repeat(~full, ret_lines)
    ret_q = np.where(partial, rng.integers(1, src_q + 1), src_q)
    ret_minute = np.minimum(inv_minute[src] + rng.integers(1, 10 * OPEN_MINUTES, n_ret), hi - 1)

    inv_all = np.concatenate([line_inv, post["inv"], ret_inv_local])
    minute_all = np.concatenate([inv_minute, ret_minute])
    customer_all = np.concatenate([inv_customer, inv_customer[src]])
    is_return_inv = np.concatenate([np.zeros(n_inv, bool), np.ones(n_ret, bool)])
    product_all = np.concatenate([product, post["product"], product[ret_line_idx]])
    quantity_all = np.concatenate([quantity, post["quantity"], -ret_q])
    seq_all = np.concatenate([seq, post["seq"], np.arange(len(ret_inv_local))])
    order = np.lexsort((seq_all, inv_all, minute_all[inv_all]))
    # Exact duplicates: a line written twice in a row.
    dup = rng.random(len(order)) < shape.duplicate_share
    order = np.repeat(order, 1 + dup)[:rows]
    if len(order) < rows:  # cannot happen with the default shape; be explicit if it does
        raise ValueError(f"chunk {index}: drew {len(order)} lines, fewer than {rows}")

    inv = inv_all[order]
    prod = product_all[order]
    price = cat.product_prices[prod]
    price = np.where(rng.random(rows) < shape.zero_price_share, 0.0, price)
    cust = customer_all[inv]
    country = np.where(cust >= 0, cat.customer_country[np.maximum(cust, 0)], 0)
    seconds = (minute_all[inv] // OPEN_MINUTES) * 86_400 + (OPEN_MINUTE + minute_all[inv] % OPEN_MINUTES) * 60
    # Invoice numbers: a block per chunk, so chunks never collide.
    numbers = pa.array(FIRST_INVOICE + index * (rows + 1) + np.arange(n_inv + n_ret)).cast(pa.string())
    numbers = pc.if_else(pa.array(is_return_inv), pc.binary_join_element_wise("C", numbers, ""), numbers)
    return pa.table({
        "InvoiceNo": numbers.take(pa.array(inv)),
        "StockCode": cat.product_codes.take(pa.array(prod)),
        "Description": cat.product_descriptions.take(pa.array(prod)),
        "Quantity": pa.array(quantity_all[order], pa.int64()),
        "InvoiceDate": pa.array(FIRST_DAY + seconds.astype("timedelta64[s]"), pa.timestamp("s")),
        "UnitPrice": pa.array(price, pa.float64()),
        "CustomerID": cat.customer_ids.take(pa.array(np.maximum(cust, 0), mask=cust < 0)),
        "Country": pa.array(COUNTRIES).take(pa.array(country)),
    })


def iter_chunks(rows: int, seed: int = 42, shape: Shape | None = None,
                chunk_rows: int = CHUNK_ROWS) -> Iterator[pa.Table]:
    """Yield the synthetic export as Arrow tables of at most `chunk_rows` lines each."""
    shape = shape or Shape()
    cat = _catalogue(rows, shape, seed)
    n_chunks = max(1, -(-rows // chunk_rows))
    for index in range(n_chunks):
        size = min(chunk_rows, rows - index * chunk_rows)
        yield _chunk(cat, shape, seed, index, n_chunks, size)


# --------------------------------------------------------------------------- files


def data_paths(rows: int, out_dir: Path = DEFAULT_OUT) -> dict[str, Path]:
    """Return the file of each format (and the ``meta`` sidecar) for `rows` lines."""
    stem = Path(out_dir) / f"transactions_{rows_label(rows)}"
    return {"csv": stem.with_suffix(".csv"), "parquet": stem.with_suffix(".parquet"),
            "meta": stem.with_suffix(".json")}


def _fingerprint(rows: int, seed: int, shape: Shape) -> dict:
    return {"rows": rows, "seed": seed, "version": GENERATOR_VERSION, "shape": asdict(shape)}


def generate(
    rows: int,
    out_dir: Path = DEFAULT_OUT,
    formats: Sequence[str] = ("parquet",),
    seed: int = 42,
    shape: Shape | None = None,
    chunk_rows: int = CHUNK_ROWS,
    force: bool = False,
) -> dict[str, Path]:
    """Write (or reuse) `rows` synthetic lines in each of `formats`; return the paths.

    Parameters
    ----------
    rows : int
        Lines to write.
    out_dir : Path, default data/bench
        Folder for the files (``data/bench/`` is gitignored).
    formats : sequence of {"csv", "parquet"}, default ("parquet",)
    seed : int, default 42
    shape : Shape, optional
    chunk_rows : int, default CHUNK_ROWS
        Lines per chunk (and per Parquet row group).
    force : bool, default False
        Rewrite even when a matching file exists.

    Returns
    -------
    dict
        Format -> path, for the requested formats.
    """
    shape = shape or Shape()
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise ValueError(f"unknown format(s) {sorted(unknown)}; use {', '.join(FORMATS)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = data_paths(rows, out_dir)
    fingerprint = _fingerprint(rows, seed, shape)
    meta = json.loads(paths["meta"].read_text()) if paths["meta"].is_file() else {}
    made = set(meta.get("formats", [])) if meta.get("fingerprint") == fingerprint else set()
    todo = [f for f in formats if force or f not in made or not paths[f].is_file()]
    if todo:
        _write(rows, paths, todo, seed, shape, chunk_rows)
        made = (made | set(todo)) & {f for f in FORMATS if paths[f].is_file()}
        paths["meta"].write_text(json.dumps({"fingerprint": fingerprint, "formats": sorted(made)},
                                            indent=2), encoding="utf-8")
    return {f: paths[f] for f in formats}


def _write(rows: int, paths: dict[str, Path], formats: Sequence[str], seed: int, shape: Shape,
           chunk_rows: int) -> None:
    tmp = {f: paths[f].with_name(paths[f].name + ".partial") for f in formats}
    writers: dict[str, object] = {}
    try:
        for table in iter_chunks(rows, seed, shape, chunk_rows):
            if "parquet" in tmp:
                if "parquet" not in writers:
                    writers["parquet"] = pq.ParquetWriter(tmp["parquet"], _parquet_schema(table.schema))
                writers["parquet"].write_table(table.cast(writers["parquet"].schema),
                                               row_group_size=chunk_rows)
            if "csv" in tmp:
                if "csv" not in writers:
                    writers["csv"] = pa_csv.CSVWriter(
                        tmp["csv"], table.schema, write_options=pa_csv.WriteOptions(quoting_style="none"))
                writers["csv"].write_table(table)
        for writer in writers.values():
            writer.close()
        writers.clear()
        for fmt, path in tmp.items():
            os.replace(path, paths[fmt])
    finally:
        for writer in writers.values():
            writer.close()
        for path in tmp.values():
            path.unlink(missing_ok=True)


def _parquet_schema(schema: pa.Schema) -> pa.Schema:
    # Parquet has no second-resolution timestamps; microseconds is what most exports write.
    return pa.schema([pa.field(f.name, pa.timestamp("us")) if f.name == "InvoiceDate" else f
                      for f in schema])


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: write one or more sizes."""
    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__.split("\n")[0])
    parser.add_argument("--rows", default="1M", help="comma-separated sizes, e.g. 1M,10M,100M")
    parser.add_argument("--formats", default="csv,parquet", help="csv, parquet or both")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--force", action="store_true", help="rewrite existing files")
    args = parser.parse_args(argv)
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    for size in args.rows.split(","):
        rows = parse_rows(size)
        start = time.perf_counter()
        paths = generate(rows, args.out, formats, args.seed, force=args.force)
        sizes = ", ".join(f"{p.name} {p.stat().st_size / 2**20:,.0f} MiB" for p in paths.values())
        print(f"{rows_label(rows)}: {sizes} ({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
