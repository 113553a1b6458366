import copy
import gzip

import duckdb
import pandas as pd
import pytest

from conftest import HEADER, write_csv
from helpers import catalog, engine, io, readers
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
    # input.orders_without_id: customer_day (default): a customer's lines on one day are one
    # order, and that day's return lines one return "invoice" of their own
    assert frame["invoice_id"].tolist() == ["day-17850-2011-01-01", "day-17850-2011-01-02-return", "day-12-2011-01-03"]
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


def test_padded_values_parse_blank_numbers_are_null_and_a_padded_header_copy_is_found(tmp_path, input_params):
    # Numbers and dates are cast without a trim first (the cast skips spaces); ids are trimmed.
    rows = [
        '" 1001 ", A1 ,Mug," 2 ","  2011-01-03 10:00:00  "," 5.50 ", 100 ,UK',
        '1002,A1,Mug,"   ",2011-01-04,1.00,100,UK',  # a blank quantity: missing, not unparsed
        '" InvoiceNo ",StockCode,Description,Quantity," InvoiceDate ",UnitPrice," CustomerID ",Country',
        '1003,A1,Mug,1,2011-01-05 InvoiceDate,1.00,100,UK',  # the name inside a value: no header copy
    ] + [f"{2000 + i},A1,Mug,1,2011-01-06,1.00,100,UK" for i in range(200)]
    info, frame = load(input_params, write_csv(tmp_path / "o.csv", rows))
    assert frame["invoice_id"].tolist()[:2] == ["1001", "1002"] and frame["customer_id"].iloc[0] == "100"
    assert frame["quantity"].iloc[0] == 2 and frame["unit_price"].iloc[0] == 5.5
    assert frame["invoice_date"].iloc[0] == pd.Timestamp("2011-01-03 10:00:00")
    assert pd.isna(frame["quantity"].iloc[1]) and info["unparsed"]["quantity"] == 0
    assert frame["is_header_row"].tolist()[:4] == [False, False, True, False] and frame["is_header_row"].sum() == 1
    assert info["unparsed"]["invoice_date"] == 1 and pd.isna(frame["invoice_date"].iloc[3])


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

    from helpers.engine import work_dir

    params = copy.deepcopy(input_params)
    params["path"] = str(write_csv(tmp_path / "o.csv", ROWS))
    con = duckdb.connect()
    load_transactions(con, params)
    folder = work_dir(con)
    assert (folder / "staging.duckdb").is_file()
    del con
    gc.collect()
    assert not folder.exists()


def test_staging_follows_the_callers_engine_settings_and_no_environment_variable(tmp_path, input_params, monkeypatch):
    params = copy.deepcopy(input_params)
    params["path"] = str(write_csv(tmp_path / "o.csv", ROWS))
    monkeypatch.setenv("ECOMSEG_MEMORY_LIMIT", "lots")  # the old side channel: ignored now
    monkeypatch.setenv("ECOMSEG_TEMP_DIR", str(tmp_path / "elsewhere"))
    con = engine.connect(engine.EngineSettings(memory_limit="1GB", temp_dir=str(tmp_path / "work")))
    assert load_transactions(con, params)["rows"] == 2
    assert con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0] == "953.6 MiB"
    assert engine.work_dir(con).parent == tmp_path / "work"
    assert (engine.work_dir(con) / "staging.duckdb").is_file()
    assert not (tmp_path / "elsewhere").exists()


def test_io_keeps_the_reader_names_other_modules_import():
    # helpers.traits and helpers.params_checks import these from helpers.io.
    assert io.register_source is readers.register_source
    assert io.detect_format is readers.detect_format
    assert callable(io._date) and callable(io._identifier)


