"""A throwaway PostgreSQL server for the tests, with a slice of the shipped sample loaded.

`postgres` (session fixture) starts one server per test session (`helpers.database_server`:
initdb in a temporary folder, as the ``postgres`` user under root, on a free port of
127.0.0.1), loads the first `SLICE_ROWS` lines of ``data/raw/online_retail.csv.gz`` into
the table ``orders`` of the database ``shop`` under the sample's column names, adds a role
that must give a password, and removes everything at the end. Tests are skipped, saying
why, only when the server programs are not installed.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers.config import PROJECT_ROOT
from helpers.database import open_connection
from helpers.database_server import (
    PASSWORD_USER,
    LocalServer,
    find_bin_dir,
    load_sample,
    start_server,
)
from helpers.engine import quote_literal

SLICE_ROWS = 3_000
PASSWORD = "right-password"
# input.columns for the sample table (helpers.database_server.SAMPLE_COLUMNS).
SAMPLE_MAPPING = {"customer_id": "customer", "invoice_id": "order_no", "invoice_date": "ordered_at",
                  "quantity": "qty", "unit_price": "price", "amount": None, "product_id": "sku",
                  "description": "item", "country": "country"}


@dataclass(frozen=True)
class Postgres:
    """The running server, the URL of the database ``shop`` and the shipped slice as a CSV."""

    server: LocalServer
    url: str
    slice_csv: Path

    def execute(self, *statements: str) -> list[tuple]:
        """Run `statements` as the superuser on ``shop`` (autocommit); return the last one's rows."""
        rows: list[tuple] = []
        with open_connection(self.url, "test") as connection, connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
                rows = cursor.fetchall() if cursor.description else []
        return rows


def write_slice(path: Path, rows: int = SLICE_ROWS) -> Path:
    """Write the header and first `rows` lines of the shipped export, byte for byte."""
    with gzip.open(PROJECT_ROOT / "data" / "raw" / "online_retail.csv.gz", "rt", encoding="utf-8", newline="") as raw:
        lines = [raw.readline() for _ in range(rows + 1)]
    path.write_text("".join(lines), encoding="utf-8", newline="")
    return path


@pytest.fixture(scope="session")
def postgres(tmp_path_factory) -> Postgres:
    """A server with ``shop.orders`` = the first `SLICE_ROWS` sample lines, and a password role."""
    if find_bin_dir() is None:
        pytest.skip("PostgreSQL server programs (initdb, pg_ctl) not found; apt-get install postgresql-15 "
                    "(.ci/run installs them)")
    server = start_server()
    try:
        url = server.url("shop")
        load_sample(url, SLICE_ROWS)
        database = Postgres(server, url, write_slice(tmp_path_factory.mktemp("slice") / "orders.csv"))
        database.execute(f"CREATE ROLE {PASSWORD_USER} LOGIN PASSWORD {quote_literal(PASSWORD)}",
                         f"GRANT SELECT ON orders TO {PASSWORD_USER}")
        yield database
    finally:
        server.stop(remove=True)
