import copy
import gzip

import duckdb
import pandas as pd
import pytest

from conftest import HEADER, write_csv
from helpers.config import load_params
from helpers.errors import UserError
from helpers.io import detect_format, load_transactions

ROWS = [
    "1001,A1,Mug,2,2011-01-03 10:00:00,5.50,100,United Kingdom",
    "1002,B2,Bowl,1,2011-02-10 09:30:00,20.00,200,France",
]


@pytest.fixture
def input_params():
    return copy.deepcopy(load_params()["input"])


def load(input_params, path, **changes):
    params = copy.deepcopy(input_params)
    params["path"] = str(path)
    for key, value in changes.items():
        section, _, leaf = key.partition("__")
        if leaf:
            params[section][leaf] = value
        else:
            params[section] = value
    con = duckdb.connect()
    info = load_transactions(con, params)
    frame = con.execute("SELECT * FROM canonical ORDER BY row_id").df()
    return info, frame


def test_csv_canonical_types_and_values(tmp_path, input_params):
    info, frame = load(input_params, write_csv(tmp_path / "o.csv", ROWS))
    assert info["rows"] == 2
    assert frame["customer_id"].tolist() == ["100", "200"]
    assert frame["amount"].tolist() == pytest.approx([11.0, 20.0])
    assert frame["invoice_date"].iloc[1] == pd.Timestamp("2011-02-10 09:30:00")
    assert frame["country"].tolist() == ["United Kingdom", "France"]


def test_gzip_semicolon_comma_decimal_latin1(tmp_path, input_params):
    text = "\n".join([HEADER.replace(",", ";")] + [
        "1001;A1;Crème brûlée dish;2;2011-01-03 10:00:00;5,50;100;France",
    ]) + "\n"
    path = tmp_path / "o.csv.gz"
    path.write_bytes(gzip.compress(text.encode("latin-1")))
    _, frame = load(input_params, path, csv={"delimiter": ";", "encoding": "latin-1", "decimal": ",", "header_rows_to_skip": 0})
    assert frame["description"].iloc[0] == "Crème brûlée dish"
    assert frame["amount"].iloc[0] == pytest.approx(11.0)


def test_cp1252_and_whitespace_delimiter_use_the_chunked_fallback(tmp_path, input_params):
    header = HEADER.replace(",", " ").replace("Description", "Descr")
    path = tmp_path / "o.txt"
    path.write_bytes((header + "\n1001 A1 €-mug 2 2011-01-03 5.50 100 UK\n").encode("cp1252"))
    params = copy.deepcopy(input_params)
    params["columns"]["description"] = "Descr"
    _, frame = load(params, path, csv={"delimiter": "whitespace", "encoding": "cp1252", "decimal": ".", "header_rows_to_skip": 0})
    assert frame["description"].iloc[0] == "€-mug"
    assert frame["invoice_date"].iloc[0] == pd.Timestamp("2011-01-03")


def test_parquet_with_float_ids_amount_only_and_no_invoice(tmp_path, input_params):
    path = tmp_path / "o.parquet"
    pd.DataFrame({
        "cust": [17850.0, 17850.0, 12.0],
        "when": pd.to_datetime(["2011-01-01", "2011-01-02", "2011-01-03"]),
        "total": [10.0, -2.5, 7.0],
    }).to_parquet(path)
    params = copy.deepcopy(input_params)
    params["columns"] = {"customer_id": "cust", "invoice_id": None, "invoice_date": "when", "quantity": None,
                         "unit_price": None, "amount": "total", "product_id": None, "description": None, "country": None}
    _, frame = load(params, path)
    assert frame["customer_id"].tolist() == ["17850", "17850", "12"]
    assert frame["invoice_id"].tolist() == ["row-1", "row-2", "row-3"]  # one order per row
    assert frame["amount"].tolist() == [10.0, -2.5, 7.0]
    assert frame["quantity"].isna().all()


@pytest.mark.parametrize(
    ("stamp", "fmt", "expected"),
    [("03/01/2011 10:00", "%d/%m/%Y %H:%M", "2011-01-03 10:00"), ("20110103", "%Y%m%d", "2011-01-03")],
)
def test_date_formats(tmp_path, input_params, stamp, fmt, expected):
    path = write_csv(tmp_path / "o.csv", [f"1001,A1,Mug,2,{stamp},5.50,100,UK"])
    _, frame = load(input_params, path, date_format=fmt)
    assert frame["invoice_date"].iloc[0] == pd.Timestamp(expected)


def test_excel_one_sheet_and_all_sheets_stacked(tmp_path, input_params):
    path = tmp_path / "o.xlsx"
    cols = HEADER.split(",")
    first = pd.DataFrame([r.split(",") for r in ROWS], columns=cols)
    second = first.assign(InvoiceNo=["2001", "2002"])
    with pd.ExcelWriter(path) as writer:
        first.to_excel(writer, sheet_name="Jan", index=False)
        second.to_excel(writer, sheet_name="Feb", index=False)
    info, _ = load(input_params, path, excel={"sheet": "Feb"})
    assert info["rows"] == 2
    _, frame = load(input_params, path, excel={"sheet": "all"})
    assert frame["invoice_id"].tolist() == ["1001", "1002", "2001", "2002"]


