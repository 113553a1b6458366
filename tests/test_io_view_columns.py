"""What 01_clean stages and what the view ``canonical`` computes (`helpers.io._view_columns`)."""

import copy

import duckdb
import pandas as pd
import pytest

from helpers import io
from helpers.config import CANONICAL_FIELDS, load_params

CANONICAL_ORDER = [
    "row_id", "customer_id", "invoice_id", "invoice_date", "product_id", "description", "country",
    "quantity", "unit_price", "amount", "is_header_row", "unmapped_hash",
]


@pytest.fixture
def input_params():
    return copy.deepcopy(load_params()["input"])


def _columns(input_params, types):
    mapping = {f: input_params["columns"].get(f) for f in CANONICAL_FIELDS}
    return io._view_columns(mapping, types, io.canonical_exprs(types, mapping, input_params))


TYPED = {"InvoiceNo": "VARCHAR", "StockCode": "VARCHAR", "Description": "VARCHAR", "Quantity": "BIGINT",
         "InvoiceDate": "TIMESTAMP", "UnitPrice": "DOUBLE", "CustomerID": "VARCHAR", "Country": "VARCHAR"}


def test_typed_export_stages_the_fields_and_the_view_computes_amount_and_constants(input_params):
    columns = _columns(input_params, TYPED)
    assert list(columns) == CANONICAL_ORDER[1:]
    assert {name for name, sql in columns.items() if sql} == {"amount", "is_header_row", "unmapped_hash"}
    assert columns["amount"] == "quantity * unit_price"
    assert columns["is_header_row"] == "(false)"


def test_text_columns_and_unmapped_columns_are_staged(input_params):
    types = {**{name: "VARCHAR" for name in TYPED}, "LineNo": "VARCHAR"}
    columns = _columns(input_params, types)
    # the header copy test reads text and the extra column is hashed: both vary per line
    assert columns["is_header_row"] is None and columns["unmapped_hash"] is None
    assert columns["amount"] == "quantity * unit_price"


def test_a_mapped_amount_is_staged_and_a_missing_invoice_id_is_computed_from_row_id(input_params):
    input_params["columns"].update(amount="Quantity", invoice_id=None)
    columns = _columns(input_params, TYPED)
    assert columns["amount"] is None
    assert "row_id" in columns["invoice_id"]


def test_canonical_keeps_its_columns_and_values_when_fewer_are_staged(tmp_path, input_params):
    lines = pd.DataFrame({
        "InvoiceNo": ["1001", "C1002"], "StockCode": ["A1", "B2"], "Description": ["Mug", "Bowl"],
        "Quantity": [3, -1], "InvoiceDate": pd.to_datetime(["2011-01-03 10:00", "2011-02-10 09:30"]),
        "UnitPrice": [2.5, 20.0], "CustomerID": ["100", "200"], "Country": ["UK", "France"],
    })
    lines.to_parquet(tmp_path / "lines.parquet", index=False)
    input_params["path"] = str(tmp_path / "lines.parquet")
    con = duckdb.connect()
    io.load_transactions(con, input_params)
    staged = [name for (name,) in con.execute("SELECT column_name FROM (DESCRIBE ecomseg_staging.lines)").fetchall()]
    assert "amount" not in staged and "is_header_row" not in staged
    frame = con.execute("SELECT * FROM canonical ORDER BY row_id").df()
    assert list(frame.columns) == CANONICAL_ORDER
    assert frame["amount"].tolist() == [7.5, -20.0]
    assert frame["is_header_row"].tolist() == [False, False]
    assert frame["unmapped_hash"].tolist() == [0, 0]


def test_a_marked_line_shows_after_the_computed_columns(tmp_path, input_params):
    pd.DataFrame({
        "InvoiceNo": ["1", "2"], "StockCode": ["A", "B"], "Description": ["x", "y"], "Quantity": [1, 2],
        "InvoiceDate": pd.to_datetime(["2011-01-03", "2011-01-04"]), "UnitPrice": [1.0, 2.0],
        "CustomerID": ["7", "8"], "Country": ["UK", "UK"],
    }).to_parquet(tmp_path / "lines.parquet", index=False)
    input_params["path"] = str(tmp_path / "lines.parquet")
    con = duckdb.connect()
    io.load_transactions(con, input_params)
    con.execute("CREATE TEMP TABLE picked AS SELECT 2 AS row_id")
    io.mark_lines(con, "is_picked", "picked")
    frame = con.execute("SELECT * FROM canonical ORDER BY row_id").df()
    assert list(frame.columns) == [*CANONICAL_ORDER, "is_picked"]
    assert frame["is_picked"].tolist() == [False, True] and frame["amount"].tolist() == [1.0, 4.0]
