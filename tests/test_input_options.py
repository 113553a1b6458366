"""Input options of issue 15: orders without an invoice id, headerless CSVs, options per input table.

Every expected number is worked out by hand from the tiny files written here.
"""

from __future__ import annotations

import copy
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from conftest import write_params
from helpers import clean, eda, io, readers, rfm, traits
from helpers.config import load_params
from helpers.errors import UserError

NO_INVOICE_HEADER = "StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
# Customer 1: two lines on 3 Jan (10.00 + 3.00): one order of 13.00.
# Customer 2: a line on 3 Jan (4.00) and one on 5 Jan (6.00): two orders.
# Customer 3: two lines on 3 Jan (10.00 + 2.00) and a return of the 2.00 item on 4 Jan.
# Customer 4: a line on 3 Jan (8.00) returned the same day at 12:00.
NO_INVOICE_ROWS = [
    "A1,Mug,2,2011-01-03 10:00:00,5.00,1,UK",
    "B2,Bowl,1,2011-01-03 15:00:00,3.00,1,UK",
    "A1,Mug,1,2011-01-03 09:00:00,4.00,2,UK",
    "B2,Bowl,1,2011-01-05 09:00:00,6.00,2,UK",
    "A1,Mug,2,2011-01-03 11:00:00,5.00,3,UK",
    "C3,Lamp,1,2011-01-03 11:00:00,2.00,3,UK",
    "C3,Lamp,-1,2011-01-04 16:00:00,2.00,3,UK",
    "D4,Vase,1,2011-01-03 10:00:00,8.00,4,UK",
    "D4,Vase,-1,2011-01-03 12:00:00,8.00,4,UK",
]
ANALYSIS_DATE = pd.Timestamp("2011-01-10")


def _input(path: Path, **changes) -> dict:
    """The default ``input`` section pointed at `path`, with `changes` (``csv`` merged)."""
    section = copy.deepcopy(load_params()["input"])
    section["path"] = str(path)
    section["csv"].update(changes.pop("csv", {}))
    section.update(changes)
    return section


def _no_invoice_input(tmp_path: Path, mode: str) -> dict:
    path = tmp_path / "orders.csv"
    path.write_text("\n".join([NO_INVOICE_HEADER, *NO_INVOICE_ROWS]) + "\n", encoding="utf-8")
    section = _input(path, orders_without_id=mode)
    section["columns"]["invoice_id"] = None
    return section


def _cleaned(tmp_path: Path, section: dict) -> tuple[duckdb.DuckDBPyConnection, Path]:
    """Load and clean as 01_clean does; return the connection and the written transactions."""
    con = duckdb.connect()
    io.load_transactions(con, section)
    clean.apply_cleaning(con, load_params()["cleaning"])
    return con, io.write_cleaned(con, tmp_path / "transactions.parquet")


def _by_customer(frame: pd.DataFrame, column: str) -> dict[str, float]:
    return dict(zip(frame["customer_id"], frame[column], strict=True))


# ------------------------------------------------------------------ orders without an invoice id


def test_customer_day_ids_keep_return_lines_apart(tmp_path):
    con = duckdb.connect()
    io.load_transactions(con, _no_invoice_input(tmp_path, "customer_day"))
    ids = [i for (i,) in con.execute("SELECT invoice_id FROM canonical ORDER BY row_id").fetchall()]
    assert ids == [
        "day-1-2011-01-03", "day-1-2011-01-03",
        "day-2-2011-01-03", "day-2-2011-01-05",
        "day-3-2011-01-03", "day-3-2011-01-03", "day-3-2011-01-04-return",
        "day-4-2011-01-03", "day-4-2011-01-03-return",
    ]


def test_customer_day_orders_agree_between_rfm_and_the_customer_table(tmp_path):
    con, transactions = _cleaned(tmp_path, _no_invoice_input(tmp_path, "customer_day"))
    metrics = rfm.customer_metrics(con, transactions, ANALYSIS_DATE)
    customers = eda.customer_summary(con, transactions)
    frequency, orders = _by_customer(metrics, "frequency"), _by_customer(customers, "orders")
    # Same-day lines are one order (1), two days two orders (2), a partial return the next
    # day is a return of its own and cancels nothing (3: one order of 12.00, net 10.00).
    assert {c: frequency[c] for c in "123"} == {"1": 1, "2": 2, "3": 1}
    assert {c: orders[c] for c in "123"} == {"1": 1, "2": 2, "3": 1}
    assert _by_customer(metrics, "monetary") == {"1": 13.0, "2": 10.0, "3": 10.0, "4": 0.0}
    # Customer 4's same-day return is an invoice of its own with the opposite total, so it
    # cancels the order (merged into the order, it would leave a purchase order of 0.00).
    assert frequency["4"] == 0 and _by_customer(metrics, "cancelled_orders")["4"] == 1
    assert clean.clean_summary(con)["orders"] == 5  # purchase orders: 1 + 2 + 1 + 1