def test_write_cleaned_streams_the_view_atomically_and_checks_the_contract(tmp_path):
    con = duckdb.connect()
    con.execute("CREATE TEMP VIEW cleaned AS SELECT 'c1' AS customer_id, 2 AS quantity")
    with pytest.raises(ValueError, match="view cleaned has no column 'invoice_id'"):
        io.write_cleaned(con, tmp_path / "out" / "transactions.parquet")
    columns = ", ".join(f"{i} AS {name}" for i, name in enumerate(catalog.TRANSACTION_COLUMNS))
    con.execute(f"CREATE OR REPLACE TEMP VIEW cleaned AS SELECT {columns} FROM range(3)")
    target = io.write_cleaned(con, tmp_path / "out" / "transactions.parquet")
    assert target == tmp_path / "out" / "transactions.parquet"
    assert list(pd.read_parquet(target).columns) == list(catalog.TRANSACTION_COLUMNS)
    assert len(pd.read_parquet(target)) == 3
    assert [p.name for p in target.parent.iterdir()] == ["transactions.parquet"]  # no temporary file left


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


# Issue 12: reading exports.


def _values(expr_sql, values):
    """Evaluate one canonical SQL expression over a column ``v`` holding `values`."""
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT * FROM (SELECT unnest($1::VARCHAR[]) AS v)", [values])
    return [row[0] for row in con.execute(f"SELECT {expr_sql} FROM t").fetchall()]


def test_decimal_comma_reads_thousands_dots_and_rejects_decimal_dots():
    from helpers.io import _number

    values = ["1.234,50", "3,50", "3.50", "1.234", "1.234.567", "-3,50", "350", "12.5", "1234.567", "1,2,3", " 7,25 "]
    expected = [1234.5, 3.5, None, 1234.0, 1234567.0, -3.5, 350.0, None, None, None, 7.25]
    assert _values(_number("v", ","), values) == expected


def test_stray_dot_value_in_decimal_comma_file_is_unparsed_not_rescaled(tmp_path, input_params):
    rows = [f"{1000 + i};A1;Mug;1;2011-01-03;1,50;100;UK" for i in range(199)] + ["1999;A1;Mug;1;2011-01-03;3.50;100;UK"]
    path = write_csv(tmp_path / "o.csv", rows, header=HEADER.replace(",", ";"))
    info, frame = load(input_params, path, csv={"delimiter": ";", "encoding": "utf-8", "decimal": ",", "header_rows_to_skip": 0})
    assert info["unparsed"]["unit_price"] == 1
    assert pd.isna(frame["unit_price"].iloc[199])  # NULL, not 350
    assert frame["unit_price"].iloc[:199].eq(1.5).all()


def test_mostly_dot_values_in_decimal_comma_file_is_an_error(tmp_path, input_params):
    rows = [f"{1000 + i};A1;Mug;1;2011-01-03;{i}.50;100;UK" for i in range(20)]
    path = write_csv(tmp_path / "o.csv", rows, header=HEADER.replace(",", ";"))
    with pytest.raises(UserError) as err:
        load(input_params, path, csv={"delimiter": ";", "encoding": "utf-8", "decimal": ",", "header_rows_to_skip": 0})
    message = str(err.value)
    assert "column 'UnitPrice' (unit_price): 20 of 20 values do not parse" in message
    assert "input.csv.decimal" in message and "\n" not in message


def test_quoted_fields_with_newlines_delimiters_and_quotes_load(tmp_path, input_params):
    rows = ['1001,A1,"Mug, large\nwith a ""handle""",2,2011-01-03 10:00:00,5.50,100,UK',
            "1002,B2,Bowl,1,2011-02-10 09:30:00,20.00,200,France"]
    info, frame = load(input_params, write_csv(tmp_path / "o.csv", rows))
    assert info["rows"] == 2
    assert frame["description"].tolist() == ['Mug, large\nwith a "handle"', "Bowl"]
    assert frame["row_id"].tolist() == [1, 2]  # records, not physical lines


