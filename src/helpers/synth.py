"""Seeded synthetic shop data with planted customer segments, calibrated to real data.

``python -m helpers.synth --customers 5000 --segments 4 --seed 42 --out data/synthetic/``
writes four Parquet files:

- ``transactions.parquet``: order lines with the Online Retail column names (``InvoiceNo,
  StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID, Country``), so the
  default ``input.columns`` mapping of ``params.yaml`` reads them unchanged. Like the real
  export it holds guest orders without a customer id, ``C`` cancellation invoices with
  negative quantities, exact duplicate lines, ``POST``/``DOT`` postage lines and zero-price
  stock adjustments.
- ``customers.parquet``: one row per registered customer (``customer_id, birth_date,
  gender, country, city, signup_date``).
- ``sessions.parquet``: web sessions of the registered customers (``customer_id,
  session_start, pages_viewed, product_views, clicks, session_duration_s, converted``).
  Every purchase invoice is preceded by one converting session.
- ``labels.parquet``: the planted truth (``customer_id, segment``).

How it works. Each customer belongs to one planted segment (`SEGMENTS`, the first K are
used). The segment fixes when the customer first buys, how long they stay active and the
median gap between orders, so segments differ clearly in recency, frequency, monetary value,
order value and tenure, and mildly in age, gender, conversion and pages per session.
Orders are drawn in "shop time" (a clock that runs faster on busy days) and mapped to
calendar days through the real daily intensity (month x weekday, closed on Saturdays and
holidays), so every customer's orders follow the November peak. Order contents, prices,
cancellations, guest orders, duplicates and sessions follow constants measured on the
shipped data (`helpers.synth_constants`; docs/calibration.md compares real and
generated statistics, both computed by `calibration_table`).

Scale. Customers are generated in fixed blocks of `BLOCK_CUSTOMERS`, each from its own
random stream (``SeedSequence([seed, block])``), and written every ``chunk_customers``
customers as row groups of open ``ParquetWriter`` objects. Memory is bounded by one chunk
whatever the number of customers, and the files do not depend on the chunk size. Within a
block, lines are in time order and invoices numbered in time order; across blocks the
numbering continues, so the file as a whole is ordered by block, not by date.

``python -m helpers.synth --calibrate DIR --real online_retail.csv.gz --real-sessions
online_shoppers_intention.csv`` prints that comparison as a Markdown table instead.

Modules. This one holds the public API (`generate`, `customers_for_rows`, the command
line) and the writing; the rest of the generator is split by seam, and every public name
of those modules is importable from here:

- `helpers.synth_constants`: the calibration constants (measured numbers, as data);
- `helpers.synth_segments`: `Segment`, `SEGMENTS` and `planted_segments`;
- `helpers.synth_sampling`: the calendar, the product catalogue and sampling helpers;
- `helpers.synth_lines`: a block's orders and order lines (purchases, postage, returns,
  guest orders, stock adjustments);
- `helpers.synth_tables`: one block's four tables (`BLOCK_CUSTOMERS` customers);
- `helpers.synth_calibration`: `calibration_table` and `calibration_markdown`.

Sources (both CC BY 4.0): UCI Online Retail (Chen, Sain & Guo 2012, DOI 10.24432/C5BW33)
and UCI Online Shoppers Purchasing Intention (Sakar & Kastro 2018, DOI 10.24432/C5F88Q).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from helpers.errors import UserError, cli_error
from helpers.synth_calibration import calibration_markdown, calibration_table
from helpers.synth_constants import (
    ADD_TO_BASKET_RATE,
    ADJUSTMENT_NEGATIVE_SHARE,
    ADJUSTMENT_NO_DESCRIPTION_SHARE,
    ADJUSTMENT_NOTES,
    ADJUSTMENT_SHARE,
    ANALYSIS_REFERENCE,
    CANCELLATION_LINE_SHARE,
    CITIES,
    CLOSED_DAYS,
    CLOSED_RANGES,
    CONVERTED_PAGES_LOG,
    CUSTOMER_COUNTRIES,
    DOT_LOG_MEDIAN,
    DOT_LOG_SD,
    DOT_SHARE,
    DUPLICATE_LINE_SHARE,
    DURATION_FIT,
    DURATION_RESIDUAL,
    FIRST_CUSTOMER_ID,
    FIRST_INVOICE,
    FULL_CANCELLATION_SHARE,
    GUEST_COUNTRIES,
    GUEST_INVOICE_LINES,
    GUEST_PRICE_FACTOR,
    GUEST_QUANTITIES,
    GUEST_QUANTITY_SHARES,
    GUEST_QUANTITY_TAIL,
    HOUR_INVOICES,
    INVOICE_LINE_PROBS,
    MISSING_BIRTH_DATE_SHARE,
    MISSING_CUSTOMER_SHARE,
    MISSING_GENDER_SHARE,
    MONTH_INVOICES_PER_OPEN_DAY,
    N_PRODUCTS,
    NONCONVERTED_PAGES_LOG,
    POST_PRICES,
    POST_SHARE_ABROAD,
    POST_SHARE_UK,
    PRICE_LOG_MEAN,
    PRICE_LOG_SD,
    PRODUCT_PAGE_SHARE,
    PRODUCT_POPULARITY_LOG_SD,
    QUANTITY_PRICE_CORRELATION,
    REGISTERED_INVOICE_LINES,
    REGISTERED_QUANTITIES,
    REGISTERED_QUANTITY_SHARES,
    REGISTERED_QUANTITY_TAIL,
    SESSION_BOUNCE_NONCONVERTED,
    SESSION_CONVERSION,
    UK,
    UK_CITIES,
    WEB_HOUR_WEIGHTS,
    WEEKDAY_INVOICES_PER_OPEN_DAY,
    WEEKEND_SESSION_WEIGHT,
    WINDOW_DAYS,
    WINDOW_START,
)
from helpers.synth_sampling import _later_same_day  # noqa: F401  (tests reach it here)
from helpers.synth_segments import SEGMENTS, Segment, _segments, planted_segments
from helpers.synth_tables import BLOCK_CUSTOMERS, _Block, _generate_block, _number_invoices

__all__ = [
    # this module
    "DEFAULT_CHUNK_CUSTOMERS", "GENERATOR_VERSION", "OUTPUT_FILES", "PILOT_BLOCKS",
    "GenerationSummary", "customers_for_rows", "generate", "main", "parse_count",
    # helpers.synth_segments
    "SEGMENTS", "Segment", "planted_segments",
    # helpers.synth_tables
    "BLOCK_CUSTOMERS",
    # helpers.synth_calibration
    "calibration_markdown", "calibration_table",
    # helpers.synth_constants
    "ADD_TO_BASKET_RATE", "ADJUSTMENT_NEGATIVE_SHARE", "ADJUSTMENT_NOTES",
    "ADJUSTMENT_NO_DESCRIPTION_SHARE", "ADJUSTMENT_SHARE", "ANALYSIS_REFERENCE",
    "CANCELLATION_LINE_SHARE", "CITIES", "CLOSED_DAYS", "CLOSED_RANGES", "CONVERTED_PAGES_LOG",
    "CUSTOMER_COUNTRIES", "DOT_LOG_MEDIAN", "DOT_LOG_SD", "DOT_SHARE", "DUPLICATE_LINE_SHARE",
    "DURATION_FIT", "DURATION_RESIDUAL", "FIRST_CUSTOMER_ID", "FIRST_INVOICE",
    "FULL_CANCELLATION_SHARE", "GUEST_COUNTRIES", "GUEST_INVOICE_LINES", "GUEST_PRICE_FACTOR",
    "GUEST_QUANTITIES", "GUEST_QUANTITY_SHARES", "GUEST_QUANTITY_TAIL", "HOUR_INVOICES",
    "INVOICE_LINE_PROBS", "MISSING_BIRTH_DATE_SHARE", "MISSING_CUSTOMER_SHARE",
    "MISSING_GENDER_SHARE", "MONTH_INVOICES_PER_OPEN_DAY", "NONCONVERTED_PAGES_LOG",
    "N_PRODUCTS", "POST_PRICES", "POST_SHARE_ABROAD", "POST_SHARE_UK", "PRICE_LOG_MEAN",
    "PRICE_LOG_SD", "PRODUCT_PAGE_SHARE", "PRODUCT_POPULARITY_LOG_SD",
    "QUANTITY_PRICE_CORRELATION", "REGISTERED_INVOICE_LINES", "REGISTERED_QUANTITIES",
    "REGISTERED_QUANTITY_SHARES", "REGISTERED_QUANTITY_TAIL", "SESSION_BOUNCE_NONCONVERTED",
    "SESSION_CONVERSION", "UK", "UK_CITIES", "WEB_HOUR_WEIGHTS", "WEEKDAY_INVOICES_PER_OPEN_DAY",
    "WEEKEND_SESSION_WEIGHT", "WINDOW_DAYS", "WINDOW_START",
]

GENERATOR_VERSION = 1
PILOT_BLOCKS = 5  # blocks measured to turn a row target into a number of customers
DEFAULT_CHUNK_CUSTOMERS = 10_000  # customers per written row group (memory bound)
OUTPUT_FILES = ("transactions", "customers", "sessions", "labels")


# --------------------------------------------------------------------------------------
# Generating and writing
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GenerationSummary:
    """What `generate` wrote."""

    out_dir: str
    customers: int
    segments: int
    seed: int
    rows: dict[str, int]
    seconds: float

    def line(self) -> str:
        rows = ", ".join(f"{name} {count:,}" for name, count in self.rows.items())
        return (f"wrote {self.out_dir}: {self.customers:,} customers in {self.segments} segments "
                f"(seed {self.seed}); rows: {rows}; {self.seconds:.1f} s")


def _blocks(customers: int) -> Iterator[tuple[int, int]]:
    for block in range(math.ceil(customers / BLOCK_CUSTOMERS)):
        yield block, min(BLOCK_CUSTOMERS, customers - block * BLOCK_CUSTOMERS)


def customers_for_rows(rows: int, segments: int = 4, seed: int = 42) -> int:
    """Return the number of customers whose transactions come to about `rows` lines.

    The lines per customer are measured on the first `PILOT_BLOCKS` blocks (the same ones
    `generate` then writes), so the answer is deterministic and within a few % of `rows`.

    Parameters
    ----------
    rows : int
        Target number of transaction lines (at least 1).
    segments : int, default 4
        Number of planted segments.
    seed : int, default 42
        Random seed.

    Returns
    -------
    int
        Customers to generate (at least 1).
    """
    if rows < 1:
        raise UserError(f"rows = {rows}: must be at least 1; fix: pass e.g. --rows 10M")
    lines = sum(_generate_block(seed, block, BLOCK_CUSTOMERS, segments).transactions.num_rows
                for block in range(PILOT_BLOCKS))
    per_customer = lines / (PILOT_BLOCKS * BLOCK_CUSTOMERS)
    return max(1, int(round(rows / per_customer)))


def generate(out_dir: str | Path, customers: int | None = None, *, rows: int | None = None,
             segments: int = 4, seed: int = 42,
             chunk_customers: int = DEFAULT_CHUNK_CUSTOMERS) -> GenerationSummary:
    """Write transactions, customers, sessions and labels Parquet files for synthetic customers.

    Parameters
    ----------
    out_dir : str or Path
        Folder to write ``transactions.parquet``, ``customers.parquet``,
        ``sessions.parquet``, ``labels.parquet`` and ``synthetic.json`` (how they were made).
    customers : int, optional
        Number of registered customers. Give this or `rows`; neither means 5,000.
    rows : int, optional
        Approximate number of transaction lines instead (see `customers_for_rows`).
    segments : int, default 4
        Number of planted segments (the first ones of `SEGMENTS`).
    seed : int, default 42
        Random seed: the same seed and sizes give byte-identical files.
    chunk_customers : int, default 10,000
        Customers generated and written at once (one Parquet row group per file); only memory
        depends on it, not the content. Rounded up to whole blocks of `BLOCK_CUSTOMERS`.

    Returns
    -------
    GenerationSummary
        Folder, sizes and row counts per file.

    Raises
    ------
    UserError
        Bad sizes, or a folder that cannot be written.
    """
    started = time.perf_counter()
    customers = _customer_count(customers, rows, segments, seed, chunk_customers)
    out = _output_folder(out_dir)
    counts = _write_blocks(out, customers, segments, seed, chunk_customers)
    summary = GenerationSummary(str(out), customers, segments, seed, counts,
                                round(time.perf_counter() - started, 2))
    _write_manifest(out, summary)
    return summary


def _customer_count(customers: int | None, rows: int | None, segments: int, seed: int,
                    chunk_customers: int) -> int:
    """Check the arguments of `generate` and return the number of customers to generate."""
    _segments(segments)
    if customers is not None and rows is not None:
        raise UserError("give either customers or rows, not both; fix: drop --customers or --rows")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise UserError(f"seed = {seed!r}: must be a whole number >= 0; fix: pass e.g. --seed 42")
    if chunk_customers < 1:
        raise UserError(f"chunk_customers = {chunk_customers}: must be at least 1; fix: use e.g. 10000")
    if rows is not None:
        customers = customers_for_rows(rows, segments, seed)
    customers = 5_000 if customers is None else customers
    if customers < 1:
        raise UserError(f"customers = {customers}: must be at least 1; fix: pass e.g. --customers 5000")
    return customers


def _output_folder(out_dir: str | Path) -> Path:
    """Create the output folder (and its parents) if needed and return it."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: exists and is not a folder; fix: pass a folder to --out")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(
            f"{out}: cannot create the folder ({exc.strerror}); fix: choose a writable --out") from None
    return out