def test_row_mode_keeps_every_line_its_own_order(tmp_path):
    con, transactions = _cleaned(tmp_path, _no_invoice_input(tmp_path, "row"))
    ids = [i for (i,) in con.execute("SELECT invoice_id FROM canonical ORDER BY row_id").fetchall()]
    assert ids == [f"row-{n}" for n in range(1, 10)]
    metrics = rfm.customer_metrics(con, transactions, ANALYSIS_DATE)
    frequency = _by_customer(metrics, "frequency")
    orders = _by_customer(eda.customer_summary(con, transactions), "orders")
    assert (frequency["1"], orders["1"]) == (2, 2)  # two lines on one day: two orders
    assert (frequency["2"], orders["2"]) == (2, 2)
    # Customer 3's return line (-2.00) now matches the 2.00 line as a whole order: cancelled.
    assert (frequency["3"], _by_customer(metrics, "cancelled_orders")["3"]) == (1, 1)


def test_customer_day_makes_identical_lines_exact_duplicates(tmp_path):
    path = tmp_path / "orders.csv"
    line = "A1,Mug,2,2011-01-03 10:00:00,5.00,1,UK"
    path.write_text("\n".join([NO_INVOICE_HEADER, line, line]) + "\n", encoding="utf-8")
    kept = {}
    for mode in ("customer_day", "row"):
        section = _input(path, orders_without_id=mode)
        section["columns"]["invoice_id"] = None
        con = duckdb.connect()
        io.load_transactions(con, section)
        log = clean.apply_cleaning(con, load_params()["cleaning"]).set_index("rule")
        kept[mode] = int(log.loc["exact_duplicate", "rows"])
    assert kept == {"customer_day": 1, "row": 0}  # row ids differ, so no row is a copy


def test_order_ids_start_with_the_prefixes_params_checks_guards():
    from helpers.params_checks_input import SYNTHETIC_ORDER_PREFIXES

    assert set(io.ORDERS_WITHOUT_ID) == set(SYNTHETIC_ORDER_PREFIXES)
    for mode, prefix in SYNTHETIC_ORDER_PREFIXES.items():
        assert f"'{prefix}'" in io.order_id_sql(mode)


@pytest.mark.parametrize(
    ("tree", "text"),
    [
        ({"input": {"orders_without_id": "daily"}},
         "key 'input.orders_without_id' must be one of 'customer_day', 'row', got 'daily'"),
        ({"input": {"columns": {"invoice_id": None}}, "cleaning": {"cancellation_prefixes": ["d"]}},
         "key 'cleaning.cancellation_prefixes': prefix 'd' matches the order ids made when input.columns.invoice_id is null"),
        ({"input": {"csv": {"header": "no"}}}, "key 'input.csv.header' must be true/false, got 'no'"),
        ({"customers_input": {"date_format": "DD-MM-YYYY"}},
         "key 'customers_input.date_format': 'DD-MM-YYYY' is not a strptime format"),
        ({"sessions_input": {"csv": {"encoding": "latin-9x"}}},
         "key 'sessions_input.csv.encoding': 'latin-9x' is not a known encoding"),
        ({"customers_input": {"csv": {"header_rows_to_skip": -1}}},
         "key 'customers_input.csv.header_rows_to_skip' must be >= 0, got -1"),
        ({"sessions_input": {"csv": {"decimal": ";"}}}, "key 'sessions_input.csv.decimal' must be one of '.', ','"),
    ],
)
def test_input_option_params_are_checked_in_one_line(tmp_path, tree, text):
    with pytest.raises(UserError) as caught:
        load_params(write_params(tmp_path / "p.yaml", tree))
    message = str(caught.value)
    assert text in message and "fix: " in message and "\n" not in message


def test_prefixes_that_cannot_match_the_made_ids_are_fine(tmp_path):
    tree = {"input": {"columns": {"invoice_id": None}}, "cleaning": {"cancellation_prefixes": ["C", "R"]}}
    assert load_params(write_params(tmp_path / "p.yaml", tree))["input"]["orders_without_id"] == "customer_day"


# ------------------------------------------------------------------ CSV without a header row