def test_multiline_record_beyond_the_sniffed_sample_is_not_split(tmp_path, input_params):
    rows = [f"{1000 + i},A1,Mug,1,2011-01-03,1.00,100,UK" for i in range(30_000)]
    rows[25_000] = '9999,A1,"two\nlines",1,2011-01-03,1.00,100,UK'
    info, frame = load(input_params, write_csv(tmp_path / "o.csv", rows))
    assert info["rows"] == 30_000
    assert frame["description"].iloc[25_000] == "two\nlines"


def test_unclosed_quote_stops_with_the_line(tmp_path, input_params):
    rows = [f"{1000 + i},A1,Mug,1,2011-01-03,1.00,100,UK" for i in range(100)]
    rows[50] = '9999,A1,"Mug,1,2011-01-03,1.00,100,UK'
    with pytest.raises(UserError) as err:
        load(input_params, write_csv(tmp_path / "o.csv", rows))
    message = str(err.value)
    assert "o.csv: line 52" in message and "quote" in message and "\n" not in message


def test_unclosed_quote_beyond_the_sniffed_sample_stops_with_the_line(tmp_path, input_params):
    rows = [f"{1000 + i},A1,Mug,1,2011-01-03,1.00,100,UK" for i in range(30_000)]
    rows[25_000] = '9999,A1,"Mug,1,2011-01-03,1.00,100,UK'
    with pytest.raises(UserError, match=r"o\.csv: line 25,002 opens a quote"):
        load(input_params, write_csv(tmp_path / "o.csv", rows))


def test_short_row_beside_a_quoted_line_break_is_a_delimiter_error(tmp_path, input_params):
    # DuckDB reads padded short rows or quoted line breaks in parallel, not both: one line, no traceback.
    rows = ['1001,A1,"Mug\nlarge",2,2011-01-03 10:00:00,5.50,100,UK', "1002,B2,Bowl,1,2011-02-10 09:30:00,20.00,200"]
    with pytest.raises(UserError, match=r"o\.csv: the header reads as one column.*input\.csv\.delimiter"):
        load(input_params, write_csv(tmp_path / "o.csv", rows))


def test_ten_megabyte_field_loads_and_a_smaller_limit_names_line_and_key(tmp_path, input_params):
    big = "x" * (10 * 1024 * 1024)
    rows = [ROWS[0], f"1003,C3,{big},1,2011-03-01 10:00:00,1.00,300,UK", ROWS[1]]
    path = write_csv(tmp_path / "o.csv", rows)
    info, frame = load(input_params, path)
    assert info["rows"] == 3 and len(frame["description"].iloc[1]) == len(big)
    csv = {**input_params["csv"], "max_line_size": 5_000_000}
    with pytest.raises(UserError) as err:
        load(input_params, path, csv=csv)
    message = str(err.value)
    assert "o.csv: line 3 " in message and "input.csv.max_line_size" in message and "\n" not in message


def test_only_integral_numbers_lose_trailing_zeros_in_ids():
    from helpers.io import _identifier

    values = ["17850.0", "A.0", "B.00", "12.50", "-5.0", "0.0", "X-1.0", "100"]
    expected = ["17850", "A.0", "B.00", "12.50", "-5", "0", "X-1.0", "100"]
    assert _values(_identifier("v", "VARCHAR"), values) == expected


def _load_in_zone(input_params, path, zone, **changes):
    params = copy.deepcopy(input_params)
    params["path"] = str(path)
    params.update(changes)
    con = duckdb.connect()
    con.execute(f"SET TimeZone = '{zone}'")
    info = load_transactions(con, params)
    return info, con.execute("SELECT * FROM canonical ORDER BY row_id").df()