def _chunks(customers: int, blocks_per_chunk: int) -> Iterator[list[tuple[int, int]]]:
    """Group the blocks of `_blocks` into chunks of `blocks_per_chunk` (the last may be short)."""
    chunk: list[tuple[int, int]] = []
    for block in _blocks(customers):
        chunk.append(block)
        if len(chunk) >= blocks_per_chunk:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _write_blocks(out: Path, customers: int, segments: int, seed: int,
                  chunk_customers: int) -> dict[str, int]:
    """Generate every block and write the four files, one row group per chunk; return row counts.

    Nothing half-written is left behind: the files are renamed into place only once all
    chunks are written, and the partial files are removed whatever happens.
    """
    blocks_per_chunk = max(1, math.ceil(chunk_customers / BLOCK_CUSTOMERS))
    files = _PartialFiles(out)
    next_invoice = FIRST_INVOICE
    try:
        for chunk in _chunks(customers, blocks_per_chunk):
            blocks = [_generate_block(seed, block, size, segments) for block, size in chunk]
            next_invoice = files.write(blocks, next_invoice)
        files.commit()
    except OSError as exc:
        raise UserError(
            f"{out}: cannot write ({exc.strerror}); fix: free disk space or choose another --out"
        ) from None
    finally:
        files.discard()
    return files.counts