HEADERLESS_ROWS = [  # InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID, Country
    "1001,A1,Mug,2,2011-01-03 10:00:00,5.50,100,UK",
    "1002,B2,Bowl,1,2011-02-10 09:30:00,20.00,200,France",
    "1003,A1,Mug,1,2011-02-11 12:00:00,5.50,100,UK",
    "1004,C3,Lamp,3,2011-03-01 08:00:00,10.00,300,Germany",
    "1005,C3,Lamp,1,2011-03-02 08:00:00,10.00,300,Germany",
]
HEADERLESS_COLUMNS = {
    "invoice_id": "column0", "product_id": "column1", "description": "column2", "quantity": "column3",
    "invoice_date": "column4", "unit_price": "column5", "customer_id": "column6", "country": "column7",
    "amount": None,
}


def _load(section: dict) -> tuple[dict, pd.DataFrame]:
    con = duckdb.connect()
    info = io.load_transactions(con, section)
    return info, con.execute("SELECT * FROM canonical ORDER BY row_id").df()


@pytest.mark.parametrize("csv", [{}, {"delimiter": "whitespace"}, {"encoding": "cp1252"}],
                         ids=["duckdb", "whitespace-fallback", "cp1252-fallback"])
def test_a_headerless_file_gives_one_row_per_line(tmp_path, csv):
    rows = [r.replace(" ", "T") for r in HEADERLESS_ROWS] if csv.get("delimiter") == "whitespace" else HEADERLESS_ROWS
    rows = [r.replace(",", " ") for r in rows] if csv.get("delimiter") == "whitespace" else rows
    path = tmp_path / "orders.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    section = _input(path, csv={**csv, "header": False})
    section["columns"] = dict(HEADERLESS_COLUMNS)
    info, frame = _load(section)
    assert info["rows"] == 5 and info["columns"] == [f"column{i}" for i in range(8)]
    assert frame["invoice_id"].tolist() == ["1001", "1002", "1003", "1004", "1005"]
    assert frame["amount"].tolist() == pytest.approx([11.0, 20.0, 5.5, 30.0, 10.0])
    assert frame["invoice_date"].iloc[0] == pd.Timestamp("2011-01-03 10:00:00")


def test_a_file_with_header_gives_one_row_less_than_its_lines(tmp_path):
    path = tmp_path / "orders.csv"
    header = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
    path.write_text("\n".join([header, *HEADERLESS_ROWS[:4]]) + "\n", encoding="utf-8")
    info, _ = _load(_input(path))
    assert info["rows"] == 4