def test_missing_column_names_file_column_and_key(tmp_path, input_params):
    path = write_csv(tmp_path / "o.csv", ROWS, header=HEADER.replace("CustomerID", "Customer ID"))
    with pytest.raises(UserError) as err:
        load(input_params, path)
    message = str(err.value)
    assert "o.csv" in message and "'CustomerID'" in message and "input.columns.customer_id" in message
    assert "did you mean 'Customer ID'" in message
    assert "\n" not in message


def test_unparseable_dates_suggest_date_format(tmp_path, input_params):
    path = write_csv(tmp_path / "o.csv", [f"1001,A1,Mug,2,{d}/01/2011 10:00,5.50,100,UK" for d in range(13, 20)])
    with pytest.raises(UserError, match=r"column 'InvoiceDate' \(invoice_date\): 7 of 7 values do not parse.*input\.date_format"):
        load(input_params, path)


def test_text_in_number_column_is_an_error(tmp_path, input_params):
    path = write_csv(tmp_path / "o.csv", ["1001,A1,Mug,two,2011-01-03,5.50,100,UK"])
    with pytest.raises(UserError, match=r"column 'Quantity' \(quantity\).*'two'"):
        load(input_params, path)


def test_few_bad_values_become_null_and_are_counted(tmp_path, input_params):
    rows = [f"{1000 + i},A1,Mug,1,2011-01-03,1.00,100,UK" for i in range(199)] + ["1999,A1,Mug,1,garbage,1.00,100,UK"]
    info, frame = load(input_params, write_csv(tmp_path / "o.csv", rows))
    assert info["unparsed"]["invoice_date"] == 1
    assert frame["invoice_date"].isna().sum() == 1


@pytest.mark.parametrize(
    ("content", "pattern"),
    [(b"", "the file is empty"), ((HEADER + "\n").encode(), "no data rows")],
)
def test_empty_and_header_only_files(tmp_path, input_params, content, pattern):
    path = tmp_path / "o.csv"
    path.write_bytes(content)
    with pytest.raises(UserError, match=pattern):
        load(input_params, path)


def test_latin1_bytes_read_as_utf8_get_an_encoding_hint(tmp_path, input_params):
    path = write_csv(tmp_path / "o.csv", ["1001,A1,Crème,2,2011-01-03,5.50,100,France"], encoding="latin-1")
    with pytest.raises(UserError, match="input.csv.encoding"):
        load(input_params, path)


def test_corrupt_parquet(tmp_path, input_params):
    path = tmp_path / "o.parquet"
    path.write_bytes(b"not parquet at all")
    with pytest.raises(UserError, match=r"o\.parquet: cannot read as Parquet"):
        load(input_params, path)


def test_detect_format():
    from pathlib import Path

    assert detect_format(Path("a.CSV.gz")) == "csv"
    assert detect_format(Path("a.xlsx")) == "excel"
    assert detect_format(Path("a.parquet")) == "parquet"
    with pytest.raises(UserError, match="input.format"):
        detect_format(Path("a.json"))


def test_staged_rows_live_in_a_work_folder_removed_with_the_connection(tmp_path, input_params):
    import gc

    from helpers.io import work_dir

    params = copy.deepcopy(input_params)
    params["path"] = str(write_csv(tmp_path / "o.csv", ROWS))
    con = duckdb.connect()
    load_transactions(con, params)
    folder = work_dir(con)
    assert (folder / "staging.duckdb").is_file()
    del con
    gc.collect()
    assert not folder.exists()


def test_memory_limit_comes_from_the_environment(tmp_path, input_params, monkeypatch):
    params = copy.deepcopy(input_params)
    params["path"] = str(write_csv(tmp_path / "o.csv", ROWS))
    monkeypatch.setenv("ECOMSEG_MEMORY_LIMIT", "1GB")
    con = duckdb.connect()
    load_transactions(con, params)
    reference = duckdb.connect()
    reference.execute("SET memory_limit = '1GB'")
    expected = reference.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    assert con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0] == expected
    monkeypatch.setenv("ECOMSEG_MEMORY_LIMIT", "lots")
    with pytest.raises(UserError, match="ECOMSEG_MEMORY_LIMIT.*fix: write it like 4GB or 50%"):
        load_transactions(duckdb.connect(), params)


def test_row_ids_follow_the_export_order_with_many_threads(tmp_path, input_params):
    # 40 row groups read by 4 threads: row_id must still be the line number.
    n = 200_000
    path = tmp_path / "o.parquet"
    frame = pd.DataFrame({
        "InvoiceNo": [f"{i:07d}" for i in range(n)], "StockCode": "A1", "Description": "Mug",
        "Quantity": 1, "InvoiceDate": pd.Timestamp("2011-01-03"), "UnitPrice": 1.5,
        "CustomerID": [str(100 + i % 50) for i in range(n)], "Country": "UK",
    })
    frame.to_parquet(path, row_group_size=5_000)
    params = copy.deepcopy(input_params)
    params["path"] = str(path)
    con = duckdb.connect()
    con.execute("SET threads = 4")
    load_transactions(con, params)
    ids = con.execute("SELECT invoice_id FROM canonical ORDER BY row_id").fetchnumpy()["invoice_id"]
    assert list(ids) == frame["InvoiceNo"].tolist()


def test_mark_lines_needs_staged_transactions():
    from helpers.io import mark_lines

    con = duckdb.connect()
    con.execute("CREATE TABLE ids AS SELECT 1 AS row_id")
    with pytest.raises(RuntimeError, match="load_transactions first"):
        mark_lines(con, "is_duplicate", "ids")