class _PartialFiles:
    """The output files while they are written: hidden ``.NAME.parquet.partial`` files."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.partial = {name: out / f".{name}.parquet.partial" for name in OUTPUT_FILES}
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.counts = dict.fromkeys(OUTPUT_FILES, 0)

    def write(self, blocks: Sequence[_Block], first_invoice: int) -> int:
        """Append `blocks` as one row group per file; return the next free invoice number."""
        numbered = []
        for block in blocks:
            numbered.append(_number_invoices(block.transactions, first_invoice))
            first_invoice += block.invoices
        tables = {
            "transactions": pa.concat_tables(numbered),
            "customers": pa.concat_tables([b.customers for b in blocks]),
            "sessions": pa.concat_tables([b.sessions for b in blocks]),
            "labels": pa.concat_tables([b.labels for b in blocks]),
        }
        for name, table in tables.items():
            if name not in self.writers:
                self.writers[name] = pq.ParquetWriter(self.partial[name], table.schema,
                                                      compression="zstd")
            self.writers[name].write_table(table, row_group_size=max(table.num_rows, 1))
            self.counts[name] += table.num_rows
        return first_invoice

    def commit(self) -> None:
        """Close the writers and move the finished files to ``NAME.parquet``."""
        for writer in self.writers.values():
            writer.close()
        self.writers.clear()
        for name, path in self.partial.items():
            path.replace(self.out / f"{name}.parquet")

    def discard(self) -> None:
        """Close any writer still open and remove the partial files left (none after commit)."""
        for writer in self.writers.values():
            writer.close()
        for path in self.partial.values():
            path.unlink(missing_ok=True)


def _write_manifest(out: Path, summary: GenerationSummary) -> None:
    """Write ``synthetic.json``: the summary, the generator version and the segments used."""
    (out / "synthetic.json").write_text(json.dumps(
        {**asdict(summary), "generator_version": GENERATOR_VERSION, "block_customers": BLOCK_CUSTOMERS,
         "segments_used": [s.name for s in _segments(summary.segments)]}, indent=2) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------


def parse_count(text: str) -> int:
    """Parse a count such as ``5000``, ``1_000_000``, ``10M``, ``2.5k`` or ``1e6``.

    Examples
    --------
    >>> parse_count("10M"), parse_count("2.5k"), parse_count("1_000")
    (10000000, 2500, 1000)
    """
    match = re.fullmatch(r"\s*([0-9][0-9_]*(?:\.[0-9]+)?(?:e[0-9]+)?)\s*([kKmMgGbB]?)\s*", str(text))
    if not match:
        raise UserError(f"{text!r} is not a count; fix: write e.g. 5000, 10M or 2.5k")
    scale = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "b": 10**9}[match.group(2).lower()]
    return int(round(float(match.group(1).replace("_", "")) * scale))


class _Parser(argparse.ArgumentParser):
    """Argument parser whose errors become one-line UserErrors (exit 1, no usage dump)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UserError(f"{self.prog}: {message}")


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point ``python -m helpers.synth``; returns the exit status."""
    parser = _Parser(prog="python -m helpers.synth",
                     description="Write synthetic transactions, customers, sessions and labels.")
    parser.add_argument("--customers", type=str, default=None, help="registered customers (default 5000)")
    parser.add_argument("--rows", type=str, default=None, help="approximate transaction lines instead, e.g. 10M")
    parser.add_argument("--segments", type=int, default=4, help=f"planted segments, 1-{len(SEGMENTS)} (default 4)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--out", default="data/synthetic", help="output folder (default data/synthetic)")
    parser.add_argument("--chunk-customers", type=str, default=str(DEFAULT_CHUNK_CUSTOMERS),
                        help="customers per written chunk (memory bound; default 10000)")
    parser.add_argument("--calibrate", metavar="DIR", default=None,
                        help="instead of generating, print the real-vs-generated table for DIR")
    parser.add_argument("--real", default=None, help="with --calibrate: the real transactions file")
    parser.add_argument("--real-sessions", default=None, help="with --calibrate: online_shoppers_intention.csv")
    try:
        args = parser.parse_args(argv)
        if args.calibrate is not None:
            for flag, path in (("--real", args.real), ("--real-sessions", args.real_sessions)):
                if path is not None and not Path(path).is_file():
                    raise UserError(
                        f"{flag} {path}: file not found; fix: pass the real data file or drop {flag}")
            table = calibration_table(args.real, args.calibrate, args.real_sessions)
            print(calibration_markdown(table), end="")
            return 0
        summary = generate(
            args.out,
            customers=None if args.customers is None else parse_count(args.customers),
            rows=None if args.rows is None else parse_count(args.rows),
            segments=args.segments,
            seed=args.seed,
            chunk_customers=parse_count(args.chunk_customers),
        )
    except Exception as exc:  # noqa: BLE001 - the CLI promises one line, never a traceback
        return cli_error(exc)
    print(summary.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