def test_text_timestamps_with_offsets_become_utc_and_others_stay(tmp_path, input_params):
    stamps = ["2011-01-03 10:00:00+05:00", "2011-01-03T10:00:00Z", "2011-01-03 10:00:00",
              "2011-01-03 10:00:00-03:30", "2011-01-03", "2011-01-03 10:00:00 PM"]
    rows = [f"{1000 + i},A1,Mug,1,{s},1.00,100,UK" for i, s in enumerate(stamps)]
    rows += [f"{2000 + i},A1,Mug,1,2011-01-04 08:00:00,1.00,100,UK" for i in range(200)]
    info, frame = _load_in_zone(input_params, write_csv(tmp_path / "o.csv", rows), "America/New_York")
    expected = ["2011-01-03 05:00", "2011-01-03 10:00", "2011-01-03 10:00", "2011-01-03 13:30", "2011-01-03"]
    assert frame["invoice_date"].iloc[:5].tolist() == [pd.Timestamp(s) for s in expected]
    assert pd.isna(frame["invoice_date"].iloc[5])  # "PM" is not ISO: unparsed, never truncated to 10:00
    assert info["unparsed"]["invoice_date"] == 1


def test_strptime_format_with_offset_becomes_utc(tmp_path, input_params):
    rows = ["1001,A1,Mug,1,03/01/2011 10:00 +0500,1.00,100,UK", "1002,A1,Mug,1,03/01/2011 10:00 Z,1.00,100,UK"]
    _, frame = _load_in_zone(input_params, write_csv(tmp_path / "o.csv", rows), "Asia/Tokyo",
                             date_format="%d/%m/%Y %H:%M %z")
    assert frame["invoice_date"].tolist() == [pd.Timestamp("2011-01-03 05:00"), pd.Timestamp("2011-01-03 10:00")]
    assert str(frame["invoice_date"].dtype).startswith("datetime64") and frame["invoice_date"].dt.tz is None


@pytest.mark.parametrize("date_format", ["auto", "%Y-%m-%d %H:%M:%S%z"])
def test_parquet_timestamps_with_time_zone_become_utc(tmp_path, input_params, date_format):
    path = tmp_path / "o.parquet"
    pd.DataFrame({
        "cust": ["1", "2"], "when": pd.to_datetime(["2011-01-03 10:00+05:00", "2011-01-03 10:00+00:00"], utc=True),
        "total": [1.0, 2.0],
    }).to_parquet(path)
    columns = {f: None for f in input_params["columns"]}
    columns.update(customer_id="cust", invoice_date="when", amount="total")
    _, frame = _load_in_zone(input_params, path, "America/New_York", columns=columns, date_format=date_format)
    assert frame["invoice_date"].tolist() == [pd.Timestamp("2011-01-03 05:00"), pd.Timestamp("2011-01-03 10:00")]


def _excel_with_title_rows(path, sheets):
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        sheet.append([f"Sales report {name}"])
        sheet.append([])
        sheet.append(HEADER.split(","))
        for row in rows:
            sheet.append(row.split(","))
    book.save(path)
    return path


def test_excel_header_row_below_title_rows(tmp_path, input_params):
    path = _excel_with_title_rows(tmp_path / "o.xlsx", {"Jan": ROWS, "Feb": [ROWS[0].replace("1001", "2001")]})
    info, frame = load(input_params, path, excel={"sheet": "Jan", "header_row": 3})
    assert info["rows"] == 2 and frame["customer_id"].tolist() == ["100", "200"]
    info, frame = load(input_params, path, excel={"sheet": "all", "header_row": 3})
    assert frame["invoice_id"].tolist() == ["1001", "1002", "2001"]
    with pytest.raises(UserError, match=r"o\.xlsx: column 'CustomerID'.*input\.excel\.header_row"):
        load(input_params, path, excel={"sheet": "Jan", "header_row": 1})


def test_excel_header_row_beyond_the_data_is_an_error(tmp_path, input_params):
    path = _excel_with_title_rows(tmp_path / "o.xlsx", {"Jan": ROWS})
    with pytest.raises(UserError) as err:
        load(input_params, path, excel={"sheet": 0, "header_row": 9})
    message = str(err.value)
    assert "o.xlsx: input.excel.header_row is 9 but sheet 'Jan' has only 5 rows" in message and "\n" not in message