def test_headerless_lines_to_skip_are_above_the_first_data_row(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("exported 2011-03-05\n" + "\n".join(HEADERLESS_ROWS) + "\n", encoding="utf-8")
    section = _input(path, csv={"header": False, "header_rows_to_skip": 1, "delimiter": ","})
    section["columns"] = dict(HEADERLESS_COLUMNS)
    assert _load(section)[0]["rows"] == 5


def test_a_first_row_of_numbers_and_dates_is_not_taken_for_a_header(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("1001,2,2011-01-03 10:00:00,5.50,100\n1002,1,2011-02-10 09:30:00,20.00,200\n", encoding="utf-8")
    with pytest.raises(UserError) as caught:
        _load(_input(path))
    message = str(caught.value)
    assert message.startswith(f"{path}: the first row looks like data")
    assert "fix: set input.csv.header: false" in message and "\n" not in message


def test_a_missing_column_next_to_value_like_names_suggests_header_false(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("\n".join(HEADERLESS_ROWS) + "\n", encoding="utf-8")  # 'Mug', 'UK': not all values
    with pytest.raises(UserError, match=r"not found; fix: set input\.columns\.\w+ in your params, or "
                                        r"input\.csv\.header: false if the file has no header row"):
        _load(_input(path))


@pytest.mark.parametrize(
    ("names", "is_data"),
    [
        (["1001", "2", "2011-01-03 10:00:00", "5.50", "100"], True),
        (["17850", "17850_1", "03/01/2011 10:00", "1.234,50"], True),  # a repeated value made unique
        (["5", "column1", "2011-01-03"], True),  # an empty cell
        (["InvoiceNo", "2011-01-03", "5.50"], False),
        (["column0", "column1"], False),  # nothing but empty cells
    ],
)
def test_first_row_is_data_rule(names, is_data):
    assert readers.first_row_is_data(names) is is_data


# ------------------------------------------------------------------ options per input table


def _params_with(tmp_path: Path, **sections) -> dict:
    params = load_params()
    for name, changes in sections.items():
        params[name].update(copy.deepcopy(changes))
    return params


def _customers_block(path: Path, **changes) -> dict:
    block = copy.deepcopy(load_params()["customers_input"])
    block.update(path=str(path), **changes)
    block["columns"].update({"customer_id": "id", "birth_date": "born", "gender": None, "country": None,
                             "city": None, "signup_date": "joined"})
    return block


def test_customer_dates_follow_the_tables_own_date_format(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text("id;born;joined\n1;04-09-1980;01-02-2011\n2;30-06-1975;\n", encoding="utf-8")
    block = _customers_block(path, date_format="%d-%m-%Y", csv={**load_params()["customers_input"]["csv"],
                                                                  "delimiter": ";"})
    with duckdb.connect() as con:
        demo = traits.load_demographics(con, block)
    assert demo["birth_date"].tolist() == [pd.Timestamp("1980-09-04"), pd.Timestamp("1975-06-30")]
    assert demo["signup_date"].iloc[0] == pd.Timestamp("2011-02-01") and pd.isna(demo["signup_date"].iloc[1])


def test_a_customer_date_that_does_not_parse_names_the_tables_key_file_and_column(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text("id,born,joined\n1,04-09-2012,2011-01-01\n2,05-09-2012,2011-01-01\n", encoding="utf-8")
    with duckdb.connect() as con, pytest.raises(UserError) as caught:
        traits.load_demographics(con, _customers_block(path))
    message = str(caught.value)
    assert message.startswith(f"{path}: column 'born' (customers_input.columns.birth_date): 2 of 2 values are not dates")
    assert 'fix: set customers_input.date_format to the file\'s format, e.g. "%d-%m-%Y" or "%m-%d-%Y"' in message
    assert "input.date_format" not in message.replace("customers_input.date_format", "")


def test_tables_do_not_inherit_the_transactions_csv_options(tmp_path):
    # input.csv says ";" and ","; the customer table is a plain comma file with its own defaults.
    path = tmp_path / "customers.csv"
    path.write_text("id,born,joined,age\n1,1980-09-04,2011-01-01,31.5\n", encoding="utf-8")
    params = _params_with(tmp_path, input={"csv": {**load_params()["input"]["csv"], "delimiter": ";", "decimal": ","}})
    block = _customers_block(path)
    block["columns"]["age"] = "age"
    with duckdb.connect() as con:
        demo = traits.load_demographics(con, block, params["input"]["csv"])  # as 02_eda calls it
    assert demo["age"].tolist() == [31.5]


def test_session_numbers_use_the_tables_decimal_sign_and_headerless_names(tmp_path):
    path = tmp_path / "sessions.csv"
    path.write_text("a;2011-06-01 10:00;3;12,5;1;4;true\na;2011-06-03 10:00;1;7,5;0;2;false\n", encoding="utf-8")
    block = copy.deepcopy(load_params()["sessions_input"])
    block.update(path=str(path), csv={**block["csv"], "delimiter": ";", "decimal": ",", "header": False})
    block["columns"] = dict(zip(traits.SESSION_FIELDS, [f"column{i}" for i in range(7)], strict=True))
    with duckdb.connect() as con:
        out = traits.session_features(con, block, None, pd.Timestamp("2011-07-01")).set_index("customer_id")
    assert out.loc["a", "sessions"] == 2 and out.loc["a", "mean_session_duration_s"] == 10.0
    assert out.loc["a", "click_through_rate"] == pytest.approx(1 / 6)


def test_session_times_use_the_tables_date_format_and_name_its_key(tmp_path):
    path = tmp_path / "sessions.csv"
    path.write_text("customer_id,session_start\na,01/06/2011 10:00\nb,02/06/2011 11:00\n", encoding="utf-8")
    block = copy.deepcopy(load_params()["sessions_input"])
    block.update(path=str(path))
    block["columns"] = {"customer_id": "customer_id", "session_start": "session_start"} | dict.fromkeys(
        traits.SESSION_FIELDS[2:])
    with duckdb.connect() as con, pytest.raises(UserError, match=r"sessions\.csv: column 'session_start' "
                                                               r"\(sessions_input\.columns\.session_start\).*"
                                                               r"fix: set sessions_input\.date_format"):
        traits.session_features(con, block, None, pd.Timestamp("2011-07-01"))
    block["date_format"] = "%d/%m/%Y %H:%M"
    with duckdb.connect() as con:
        out = traits.session_features(con, block, None, pd.Timestamp("2011-07-01")).set_index("customer_id")
    assert out["days_since_last_visit"].to_dict() == {"a": 30.0, "b": 29.0}


def test_a_headerless_customer_table_with_a_header_true_names_its_own_key(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text("1,1980-09-04,2011-01-01\n2,1975-06-30,2011-02-01\n", encoding="utf-8")
    with duckdb.connect() as con, pytest.raises(UserError, match=r"first row looks like data.*"
                                                               r"fix: set customers_input\.csv\.header: false"):
        traits.load_demographics(con, _customers_block(path))
